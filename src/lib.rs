//! kbench: boots guests with the kernels and command lines of a scenario, measures
//! kernel-compile style workloads inside them, and reports what each variant costs.
//! docs/architecture.md tells the stages and which module holds each; `bench` (main.rs)
//! is only the command line over [`commands`].

#[cfg(test)]
mod architecture_tests;
mod backend;
mod benchmark;
pub mod commands;
mod compare;
mod history;
mod host;
mod model;
mod output;
mod report;
mod results;
mod scenario;
mod stats;
mod xml;

pub use benchmark::interrupt;
pub use commands::cli;
