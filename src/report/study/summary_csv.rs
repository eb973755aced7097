//! summary.csv: one row per jobs level × variant × metric with every statistic, for
//! spreadsheets and scripts. Empty cells are undefined values (one run: no SD).

use crate::report::model::verdict_words;
use crate::stats::{Analysis, Interval, MetricAnalysis, VariantAtLevel};
use anyhow::{Context, Result};
use std::path::Path;

pub const HEADER: [&str; 28] = [
    "jobs_label",
    "jobs",
    "variant",
    "metric",
    "unit",
    "n",
    "failed",
    "mean",
    "sd",
    "median",
    "min",
    "max",
    "cov_percent",
    "ci95_low",
    "ci95_high",
    "outlier_runs",
    "slow_first_run",
    "baseline",
    "change_percent",
    "change_ci95_low",
    "change_ci95_high",
    "p_value",
    "verdict",
    "mmtests_significant",
    "alpha",
    "noise_percent",
    // What the comparison could see: the change it would call changed 4 times in 5, and
    // about how many runs a side would decide it at the threshold.
    "min_detectable_change_percent",
    "runs_needed",
];

pub fn write_summary_csv(path: &Path, analysis: &Analysis) -> Result<()> {
    let context = || format!("cannot write {}", path.display());
    let mut writer = csv::Writer::from_path(path).with_context(context)?;
    writer.write_record(HEADER).with_context(context)?;
    for level in &analysis.levels {
        for variant in &level.variants {
            for metric in &variant.metrics {
                let mut row = vec![level.jobs_label.clone(), level.jobs.to_string()];
                row.extend(metric_cells(analysis, variant, metric));
                writer.write_record(&row).with_context(context)?;
            }
        }
    }
    writer.flush().with_context(context)
}

pub(super) fn metric_cells(analysis: &Analysis, variant: &VariantAtLevel, m: &MetricAnalysis) -> Vec<String> {
    let s = m.summary.as_ref();
    let c = m.comparison.as_ref();
    let runs: Vec<String> = m.outlier_runs.iter().map(|r| r.to_string()).collect();
    let mut row = vec![
        variant.variant.clone(),
        m.metric.name().to_string(),
        m.unit.to_string(),
        // The runs with a value: a column the runs lack (monitors off) has none.
        m.runs.len().to_string(),
        variant.failed_runs.to_string(),
    ];
    row.extend([s.map(|s| s.mean), s.and_then(|s| s.sd), s.map(|s| s.median), s.map(|s| s.min), s.map(|s| s.max)].map(cell));
    row.extend([s.and_then(|s| s.cov_percent)].map(cell));
    row.extend(interval_cells(s.and_then(|s| s.ci95)));
    row.extend([runs.join(" "), m.slow_first_run.to_string(), analysis.baseline.clone()]);
    row.push(cell(c.and_then(|c| c.change_percent)));
    row.extend(interval_cells(c.and_then(|c| c.change_ci95)));
    row.push(cell(c.and_then(|c| c.p_value)));
    row.push(c.map(|c| verdict_words(m.metric, c.verdict).to_string()).unwrap_or_default());
    row.push(c.map(|c| c.mmtests_significant.to_string()).unwrap_or_default());
    row.extend([analysis.thresholds.alpha, analysis.thresholds.noise_percent].map(|v| v.to_string()));
    row.push(cell(c.and_then(|c| c.min_detectable_change_percent)));
    row.push(c.and_then(|c| c.runs_needed).map(|n| n.to_string()).unwrap_or_default());
    row
}

fn cell(value: Option<f64>) -> String {
    value.filter(|v| v.is_finite()).map(|v| v.to_string()).unwrap_or_default()
}

fn interval_cells(interval: Option<Interval>) -> [String; 2] {
    [cell(interval.map(|i| i.low)), cell(interval.map(|i| i.high))]
}
