//! What a resumed study accepts from the runs.csv it finds: only rows its plan could have
//! written, each planned run at most once; and which rows `--retry-failed` measures again.

use crate::export::runs_csv::RunRecord;
use crate::scenario::Plan;
use anyhow::{bail, Result};
use std::collections::HashSet;

/// Refuses a row of a variant, jobs level or run number the plan does not have, and a
/// planned run recorded twice (two `bench` writing one folder): resuming would mix them
/// into the study's statistics or skip runs that were never measured as planned.
pub fn check_rows_fit_plan(plan: &Plan, records: &[RunRecord]) -> Result<()> {
    let mut seen = HashSet::new();
    for (index, record) in records.iter().enumerate() {
        let line = index + 2;
        let what = format!("runs.csv line {line} ({} {} run {})", record.variant, record.jobs_label, record.run);
        if !plan.variants.iter().any(|v| v.name == record.variant) {
            let names: Vec<&str> = plan.variants.iter().map(|v| v.name.as_str()).collect();
            bail!("{what}: the scenario has no variant {:?} (it has {})", record.variant, names.join(", "));
        }
        let Some(level) = plan.levels.iter().find(|l| l.label == record.jobs_label) else {
            let labels: Vec<&str> = plan.levels.iter().map(|l| l.label.as_str()).collect();
            bail!("{what}: the scenario has no jobs level {:?} (it has {})", record.jobs_label, labels.join(", "));
        };
        if level.jobs != record.jobs {
            bail!("{what}: ran at -j {}, the scenario's level {} is -j {}", record.jobs, level.label, level.jobs);
        }
        if record.run == 0 || record.run > plan.runs {
            bail!("{what}: run {} of {}: the scenario plans runs 1 to {}", record.run, plan.runs, plan.runs);
        }
        if !seen.insert((&record.variant, &record.jobs_label, record.run)) {
            bail!("{what}: this run is on record twice (were two bench writing this folder?); keep one row and resume");
        }
    }
    Ok(())
}

/// The rows to keep and the failed ones to measure again.
pub fn split_failed(records: Vec<RunRecord>) -> (Vec<RunRecord>, Vec<RunRecord>) {
    records.into_iter().partition(RunRecord::is_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::runs_csv::{test_record, RunStatus};
    use crate::scenario::plan::{GuestPlan, Variant};
    use crate::scenario::{JobsLevel, Workload};
    use std::time::Duration;

    fn plan() -> Plan {
        Plan {
            name: "t".into(),
            scenario_path: "t.toml".into(),
            guest: GuestPlan {
                disk: None,
                root: None,
                cpus: 2,
                memory_mib: 512,
                accel: Default::default(),
                boot_timeout: Duration::from_secs(10),
                run_timeout: None,
                study_timeout: None,
                retries: 1,
                qemu: None,
            },
            variants: vec![Variant { name: "baseline".into(), kernel: "k".into(), initrd: None, cmdline: String::new(), own_options: vec![] }],
            baseline: 0,
            levels: vec![JobsLevel { label: "half".into(), jobs: 1 }],
            runs: 4,
            warmup: 1,
            rounds: 1,
            workload: Workload::Command { command: "true".into(), prepare: None, clean: None },
        }
    }

    fn row(edit: impl Fn(&mut RunRecord)) -> RunRecord {
        let mut record = test_record();
        edit(&mut record);
        record
    }

    #[test]
    fn rows_of_the_plan_are_accepted() {
        let rows: Vec<RunRecord> = (1..=4).map(|n| row(|r| r.run = n)).collect();
        check_rows_fit_plan(&plan(), &rows).unwrap();
        check_rows_fit_plan(&plan(), &[]).unwrap();
    }

    #[test]
    fn rows_the_plan_cannot_have_are_refused_with_their_line() {
        let cases: [(RunRecord, &str); 5] = [
            (row(|r| r.variant = "other".into()), "no variant \"other\""),
            (row(|r| r.jobs_label = "max".into()), "no jobs level \"max\""),
            (row(|r| r.jobs = 8), "ran at -j 8"),
            (row(|r| r.run = 9), "run 9 of 4"),
            (row(|r| r.run = 1), "on record twice"),
        ];
        for (bad, expected) in cases {
            let error = check_rows_fit_plan(&plan(), &[row(|r| r.run = 1), bad]).unwrap_err().to_string();
            assert!(error.contains("runs.csv line 3") && error.contains(expected), "{error}");
        }
    }

    #[test]
    fn failed_rows_are_split_off() {
        let failed = row(|r| r.status = RunStatus::Failed);
        let (kept, retried) = split_failed(vec![test_record(), failed.clone()]);
        assert_eq!((kept, retried), (vec![test_record()], vec![failed]));
    }
}
