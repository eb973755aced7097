//! One study's report as data ([`Document`]), built once and rendered as report.md and
//! report.html: the headline first, then per jobs level the baseline and each variant side
//! by side with the verdict (the legend under it), the warnings, the machine and guests,
//! the time budget, every run, and the metrics' meanings.

use super::facts::Facts;
use super::kernbench::level_title;
use super::time_budget::{boot_rows, budget_text, BOOT_COLUMNS};
use crate::model::RunRecord;
use crate::report::format::{change_interval, change_percent, number, p_value, NOISY_MARK};
use crate::report::headline;
use crate::report::model::{
    code, strong, text, verdict_tone, verdict_words, Block, Cell, Document, Figure, Inline, Row, Section, Table, DEFAULT_METRICS,
};
use crate::stats::{Analysis, LevelAnalysis, Metric, MetricAnalysis, Thresholds, VariantAtLevel, MIN_RUNS};

/// A plot written to plots/: its path (plots/…, .png or .svg) and, for an SVG the page
/// carries inline, its text.
pub struct Plot {
    pub path: String,
    pub svg: Option<String>,
}

pub fn study(analysis: &Analysis, facts: &Facts, warnings: &[String], records: &[RunRecord], plots: &[Plot]) -> Document {
    let name = facts.scenario.as_deref().unwrap_or("results");
    let mut sections: Vec<Section> = analysis.levels.iter().map(|level| level_section(analysis, level, plots, "")).collect();
    sections.push(warnings_section(warnings));
    sections.push(facts_section(facts));
    sections.push(kernel_section(facts));
    sections.extend(time_budget_section(facts));
    sections.push(runs_section(records));
    sections.push(metrics_section(&analysis.metrics));
    Document {
        title: format!("kbench report: {name}"),
        headline: headline::study(analysis, facts.accel.as_deref(), facts.kernel_trouble.len()),
        contents: true,
        sections,
    }
}

fn level_anchor(level: &LevelAnalysis) -> String {
    format!("level-{}", crate::report::plots::level_stem(level))
}

/// One level: its run counts, the table of the default metrics with its legend, the plots,
/// then folded: the other metrics and every statistic. `folder` is where the analysis'
/// plots/ lives, relative to the report ("" for its own folder, "hosts/a/" for a host's).
pub fn level_section(analysis: &Analysis, level: &LevelAnalysis, plots: &[Plot], folder: &str) -> Section {
    let id = if folder.is_empty() { level_anchor(level) } else { String::new() };
    let mut section = Section::new(id, level_title(&level.jobs_label, level.jobs));
    let counts: Vec<String> = level.variants.iter().map(run_counts).collect();
    section.push(Block::Para(vec![text(format!("Runs: {}.", counts.join("; ")))]));
    let shown: Vec<Metric> = analysis.metrics.iter().copied().filter(|m| DEFAULT_METRICS.contains(m)).collect();
    section.push(Block::Table(comparison_table(analysis, level, &shown)));
    section.push(Block::Note(how_to_read(&analysis.baseline, &analysis.thresholds)));
    section.blocks.extend(figures(level, plots, folder));
    let more: Vec<Metric> =
        analysis.metrics.iter().copied().filter(|m| !DEFAULT_METRICS.contains(m) && has_something_to_compare(level, *m)).collect();
    if !more.is_empty() {
        let left_out = analysis.metrics.len() - shown.len() - more.len();
        let mut more_table = comparison_table(analysis, level, &more);
        more_table.class = "comparison more";
        let mut blocks = vec![Block::Table(more_table)];
        if left_out > 0 {
            blocks.push(Block::Note(vec![text(format!(
                "{left_out} more metric(s) left out: the same value in every run of every variant, nothing to compare (summary.csv has them)."
            ))]));
        }
        section.push(Block::Details { summary: format!("More metrics ({})", more.len()), open: false, blocks });
    }
    section.push(Block::Details { summary: "Every statistic".into(), open: false, blocks: vec![Block::Table(statistics_table(level))] });
    section
}

