//! What people read: the progress bar, the kernbench blocks, the end-of-run summary,
//! report.md and the plots.

pub mod facts;
pub mod format;
pub mod kernbench;
pub mod plots;
pub mod progress;
pub mod report_md;
pub mod reports;
pub mod summary;
