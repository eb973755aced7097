//! report.html: the report as one page a browser opens from disk. Self-contained on
//! purpose (a CI artifact or a mail attachment has no folder around it): the styles and
//! the plots (SVG) are inline, nothing is fetched, and a Content-Security-Policy says so
//! to the browser. Readable at phone width (tables scroll sideways inside their box, plots
//! scale) and printable (no details folded away, no page-wide backgrounds).

use super::facts::Facts;
use crate::report::format::{number, p_value, percent, percent_interval, NOISY_MARK};
use super::kernbench::level_title;
use super::time_budget::{boot_rows, budget_text, BOOT_COLUMNS};
use crate::model::RunRecord;
use crate::stats::{Analysis, LevelAnalysis, Metric, MetricAnalysis, VariantAtLevel};
use std::fmt::Write;

/// A plot to show inline: its path in the results folder (plots/…svg) and its SVG text.
pub struct InlinePlot {
    pub path: String,
    pub svg: String,
}

pub fn render(analysis: &Analysis, facts: &Facts, warnings: &[String], records: &[RunRecord], plots: &[InlinePlot]) -> String {
    let name = facts.scenario.as_deref().unwrap_or("results");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n{}<title>kbench report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>kbench report: {}</h1>\n",
        HEAD,
        escape(name),
        escape(name)
    );
    out.push_str(&how_to_read(analysis));
    out.push_str(&contents(analysis));
    out.push_str(&warnings_section(warnings));
    out.push_str(&facts_section(facts));
    out.push_str(&time_budget_section(facts));
    for level in &analysis.levels {
        out.push_str(&level_section(analysis, level, plots));
    }
    out.push_str(&runs_section(records));
    out.push_str(&metrics_legend(&analysis.metrics));
    out.push_str("</main>\n");
    out.push_str(SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

/// What every page's <head> starts with; the policy lets the page fetch nothing at all.
pub(crate) const HEAD: &str = "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";

/// Phone first: one column, tables in a horizontally scrolling box, plots at 100 % width.
pub(crate) const STYLE: &str = r#"
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --bad: #b42318; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; background: #fff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
p, li { max-width: 60rem; }
nav ul { padding-left: 1.2rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: .5rem 0 1rem; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-size: .9rem; min-width: 100%; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
tbody tr:last-child td { border-bottom: none; }
code { font: .85em ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
tbody th[scope="row"] { white-space: nowrap; }
td.verdict { min-width: 7.5rem; }
td.kernel { white-space: nowrap; }
.verdict-change { font-weight: 700; color: var(--bad); }
.verdict-better { font-weight: 700; color: var(--good); }
.failed td { color: var(--bad); }
.warnings li { color: var(--bad); }
tr.noisy td { background: var(--noisy, #fff4d6); }
figure { margin: 1rem 0; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .85rem; }
.muted { color: var(--muted); }
@media (max-width: 40rem) {
  body { font-size: 14px; }
  main { padding: .6rem; }
  th, td { padding: .25rem .4rem; }
}
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  .scroll { overflow: visible; border: none; }
  thead th { position: static; }
  details > *:not(summary) { display: block; }
  details summary { display: none; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  nav { display: none; }
}
"#;

/// Not needed to read the page: it records the size each plot was laid out at and the
/// viewport's width (for the browser test), and opens folded details before printing.
pub(crate) const SCRIPT: &str = r#"<script>
(function () {
  var sizes = [];
  document.querySelectorAll("figure svg").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    sizes.push(Math.round(box.width) + "x" + Math.round(box.height));
  });
  document.body.setAttribute("data-svg-sizes", sizes.join(" "));
  document.body.setAttribute("data-viewport-width", String(document.documentElement.clientWidth));
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
</script>
"#;

fn how_to_read(analysis: &Analysis) -> String {
    let t = &analysis.thresholds;
    format!(
        "<p>Baseline: <code>{}</code>. Each variant's mean is compared with the baseline's at the same <code>-j</code> \
level. Verdict: {}. ★ marks mmtests' rule: the \
intervals mean ± 1.96 · SD of the two variants do not overlap. Values are mean ± sample SD (n − 1, as kernbench). Failed \
runs are excluded and counted; outliers are flagged, never removed.</p>\n",
        escape(&analysis.baseline),
        t.rule_words()
    )
}

fn contents(analysis: &Analysis) -> String {
    let mut out = String::from("<nav><ul>\n<li><a href=\"#warnings\">Warnings</a></li>\n<li><a href=\"#facts\">Machine and guests</a></li>\n");
    out.push_str("<li><a href=\"#time-budget\">Time budget</a></li>\n");
    for level in &analysis.levels {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", level_anchor(level), escape(&level_title(&level.jobs_label, level.jobs)));
    }
    out.push_str("<li><a href=\"#runs\">Every run</a></li>\n<li><a href=\"#metrics\">The metrics</a></li>\n</ul></nav>\n");
    out
}

fn level_anchor(level: &LevelAnalysis) -> String {
    format!("level-{}", super::plots::level_stem(level))
}

fn warnings_section(warnings: &[String]) -> String {
    let mut out = String::from("<section id=\"warnings\">\n<h2>Warnings</h2>\n");
    if warnings.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"warnings\">\n");
        for warning in warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(warning));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    out
}

fn facts_section(facts: &Facts) -> String {
    let mut out = String::from("<section id=\"facts\">\n<h2>Machine and guests</h2>\n<div class=\"scroll\"><table>\n<tbody>\n");
    for (name, value) in facts.table_rows() {
        let value = if name == "Workload" { format!("<code>{}</code>", escape(&value)) } else { escape(&value) };
        let _ = writeln!(out, "<tr><th scope=\"row\">{name}</th><td>{value}</td></tr>");
    }
    out.push_str("</tbody></table></div>\n<div class=\"scroll\"><table>\n<thead><tr><th>variant</th><th>guest kernel</th><th>kernel command line in the guest</th><th>slab poisoning</th></tr></thead>\n<tbody>\n");
    for v in &facts.variants {
        let poisoning = match v.slab_poisoning {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{poisoning}</td></tr>",
            escape(&v.name),
            escape(&v.kernel_release),
            escape(&v.cmdline_in_guest)
        );
    }
    out.push_str("</tbody></table></div>\n");
    if !facts.kernel_trouble.is_empty() {
        out.push_str("<h3>Kernel trouble</h3>\n<div class=\"scroll\"><table><thead><tr><th>variant</th><th>boot</th><th>what</th><th>reports</th><th>the first</th><th>log</th></tr></thead><tbody>\n");
        for t in &facts.kernel_trouble {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&t.variant),
                t.boot,
                escape(t.finding.kind.title()),
                t.finding.count,
                escape(&t.finding.line),
                escape(&t.log_file)
            );
        }
        out.push_str("</tbody></table></div>\n");
        for t in &facts.kernel_trouble {
            let _ = writeln!(
                out,
                "<details><summary>{} boot {}: {}</summary><pre>{}</pre></details>",
                escape(&t.variant),
                t.boot,
                escape(t.finding.kind.title()),
                escape(&t.finding.excerpt)
            );
        }
    }
    out.push_str(&hardening_table(facts));
    out.push_str(&stopping_table(facts));
    out.push_str("</section>\n");
    out
}

/// `runs = "auto"`: what stopped each variant and level's runs, as report.md has it.
fn stopping_table(facts: &Facts) -> String {
    let Some(first) = facts.stopping.first() else {
        return String::new();
    };
    let mut out = format!(
        "<h3>Enough runs</h3>\n<p><code>runs = \"auto\"</code>: {}</p>\n<div class=\"scroll\"><table><thead><tr><th>variant</th><th>level</th><th>stopped</th></tr></thead><tbody>\n",
        escape(&first.rule_sentence())
    );
    for stop in &facts.stopping {
        let _ = writeln!(out, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", escape(&stop.variant), escape(&stop.level), escape(&stop.describe()));
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// The time budget, as report.md words it.
fn time_budget_section(facts: &Facts) -> String {
    let Some(budget) = &facts.time_budget else { return String::new() };
    let text = budget_text(budget);
    let mut out = format!(
        "<section id=\"time-budget\">\n<h2>Time budget</h2>\n<p>{}</p>\n<div class=\"scroll\"><table>\n<thead><tr><th>part</th><th class=\"num\">seconds</th><th class=\"num\">share of the wall time</th></tr></thead>\n<tbody>\n",
        escape(&text.headline)
    );
    for [name, seconds, share] in &text.parts {
        let _ = writeln!(out, "<tr><td>{}</td><td class=\"num\">{seconds}</td><td class=\"num\">{share}</td></tr>", escape(name));
    }
    let _ = writeln!(out, "</tbody></table></div>\n<p>{}</p>", escape(&text.cpu));
    if let Some(resumed) = &text.resumed {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(resumed));
    }
    let rows = boot_rows(&facts.boots);
    if !rows.is_empty() {
        out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
        for column in BOOT_COLUMNS {
            let _ = write!(out, "<th>{}</th>", escape(column));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
            let _ = writeln!(out, "<tr>{}</tr>", cells.concat());
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");
    out
}

/// The kernel's own view of its memory hardening per variant and boot, as report.md has it.
fn hardening_table(facts: &Facts) -> String {
    if facts.variants.iter().all(|v| v.kernel_views.is_empty()) {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Memory hardening as the kernel reports it</h3>\n<div class=\"scroll\"><table><thead><tr><th>variant</th><th>boot</th>\
<th>stack</th><th>heap alloc</th><th>heap free</th><th class=\"num\">caches</th><th class=\"num\">poisoned</th>\
<th class=\"num\">red-zoned</th><th>largest cache</th></tr></thead><tbody>\n",
    );
    for v in &facts.variants {
        for k in &v.kernel_views {
            let (stack, alloc, free) = match &k.view.mem_auto_init {
                Some(i) => (i.stack.as_str(), i.heap_alloc.as_str(), i.heap_free.as_str()),
                None => ("not in the log", "?", "?"),
            };
            let largest = k.view.largest_caches.first().map(|c| format!("{} ({} KiB)", c.name, c.memory_kib)).unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&v.name),
                k.boot,
                escape(stack),
                escape(alloc),
                escape(free),
                k.view.caches,
                k.view.poisoned,
                k.view.red_zoned,
                escape(&largest)
            );
        }
    }
    out.push_str("</tbody></table></div>\n");
    out
}

fn level_section(analysis: &Analysis, level: &LevelAnalysis, plots: &[InlinePlot]) -> String {
    let mut out = format!(
        "<section id=\"{}\" class=\"level\">\n<h2>{}</h2>\n",
        level_anchor(level),
        escape(&level_title(&level.jobs_label, level.jobs))
    );
    let counts: Vec<String> = level.variants.iter().map(run_counts).collect();
    let _ = writeln!(out, "<p>Runs: {}.</p>", escape(&counts.join("; ")));
    out.push_str(&comparison_table(analysis, level));
    out.push_str(&figures(level, plots));
    out.push_str(&details(level));
    out.push_str("</section>\n");
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

pub(super) fn comparison_table(analysis: &Analysis, level: &LevelAnalysis) -> String {
    let mut out = String::from("<div class=\"scroll\"><table class=\"comparison\">\n<thead><tr><th>metric</th>");
    let _ = write!(out, "<th class=\"num\">{} (baseline)</th>", escape(&analysis.baseline));
    for v in level.variants.iter().skip(1) {
        let _ = write!(
            out,
            "<th class=\"num\">{}</th><th class=\"num\">change</th><th class=\"num\">95 % interval</th><th class=\"num\">p</th><th>verdict</th>",
            escape(&v.variant)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for &metric in &analysis.metrics {
        let base = level.variants[0].metric(metric);
        let _ = write!(out, "<tr><th scope=\"row\">{} ({})</th><td class=\"num\">{}</td>", metric.title(), metric.unit(), mean_sd(base));
        for v in level.variants.iter().skip(1) {
            out.push_str(&comparison_cells(v.metric(metric)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// Numbers break only between the mean ± SD and the count (narrow screens wrap cells).
fn mean_sd(m: &MetricAnalysis) -> String {
    match &m.summary {
        None if m.not_measured => "not measured".into(),
        None => "no successful run".into(),
        Some(s) => match s.sd {
            Some(sd) => format!("{}\u{a0}±\u{a0}{} (n\u{a0}=\u{a0}{})", number(s.mean), number(sd), s.n),
            None => format!("{} (n\u{a0}=\u{a0}{})", number(s.mean), s.n),
        },
    }
}

/// "+9.8 %" and "[+5.5 %, +14.0 %]" that break only after the comma.
fn unbroken(text: String) -> String {
    text.replace(" %", "\u{a0}%")
}

fn comparison_cells(m: &MetricAnalysis) -> String {
    let Some(c) = &m.comparison else {
        return format!("<td class=\"num\">{}</td><td class=\"num\">n/a</td><td class=\"num\">n/a</td><td class=\"num\">n/a</td><td class=\"verdict\">not compared</td>", mean_sd(m));
    };
    let word = m.metric.verdict_word(c.verdict);
    // Red for more (time, memory, switches: the costly way), green for less; percent CPU
    // has no better side and stays red for any change, to be looked at.
    let class = match (c.verdict, m.metric) {
        (v, _) if !v.is_change() => "verdict",
        (_, Metric::PercentCpu) | (crate::stats::Verdict::Higher, _) => "verdict verdict-change",
        _ => "verdict verdict-better",
    };
    let star = if c.mmtests_significant { " ★" } else { "" };
    let change = unbroken(c.change_percent.map(percent).unwrap_or_else(|| "n/a".into()));
    format!(
        "<td class=\"num\">{}</td><td class=\"num\">{change}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{class}\">{word}{star}</td>",
        mean_sd(m),
        unbroken(percent_interval(c.change_ci95)),
        escape(&p_value(c.p_value))
    )
}

fn figures(level: &LevelAnalysis, plots: &[InlinePlot]) -> String {
    let stem = format!("plots/{}-", super::plots::level_stem(level));
    let mut out = String::new();
    for (kind, caption) in [
        ("means", "mean with 95 % interval"),
        ("runs", "every run (outliers in red)"),
        ("memory", "memory metrics: mean with 95 % interval"),
        ("change", "change against the baseline"),
    ] {
        let path = format!("{stem}{kind}.svg");
        if let Some(plot) = plots.iter().find(|p| p.path == path) {
            let _ = writeln!(
                out,
                "<figure>\n{}\n<figcaption>{caption} (also <code>{}</code> and <code>{}</code>)</figcaption>\n</figure>",
                svg_element(&plot.svg, caption),
                escape(&path),
                escape(&path.replace(".svg", ".png"))
            );
        }
    }
    out
}

/// The `<svg>` element of an SVG file, without an XML prolog, labelled for screen readers.
pub(crate) fn svg_element(svg: &str, label: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let element = svg[start..].trim_end();
    element.replacen("<svg", &format!("<svg role=\"img\" aria-label=\"{}\"", escape(label)), 1)
}

fn details(level: &LevelAnalysis) -> String {
    let mut out = String::from(
        "<details><summary>Every statistic</summary>\n<div class=\"scroll\"><table>\n<thead><tr><th>variant</th><th>metric</th>\
<th class=\"num\">n</th><th class=\"num\">mean</th><th class=\"num\">SD</th><th class=\"num\">median</th><th class=\"num\">min</th>\
<th class=\"num\">max</th><th class=\"num\">CoV %</th><th class=\"num\">95 % CI of the mean</th><th>outlier runs</th></tr></thead>\n<tbody>\n",
    );
    for v in &level.variants {
        for m in &v.metrics {
            let Some(s) = &m.summary else { continue };
            let opt = |x: Option<f64>| x.map(number).unwrap_or_else(|| "n/a".into());
            let ci = s.ci95.map(|i| format!("[{}, {}]", number(i.low), number(i.high))).unwrap_or_else(|| "n/a".into());
            let outliers: Vec<String> = m.outlier_runs.iter().map(|r| r.to_string()).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{ci}</td><td>{}</td></tr>",
                escape(&v.variant),
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
    out.push_str("</tbody></table></div>\n</details>\n");
    out
}

/// Every row of runs.csv, failed runs included (with why they failed).
fn runs_section(records: &[RunRecord]) -> String {
    let mut out = String::from(
        "<section id=\"runs\">\n<h2>Every run</h2>\n<p class=\"muted\">As in runs.csv; failed runs are listed and excluded from every statistic; ⚠ marks a run measured on a noisy host (kept in the statistics).</p>\n\
<details open><summary>Every run</summary>\n<div class=\"scroll\"><table class=\"runs\">\n<thead><tr><th>variant</th><th>level</th><th class=\"num\">-j</th>\
<th class=\"num\">run</th><th>status</th><th class=\"num\">elapsed s</th><th class=\"num\">user s</th><th class=\"num\">sys s</th><th class=\"num\">% CPU</th>\
<th class=\"num\">ctx switches</th><th class=\"num\">sleeps</th><th class=\"num\">max RSS KiB</th><th>kernel</th><th>started</th>\
<th class=\"num\">host other CPU %</th><th>host noise</th><th>failure</th></tr></thead>\n<tbody>\n",
    );
    for r in records {
        let mut status = if r.is_ok() { "ok" } else { "failed" }.to_string();
        if r.is_noisy() {
            status += &format!(" {NOISY_MARK}");
        }
        let class = match (r.is_ok(), r.is_noisy()) {
            (false, _) => " class=\"failed\"",
            (true, true) => " class=\"noisy\"",
            (true, false) => "",
        };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{status}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.variant),
            escape(&r.jobs_label),
            r.jobs,
            r.run,
            number(r.elapsed_s),
            number(r.user_s),
            number(r.sys_s),
            number(r.percent_cpu),
            r.ctx_switches,
            r.sleeps,
            r.max_rss_kib,
            escape(&r.kernel_release),
            escape(&r.started_at),
            r.host_other_cpu_percent.map(number).unwrap_or_default(),
            escape(&r.noise),
            escape(&r.failure)
        );
    }
    out.push_str("</tbody></table></div>\n</details>\n</section>\n");
    out
}

fn metrics_legend(metrics: &[Metric]) -> String {
    let mut out = String::from("<section id=\"metrics\">\n<h2>The metrics</h2>\n<ul>\n");
    for &metric in metrics {
        let _ = writeln!(out, "<li><strong>{}</strong> ({}): {}.</li>", metric.title(), metric.unit(), escape(metric.reading()));
    }
    out.push_str(
        "</ul>\n<p class=\"muted\">Every number comes from runs.csv; summary.csv and report.json have them at full precision; \
plots/ has each figure as PNG and SVG.</p>\n</section>\n",
    );
    out
}

/// Text safe in HTML content and in double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};
    use crate::stats::{analyze, Thresholds};

    fn records() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (i, (b, p)) in [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].iter().enumerate() {
            records.push(RunRecord { variant: "off".into(), jobs_label: "half".into(), run: i as u32 + 1, elapsed_s: *b, ..test_record() });
            records.push(RunRecord { variant: "<poison>".into(), jobs_label: "half".into(), run: i as u32 + 1, elapsed_s: *p, ..test_record() });
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
    fn the_page_escapes_names_shows_the_verdict_and_lists_failed_runs() {
        let records = records();
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let plot = InlinePlot { path: format!("plots/{}-means.svg", crate::report::plots::level_stem(&analysis.levels[0])), svg: "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"5\"></svg>\n".into() };
        let page = render(&analysis, &facts, &["a <warning>".into()], &records, &[plot]);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("&lt;poison&gt;") && !page.contains("<poison>"));
        assert!(page.contains("<li>a &lt;warning&gt;</li>"));
        assert!(page.contains("class=\"verdict verdict-change\">slower"), "the slower verdict is marked");
        assert!(page.contains("timed out &amp; killed"));
        assert!(page.contains("<svg role=\"img\" aria-label=\"mean with 95 % interval\" width=\"10\"") && !page.contains("<?xml"));
        assert!(!page.contains("http://") || page.matches("http://").count() == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
        assert!(!page.contains("src=") && !page.contains("href=\"http"), "nothing is fetched");
    }

    #[test]
    fn noisy_runs_are_marked_in_the_run_list_and_counted_per_level() {
        let mut records = records();
        records[3].noise = "other processes used 150 % of a CPU (limit 20 %)".into(); // <poison> run 2
        records[3].host_other_cpu_percent = Some(150.0);
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let facts = Facts::gather(None, &analysis);
        let page = render(&analysis, &facts, &[], &records, &[]);
        assert!(page.contains("&lt;poison&gt; 5 ok, 1 failed (excluded), 1 ⚠ on a noisy host (run 2)"), "the level's run counts");
        let row = page.lines().find(|l| l.contains("<tr class=\"noisy\">")).expect("a noisy row");
        assert!(row.contains("<td>ok ⚠</td>") && row.contains("<td class=\"num\">150.0</td>") && row.contains("used 150 % of a CPU"), "{row}");
        assert_eq!(page.matches("<tr class=\"noisy\">").count(), 1);
    }
}
