//! report.md: what a person reads first. The facts, the warnings, then per jobs level the
//! baseline and each variant side by side with the verdict, and the plots.

use super::facts::Facts;
use crate::report::format::{number, p_value, percent, percent_interval, NOISY_MARK};
use super::kernbench::level_title;
use super::time_budget::{boot_rows, budget_text, BOOT_COLUMNS};
use crate::stats::{Analysis, LevelAnalysis, Metric, MetricAnalysis, VariantAtLevel, MIN_RUNS, STAR_MEANS};
use std::fmt::Write;

pub fn render(analysis: &Analysis, facts: &Facts, warnings: &[String], plots: &[String]) -> String {
    let mut out = String::new();
    let name = facts.scenario.as_deref().unwrap_or("results");
    let _ = writeln!(out, "# kbench report: {}\n", cell(name));
    out.push_str(&how_to_read(analysis));
    out.push_str(&warnings_section(warnings));
    out.push_str(&facts_section(facts));
    out.push_str(&stopping_section(facts));
    out.push_str(&kernel_section(facts));
    out.push_str(&hardening_section(facts));
    out.push_str(&time_budget_section(facts));
    for level in &analysis.levels {
        out.push_str(&level_section(analysis, level, plots, ""));
    }
    out.push_str(&metrics_legend(&analysis.metrics));
    out
}

