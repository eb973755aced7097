//! Everything written to the results folder while a study runs.

pub mod compare;
pub mod meta;
pub mod report_json;
pub mod results;
pub mod runs_csv;
pub mod summary_csv;
