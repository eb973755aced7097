//! The history of one study over several measurements, typically one per kernel bump:
//! per variant, jobs level and metric the series of means with their intervals, and each
//! step judged against the previous measurement and against the first. No files and no
//! formats here: `results` reads the results folders and `report` renders the history.
//!
//! A step is a regression by the rule `bench compare` gates on
//! ([`crate::compare::comparison::worse`]): significant, beyond the threshold, the costly way.
//!
//! A study over several lab hosts has a series per host (never one mixing the seconds of
//! two machines); measurements on one machine and on several hosts are not one history.

use crate::compare::comparison::{cannot_tell, worse};
use crate::model::RunRecord;
use crate::stats::{compare, noisy_runs, summarize, Comparison, Metric, Summary, Thresholds, Verdict, NOISE_ADVICE};
use anyhow::{bail, Result};
use serde::Serialize;

/// One results folder of the study.
pub struct Measurement {
    /// As given or found, for messages.
    pub name: String,
    /// meta.json's started_at, when known.
    pub started_at: Option<String>,
    /// The workload as meta.json states it (kind and commands); `None` without meta.json.
    pub workload: Option<String>,
    pub records: Vec<RunRecord>,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub thresholds: Thresholds,
    pub metrics: Vec<Metric>,
    pub measurements: Vec<MeasurementInfo>,
    pub series: Vec<Series>,
    pub warnings: Vec<String>,
    /// The steps from the second-to-last measurement to the last that regressed, named
    /// ("poison half -j 2 elapsed: slower +10.0 %"); the exit code is 1 when any.
    pub last_step_regressions: Vec<String>,
    /// The last steps of gated metrics that cannot tell (inconclusive or too few runs,
    /// [`crate::compare::comparison::cannot_tell`]), named as the regressions; the exit
    /// code is 3 when any and nothing regressed.
    pub last_step_inconclusive: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MeasurementInfo {
    pub name: String,
    pub started_at: Option<String>,
    /// Kernel releases the guests reported, usually one.
    pub kernels: Vec<String>,
    pub ok_runs: usize,
    pub failed_runs: usize,
    /// Successful runs measured on a noisy host (runs.csv's `noise`).
    pub noisy_runs: usize,
}

/// One metric of one variant at one jobs level, over every measurement.
#[derive(Debug, Serialize)]
pub struct Series {
    /// The lab host of a study over several hosts; empty on one host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub variant: String,
    pub jobs_label: String,
    pub jobs: u32,
    pub metric: Metric,
    pub unit: &'static str,
    /// One per measurement, in order; `summary` is `None` where it has no successful run.
    pub points: Vec<Point>,
}

#[derive(Debug, Serialize)]
pub struct Point {
    /// The kernel release of this row's runs in this measurement ("" when it has none).
    pub kernel: String,
    pub summary: Option<Summary>,
    pub failed_runs: usize,
    /// Against the measurement before; `None` for the first or when either has no run.
    pub against_previous: Option<Step>,
    /// Against the first measurement; `None` for the first or when either has no run.
    pub against_first: Option<Step>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub comparison: Comparison,
    /// The verdict in the metric's words: "slower", "same", "inconclusive", ...
    pub verdict: String,
    /// What the step could see ([`Comparison::sensitivity_phrase`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
    pub regression: bool,
    /// A gated metric that cannot tell.
    pub inconclusive: bool,
}

/// A row of runs.csv: the same host, variant at the same jobs level and -j.
type Row = (String, String, String, u32);

/// Builds the history of `measurements`, in the order given (oldest first).
pub fn build(measurements: &[Measurement], metrics: &[Metric], thresholds: &Thresholds) -> Result<History> {
    if measurements.len() < 2 {
        bail!("a history needs at least two results folders of the same study, got {}", measurements.len());
    }
    check_workloads(measurements)?;
    check_hosts(measurements)?;
    let rows = rows(measurements);
    let common: Vec<&Row> = rows.iter().filter(|row| measurements.iter().all(|m| has_row(m, row))).collect();
    if common.is_empty() {
        bail!(
            "no variant and jobs level was measured in every one of the {} results folders ({}): they are not the same study",
            measurements.len(),
            names(measurements)
        );
    }
    let mut warnings = Vec::new();
    for row in rows.iter().filter(|row| !common.contains(row)) {
        let missing: Vec<&str> = measurements.iter().filter(|m| !has_row(m, row)).map(|m| m.name.as_str()).collect();
        warnings.push(format!(
            "{}{} {} (-j {}) is missing from {}: its series has gaps",
            host_prefix(&row.0),
            row.1,
            row.2,
            row.3,
            missing.join(", ")
        ));
    }
    if let Some(warning) = noise_warning(measurements) {
        warnings.push(warning);
    }
    let series: Vec<Series> =
        metrics.iter().flat_map(|&metric| rows.iter().map(move |row| series(measurements, row, metric, thresholds))).collect();
    let last_steps = |pick: fn(&Step) -> bool| -> Vec<String> {
        series
            .iter()
            .filter_map(|s| {
                let step = s.points.last()?.against_previous.as_ref().filter(|step| pick(step))?;
                let change = step.comparison.change_percent.map_or("n/a".to_string(), |p| format!("{p:+.1} %"));
                Some(format!(
                    "{}{} {} -j {} {}: {} {change}",
                    host_prefix(&s.host),
                    s.variant,
                    s.jobs_label,
                    s.jobs,
                    s.metric.name(),
                    step.verdict
                ))
            })
            .collect()
    };
    let last_step_regressions = last_steps(|step| step.regression);
    let last_step_inconclusive = last_steps(|step| step.inconclusive);
    Ok(History {
        thresholds: *thresholds,
        metrics: metrics.to_vec(),
        measurements: measurements.iter().map(info).collect(),
        series,
        warnings,
        last_step_regressions,
        last_step_inconclusive,
    })
}

impl History {
    /// "REGRESSION in the last step …", "INCONCLUSIVE …" or "no significant regression
    /// …": one line for logs and summaries.
    pub fn outcome_line(&self) -> String {
        let t = &self.thresholds;
        let rule = format!("p < {} and the 95 % interval beyond ±{} %", t.alpha, t.noise_percent);
        if !self.last_step_regressions.is_empty() {
            format!("REGRESSION in the last step ({rule}): {}", self.last_step_regressions.join("; "))
        } else if !self.last_step_inconclusive.is_empty() {
            format!(
                "INCONCLUSIVE: no significant regression in the last step, but it cannot tell (neither beyond nor within ±{} %): {}",
                t.noise_percent,
                self.last_step_inconclusive.join("; ")
            )
        } else {
            format!("no significant regression in the last step ({rule})")
        }
    }
}

/// Sorts measurements by when they started (those without a date last, in the order
/// given): the order of a folder of results found on disk.
pub fn sort_by_start(measurements: &mut [Measurement]) {
    measurements.sort_by(|a, b| match (&a.started_at, &b.started_at) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

fn check_workloads(measurements: &[Measurement]) -> Result<()> {
    let Some(first) = measurements.iter().find(|m| m.workload.is_some()) else { return Ok(()) };
    if let Some(other) = measurements.iter().find(|m| m.workload.is_some() && m.workload != first.workload) {
        bail!(
            "different workloads: {} ran {} but {} ran {}; a history follows one study",
            first.name,
            first.workload.as_deref().unwrap_or_default(),
            other.name,
            other.workload.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

/// A measurement on one machine and one over lab hosts have no row in common: say why.
fn check_hosts(measurements: &[Measurement]) -> Result<()> {
    let on_hosts = |m: &Measurement| m.records.iter().any(|r| !r.host.is_empty());
    if let (Some(one), Some(several)) = (measurements.iter().find(|m| !on_hosts(m)), measurements.iter().find(|m| on_hosts(m))) {
        bail!(
            "{} ran on one machine but {} on several lab hosts ([[host]]): a history follows one study run alike",
            one.name,
            several.name
        );
    }
    Ok(())
}

fn names(measurements: &[Measurement]) -> String {
    measurements.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Every row of every measurement, in order of first appearance.
fn rows(measurements: &[Measurement]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for r in measurements.iter().flat_map(|m| &m.records) {
        let row = (r.host.clone(), r.variant.clone(), r.jobs_label.clone(), r.jobs);
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows
}

fn has_row(m: &Measurement, row: &Row) -> bool {
    m.records.iter().any(|r| in_row(r, row))
}

fn in_row(r: &RunRecord, row: &Row) -> bool {
    r.host == row.0 && r.variant == row.1 && r.jobs_label == row.2 && r.jobs == row.3
}

fn info(m: &Measurement) -> MeasurementInfo {
    let ok_runs = m.records.iter().filter(|r| r.is_ok()).count();
    MeasurementInfo {
        name: m.name.clone(),
        started_at: m.started_at.clone(),
        kernels: kernels(m.records.iter()),
        ok_runs,
        failed_runs: m.records.len() - ok_runs,
        noisy_runs: noisy_runs(&m.records).len(),
    }
}

fn kernels<'a>(records: impl Iterator<Item = &'a RunRecord>) -> Vec<String> {
    let mut kernels: Vec<String> = Vec::new();
    for r in records {
        if !r.kernel_release.is_empty() && !kernels.contains(&r.kernel_release) {
            kernels.push(r.kernel_release.clone());
        }
    }
    kernels
}

fn series(measurements: &[Measurement], row: &Row, metric: Metric, thresholds: &Thresholds) -> Series {
    let values: Vec<(Vec<f64>, usize, String)> = measurements
        .iter()
        .map(|m| {
            let runs: Vec<&RunRecord> = m.records.iter().filter(|r| in_row(r, row)).collect();
            let ok: Vec<f64> = runs.iter().filter(|r| r.is_ok()).filter_map(|r| metric.value(r)).collect();
            let failed = runs.iter().filter(|r| !r.is_ok()).count();
            (ok, failed, kernels(runs.into_iter()).join(", "))
        })
        .collect();
    let step = |base: &[f64], new: &[f64]| {
        compare(base, new, thresholds).map(|comparison| Step {
            verdict: metric.verdict_word(comparison.verdict).to_string(),
            sensitivity: comparison.sensitivity_phrase(thresholds),
            regression: comparison.verdict != Verdict::TooFewRuns && Some(comparison.verdict) == worse(metric),
            inconclusive: cannot_tell(metric, comparison.verdict),
            comparison,
        })
    };
    let points = values
        .iter()
        .enumerate()
        .map(|(i, (ok, failed, kernel))| Point {
            kernel: kernel.clone(),
            summary: summarize(ok),
            failed_runs: *failed,
            against_previous: (i > 0).then(|| step(&values[i - 1].0, ok)).flatten(),
            against_first: (i > 0).then(|| step(&values[0].0, ok)).flatten(),
        })
        .collect();
    Series { host: row.0.clone(), variant: row.1.clone(), jobs_label: row.2.clone(), jobs: row.3, metric, unit: metric.unit(), points }
}

/// One warning for every measurement with runs measured on a noisy host, as `bench
/// compare` flags them: their steps may be bent either way; the gate stays the numbers'.
fn noise_warning(measurements: &[Measurement]) -> Option<String> {
    let noisy: Vec<String> = measurements
        .iter()
        .filter_map(|m| {
            let noisy = noisy_runs(&m.records).len();
            let ok = m.records.iter().filter(|r| r.is_ok()).count();
            (noisy > 0).then(|| format!("{} ({noisy} of {ok})", m.name))
        })
        .collect();
    (!noisy.is_empty()).then(|| {
        format!(
            "noisy host: runs measured on a noisy host in {}; the steps that involve them may be off either way, and the gate does not count that: {NOISE_ADVICE}",
            noisy.join(", ")
        )
    })
}

/// "host a: ", or nothing on one host.
pub fn host_prefix(host: &str) -> String {
    crate::compare::matching::host_prefix(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    const BASE: [f64; 5] = [40.61, 40.32, 40.95, 40.48, 40.71];

    fn measurement(name: &str, factor: f64, kernel: &str) -> Measurement {
        let records = BASE
            .iter()
            .enumerate()
            .map(|(i, e)| RunRecord { run: i as u32 + 1, elapsed_s: e * factor, kernel_release: kernel.into(), ..test_record() })
            .collect();
        Measurement { name: name.into(), started_at: None, workload: Some("make".into()), records }
    }

    #[test]
    fn a_slower_last_step_is_named_and_judged_against_previous_and_first() {
        let ms = [measurement("1", 1.0, "6.1.26"), measurement("2", 1.002, "6.1.27"), measurement("3", 1.1, "6.1.28")];
        let history = build(&ms, &[Metric::Elapsed], &Thresholds::default()).unwrap();
        assert_eq!(history.series.len(), 1);
        let points = &history.series[0].points;
        assert!(points[0].against_previous.is_none() && points[0].against_first.is_none());
        assert_eq!(points[1].against_previous.as_ref().unwrap().verdict, "same");
        assert!(points[2].against_previous.as_ref().unwrap().regression);
        assert!(points[2].against_first.as_ref().unwrap().regression);
        assert_eq!(points[2].kernel, "6.1.28");
        assert_eq!(history.last_step_regressions.len(), 1);
        assert!(history.last_step_regressions[0].contains("elapsed: slower +9.8 %"), "{:?}", history.last_step_regressions);
    }

    #[test]
    fn a_regression_before_the_last_step_does_not_fail_the_last_one() {
        let ms = [measurement("1", 1.0, "a"), measurement("2", 1.1, "b"), measurement("3", 1.1, "c")];
        let history = build(&ms, &[Metric::Elapsed], &Thresholds::default()).unwrap();
        assert!(history.last_step_regressions.is_empty());
        assert!(history.series[0].points[2].against_first.as_ref().unwrap().regression);
    }

    #[test]
    fn unusable_input_is_refused() {
        let mut other = measurement("2", 1.0, "b");
        other.workload = Some("sleep 1".into());
        let error = build(&[measurement("1", 1.0, "a"), other], &[Metric::Elapsed], &Thresholds::default()).unwrap_err();
        assert!(error.to_string().contains("different workloads"), "{error}");
        let mut renamed = measurement("2", 1.0, "b");
        renamed.records.iter_mut().for_each(|r| r.variant = "renamed".into());
        let error = build(&[measurement("1", 1.0, "a"), renamed], &[Metric::Elapsed], &Thresholds::default()).unwrap_err();
        assert!(error.to_string().contains("no variant and jobs level"), "{error}");
        assert!(build(&[measurement("1", 1.0, "a")], &[Metric::Elapsed], &Thresholds::default()).is_err());
    }

    #[test]
    fn several_hosts_have_a_series_each_and_one_machine_against_hosts_is_refused() {
        let on = |host: &str, m: Measurement| Measurement {
            records: m.records.into_iter().map(|r| RunRecord { host: host.into(), ..r }).collect(),
            ..m
        };
        let first = |name: &str, factor: f64| {
            let (a, b) = (on("a", measurement(name, factor, "x")), on("b", measurement(name, factor * 2.0, "x")));
            Measurement { records: [a.records, b.records].concat(), ..a }
        };
        let history = build(&[first("1", 1.0), first("2", 1.1)], &[Metric::Elapsed], &Thresholds::default()).unwrap();
        let hosts: Vec<&str> = history.series.iter().map(|s| s.host.as_str()).collect();
        assert_eq!(hosts, ["a", "b"]);
        let means: Vec<f64> = history.series.iter().map(|s| s.points[0].summary.as_ref().unwrap().mean).collect();
        assert!((means[1] / means[0] - 2.0).abs() < 1e-9, "each host's own runs: {means:?}");
        assert_eq!(history.last_step_regressions.len(), 2);
        assert!(
            history.last_step_regressions[1].starts_with("host b: baseline half -j 1 elapsed: slower"),
            "{:?}",
            history.last_step_regressions
        );
        let error = build(&[measurement("1", 1.0, "x"), first("2", 1.0)], &[Metric::Elapsed], &Thresholds::default()).unwrap_err();
        assert!(error.to_string().contains("1 ran on one machine but 2 on several lab hosts"), "{error}");
    }

    #[test]
    fn noisy_runs_are_counted_per_measurement_and_warned_about_once() {
        let mut ms = [measurement("1", 1.0, "x"), measurement("2", 1.0, "x"), measurement("3", 1.0, "x")];
        for m in &mut ms[1..] {
            m.records[0].noise = "other processes used 150 % of a CPU (limit 10 %)".into();
            m.records[2].noise = "steal 5.0 % (limit 2.0 %)".into();
        }
        let history = build(&ms, &[Metric::Elapsed], &Thresholds::default()).unwrap();
        assert_eq!(history.measurements.iter().map(|m| m.noisy_runs).collect::<Vec<_>>(), [0, 2, 2]);
        let noisy: Vec<&String> = history.warnings.iter().filter(|w| w.starts_with("noisy host:")).collect();
        assert_eq!(noisy.len(), 1, "{:?}", history.warnings);
        assert!(noisy[0].contains("in 2 (2 of 5), 3 (2 of 5)") && noisy[0].ends_with(NOISE_ADVICE), "{noisy:?}");
    }

    #[test]
    fn measurements_sort_by_start_undated_last() {
        let mut ms = [measurement("b", 1.0, "x"), measurement("none", 1.0, "x"), measurement("a", 1.0, "x")];
        ms[0].started_at = Some("2026-11-08T08:00:00Z".into());
        ms[2].started_at = Some("2026-11-01T08:00:00Z".into());
        sort_by_start(&mut ms);
        let order: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(order, ["a", "b", "none"]);
    }
}
