//! kbench: boots guests with the kernels and command lines of a scenario, measures
//! kernel-compile style workloads inside them, and reports what each variant costs.
//! docs/architecture.md tells the stages and which module holds each; `bench` (main.rs)
//! is only the command line over [`commands`].

mod agent_binary;
#[cfg(test)]
mod architecture_tests;
mod backend;
mod benchmark;
pub mod cli;
pub mod commands;
mod compare;
mod report;
mod results;
mod history;
mod host;
mod host_noise;
pub mod interrupt;
mod model;
mod output;
mod scenario;
mod stats;
