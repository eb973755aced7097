//! `bench history`'s renderings: text for a terminal or CI log, Markdown for a CI summary,
//! CSV (one row per series and measurement) and JSON (the whole history).

pub mod html;

use crate::report::compare::cells::align;
use crate::report::format::{number, percent};
use crate::history::{History, Point, Series, Step};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write;

pub fn to_text(history: &History) -> String {
    let mut out = String::from("measurements, oldest first:\n");
    let rows: Vec<Vec<String>> = history
        .measurements
        .iter()
        .enumerate()
        .map(|(i, m)| {
            vec![
                format!("  {}", i + 1),
                m.kernels.join(", "),
                m.started_at.clone().unwrap_or_else(|| "(no meta.json)".into()),
                m.name.clone(),
            ]
        })
        .collect();
    for row in align(&rows, &[1, 2, 3]) {
        let _ = writeln!(out, "{}", row.join("  ").trim_end());
    }
    for series in &history.series {
        let _ = writeln!(out, "\n{}", series_title(series));
        let mut rows = vec![["#", "kernel", "mean ± SD (n)", "95 % CI", "against the previous", "against the first"].map(String::from).to_vec()];
        rows.extend(series.points.iter().enumerate().map(|(i, p)| {
            vec![(i + 1).to_string(), p.kernel.clone(), mean_sd(p), ci(p), step(p.against_previous.as_ref()), step(p.against_first.as_ref())]
        }));
        for row in align(&rows, &[1, 4, 5]) {
            let _ = writeln!(out, "  {}", row.join("  ").trim_end());
        }
    }
    // The warnings go to standard error, as `bench compare` prints them.
    let _ = writeln!(out, "\n{}", outcome_line(history));
    out
}

pub fn to_markdown(history: &History) -> String {
    let mut out = String::from("# kbench history\n\n| # | kernel | measured | results |\n|---|---|---|---|\n");
    for (i, m) in history.measurements.iter().enumerate() {
        let measured = m.started_at.clone().unwrap_or_else(|| "unknown".into());
        let _ = writeln!(out, "| {} | {} | {} | `{}` |", i + 1, cell(&m.kernels.join(", ")), cell(&measured), cell(&m.name));
    }
    for series in &history.series {
        let _ = writeln!(out, "\n## {}\n", cell(&series_title(series)));
        out.push_str("| # | kernel | mean ± SD (n) | 95 % CI | against the previous | against the first |\n|---|---|---|---|---|---|\n");
        for (i, p) in series.points.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                i + 1,
                cell(&p.kernel),
                mean_sd(p),
                ci(p),
                bold_regression(p.against_previous.as_ref()),
                bold_regression(p.against_first.as_ref())
            );
        }
    }
    out.push('\n');
    out.push_str(&notes(history));
    out
}

pub fn to_json(history: &History) -> Result<String> {
    Ok(serde_json::to_string_pretty(history).context("cannot encode the history as JSON")? + "\n")
}

#[derive(Serialize)]
struct CsvRow<'a> {
    /// Only in the history of a study over several hosts (then in every row).
    #[serde(skip_serializing_if = "str::is_empty")]
    host: &'a str,
    variant: &'a str,
    jobs_label: &'a str,
    jobs: u32,
    metric: &'static str,
    unit: &'static str,
    measurement: usize,
    results: &'a str,
    started_at: Option<&'a str>,
    kernel: &'a str,
    n: Option<usize>,
    mean: Option<f64>,
    sd: Option<f64>,
    ci95_low: Option<f64>,
    ci95_high: Option<f64>,
    failed_runs: usize,
    previous_change_percent: Option<f64>,
    previous_p_value: Option<f64>,
    previous_verdict: Option<&'a str>,
    previous_regression: Option<bool>,
    first_change_percent: Option<f64>,
    first_p_value: Option<f64>,
    first_verdict: Option<&'a str>,
    first_regression: Option<bool>,
}

pub fn to_csv(history: &History) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for series in &history.series {
        for (i, point) in series.points.iter().enumerate() {
            let measurement = &history.measurements[i];
            let s = point.summary.as_ref();
            let (prev, first) = (point.against_previous.as_ref(), point.against_first.as_ref());
            let row = CsvRow {
                host: &series.host,
                variant: &series.variant,
                jobs_label: &series.jobs_label,
                jobs: series.jobs,
                metric: series.metric.name(),
                unit: series.unit,
                measurement: i + 1,
                results: &measurement.name,
                started_at: measurement.started_at.as_deref(),
                kernel: &point.kernel,
                n: s.map(|s| s.n),
                mean: s.map(|s| s.mean),
                sd: s.and_then(|s| s.sd),
                ci95_low: s.and_then(|s| s.ci95).map(|i| i.low),
                ci95_high: s.and_then(|s| s.ci95).map(|i| i.high),
                failed_runs: point.failed_runs,
                previous_change_percent: prev.and_then(|p| p.comparison.change_percent),
                previous_p_value: prev.and_then(|p| p.comparison.p_value),
                previous_verdict: prev.map(|p| p.verdict.as_str()),
                previous_regression: prev.map(|p| p.regression),
                first_change_percent: first.and_then(|p| p.comparison.change_percent),
                first_p_value: first.and_then(|p| p.comparison.p_value),
                first_verdict: first.map(|p| p.verdict.as_str()),
                first_regression: first.map(|p| p.regression),
            };
            writer.serialize(row).context("cannot encode the history as CSV")?;
        }
    }
    let bytes = writer.into_inner().context("cannot encode the history as CSV")?;
    String::from_utf8(bytes).context("the history CSV is not UTF-8")
}

/// "REGRESSION in the last step: …" or "no significant regression in the last step: …".
pub fn outcome_line(history: &History) -> String {
    history.outcome_line()
}

fn notes(history: &History) -> String {
    let mut out = String::new();
    for warning in &history.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(out, "{}", outcome_line(history));
    out
}

pub fn series_title(series: &Series) -> String {
    let host = crate::history::host_prefix(&series.host);
    format!("{host}{} {} -j {}: {} ({})", series.variant, series.jobs_label, series.jobs, series.metric.title(), series.unit)
}

fn mean_sd(p: &Point) -> String {
    match &p.summary {
        None if p.failed_runs > 0 => format!("no successful run ({} failed)", p.failed_runs),
        None => "not measured".into(),
        Some(s) => match s.sd {
            Some(sd) => format!("{} ± {} ({})", number(s.mean), number(sd), s.n),
            None => format!("{} ({})", number(s.mean), s.n),
        },
    }
}

fn ci(p: &Point) -> String {
    match p.summary.as_ref().and_then(|s| s.ci95) {
        Some(i) => format!("[{}, {}]", number(i.low), number(i.high)),
        None => "n/a".into(),
    }
}

/// "+9.8 % slower (REGRESSION)", "+0.20 % same", "+3.1 % inconclusive (sees ±12 %; …)".
fn step(step: Option<&Step>) -> String {
    let Some(step) = step else { return String::new() };
    let change = step.comparison.change_percent.map(percent).unwrap_or_else(|| "n/a".into());
    let regression = if step.regression { " (REGRESSION)" } else { "" };
    let sensitivity = step.sensitivity.as_ref().filter(|_| step.inconclusive).map(|s| format!(" ({s})")).unwrap_or_default();
    format!("{change} {}{regression}{sensitivity}", step.verdict)
}

fn bold_regression(s: Option<&Step>) -> String {
    let text = step(s);
    if s.is_some_and(|s| s.regression) {
        format!("**{text}**")
    } else {
        text
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
