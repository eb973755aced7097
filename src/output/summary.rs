//! The summary on the terminal once the reports are written (end of `bench run`, `bench
//! report`): the kernbench blocks, each variant's verdicts against the baseline, the
//! warnings, where report.md and report.html are, and last the headline: the answer is
//! where the eye lands when the command ends.

use crate::model::LevelStopping;
use crate::report::format::{change_interval, p_value, percent, percent_interval, NOISY_MARK};
use crate::report::model::{verdict_words, DEFAULT_METRICS};
use crate::report::study::kernbench::level_title;
use crate::report::study::Written;
use crate::stats::{Analysis, HostsAnalysis, Metric, VariantAtLevel, Verdict, MIN_RUNS};
use std::fmt::Write;
use std::path::Path;

/// The kernbench blocks and the verdicts on stdout, the warnings on stderr.
pub fn print(results: &Path, written: &Written) {
    print!("{}", written.kernbench);
    print!("{}", stopping_text(&written.stopping));
    if let Some(analysis) = &written.analysis {
        print!("{}", verdict_text(analysis));
    }
    if let Some(hosts) = &written.hosts {
        print!("{}", hosts_text(hosts));
    }
    for warning in &written.warnings {
        eprintln!("warning: {warning}");
    }
    println!("report: {}", results.join("report.md").display());
    println!("in a browser: {}", results.join("report.html").display());
    print!("\n{}", written.headline.to_text());
}

/// With `runs = "auto"`: one line per variant and level saying what stopped its runs.
pub fn stopping_text(stopping: &[LevelStopping]) -> String {
    let mut out = String::new();
    if let Some(first) = stopping.first() {
        let _ = writeln!(out, "runs = \"auto\": {}", first.rule_sentence());
    }
    for stop in stopping {
        let _ = writeln!(out, "  {}", stop.line());
    }
    out
}

/// Each variant against the baseline, per level and default metric: the change of the
/// mean, its 95 % interval, p and the verdict; the other metrics are in report.md.
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
            "{variant} against {} (verdict when p < {} and the 95 % interval is beyond ± {} %; same when the {:.0} % interval is within it):",
            analysis.baseline, t.alpha, t.noise_percent, 100.0 * (1.0 - 2.0 * t.alpha).max(0.0)
        );
        for level in &analysis.levels {
            let _ = writeln!(out, "  {}", level_title(&level.jobs_label, level.jobs));
            match level.variant(variant) {
                Some(v) => {
                    out.push_str(&metric_lines(v, t));
                    out.push_str(&noise_line(&level.variants[0], v));
                }
                None => out.push_str("    no runs\n"),
            }
        }
    }
    let more = analysis.metrics.iter().filter(|m| !DEFAULT_METRICS.contains(m)).count();
    let more = if more > 0 { format!(" {more} more metrics are in report.md.") } else { String::new() };
    let _ = writeln!(out, "Fewer than {MIN_RUNS} successful runs a side: \"too few runs\", no verdict.{more}");
    out
}

/// On several hosts: each host's verdicts, then the changes pooled across hosts.
pub fn hosts_text(hosts: &HostsAnalysis) -> String {
    let mut out = String::new();
    for h in &hosts.hosts {
        match &h.analysis {
            Some(analysis) if analysis.variants.len() >= 2 => {
                let _ = writeln!(out, "host {}:", h.host);
                out.push_str(&verdict_text(analysis));
            }
            Some(_) => {}
            None => {
                let _ = writeln!(out, "host {}: {}", h.host, h.problem.as_deref().unwrap_or("no runs"));
            }
        }
    }
    let t = &hosts.thresholds;
    for level in hosts.pooled.iter().filter(|l| !l.variants.is_empty()) {
        for variant in &level.variants {
            let _ = writeln!(
                out,
                "{} against {} across hosts, {} (geometric mean of the hosts' ratios, t interval over hosts; verdict when p < {} and beyond ± {} %):",
                variant.variant, hosts.baseline, level.jobs_label, t.alpha, t.noise_percent
            );
            for m in &variant.metrics {
                let p = &m.pooled;
                let hosts = format!(" ({} of {} hosts)", p.hosts.len(), p.hosts.len() + p.left_out.len());
                out.push_str(&verdict_line(m.metric, p.change_percent, &percent_interval(p.change_ci95), p.p_value, p.verdict, &hosts));
            }
            if let Some(caveat) = variant.metrics.first().and_then(|m| m.pooled.caveat()) {
                let _ = writeln!(out, "    note: {caveat}");
            }
        }
    }
    out
}

fn metric_lines(variant: &VariantAtLevel, thresholds: &crate::stats::Thresholds) -> String {
    let mut out = String::new();
    for m in variant.metrics.iter().filter(|m| DEFAULT_METRICS.contains(&m.metric)) {
        let Some(c) = &m.comparison else {
            let _ = writeln!(out, "    {:<17} not enough successful runs to compare", m.metric.title());
            continue;
        };
        // Inconclusive: what the comparison could see, and the runs that would decide it.
        let sees = c.sensitivity_phrase(thresholds).filter(|_| c.verdict.is_inconclusive()).map(|s| format!(" ({s})")).unwrap_or_default();
        out.push_str(&verdict_line(m.metric, c.change_percent, &change_interval(c), c.p_value, c.verdict, &sees));
    }
    out
}

