//! The comparison itself: per matched row and metric, Welch's test and criterion's
//! verdict from `stats`, and whether that verdict is a regression for the gate.

use super::facts;
use super::matching::{pair_levels, Pairing, VariantMap};
use super::side::Side;
use crate::model::RunRecord;
use crate::stats::{compare, Comparison, Metric, Thresholds, Verdict};
use anyhow::{bail, Result};
use serde::Serialize;

pub struct CompareOptions {
    pub metrics: Vec<Metric>,
    pub thresholds: Thresholds,
    pub map: VariantMap,
}

/// Everything every renderer needs; serialized as is for `--format json`.
#[derive(Debug, Serialize)]
pub struct CompareReport {
    pub base: SideInfo,
    pub new: SideInfo,
    pub thresholds: Thresholds,
    pub metrics: Vec<Metric>,
    pub entries: Vec<Entry>,
    /// Rows only one side has; they are not compared.
    pub unmatched: Vec<String>,
    /// Facts that differ between the two sides, and what could not be checked.
    pub warnings: Vec<String>,
    /// How many entries are significant regressions; the exit code is 1 when any are.
    pub regressions: usize,
}

#[derive(Debug, Serialize)]
pub struct SideInfo {
    pub path: String,
    /// Kernel releases the guests reported, usually one.
    pub kernels: Vec<String>,
    /// Distinct guest command lines, as the guests saw them.
    pub cmdlines: Vec<String>,
    pub accel: Option<String>,
    pub ok_runs: usize,
    /// Failed runs are never compared; they are only counted.
    pub failed_runs: usize,
}

/// One metric of one matched row.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub metric: Metric,
    pub unit: &'static str,
    #[serde(flatten)]
    pub pairing: Pairing,
    pub base_failed: usize,
    pub new_failed: usize,
    /// `None` when a side has no successful run of this row.
    pub comparison: Option<Comparison>,
    /// The verdict in the metric's words: "slower", "no significant change", ...
    pub verdict: String,
    /// Significantly worse beyond the noise threshold (see [`worse`]).
    pub regression: bool,
}

/// The direction in which a metric gets worse, for the gate. More time, more memory and
/// more context switches all cost; percent CPU has no better side (busier CPUs can mean
/// better parallelism or more overhead), so it is reported and never fails the gate.
pub fn worse(metric: Metric) -> Option<Verdict> {
    match metric {
        Metric::PercentCpu => None,
        Metric::Elapsed | Metric::User | Metric::Sys | Metric::CtxSwitches | Metric::Sleeps | Metric::MaxRss => {
            Some(Verdict::Higher)
        }
    }
}

pub fn build(base: &Side, new: &Side, options: &CompareOptions) -> Result<CompareReport> {
    facts::check_workload(base, new)?;
    let (pairings, unmatched) = pair_levels(base, new, &options.map)?;
    let entries: Vec<Entry> = options
        .metrics
        .iter()
        .flat_map(|&metric| pairings.iter().map(move |p| entry(base, new, p, metric, &options.thresholds)))
        .collect();
    if entries.iter().all(|e| e.comparison.is_none()) {
        bail!(
            "no row has successful runs on both sides: every run of the matched rows failed in {} or {}",
            base.path.display(),
            new.path.display()
        );
    }
    let mut warnings = facts::differences(base, new);
    warnings.extend(facts::unknown_facts(base, new));
    warnings.extend(entries.iter().filter_map(incomparable));
    Ok(CompareReport {
        base: side_info(base),
        new: side_info(new),
        thresholds: options.thresholds,
        metrics: options.metrics.clone(),
        regressions: entries.iter().filter(|e| e.regression).count(),
        entries,
        unmatched,
        warnings,
    })
}

fn entry(base: &Side, new: &Side, pairing: &Pairing, metric: Metric, thresholds: &Thresholds) -> Entry {
    let (base_ok, base_failed) = runs(&base.records, &pairing.base_variant, &pairing.jobs_label, metric);
    let (new_ok, new_failed) = runs(&new.records, &pairing.new_variant, &pairing.jobs_label, metric);
    let comparison = compare(&base_ok, &new_ok, thresholds);
    let verdict = comparison.as_ref().map(|c| c.verdict);
    Entry {
        metric,
        unit: metric.unit(),
        pairing: pairing.clone(),
        base_failed,
        new_failed,
        verdict: verdict.map_or("not compared", |v| metric.verdict_word(v)).to_string(),
        regression: verdict.is_some() && verdict == worse(metric),
        comparison,
    }
}

