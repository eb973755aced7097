//! kernbench.txt: per variant, kernbench's summary block for each level, byte for byte:
//!
//! ```text
//! Average Half load -j 2 Run (std deviation):
//! Elapsed Time 44.586 (1.67125)
//! ...
//! ```

use crate::model::RunRecord;
use crate::stats::{mean, sample_sd, Metric};
use std::fmt::Write;

/// The six kernbench metrics, in its order (every metric but max RSS).
const KERNBENCH_METRICS: [Metric; 6] =
    [Metric::Elapsed, Metric::User, Metric::Sys, Metric::PercentCpu, Metric::CtxSwitches, Metric::Sleeps];

/// "Half load -j 2", "Optimal load -j 4", "Maximal load -j", or "Custom load -j 8".
pub fn level_title(jobs_label: &str, jobs: u32) -> String {
    match jobs_label {
        "half" => format!("Half load -j {jobs}"),
        "optimal" => format!("Optimal load -j {jobs}"),
        "max" => "Maximal load -j".to_string(),
        _ => format!("Custom load -j {jobs}"),
    }
}

/// One block for the successful runs of one variant at one level.
pub fn block(jobs_label: &str, jobs: u32, runs: &[&RunRecord]) -> String {
    let mut out = format!("Average {} Run (std deviation):\n", level_title(jobs_label, jobs));
    for metric in KERNBENCH_METRICS {
        let values: Vec<f64> = runs.iter().filter_map(|r| metric.value(r)).collect();
        let _ = writeln!(out, "{} {} ({})", metric.title(), g6(mean(&values)), g6(sample_sd(&values)));
    }
    out
}

/// Variants and levels in the order they first appear in `records`.
fn variants_and_levels(records: &[RunRecord]) -> (Vec<String>, Vec<(String, u32)>) {
    let mut variants: Vec<String> = Vec::new();
    let mut levels: Vec<(String, u32)> = Vec::new();
    for r in records {
        if !variants.contains(&r.variant) {
            variants.push(r.variant.clone());
        }
        let level = (r.jobs_label.clone(), r.jobs);
        if !levels.contains(&level) {
            levels.push(level);
        }
    }
    (variants, levels)
}

fn ok_runs<'a>(records: &'a [RunRecord], variant: &str, label: &str) -> Vec<&'a RunRecord> {
    records.iter().filter(|r| r.is_ok() && r.variant == variant && r.jobs_label == label).collect()
}

/// kernbench's text for every variant: a header naming the variant and its command line
/// as the guest saw it, then one block per level.
pub fn kernbench_text(records: &[RunRecord]) -> String {
    kernbench_baseline_first(records, None)
}

/// [`kernbench_text`] with `baseline`'s blocks first, as every other report puts it.
pub fn kernbench_baseline_first(records: &[RunRecord], baseline: Option<&str>) -> String {
    let (mut variants, levels) = variants_and_levels(records);
    if let Some(at) = baseline.and_then(|b| variants.iter().position(|v| v == b)) {
        let base = variants.remove(at);
        variants.insert(0, base);
    }
    let mut out = String::new();
    for variant in &variants {
        let cmdline = records.iter().find(|r| &r.variant == variant).map(|r| r.cmdline.as_str()).unwrap_or("");
        let _ = writeln!(out, "{variant} ({cmdline})");
        for (label, jobs) in &levels {
            let runs = ok_runs(records, variant, label);
            if !runs.is_empty() {
                out.push_str(&block(label, *jobs, &runs));
                out.push('\n');
            }
        }
    }
    out
}

/// printf's `%g`: six significant digits, trailing zeros dropped, as kernbench prints.
pub fn g6(value: f64) -> String {
    if !value.is_finite() {
        return format!("{value}").to_lowercase();
    }
    if value == 0.0 {
        return "0".into();
    }
    let exponent = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&exponent) {
        let s = format!("{:.5e}", value);
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs());
    }
    let decimals = (5 - exponent).max(0) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g6_prints_like_printf_percent_g() {
        for (value, expected) in [
            (44.586, "44.586"),
            (1.671_248_9, "1.67125"),
            (0.547_722_557, "0.547723"),
            (13880.8, "13880.8"),
            (182.4, "182.4"),
            (15745.2, "15745.2"),
            (0.0, "0"),
            (100.0, "100"),
            (1234567.0, "1.23457e+06"),
            (0.00001234, "1.234e-05"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(g6(value), expected, "{value}");
        }
    }

    #[test]
    fn block_has_kernbench_lines_and_sample_sd() {
        let runs: Vec<RunRecord> =
            [182.0, 182.0, 182.0, 183.0, 183.0].iter().map(|&p| RunRecord { percent_cpu: p, ..crate::model::test_record() }).collect();
        let refs: Vec<&RunRecord> = runs.iter().collect();
        let text = block("half", 2, &refs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Average Half load -j 2 Run (std deviation):");
        assert_eq!(lines[4], "Percent CPU 182.4 (0.547723)");
        assert_eq!(lines.len(), 7);
        assert!(lines[5].starts_with("Context Switches "));
        assert!(lines[6].starts_with("Sleeps "));
    }
}
