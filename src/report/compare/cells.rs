//! The cells of a comparison table, shared by the text and markdown renderers so both
//! print the same numbers the same way.

use crate::compare::{CompareReport, Entry, PooledEntry};
use crate::report::format;
use crate::stats::{Metric, Summary};

pub use crate::report::markup::align;

/// The metrics to tabulate, and those left out because every run on both sides gave the
/// same value (major faults that are all 0): a row of "+0.00 %, p 1" tells nothing.
/// JSON and CSV keep every metric.
pub fn metrics_to_show(report: &CompareReport) -> (Vec<Metric>, Vec<Metric>) {
    let constant = |metric: Metric| {
        let sides: Vec<&Summary> = report.entries_of(metric).flat_map(|e| [e.base.as_ref(), e.new.as_ref()]).flatten().collect();
        let first = sides.first().map(|s| s.mean);
        !sides.is_empty() && sides.iter().all(|s| s.sd.unwrap_or(0.0) == 0.0 && Some(s.mean) == first)
    };
    // The first metric asked for is always shown: the outcome line speaks of it.
    let (mut shown, mut left) = (Vec::new(), Vec::new());
    for (i, &metric) in report.metrics.iter().enumerate() {
        if i == 0 || !constant(metric) {
            shown.push(metric);
        } else {
            left.push(metric);
        }
    }
    (shown, left)
}

/// "Not shown, the same value in every run on both sides: Major Faults, Sleeps."
pub fn constant_note(constant: &[Metric]) -> Option<String> {
    let names: Vec<&str> = constant.iter().map(|m| m.title()).collect();
    (!names.is_empty()).then(|| format!("Not shown, the same value in every run on both sides: {}.", names.join(", ")))
}

/// "half -j 2", or just the label when it is the number.
pub fn level(entry: &Entry) -> String {
    let p = &entry.pairing;
    match p.jobs_label.as_str() {
        "max" => "max -j".to_string(),
        label if label == p.jobs.to_string() => format!("-j {label}"),
        label => format!("{label} -j {}", p.jobs),
    }
}

/// The lab host of the row; empty on one host.
pub fn host(entry: &Entry) -> String {
    entry.pairing.host.clone()
}

/// "baseline", or "old → new" when `--map` renamed it.
pub fn variant(entry: &Entry) -> String {
    let p = &entry.pairing;
    if p.base_variant == p.new_variant {
        p.base_variant.clone()
    } else {
        format!("{} → {}", p.base_variant, p.new_variant)
    }
}

/// "40.614 ± 0.233 (5)": mean ± sample SD (successful runs); without any, "none (5
/// failed)" or "not run".
pub fn mean_sd(summary: Option<&Summary>, failed: usize) -> String {
    match summary {
        None if failed == 0 => "not run".to_string(),
        None => format!("none ({failed} failed)"),
        Some(s) => match s.sd {
            Some(sd) => format!("{} ± {} ({})", number(s.mean), number(sd), s.n),
            None => format!("{} ({})", number(s.mean), s.n),
        },
    }
}

pub fn base(entry: &Entry) -> String {
    mean_sd(entry.base.as_ref(), entry.base_failed)
}

pub fn new(entry: &Entry) -> String {
    mean_sd(entry.new.as_ref(), entry.new_failed)
}

pub fn change(entry: &Entry) -> String {
    entry.comparison.as_ref().map(format::change_percent).unwrap_or_else(|| "n/a".into())
}

pub fn interval(entry: &Entry) -> String {
    entry.comparison.as_ref().map(format::change_interval).unwrap_or_else(|| "n/a".into())
}

pub fn p_value(entry: &Entry) -> String {
    p(entry.comparison.as_ref().and_then(|c| c.p_value))
}

fn percent(value: Option<f64>) -> String {
    value.map(format::percent).unwrap_or_else(|| "n/a".into())
}

fn p(value: Option<f64>) -> String {
    match value {
        Some(p) if p < 0.001 => "<0.001".to_string(),
        Some(p) => format!("{p:.3}"),
        None => "n/a".to_string(),
    }
}

/// "baseline", or "old → new", of a change pooled across hosts.
pub fn pooled_variant(pooled: &PooledEntry) -> String {
    if pooled.base_variant == pooled.new_variant {
        pooled.base_variant.clone()
    } else {
        format!("{} → {}", pooled.base_variant, pooled.new_variant)
    }
}

