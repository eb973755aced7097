//! The results folder as a store: what a study writes while it runs and what every later
//! command reads back. No report formats here (`report` renders them).
//!
//! - [`folder`]: one study's folder: the lock, runs.csv and meta.json written as the runs
//!   end, consoles, kernel logs, step output, scratch space.
//! - [`runs_csv`], [`meta_json`]: the two files every reader needs, read and written.
//! - [`side`]: either side of `bench compare` read back.
//! - [`history`]: the results folders of `bench history` found and read back.

pub mod bounded;
pub mod folder;
pub mod history;
pub mod meta_json;
pub mod runs_csv;
pub mod side;
