//! When a variant and jobs level has been measured enough (`runs = "auto"`): when the 95 %
//! interval of its mean elapsed time is within ± `precision` % of the mean, or when it
//! reached `max_runs`. With `decide = true`, instead, when its comparison with the
//! baseline is known, by the group-sequential rule of [`super::sequential`]; the baseline
//! goes on until every other variant at the level has stopped.
//!
//! The rule looks at one side's own spread only, never at a comparison: stopping as soon
//! as a test says p < alpha ("optional stopping") gives that test many chances to cross
//! alpha by luck and inflates the false alarms far above alpha; stopping when an interval
//! is narrow enough does not (../shared/REFERENCE.md, "Noise, order and many hosts").

use super::change::Verdict;
use super::sequential::{self, Spending};
use super::{mean, sample_sd, summarize, t_quantile, CONFIDENCE};
use crate::model::{LevelStopping, RunRecord, StopRule};
use std::ops::RangeInclusive;

/// What to do after the runs measured so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stopping {
    /// Below `min_runs`, or the interval is still wider than the target.
    Continue { half_width_percent: Option<f64> },
    /// The target is met: the interval's half-width is this % of the mean.
    Precise { half_width_percent: f64 },
    /// `max_runs` measured without meeting the target (`None`: not even two values).
    Cap { half_width_percent: Option<f64> },
    /// Decide mode: the comparison with the baseline is known (changed or the same); for
    /// the baseline, every other variant's at the level is.
    Decided { verdict: Verdict, half_width_percent: Option<f64> },
}

impl Stopping {
    pub fn is_stop(&self) -> bool {
        !matches!(self, Stopping::Continue { .. })
    }

    pub fn half_width_percent(&self) -> Option<f64> {
        match *self {
            Stopping::Precise { half_width_percent } => Some(half_width_percent),
            Stopping::Continue { half_width_percent }
            | Stopping::Cap { half_width_percent }
            | Stopping::Decided { half_width_percent, .. } => half_width_percent,
        }
    }
}

/// Half-width of the 95 % Student-t interval of the mean, in % of the mean; `None` for
/// fewer than two values or a mean that is not positive (no relative precision then).
pub fn half_width_percent(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values);
    if m <= 0.0 || !m.is_finite() {
        return None;
    }
    let n = values.len() as f64;
    let half = t_quantile(CONFIDENCE, n - 1.0) * sample_sd(values) / n.sqrt();
    Some(100.0 * half / m)
}

/// The stopping rule. `values` are the successful runs' elapsed times so far; the caller
/// counts `max_runs` against every attempted run if failed runs should use up the cap.
pub fn stopping(values: &[f64], precision_percent: f64, min_runs: u32, max_runs: u32) -> Stopping {
    let half_width_percent = half_width_percent(values);
    let n = values.len() as u32;
    if n >= min_runs {
        if let Some(half) = half_width_percent.filter(|h| *h <= precision_percent) {
            return Stopping::Precise { half_width_percent: half };
        }
    }
    if n >= max_runs {
        return Stopping::Cap { half_width_percent };
    }
    Stopping::Continue { half_width_percent }
}

/// `runs = "auto"` as a schedule: the target, and the rounds that share out the runs.
///
/// Round `r` (0-based) measures the runs numbered `r·k + 1 ..= (r + 1)·k` (at most
/// `max_runs`), `k` = ⌈`max_runs` / `rounds`⌉ runs per boot, of every variant and level
/// not stopped yet. Whether one is stopped is decided before each round, from its runs
/// numbered below the round's first: a resumed study takes the same decisions again from
/// runs.csv. A failed run keeps its number: it counts toward the cap, not the precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub precision_percent: f64,
    pub min_runs: u32,
    pub max_runs: u32,
    pub rounds: u32,
    /// `decide = true`: stop on the comparison with the baseline, not on precision.
    pub decide: Option<Decide>,
}

