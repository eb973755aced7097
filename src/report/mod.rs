//! Everything kbench shows people and programs, made from records already measured:
//!
//! - [`study`]: the reports of one study in its results folder (kernbench.txt,
//!   summary.csv, report.json, report.md, report.html), per host on several hosts;
//! - [`compare`]: `bench compare`'s text, Markdown, JSON, CSV and JUnit;
//! - [`history`]: `bench history`'s text, Markdown, CSV, JSON and page;
//! - [`plots`]: the figures of all three;
//! - [`format`]: numbers as people read them;
//! - [`model`]: a report as data (headline, sections, tables of typed cells), which
//!   [`markup`] renders as text, Markdown and HTML, escaping for each in one place;
//! - [`headline`]: the answer every output of a study opens (or, on a terminal, ends) with.

pub mod compare;
pub mod format;
pub mod headline;
pub mod history;
pub mod markup;
pub mod model;
pub mod plots;
pub mod study;
