//! The one place that makes text safe for the formats kbench writes: XML and HTML
//! (report.html, `bench history --html`, JUnit), and Markdown table cells (report.md,
//! `bench compare --format markdown`, `bench history --format markdown`).

pub use crate::xml::{escape, escape_text};

/// Text safe inside a Markdown table cell: `|` escaped, line breaks as spaces.
pub fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace("\r\n", " ").replace(['\n', '\r'], " ")
}

/// Text safe inside Markdown inline code: backticks would end it early.
pub fn md_code(text: &str) -> String {
    md_cell(text).replace('`', "'")
}

use super::model::{Block, Cell, Document, Figure, Headline, Inline, Section, Table, Tone};
use std::fmt::Write;

// ---- Markdown ----

/// The document as Markdown: the title, the headline as a list, then the sections.
pub fn to_markdown(doc: &Document) -> String {
    let mut out = format!("# {}\n\n", md_cell(&doc.title));
    out.push_str(&headline_markdown(&doc.headline));
    for section in &doc.sections {
        section_markdown(&mut out, section, 2);
    }
    out
}

pub fn headline_markdown(headline: &Headline) -> String {
    let mut out = String::new();
    for line in &headline.lines {
        let text = match line.tone {
            Tone::Plain => md_cell(&line.text),
            _ => format!("**{}**", md_cell(&line.text)),
        };
        match line.subject.as_str() {
            "" => writeln!(out, "- {text}"),
            subject => writeln!(out, "- {}: {text}", md_cell(subject)),
        }
        .ok();
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn section_markdown(out: &mut String, section: &Section, depth: usize) {
    if !section.title.is_empty() {
        let _ = writeln!(out, "{} {}\n", "#".repeat(depth.min(6)), md_cell(&section.title));
    }
    for block in &section.blocks {
        block_markdown(out, block, depth);
    }
}

fn block_markdown(out: &mut String, block: &Block, depth: usize) {
    match block {
        Block::Para(inlines) | Block::Note(inlines) => {
            let _ = writeln!(out, "{}\n", inlines_markdown(inlines));
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(out, "- {}", inlines_markdown(item));
            }
            out.push('\n');
        }
        Block::Warnings(items) => {
            for item in items {
                let _ = writeln!(out, "- {}", md_cell(item));
            }
            out.push('\n');
        }
        Block::Table(table) => table_markdown(out, table),
        Block::Pre(text) => {
            let _ = writeln!(out, "```\n{}\n```\n", text.replace("```", "'''"));
        }
        // A figure without files (drawn for a page only) has nothing to link.
        Block::Figure(f) if f.png.is_empty() => {}
        Block::Figure(f) => {
            let _ = writeln!(out, "![{0}]({1})\n\n[{0}: SVG]({2})\n", f.caption, f.png, f.svg_path);
        }
        Block::Details { summary, blocks, .. } => {
            let _ = writeln!(out, "<details><summary>{}</summary>\n", escape(summary));
            for block in blocks {
                block_markdown(out, block, depth + 1);
            }
            out.push_str("</details>\n\n");
        }
        Block::Section(section) => section_markdown(out, section, depth + 1),
    }
}

fn inlines_markdown(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => t.clone(),
            Inline::Code(t) => format!("`{}`", md_code(t)),
            Inline::Strong(t) => format!("**{t}**"),
            Inline::Em(t) => format!("*{t}*"),
            Inline::Link { text, href } => format!("[{text}]({href})"),
        })
        .collect()
}

fn cell_markdown(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) | Cell::Num(t) | Cell::Head(t) => md_cell(t),
        Cell::Code(t) => format!("`{}`", md_code(t)),
        Cell::Verdict { words, tone, star } => {
            let words = if *tone == Tone::Plain { md_cell(words) } else { format!("**{}**", md_cell(words)) };
            if *star {
                format!("{words} ★")
            } else {
                words
            }
        }
        Cell::Link { text, href } => format!("[{}]({href})", md_cell(text)),
    }
}

