//! `bench compare --format json|csv`: the comparison for programs. JSON is the whole
//! report; CSV is one flat row per matched row and metric.

use crate::compare::{CompareReport, Entry};
use anyhow::{Context, Result};
use serde::Serialize;

pub fn to_json(report: &CompareReport) -> Result<String> {
    Ok(serde_json::to_string_pretty(report).context("cannot encode the comparison as JSON")? + "\n")
}

/// Flat, so that spreadsheets and `csvtool` need no nesting; empty cells where a number
/// does not exist (a single run has no SD, a zero baseline no percentage).
#[derive(Serialize)]
struct CsvRow<'a> {
    metric: &'static str,
    unit: &'static str,
    base_variant: &'a str,
    new_variant: &'a str,
    jobs_label: &'a str,
    jobs: u32,
    base_n: Option<usize>,
    base_mean: Option<f64>,
    base_sd: Option<f64>,
    base_failed: usize,
    new_n: Option<usize>,
    new_mean: Option<f64>,
    new_sd: Option<f64>,
    new_failed: usize,
    change_percent: Option<f64>,
    change_ci95_low: Option<f64>,
    change_ci95_high: Option<f64>,
    p_value: Option<f64>,
    verdict: &'a str,
    significant: bool,
    regression: bool,
    mmtests_significant: Option<bool>,
}

pub fn to_csv(report: &CompareReport) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for entry in &report.entries {
        writer.serialize(row(entry)).context("cannot encode the comparison as CSV")?;
    }
    let bytes = writer.into_inner().context("cannot encode the comparison as CSV")?;
    String::from_utf8(bytes).context("the comparison CSV is not UTF-8")
}

fn row(e: &Entry) -> CsvRow<'_> {
    let c = e.comparison.as_ref();
    CsvRow {
        metric: e.metric.name(),
        unit: e.unit,
        base_variant: &e.pairing.base_variant,
        new_variant: &e.pairing.new_variant,
        jobs_label: &e.pairing.jobs_label,
        jobs: e.pairing.jobs,
        base_n: c.map(|c| c.base.n),
        base_mean: c.map(|c| c.base.mean),
        base_sd: c.and_then(|c| c.base.sd),
        base_failed: e.base_failed,
        new_n: c.map(|c| c.new.n),
        new_mean: c.map(|c| c.new.mean),
        new_sd: c.and_then(|c| c.new.sd),
        new_failed: e.new_failed,
        change_percent: c.and_then(|c| c.change_percent),
        change_ci95_low: c.and_then(|c| c.change_ci95).map(|i| i.low),
        change_ci95_high: c.and_then(|c| c.change_ci95).map(|i| i.high),
        p_value: c.and_then(|c| c.p_value),
        verdict: &e.verdict,
        significant: c.is_some_and(|c| c.verdict.is_change()),
        regression: e.regression,
        mmtests_significant: c.map(|c| c.mmtests_significant),
    }
}
