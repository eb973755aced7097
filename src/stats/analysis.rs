//! A whole study analysed: per jobs level, variant and metric, the summary of the
//! successful runs, their outliers, and the comparison against the baseline variant.
//! Failed runs are counted, never averaged.

use super::change::{compare_summaries, Comparison, Thresholds, MIN_RUNS};
use super::metric::Metric;
use super::noise::{describe, noisy_runs, NoisyRun, NOISE_ADVICE};
use super::outliers::outliers;
use super::summary::{summarize, Summary};
use crate::model::RunRecord;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub baseline: String,
    pub thresholds: Thresholds,
    /// In the order they first appear in runs.csv, the baseline first.
    pub variants: Vec<VariantSeen>,
    pub levels: Vec<LevelAnalysis>,
    pub warnings: Vec<Warning>,
    /// The metrics some run has a value for, in [`Metric::ALL`]'s order: the core ones
    /// always, faults and monitors only when runs.csv has them.
    pub metrics: Vec<Metric>,
    /// benchstat's geomean row: per variant (but the baseline) and metric, the change over
    /// every jobs level at once, with its interval and verdict.
    pub geomean: Vec<super::geomean::GeomeanChange>,
}

/// A variant as its guest reported itself in runs.csv.
#[derive(Debug, Clone, Serialize)]
pub struct VariantSeen {
    pub name: String,
    pub cmdline: String,
    pub kernel_release: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelAnalysis {
    pub jobs_label: String,
    pub jobs: u32,
    pub variants: Vec<VariantAtLevel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantAtLevel {
    pub variant: String,
    pub ok_runs: usize,
    pub failed_runs: usize,
    /// Successful runs measured while the host was busy with other work; they stay in
    /// every statistic, flagged.
    pub noisy_runs: Vec<NoisyRun>,
    pub metrics: Vec<MetricAnalysis>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricAnalysis {
    pub metric: Metric,
    pub unit: &'static str,
    /// `None` when no run succeeded, or none of them has this metric.
    pub summary: Option<Summary>,
    /// Runs succeeded but none has this metric (monitors off, an older runs.csv).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_measured: bool,
    /// Every successful run with a value, in run order: (run number, value).
    pub runs: Vec<(u32, f64)>,
    /// Run numbers of the outliers (hyperfine's rule); they stay in every statistic.
    pub outlier_runs: Vec<u32>,
    pub slow_first_run: bool,
    /// Against the baseline at this level; `None` for the baseline itself or when either
    /// side has no successful run.
    pub comparison: Option<Comparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    Outliers { variant: String, level: String, metric: Metric, runs: Vec<u32> },
    SlowFirstRun { variant: String, level: String, metric: Metric },
    FewRuns { variant: String, level: String, ok_runs: usize },
    FailedRuns { variant: String, level: String, failed_runs: usize },
    NoisyRuns { variant: String, level: String, ok_runs: usize, runs: Vec<NoisyRun> },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Outliers { variant, level, metric, runs } => {
                let runs: Vec<String> = runs.iter().map(|r| r.to_string()).collect();
                write!(
                    f,
                    "{variant} {level}: {} outlier in run {} (modified Z-score > 10; kept in the statistics)",
                    metric.title(),
                    runs.join(", ")
                )
            }
            Warning::SlowFirstRun { variant, level, metric } => {
                write!(
                    f,
                    "{variant} {level}: the first run's {} is an outlier on the slow side; caches may not have been warm (raise `warmup`)",
                    metric.title()
                )
            }
            Warning::FewRuns { variant, level, ok_runs } => {
                write!(f, "{variant} {level}: only {ok_runs} successful run(s); below {MIN_RUNS} there is no verdict, only \"too few runs\" (raise `runs`, kernbench uses 5)")
            }
            Warning::FailedRuns { variant, level, failed_runs } => {
                write!(f, "{variant} {level}: {failed_runs} failed run(s) excluded from every statistic (see runs.csv and logs/)")
            }
            Warning::NoisyRuns { variant, level, ok_runs, runs } => {
                write!(
                    f,
                    "{variant} {level}: {} of {ok_runs} successful runs were measured on a noisy host: {}; they are kept in the statistics, which they may skew: {NOISE_ADVICE}",
                    runs.len(),
                    describe(runs)
                )
            }
        }
    }
}

/// Analyses `records` against `baseline` (or, when `None`, the first variant).
pub fn analyze(records: &[RunRecord], baseline: Option<&str>, thresholds: &Thresholds) -> Result<Analysis, String> {
    let mut variants = variants_seen(records);
    let baseline = match baseline {
        Some(name) => name.to_string(),
        None => variants.first().map(|v| v.name.clone()).ok_or("runs.csv has no runs")?,
    };
    let position = variants.iter().position(|v| v.name == baseline).ok_or_else(|| {
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        format!("no runs of the baseline {baseline:?} (variants with runs: {})", names.join(", "))
    })?;
    let base = variants.remove(position);
    variants.insert(0, base);
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    let metrics = Metric::measured(records);
    let levels: Vec<LevelAnalysis> =
        levels_seen(records).into_iter().map(|(label, jobs)| analyze_level(records, &names, (label, jobs), &metrics, thresholds)).collect();
    let warnings = levels.iter().flat_map(level_warnings).collect();
    let geomean = super::geomean::geomeans(&levels, &metrics, thresholds);
    Ok(Analysis { baseline, thresholds: *thresholds, variants, levels, warnings, metrics, geomean })
}

fn variants_seen(records: &[RunRecord]) -> Vec<VariantSeen> {
    let mut seen: Vec<VariantSeen> = Vec::new();
    for r in records {
        if !seen.iter().any(|v| v.name == r.variant) {
            seen.push(VariantSeen { name: r.variant.clone(), cmdline: r.cmdline.clone(), kernel_release: r.kernel_release.clone() });
        }
    }
    seen
}

fn levels_seen(records: &[RunRecord]) -> Vec<(String, u32)> {
    let mut seen: Vec<(String, u32)> = Vec::new();
    for r in records {
        if !seen.iter().any(|(label, jobs)| *label == r.jobs_label && *jobs == r.jobs) {
            seen.push((r.jobs_label.clone(), r.jobs));
        }
    }
    seen
}

fn analyze_level(
    records: &[RunRecord],
    variants: &[&str],
    (label, jobs): (String, u32),
    metrics: &[Metric],
    thresholds: &Thresholds,
) -> LevelAnalysis {
    let runs_of = |variant: &str| -> Vec<&RunRecord> {
        let mut runs: Vec<&RunRecord> =
            records.iter().filter(|r| r.variant == variant && r.jobs_label == label && r.jobs == jobs).collect();
        runs.sort_by_key(|r| r.run);
        runs
    };
    let base_runs = runs_of(variants[0]);
    let analysed = variants
        .iter()
        .enumerate()
        .map(|(index, variant)| {
            let runs = runs_of(variant);
            let against = (index > 0).then_some(base_runs.as_slice());
            analyze_variant(variant, &runs, against, metrics, thresholds)
        })
        .collect();
    LevelAnalysis { jobs_label: label, jobs, variants: analysed }
}

fn analyze_variant(
    variant: &str,
    runs: &[&RunRecord],
    base: Option<&[&RunRecord]>,
    metrics: &[Metric],
    thresholds: &Thresholds,
) -> VariantAtLevel {
    let ok: Vec<&RunRecord> = runs.iter().copied().filter(|r| r.is_ok()).collect();
    let base_ok: Option<Vec<&RunRecord>> = base.map(|b| b.iter().copied().filter(|r| r.is_ok()).collect());
    let metrics = metrics
        .iter()
        .map(|&metric| {
            // Runs without this column (older rows, monitors off) have no value to add.
            let measured: Vec<(&RunRecord, f64)> = ok.iter().filter_map(|r| Some((*r, metric.value(r)?))).collect();
            let values: Vec<f64> = measured.iter().map(|(_, v)| *v).collect();
            let summary = summarize(&values);
            let base_summary = base_ok.as_ref().and_then(|b| summarize(&b.iter().filter_map(|r| metric.value(r)).collect::<Vec<_>>()));
            let comparison = match (&base_summary, &summary) {
                (Some(b), Some(n)) => Some(compare_summaries(b, n, thresholds)),
                _ => None,
            };
            let found = outliers(&values);
            MetricAnalysis {
                metric,
                unit: metric.unit(),
                summary,
                not_measured: !ok.is_empty() && measured.is_empty(),
                runs: measured.iter().map(|(r, v)| (r.run, *v)).collect(),
                outlier_runs: found.indices.iter().map(|&i| measured[i].0.run).collect(),
                // A cold cache shows in time; a first run with more RSS is just an outlier.
                slow_first_run: found.slow_first && metric.is_time() && measured[0].0.run == 1,
                comparison,
            }
        })
        .collect();
    VariantAtLevel {
        variant: variant.to_string(),
        ok_runs: ok.len(),
        failed_runs: runs.len() - ok.len(),
        noisy_runs: noisy_runs(ok.iter().copied()),
        metrics,
    }
}

fn level_warnings(level: &LevelAnalysis) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for v in &level.variants {
        let (variant, level) = (v.variant.clone(), level.jobs_label.clone());
        if v.failed_runs > 0 {
            warnings.push(Warning::FailedRuns { variant: variant.clone(), level: level.clone(), failed_runs: v.failed_runs });
        }
        if v.ok_runs < MIN_RUNS {
            warnings.push(Warning::FewRuns { variant: variant.clone(), level: level.clone(), ok_runs: v.ok_runs });
        }
        if !v.noisy_runs.is_empty() {
            let runs = v.noisy_runs.clone();
            warnings.push(Warning::NoisyRuns { variant: variant.clone(), level: level.clone(), ok_runs: v.ok_runs, runs });
        }
        for m in &v.metrics {
            if m.slow_first_run {
                warnings.push(Warning::SlowFirstRun { variant: variant.clone(), level: level.clone(), metric: m.metric });
            } else if !m.outlier_runs.is_empty() {
                let runs = m.outlier_runs.clone();
                warnings.push(Warning::Outliers { variant: variant.clone(), level: level.clone(), metric: m.metric, runs });
            }
        }
    }
    warnings
}