fn table_markdown(out: &mut String, table: &Table) {
    let width = table.columns.len().max(table.rows.iter().map(|r| r.cells.len()).max().unwrap_or(0));
    let titles: Vec<String> = (0..width).map(|i| table.columns.get(i).map_or(String::new(), |c| md_cell(column_title(c)))).collect();
    let header = format!("| {} |", titles.join(" | "));
    let _ = writeln!(out, "{}", header.replace("|  |", "| |"));
    let _ = writeln!(out, "|{}", "---|".repeat(width));
    for row in &table.rows {
        let cells: Vec<String> = row.cells.iter().map(cell_markdown).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    let starred = table.rows.iter().flat_map(|r| &r.cells).any(|c| matches!(c, Cell::Verdict { star: true, .. }));
    if starred {
        let _ = writeln!(out, "★ means {}.\n", crate::stats::STAR_MEANS);
    }
}

fn column_title(column: &str) -> &str {
    column.strip_prefix('#').unwrap_or(column)
}

// ---- HTML ----

/// What every page's <head> starts with; the policy lets the page fetch nothing at all.
pub const HEAD: &str = "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";

/// Phone first: one column, tables in a horizontally scrolling box, plots at 100 % width.
pub const STYLE: &str = r#"
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --bad: #b42318; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; background: #fff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
p, li { max-width: 60rem; }
nav ul { padding-left: 0; margin: .25rem 0; list-style: none; }
nav li { display: inline-block; margin-right: .9rem; }
.headline { border: 1px solid var(--line); border-left: 4px solid #0969da; border-radius: 6px; padding: .4rem .8rem; margin: .5rem 0 1rem; }
.headline p { margin: .25rem 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: .5rem 0 1rem; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-size: .9rem; min-width: 100%; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
tbody tr:last-child td { border-bottom: none; }
code { font: .85em ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
tbody th[scope="row"] { white-space: nowrap; }
td.verdict { min-width: 7.5rem; }
.verdict-change, .tone-worse { font-weight: 700; color: var(--bad); }
.verdict-better, .tone-better { font-weight: 700; color: var(--good); }
.failed td { color: var(--bad); }
.warnings li { color: var(--bad); }
tr.noisy td { background: var(--noisy, #fff4d6); }
figure { margin: 1rem 0; }
figure svg { display: block; width: 100%; max-width: 52rem; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .85rem; }
.muted { color: var(--muted); }
@media (max-width: 40rem) {
  .wide { display: none; }
  table.comparison { font-size: .85rem; }
  table.comparison tbody th[scope="row"] { white-space: normal; }
  td.verdict { min-width: 0; }
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

/// Not needed to read the page: it records the size each plot was laid out at, the
/// viewport's size and where the headline is (for the browser test), and opens folded
/// details before printing.
pub const SCRIPT: &str = r#"<script>
(function () {
  var sizes = [];
  document.querySelectorAll("figure svg").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    sizes.push(Math.round(box.width) + "x" + Math.round(box.height));
  });
  document.body.setAttribute("data-svg-sizes", sizes.join(" "));
  document.body.setAttribute("data-viewport-width", String(document.documentElement.clientWidth));
  document.body.setAttribute("data-viewport-height", String(window.innerHeight));
  var headline = document.getElementById("headline");
  if (headline) {
    var box = headline.getBoundingClientRect();
    document.body.setAttribute("data-headline-box", [box.left, box.top, box.right, box.bottom].map(Math.round).join(" "));
  }
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
</script>
"#;

/// The document as one self-contained page.
pub fn to_html(doc: &Document) -> String {
    let title = escape(&doc.title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n{HEAD}<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
    );
    out.push_str(&headline_html(&doc.headline));
    if doc.contents {
        out.push_str("<nav><ul>\n");
        for section in doc.sections.iter().filter(|s| !s.id.is_empty()) {
            let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", escape(&section.id), escape(&section.title));
        }
        out.push_str("</ul></nav>\n");
    }
    for section in &doc.sections {
        section_html(&mut out, section, 2);
    }
    out.push_str("</main>\n");
    out.push_str(SCRIPT);
    out.push_str("</body>\n</html>\n");
    out
}

fn headline_html(headline: &Headline) -> String {
    if headline.lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"headline\" class=\"headline\">\n");
    for line in &headline.lines {
        let subject = if line.subject.is_empty() { String::new() } else { format!("<strong>{}:</strong> ", escape(&line.subject)) };
        let _ = writeln!(out, "<p>{subject}<span class=\"{}\">{}</span></p>", tone_class(line.tone), escape(&line.text));
    }
    out.push_str("</section>\n");
    out
}

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Plain => "tone-plain",
        Tone::Worse => "tone-worse",
        Tone::Better => "tone-better",
    }
}

fn section_html(out: &mut String, section: &Section, depth: usize) {
    let id = if section.id.is_empty() { String::new() } else { format!(" id=\"{}\"", escape(&section.id)) };
    let _ = writeln!(out, "<section{id}>");
    if !section.title.is_empty() {
        let h = depth.min(6);
        let _ = writeln!(out, "<h{h}>{}</h{h}>", escape(&section.title));
    }
    for block in &section.blocks {
        block_html(out, block, depth);
    }
    out.push_str("</section>\n");
}

fn block_html(out: &mut String, block: &Block, depth: usize) {
    match block {
        Block::Para(inlines) => {
            let _ = writeln!(out, "<p>{}</p>", inlines_html(inlines));
        }
        Block::Note(inlines) => {
            let _ = writeln!(out, "<p class=\"muted\">{}</p>", inlines_html(inlines));
        }
        Block::List(items) => {
            out.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", inlines_html(item));
            }
            out.push_str("</ul>\n");
        }
        Block::Warnings(items) => {
            out.push_str("<ul class=\"warnings\">\n");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", escape(item));
            }
            out.push_str("</ul>\n");
        }
        Block::Table(table) => table_html(out, table),
        Block::Pre(text) => {
            let _ = writeln!(out, "<pre>{}</pre>", escape_text(text));
        }
        Block::Figure(f) => figure_html(out, f),
        Block::Details { summary, open, blocks } => {
            let open = if *open { " open" } else { "" };
            let _ = writeln!(out, "<details{open}><summary>{}</summary>", escape(summary));
            for block in blocks {
                block_html(out, block, depth + 1);
            }
            out.push_str("</details>\n");
        }
        Block::Section(section) => section_html(out, section, depth + 1),
    }
}

fn inlines_html(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => escape(t),
            Inline::Code(t) => format!("<code>{}</code>", escape(t)),
            Inline::Strong(t) => format!("<strong>{}</strong>", escape(t)),
            Inline::Em(t) => format!("<em>{}</em>", escape(t)),
            Inline::Link { text, href } => format!("<a href=\"{}\">{}</a>", escape(href), escape(text)),
        })
        .collect()
}