/// The metric's values of the successful runs of a row, and the number of failed runs.
fn runs(records: &[RunRecord], variant: &str, label: &str, metric: Metric) -> (Vec<f64>, usize) {
    let row: Vec<&RunRecord> = records.iter().filter(|r| r.variant == variant && r.jobs_label == label).collect();
    let ok: Vec<f64> = row.iter().filter(|r| r.is_ok()).map(|r| metric.value(r)).collect();
    let failed = row.len() - ok.len();
    (ok, failed)
}

/// Rows the gate cannot judge deserve a word: with too few runs it can never fail.
fn incomparable(entry: &Entry) -> Option<String> {
    let p = &entry.pairing;
    let what = format!("{} {} {}", entry.metric.name(), p.base_variant, p.jobs_label);
    match &entry.comparison {
        None => Some(format!("{what}: a side has no successful run; not compared")),
        Some(c) if c.verdict == Verdict::TooFewRuns => {
            Some(format!("{what}: {} vs {} successful runs; at least 2 per side are needed to test", c.base.n, c.new.n))
        }
        Some(_) => None,
    }
}

fn side_info(side: &Side) -> SideInfo {
    let mut cmdlines: Vec<String> = Vec::new();
    for record in &side.records {
        if !cmdlines.contains(&record.cmdline) {
            cmdlines.push(record.cmdline.clone());
        }
    }
    let ok_runs = side.records.iter().filter(|r| r.is_ok()).count();
    SideInfo {
        path: side.path.display().to_string(),
        kernels: side.kernels().into_iter().map(String::from).collect(),
        cmdlines,
        accel: side.meta.as_ref().map(|m| m.hypervisor.accel.clone()),
        ok_runs,
        failed_runs: side.records.len() - ok_runs,
    }
}

impl CompareReport {
    pub fn entries_of(&self, metric: Metric) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.metric == metric)
    }

    /// "REGRESSION: …" or "no significant regression: …", one line for logs and summaries.
    pub fn outcome_line(&self) -> String {
        let t = &self.thresholds;
        let rule = format!("p < {} and the 95 % interval beyond ±{} %", t.alpha, t.noise_percent);
        let n = self.entries.len();
        let comparisons = if n == 1 { "comparison" } else { "comparisons" };
        if self.regressions > 0 {
            format!("REGRESSION: {} of {n} {comparisons} significantly worse ({rule})", self.regressions)
        } else {
            format!("no significant regression in {n} {comparisons} ({rule})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    fn side(elapsed: &[f64], failed: usize) -> Side {
        let mut records: Vec<RunRecord> = elapsed.iter().map(|&e| RunRecord { elapsed_s: e, ..test_record() }).collect();
        records.extend((0..failed).map(|_| RunRecord { elapsed_s: 999.0, status: RunStatus::Failed, ..test_record() }));
        Side { path: "x".into(), records, meta: None, meta_missing: Some("absent".into()) }
    }

    fn options(metrics: Vec<Metric>) -> CompareOptions {
        CompareOptions { metrics, thresholds: Thresholds::default(), map: VariantMap::default() }
    }

    #[test]
    fn slower_elapsed_is_a_regression_and_failed_runs_are_only_counted() {
        let base = side(&[40.61, 40.32, 40.95, 40.48, 40.71], 0);
        let new = side(&[44.20, 43.10, 46.90, 44.50, 44.23], 1);
        let report = build(&base, &new, &options(vec![Metric::Elapsed])).unwrap();
        let e = &report.entries[0];
        assert_eq!((e.verdict.as_str(), e.regression, e.new_failed), ("slower", true, 1));
        assert_eq!(e.comparison.as_ref().unwrap().new.n, 5, "the failed run is not averaged");
        assert_eq!((report.regressions, report.new.failed_runs), (1, 1));
        assert!(report.outcome_line().starts_with("REGRESSION: 1 of 1 comparison significantly"));
        let reverse = build(&new, &base, &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((reverse.entries[0].verdict.as_str(), reverse.regressions), ("faster", 0));
    }

    #[test]
    fn percent_cpu_never_gates_and_too_few_runs_are_warned_about() {
        assert_eq!(worse(Metric::PercentCpu), None);
        assert_eq!(worse(Metric::MaxRss), Some(Verdict::Higher));
        let report = build(&side(&[1.0], 0), &side(&[2.0, 2.1], 0), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!(report.entries[0].verdict, "too few runs");
        assert!(report.warnings.iter().any(|w| w.contains("at least 2 per side")), "{:?}", report.warnings);
        assert!(report.warnings.iter().any(|w| w.contains("no meta.json facts")));
    }

    #[test]
    fn nothing_successful_on_one_side_is_unusable() {
        let error = build(&side(&[1.0, 1.1], 0), &side(&[], 2), &options(vec![Metric::Elapsed])).unwrap_err();
        assert!(error.to_string().contains("no row has successful runs on both sides"), "{error}");
    }
}
