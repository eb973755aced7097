//! `bench compare --format junit`: the comparison as JUnit XML, so that Jenkins, GitLab
//! and GitHub test reporters show a regression as a failed test. One test suite per
//! variant, one test case per jobs level and metric; a regression is a `<failure>` with
//! the numbers, a row that could not be tested (no or too few successful runs) is
//! `<skipped>`. The counts on `<testsuites>` and each `<testsuite>` are those of the cases
//! inside. Nothing here is timed, so every `time` is 0. On several hosts each host's case
//! is named with its host (class `kbench.<host>.<variant>.<level>`), and each change pooled
//! across hosts is a case of its own ("… across hosts"), skipped when it does not gate.

use super::cells as cell;
use crate::compare::{CompareReport, Entry, PooledEntry};
use crate::report::markup::{escape, escape_text};
use crate::stats::Verdict;
use std::fmt::Write;

pub fn render(report: &CompareReport) -> String {
    let suites = suites(report);
    let count = |f: fn(&Entry) -> bool| report.entries.iter().filter(|e| f(e)).count();
    let (tests, failures, skipped) = (report.entries.len(), count(|e| e.regression), count(is_skipped));
    let pooled_failures = report.pooled.iter().filter(|p| p.regression).count();
    let pooled_skipped = report.pooled.iter().filter(|p| !p.gates).count();
    let (tests, failures, skipped) = (tests + report.pooled.len(), failures + pooled_failures, skipped + pooled_skipped);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kbench compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">"
    );
    for (name, entries) in &suites {
        suite(&mut out, report, name, entries);
    }
    out.push_str("</testsuites>\n");
    out
}

/// Entries grouped by variant, in the report's order.
fn suites(report: &CompareReport) -> Vec<(String, Vec<&Entry>)> {
    let mut suites: Vec<(String, Vec<&Entry>)> = Vec::new();
    for entry in &report.entries {
        let name = cell::variant(entry);
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, entries)) => entries.push(entry),
            None => suites.push((name, vec![entry])),
        }
    }
    suites
}

/// Not passed, not failed: no verdict, or one that cannot tell (inconclusive, too few runs).
fn is_skipped(entry: &Entry) -> bool {
    !entry.regression && entry.comparison.as_ref().is_none_or(|c| matches!(c.verdict, Verdict::TooFewRuns | Verdict::Inconclusive))
}

fn suite(out: &mut String, report: &CompareReport, variant: &str, entries: &[&Entry]) {
    let pooled: Vec<&PooledEntry> = report.pooled.iter().filter(|p| cell::pooled_variant(p) == variant).collect();
    let failures = entries.iter().filter(|e| e.regression).count() + pooled.iter().filter(|p| p.regression).count();
    let skipped = entries.iter().filter(|e| is_skipped(e)).count() + pooled.iter().filter(|p| !p.gates || p.inconclusive).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">",
        escape(&format!("kbench compare: {variant}")),
        entries.len() + pooled.len()
    );
    out.push_str("    <properties>\n");
    let t = &report.thresholds;
    let properties = [
        ("base", report.base.path.clone()),
        ("new", report.new.path.clone()),
        ("base kernel", report.base.kernels.join(", ")),
        ("new kernel", report.new.kernels.join(", ")),
        ("alpha", t.alpha.to_string()),
        ("threshold percent", t.noise_percent.to_string()),
    ];
    for (name, value) in properties {
        let _ = writeln!(out, "      <property name=\"{}\" value=\"{}\"/>", escape(name), escape(&value));
    }
    out.push_str("    </properties>\n");
    for entry in entries {
        case(out, entry);
    }
    for p in pooled {
        pooled_case(out, p);
    }
    if !report.warnings.is_empty() || !report.unmatched.is_empty() {
        let notes: Vec<&str> = report.warnings.iter().chain(&report.unmatched).map(String::as_str).collect();
        let _ = writeln!(out, "    <system-err>{}</system-err>", escape_text(&notes.join("\n")));
    }
    out.push_str("  </testsuite>\n");
}

fn case(out: &mut String, entry: &Entry) {
    let host = if entry.pairing.host.is_empty() { String::new() } else { format!("{}.", entry.pairing.host) };
    let classname = format!("kbench.{host}{}.{}", entry.pairing.base_variant, entry.pairing.jobs_label);
    let name = format!("{} ({}) {}", entry.metric.name(), entry.unit, cell::level(entry));
    let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"", escape(&classname), escape(&name));
    let numbers = numbers(entry);
    if entry.regression {
        let message = format!("{}: {} {} (p {})", entry.verdict, cell::change(entry), cell::interval(entry), cell::p_value(entry));
        let _ = writeln!(
            out,
            ">\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>",
            escape(&message),
            escape_text(&numbers)
        );
    } else if is_skipped(entry) {
        let reason = entry.sensitivity.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
        let _ =
            writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape(&format!("{}{reason}: {numbers}", entry.verdict)));
    } else {
        let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", escape_text(&numbers));
    }
}

/// A change pooled across hosts: fails when it gates and is worse, skipped when too few
/// hosts count (the hosts' own cases gate then).
fn pooled_case(out: &mut String, p: &PooledEntry) {
    let classname = format!("kbench.{}.{}", p.base_variant, p.jobs_label);
    let name = format!("{} ({}) {} across hosts", p.metric.name(), p.unit, p.jobs_label);
    let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"", escape(&classname), escape(&name));
    let mut numbers = format!(
        "hosts: {}\nchange: {} (95 % interval {}), p {}\nverdict: {}",
        cell::pooled_hosts(p),
        cell::pooled_change(p),
        cell::pooled_interval(p),
        cell::pooled_p_value(p),
        cell::pooled_verdict(p)
    );
    for left_out in cell::pooled_left_out(p) {
        numbers += &format!("\nleft out: {left_out}");
    }
    if p.regression {
        let message =
            format!("{} across hosts: {} {} (p {})", p.verdict, cell::pooled_change(p), cell::pooled_interval(p), cell::pooled_p_value(p));
        let _ = writeln!(
            out,
            ">\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>",
            escape(&message),
            escape_text(&numbers)
        );
    } else if !p.gates || p.inconclusive {
        let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape(&format!("{}: {numbers}", p.verdict)));
    } else {
        let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", escape_text(&numbers));
    }
}

/// The numbers a person needs to judge the case, in one block of text.
fn numbers(entry: &Entry) -> String {
    let mut text = format!(
        "base: {}\nnew:  {}\nchange: {} (95 % interval {}), p {}\nverdict: {}",
        cell::base(entry),
        cell::new(entry),
        cell::change(entry),
        cell::interval(entry),
        cell::p_value(entry),
        cell::verdict(entry)
    );
    if let Some(failed) = cell::failed(entry) {
        text.push('\n');
        text.push_str(&failed);
    }
    text
}
