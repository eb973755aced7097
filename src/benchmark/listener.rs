//! What the runner tells the world: files (runs.csv, meta.json, logs) and the terminal
//! listen through this trait, so that the runner's decisions can be tested without either.

use super::job::StepInfo;
use super::limits::Limit;
use crate::model::{BootTimes, ConsoleFinding, Leftovers, RunRecord};
use crate::scenario::Variant;
use anyhow::Result;
use kbench_protocol::{BootFacts, KernelView};
use std::path::{Path, PathBuf};

pub trait Listener {
    /// The number of the variant's next boot and where its console is to be saved.
    fn next_boot(&mut self, variant: &str) -> Result<(u32, PathBuf)>;
    /// Where a boot's kernel log is kept: `kmsg/` beside the console's folder.
    fn kernel_log_file(&self, _variant: &str, _boot: u32, console_log: &Path) -> Option<PathBuf> {
        let dir = console_log.parent()?.parent()?;
        Some(dir.join("kmsg").join(console_log.file_name()?))
    }
    fn booting(&mut self, variant: &Variant, boot: u32);
    fn boot_facts(&mut self, variant: &Variant, facts: &BootFacts) -> Result<()>;
    fn step_started(&mut self, variant: &Variant, step: &StepInfo, limit: &Limit);
    /// Before `step`, the study waits up to `wait` for other processes to use at most
    /// `max_load` CPUs (`quiet_host`).
    fn waiting_for_quiet(&mut self, _variant: &Variant, _step: &StepInfo, _max_load: f64, _wait: std::time::Duration) {}
    fn heartbeat(&mut self, _variant: &Variant, _step: &StepInfo, _elapsed_s: f64) {}
    /// Keeps a step's output tail; returns how a failure message names it.
    fn step_output(&mut self, variant: &Variant, step: &StepInfo, output: &str) -> Result<String>;
    /// A timed run's raw monitor samples (CSV).
    fn monitor_samples(&mut self, variant: &Variant, step: &StepInfo, samples: &str) -> Result<()>;
    /// A timed run's row, ok or failed: it must be on record before anything else happens.
    fn run_filed(&mut self, record: &RunRecord) -> Result<()>;
    fn kernel_log(&mut self, variant: &Variant, boot: u32, text: &str) -> Result<()>;
    /// The kernel's view of its memory hardening at the end of a boot's runs.
    fn kernel_view(&mut self, variant: &Variant, boot: u32, view: KernelView) -> Result<()>;
    /// Processes a step left running, which the agent killed.
    fn leftovers(&mut self, variant: &Variant, leftovers: Leftovers) -> Result<()>;
    fn console_findings(&mut self, variant: &Variant, boot: u32, findings: Vec<ConsoleFinding>) -> Result<()>;
    /// Where a boot's time went so far: once booted (with its pinning), and again when it
    /// ends, however it ends.
    fn boot_times(&mut self, _times: &BootTimes) -> Result<()> {
        Ok(())
    }
    /// A line for the user (a warning, an error, a fact).
    fn note(&mut self, line: &str);
    /// With `runs = "auto"`: the timed runs the study now asks for in all (runs on record
    /// included), as variants and levels stop; the cap until then.
    fn planned_runs(&mut self, _runs: usize) {}
}
