//! What a study works with and what it produced: the plan, its limits, the backend, the
//! listener that persists and shows, and the stops (Ctrl-C, study_timeout).

use super::limits::Limits;
use super::listener::Listener;
use super::noise_guard::HostProbe;
use super::session::Timing;
use crate::backend::Backend;
use crate::benchmark::interrupt::Interrupt;
use crate::model::RunRecord;
use crate::scenario::Plan;
use anyhow::Result;
use std::path::Path;
use std::time::Instant;

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

/// What ends a study early, asked between two waits.
#[derive(Clone, Copy)]
pub struct Stops<'a> {
    pub interrupt: &'a Interrupt,
    pub deadline: Option<Instant>,
    pub study_timeout_s: u64,
}

impl Stops<'_> {
    pub fn check(&self) -> Result<()> {
        self.interrupt.check()?;
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(StudyTimedOut(self.study_timeout_s).into());
        }
        Ok(())
    }
}

pub struct Study<'a> {
    pub plan: &'a Plan,
    /// The `[[host]]` this study runs on (its rows' `host`); empty on one host.
    pub host: &'a str,
    pub limits: &'a Limits,
    pub backend: &'a dyn Backend,
    pub agent: &'a Path,
    /// Where the backend keeps a guest's files while it runs (the results folder's scratch).
    pub scratch: &'a Path,
    pub listener: &'a mut dyn Listener,
    pub stops: Stops<'a>,
    /// How the host's noise is sampled around each timed run (`noise_guard::ProcProbe`).
    pub probe: &'a dyn HostProbe,
}

impl Study<'_> {
    pub fn timing(&self) -> Timing {
        Timing {
            hello: self.limits.hello,
            boot_facts: self.limits.boot_facts,
            silence: self.limits.silence,
            margin: self.limits.margin,
            closed_grace: self.limits.power_off.min(std::time::Duration::from_secs(5)),
        }
    }
}
