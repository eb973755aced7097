//! Rows that cannot all be true at once. Averaging them would give numbers that mean
//! nothing (a run counted twice, a negative time, two `-j` values pooled under one label),
//! so every reader of runs.csv (`report`, `compare`, `run --resume`) refuses them first.

use crate::model::Meta;
use crate::model::RunRecord;

/// What the study was planned to be, as meta.json records it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyShape {
    pub variants: Vec<String>,
    /// (label, -j) of every jobs level.
    pub levels: Vec<(String, u32)>,
    /// Timed runs per variant and level.
    pub runs: u32,
}

impl StudyShape {
    pub fn of(meta: &Meta) -> StudyShape {
        StudyShape {
            variants: meta.variants.iter().map(|v| v.name.clone()).collect(),
            levels: meta.levels.iter().map(|l| (l.label.clone(), l.jobs)).collect(),
            runs: meta.runs,
        }
    }
}

/// One row that contradicts another row or the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Inconsistency {
    /// 0-based position of the row among the records.
    pub row: usize,
    /// The earlier row it contradicts, when it is one row.
    pub earlier: Option<usize>,
    pub problem: String,
}

/// Every inconsistent row, in order; empty when the records can be analysed.
///
/// A run (variant, level, run number) may appear again only after a failed row of the
/// same run: that is a failed run measured again. After a successful row it is a duplicate.
pub fn inconsistencies(records: &[RunRecord], shape: Option<&StudyShape>) -> Vec<Inconsistency> {
    let mut found = Vec::new();
    for (row, record) in records.iter().enumerate() {
        let mut problem = |text: String| found.push(Inconsistency { row, earlier: None, problem: text });
        // On several hosts each runs the whole study: run 1 of a variant on host a and on
        // host b are two runs, and a jobs label may mean another -j on another guest size.
        let host = if record.host.is_empty() { String::new() } else { format!("host {}: ", record.host) };
        let id = format!("{host}{} {} run {}", record.variant, record.jobs_label, record.run);
        for (column, value) in
            [("elapsed_s", record.elapsed_s), ("user_s", record.user_s), ("sys_s", record.sys_s), ("percent_cpu", record.percent_cpu)]
        {
            if !value.is_finite() || value < 0.0 {
                problem(format!("{id}: {column} is {value}; a measured time or share is a finite number ≥ 0"));
            }
        }
        if record.run == 0 {
            problem(format!("{id}: runs are numbered from 1"));
        }
        if let Some(shape) = shape {
            against_plan(record, &id, shape, &mut problem);
        }
        let same_run = |r: &RunRecord| r.is_ok() && r.host == record.host && r.variant == record.variant && r.jobs_label == record.jobs_label && r.run == record.run;
        if let Some(earlier) = records[..row].iter().position(same_run) {
            let problem = format!("{id} is on record twice: it already succeeded in an earlier row");
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
        if let Some(earlier) = records[..row].iter().position(|r| r.host.is_empty() != record.host.is_empty()) {
            let problem = format!(
                "{id}: {} but an earlier row {}: a study runs on one machine or on [[host]]s, each row naming its host",
                if record.host.is_empty() { "names no host" } else { "names a host" },
                if records[earlier].host.is_empty() { "names none".to_string() } else { format!("names host {}", records[earlier].host) }
            );
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
        if let Some(earlier) = records[..row].iter().position(|r| r.host == record.host && r.jobs_label == record.jobs_label && r.jobs != record.jobs) {
            let problem = format!(
                "{host}the jobs level {:?} ran with -j {} here but with -j {} in an earlier row: one label, one -j",
                record.jobs_label, record.jobs, records[earlier].jobs
            );
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
    }
    found
}

fn against_plan(record: &RunRecord, id: &str, shape: &StudyShape, problem: &mut impl FnMut(String)) {
    if !shape.variants.contains(&record.variant) {
        problem(format!("variant {:?} is not in the scenario (meta.json has {})", record.variant, listed(&shape.variants)));
    }
    match shape.levels.iter().find(|(label, _)| *label == record.jobs_label) {
        None => {
            let labels: Vec<String> = shape.levels.iter().map(|(label, _)| label.clone()).collect();
            problem(format!("jobs level {:?} is not in the scenario (meta.json has {})", record.jobs_label, listed(&labels)));
        }
        Some((label, jobs)) if *jobs != record.jobs => {
            problem(format!("jobs level {label:?} ran with -j {} but the scenario (meta.json) gives it -j {jobs}", record.jobs));
        }
        Some(_) => {}
    }
    if record.run > shape.runs {
        problem(format!("{id} is beyond the plan: the scenario (meta.json) has {} runs per variant and level", shape.runs));
    }
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    fn run(variant: &str, label: &str, jobs: u32, run: u32) -> RunRecord {
        RunRecord { variant: variant.into(), jobs_label: label.into(), jobs, run, ..test_record() }
    }

    fn shape() -> StudyShape {
        StudyShape { variants: vec!["off".into(), "poison".into()], levels: vec![("half".into(), 2)], runs: 3 }
    }

    fn problems(records: &[RunRecord], shape: Option<&StudyShape>) -> Vec<(usize, String)> {
        inconsistencies(records, shape).into_iter().map(|i| (i.row, i.problem)).collect()
    }

    fn earlier(records: &[RunRecord]) -> Vec<Option<usize>> {
        inconsistencies(records, None).into_iter().map(|i| i.earlier).collect()
    }

    #[test]
    fn a_consistent_study_and_a_retried_failed_run_pass() {
        let failed = RunRecord { status: RunStatus::Failed, ..run("off", "half", 2, 2) };
        let records = [run("off", "half", 2, 1), failed, run("off", "half", 2, 2), run("poison", "half", 2, 1)];
        assert_eq!(problems(&records, Some(&shape())), []);
    }

    #[test]
    fn a_run_on_record_twice_is_named_by_its_row() {
        let records = [run("off", "half", 2, 1), run("off", "half", 2, 2), run("off", "half", 2, 1)];
        let found = problems(&records, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 2);
        assert!(found[0].1.contains("off half run 1 is on record twice"), "{found:?}");
        assert_eq!(earlier(&records), [Some(0)]);
        // Another variant or level with the same run number is another run.
        assert_eq!(problems(&[run("off", "half", 2, 1), run("poison", "half", 2, 1), run("off", "4", 4, 1)], None), []);
    }

    #[test]
    fn the_same_run_on_two_hosts_is_two_runs_and_twice_on_one_host_is_named_with_it() {
        let on = |host: &str, jobs: u32| RunRecord { host: host.into(), ..run("off", "half", jobs, 1) };
        assert_eq!(problems(&[on("a", 2), on("b", 4)], Some(&StudyShape { levels: vec![("half".into(), 2)], ..shape() })).len(), 1,
            "-j 4 on host b is against the plan (meta.json's levels), not against host a's row");
        assert_eq!(problems(&[on("a", 2), on("b", 2)], None), []);
        let found = problems(&[on("a", 2), on("b", 2), on("b", 2)], None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.starts_with("host b: off half run 1 is on record twice"), "{found:?}");
        let found = problems(&[on("a", 2), on("", 2)], None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("off half run 1: names no host but an earlier row names host a"), "{found:?}");
    }

    #[test]
    fn negative_and_non_finite_times_are_refused() {
        let records = [
            RunRecord { elapsed_s: -1.0, ..run("off", "half", 2, 1) },
            RunRecord { sys_s: f64::NAN, ..run("off", "half", 2, 2) },
            RunRecord { percent_cpu: f64::INFINITY, ..run("off", "half", 2, 3) },
        ];
        let found = problems(&records, None);
        assert_eq!(found.iter().map(|(row, _)| *row).collect::<Vec<_>>(), [0, 1, 2], "{found:?}");
        assert!(found[0].1.contains("elapsed_s is -1") && found[1].1.contains("sys_s is NaN"), "{found:?}");
    }

    #[test]
    fn one_label_with_two_jobs_values_is_refused() {
        let found = problems(&[run("off", "half", 2, 1), run("poison", "half", 4, 1)], None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("\"half\" ran with -j 4 here but with -j 2"), "{found:?}");
    }

    #[test]
    fn rows_outside_the_plan_are_refused() {
        let records = [run("off", "half", 2, 4), run("bogus", "half", 2, 1), run("off", "max", 0, 1), run("off", "half", 2, 0)];
        let found = problems(&records, Some(&shape()));
        assert!(found.iter().any(|(row, p)| *row == 0 && p.contains("off half run 4 is beyond the plan") && p.contains("3 runs")), "{found:?}");
        assert!(found.iter().any(|(row, p)| *row == 1 && p.contains("variant \"bogus\" is not in the scenario (meta.json has off, poison)")), "{found:?}");
        assert!(found.iter().any(|(row, p)| *row == 2 && p.contains("jobs level \"max\" is not in the scenario")), "{found:?}");
        assert!(found.iter().any(|(row, p)| *row == 3 && p.contains("numbered from 1")), "{found:?}");
        let other_jobs = problems(&[run("off", "half", 4, 1)], Some(&shape()));
        assert!(other_jobs[0].1.contains("gives it -j 2"), "{other_jobs:?}");
        // Without meta.json only the rows themselves can be checked.
        assert_eq!(problems(&records[..2], None), []);
    }
}
