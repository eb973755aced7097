//! The listener a real study uses: rows into runs.csv, facts into meta.json, output tails
//! and kernel logs into the results folder, and progress on the terminal.
//!
//! In a study over several hosts each host's thread has a recorder of its own; they share
//! the results folder and meta.json behind one lock, so that rows are appended (and
//! fsynced) one at a time and meta.json has one writer at a time.

use super::job::StepInfo;
use super::limits::Limit;
use super::listener::Listener;
use crate::model::{BootTimes, ConsoleFinding, Leftovers, Meta, RunRecord, TimeBudget};
use crate::output::progress::Progress;
use crate::results::folder::ResultsDir;
use crate::scenario::Variant;
use anyhow::{anyhow, Result};
use kbench_protocol::{BootFacts, KernelView, StepKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// What every recorder of a study writes to: the results folder and meta.json.
pub struct StudyFiles {
    pub results: ResultsDir,
    pub meta: Meta,
    /// The runs each host's study plans (`runs = "auto"` changes them), for the progress
    /// bar's total; the key is empty on one host.
    pub planned: BTreeMap<String, usize>,
}

impl StudyFiles {
    pub fn new(results: ResultsDir, meta: Meta) -> StudyFiles {
        StudyFiles { results, meta, planned: BTreeMap::new() }
    }

    /// Changes meta.json and writes it, as one step under the caller's lock.
    pub fn update_meta(&mut self, change: impl FnOnce(&mut Meta)) -> Result<()> {
        change(&mut self.meta);
        self.results.write_meta(&self.meta)
    }
}

pub struct Recorder<'a> {
    files: &'a Mutex<StudyFiles>,
    progress: &'a Progress,
    /// The `[[host]]` this recorder's study runs on; empty on one host.
    host: String,
    /// The plan's timed runs per variant and level, for the progress lines.
    runs_per_level: u32,
    /// The progress line of the step that runs, which heartbeats extend.
    step: String,
    /// When this `bench run` started, the budget of the invocations before it (a resumed
    /// study), and where its own boots begin in `meta.boots`.
    started: Instant,
    earlier_budget: Option<TimeBudget>,
    first_boot: usize,
    /// When this invocation first started a guest: what came before is checksums and facts.
    first_booting: Option<Instant>,
}

impl<'a> Recorder<'a> {
    /// `started`: when `bench run` started, the start of this invocation's time budget.
    pub fn new(
        files: &'a Mutex<StudyFiles>,
        progress: &'a Progress,
        host: &str,
        runs_per_level: u32,
        started: Instant,
    ) -> Result<Recorder<'a>> {
        let (earlier_budget, first_boot) = {
            let files = files.lock().map_err(|_| anyhow!("internal: the results folder's lock is poisoned"))?;
            (files.meta.time_budget.clone(), files.meta.boots.len())
        };
        Ok(Recorder {
            files,
            progress,
            host: host.to_string(),
            runs_per_level,
            step: String::new(),
            started,
            earlier_budget,
            first_boot,
            first_booting: None,
        })
    }

    fn files(&self) -> Result<MutexGuard<'a, StudyFiles>> {
        self.files.lock().map_err(|_| anyhow!("internal: the results folder's lock is poisoned (another host's thread panicked)"))
    }

    /// What a line about a variant starts with: the variant, after its host.
    fn who(&self, variant: &str) -> String {
        match self.host.as_str() {
            "" => variant.to_string(),
            host => format!("{host}: {variant}"),
        }
    }

    /// Brings meta.json's `time_budget` up to now: the earlier invocations' budget plus
    /// this one's so far. Called at each boot's end and once the study ended, so that a
    /// study killed midway keeps the budget of the boots it completed.
    pub fn update_time_budget(&self) -> Result<()> {
        let (earlier, first_boot, wall_s) = (self.earlier_budget.as_ref(), self.first_boot, self.started.elapsed().as_secs_f64());
        let before_first_boot_s = self.first_booting.map_or(wall_s, |at| at.duration_since(self.started).as_secs_f64());
        self.files()?.update_meta(|meta| {
            let boots = &meta.boots[first_boot.min(meta.boots.len())..];
            meta.time_budget = Some(TimeBudget::so_far(earlier, boots, wall_s, crate::host::own_cpu_s(), before_first_boot_s));
        })
    }
}