#[cfg(test)]
impl Analysis {
    pub fn level(&self, label: &str) -> Option<&LevelAnalysis> {
        self.levels.iter().find(|l| l.jobs_label == label)
    }
}

impl LevelAnalysis {
    pub fn variant(&self, name: &str) -> Option<&VariantAtLevel> {
        self.variants.iter().find(|v| v.variant == name)
    }
}

impl VariantAtLevel {
    /// One of [`Analysis::metrics`]; the core metrics are always there.
    pub fn metric(&self, metric: Metric) -> &MetricAnalysis {
        // analyze_variant fills every metric of Analysis::metrics, which holds Metric::CORE.
        self.metrics.iter().find(|m| m.metric == metric).unwrap_or(&self.metrics[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};
    use crate::stats::Verdict;

    fn run(variant: &str, label: &str, run: u32, elapsed: f64) -> RunRecord {
        RunRecord { variant: variant.into(), jobs_label: label.into(), run, elapsed_s: elapsed, ..test_record() }
    }

    fn study() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (i, (b, p)) in [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].iter().enumerate() {
            records.push(run("off", "half", i as u32 + 1, *b));
            records.push(run("poison", "half", i as u32 + 1, *p));
        }
        records.push(RunRecord { status: RunStatus::Failed, elapsed_s: 999.0, ..run("poison", "half", 6, 0.0) });
        records
    }

    #[test]
    fn failed_runs_are_counted_not_averaged_and_the_change_is_against_the_baseline() {
        let analysis = analyze(&study(), None, &Thresholds::default()).unwrap();
        assert_eq!(analysis.baseline, "off");
        let poison = analysis.level("half").unwrap().variant("poison").unwrap();
        assert_eq!((poison.ok_runs, poison.failed_runs), (5, 1));
        let elapsed = poison.metric(Metric::Elapsed);
        assert_eq!(elapsed.summary.as_ref().unwrap().mean, 44.586);
        let comparison = elapsed.comparison.as_ref().unwrap();
        assert_eq!(comparison.verdict, Verdict::Higher);
        assert!(analysis.level("half").unwrap().variant("off").unwrap().metric(Metric::Elapsed).comparison.is_none());
        assert!(analysis.warnings.contains(&Warning::FailedRuns { variant: "poison".into(), level: "half".into(), failed_runs: 1 }));
    }

    #[test]
    fn a_named_baseline_comes_first_and_an_unknown_one_is_an_error() {
        let analysis = analyze(&study(), Some("poison"), &Thresholds::default()).unwrap();
        assert_eq!(analysis.variants[0].name, "poison");
        let off = analysis.level("half").unwrap().variant("off").unwrap();
        assert_eq!(off.metric(Metric::Elapsed).comparison.as_ref().unwrap().verdict, Verdict::Lower);
        let error = analyze(&study(), Some("nope"), &Thresholds::default()).unwrap_err();
        assert!(error.contains("\"nope\"") && error.contains("off, poison"), "{error}");
    }

    #[test]
    fn all_runs_failed_gives_no_summary_and_no_comparison() {
        let records: Vec<RunRecord> =
            study().into_iter().map(|r| if r.variant == "poison" { RunRecord { status: RunStatus::Failed, ..r } } else { r }).collect();
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let poison = analysis.level("half").unwrap().variant("poison").unwrap();
        assert_eq!((poison.ok_runs, poison.failed_runs), (0, 6));
        assert!(poison.metrics.iter().all(|m| m.summary.is_none() && m.comparison.is_none()));
        assert!(analysis.warnings.contains(&Warning::FewRuns { variant: "poison".into(), level: "half".into(), ok_runs: 0 }));
        assert!(analyze(&[], None, &Thresholds::default()).is_err());
    }

    #[test]
    fn a_slow_first_run_is_warned_about_by_run_number() {
        let mut records = study();
        records[0].elapsed_s = 80.0; // off, run 1
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let off = analysis.level("half").unwrap().variant("off").unwrap().metric(Metric::Elapsed);
        assert_eq!((off.outlier_runs.clone(), off.slow_first_run), (vec![1], true));
        assert!(analysis.warnings.iter().any(|w| matches!(w, Warning::SlowFirstRun { variant, .. } if variant == "off")));
    }

    #[test]
    fn noisy_runs_are_counted_named_and_warned_about_and_stay_in_the_statistics() {
        let mut records = study();
        let busy = "other processes used 150 % of a CPU (limit 20 %)";
        records[3].noise = busy.into(); // poison run 2
        records[10].noise = "steal 9.0 % (limit 2.0 %)".into(); // poison run 6, failed: not counted
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let poison = analysis.level("half").unwrap().variant("poison").unwrap();
        assert_eq!(poison.noisy_runs, [NoisyRun { run: 2, why: busy.into() }]);
        assert_eq!(poison.metric(Metric::Elapsed).summary.as_ref().unwrap().n, 5, "kept in the statistics");
        assert!(analysis.level("half").unwrap().variant("off").unwrap().noisy_runs.is_empty());
        let warning = analysis.warnings.iter().find(|w| matches!(w, Warning::NoisyRuns { .. })).unwrap().to_string();
        assert!(
            warning.starts_with("poison half: 1 of 5 successful runs were measured on a noisy host: run 2 (other processes used 150 %"),
            "{warning}"
        );
        assert!(warning.contains("quiet_host") && warning.contains("pin = true"), "{warning}");
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(json["levels"][0]["variants"][1]["noisy_runs"][0]["run"], 2);
        assert!(analyze(&study(), None, &Thresholds::default()).unwrap().warnings.iter().all(|w| !matches!(w, Warning::NoisyRuns { .. })));
    }
}