/// Decide mode's rule: each variant against `baseline` at `alpha`, decided at ±
/// `noise_percent`, alpha spent over the looks by `spending`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decide {
    pub baseline: String,
    pub alpha: f64,
    pub noise_percent: f64,
    pub spending: Spending,
}

impl Decide {
    /// The alpha of every decide-mode study: the verdicts' default (`--alpha`).
    pub const ALPHA: f64 = 0.05;
    /// Pocock-type spending: a clear difference stops early (docs/scenario.md has the
    /// simulation that chose it over O'Brien–Fleming's).
    pub const SPENDING: Spending = Spending::Pocock;
}

/// Where the schedule of one variant and level stands, given its runs on record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settled {
    /// `Continue`: not stopped yet (the study ended first, or runs are missing).
    pub stopping: Stopping,
    /// The runs the schedule asks for: those up to the round it stopped before, or up to
    /// `max_runs` while it has not stopped.
    pub planned: u32,
    /// Successful and failed runs among those planned.
    pub ok: u32,
    pub failed: u32,
}

impl Target {
    /// Runs per boot of each variant and level.
    pub fn runs_per_round(&self) -> u32 {
        self.max_runs.div_ceil(self.rounds.max(1))
    }

    /// The run numbers round `round` measures; empty past the cap.
    pub fn block(&self, round: u32) -> RangeInclusive<u32> {
        let k = self.runs_per_round();
        (round * k + 1)..=((round + 1) * k).min(self.max_runs)
    }

    /// The decision on the runs of `variant` at `level` numbered below `before`.
    pub fn decide(&self, records: &[RunRecord], variant: &str, level: &str, before: u32) -> (Stopping, u32, u32) {
        let earlier: Vec<&RunRecord> = records.iter().filter(|r| r.variant == variant && r.jobs_label == level && r.run < before).collect();
        let values: Vec<f64> = earlier.iter().filter(|r| r.is_ok()).map(|r| r.elapsed_s).collect();
        // A failed run measured again (bench run --resume --retry-failed) is one run.
        let mut failed: Vec<u32> =
            earlier.iter().filter(|r| !r.is_ok() && !earlier.iter().any(|o| o.is_ok() && o.run == r.run)).map(|r| r.run).collect();
        failed.sort_unstable();
        failed.dedup();
        let failed = failed.len() as u32;
        let cap = self.max_runs.saturating_sub(failed);
        let decision = match &self.decide {
            None => stopping(&values, self.precision_percent, self.min_runs, cap),
            Some(rule) => self.decided(rule, records, variant, level, before, &values, cap),
        };
        (decision, values.len() as u32, failed)
    }

