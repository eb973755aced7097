//! The listener a real study uses: rows into runs.csv, facts into meta.json, output tails
//! and kernel logs into the results folder, and progress on the terminal.

use super::job::StepInfo;
use super::limits::Limit;
use super::listener::Listener;
use crate::export::results::ResultsDir;
use crate::model::{ConsoleFinding, Leftovers, Meta, RunRecord};
use crate::output::progress::Progress;
use crate::scenario::Variant;
use anyhow::Result;
use kbench_protocol::{BootFacts, KernelView, StepKind};
use std::path::PathBuf;

pub struct Recorder<'a> {
    results: &'a mut ResultsDir,
    meta: &'a mut Meta,
    progress: &'a Progress,
    /// The plan's timed runs per variant and level, for the progress lines.
    runs_per_level: u32,
    /// The progress line of the step that runs, which heartbeats extend.
    step: String,
}

impl<'a> Recorder<'a> {
    pub fn new(results: &'a mut ResultsDir, meta: &'a mut Meta, progress: &'a Progress, runs_per_level: u32) -> Recorder<'a> {
        Recorder { results, meta, progress, runs_per_level, step: String::new() }
    }
}

impl Listener for Recorder<'_> {
    fn next_boot(&mut self, variant: &str) -> (u32, PathBuf) {
        self.results.next_console_log(variant)
    }

    fn booting(&mut self, variant: &Variant, _boot: u32) {
        self.progress.set_message(&format!("{}: booting", variant.name));
    }

    fn boot_facts(&mut self, variant: &Variant, facts: &BootFacts) -> Result<()> {
        self.meta.record_boot(&variant.name, facts);
        self.results.write_meta(self.meta)?;
        let poison = if facts.slab.is_on() { "on" } else { "off" };
        self.progress.println(&format!(
            "{}: booted {} with {} CPUs, slab poisoning {poison}; cmdline: {}",
            variant.name, facts.kernel_release, facts.cpus, facts.cmdline
        ));
        for (name, value) in &facts.probes {
            self.progress.println(&format!("{}: {name}: {value}", variant.name));
        }
        Ok(())
    }

    fn step_started(&mut self, variant: &Variant, step: &StepInfo, limit: &Limit) {
        let what = match &step.level {
            Some(level) => format!("{} -j {} {}", level.label, level.substitution(), step.describe()),
            None => step.describe(),
        };
        let seconds = super::limits::seconds(limit.duration);
        self.step = format!("{}: {what} (limit {seconds})", variant.name);
        self.progress.set_message(&self.step);
    }

    fn waiting_for_quiet(&mut self, variant: &Variant, step: &StepInfo, max_load: f64, wait: std::time::Duration) {
        self.progress.status(&format!(
            "{}: waiting up to {} for a quiet host (other processes at most {max_load} CPUs) before {}",
            variant.name,
            super::limits::seconds(wait),
            step.describe()
        ));
    }

    fn heartbeat(&mut self, _variant: &Variant, _step: &StepInfo, elapsed_s: f64) {
        self.progress.set_message(&format!("{}, {elapsed_s:.0} s in", self.step));
    }

    fn step_output(&mut self, variant: &Variant, step: &StepInfo, output: &str) -> Result<String> {
        self.results.save_output(&log_name(&variant.name, step), output)
    }

    fn monitor_samples(&mut self, variant: &Variant, step: &StepInfo, samples: &str) -> Result<()> {
        self.results.save_monitors(&log_name(&variant.name, step), samples).map(|_| ())
    }

    fn run_filed(&mut self, record: &RunRecord) -> Result<()> {
        self.results.append_run(record)?;
        self.progress.finished_run(record, self.runs_per_level);
        Ok(())
    }

    fn kernel_log(&mut self, variant: &Variant, boot: u32, text: &str) -> Result<()> {
        self.results.append_kernel_log(&variant.name, boot, text)
    }

    fn kernel_view(&mut self, variant: &Variant, boot: u32, view: KernelView) -> Result<()> {
        let init = view.mem_auto_init.as_ref().map_or("not in the kernel log".to_string(), |i| {
            format!("stack:{}, heap alloc:{}, heap free:{}", i.stack, i.heap_alloc, i.heap_free)
        });
        self.progress.println(&format!(
            "{}: mem auto-init {init}; {} of {} slab caches poisoned, {} red-zoned",
            variant.name, view.poisoned, view.caches, view.red_zoned
        ));
        self.meta.record_kernel_view(&variant.name, boot, view);
        self.results.write_meta(self.meta)
    }

    fn leftovers(&mut self, variant: &Variant, leftovers: Leftovers) -> Result<()> {
        self.meta.record_leftovers(&variant.name, leftovers);
        self.results.write_meta(self.meta)
    }

    fn console_findings(&mut self, variant: &Variant, boot: u32, findings: Vec<ConsoleFinding>) -> Result<()> {
        self.meta.record_findings(&variant.name, boot, findings);
        self.results.write_meta(self.meta)
    }

    fn note(&mut self, line: &str) {
        self.progress.println(line);
    }
}

fn log_name(variant: &str, info: &StepInfo) -> String {
    let kind = match info.kind {
        StepKind::Prepare => "prepare",
        StepKind::Warmup => "warm-up",
        StepKind::Timed => "run",
    };
    match &info.level {
        Some(level) => format!("{variant}-{}-{kind}{}", level.label, info.index),
        None => format!("{variant}-{kind}"),
    }
}
