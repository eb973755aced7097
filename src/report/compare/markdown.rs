//! `bench compare --format markdown`: a table to paste into a CI job summary or a
//! mailing-list reply, laid out as mmtests does (the baseline column, then the new one
//! with its change, ★ where mmtests would star it) and aligned so it reads as plain text.

use super::cells::{self as cell, POOLED_MEANS};
use super::text::direction;
use crate::compare::comparison::SideInfo;
use crate::compare::CompareReport;
use crate::stats::{Metric, STAR_MEANS};
use std::fmt::Write;

pub fn render(report: &CompareReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "**bench compare**: {}\n", report.outcome_line());
    out.push_str(&crate::report::markup::headline_markdown(&crate::report::headline::compare(report)));
    let (base, new) = (column_title(&report.base, "base"), column_title(&report.new, "new"));
    let (shown, constant) = cell::metrics_to_show(report);
    for metric in shown {
        metric_table(&mut out, report, metric, &base, &new);
        out.push('\n');
    }
    if let Some(note) = cell::constant_note(&constant) {
        let _ = writeln!(out, "{note}\n");
    }
    let t = &report.thresholds;
    let _ = writeln!(
        out,
        "Mean ± sample SD (successful runs). ★ (in these tables only): {STAR_MEANS}. Verdict: {} (intervals: Fieller's, for the ratio of the means).",
        t.rule_words()
    );
    if report.on_hosts() {
        let _ = writeln!(out, "\nRows name their host. **Pooled** {POOLED_MEANS}.");
    }
    let _ = writeln!(out, "\n- base: `{}` ({})", report.base.path, runs(&report.base));
    let _ = writeln!(out, "- new: `{}` ({})", report.new.path, runs(&report.new));
    if report.base.cmdlines != report.new.cmdlines {
        let _ = writeln!(out, "- base cmdline: `{}`", report.base.cmdlines.join("` | `"));
        let _ = writeln!(out, "- new cmdline: `{}`", report.new.cmdlines.join("` | `"));
    }
    for regression in &report.row_regressions {
        let _ = writeln!(out, "- **REGRESSION** {regression}");
    }
    for note in report.unmatched.iter().chain(&crate::report::headline::compare_warnings(&report.warnings)) {
        let _ = writeln!(out, "- {note}");
    }
    out
}

/// mmtests heads its columns with the kernels; without a single kernel, the side's name.
fn column_title(side: &SideInfo, name: &str) -> String {
    match side.kernels.as_slice() {
        [kernel] => format!("{name} {kernel}"),
        _ => name.to_string(),
    }
}

fn runs(side: &SideInfo) -> String {
    match side.failed_runs {
        0 => format!("{} runs", side.ok_runs),
        failed => format!("{} runs, {failed} failed and excluded", side.ok_runs),
    }
}

fn metric_table(out: &mut String, report: &CompareReport, metric: Metric, base: &str, new: &str) {
    let title = format!("{} [{}], {}", metric.title(), metric.unit(), direction(metric));
    let mut rows = vec![vec![title, base.to_string(), new.to_string(), "95 % interval".into(), "p".into(), "verdict".into()]];
    for e in report.entries_of(metric) {
        let on = if e.pairing.host.is_empty() { String::new() } else { format!(" on {}", cell::host(e)) };
        rows.push(vec![
            format!("{} {}{on}", cell::variant(e), cell::level(e)),
            cell::base(e),
            format!("{} {}{}", cell::new(e), cell::change(e), star(e)),
            cell::interval(e),
            cell::p_value(e),
            cell::verdict(e),
        ]);
    }
    for p in report.pooled_of(metric) {
        rows.push(vec![
            format!("{} {} pooled over {} hosts", cell::pooled_variant(p), p.jobs_label, cell::pooled_hosts(p)),
            "".into(),
            cell::pooled_change(p),
            cell::pooled_interval(p),
            cell::pooled_p_value(p),
            cell::pooled_verdict(p),
        ]);
    }
    let aligned = cell::align(&rows, &[0, 5]);
    for (index, row) in aligned.iter().enumerate() {
        let _ = writeln!(out, "| {} |", row.join(" | "));
        if index == 0 {
            let rule: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell_text)| {
                    let dashes = "-".repeat(cell_text.chars().count().saturating_sub(1).max(2));
                    if c == 0 || c == 5 {
                        format!(":{dashes}")
                    } else {
                        format!("{dashes}:")
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
}

/// ★ as report.md prints it; a bare `*` would start emphasis in Markdown.
fn star(entry: &crate::compare::Entry) -> &'static str {
    if cell::star(entry).is_empty() {
        ""
    } else {
        " ★"
    }
}
