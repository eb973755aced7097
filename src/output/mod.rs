//! What people read: the progress bar, the kernbench blocks, the end-of-run summary.

pub mod compare_cells;
pub mod compare_markdown;
pub mod compare_text;
pub mod kernbench;
pub mod progress;
pub mod summary;
