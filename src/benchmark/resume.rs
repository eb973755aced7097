//! Which rows `bench run --resume --retry-failed` measures again. Whether the rows a
//! resumed study finds fit its plan at all is `stats::inconsistencies`' business, as for
//! every other reader of runs.csv.

use crate::model::{Meta, RunRecord};
use crate::scenario::order::OrderChoice;
use crate::scenario::Plan;

/// The rows to keep and the failed ones to measure again.
pub fn split_failed(records: Vec<RunRecord>) -> (Vec<RunRecord>, Vec<RunRecord>) {
    records.into_iter().partition(RunRecord::is_ok)
}

/// A scenario without `seed` drew one from the clock when it was loaded again; the study
/// being resumed booted in the order of the seed meta.json recorded, and its remaining
/// rounds must follow that order. Returns a warning when there is no seed to reuse.
pub fn reuse_recorded_seed(plan: &mut Plan, meta: &Meta) -> Option<String> {
    if plan.order.choice != OrderChoice::Random || !plan.order.seed_from_clock {
        // A seed the scenario gives is the recorded one: the scenario is the same file.
        return None;
    }
    match meta.design.as_ref().and_then(|d| d.seed) {
        Some(seed) => {
            plan.order.seed = seed;
            None
        }
        None => Some(format!(
            "meta.json records no seed of a random order (a study of an older kbench): the remaining rounds are shuffled with the new seed {}",
            plan.order.seed
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, DesignFacts, RunStatus};

    #[test]
    fn failed_rows_are_split_off() {
        let failed = RunRecord { status: RunStatus::Failed, ..test_record() };
        let (kept, retried) = split_failed(vec![test_record(), failed.clone()]);
        assert_eq!((kept, retried), (vec![test_record()], vec![failed]));
    }

    fn design(seed: Option<u64>) -> DesignFacts {
        DesignFacts {
            rounds: 4,
            order: "random".into(),
            seed,
            seed_from_clock: true,
            adaptive: None,
            quiet_host: None,
            pin: false,
            restored: false,
            snapshots: 1,
        }
    }

    fn meta(design: Option<DesignFacts>) -> Meta {
        let mut meta = crate::model::test_meta();
        meta.runs = 4;
        meta.design = design;
        meta
    }

    #[test]
    fn a_clock_seed_is_replaced_by_the_recorded_one() {
        let mut plan = crate::benchmark::fake::plan(4, 0, 4);
        plan.order = crate::scenario::order::BootOrder { choice: OrderChoice::Random, seed: 111, seed_from_clock: true };
        assert_eq!(reuse_recorded_seed(&mut plan, &meta(Some(design(Some(42))))), None);
        assert_eq!(plan.order.seed, 42);
        // A seed the scenario gave stays (it is the recorded one), alternate has none.
        let mut given = plan.clone();
        given.order.seed_from_clock = false;
        given.order.seed = 7;
        reuse_recorded_seed(&mut given, &meta(Some(design(Some(42)))));
        assert_eq!(given.order.seed, 7);
        // An older study recorded none: said, and the new seed is named.
        plan.order.seed = 111;
        let warning = reuse_recorded_seed(&mut plan, &meta(None)).unwrap();
        assert!(warning.contains("no seed") && warning.contains("111"), "{warning}");
    }
}