/// The legend of a comparison table, beside it.
fn how_to_read(baseline: &str, t: &Thresholds) -> Vec<Inline> {
    vec![
        text("Baseline: "),
        code(baseline),
        text(format!(
            ". Mean ± sample SD (n − 1, as kernbench) of the successful runs; each variant against the baseline at the same -j. \
Verdict: {} (intervals: Fieller's, for the ratio of the two means). With fewer than {MIN_RUNS} successful runs on a side there is no verdict, only ",
            t.rule_words()
        )),
        Inline::Em(verdict_words(Metric::Elapsed, crate::stats::Verdict::TooFewRuns).into()),
        text(". Failed runs are excluded and counted; outliers are flagged, never removed."),
    ]
}

/// A metric worth a row: some run measured it, and not the same value in every run of
/// every variant (major faults that are all 0, a constant count).
fn has_something_to_compare(level: &LevelAnalysis, metric: Metric) -> bool {
    let summaries: Vec<_> = level.variants.iter().filter_map(|v| v.metric(metric).summary.as_ref()).collect();
    let Some(first) = summaries.first() else { return false };
    !summaries.iter().all(|s| s.sd.unwrap_or(0.0) == 0.0 && s.mean == first.mean)
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

/// The baseline's column is titled by its name, "(baseline)" added unless that is its name.
fn baseline_title(baseline: &str) -> String {
    if baseline == "baseline" {
        baseline.to_string()
    } else {
        format!("{baseline} (baseline)")
    }
}

pub fn comparison_table(analysis: &Analysis, level: &LevelAnalysis, metrics: &[Metric]) -> Table {
    let mut columns = vec!["metric".to_string(), format!("#{}", baseline_title(&analysis.baseline))];
    for v in level.variants.iter().skip(1) {
        columns.extend([format!("#{}", v.variant), "#change".into(), "#95 % interval".into(), "#p".into(), "verdict".into()]);
    }
    // On a phone each variant's mean, interval and p give way to its change and verdict
    // (the headline has the interval), so the verdict stays on screen.
    let narrow_hidden = (0..level.variants.len().saturating_sub(1)).flat_map(|v| [2 + 5 * v, 4 + 5 * v, 5 + 5 * v]).collect();
    let mut table = Table { class: "comparison", columns, rows: Vec::new(), narrow_hidden };
    for &metric in metrics {
        let mut cells =
            vec![Cell::Head(format!("{} ({})", metric.title(), metric.unit())), Cell::num(mean_sd(level.variants[0].metric(metric)))];
        for v in level.variants.iter().skip(1) {
            cells.extend(comparison_cells(v.metric(metric)));
        }
        table.push(cells);
    }
    table
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

fn comparison_cells(m: &MetricAnalysis) -> Vec<Cell> {
    let Some(c) = &m.comparison else {
        return vec![Cell::num(mean_sd(m)), Cell::num("n/a"), Cell::num("n/a"), Cell::num("n/a"), Cell::text("not compared")];
    };
    vec![
        Cell::num(mean_sd(m)),
        Cell::num(change_percent(c)),
        Cell::num(change_interval(c)),
        Cell::num(p_value(c.p_value)),
        Cell::Verdict {
            words: verdict_words(m.metric, c.verdict).into(),
            tone: verdict_tone(m.metric, c.verdict),
            star: c.mmtests_significant,
        },
    ]
}

fn figures(level: &LevelAnalysis, plots: &[Plot], folder: &str) -> Vec<Block> {
    let stem = format!("plots/{}-", crate::report::plots::level_stem(level));
    let mut out = Vec::new();
    for (kind, caption) in [
        ("means", "mean with 95 % interval"),
        ("runs", "every run (outliers in red)"),
        ("memory", "memory metrics: mean with 95 % interval"),
        ("change", "change against the baseline"),
    ] {
        let (png, svg) = (format!("{stem}{kind}.png"), format!("{stem}{kind}.svg"));
        let drawn = plots.iter().any(|p| p.path == png || p.path == svg);
        if !drawn {
            continue;
        }
        let inline = plots.iter().find(|p| p.path == svg).and_then(|p| p.svg.clone());
        out.push(Block::Figure(Figure {
            caption: caption.into(),
            png: format!("{folder}{png}"),
            svg_path: format!("{folder}{svg}"),
            svg: inline,
        }));
    }
    out
}

fn statistics_table(level: &LevelAnalysis) -> Table {
    let mut table = Table::new(
        "",
        &["variant", "metric", "#n", "#mean", "#SD", "#median", "#min", "#max", "#CoV %", "#95 % CI of the mean", "outlier runs"],
    );
    let opt = |x: Option<f64>| x.map(number).unwrap_or_else(|| "n/a".into());
    for v in &level.variants {
        for m in &v.metrics {
            let Some(s) = &m.summary else { continue };
            let ci = s.ci95.map(|i| format!("[{}, {}]", number(i.low), number(i.high))).unwrap_or_else(|| "n/a".into());
            let outliers: Vec<String> = m.outlier_runs.iter().map(|r| r.to_string()).collect();
            table.push(vec![
                Cell::text(&v.variant),
                Cell::text(format!("{} ({})", m.metric.title(), m.unit)),
                Cell::num(s.n.to_string()),
                Cell::num(number(s.mean)),
                Cell::num(opt(s.sd)),
                Cell::num(number(s.median)),
                Cell::num(number(s.min)),
                Cell::num(number(s.max)),
                Cell::num(opt(s.cov_percent)),
                Cell::num(ci),
                Cell::text(if outliers.is_empty() { "none".into() } else { outliers.join(", ") }),
            ]);
        }
    }
    table
}

pub fn warnings_section(warnings: &[String]) -> Section {
    let mut section = Section::new("warnings", "Warnings");
    if warnings.is_empty() {
        section.push(Block::Para(vec![text("None.")]));
    } else {
        section.push(Block::Warnings(warnings.to_vec()));
    }
    section
}

fn poisoning(on: Option<bool>) -> &'static str {
    match on {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

pub fn facts_section(facts: &Facts) -> Section {
    let mut section = Section::new("facts", "Machine and guests");
    let mut machine = Table::default();
    for (name, value) in facts.table_rows() {
        let value = if name == "Workload" { Cell::Code(value) } else { Cell::Text(value) };
        machine.push(vec![Cell::Head(name.into()), value]);
    }
    section.push(Block::Table(machine));
    let mut variants = Table::new("", &["variant", "guest kernel", "kernel command line in the guest", "slab poisoning"]);
    for v in &facts.variants {
        variants.push(vec![
            Cell::text(&v.name),
            Cell::text(&v.kernel_release),
            Cell::Code(v.cmdline_in_guest.clone()),
            Cell::text(poisoning(v.slab_poisoning)),
        ]);
    }
    section.push(Block::Table(variants));
    section.blocks.extend(hardening(facts).map(Block::Section));
    section.blocks.extend(stopping(facts).map(Block::Section));
    section
}

/// The kernel's own view of its memory hardening, per variant and boot (meta.json).
fn hardening(facts: &Facts) -> Option<Section> {
    if facts.variants.iter().all(|v| v.kernel_views.is_empty()) {
        return None;
    }
    let mut section = Section::new("", "Memory hardening as the kernel reports it");
    section.push(Block::Para(vec![text(
        "The \"mem auto-init\" line of each boot's kernel log, and /sys/kernel/slab at the end of the boot's runs.",
    )]));
    let mut table =
        Table::new("", &["variant", "#boot", "stack", "heap alloc", "heap free", "#caches", "#poisoned", "#red-zoned", "largest cache"]);
    for v in &facts.variants {
        for k in &v.kernel_views {
            let (stack, alloc, free) = match &k.view.mem_auto_init {
                Some(i) => (i.stack.as_str(), i.heap_alloc.as_str(), i.heap_free.as_str()),
                None => ("not in the log", "?", "?"),
            };
            let largest = k.view.largest_caches.first().map(|c| format!("{} ({} KiB)", c.name, c.memory_kib)).unwrap_or_default();
            table.push(vec![
                Cell::text(&v.name),
                Cell::num(k.boot.to_string()),
                Cell::text(stack),
                Cell::text(alloc),
                Cell::text(free),
                Cell::num(k.view.caches.to_string()),
                Cell::num(k.view.poisoned.to_string()),
                Cell::num(k.view.red_zoned.to_string()),
                Cell::text(largest),
            ]);
        }
    }
    section.push(Block::Table(table));
    for v in &facts.variants {
        let Some(last) = v.kernel_views.last().filter(|l| !l.view.largest_caches.is_empty()) else { continue };
        section.push(Block::Para(vec![text("Largest slab caches of "), code(&v.name), text(format!(" (boot {}):", last.boot))]));
        let mut caches = Table::new("", &["cache", "#memory (KiB)", "#objects", "#object size (B)"]);
        for c in &last.view.largest_caches {
            caches.push(vec![
                Cell::text(&c.name),
                Cell::num(c.memory_kib.to_string()),
                Cell::num(c.objects.to_string()),
                Cell::num(c.object_size.to_string()),
            ]);
        }
        section.push(Block::Table(caches));
    }
    Some(section)
}

/// `runs = "auto"`: what stopped each variant and level's runs.
fn stopping(facts: &Facts) -> Option<Section> {
    let first = facts.stopping.first()?;
    let mut section = Section::new("", "Enough runs");
    section.push(Block::Para(vec![code("runs = \"auto\""), text(format!(": {}", first.rule_sentence()))]));
    let mut table = Table::new("", &["variant", "level", "stopped"]);
    for stop in &facts.stopping {
        table.push(vec![Cell::text(&stop.variant), Cell::text(&stop.level), Cell::text(stop.describe())]);
    }
    section.push(Block::Table(table));
    Some(section)
}

/// Per boot, what the kernel reported: the study's own signal (a SLUB report under
/// `slub_debug=P` is a bug found, whatever the timings say).
pub fn kernel_section(facts: &Facts) -> Section {
    let mut section = Section::new("kernel-trouble", "Kernel trouble");
    if facts.accel.is_none() {
        section.push(Block::Para(vec![text("Unknown (no meta.json).")]));
        return section;
    }
    if facts.kernel_trouble.is_empty() {
        section.push(Block::Para(vec![text(
            "None: no panic, oops, BUG, SLUB, KASAN or KFENCE report, lockup, RCU stall, hung task or WARNING in any boot's console or kernel log.",
        )]));
        return section;
    }
    let mut table = Table::new("", &["variant", "#boot", "what", "#reports", "the first", "log"]);
    for t in &facts.kernel_trouble {
        table.push(vec![
            Cell::text(&t.variant),
            Cell::num(t.boot.to_string()),
            Cell::text(t.finding.kind.title()),
            Cell::num(t.finding.count.to_string()),
            Cell::Code(t.finding.line.clone()),
            Cell::text(&t.log_file),
        ]);
    }
    section.push(Block::Table(table));
    for t in &facts.kernel_trouble {
        section.push(Block::Details {
            summary: format!("{} boot {}: {}", t.variant, t.boot, t.finding.kind.title()),
            open: false,
            blocks: vec![Block::Pre(t.finding.excerpt.clone())],
        });
    }
    section
}

/// The share of the wall time the timed runs had, the rest, bench's CPU share, each boot.
fn time_budget_section(facts: &Facts) -> Option<Section> {
    let budget = facts.time_budget.as_ref()?;
    let words = budget_text(budget);
    let mut section = Section::new("time-budget", "Time budget");
    section.push(Block::Para(vec![text(words.headline)]));
    let mut parts = Table::new("", &["part", "#seconds", "#share of the wall time"]);
    for [name, seconds, share] in words.parts {
        parts.push(vec![Cell::Text(name), Cell::Num(seconds), Cell::Num(share)]);
    }
    section.push(Block::Table(parts));
    section.push(Block::Para(vec![text(words.cpu)]));
    if let Some(resumed) = words.resumed {
        section.push(Block::Note(vec![text(resumed)]));
    }
    if let Some(snapshots) = words.snapshots {
        section.push(Block::Para(vec![text(snapshots)]));
    }
    let rows = boot_rows(&facts.boots);
    if !rows.is_empty() {
        let mut boots = Table::new("", &BOOT_COLUMNS);
        boots.rows = rows.into_iter().map(|row| Row::new(row.into_iter().map(Cell::Text).collect())).collect();
        section.push(Block::Table(boots));
    }
    Some(section)
}

/// Every row of runs.csv, failed runs included (with why they failed), noisy runs marked
/// with why: the detail the one noise warning sums up.
fn runs_section(records: &[RunRecord]) -> Section {
    let mut section = Section::new("runs", "Every run");
    section.push(Block::Note(vec![text(format!(
        "As in runs.csv; failed runs are listed and excluded from every statistic; {NOISY_MARK} marks a run measured on a noisy host (kept in the statistics), the host noise column says why."
    ))]));
    let mut table = Table::new(
        "runs",
        &[
            "variant",
            "level",
            "#-j",
            "#run",
            "status",
            "#elapsed s",
            "#user s",
            "#sys s",
            "#% CPU",
            "#ctx switches",
            "#sleeps",
            "#max RSS KiB",
            "kernel",
            "started",
            "#host other CPU %",
            "host noise",
            "failure",
        ],
    );
    for r in records {
        let mut status = if r.is_ok() { "ok" } else { "failed" }.to_string();
        if r.is_noisy() {
            status += &format!(" {NOISY_MARK}");
        }
        let class = match (r.is_ok(), r.is_noisy()) {
            (false, _) => "failed",
            (true, true) => "noisy",
            (true, false) => "",
        };
        table.rows.push(Row {
            class,
            cells: vec![
                Cell::text(&r.variant),
                Cell::text(&r.jobs_label),
                Cell::num(r.jobs.to_string()),
                Cell::num(r.run.to_string()),
                Cell::Text(status),
                Cell::num(number(r.elapsed_s)),
                Cell::num(number(r.user_s)),
                Cell::num(number(r.sys_s)),
                Cell::num(number(r.percent_cpu)),
                Cell::num(r.ctx_switches.to_string()),
                Cell::num(r.sleeps.to_string()),
                Cell::num(r.max_rss_kib.to_string()),
                Cell::text(&r.kernel_release),
                Cell::text(&r.started_at),
                Cell::num(r.host_other_cpu_percent.map(number).unwrap_or_default()),
                Cell::text(&r.noise),
                Cell::text(&r.failure),
            ],
        });
    }
    section.push(Block::Details { summary: format!("Every run ({})", records.len()), open: false, blocks: vec![Block::Table(table)] });
    section
}

pub fn metrics_section(metrics: &[Metric]) -> Section {
    let mut section = Section::new("metrics", "The metrics");
    let items = metrics.iter().map(|m| vec![strong(m.title()), text(format!(" ({}): {}.", m.unit(), m.reading()))]).collect();
    section.push(Block::List(items));
    section.push(Block::Note(vec![text(
        "Every number comes from runs.csv; summary.csv and report.json have them at full precision; plots/ has each figure as PNG and SVG.",
    )]));
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};
    use crate::report::markup::{to_html, to_markdown};
    use crate::stats::{analyze, Thresholds};

    fn records() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (i, (b, p)) in [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].iter().enumerate() {
            records.push(RunRecord {
                variant: "<poison>".into(),
                jobs_label: "half".into(),
                run: i as u32 + 1,
                elapsed_s: *p,
                ..test_record()
            });
            records.push(RunRecord { variant: "off".into(), jobs_label: "half".into(), run: i as u32 + 1, elapsed_s: *b, ..test_record() });
        }
        records.push(RunRecord {
            variant: "<poison>".into(),
            jobs_label: "half".into(),
            run: 6,
            status: RunStatus::Failed,
            failure: "timed out & killed".into(),
            ..test_record()
        });
        records
    }

    #[test]
    fn the_page_opens_with_the_headline_escapes_names_shows_the_verdict_and_lists_failed_runs() {
        let records = records();
        let analysis = analyze(&records, Some("off"), &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let plot = Plot {
            path: format!("plots/{}-means.svg", crate::report::plots::level_stem(&analysis.levels[0])),
            svg: Some("<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"5\"></svg>\n".into()),
        };
        let page = to_html(&study(&analysis, &facts, &["a <warning>".into()], &records, &[plot]));
        assert!(page.starts_with("<!DOCTYPE html>"));
        let headline = page.find("<section id=\"headline\"").expect("a headline");
        assert!(headline < page.find("<table").unwrap(), "the answer comes before any table");
        assert!(
            page.contains("<strong>&lt;poison&gt; vs off:</strong> <span class=\"tone-worse\">elapsed +9.8 % [+5.5, +14.0] slower at -j 1"),
            "{page}"
        );
        assert!(page.contains("&lt;poison&gt;") && !page.contains("<poison>"));
        assert!(page.contains("<li>a &lt;warning&gt;</li>"));
        assert!(page.contains("class=\"verdict verdict-change\">slower</td>"), "the slower verdict is marked, without mmtests' star");
        assert!(page.contains("timed out &amp; killed"));
        assert!(page.contains("<svg role=\"img\" aria-label=\"mean with 95 % interval\" width=\"10\"") && !page.contains("<?xml"));
        assert!(!page.contains("src=") && !page.contains("href=\"http"), "nothing is fetched");
        // At phone width the variant's mean gives way to its change and verdict.
        let poison = page.find("<th class=\"num wide\">&lt;poison&gt;</th>").unwrap();
        assert!(page.find("<th class=\"num\">off (baseline)</th>").unwrap() < poison, "the baseline's column comes first");
    }

    #[test]
    fn the_markdown_opens_with_the_headline_and_stars_and_labels_mmtests_rule_under_its_table() {
        let records = records();
        let analysis = analyze(&records, Some("off"), &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let md = to_markdown(&study(&analysis, &facts, &[], &records, &[]));
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "# kbench report: results");
        assert!(lines[2].starts_with("- <poison> vs off: **elapsed +9.8 % [+5.5, +14.0] slower at -j 1**"), "{md}");
        assert!(md.contains("| **slower** ★ |") && md.contains(" |\n\n★ means mmtests' rule"), "{md}");
        assert!(!md.contains("Major Faults"), "{md}");
    }

    #[test]
    fn noisy_runs_are_marked_in_the_run_list_and_counted_per_level() {
        let mut records = records();
        records[2].noise = "other processes used 150 % of a CPU (limit 20 %)".into(); // <poison> run 2
        records[2].host_other_cpu_percent = Some(150.0);
        let analysis = analyze(&records, Some("off"), &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let page = to_html(&study(&analysis, &facts, &[], &records, &[]));
        assert!(page.contains("&lt;poison&gt; 5 ok, 1 failed (excluded), 1 ⚠ on a noisy host (run 2)"), "the level's run counts");
        let row = page.lines().find(|l| l.contains("<tr class=\"noisy\">")).expect("a noisy row");
        assert!(
            row.contains("<td>ok ⚠</td>") && row.contains("<td class=\"num\">150.0</td>") && row.contains("used 150 % of a CPU"),
            "{row}"
        );
        assert_eq!(page.matches("<tr class=\"noisy\">").count(), 1);
    }

    #[test]
    fn a_metric_with_nothing_to_compare_is_no_verdict_row() {
        let mut records = records();
        for r in &mut records {
            r.major_faults = Some(0);
            r.minor_faults = Some(u64::from(r.run) * 10);
        }
        let analysis = analyze(&records, Some("off"), &Thresholds::default()).unwrap();
        let md = to_markdown(&study(&analysis, &Facts::gather(None, &analysis), &[], &records, &[]));
        assert!(md.contains("| Minor Faults (count) |"), "{md}");
        assert!(!md.contains("\n| Major Faults (count) |") && md.contains("5 more metric(s) left out"), "{md}");
    }
}