/// "3 of 4" hosts that count.
pub fn pooled_hosts(pooled: &PooledEntry) -> String {
    let counted = pooled.pooled.hosts.len();
    format!("{counted} of {}", counted + pooled.pooled.left_out.len())
}

pub fn pooled_change(pooled: &PooledEntry) -> String {
    percent(pooled.pooled.change_percent)
}

pub fn pooled_interval(pooled: &PooledEntry) -> String {
    format::percent_interval(pooled.pooled.change_ci95)
}

pub fn pooled_p_value(pooled: &PooledEntry) -> String {
    p(pooled.pooled.p_value)
}

/// The pooled verdict, whether it gates, and REGRESSION in capitals.
pub fn pooled_verdict(pooled: &PooledEntry) -> String {
    let mut text = pooled.verdict.clone();
    if !pooled.gates {
        text += " (the hosts' own verdicts gate)";
    }
    if pooled.regression {
        text += " (REGRESSION)";
    }
    text
}

/// The hosts left out of a pooled change: "b: 2 vs 2 successful runs; …".
pub fn pooled_left_out(pooled: &PooledEntry) -> Vec<String> {
    pooled.pooled.left_out.iter().map(|l| format!("{}: {}", l.host, l.reason)).collect()
}

/// How the pooled change is computed, for legends.
pub const POOLED_MEANS: &str = "across hosts: the geometric mean of the hosts' ratios new/base (each host's own means), \
with Student's t interval over the hosts (hosts − 1 degrees of freedom); it gates when at least 2 hosts have enough runs, \
otherwise the hosts' own verdicts do";

/// The star means one thing everywhere kbench prints one (run, report, compare): mmtests'
/// rule ([`STAR_MEANS`](crate::stats::STAR_MEANS)). Criterion's verdict is the verdict
/// column, in words.
pub fn star(entry: &Entry) -> &'static str {
    match &entry.comparison {
        Some(c) if c.mmtests_significant => "*",
        _ => "",
    }
}

/// The verdict, the failed runs that fail the gate, and REGRESSION in capitals.
pub fn verdict(entry: &Entry) -> String {
    let mut text = entry.verdict.clone();
    if entry.comparison.is_some() && entry.new_failed > 0 && entry.base_failed == 0 {
        text += &format!(", {} failed in new", entry.new_failed);
    }
    if entry.regression {
        text += " (REGRESSION)";
    }
    if let Some(noisy) = noisy(entry) {
        text += &format!(", {noisy}");
    }
    // What an inconclusive comparison could see, and the runs that would decide it.
    if let Some(sensitivity) = entry.sensitivity.as_ref().filter(|_| entry.comparison.as_ref().is_some_and(|c| c.verdict.is_inconclusive()))
    {
        text += &format!(" ({sensitivity})");
    }
    text
}

/// "⚠ noisy host: 1 run in new": runs of the row measured on a noisy host, a warning.
pub fn noisy(entry: &Entry) -> Option<String> {
    let parts: Vec<String> = [("base", entry.base_noisy), ("new", entry.new_noisy)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(side, n)| format!("{n} run{} in {side}", if n == 1 { "" } else { "s" }))
        .collect();
    (!parts.is_empty()).then(|| format!("{} noisy host: {}", crate::report::format::NOISY_MARK, parts.join(", ")))
}

/// Failed runs of the row, when there were any: "1 failed run excluded (new)".
pub fn failed(entry: &Entry) -> Option<String> {
    let parts: Vec<String> = [("base", entry.base_failed), ("new", entry.new_failed)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(side, n)| format!("{n} in {side}"))
        .collect();
    (!parts.is_empty()).then(|| format!("failed runs excluded: {}", parts.join(", ")))
}

/// Enough digits for kernel-build times and counts alike: 4 significant ones, no
/// exponent, integers as integers.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 1000.0 || magnitude == 0.0 {
        0
    } else if magnitude >= 100.0 {
        1
    } else if magnitude >= 10.0 {
        2
    } else if magnitude >= 1.0 {
        3
    } else {
        4
    };
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_about_four_significant_digits() {
        assert_eq!(number(44.586), "44.59");
        assert_eq!(number(0.232873), "0.2329");
        assert_eq!(number(15701.0), "15701");
        assert_eq!(number(182.4), "182.4");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let rows = vec![vec!["a".to_string(), "1".to_string()], vec!["bbb".to_string(), "22".to_string()]];
        assert_eq!(align(&rows, &[0]), vec![vec!["a  ", " 1"], vec!["bbb", "22"]]);
    }
}