    /// Decide mode at the look before run `before`: the variant against the baseline; the
    /// baseline until every other variant at the level has stopped.
    #[allow(clippy::too_many_arguments)]
    fn decided(&self, rule: &Decide, records: &[RunRecord], variant: &str, level: &str, before: u32, values: &[f64], cap: u32) -> Stopping {
        let half_width_percent = half_width_percent(values);
        let n = values.len() as u32;
        if variant == rule.baseline {
            let mut others: Vec<&str> =
                records.iter().filter(|r| r.jobs_label == level && r.variant != variant).map(|r| r.variant.as_str()).collect();
            others.sort_unstable();
            others.dedup();
            let theirs: Vec<Stopping> = others.iter().map(|other| self.decide(records, other, level, before).0).collect();
            let all_stopped = !theirs.is_empty() && theirs.iter().all(Stopping::is_stop);
            let all_decided = all_stopped && theirs.iter().all(|s| matches!(s, Stopping::Decided { .. }));
            return match () {
                _ if all_decided => Stopping::Decided { verdict: Verdict::Same, half_width_percent },
                // Some comparison ran to the cap: so did the baseline, inconclusive with it.
                _ if all_stopped || n >= cap => Stopping::Cap { half_width_percent },
                _ => Stopping::Continue { half_width_percent },
            };
        }
        let ok = |name: &str, below: u32| -> Vec<f64> {
            records
                .iter()
                .filter(|r| r.variant == name && r.jobs_label == level && r.run < below && r.is_ok())
                .map(|r| r.elapsed_s)
                .collect()
        };
        // Every look up to this one, in order: each round boundary with min_runs runs on
        // record, judged at the alpha spent since the previous look. Once a look decided,
        // the variant stays stopped (a later look would spend less alpha on the same runs).
        let mut previous = 0;
        for round in 0..self.rounds {
            let at = *self.block(round).start();
            if at > before || self.block(round).is_empty() {
                break;
            }
            let new = ok(variant, at);
            if (new.len() as u32) < self.min_runs {
                continue;
            }
            if let (Some(base), Some(new)) = (summarize(&ok(&rule.baseline, at)), summarize(&new)) {
                let verdict = sequential::decide(&base, &new, rule.alpha, rule.noise_percent, rule.spending, previous, self.max_runs);
                if verdict.is_decided() {
                    return Stopping::Decided { verdict, half_width_percent };
                }
            }
            previous = at - 1;
        }
        if n >= cap {
            return Stopping::Cap { half_width_percent };
        }
        Stopping::Continue { half_width_percent }
    }

    /// Replays the schedule on the runs on record: where it stopped, or that it has not.
    pub fn settle(&self, records: &[RunRecord], variant: &str, level: &str) -> Settled {
        for round in 0..self.rounds {
            let block = self.block(round);
            if block.is_empty() {
                break;
            }
            let before = *block.start();
            let (stopping, ok, failed) = self.decide(records, variant, level, before);
            if !stopping.is_stop() {
                continue;
            }
            let last = records.iter().filter(|r| r.variant == variant && r.jobs_label == level).map(|r| r.run).max().unwrap_or(0);
            if last < before {
                return Settled { stopping, planned: before - 1, ok, failed };
            }
            // Runs beyond the stop: a failed run measured again (--retry-failed) made the
            // stop come earlier than when they were measured. They count, as in the report.
            let (all, ok, failed) = self.decide(records, variant, level, last + 1);
            let stopping = match stopping {
                Stopping::Precise { half_width_percent } => {
                    Stopping::Precise { half_width_percent: all.half_width_percent().unwrap_or(half_width_percent) }
                }
                Stopping::Decided { verdict, .. } => Stopping::Decided { verdict, half_width_percent: all.half_width_percent() },
                _ => Stopping::Cap { half_width_percent: all.half_width_percent() },
            };
            return Settled { stopping, planned: last, ok, failed };
        }
        let (stopping, ok, failed) = self.decide(records, variant, level, self.max_runs + 1);
        Settled { stopping, planned: self.max_runs, ok, failed }
    }

