//! Every file format kbench writes or reads, and nothing else.
//!
//! - The results folder of a study ([`results`]): runs.csv, meta.json, consoles, logs.
//! - The reports made from it ([`reports::write_reports`]): kernbench.txt, summary.csv,
//!   report.json, report.md, report.html and plots/.
//! - `bench compare`'s renderings: text, Markdown, JSON, CSV and JUnit XML.
//! - `bench history`'s: the results folders read back, text, Markdown, CSV, JSON and the
//!   trend plot.

pub mod compare;
pub mod compare_cells;
pub mod compare_junit;
pub mod compare_markdown;
pub mod compare_text;
pub mod facts;
pub mod format;
pub mod history;
pub mod history_html;
pub mod history_read;
pub mod hosts_report;
pub mod kernbench;
pub mod meta_json;
pub mod plots;
pub mod report_html;
pub mod report_json;
pub mod report_md;
pub mod reports;
pub mod results;
pub mod runs_csv;
pub mod summary_csv;
pub mod time_budget;
