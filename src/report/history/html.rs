//! `bench history --html FILE`: the history as one self-contained page, in the same style
//! as report.html: the measurements, the trend plot inline, and per variant, level and
//! metric the table of means with each step's verdicts, regressions marked.

use crate::report::format::{number, percent};
use super::{outcome_line, series_title};
use crate::report::study::html::{escape, svg_element, HEAD, SCRIPT, STYLE};
use crate::history::{History, Point, Step};
use std::fmt::Write;

pub fn render(history: &History, trend_svg: &str) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n{HEAD}<title>kbench history</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>kbench history</h1>\n"
    );
    let class = if history.last_step_regressions.is_empty() { "" } else { " class=\"warnings\"" };
    let _ = writeln!(out, "<p{class}><strong>{}</strong></p>", escape(&outcome_line(history)));
    if !history.warnings.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<ul class=\"warnings\">\n");
        for warning in &history.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(warning));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Measurements, oldest first</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th class=\"num\">#</th><th>guest kernel</th><th>measured</th><th class=\"num\">runs ok</th><th class=\"num\">failed</th><th>results</th></tr></thead>\n<tbody>\n");
    for (i, m) in history.measurements.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            i + 1,
            escape(&m.kernels.join(", ")),
            escape(m.started_at.as_deref().unwrap_or("unknown")),
            m.ok_runs,
            m.failed_runs,
            escape(&m.name)
        );
    }
    out.push_str("</tbody></table></div>\n");
    let _ = writeln!(
        out,
        "<figure>\n{}\n<figcaption>mean with 95 % interval per measurement</figcaption>\n</figure>",
        svg_element(trend_svg, "the trend of the means")
    );
    for series in &history.series {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&series_title(series)));
        out.push_str("<div class=\"scroll\"><table class=\"series\">\n<thead><tr><th class=\"num\">#</th><th>guest kernel</th><th class=\"num\">mean ± SD (n)</th><th class=\"num\">95 % CI</th><th>against the previous</th><th>against the first</th></tr></thead>\n<tbody>\n");
        for (i, point) in series.points.iter().enumerate() {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td class=\"kernel\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}{}</tr>",
                i + 1,
                escape(&point.kernel),
                mean_sd(point),
                ci(point),
                step_cell(point.against_previous.as_ref()),
                step_cell(point.against_first.as_ref())
            );
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</main>\n");
    out.push_str(SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

fn mean_sd(p: &Point) -> String {
    match &p.summary {
        None => "no successful run".into(),
        Some(s) => match s.sd {
            Some(sd) => format!("{}\u{a0}±\u{a0}{} (n\u{a0}=\u{a0}{})", number(s.mean), number(sd), s.n),
            None => format!("{} (n\u{a0}=\u{a0}{})", number(s.mean), s.n),
        },
    }
}

fn ci(p: &Point) -> String {
    match p.summary.as_ref().and_then(|s| s.ci95) {
        Some(i) => format!("[{}, {}]", number(i.low), number(i.high)),
        None => "n/a".into(),
    }
}

fn step_cell(step: Option<&Step>) -> String {
    let Some(step) = step else { return "<td class=\"verdict\"></td>".into() };
    let change = step.comparison.change_percent.map(percent).unwrap_or_else(|| "n/a".into()).replace(" %", "\u{a0}%");
    if step.regression {
        format!("<td class=\"verdict verdict-change\">{change} {} (regression)</td>", escape(&step.verdict))
    } else {
        format!("<td class=\"verdict\">{change} {}</td>", escape(&step.verdict))
    }
}