impl Listener for Recorder<'_> {
    fn next_boot(&mut self, variant: &str) -> Result<(u32, PathBuf)> {
        self.files()?.results.next_console_log(&self.host, variant)
    }

    fn kernel_log_file(&self, variant: &str, boot: u32, _console_log: &Path) -> Option<PathBuf> {
        Some(self.files().ok()?.results.kernel_log_path(&self.host, variant, boot))
    }

    fn booting(&mut self, variant: &Variant, _boot: u32) {
        self.first_booting.get_or_insert_with(Instant::now);
        self.progress.set_message(&format!("{}: booting", self.who(&variant.name)));
    }

    fn boot_facts(&mut self, variant: &Variant, facts: &BootFacts) -> Result<()> {
        self.files()?.update_meta(|meta| meta.record_boot(&variant.name, facts))?;
        let poison = if facts.slab.is_on() { "on" } else { "off" };
        let who = self.who(&variant.name);
        self.progress.println(&format!(
            "{who}: booted {} with {} CPUs, slab poisoning {poison}; cmdline: {}",
            facts.kernel_release, facts.cpus, facts.cmdline
        ));
        for (name, value) in &facts.probes {
            self.progress.println(&format!("{who}: {name}: {value}"));
        }
        Ok(())
    }

    fn step_started(&mut self, variant: &Variant, step: &StepInfo, limit: &Limit) {
        let what = match &step.level {
            Some(level) => format!("{} -j {} {}", level.label, level.substitution(), step.describe()),
            None => step.describe(),
        };
        let seconds = super::limits::seconds(limit.duration);
        self.step = format!("{}: {what} (limit {seconds})", self.who(&variant.name));
        self.progress.set_message(&self.step);
    }

    fn waiting_for_quiet(&mut self, variant: &Variant, step: &StepInfo, max_load: f64, wait: std::time::Duration) {
        self.progress.status(&format!(
            "{}: waiting up to {} for a quiet host (other processes at most {max_load} CPUs) before {}",
            self.who(&variant.name),
            super::limits::seconds(wait),
            step.describe()
        ));
    }

    fn heartbeat(&mut self, _variant: &Variant, _step: &StepInfo, elapsed_s: f64) {
        self.progress.set_message(&format!("{}, {elapsed_s:.0} s in", self.step));
    }

    fn step_output(&mut self, variant: &Variant, step: &StepInfo, output: &str) -> Result<String> {
        self.files()?.results.save_output(&self.host, &log_name(&variant.name, step), output)
    }

    fn monitor_samples(&mut self, variant: &Variant, step: &StepInfo, samples: &str) -> Result<()> {
        self.files()?.results.save_monitors(&self.host, &log_name(&variant.name, step), samples).map(|_| ())
    }

    fn run_filed(&mut self, record: &RunRecord) -> Result<()> {
        self.files()?.results.append_run(record)?;
        self.progress.finished_run(record, self.runs_per_level);
        Ok(())
    }

    fn kernel_log(&mut self, variant: &Variant, boot: u32, text: &str) -> Result<()> {
        self.files()?.results.append_kernel_log(&self.host, &variant.name, boot, text)
    }

    fn kernel_view(&mut self, variant: &Variant, boot: u32, view: KernelView) -> Result<()> {
        let init = view.mem_auto_init.as_ref().map_or("not in the kernel log".to_string(), |i| {
            format!("stack:{}, heap alloc:{}, heap free:{}", i.stack, i.heap_alloc, i.heap_free)
        });
        self.progress.println(&format!(
            "{}: mem auto-init {init}; {} of {} slab caches poisoned, {} red-zoned",
            self.who(&variant.name),
            view.poisoned,
            view.caches,
            view.red_zoned
        ));
        let host = self.host.clone();
        self.files()?.update_meta(|meta| meta.record_kernel_view(&host, &variant.name, boot, view))
    }

    fn leftovers(&mut self, variant: &Variant, leftovers: Leftovers) -> Result<()> {
        self.files()?.update_meta(|meta| meta.record_leftovers(&variant.name, leftovers))
    }

    fn console_findings(&mut self, variant: &Variant, boot: u32, findings: Vec<ConsoleFinding>) -> Result<()> {
        let host = self.host.clone();
        self.files()?.update_meta(|meta| meta.record_findings(&host, &variant.name, boot, findings))
    }

    fn boot_times(&mut self, times: &BootTimes) -> Result<()> {
        self.files()?.meta.record_boot_times(times);
        self.update_time_budget()
    }

    fn note(&mut self, line: &str) {
        self.progress.println(&on_host(&self.host, line));
    }

    fn planned_runs(&mut self, runs: usize) {
        if let Ok(mut files) = self.files() {
            files.planned.insert(self.host.clone(), runs);
            self.progress.set_planned(files.planned.values().sum::<usize>() as u64);
        }
    }
}

/// `warning: host lab1: ...`: a line about a host names it after its kind, once.
fn on_host(host: &str, line: &str) -> String {
    let named = format!("host {host}: ");
    if host.is_empty() || line.contains(&named) {
        return line.to_string();
    }
    match line.split_once(": ") {
        Some((kind, rest)) if ["warning", "error"].contains(&kind) => format!("{kind}: {named}{rest}"),
        _ => format!("{named}{line}"),
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

#[cfg(test)]
mod tests {
    use super::on_host;

    #[test]
    fn lines_about_a_host_name_it_once() {
        assert_eq!(on_host("", "warning: variant a boot 1: x"), "warning: variant a boot 1: x");
        assert_eq!(on_host("lab1", "warning: variant a boot 1: x"), "warning: host lab1: variant a boot 1: x");
        assert_eq!(on_host("lab1", "error: variant a: y"), "error: host lab1: variant a: y");
        assert_eq!(on_host("lab1", "warning: host lab1: variant a boot 1: x"), "warning: host lab1: variant a boot 1: x");
        assert_eq!(on_host("lab1", "a fact"), "host lab1: a fact");
    }
}
