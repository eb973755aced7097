//! What people read: the progress bar, the kernbench blocks, the end-of-run summary.

pub mod kernbench;
pub mod progress;
pub mod summary;
