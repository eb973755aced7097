//! The end-of-run summary: per variant and level the kernbench block, then each
//! variant's change of every mean against the baseline.

use super::kernbench::{block, level_title, METRICS};
use crate::export::runs_csv::RunRecord;
use crate::stats::mean;
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

/// Change of each mean against `baseline`, in percent, per level and metric.
pub fn change_text(records: &[RunRecord], baseline: &str) -> String {
    let (variants, levels) = variants_and_levels(records);
    let mut out = String::new();
    for variant in variants.iter().filter(|v| v.as_str() != baseline) {
        let _ = writeln!(out, "{variant} against {baseline} (change of the mean):");
        for (label, jobs) in &levels {
            let (base, new) = (ok_runs(records, baseline, label), ok_runs(records, variant, label));
            if base.is_empty() || new.is_empty() {
                let _ = writeln!(out, "  {}: not enough successful runs to compare", level_title(label, *jobs));
                continue;
            }
            let changes: Vec<String> = METRICS
                .iter()
                .map(|(name, value)| {
                    let b = mean(&base.iter().map(|r| value(r)).collect::<Vec<_>>());
                    let n = mean(&new.iter().map(|r| value(r)).collect::<Vec<_>>());
                    format!("{name} {}", percent_change(b, n))
                })
                .collect();
            let _ = writeln!(out, "  {}: {}", level_title(label, *jobs), changes.join(", "));
        }
    }
    out
}

/// "+9.8 %", or "n/a" when the baseline is zero.
pub fn percent_change(base: f64, new: f64) -> String {
    if base == 0.0 {
        return "n/a".into();
    }
    format!("{:+.1} %", (new - base) / base * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::runs_csv::{test_record, RunStatus};

    #[test]
    fn change_is_against_the_baseline_and_ignores_failed_runs() {
        let mut records = vec![
            RunRecord { elapsed_s: 40.0, ..test_record() },
            RunRecord { variant: "poison".into(), elapsed_s: 44.0, ..test_record() },
            RunRecord { variant: "poison".into(), elapsed_s: 1000.0, status: RunStatus::Failed, ..test_record() },
        ];
        let text = change_text(&records, "baseline");
        assert!(text.contains("poison against baseline"), "{text}");
        assert!(text.contains("Elapsed Time +10.0 %"), "{text}");
        records.retain(|r| r.variant == "baseline");
        assert_eq!(change_text(&records, "baseline"), "");
    }

    #[test]
    fn percent_change_of_zero_base_is_not_a_number() {
        assert_eq!(percent_change(0.0, 3.0), "n/a");
        assert_eq!(percent_change(40.614, 44.586), "+9.8 %");
    }
}
