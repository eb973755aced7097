//! Rows that cannot all be true at once. Averaging them would give numbers that mean
//! nothing (a run counted twice, a negative time, two `-j` values pooled under one label),
//! so every reader of runs.csv (`report`, `compare`, `run --resume`) refuses them first.

use crate::model::Meta;
use crate::model::RunRecord;
use std::collections::HashMap;

/// What the study was planned to be, as meta.json records it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyShape {
    pub variants: Vec<String>,
    /// (label, -j) of every jobs level.
    pub levels: Vec<(String, u32)>,
    /// Timed runs per variant and level.
    pub runs: u32,
    /// The `[[host]]` names of a study over several hosts; empty on one host.
    pub hosts: Vec<String>,
}

impl StudyShape {
    pub fn of(meta: &Meta) -> StudyShape {
        StudyShape {
            variants: meta.variants.iter().map(|v| v.name.clone()).collect(),
            levels: meta.levels.iter().map(|l| (l.label.clone(), l.jobs)).collect(),
            runs: meta.runs,
            hosts: meta.hosts.iter().map(|h| h.name.clone()).collect(),
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

/// The longest a measured time can be: a step's time limit is at most 7 days (604,800 s),
/// so a larger value was not measured by kbench. It also keeps every sum of times finite.
pub const MAX_SECONDS: f64 = 1e7;
/// The largest percent CPU a run can have: 10,000 CPUs busy.
pub const MAX_PERCENT_CPU: f64 = 1e6;

/// Every inconsistent row, in order; empty when the records can be analysed. Linear in
/// the rows: each row is checked against what the rows before it established.
///
/// A run (host, variant, level, run number) may appear again only after a failed row of
/// the same run: that is a failed run measured again. After a successful row it is a
/// duplicate. Each host of a study over several hosts measures every run once.
pub fn inconsistencies(records: &[RunRecord], shape: Option<&StudyShape>) -> Vec<Inconsistency> {
    let mut found = Vec::new();
    // (host, variant, level, run) → the first row where it succeeded.
    let mut succeeded: HashMap<(&str, &str, &str, u32), usize> = HashMap::new();
    // (host, level) → each -j seen with the first row that had it.
    let mut jobs_seen: HashMap<(&str, &str), Vec<(u32, usize)>> = HashMap::new();
    // The first row without a host, and the first with one.
    let (mut first_unnamed, mut first_named): (Option<usize>, Option<usize>) = (None, None);
    for (row, record) in records.iter().enumerate() {
        let mut problem = |text: String| found.push(Inconsistency { row, earlier: None, problem: text });
        let id = match record.host.as_str() {
            "" => format!("{} {} run {}", record.variant, record.jobs_label, record.run),
            host => format!("host {host}: {} {} run {}", record.variant, record.jobs_label, record.run),
        };
        for (column, value, most) in [
            ("elapsed_s", record.elapsed_s, MAX_SECONDS),
            ("user_s", record.user_s, MAX_SECONDS),
            ("sys_s", record.sys_s, MAX_SECONDS),
            ("percent_cpu", record.percent_cpu, MAX_PERCENT_CPU),
        ] {
            if !value.is_finite() || value < 0.0 {
                problem(format!("{id}: {column} is {value}; a measured time or share is a finite number ≥ 0"));
            } else if value > most {
                problem(format!(
                    "{id}: {column} is {value:e}, more than kbench can measure (at most {most:e}): the row was not written by kbench"
                ));
            }
        }
        for (column, value) in [
            ("guest_user_percent", record.guest_user_percent),
            ("guest_sys_percent", record.guest_sys_percent),
            ("guest_softirq_percent", record.guest_softirq_percent),
            ("guest_steal_percent", record.guest_steal_percent),
        ] {
            if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0 || *v > MAX_PERCENT_CPU) {
                problem(format!("{id}: {column} is {value}; a share of the guest's CPU time is a finite number from 0 to 100"));
            }
        }
        if record.run == 0 {
            problem(format!("{id}: runs are numbered from 1"));
        }
        if record.variant.is_empty() || record.jobs_label.is_empty() {
            problem(format!("{id}: a run names its variant and its jobs level"));
        }
        if let Some(shape) = shape {
            against_plan(record, &id, shape, &mut problem);
        }
        let run_key = (record.host.as_str(), record.variant.as_str(), record.jobs_label.as_str(), record.run);
        if let Some(&earlier) = succeeded.get(&run_key) {
            let problem = format!("{id} is on record twice: it already succeeded in an earlier row");
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
        let other_kind = if record.host.is_empty() { first_named } else { first_unnamed };
        if let Some(earlier) = other_kind {
            let problem = format!(
                "{id}: {} but an earlier row {}: a study runs on one machine or on [[host]]s, each row naming its host",
                if record.host.is_empty() { "names no host" } else { "names a host" },
                if records[earlier].host.is_empty() { "names none".to_string() } else { format!("names host {}", records[earlier].host) }
            );
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
        // Each host's guests may have another size, so one label may mean another -j there.
        let seen = jobs_seen.entry((record.host.as_str(), record.jobs_label.as_str())).or_default();
        if let Some(&(jobs, earlier)) = seen.iter().filter(|(jobs, _)| *jobs != record.jobs).min_by_key(|(_, row)| *row) {
            let problem = format!(
                "the jobs level {:?} ran with -j {} here but with -j {jobs} in an earlier row: one label, one -j",
                record.jobs_label, record.jobs
            );
            found.push(Inconsistency { row, earlier: Some(earlier), problem });
        }
        if !seen.iter().any(|(jobs, _)| *jobs == record.jobs) {
            seen.push((record.jobs, row));
        }
        if record.is_ok() {
            succeeded.entry(run_key).or_insert(row);
        }
        let first_of_kind = if record.host.is_empty() { &mut first_unnamed } else { &mut first_named };
        first_of_kind.get_or_insert(row);
    }
    found
}

fn against_plan(record: &RunRecord, id: &str, shape: &StudyShape, problem: &mut impl FnMut(String)) {
    if !shape.hosts.is_empty() && !shape.hosts.contains(&record.host) {
        problem(format!("{id}: host {:?} is not in the scenario (meta.json has {})", record.host, listed(&shape.hosts)));
    }
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
        StudyShape { variants: vec!["off".into(), "poison".into()], levels: vec![("half".into(), 2)], runs: 3, hosts: Vec::new() }
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
    fn each_host_measures_every_run_once() {
        let on = |host: &str, r: RunRecord| RunRecord { host: host.into(), ..r };
        let records = [on("lab1", run("off", "half", 2, 1)), on("lab2", run("off", "half", 2, 1)), on("lab1", run("off", "half", 2, 1))];
        let found = problems(&records, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 2);
        assert!(found[0].1.contains("host lab1: off half run 1 is on record twice"), "{found:?}");
        let two_hosts = StudyShape { hosts: vec!["lab1".into(), "lab2".into()], ..shape() };
        assert_eq!(problems(&records[..2], Some(&two_hosts)), []);
        let stray = problems(&[on("lab3", run("off", "half", 2, 1)), run("off", "half", 2, 2)], Some(&two_hosts));
        assert!(stray[0].1.contains("host \"lab3\" is not in the scenario (meta.json has lab1, lab2)"), "{stray:?}");
        assert!(stray[1].1.contains("host \"\" is not in the scenario"), "a row without its host: {stray:?}");
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
    fn times_beyond_what_kbench_can_measure_are_refused() {
        let records = [
            RunRecord { elapsed_s: 1e308, ..run("off", "half", 2, 1) },
            RunRecord { percent_cpu: 2e6, ..run("off", "half", 2, 2) },
            RunRecord { guest_sys_percent: Some(f64::NAN), ..run("off", "half", 2, 3) },
            RunRecord { elapsed_s: 604_800.0, ..run("off", "half", 2, 4) },
        ];
        let found = problems(&records, None);
        assert_eq!(found.iter().map(|(row, _)| *row).collect::<Vec<_>>(), [0, 1, 2], "{found:?}");
        assert!(found[0].1.contains("elapsed_s is 1e308") && found[0].1.contains("more than kbench can measure"), "{found:?}");
        assert!(found[2].1.contains("guest_sys_percent is NaN"), "{found:?}");
    }

    #[test]
    fn a_run_without_a_variant_or_level_name_is_refused() {
        let found = problems(&[run("", "half", 2, 1), run("off", "", 2, 1)], None);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].1.contains("names its variant and its jobs level"), "{found:?}");
    }

    #[test]
    fn a_duplicate_names_the_first_success_and_a_jobs_clash_the_first_other_jobs() {
        let failed = RunRecord { status: RunStatus::Failed, ..run("off", "half", 2, 1) };
        let records = [
            failed,
            run("off", "half", 2, 1),
            run("off", "half", 2, 1),
            run("off", "half", 2, 1),
            run("poison", "half", 4, 1),
            run("poison", "half", 4, 2),
        ];
        let found = inconsistencies(&records, None);
        let pairs: Vec<(usize, Option<usize>)> = found.iter().map(|i| (i.row, i.earlier)).collect();
        assert_eq!(pairs, [(2, Some(1)), (3, Some(1)), (4, Some(0)), (5, Some(0))], "{found:?}");
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
        assert!(
            found.iter().any(|(row, p)| *row == 0 && p.contains("off half run 4 is beyond the plan") && p.contains("3 runs")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|(row, p)| *row == 1 && p.contains("variant \"bogus\" is not in the scenario (meta.json has off, poison)")),
            "{found:?}"
        );
        assert!(found.iter().any(|(row, p)| *row == 2 && p.contains("jobs level \"max\" is not in the scenario")), "{found:?}");
        assert!(found.iter().any(|(row, p)| *row == 3 && p.contains("numbered from 1")), "{found:?}");
        let other_jobs = problems(&[run("off", "half", 4, 1)], Some(&shape()));
        assert!(other_jobs[0].1.contains("gives it -j 2"), "{other_jobs:?}");
        // Without meta.json only the rows themselves can be checked.
        assert_eq!(problems(&records[..2], None), []);
    }

    #[test]
    fn rows_with_and_without_a_host_are_refused_and_jobs_are_per_host() {
        let on = |host: &str, r: RunRecord| RunRecord { host: host.into(), ..r };
        let found = problems(&[on("lab3", run("off", "half", 2, 1)), run("off", "half", 2, 2)], None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("off half run 2: names no host but an earlier row names host lab3"), "{found:?}");
        let on_two = [on("lab1", run("off", "half", 2, 1)), on("lab2", run("off", "half", 4, 1))];
        assert_eq!(problems(&on_two, None), [], "-j per host: another host's guest may be another size");
    }
}