/// "    Elapsed Time     +9.8 %  [+5.5 %, +14.0 %]   p 0.0028    slower", then `after`.
fn verdict_line(metric: Metric, change: Option<f64>, interval: &str, p: Option<f64>, verdict: Verdict, after: &str) -> String {
    let change = change.map(percent).unwrap_or_else(|| "n/a".into());
    format!("    {:<17} {change:>9}  {:<22} p {:<9} {}{after}\n", metric.title(), interval, p_value(p), verdict_words(metric, verdict))
}

/// A warning under verdicts that noisy runs on either side may have bent.
fn noise_line(baseline: &VariantAtLevel, variant: &VariantAtLevel) -> String {
    let sides: Vec<String> = [variant, baseline]
        .iter()
        .filter(|v| !v.noisy_runs.is_empty())
        .map(|v| format!("{} of {} runs of {}", v.noisy_runs.len(), v.ok_runs, v.variant))
        .collect();
    if sides.is_empty() {
        return String::new();
    }
    format!("    {NOISY_MARK} {} measured on a noisy host: these verdicts may be off (see the noise warning)\n", sides.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord, RunStatus};
    use crate::stats::{analyze, Thresholds};

    #[test]
    fn several_hosts_print_each_host_and_the_pooled_verdicts() {
        let mut records = Vec::new();
        for (host, factor) in [("a", 1.0), ("b", 2.0)] {
            for (run, (base, poison)) in [(40.0, 44.0), (40.5, 44.5), (39.5, 43.5)].into_iter().enumerate() {
                let run = run as u32 + 1;
                records.push(RunRecord { host: host.into(), run, elapsed_s: base * factor, ..test_record() });
                records.push(RunRecord { host: host.into(), run, variant: "poison".into(), elapsed_s: poison * factor, ..test_record() });
            }
        }
        let hosts = crate::stats::analyze_hosts(&records, &["c".into()], None, &Thresholds::default()).unwrap();
        let text = hosts_text(&hosts);
        assert!(
            text.starts_with(
                "host a:
poison against baseline"
            ),
            "{text}"
        );
        assert!(text.contains("host c: no runs on record"), "{text}");
        let pooled = text.lines().skip_while(|l| !l.contains("across hosts")).find(|l| l.contains("Elapsed Time")).unwrap();
        assert!(pooled.contains("+10.0 %") && pooled.ends_with("slower (2 of 3 hosts)"), "{text}");
        assert!(text.contains("note: 2 hosts: the interval rests on 1 degree of freedom"), "{text}");
    }

    #[test]
    fn verdicts_are_against_the_baseline_and_ignore_failed_runs() {
        let mut records = Vec::new();
        for (run, (base, poison)) in
            [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].into_iter().enumerate()
        {
            let run = run as u32 + 1;
            records.push(RunRecord { run, elapsed_s: base, ..test_record() });
            records.push(RunRecord { run, variant: "poison".into(), elapsed_s: poison, ..test_record() });
        }
        records.push(RunRecord { variant: "poison".into(), elapsed_s: 1000.0, status: RunStatus::Failed, ..test_record() });
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let text = verdict_text(&analysis);
        assert!(text.starts_with("poison against baseline (verdict when p < 0.05"), "{text}");
        let elapsed = text.lines().find(|l| l.trim_start().starts_with("Elapsed Time")).unwrap();
        // +9.8 % [+5.5 %, +14.0 %], p = 0.0028: the SciPy-checked case of stats::change.
        assert!(elapsed.contains("+9.8 %  [+5.5 %, +14.0 %]") && elapsed.ends_with("slower"), "{text}");
        assert!(!text.contains('*') && !text.contains('★'), "mmtests' star is in Markdown tables only: {text}");
        let user = text.lines().find(|l| l.trim_start().starts_with("User Time")).unwrap();
        assert!(user.contains("+0.00 %") && user.contains("same"), "{text}");
    }

    #[test]
    fn verdicts_bent_by_a_noisy_host_say_so() {
        let mut records = Vec::new();
        for run in 1..=3 {
            records.push(RunRecord { run, noise: if run == 1 { "busy".into() } else { String::new() }, ..test_record() });
            records.push(RunRecord { run, variant: "poison".into(), ..test_record() });
        }
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let text = verdict_text(&analysis);
        assert!(text.contains("    ⚠ 1 of 3 runs of baseline measured on a noisy host: these verdicts may be off"), "{text}");
        records[0].noise.clear();
        assert!(!verdict_text(&analyze(&records, None, &Thresholds::default()).unwrap()).contains('⚠'));
    }
}
