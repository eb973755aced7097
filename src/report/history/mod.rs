//! `bench history`'s renderings: text for a terminal or CI log, Markdown for a CI summary,
//! CSV (one row per series and measurement) and JSON (the whole history).

pub mod html;

use crate::history::{History, Point, Series, Step};
use crate::report::format::{number, percent};
use crate::report::markup;
use crate::report::model::{Block, Cell, Document, Figure, Headline, Section, Table, Tone};
use crate::stats::Metric;
use anyhow::{Context, Result};
use serde::Serialize;

/// The history for a terminal or a CI log; its last line is the outcome the exit code
/// follows. The warnings go to standard error, as `bench compare` prints them.
pub fn to_text(history: &History) -> String {
    markup::to_text(&document(history, None, false))
}

pub fn to_markdown(history: &History) -> String {
    markup::to_markdown(&document(history, None, true))
}

/// The history built once for every format: the headline (each series of elapsed times:
/// its last step and its change since the first; the outcome), the measurements, the trend
/// plot (a page only), the warnings, a table per variant, level and metric.
pub fn document(history: &History, trend_svg: Option<&str>, with_warnings: bool) -> Document {
    let mut measurements = Section::new("measurements", "Measurements, oldest first");
    let mut table = Table::new("", &["##", "guest kernel", "measured", "#runs ok", "#failed", "#noisy host", "results"]);
    for (i, m) in history.measurements.iter().enumerate() {
        table.push(vec![
            Cell::num((i + 1).to_string()),
            Cell::text(m.kernels.join(", ")),
            Cell::text(m.started_at.as_deref().unwrap_or("unknown (no meta.json)")),
            Cell::num(m.ok_runs.to_string()),
            Cell::num(m.failed_runs.to_string()),
            Cell::num(m.noisy_runs.to_string()),
            Cell::Code(m.name.clone()),
        ]);
    }
    measurements.push(Block::Table(table));
    if let Some(svg) = trend_svg {
        measurements.push(Block::Figure(Figure {
            caption: "the trend of the means, with 95 % intervals, per measurement".into(),
            png: String::new(),
            svg_path: String::new(),
            svg: Some(svg.to_string()),
        }));
    }
    let mut sections = vec![measurements];
    if with_warnings && !history.warnings.is_empty() {
        sections.push(Section { id: "warnings".into(), title: "Warnings".into(), blocks: vec![Block::Warnings(history.warnings.clone())] });
    }
    for series in &history.series {
        let mut section = Section::new("", series_title(series));
        let mut table =
            Table::new("series", &["##", "guest kernel", "#mean ± SD (n)", "#95 % CI", "against the previous", "against the first"]);
        for (i, p) in series.points.iter().enumerate() {
            table.push(vec![
                Cell::num((i + 1).to_string()),
                Cell::text(&p.kernel),
                Cell::num(mean_sd(p)),
                Cell::num(ci(p)),
                step_cell(p.against_previous.as_ref()),
                step_cell(p.against_first.as_ref()),
            ]);
        }
        section.push(Block::Table(table));
        sections.push(section);
    }
    Document { title: "kbench history".into(), headline: headline(history), contents: false, sections }
}

/// Per series of elapsed times, the last step and the change since the first; then the
/// outcome the exit code follows, last.
fn headline(history: &History) -> Headline {
    let mut headline = Headline::default();
    for series in history.series.iter().filter(|s| s.metric == Metric::Elapsed) {
        let Some(last) = series.points.last() else { continue };
        let subject = format!("{}{} {} -j {}", crate::history::host_prefix(&series.host), series.variant, series.jobs_label, series.jobs);
        let tone = if last.against_previous.as_ref().is_some_and(|s| s.regression) { Tone::Worse } else { Tone::Plain };
        headline.push(
            subject,
            format!(
                "elapsed {} in the last step, {} since the first",
                step_interval(last.against_previous.as_ref()),
                step_interval(last.against_first.as_ref())
            ),
            tone,
        );
    }
    let tone = if history.last_step_regressions.is_empty() { Tone::Plain } else { Tone::Worse };
    headline.push("", outcome_line(history), tone);
    headline
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
    let Some(step) = step else { return "n/a".into() };
    let change = step.comparison.change_percent.map(percent).unwrap_or_else(|| "n/a".into());
    let regression = if step.regression { " (REGRESSION)" } else { "" };
    let sensitivity = step.sensitivity.as_ref().filter(|_| step.inconclusive).map(|s| format!(" ({s})")).unwrap_or_default();
    format!("{change} {}{regression}{sensitivity}", step.verdict)
}

/// "+9.8 % [+5.5, +14.0] slower (REGRESSION)": [`step`] with the interval, for the headline.
fn step_interval(s: Option<&Step>) -> String {
    let bounds = s.and_then(|s| s.comparison.change_ci95).map(crate::report::format::percent_bounds);
    match bounds {
        Some(bounds) => step(s).replacen(" ", &format!(" {bounds} "), 1),
        None => step(s),
    }
}

fn step_cell(s: Option<&Step>) -> Cell {
    let tone = if s.is_some_and(|s| s.regression) { Tone::Worse } else { Tone::Plain };
    Cell::Verdict { words: step(s), tone, star: false }
}