    /// What stopped each variant at each level, in the order given.
    pub fn statements(&self, records: &[RunRecord], variants: &[String], levels: &[String]) -> Vec<LevelStopping> {
        let mut out = Vec::new();
        for variant in variants {
            for level in levels {
                let settled = self.settle(records, variant, level);
                let (rule, half_width_percent) = match settled.stopping {
                    Stopping::Precise { half_width_percent } => (StopRule::Precise, Some(half_width_percent)),
                    Stopping::Cap { half_width_percent } => (StopRule::Cap, half_width_percent),
                    Stopping::Continue { half_width_percent } => (StopRule::Unfinished, half_width_percent),
                    Stopping::Decided { half_width_percent, .. } => (StopRule::Decided, half_width_percent),
                };
                let decided = match (&self.decide, settled.stopping) {
                    (Some(rule), Stopping::Decided { .. }) if &rule.baseline == variant => Some("every comparison known".to_string()),
                    (Some(_), Stopping::Decided { verdict, .. }) => Some(crate::stats::Metric::Elapsed.verdict_word(verdict).to_string()),
                    _ => None,
                };
                out.push(LevelStopping {
                    variant: variant.clone(),
                    level: level.clone(),
                    rule,
                    runs: settled.ok,
                    failed: settled.failed,
                    half_width_percent,
                    precision_percent: self.precision_percent,
                    max_runs: self.max_runs,
                    decided,
                    decide_threshold_percent: self.decide.as_ref().map(|d| d.noise_percent),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    /// Feeds a series run by run, as a study measures it; returns where it stopped.
    fn run_until_stop(series: &[f64], precision: f64, min_runs: u32, max_runs: u32) -> (usize, Stopping) {
        for n in 1..=series.len() {
            let decision = stopping(&series[..n], precision, min_runs, max_runs);
            if decision.is_stop() {
                return (n, decision);
            }
        }
        panic!("the series ran out before the rule stopped");
    }

    #[test]
    fn a_quiet_series_stops_at_the_target() {
        // ±0.5 % around 100 s: the interval is within 2 % from the minimum number of runs.
        let quiet: Vec<f64> = (0..30).map(|i| 100.0 + [0.4, -0.3, 0.5, -0.5, 0.1, -0.2][i % 6]).collect();
        let (n, decision) = run_until_stop(&quiet, 2.0, 5, 30);
        assert_eq!(n, 5);
        assert!(matches!(decision, Stopping::Precise { half_width_percent } if half_width_percent <= 2.0), "{decision:?}");
    }

    #[test]
    fn a_noisy_series_stops_at_the_cap() {
        // ±30 %: no interval of 12 runs gets within 2 %.
        let noisy: Vec<f64> = (0..30).map(|i| 100.0 + [30.0, -25.0, 20.0, -30.0][i % 4]).collect();
        let (n, decision) = run_until_stop(&noisy, 2.0, 5, 12);
        assert_eq!(n, 12);
        assert!(matches!(decision, Stopping::Cap { half_width_percent: Some(h) } if h > 2.0), "{decision:?}");
    }

    #[test]
    fn a_series_that_settles_stops_in_between() {
        // Noisy first runs, then steady ones: more than min_runs, fewer than max_runs.
        let mut series = vec![110.0, 92.0, 105.0];
        series.extend((0..40).map(|i| 100.0 + if i % 2 == 0 { 0.5 } else { -0.5 }));
        let (n, decision) = run_until_stop(&series, 1.0, 3, 40);
        assert!(n > 3 && n < 40, "stopped after {n}");
        assert!(matches!(decision, Stopping::Precise { .. }));
    }

    #[test]
    fn min_runs_holds_even_when_precise() {
        assert!(matches!(stopping(&[100.0, 100.0, 100.0], 1.0, 5, 10), Stopping::Continue { half_width_percent: Some(h) } if h == 0.0));
    }

    #[test]
    fn half_width_matches_a_hand_computation() {
        // mean 10, sd 1, n 4: t(0.975, 3) = 3.182446305284263 (SciPy) · 1 / 2 = 1.5912 → 15.912 %.
        let values = [9.0, 10.0, 11.0, 10.0];
        let sd = sample_sd(&values);
        assert_close(half_width_percent(&values).unwrap(), 100.0 * 3.182446305284263 * sd / 2.0 / 10.0, 1e-9);
        assert_eq!(half_width_percent(&[5.0]), None);
        assert_eq!(half_width_percent(&[0.0, 0.0]), None);
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    fn target(rounds: u32) -> Target {
        Target { precision_percent: 2.0, min_runs: 3, max_runs: 6, rounds, decide: None }
    }

    fn runs(times: &[Option<f64>]) -> Vec<RunRecord> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| RunRecord {
                run: i as u32 + 1,
                elapsed_s: t.unwrap_or(0.0),
                status: if t.is_some() { RunStatus::Ok } else { RunStatus::Failed },
                ..test_record()
            })
            .collect()
    }

    #[test]
    fn rounds_share_out_contiguous_blocks_up_to_the_cap() {
        assert_eq!((0..6).map(|r| target(6).block(r)).collect::<Vec<_>>(), [1..=1, 2..=2, 3..=3, 4..=4, 5..=5, 6..=6]);
        assert_eq!((0..3).map(|r| target(3).block(r)).collect::<Vec<_>>(), [1..=2, 3..=4, 5..=6]);
        // 6 runs in 4 rounds: 2 per boot, the last round has nothing left.
        assert_eq!(target(4).block(2), 5..=6);
        assert!(target(4).block(3).is_empty());
    }

    #[test]
    fn steady_runs_settle_as_precise_at_min_runs() {
        let records = runs(&[Some(10.0), Some(10.01), Some(9.99)]);
        let settled = target(6).settle(&records, "baseline", "half");
        assert!(matches!(settled.stopping, Stopping::Precise { .. }), "{settled:?}");
        assert_eq!((settled.planned, settled.ok, settled.failed), (3, 3, 0));
        // Fewer runs on record: not stopped yet, the cap is what may still come.
        let settled = target(6).settle(&records[..2], "baseline", "half");
        assert!(matches!(settled.stopping, Stopping::Continue { .. }));
        assert_eq!(settled.planned, 6);
    }

    #[test]
    fn a_failed_run_counts_toward_the_cap_not_the_precision() {
        let records = runs(&[Some(10.0), None, Some(14.0), Some(7.0), Some(12.0), Some(9.0)]);
        let settled = target(6).settle(&records, "baseline", "half");
        assert!(matches!(settled.stopping, Stopping::Cap { half_width_percent: Some(h) } if h > 2.0), "{settled:?}");
        assert_eq!((settled.planned, settled.ok, settled.failed), (6, 5, 1));
        let statement = &target(6).statements(&records, &["baseline".into()], &["half".into()])[0];
        assert!(
            statement.describe().starts_with("cap of 6 runs reached (± ") && statement.describe().ends_with("target ± 2 %, 1 failed)"),
            "{statement:?}"
        );
    }

    #[test]
    fn the_decision_is_taken_at_the_round_boundary_only() {
        // 2 runs per boot: precise after 3 runs, but the round measured 4.
        let records = runs(&[Some(10.0), Some(10.01), Some(9.99), Some(10.0)]);
        let settled = target(3).settle(&records, "baseline", "half");
        assert!(matches!(settled.stopping, Stopping::Precise { .. }));
        assert_eq!((settled.planned, settled.ok), (4, 4));
    }

    #[test]
    fn an_adaptive_studys_rows_fit_its_plan_up_to_the_cap() {
        // meta.json's `runs` of an adaptive study is max_runs: a failed run, a stop before
        // the cap and a level at its cap all pass the readers' check.
        let mut records = runs(&[Some(10.0), None, Some(14.0), Some(7.0), Some(12.0), Some(9.0)]);
        records.extend(runs(&[Some(10.0), Some(10.0), Some(10.0)]).into_iter().map(|r| RunRecord { variant: "poison".into(), ..r }));
        let shape = crate::stats::StudyShape {
            variants: vec!["baseline".into(), "poison".into()],
            levels: vec![("half".into(), 1)],
            runs: 6,
            hosts: Vec::new(),
        };
        assert_eq!(crate::stats::inconsistencies(&records, Some(&shape)), []);
        let beyond = RunRecord { run: 7, ..records[0].clone() };
        assert_eq!(crate::stats::inconsistencies(&[beyond], Some(&shape)).len(), 1, "beyond the cap is beyond the plan");
    }

    #[test]
    fn a_missing_run_below_the_stop_is_still_planned() {
        // Run 2 has no row (its guest failed): the later runs are precise, run 2 is due.
        let mut records = runs(&[Some(10.0), Some(10.0), Some(10.01), Some(9.99)]);
        records.remove(1);
        let settled = target(6).settle(&records, "baseline", "half");
        assert_eq!(settled.planned, 4);
        assert_eq!(settled.ok, 3);
    }

    fn decide_target() -> Target {
        let rule = Decide { baseline: "baseline".into(), alpha: 0.05, noise_percent: 1.0, spending: Spending::Pocock };
        Target { precision_percent: 2.0, min_runs: 5, max_runs: 20, rounds: 20, decide: Some(rule) }
    }

    fn pair(base: &[f64], poison: &[f64]) -> Vec<RunRecord> {
        let mut records = runs(&base.iter().map(|&v| Some(v)).collect::<Vec<_>>());
        records.extend(
            runs(&poison.iter().map(|&v| Some(v)).collect::<Vec<_>>()).into_iter().map(|r| RunRecord { variant: "poison".into(), ..r }),
        );
        records
    }

    #[test]
    fn decide_mode_stops_a_clear_difference_early_and_an_unclear_pair_at_the_cap() {
        let base: Vec<f64> = (0..20).map(|i| 100.0 + [0.3, -0.2, 0.1, -0.3, 0.2][i % 5]).collect();
        let slower: Vec<f64> = base.iter().map(|v| v * 1.10).collect();
        let target = decide_target();
        // 10 % slower at a 0.2 % spread is known at the first look, before run 6.
        let all = pair(&base, &slower);
        assert!(matches!(target.decide(&all, "poison", "half", 5).0, Stopping::Continue { .. }), "4 runs: below min_runs");
        assert!(matches!(target.decide(&all, "poison", "half", 6).0, Stopping::Decided { verdict: Verdict::Higher, .. }));
        // A later look would spend less alpha on the same runs: once decided, it stays so.
        let first_five = pair(&base[..5], &slower[..5]);
        assert!(matches!(target.decide(&first_five, "poison", "half", 7).0, Stopping::Decided { verdict: Verdict::Higher, .. }));
        let records = pair(&base[..5], &slower[..5]);
        let settled = target.settle(&records, "poison", "half");
        assert!(matches!(settled.stopping, Stopping::Decided { verdict: Verdict::Higher, .. }), "{settled:?}");
        assert_eq!(settled.planned, 5);
        let baseline = target.settle(&records, "baseline", "half");
        assert!(matches!(baseline.stopping, Stopping::Decided { .. }) && baseline.planned == 5, "{baseline:?}");
        let statements = target.statements(&records, &["baseline".into(), "poison".into()], &["half".into()]);
        assert_eq!(statements[1].describe(), "decided after 5 runs: slower (at ± 1 %)");
        assert_eq!(statements[0].describe(), "decided after 5 runs: every comparison known (at ± 1 %)");

        // An A/A pair at a 5 % spread: neither changed nor shown the same within ± 1 %.
        let noisy: Vec<f64> = (0..20).map(|i| 100.0 + [5.0, -4.0, 6.0, -5.0, -2.0, 3.0, -6.0][i % 7]).collect();
        let again: Vec<f64> = (0..20).map(|i| 100.0 + [-4.0, 5.0, -5.0, 6.0, 2.0, -3.0, 4.0][i % 7]).collect();
        let records = pair(&noisy, &again);
        let settled = target.settle(&records, "poison", "half");
        assert!(matches!(settled.stopping, Stopping::Cap { .. }), "{settled:?}");
        assert_eq!(settled.planned, 20);
        let statement = &target.statements(&records, &["poison".into()], &["half".into()])[0];
        assert_eq!(statement.describe(), "cap of 20 runs reached: inconclusive at ± 1 %");
        // While the variant goes on, so does the baseline.
        assert!(matches!(target.decide(&records, "baseline", "half", 10).0, Stopping::Continue { .. }));
    }
}
