//! The lines a kernel developer pastes into a mail about a kernel bump (`bench bump`'s
//! mail.txt): what regressed, by how much with its interval, on what machine, with which
//! kernels, and the commands that measure it again.

use crate::compare::CompareReport;
use crate::model::Meta;
use crate::report::format::{number, p_value, percent, percent_interval};
use std::fmt::Write;

/// `meta` is the interleaved study's (both kernels' facts); `reproduce` the commands, one
/// a line.
pub fn render(report: &CompareReport, meta: Option<&Meta>, reproduce: &[String]) -> String {
    let mut out = String::new();
    let scenario = meta.map_or("the scenario", |m| m.scenario.as_str());
    let _ = writeln!(out, "kbench: {scenario}, old kernel against new kernel: {}", report.outcome_line());
    let _ = writeln!(out);
    let flagged: Vec<_> = report.entries.iter().filter(|e| e.regression || e.inconclusive).collect();
    if flagged.is_empty() && report.row_regressions.is_empty() {
        let _ = writeln!(out, "No significant regression: every compared metric the same or better.");
    }
    for entry in flagged {
        let p = &entry.pairing;
        let what = if entry.regression { "Regression" } else { "Cannot tell" };
        let _ = write!(out, "{what}: {} at -j {} ({}), {}", p.base_variant, p.jobs, p.jobs_label, entry.metric.name());
        match &entry.comparison {
            Some(c) => {
                let change = c.change_percent.map_or("n/a".into(), percent);
                let _ = writeln!(
                    out,
                    ": {} → {} {} ({change}, 95 % interval {}, p {}, {} vs {} runs)",
                    number(c.base.mean),
                    number(c.new.mean),
                    entry.unit,
                    percent_interval(c.change_ci95),
                    p_value(c.p_value),
                    c.base.n,
                    c.new.n
                );
                if let (true, Some(sensitivity)) = (entry.inconclusive, &entry.sensitivity) {
                    let _ = writeln!(out, "  {sensitivity}");
                }
            }
            None => {
                let _ = writeln!(out, ": {}", entry.verdict);
            }
        }
    }
    for row in &report.row_regressions {
        let p = &row.pairing;
        let _ = writeln!(
            out,
            "Failed runs: {} at -j {}: {} of {} runs failed with the new kernel, {} of {} with the old",
            p.new_variant,
            p.jobs,
            row.new_failed,
            row.new_ok + row.new_failed,
            row.base_failed,
            row.base_ok + row.base_failed
        );
    }
    if let Some(meta) = meta {
        let _ = writeln!(out);
        let h = &meta.host;
        let _ = writeln!(out, "Machine: {} ({} CPUs, {} MiB), host kernel {}", h.cpu_model, h.cpus, h.memory_mib, h.kernel);
        let v = &meta.hypervisor;
        let _ = writeln!(out, "Guest: {} vCPUs, {} MiB, {} {} ({})", meta.guest.cpus, meta.guest.memory_mib, v.backend, v.version, v.accel);
        let _ = writeln!(out, "Workload: {}", meta.workload.command.lines().next().unwrap_or_default());
        if let Some(design) = &meta.design {
            let seed = design.seed.map_or(String::new(), |s| format!(", seed {s}"));
            let _ = writeln!(
                out,
                "Design: {} runs a variant and level, {} rounds, {} order{seed}, both kernels interleaved in one study",
                meta.runs, design.rounds, design.order
            );
        }
        let _ = writeln!(out, "Kernels:");
        for variant in &meta.variants {
            let _ = writeln!(
                out,
                "  {}: {} (sha256 {}), command line: {}",
                variant.name, variant.kernel.path, variant.kernel.sha256, variant.cmdline
            );
        }
        let _ = writeln!(out, "kbench {}", meta.kbench_version);
    }
    if !reproduce.is_empty() {
        let _ = writeln!(out, "\nTo measure it again:");
        for line in reproduce {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
