//! The listener a real study uses: rows into runs.csv, facts into meta.json, output tails
//! and kernel logs into the results folder, and progress on the terminal.

use super::job::StepInfo;
use super::limits::Limit;
use super::listener::Listener;
use crate::export::results::ResultsDir;
use crate::model::{ConsoleFinding, Meta, RunRecord};
use crate::output::progress::Progress;
use crate::scenario::Variant;
use anyhow::{Context, Result};
use kbench_protocol::{BootFacts, StepKind};
use std::io::Write;
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

    fn heartbeat(&mut self, _variant: &Variant, _step: &StepInfo, elapsed_s: f64) {
        self.progress.set_message(&format!("{}, {elapsed_s:.0} s in", self.step));
    }

    fn step_output(&mut self, variant: &Variant, step: &StepInfo, output: &str) -> Result<String> {
        self.results.save_output(&log_name(&variant.name, step), output)
    }

    fn run_filed(&mut self, record: &RunRecord) -> Result<()> {
        self.results.append_run(record)?;
        self.progress.finished_run(record, self.runs_per_level);
        Ok(())
    }

    fn kernel_log(&mut self, variant: &Variant, boot: u32, text: &str) -> Result<()> {
        let dir = self.results.path.join("kmsg");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}-boot{boot}.log", variant.name));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))
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
