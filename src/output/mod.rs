//! The terminal: the progress bar while a study runs and the verdicts printed at its end.
//! Files are written by `export`; this module only prints.

pub mod progress;
pub mod summary;
