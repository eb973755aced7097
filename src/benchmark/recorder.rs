//! The listener a real study uses: rows into runs.csv, facts into meta.json, output tails
//! and kernel logs into the results folder, and progress on the terminal.

use super::job::StepInfo;
use super::limits::Limit;
use super::listener::Listener;
use crate::export::results::ResultsDir;
use crate::model::{BootTimes, ConsoleFinding, Leftovers, Meta, RunRecord, TimeBudget};
use crate::output::progress::Progress;
use crate::scenario::Variant;
use anyhow::Result;
use kbench_protocol::{BootFacts, KernelView, StepKind};
use std::path::PathBuf;
use std::time::Instant;

pub struct Recorder<'a> {
    results: &'a mut ResultsDir,
    meta: &'a mut Meta,
    progress: &'a Progress,
    /// The plan's timed runs per variant and level, for the progress lines.
    runs_per_level: u32,
    /// The progress line of the step that runs, which heartbeats extend.
    step: String,
    /// When this `bench run` started, the budget of the invocations before it (a resumed
    /// study), and where its own boots begin in `meta.boots`.
    started: Instant,
    earlier_budget: Option<TimeBudget>,
    first_boot: usize,
}

impl<'a> Recorder<'a> {
    /// `started`: when `bench run` started, the start of this invocation's time budget.
    pub fn new(results: &'a mut ResultsDir, meta: &'a mut Meta, progress: &'a Progress, runs_per_level: u32, started: Instant) -> Recorder<'a> {
        let earlier_budget = meta.time_budget.clone();
        let first_boot = meta.boots.len();
        Recorder { results, meta, progress, runs_per_level, step: String::new(), started, earlier_budget, first_boot }
    }

    /// Brings meta.json's `time_budget` up to now: the earlier invocations' budget plus
    /// this one's so far. Called at each boot's end and once the study ended, so that a
    /// study killed midway keeps the budget of the boots it completed.
    pub fn update_time_budget(&mut self) {
        let boots = &self.meta.boots[self.first_boot.min(self.meta.boots.len())..];
        let wall_s = self.started.elapsed().as_secs_f64();
        self.meta.time_budget = Some(TimeBudget::so_far(self.earlier_budget.as_ref(), boots, wall_s, crate::host::own_cpu_s()));
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

    fn boot_times(&mut self, times: &BootTimes) -> Result<()> {
        self.meta.record_boot_times(times);
        self.update_time_budget();
        self.results.write_meta(self.meta)
    }

    fn note(&mut self, line: &str) {
        self.progress.println(line);
    }

    fn planned_runs(&mut self, runs: usize) {
        self.progress.set_planned(runs as u64);
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
