//! Drives a study: for each variant, boot a guest, hand the agent its job, and land
//! every finished run in runs.csv the moment it arrives.

pub mod facts;
pub mod job;
pub mod resume;
pub mod runner;
mod session;
pub mod workload;

pub use runner::{run_study, StudyOutcome};