/// Numbers break only where a reader would: "44.59 ± 1.401 (n = 5)" between the mean ± SD
/// and the count, "[+5.5 %, +14.0 %]" after the comma (narrow screens wrap cells).
fn unbroken(text: &str) -> String {
    text.replace(" ± ", "\u{a0}±\u{a0}").replace("n = ", "n\u{a0}=\u{a0}").replace(" %", "\u{a0}%")
}

fn table_html(out: &mut String, table: &Table) {
    let class = if table.class.is_empty() { String::new() } else { format!(" class=\"{}\"", table.class) };
    let _ = writeln!(out, "<div class=\"scroll\"><table{class}>");
    if !table.columns.is_empty() {
        out.push_str("<thead><tr>");
        for (i, column) in table.columns.iter().enumerate() {
            let classes: Vec<&str> = [column.starts_with('#').then_some("num"), table.narrow_hidden.contains(&i).then_some("wide")]
                .into_iter()
                .flatten()
                .collect();
            let class = if classes.is_empty() { String::new() } else { format!(" class=\"{}\"", classes.join(" ")) };
            let _ = write!(out, "<th{class}>{}</th>", escape(column_title(column)));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for row in &table.rows {
        let class = if row.class.is_empty() { String::new() } else { format!(" class=\"{}\"", row.class) };
        let _ = write!(out, "<tr{class}>");
        for (i, cell) in row.cells.iter().enumerate() {
            let html = cell_html(cell);
            match table.narrow_hidden.contains(&i) {
                true => out.push_str(&html.replacen("<td class=\"", "<td class=\"wide ", 1).replacen("<td>", "<td class=\"wide\">", 1)),
                false => out.push_str(&html),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn cell_html(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => format!("<td>{}</td>", escape(t)),
        Cell::Num(t) => format!("<td class=\"num\">{}</td>", escape(&unbroken(t))),
        Cell::Code(t) => format!("<td><code>{}</code></td>", escape(t)),
        Cell::Head(t) => format!("<th scope=\"row\">{}</th>", escape(t)),
        Cell::Verdict { words, tone, .. } => {
            let class = match tone {
                Tone::Plain => "verdict",
                Tone::Worse => "verdict verdict-change",
                Tone::Better => "verdict verdict-better",
            };
            format!("<td class=\"{class}\">{}</td>", escape(&unbroken(words)))
        }
        Cell::Link { text, href } => format!("<td><a href=\"{}\">{}</a></td>", escape(href), escape(text)),
    }
}

fn figure_html(out: &mut String, f: &Figure) {
    let Some(svg) = &f.svg else { return };
    let files = if f.png.is_empty() {
        String::new()
    } else {
        format!(" (also <code>{}</code> and <code>{}</code>)", escape(&f.svg_path), escape(&f.png))
    };
    let _ = writeln!(out, "<figure>\n{}\n<figcaption>{}{files}</figcaption>\n</figure>", svg_element(svg, &f.caption), escape(&f.caption));
}

/// The `<svg>` element of an SVG file, without an XML prolog, labelled for screen readers.
pub fn svg_element(svg: &str, label: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let element = svg[start..].trim_end();
    element.replacen("<svg", &format!("<svg role=\"img\" aria-label=\"{}\"", escape(label)), 1)
}

// ---- Text ----

/// The document as plain text for a terminal or a CI log: each section's title and its
/// blocks, tables aligned, and the headline last (where a terminal leaves the eye).
pub fn to_text(doc: &Document) -> String {
    let mut out = String::new();
    for section in &doc.sections {
        section_text(&mut out, section);
    }
    out.push('\n');
    out.push_str(&doc.headline.to_text());
    out.trim_start().to_string()
}

fn section_text(out: &mut String, section: &Section) {
    if !section.title.is_empty() {
        let _ = writeln!(out, "\n{}", section.title);
    }
    for block in &section.blocks {
        block_text(out, block);
    }
}

fn plain_inlines(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(t) | Inline::Code(t) | Inline::Strong(t) | Inline::Em(t) => t.as_str(),
            Inline::Link { text, .. } => text.as_str(),
        })
        .collect()
}

fn block_text(out: &mut String, block: &Block) {
    match block {
        Block::Para(inlines) | Block::Note(inlines) => {
            let _ = writeln!(out, "{}", plain_inlines(inlines));
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(out, "  {}", plain_inlines(item));
            }
        }
        Block::Warnings(items) => {
            for item in items {
                let _ = writeln!(out, "warning: {item}");
            }
        }
        Block::Table(table) => table_text(out, table),
        Block::Pre(text) => {
            let _ = writeln!(out, "{text}");
        }
        Block::Figure(f) if f.png.is_empty() => {}
        Block::Figure(f) => {
            let _ = writeln!(out, "{}: {}", f.caption, f.svg_path);
        }
        Block::Details { blocks, .. } => blocks.iter().for_each(|b| block_text(out, b)),
        Block::Section(section) => section_text(out, section),
    }
}

fn table_text(out: &mut String, table: &Table) {
    let mut rows: Vec<Vec<String>> = Vec::new();
    if !table.columns.is_empty() {
        rows.push(table.columns.iter().map(|c| column_title(c).to_string()).collect());
    }
    rows.extend(table.rows.iter().map(|r| r.cells.iter().map(|c| c.plain().to_string()).collect()));
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let left: Vec<usize> = (0..width).filter(|&i| !table.columns.get(i).is_some_and(|c| c.starts_with('#'))).collect();
    for row in align(&rows, &left) {
        let _ = writeln!(out, "  {}", row.join("  ").trim_end());
    }
}

/// Pads every column to its widest cell: the columns listed in `left` (names, words) on
/// the left, numbers on the right.
pub fn align(rows: &[Vec<String>], left: &[usize]) -> Vec<Vec<String>> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(c, cell)| if left.contains(&c) { format!("{cell:<0$}", widths[c]) } else { format!("{cell:>0$}", widths[c]) })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_xml_and_html_cannot_carry_is_escaped() {
        assert_eq!(escape("a<b>&\"c'\u{1}\td\n"), "a&lt;b&gt;&amp;&quot;c&#39;\u{FFFD} d&#10;");
        assert_eq!(escape_text("a\n<b>"), "a\n&lt;b&gt;");
    }

    #[test]
    fn markdown_cells_keep_to_one_cell_and_one_line() {
        assert_eq!(md_cell("a|b\r\nc\nd"), "a\\|b c d");
        assert_eq!(md_code("make `x`"), "make 'x'");
    }
}
