//! report.json: everything report.md says, machine-readable. Readers check
//! `schema_version`; it is bumped whenever a field changes meaning or goes away.

use super::facts::Facts;
use crate::report::model::Headline;
use crate::results::folder::write_json;
use crate::stats::Analysis;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;

/// 2: verdicts are higher/lower/same/inconclusive (no `no_significant_change`), and each
/// comparison has `equivalence_ci`, `change_ci95_clipped`, `min_detectable_change_percent`,
/// `runs_needed`.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct ReportJson<'a> {
    schema_version: u32,
    kbench_version: &'static str,
    generated_at: String,
    facts: &'a Facts,
    /// The answer, as report.md opens with it: `subject`, `text` and `tone` (plain, worse,
    /// better) per line.
    headline: &'a Headline,
    /// Every warning as report.md prints it; `analysis.warnings` has them structured.
    warnings: &'a [String],
    /// Relative to the results folder.
    plots: &'a [String],
    analysis: &'a Analysis,
}

pub fn write_report_json(
    path: &Path,
    facts: &Facts,
    headline: &Headline,
    analysis: &Analysis,
    warnings: &[String],
    plots: &[String],
) -> Result<()> {
    let report = ReportJson {
        schema_version: REPORT_SCHEMA_VERSION,
        kbench_version: env!("CARGO_PKG_VERSION"),
        generated_at: crate::model::now(),
        facts,
        headline,
        warnings,
        plots,
        analysis,
    };
    write_json(path, &report)
}
