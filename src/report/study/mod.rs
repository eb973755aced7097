//! The one entry point that turns runs into every report in the results folder; used by
//! the end of `bench run` and by `bench report`, so both write the same files.

pub mod document;
pub mod facts;
pub mod hosts;
pub mod json;
pub mod kernbench;
pub mod summary_csv;
pub mod time_budget;

use super::markup::{to_html, to_markdown};
use super::plots;
use crate::model::{LevelStopping, Meta, RunRecord};
use crate::results::folder::write_atomically;
use crate::stats::{analyze, analyze_hosts, hosts_seen, runs_of_host, Analysis, HostsAnalysis, Thresholds};
use anyhow::{anyhow, Context, Result};
use document::Plot;
use facts::{adaptive_stopping, Facts};
use hosts::{self as hosts_report, host_folder, HostPlots};
use json::write_report_json;
use std::path::Path;
use summary_csv::write_summary_csv;

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
    /// `None` on several hosts, where `hosts` has them.
    pub analysis: Option<Analysis>,
    /// A study over several lab hosts: each host's analysis and the pooled changes.
    pub hosts: Option<HostsAnalysis>,
    pub warnings: Vec<String>,
    /// With `runs = "auto"`: what stopped each variant and level's runs.
    pub stopping: Vec<LevelStopping>,
    /// The plots written, relative to the folder.
    pub plots: Vec<String>,
    /// The answer, as report.md opens with it; the terminal ends with it.
    pub headline: super::model::Headline,
}

/// Writes kernbench.txt, summary.csv, report.json, report.md, report.html and plots/ into
/// `results`. On several lab hosts (runs.csv's `host` column, or meta.json's `hosts`), each
/// host's set goes into `hosts/<host>/` and the top-level files put the hosts side by side
/// ([`hosts_report`]).
pub fn write_reports(results: &Path, records: &[RunRecord], meta: Option<&Meta>, options: &ReportOptions) -> Result<Written> {
    let lab_hosts = meta.map_or(&[][..], |m| m.hosts.as_slice());
    if hosts_seen(records).is_empty() && lab_hosts.is_empty() {
        return write_one_host(results, records, meta, options);
    }
    write_several_hosts(results, records, meta, options)
}

fn write_several_hosts(results: &Path, records: &[RunRecord], meta: Option<&Meta>, options: &ReportOptions) -> Result<Written> {
    let lab = meta.map_or(&[][..], |m| m.hosts.as_slice());
    let expected: Vec<String> = lab.iter().map(|h| h.name.clone()).collect();
    let baseline = options.baseline.as_deref().or(meta.map(|m| m.baseline.as_str()));
    let hosts = analyze_hosts(records, &expected, baseline, &options.thresholds)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("cannot analyse the runs in {}", results.display()))?;
    let mut warnings = Vec::new();
    let mut plots = Vec::new();
    // Each host's reports from its runs alone, against the study's baseline.
    let per_host = ReportOptions { baseline: Some(hosts.baseline.clone()), ..options.clone() };
    for h in hosts.hosts.iter().filter(|h| h.analysis.is_some()) {
        let dir = results.join(host_folder(&h.host));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let own_meta = meta.map(|m| hosts_report::meta_for_host(m, &h.host));
        let written = write_one_host(&dir, &runs_of_host(records, &h.host), own_meta.as_ref(), &per_host)?;
        warnings.extend(written.warnings.iter().map(|w| format!("host {}: {w}", h.host)));
        plots.push((h.host.clone(), written.plots));
    }
    for h in hosts.hosts.iter().filter(|h| h.analysis.is_none()) {
        let why =
            lab.iter().find(|l| l.name == h.host && !l.error.is_empty()).map_or(h.problem.clone().unwrap_or_default(), |l| l.error.clone());
        warnings.push(format!("host {}: no runs to report: {why}", h.host));
    }
    for l in lab.iter().filter(|l| !l.error.is_empty() && hosts.host(&l.name).is_some_and(|h| h.analysis.is_some())) {
        warnings.push(format!("host {}: {:?}: {}", l.name, l.status, l.error));
    }
    let first = hosts.hosts.iter().find_map(|h| h.analysis.as_ref());
    let facts = first.map(|a| Facts::gather(meta, a)).unwrap_or_default();
    let kernbench = hosts_report::kernbench_hosts(records, &hosts, lab);
    write_text(results, "kernbench.txt", &kernbench)?;
    hosts_report::write_summary_csv_hosts(&results.join("summary.csv"), &hosts)?;
    let host_plots: Vec<HostPlots> = plots.iter().map(|(host, plots)| HostPlots { host, plots }).collect();
    let document = hosts_report::document(&hosts, &facts, lab, &warnings, &host_plots);
    hosts_report::write_report_json_hosts(&results.join("report.json"), &facts, &document.headline, lab, &hosts, &warnings)?;
    write_text(results, "report.md", &to_markdown(&document))?;
    write_text(results, "report.html", &to_html(&document))?;
    // What stopped each host's adaptive runs is in its own reports.
    let headline = document.headline;
    Ok(Written { kernbench, analysis: None, hosts: Some(hosts), warnings, stopping: Vec::new(), plots: Vec::new(), headline })
}

fn write_one_host(results: &Path, records: &[RunRecord], meta: Option<&Meta>, options: &ReportOptions) -> Result<Written> {
    let baseline = options.baseline.as_deref().or(meta.map(|m| m.baseline.as_str()));
    let analysis = analyze(records, baseline, &options.thresholds)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("cannot analyse the runs in {}", results.display()))?;
    let mut facts = Facts::gather(meta, &analysis);
    facts.stopping = adaptive_stopping(meta, records);
    let kernbench = kernbench::kernbench_baseline_first(records, Some(&analysis.baseline));
    write_text(results, "kernbench.txt", &kernbench)?;
    let mut warnings = facts.warnings();
    warnings.extend(super::headline::warnings(&analysis));
    write_summary_csv(&results.join("summary.csv"), &analysis)?;
    let plots = plots::write_plots(results, &analysis)?;
    let document = document::study(&analysis, &facts, &warnings, records, &read_plots(results, &plots)?);
    write_report_json(&results.join("report.json"), &facts, &document.headline, &analysis, &warnings, &plots)?;
    write_text(results, "report.md", &to_markdown(&document))?;
    write_text(results, "report.html", &to_html(&document))?;
    let headline = document.headline;
    Ok(Written { kernbench, analysis: Some(analysis), hosts: None, warnings, stopping: facts.stopping, plots, headline })
}

/// The plots just written, each SVG with its text for report.html to carry inline.
fn read_plots(results: &Path, plots: &[String]) -> Result<Vec<Plot>> {
    plots
        .iter()
        .map(|path| {
            if !path.ends_with(".svg") {
                return Ok(Plot { path: path.clone(), svg: None });
            }
            let file = results.join(path);
            let svg = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            Ok(Plot { path: path.clone(), svg: Some(svg) })
        })
        .collect()
}

fn write_text(results: &Path, name: &str, text: &str) -> Result<()> {
    write_atomically(&results.join(name), text.as_bytes())
}
