//! What people read: the progress bar, the kernbench blocks, the end-of-run summary,
//! report.md and the plots.

pub mod facts;
pub mod format;
pub mod compare_cells;
pub mod compare_markdown;
pub mod compare_text;
pub mod kernbench;
pub mod plots;
pub mod progress;
pub mod report_md;
pub mod reports;
pub mod summary;
