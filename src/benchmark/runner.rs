//! The study: every round boots every variant, each boot measures the runs still missing.
//! A guest that crashes, hangs or vanishes costs the run in progress (recorded as failed)
//! and is booted again, up to `retries` times, for the runs still missing.

use super::job::{self, PendingRun};
use super::session::{self, first_line};
use crate::backend::console;
use crate::backend::{Backend, GuestSpec};
use crate::export::results::ResultsDir;
use crate::model::{Meta, RunRecord};
use crate::interrupt::{Interrupt, Interrupted};
use crate::output::progress::Progress;
use crate::scenario::{Plan, Variant};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a guest that said Done may take to power off.
const POWER_OFF_TIMEOUT: Duration = Duration::from_secs(30);

/// What a study produced, whatever stopped it.
#[derive(Debug, Default)]
pub struct StudyOutcome {
    /// Every timed run on record, including those a resumed study found on disk.
    pub records: Vec<RunRecord>,
    /// One line per variant that did not complete, and why.
    pub problems: Vec<String>,
    /// Kernel warnings seen on a console of a boot that otherwise went well.
    pub warnings: Vec<String>,
    /// The timed runs the plan asked for.
    pub planned_runs: usize,
}

impl StudyOutcome {
    pub fn failed_runs(&self) -> usize {
        self.records.iter().filter(|r| !r.is_ok()).count()
    }

    pub fn missing_runs(&self) -> usize {
        self.planned_runs.saturating_sub(self.records.len())
    }
}

/// The study ran out of its `study_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the study took longer than its study_timeout of {0} s; it was stopped")]
pub struct StudyTimedOut(pub u64);

/// The guest failed (crash, hang, lost channel): worth another boot.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GuestTrouble(pub String);

pub struct Study<'a> {
    pub plan: &'a Plan,
    pub backend: &'a dyn Backend,
    pub agent: &'a Path,
    pub results: &'a mut ResultsDir,
    pub meta: &'a mut Meta,
    pub progress: &'a Progress,
    pub interrupt: &'a Interrupt,
    pub deadline: Option<Instant>,
}

impl Study<'_> {
    /// Stops a wait for Ctrl-C, SIGTERM or the end of the study's time.
    pub fn check_stop(&self) -> Result<()> {
        self.interrupt.check()?;
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            let limit = self.plan.guest.study_timeout.map_or(0, |d| d.as_secs());
            return Err(StudyTimedOut(limit).into());
        }
        Ok(())
    }
}

/// Runs the variants in turn; a variant that fails is noted and the study goes on.
/// An interrupt or the study timeout ends it early: `outcome` still holds every run.
pub fn run_study(study: &mut Study, outcome: &mut StudyOutcome) -> Result<()> {
    outcome.planned_runs = study.plan.variants.len() * job::all_runs(study.plan).len();
    for round in 0..study.plan.rounds {
        for variant in study.plan.variant_order(round) {
            study.check_stop()?;
            if let Err(error) = run_variant(study, variant, round, outcome) {
                if error.is::<Interrupted>() || error.is::<StudyTimedOut>() {
                    return Err(error);
                }
                let line = format!("variant {}: {error:#}", variant.name);
                study.progress.println(&format!("error: {line}"));
                outcome.problems.push(line);
            }
        }
    }
    Ok(())
}

/// One round of one variant: boots until the round's runs are all on record or the
/// retries are spent.
fn run_variant(study: &mut Study, variant: &Variant, round: u32, outcome: &mut StudyOutcome) -> Result<()> {
    let boots = study.plan.guest.retries + 1;
    for attempt in 1..=boots {
        let pending = pending_runs(study.plan, variant, round, &outcome.records);
        if pending.is_empty() {
            return Ok(());
        }
        let (boot, console_log) = study.results.next_console_log(&variant.name);
        let result = boot_and_run(study, variant, (boot, &console_log), &pending, outcome);
        note_console(study, variant, boot, &console_log, outcome)?;
        match result {
            Ok(()) => return Ok(()),
            Err(error) if error.is::<GuestTrouble>() && attempt < boots => {
                study.progress.println(&format!(
                    "warning: variant {} boot {boot}: {}; booting again for the remaining runs",
                    variant.name,
                    first_line(&format!("{error:#}"))
                ));
            }
            Err(error) if error.is::<GuestTrouble>() => {
                return Err(error.context(format!("the guest failed {boots} times; the remaining runs were not measured")));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Runs of this variant and round that have no row yet.
fn pending_runs(plan: &Plan, variant: &Variant, round: u32, records: &[RunRecord]) -> Vec<PendingRun> {
    job::all_runs(plan)
        .into_iter()
        .filter(|(level, index)| {
            plan.round_of(*index) == round
                && !records.iter().any(|r| r.variant == variant.name && r.jobs_label == level.label && r.run == *index)
        })
        .collect()
}

fn boot_and_run(
    study: &mut Study,
    variant: &Variant,
    (boot, console_log): (u32, &Path),
    pending: &[PendingRun],
    outcome: &mut StudyOutcome,
) -> Result<()> {
    let plan = study.plan;
    let spec = GuestSpec {
        name: variant.name.clone(),
        kernel: variant.kernel.clone(),
        initrd: variant.initrd.clone(),
        disk: plan.guest.disk.clone(),
        cmdline: variant.cmdline.clone(),
        cpus: plan.guest.cpus,
        memory_mib: plan.guest.memory_mib,
        agent: study.agent.to_path_buf(),
        console_log: console_log.to_path_buf(),
        scratch: study.results.scratch_dir(),
    };
    study.progress.set_message(&format!("{}: booting", variant.name));
    let mut guest = study.backend.boot(&spec)?;
    let job = job::build(plan, pending);
    session::converse(study, variant, guest.as_mut(), (boot, console_log.to_path_buf()), job, outcome)?;
    guest.shut_down(POWER_OFF_TIMEOUT);
    Ok(())
}

/// Kernel trouble on the console or in the kernel log (`kmsg/`, beside `console/`) is
/// reported even when every run succeeded.
fn note_console(study: &mut Study, variant: &Variant, boot: u32, log: &Path, outcome: &mut StudyOutcome) -> Result<()> {
    let kmsg = log.parent().and_then(Path::parent).zip(log.file_name()).map(|(dir, name)| dir.join("kmsg").join(name));
    let kmsg_text = kmsg.and_then(|path| std::fs::read(path).ok()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let console_text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    let findings = console::scan_logs(&console_text, kmsg_text.as_deref());
    for finding in &findings {
        let line = finding.warning(&variant.name, boot);
        study.progress.println(&format!("warning: {line}"));
        outcome.warnings.push(line);
    }
    study.meta.record_findings(&variant.name, boot, findings);
    study.results.write_meta(study.meta)
}