pub(super) fn metrics_legend(metrics: &[Metric]) -> String {
    let mut out = String::from("## The metrics

");
    for &metric in metrics {
        let _ = writeln!(out, "- **{}** ({}): {}.", metric.title(), metric.unit(), metric.reading());
    }
    out.push_str("
Every number comes from runs.csv; summary.csv and report.json have them at full precision.
");
    out
}

pub(super) fn how_to_read(analysis: &Analysis) -> String {
    let t = &analysis.thresholds;
    format!(
        "Baseline: `{}`. Each variant's mean is compared with the baseline's at the same `-j` level. \
Verdict: {}. The interval of the change in percent is \
Fieller's, for the ratio of the two means: both variants' spread widens it. With fewer than {MIN_RUNS} \
successful runs on a side there is no verdict, only *too few runs*. ★ means {STAR_MEANS}. \
Values are mean ± sample SD (n − 1, as kernbench). Failed runs are excluded and counted; outliers \
are flagged, never removed.\n\n",
        analysis.baseline,
        t.rule_words()
    )
}

pub(super) fn warnings_section(warnings: &[String]) -> String {
    if warnings.is_empty() {
        return "## Warnings\n\nNone.\n\n".into();
    }
    let mut out = String::from("## Warnings\n\n");
    for warning in warnings {
        let _ = writeln!(out, "- {}", cell(warning));
    }
    out.push('\n');
    out
}

pub(super) fn facts_section(facts: &Facts) -> String {
    let mut out = String::from("## Machine and guests\n\n| | |\n|---|---|\n");
    for (name, value) in facts.table_rows() {
        let value = if name == "Workload" { format!("`{value}`") } else { value };
        let _ = writeln!(out, "| {name} | {} |", cell(&value));
    }
    out.push_str("\n| variant | guest kernel | kernel command line in the guest | slab poisoning |\n|---|---|---|---|\n");
    for v in &facts.variants {
        let poisoning = match v.slab_poisoning {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        let _ = writeln!(out, "| {} | {} | `{}` | {poisoning} |", cell(&v.name), cell(&v.kernel_release), cell(&v.cmdline_in_guest));
    }
    out.push('\n');
    out
}

/// Per boot, what the kernel reported: the study's own signal (a SLUB report under
/// `slub_debug=P` is a bug found, whatever the timings say).
/// The kernel's own view of its memory hardening, per variant and boot (meta.json).
pub(super) fn hardening_section(facts: &Facts) -> String {
    if facts.variants.iter().all(|v| v.kernel_views.is_empty()) {
        return String::new();
    }
    let mut out = String::from(
        "## Memory hardening as the kernel reports it\n\n\
The \"mem auto-init\" line of each boot's kernel log, and /sys/kernel/slab at the end of the boot's runs.\n\n\
| variant | boot | stack | heap alloc | heap free | caches | poisoned | red-zoned |\n|---|---|---|---|---|---|---|---|\n",
    );
    for v in &facts.variants {
        for k in &v.kernel_views {
            let (stack, alloc, free) = match &k.view.mem_auto_init {
                Some(i) => (i.stack.as_str(), i.heap_alloc.as_str(), i.heap_free.as_str()),
                None => ("not in the log", "?", "?"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&v.name),
                k.boot,
                cell(stack),
                cell(alloc),
                cell(free),
                k.view.caches,
                k.view.poisoned,
                k.view.red_zoned
            );
        }
    }
    out.push('\n');
    for v in &facts.variants {
        let Some(last) = v.kernel_views.last() else { continue };
        if last.view.largest_caches.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "Largest slab caches of `{}` (boot {}):\n\n| cache | memory (KiB) | objects | object size (B) |\n|---|---|---|---|",
            cell(&v.name),
            last.boot
        );
        for c in &last.view.largest_caches {
            let _ = writeln!(out, "| {} | {} | {} | {} |", cell(&c.name), c.memory_kib, c.objects, c.object_size);
        }
        out.push('\n');
    }
    out
}

/// `runs = "auto"`: what stopped each variant and level's runs.
fn stopping_section(facts: &Facts) -> String {
    let Some(first) = facts.stopping.first() else {
        return String::new();
    };
    let mut out = format!(
        "## Enough runs\n\n`runs = \"auto\"`: {}\n\n| variant | level | stopped |\n|---|---|---|\n",
        first.rule_sentence()
    );
    for stop in &facts.stopping {
        let _ = writeln!(out, "| {} | {} | {} |", cell(&stop.variant), cell(&stop.level), cell(&stop.describe()));
    }
    out.push('\n');
    out
}

/// The share of the wall time the timed runs had, the rest, bench's CPU share, each boot.
fn time_budget_section(facts: &Facts) -> String {
    let Some(budget) = &facts.time_budget else { return String::new() };
    let text = budget_text(budget);
    let mut out = format!("## Time budget\n\n{}\n\n| part | seconds | share of the wall time |\n|---|---|---|\n", text.headline);
    for [name, seconds, share] in &text.parts {
        let _ = writeln!(out, "| {name} | {seconds} | {share} |");
    }
    let _ = writeln!(out, "\n{}", text.cpu);
    if let Some(resumed) = &text.resumed {
        let _ = writeln!(out, "{resumed}");
    }
    let rows = boot_rows(&facts.boots);
    if !rows.is_empty() {
        let _ = writeln!(out, "\n| {} |\n|{}", BOOT_COLUMNS.join(" | "), "---|".repeat(BOOT_COLUMNS.len()));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    out.push('\n');
    out
}

pub(super) fn kernel_section(facts: &Facts) -> String {
    let mut out = String::from("## Kernel trouble\n\n");
    if facts.accel.is_none() {
        out.push_str("Unknown (no meta.json).\n\n");
        return out;
    }
    if facts.kernel_trouble.is_empty() {
        out.push_str("None: no panic, oops, BUG, SLUB, KASAN or KFENCE report, lockup, RCU stall, hung task or WARNING in any boot's console or kernel log.\n\n");
        return out;
    }
    out.push_str("| variant | boot | what | reports | the first | log |\n|---|---|---|---|---|---|\n");
    for t in &facts.kernel_trouble {
        let _ = writeln!(out, "| {} | {} | {} | {} | `{}` | {} |", cell(&t.variant), t.boot, t.finding.kind.title(), t.finding.count, cell(&t.finding.line), cell(&t.log_file));
    }
    out.push('\n');
    for t in &facts.kernel_trouble {
        let excerpt = t.finding.excerpt.replace("```", "'''");
        let _ = write!(out, "<details><summary>{} boot {}: {}</summary>\n\n```\n{excerpt}\n```\n\n</details>\n\n", cell(&t.variant), t.boot, t.finding.kind.title());
    }
    out
}

/// One level's tables; `folder` is where the analysis' plots/ lives, relative to the
/// report ("" for its own folder, "hosts/a/" for a host's).
pub(super) fn level_section(analysis: &Analysis, level: &LevelAnalysis, plots: &[String], folder: &str) -> String {
    let heading = if folder.is_empty() { "##" } else { "###" };
    let mut out = format!("{heading} {}\n\n", level_title(&level.jobs_label, level.jobs));
    let counts: Vec<String> = level.variants.iter().map(run_counts).collect();
    let _ = writeln!(out, "Runs: {}.\n", counts.join("; "));
    out.push_str(&comparison_table(analysis, level));
    out.push_str(&plot_links(level, plots, folder));
    out.push_str(&details(level));
    out
}

fn run_counts(v: &VariantAtLevel) -> String {
    let mut counts = match v.failed_runs {
        0 => format!("{} {} ok", v.variant, v.ok_runs),
        failed => format!("{} {} ok, {failed} failed (excluded)", v.variant, v.ok_runs),
    };
    if !v.noisy_runs.is_empty() {
        let runs: Vec<String> = v.noisy_runs.iter().map(|n| n.run.to_string()).collect();
        counts += &format!(", {} {NOISY_MARK} on a noisy host (run {})", v.noisy_runs.len(), runs.join(", "));
    }
    counts
}

fn comparison_table(analysis: &Analysis, level: &LevelAnalysis) -> String {
    let mut header = format!("| metric | {} (baseline) |", cell(&analysis.baseline));
    let mut rule = String::from("|---|---|");
    for v in level.variants.iter().skip(1) {
        let _ = write!(header, " {} | change | 95 % interval | p | verdict |", cell(&v.variant));
        rule.push_str("---|---|---|---|---|");
    }
    let mut out = format!("{header}\n{rule}\n");
    for &metric in &analysis.metrics {
        let base = level.variants[0].metric(metric);
        let _ = write!(out, "| {} ({}) | {} |", metric.title(), metric.unit(), mean_sd(base));
        for v in level.variants.iter().skip(1) {
            out.push_str(&comparison_cells(v.metric(metric)));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

fn mean_sd(m: &MetricAnalysis) -> String {
    match &m.summary {
        None if m.not_measured => "not measured".into(),
        None => "no successful run".into(),
        Some(s) => match s.sd {
            Some(sd) => format!("{} ± {} (n = {})", number(s.mean), number(sd), s.n),
            None => format!("{} (n = {})", number(s.mean), s.n),
        },
    }
}

fn comparison_cells(m: &MetricAnalysis) -> String {
    let Some(c) = &m.comparison else {
        return format!(" {} | n/a | n/a | n/a | not compared |", mean_sd(m));
    };
    let word = m.metric.verdict_word(c.verdict);
    let verdict = if c.verdict.is_change() { format!("**{word}**") } else { word.to_string() };
    let star = if c.mmtests_significant { " ★" } else { "" };
    let change = c.change_percent.map(percent).unwrap_or_else(|| "n/a".into());
    format!(" {} | {change} | {} | {} | {verdict}{star} |", mean_sd(m), percent_interval(c.change_ci95), p_value(c.p_value))
}

fn plot_links(level: &LevelAnalysis, plots: &[String], folder: &str) -> String {
    let stem = format!("plots/{}-", super::plots::level_stem(level));
    let mut out = String::new();
    for (kind, caption) in [
        ("means", "mean with 95 % interval"),
        ("runs", "every run (outliers in red)"),
        ("memory", "memory metrics: mean with 95 % interval"),
        ("change", "change against the baseline"),
    ] {
        let png = format!("{stem}{kind}.png");
        if plots.contains(&png) {
            let _ = writeln!(out, "![{caption}]({folder}{png})\n\n[{caption}: SVG]({folder}{stem}{kind}.svg)\n");
        }
    }
    out
}

fn details(level: &LevelAnalysis) -> String {
    let mut out = String::from(
        "<details><summary>Every statistic</summary>\n\n| variant | metric | n | mean | SD | median | min | max | CoV % | 95 % CI of the mean | outlier runs |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in &level.variants {
        for m in &v.metrics {
            let Some(s) = &m.summary else { continue };
            let opt = |x: Option<f64>| x.map(number).unwrap_or_else(|| "n/a".into());
            let ci = s.ci95.map(|i| format!("[{}, {}]", number(i.low), number(i.high))).unwrap_or_else(|| "n/a".into());
            let outliers: Vec<String> = m.outlier_runs.iter().map(|r| r.to_string()).collect();
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {ci} | {} |",
                cell(&v.variant),
                m.metric.title(),
                m.unit,
                s.n,
                number(s.mean),
                opt(s.sd),
                number(s.median),
                number(s.min),
                number(s.max),
                opt(s.cov_percent),
                if outliers.is_empty() { "none".into() } else { outliers.join(", ") }
            );
        }
    }
    out.push_str("\n</details>\n\n");
    out
}

/// Text safe inside a Markdown table cell.
pub(super) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord};
    use crate::stats::{analyze, Thresholds};

    #[test]
    fn a_level_counts_and_names_its_noisy_runs_and_the_warning_says_why() {
        let records: Vec<RunRecord> = (1..=3)
            .map(|run| RunRecord { run, noise: if run == 3 { "steal 9.0 % (limit 2.0 %)".into() } else { String::new() }, ..test_record() })
            .collect();
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let warnings: Vec<String> = analysis.warnings.iter().map(|w| w.to_string()).collect();
        let page = render(&analysis, &facts, &warnings, &[]);
        assert!(page.contains("Runs: baseline 3 ok, 1 ⚠ on a noisy host (run 3)."), "{page}");
        assert!(page.contains("- baseline half: 1 of 3 successful runs were measured on a noisy host: run 3 (steal 9.0 % (limit 2.0 %))"), "{page}");
    }
}
