//! The end-of-run summary: per variant and level the kernbench block, then each
//! variant's verdicts against the baseline.

use super::format::{p_value, percent, percent_interval};
use super::kernbench::{block, level_title};
use crate::export::runs_csv::RunRecord;
use crate::stats::{Analysis, VariantAtLevel, MIN_RUNS, STAR_MEANS};
use std::fmt::Write;

/// Variants and levels in the order they first appear in `records`.
pub fn variants_and_levels(records: &[RunRecord]) -> (Vec<String>, Vec<(String, u32)>) {
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
    let (variants, levels) = variants_and_levels(records);
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

/// Each variant against the baseline, per level and metric: the change of the mean,
/// its 95 % interval, p and the verdict, `*` where mmtests' rule holds, and the legend.
pub fn verdict_text(analysis: &Analysis) -> String {
    let mut out = String::new();
    if analysis.variants.len() < 2 {
        return out;
    }
    let names: Vec<&str> = analysis.variants.iter().skip(1).map(|v| v.name.as_str()).collect();
    for variant in names {
        let t = &analysis.thresholds;
        let _ = writeln!(
            out,
            "{variant} against {} (verdict when p < {} and the 95 % interval is beyond ± {} %):",
            analysis.baseline, t.alpha, t.noise_percent
        );
        for level in &analysis.levels {
            let _ = writeln!(out, "  {}", level_title(&level.jobs_label, level.jobs));
            match level.variant(variant) {
                Some(v) => out.push_str(&metric_lines(v)),
                None => out.push_str("    no runs\n"),
            }
        }
    }
    let _ = writeln!(
        out,
        "* {STAR_MEANS}. Fewer than {MIN_RUNS} successful runs a side: \"too few runs\", no verdict."
    );
    out
}

fn metric_lines(variant: &VariantAtLevel) -> String {
    let mut out = String::new();
    for m in &variant.metrics {
        let Some(c) = &m.comparison else {
            let _ = writeln!(out, "    {:<17} not enough successful runs to compare", m.metric.title());
            continue;
        };
        let change = c.change_percent.map(percent).unwrap_or_else(|| "n/a".into());
        let star = if c.mmtests_significant { " *" } else { "" };
        let _ = writeln!(
            out,
            "    {:<17} {change:>9}  {:<22} p {:<9} {}{star}",
            m.metric.title(),
            percent_interval(c.change_ci95),
            p_value(c.p_value),
            m.metric.verdict_word(c.verdict)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::runs_csv::{test_record, RunStatus};
    use crate::stats::{analyze, Thresholds};

    #[test]
    fn verdicts_are_against_the_baseline_and_ignore_failed_runs() {
        let mut records = Vec::new();
        for (run, (base, poison)) in [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].into_iter().enumerate() {
            let run = run as u32 + 1;
            records.push(RunRecord { run, elapsed_s: base, ..test_record() });
            records.push(RunRecord { run, variant: "poison".into(), elapsed_s: poison, ..test_record() });
        }
        records.push(RunRecord { variant: "poison".into(), elapsed_s: 1000.0, status: RunStatus::Failed, ..test_record() });
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let text = verdict_text(&analysis);
        assert!(text.starts_with("poison against baseline (verdict when p < 0.05"), "{text}");
        let elapsed = text.lines().find(|l| l.trim_start().starts_with("Elapsed Time")).unwrap();
        // +9.8 % [+5.5 %, +14.0 %], p = 0.0028: the SciPy-checked case of stats::compare.
        assert!(elapsed.contains("+9.8 %  [+5.5 %, +14.0 %]") && elapsed.ends_with("slower *"), "{text}");
        assert!(text.contains("* mmtests' rule: the bands mean ± 1.96 · SD of the two sides do not overlap"), "{text}");
        let user = text.lines().find(|l| l.trim_start().starts_with("User Time")).unwrap();
        assert!(user.contains("+0.00 %") && user.contains("no significant change"), "{text}");
    }
}
