//! Drives a study: for each variant, boot a guest, send the agent its steps one by one,
//! and land every finished run in runs.csv the moment it arrives.
//!
//! runner (rounds, retries) → boot (one guest: what results mean) → session (the
//! protocol and its rules); `limits` decides every time limit; `listener` is how
//! files and terminal hear of it (`recorder` is the real one).

pub mod boot;
pub mod fleet;
pub mod interrupt;
pub mod job;
pub mod limits;
pub mod listener;
pub mod noise_guard;
pub mod recorder;
pub mod resume;
pub mod runner;
pub mod session;
pub mod snapshots;
pub mod study;
pub mod study_meta;
pub mod workload;

#[cfg(test)]
pub mod fake;

pub use runner::run_study;
pub use study::StudyOutcome;
