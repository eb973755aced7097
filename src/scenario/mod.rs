//! Scenario file → validated plan.

pub mod file;
pub mod kernel_build;
pub mod limits;
pub mod order;
pub mod plan;

pub use plan::{load_with, JobsLevel, LabHost, Overrides, Plan, Variant, Workload};
