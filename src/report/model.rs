//! A report as data: a headline (the answer), then sections of paragraphs, tables of
//! typed cells, notes and figures. Each report (a study, a study over several hosts,
//! `bench history`) is built once as a [`Document`]; [`super::markup`] renders it as
//! text, Markdown and HTML, so a wording lives in one place.
//!
//! A verdict is put into words here and nowhere else ([`verdict_words`], [`verdict_tone`]).

use crate::stats::{Metric, Verdict};
use serde::Serialize;

/// The metrics the tables show unless asked for more: the time a reader waits and where
/// the CPU spent it. Every other metric goes to a folded "more metrics" table.
pub const DEFAULT_METRICS: [Metric; 3] = [Metric::Elapsed, Metric::User, Metric::Sys];

/// The verdict in the metric's words: "slower", "higher", "same", "inconclusive".
pub fn verdict_words(metric: Metric, verdict: Verdict) -> &'static str {
    metric.verdict_word(verdict)
}

/// How a verdict is shown: red for more (time, memory, switches: the costly way), green
/// for less; percent CPU has no better side and stays red for any change, to be looked at.
pub fn verdict_tone(metric: Metric, verdict: Verdict) -> Tone {
    match (verdict, metric) {
        (v, _) if !v.is_change() => Tone::Plain,
        (_, Metric::PercentCpu) | (Verdict::Higher, _) => Tone::Worse,
        _ => Tone::Better,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Plain,
    /// A change the costly way, a regression, a warning.
    Worse,
    Better,
}

/// A run of text inside a paragraph, a list item or a headline line.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Code(String),
    Strong(String),
    Em(String),
    Link { text: String, href: String },
}

pub fn text(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

pub fn code(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}

pub fn strong(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

/// A cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// Right-aligned, tabular figures.
    Num(String),
    Code(String),
    /// The row's name (a `<th scope="row">`).
    Head(String),
    /// `star`: mmtests' rule holds ([`crate::stats::STAR_MEANS`]); shown in Markdown
    /// tables only, with the legend under the table.
    Verdict {
        words: String,
        tone: Tone,
        star: bool,
    },
    Link {
        text: String,
        href: String,
    },
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub fn num(s: impl Into<String>) -> Cell {
        Cell::Num(s.into())
    }

    /// The words of the cell, without markup.
    pub fn plain(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Num(s) | Cell::Code(s) | Cell::Head(s) => s,
            Cell::Verdict { words, .. } => words,
            Cell::Link { text, .. } => text,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// A class for HTML (`noisy`, `failed`); empty for none.
    pub class: &'static str,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Row {
        Row { class: "", cells }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// A class for HTML (`comparison`, `runs`); empty for none.
    pub class: &'static str,
    /// Column titles; a title that starts with `#` heads a right-aligned column (the `#`
    /// is not shown). Empty: a table without a header (name/value facts).
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// Columns a phone-width page leaves out (what the headline already says), so the
    /// verdict stays on screen.
    pub narrow_hidden: Vec<usize>,
}

impl Table {
    pub fn new(class: &'static str, columns: &[&str]) -> Table {
        Table { class, columns: columns.iter().map(|c| c.to_string()).collect(), rows: Vec::new(), narrow_hidden: Vec::new() }
    }

    pub fn push(&mut self, cells: Vec<Cell>) {
        self.rows.push(Row::new(cells));
    }
}

/// A figure: a plot written to plots/ as PNG and SVG. The Markdown links the files; the
/// HTML carries the SVG inline when it has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub caption: String,
    /// plots/….png and plots/….svg, relative to the results folder.
    pub png: String,
    pub svg_path: String,
    /// The SVG file's text, for a page that carries it inline.
    pub svg: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Para(Vec<Inline>),
    /// A paragraph of lesser weight (a legend, a note).
    Note(Vec<Inline>),
    List(Vec<Vec<Inline>>),
    /// A list of warnings, shown in the warning tone.
    Warnings(Vec<String>),
    Table(Table),
    /// Preformatted text (a kernel log excerpt).
    Pre(String),
    Figure(Figure),
    /// Folded away on screen (open on paper); `open` shows it unfolded.
    Details {
        summary: String,
        open: bool,
        blocks: Vec<Block>,
    },
    Section(Section),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    /// The HTML anchor; empty for none.
    pub id: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Section {
        Section { id: id.into(), title: title.into(), blocks: Vec::new() }
    }

    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }
}

/// The answer, before anything else: one line per variant against the baseline (the
/// headline metric at each level), what else changed, how far to trust it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Headline {
    pub lines: Vec<HeadlineLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadlineLine {
    /// "slub-poison vs baseline", "also changed", "trust"; empty for a line that says it all.
    pub subject: String,
    pub text: String,
    pub tone: Tone,
}

impl Headline {
    pub fn push(&mut self, subject: impl Into<String>, text: impl Into<String>, tone: Tone) {
        self.lines.push(HeadlineLine { subject: subject.into(), text: text.into(), tone });
    }

    /// "subject: text" (or the text alone), one line each, as the terminal prints it.
    pub fn to_text(&self) -> String {
        self.lines
            .iter()
            .map(|l| if l.subject.is_empty() { format!("{}\n", l.text) } else { format!("{}: {}\n", l.subject, l.text) })
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub title: String,
    pub headline: Headline,
    /// A table of contents after the headline (HTML only).
    pub contents: bool,
    pub sections: Vec<Section>,
}
