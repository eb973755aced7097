//! `bench compare` for the terminal and CI logs: one aligned table per metric, then what
//! was left out and the one-line outcome the exit code follows.

use super::cells::{self as cell, POOLED_MEANS};
use crate::compare::comparison::{worse, SideInfo};
use crate::compare::CompareReport;
use crate::stats::Metric;
use std::fmt::Write;

pub fn render(report: &CompareReport) -> String {
    let mut out = crate::report::headline::compare(report).to_text();
    out.push('\n');
    side_line(&mut out, "base:", &report.base);
    side_line(&mut out, "new: ", &report.new);
    if report.base.cmdlines != report.new.cmdlines {
        let _ = writeln!(out, "cmdline base: {}", report.base.cmdlines.join(" | "));
        let _ = writeln!(out, "cmdline new:  {}", report.new.cmdlines.join(" | "));
    }
    let (shown, constant) = cell::metrics_to_show(report);
    for metric in shown {
        out.push('\n');
        metric_table(&mut out, report, metric);
    }
    if let Some(note) = cell::constant_note(&constant) {
        let _ = writeln!(out, "\n{note}");
    }
    let t = &report.thresholds;
    if report.on_hosts() {
        let _ = writeln!(out, "\nPooled {POOLED_MEANS}.");
    }
    let _ = writeln!(out, "\nVerdict: {} (intervals: Fieller's).", t.rule_words());
    let notes: Vec<String> = report
        .row_regressions
        .iter()
        .map(|r| format!("REGRESSION {r}"))
        .chain(report.unmatched.iter().cloned())
        .chain(
            report
                .entries
                .iter()
                .filter(|e| e.metric == report.metrics[0])
                .filter_map(|e| cell::failed(e).map(|f| format!("{} {}: {f}", cell::variant(e), cell::level(e)))),
        )
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        notes.iter().for_each(|n| {
            let _ = writeln!(out, "{n}");
        });
    }
    let _ = writeln!(out, "\n{}", report.outcome_line());
    out
}

fn side_line(out: &mut String, name: &str, side: &SideInfo) {
    let kernels = if side.kernels.is_empty() { "unknown".to_string() } else { side.kernels.join(", ") };
    let accel = side.accel.as_deref().map(|a| format!(", {a}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{name} {} (kernel {kernels}{accel}; {} successful runs, {} failed and excluded)",
        side.path, side.ok_runs, side.failed_runs
    );
}

fn metric_table(out: &mut String, report: &CompareReport, metric: Metric) {
    let _ = writeln!(out, "{} [{}], {}", metric.title(), metric.unit(), direction(metric));
    let hosts = report.on_hosts();
    let mut rows = vec![["variant", "level", "base", "new", "change", "95 % interval", "p", "verdict"].map(String::from).to_vec()];
    if hosts {
        rows[0].insert(0, "host".into());
    }
    for e in report.entries_of(metric) {
        let host = hosts.then(|| cell::host(e));
        rows.push(
            host.into_iter()
                .chain([
                    cell::variant(e),
                    cell::level(e),
                    cell::base(e),
                    cell::new(e),
                    cell::change(e),
                    cell::interval(e),
                    cell::p_value(e),
                    cell::verdict(e),
                ])
                .collect(),
        );
    }
    let left: &[usize] = if hosts { &[0, 1, 2, 8] } else { &[0, 1, 7] };
    for row in cell::align(&rows, left) {
        let _ = writeln!(out, "  {}", row.join("  ").trim_end());
    }
    if report.pooled_of(metric).next().is_none() {
        return;
    }
    let _ = writeln!(out, "  across hosts:");
    let mut pooled = vec![["variant", "level", "hosts", "change", "95 % interval", "p", "verdict"].map(String::from).to_vec()];
    for p in report.pooled_of(metric) {
        pooled.push(vec![
            cell::pooled_variant(p),
            p.jobs_label.clone(),
            cell::pooled_hosts(p),
            cell::pooled_change(p),
            cell::pooled_interval(p),
            cell::pooled_p_value(p),
            cell::pooled_verdict(p),
        ]);
    }
    for row in cell::align(&pooled, &[0, 1, 6]) {
        let _ = writeln!(out, "  {}", row.join("  ").trim_end());
    }
    for p in report.pooled_of(metric) {
        for left_out in cell::pooled_left_out(p) {
            let _ = writeln!(out, "  left out of {} {}: host {left_out}", cell::pooled_variant(p), p.jobs_label);
        }
    }
}

/// How the gate reads the metric.
pub fn direction(metric: Metric) -> &'static str {
    match worse(metric) {
        Some(_) => "higher is worse",
        None => "reported, never a regression",
    }
}
