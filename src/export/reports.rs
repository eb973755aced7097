//! The one entry point that turns runs into every report in the results folder; used by
//! the end of `bench run` and by `bench report`, so both write the same files.

use super::facts::{adaptive_stopping, Facts};
use super::report_json::write_report_json;
use super::summary_csv::write_summary_csv;
use super::report_html::{self, InlinePlot};
use super::{kernbench, plots, report_md};
use crate::model::{LevelStopping, Meta, RunRecord};
use crate::stats::{analyze, Analysis, Thresholds};
use anyhow::{anyhow, Context, Result};
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub thresholds: Thresholds,
    /// The variant the others are compared with; by default meta.json's baseline, else
    /// the first variant in runs.csv.
    pub baseline: Option<String>,
}

/// What was written, and what the terminal shows of it.
pub struct Written {
    /// kernbench.txt's content.
    pub kernbench: String,
    /// The statistics the reports show; `output::summary` prints the verdicts from it.
    pub analysis: Analysis,
    pub warnings: Vec<String>,
    /// With `runs = "auto"`: what stopped each variant and level's runs.
    pub stopping: Vec<LevelStopping>,
}

/// Writes kernbench.txt, summary.csv, report.json, report.md, report.html and plots/ into
/// `results`.
pub fn write_reports(results: &Path, records: &[RunRecord], meta: Option<&Meta>, options: &ReportOptions) -> Result<Written> {
    let kernbench = kernbench::kernbench_text(records);
    write_text(results, "kernbench.txt", &kernbench)?;
    let baseline = options.baseline.as_deref().or(meta.map(|m| m.baseline.as_str()));
    let analysis = analyze(records, baseline, &options.thresholds)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("cannot analyse the runs in {}", results.display()))?;
    let mut facts = Facts::gather(meta, &analysis);
    facts.stopping = adaptive_stopping(meta, records);
    let mut warnings = facts.warnings();
    warnings.extend(analysis.warnings.iter().map(|w| w.to_string()));
    write_summary_csv(&results.join("summary.csv"), &analysis)?;
    let plots = plots::write_plots(results, &analysis)?;
    write_report_json(&results.join("report.json"), &facts, &analysis, &warnings, &plots)?;
    write_text(results, "report.md", &report_md::render(&analysis, &facts, &warnings, &plots))?;
    let inline = inline_plots(results, &plots)?;
    write_text(results, "report.html", &report_html::render(&analysis, &facts, &warnings, records, &inline))?;
    Ok(Written { kernbench, analysis, warnings, stopping: facts.stopping })
}

/// The SVG plots just written, for report.html to carry inline.
fn inline_plots(results: &Path, plots: &[String]) -> Result<Vec<InlinePlot>> {
    plots
        .iter()
        .filter(|path| path.ends_with(".svg"))
        .map(|path| {
            let file = results.join(path);
            let svg = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            Ok(InlinePlot { path: path.clone(), svg })
        })
        .collect()
}

fn write_text(results: &Path, name: &str, text: &str) -> Result<()> {
    let path = results.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}
