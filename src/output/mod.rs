//! The terminal: the progress bar while a study runs and the summary printed once the
//! reports are written. Files are `results`' and `report`'s; this module only prints.

pub mod progress;
pub mod summary;
