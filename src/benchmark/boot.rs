//! One boot of one variant: start the guest, hold the conversation step by step, and
//! decide what each result means for runs.csv. A guest that fails costs the run in
//! progress, which becomes a failed row saying why; nothing measured before is lost.

use super::job::{self, BootJob, PendingRun, PlannedStep, StepInfo};
use super::limits::Limit;
use super::noise_guard::{self, HostWindow, RunHost, UNSAMPLED};
use super::session::{boot_key, Event, GuestTrouble, HypervisorFailed, Session};
use super::snapshots::{SavedState, SavedStates};
use super::study::{Study, StudyOutcome, StudyTimedOut};
use crate::backend::console;
use crate::backend::GuestSpec;
use crate::benchmark::interrupt::Interrupted;
use crate::host::noise::NoiseThresholds;
use crate::model::{now, BootTimes, ConsoleFinding, GuestStart, Leftovers, RunRecord, RunStatus, RUNS_SCHEMA_VERSION};
use crate::scenario::Variant;
use anyhow::{anyhow, bail, Result};
use kbench_protocol::{BootFacts, Outcome, StepKind, StepResult};
use std::path::Path;
use std::time::{Duration, Instant};

/// Console bytes quoted in an error.
const CONSOLE_EXCERPT: usize = 2000;

/// How a boot's guest starts.
pub enum Start<'a> {
    /// Boots; with `reuse = "snapshot"` (`states`), saves the guest into `states` (under
    /// the slot named by its string) once it
    /// prepared and warmed up.
    Boot { states: Option<(&'a mut SavedStates, String)> },
    /// Restored from a saved state, prepared and warmed up already: only timed runs.
    Restore(&'a SavedState),
}

/// How a boot ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It measured the runs it was given (or as many as it could).
    Measured,
    /// `reuse = "snapshot"`: it prepared, warmed up and was saved, and measured nothing:
    /// the round's runs are for a restore of it, as every later round's are, so that every
    /// timed run of the variant starts from the same saved guest.
    Saved,
}

/// A saved guest could not be restored, or did not answer as the variant's guest: nothing
/// was measured, and the runner boots instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RestoreFailed(pub String);

struct Boot<'s, 'a> {
    study: &'s mut Study<'a>,
    variant: &'s Variant,
    number: u32,
    facts: Option<BootFacts>,
    /// When the step in progress was sent, as the host saw it.
    started_at: String,
    in_progress: Option<(PlannedStep, Limit)>,
    /// The study's own processes on this host (the guest's QEMU and bench), left out of
    /// the host's noise; `None` when the guest runs on another host.
    ours: Option<Vec<u32>>,
    /// The host around the timed run in progress, for its row.
    host: RunHost,
    /// Where the boot's time went (meta.json `boots`).
    times: BootTimes,
    /// When Finish was said: the shut-down is counted from there.
    finishing: Option<Instant>,
    /// Booted, or restored from a saved state (runs.csv `start`).
    start: GuestStart,
    /// `reuse = "snapshot"` on a boot: where the guest is saved once prepared and warmed up.
    states: Option<(&'s mut SavedStates, String)>,
    /// The guest was saved: its boot ends there.
    saved: bool,
}

/// Boots the variant once and measures `pending` runs, or as many as the guest allows.
pub fn run(
    study: &mut Study,
    variant: &Variant,
    (number, console_log): (u32, &Path),
    pending: &[PendingRun],
    outcome: &mut StudyOutcome,
    start: Start,
) -> Result<Ended> {
    let plan = study.plan;
    let (states, restoring) = match start {
        Start::Boot { states } => (states, None),
        Start::Restore(state) => (None, Some(state)),
    };
    let spec = GuestSpec {
        // The host's name too: two hosts may be one daemon, whose `virsh list` shows both.
        name: if study.host.is_empty() { variant.name.clone() } else { format!("{}-{}", study.host, variant.name) },
        kernel: variant.kernel.clone(),
        initrd: variant.initrd.clone(),
        disk: plan.guest.disk.clone(),
        cmdline: variant.cmdline.clone(),
        cpus: plan.guest.cpus,
        memory_mib: plan.guest.memory_mib,
        agent: study.agent.to_path_buf(),
        console_log: console_log.to_path_buf(),
        scratch: study.scratch.to_path_buf(),
        pin: plan.guest.pin,
        saveable: states.is_some(),
    };
    study.listener.booting(variant, number);
    let booting = Instant::now();
    let mut guest = match restoring {
        None => study.backend.boot(&spec)?,
        Some(state) => study.backend.restore(&spec, &state.dir).map_err(|e| RestoreFailed(format!("{e:#}")))?,
    };
    let ours = guest.host_pids().map(|mut pids| {
        pids.push(std::process::id());
        pids
    });
    let mut times = BootTimes::new(&variant.name, number);
    times.pinning = guest.pinning();
    if let Some(pinning) = &times.pinning {
        study.listener.note(&format!("{}: pinned {}", variant.name, pinning.describe()));
    }
    let job = job::build(plan, pending, restoring.is_some());
    let setup = job.setup(boot_key()?, study.limits);
    let power_off = study.limits.power_off;
    let mut boot = Boot {
        study,
        variant,
        number,
        facts: None,
        started_at: now(),
        in_progress: None,
        ours,
        host: RunHost::default(),
        times,
        finishing: None,
        start: if restoring.is_some() { GuestStart::Restore } else { GuestStart::Boot },
        states,
        saved: false,
    };
    let stops = boot.study.stops;
    let stop = move || stops.check();
    let result = match restoring {
        None => match Session::open(guest.as_mut(), boot.study.timing(), &stop, setup) {
            Ok((session, facts)) => {
                boot.times.boot_s = booting.elapsed().as_secs_f64();
                let booted = boot.accept_facts(facts).and_then(|()| boot.study.listener.boot_times(&boot.times));
                booted.and_then(|()| boot.steps(session, &job, outcome))
            }
            Err(error) => Err(error),
        },
        Some(state) => match resume(guest.as_mut(), boot.study.timing(), &stop, setup.key, state) {
            Ok(session) => {
                boot.times.restore_s = Some(booting.elapsed().as_secs_f64());
                boot.facts = Some(state.facts.clone());
                boot.study.listener.note(&format!(
                    "{}: boot {number} restored its saved state in {:.2} s (no boot, prepare or warm-up)",
                    variant.name,
                    booting.elapsed().as_secs_f64()
                ));
                boot.study.listener.boot_times(&boot.times).and_then(|()| boot.steps(session, &job, outcome))
            }
            Err(error) if error.is::<Interrupted>() || error.is::<StudyTimedOut>() => Err(error),
            Err(error) => {
                let _ = boot.times_on_record(booting);
                return Err(RestoreFailed(format!("{error:#}")).into());
            }
        },
    };
    match result {
        Ok(()) => {
            guest.shut_down(power_off);
            boot.times.shutdown_s = boot.finishing.map_or(0.0, |f| f.elapsed().as_secs_f64());
            boot.times_on_record(booting)?;
            Ok(if boot.saved { Ended::Saved } else { Ended::Measured })
        }
        Err(error) if error.is::<GuestTrouble>() || error.is::<HypervisorFailed>() => {
            let _ = boot.times_on_record(booting);
            let step = boot.in_progress.take();
            let error = explain(console_log, step.as_ref().map(|(s, _)| &s.info), &error);
            if let Some((step, _)) = step {
                boot.file_lost_run(&step.info, &first_line(&format!("{error:#}")), outcome)?;
            }
            Err(error)
        }
        Err(error) => {
            let _ = boot.times_on_record(booting);
            Err(error)
        }
    }
}

impl Boot<'_, '_> {
    /// The boot's times, final; a guest that never booted spent all its time booting.
    fn times_on_record(&mut self, booting: Instant) -> Result<()> {
        if self.start == GuestStart::Restore {
            self.times.restore_s.get_or_insert_with(|| booting.elapsed().as_secs_f64());
        } else if self.facts.is_none() {
            self.times.boot_s = booting.elapsed().as_secs_f64();
        }
        self.study.listener.boot_times(&self.times)
    }

    /// A finished step's share of the boot's time: the agent's measurements.
    fn count_step(&mut self, kind: StepKind, result: &StepResult) {
        let elapsed_s = result.measurement.elapsed_s.max(0.0);
        self.times.clean_s += result.clean_s.max(0.0);
        match kind {
            StepKind::Prepare => self.times.prepare_s = Some(elapsed_s),
            StepKind::Warmup => self.times.warmup_s += elapsed_s,
            StepKind::Timed => self.times.timed_s += elapsed_s,
        }
    }

    /// A guest that did not boot with this variant's options would measure the wrong thing.
    fn accept_facts(&mut self, facts: BootFacts) -> Result<()> {
        let seen: Vec<&str> = facts.cmdline.split_whitespace().collect();
        let missing: Vec<&String> = self.variant.own_options.iter().filter(|o| !seen.contains(&o.as_str())).collect();
        if !missing.is_empty() {
            bail!("the guest's /proc/cmdline {:?} lacks {:?}: the kernel did not boot with this variant's options", facts.cmdline, missing);
        }
        self.study.listener.boot_facts(self.variant, &facts)?;
        self.facts = Some(facts);
        Ok(())
    }

    fn steps(&mut self, mut session: Session, job: &BootJob, outcome: &mut StudyOutcome) -> Result<()> {
        let mut longest_warmup: Option<Duration> = None;
        for planned in &job.steps {
            let limit = self.study.limits.for_step(planned.info.kind, longest_warmup);
            let timed = planned.info.kind == StepKind::Timed;
            if timed && self.save(&mut session) {
                return finish(&mut session, self);
            }
            self.host = RunHost::default();
            if timed {
                self.wait_for_quiet(&planned.info, outcome)?;
            }
            self.in_progress = Some((planned.clone(), limit.clone()));
            self.started_at = now();
            let window = if timed { self.start_window(outcome) } else { None };
            session.start(planned, &limit)?;
            let result = loop {
                match session.next()? {
                    Event::StepStarted { .. } => self.study.listener.step_started(self.variant, &planned.info, &limit),
                    Event::Heartbeat { elapsed_s, .. } => self.study.listener.heartbeat(self.variant, &planned.info, elapsed_s),
                    Event::KernelLog(text) => self.study.listener.kernel_log(self.variant, self.number, &text)?,
                    Event::StepFinished(result) => break result,
                    other @ (Event::KernelView(_) | Event::Done | Event::Synced) => bail!("internal: {other:?} in the middle of a step"),
                }
            };
            self.in_progress = None;
            self.count_step(planned.info.kind, &result);
            if let Some(window) = window {
                self.finish_window(window, outcome);
            }
            if planned.info.kind == StepKind::Warmup {
                // The agent's word: a time no Duration holds is as long as any.
                let step = Duration::try_from_secs_f64(result.step_s().max(0.0)).unwrap_or(Duration::MAX);
                longest_warmup = Some(longest_warmup.map_or(step, |l| l.max(step)));
            }
            if let Some(reason) = self.file_step(planned, &limit, &result, job, outcome)? {
                // Nothing after a failed prepare or warm-up would measure what was meant.
                let _ = finish(&mut session, self);
                bail!("{reason}");
            }
        }
        finish(&mut session, self)
    }

    /// `reuse = "snapshot"`: saves the guest, prepared and warmed up, before its first
    /// timed run, for this round and the variant's later rounds to restore; whether it was
    /// saved (the boot then ends). A guest that cannot be saved measures on; the later
    /// rounds then boot, and the terminal says why.
    fn save(&mut self, session: &mut Session) -> bool {
        let (Some((states, slot)), Some(facts)) = (self.states.take(), self.facts.clone()) else { return false };
        let name = self.variant.name.clone();
        let saving = Instant::now();
        let (listener, variant, number) = (&mut *self.study.listener, self.variant, self.number);
        let mut file_kernel_log = |text: String| listener.kernel_log(variant, number, &text);
        let saved = states.fresh_dir(&slot).and_then(|dir| session.save_state(&dir, &mut file_kernel_log).map(|bytes| (dir, bytes)));
        let save_s = saving.elapsed().as_secs_f64();
        match saved {
            Ok((dir, bytes)) => {
                self.times.save_s = Some(save_s);
                self.times.state_bytes = Some(bytes);
                states.insert(&slot, SavedState { dir, facts });
                let mb = bytes as f64 / 1e6;
                self.study.listener.note(&format!(
                    "{name}: saved the prepared guest in {save_s:.2} s ({mb:.1} MB); every timed run restores it, this round's too"
                ));
                self.saved = true;
                true
            }
            Err(error) => {
                states.forget(&slot);
                let line =
                    format!("warning: variant {name}: cannot save its guest ({error:#}); it measures on, and its later rounds boot again");
                self.study.listener.note(&line);
                false
            }
        }
    }

    /// Files what a step's result means; says why the boot cannot go on, if it cannot.
    fn file_step(
        &mut self,
        planned: &PlannedStep,
        limit: &Limit,
        result: &StepResult,
        job: &BootJob,
        outcome: &mut StudyOutcome,
    ) -> Result<Option<String>> {
        let info = &planned.info;
        if result.leftover_processes > 0 {
            self.note_leftovers(info, result.leftover_processes, outcome)?;
        }
        let log = self.study.listener.step_output(self.variant, info, &result.output_tail)?;
        if info.kind == StepKind::Timed && !result.monitor_samples.is_empty() {
            self.study.listener.monitor_samples(self.variant, info, &result.monitor_samples)?;
        }
        let failure = match &result.outcome {
            Outcome::TimedOut { .. } => format!("{} (limit: {}) (output: {log})", result.outcome.describe(), limit.source),
            other if !other.is_success() => format!("{} (output: {log})", other.describe()),
            _ if !result.missing_files.is_empty() => {
                format!("expected files missing after the run: {}", result.missing_files.join(", "))
            }
            _ => String::new(),
        };
        match info.kind {
            StepKind::Timed => {
                let mut record = self.record(info, result, failure);
                std::mem::take(&mut self.host).fill(&mut record);
                self.file_record(record, outcome)?;
                Ok(None)
            }
            StepKind::Prepare | StepKind::Warmup if !failure.is_empty() => {
                let reason = format!("{} failed: {failure}", info.describe());
                self.file_unrun_runs(planned.id, job, &reason, outcome)?;
                Ok(Some(reason))
            }
            _ => Ok(None),
        }
    }

    /// Processes a step left running were killed by the agent: the run is kept, with a
    /// warning, since they may have competed with it for the CPUs.
    fn note_leftovers(&mut self, info: &StepInfo, processes: u32, outcome: &mut StudyOutcome) -> Result<()> {
        let leftovers = Leftovers { host: self.study.host.to_string(), boot: self.number, step: info.describe(), processes };
        let line = leftovers.describe(&self.variant.name);
        self.study.listener.note(&format!("warning: {line}"));
        outcome.warnings.push(line);
        self.study.listener.leftovers(self.variant, leftovers)
    }

    fn file_record(&mut self, record: RunRecord, outcome: &mut StudyOutcome) -> Result<()> {
        self.study.listener.run_filed(&record)?;
        outcome.records.push(record);
        Ok(())
    }

    fn record(&self, info: &StepInfo, result: &StepResult, failure: String) -> RunRecord {
        let m = &result.measurement;
        let (label, jobs) = info.level.as_ref().map_or((String::new(), 0), |l| (l.label.clone(), l.jobs));
        let facts = self.facts.as_ref();
        let monitors = result.monitors.as_deref();
        // A step that never ran measured no faults either.
        let ran = !matches!(result.outcome, Outcome::SpawnFailed { .. });
        RunRecord {
            schema_version: RUNS_SCHEMA_VERSION,
            variant: self.variant.name.clone(),
            jobs_label: label,
            jobs,
            run: info.index,
            status: if failure.is_empty() { RunStatus::Ok } else { RunStatus::Failed },
            elapsed_s: m.elapsed_s,
            user_s: m.user_s,
            sys_s: m.sys_s,
            percent_cpu: m.percent_cpu(),
            ctx_switches: m.involuntary_csw,
            sleeps: m.voluntary_csw,
            max_rss_kib: m.max_rss_kib,
            exit_code: match result.outcome {
                Outcome::Exited { code } => Some(code),
                _ => None,
            },
            failure,
            kernel_release: facts.map(|f| f.kernel_release.clone()).unwrap_or_default(),
            cmdline: facts.map(|f| f.cmdline.clone()).unwrap_or_default(),
            started_at: self.started_at.clone(),
            minor_faults: ran.then_some(m.minor_faults),
            major_faults: ran.then_some(m.major_faults),
            slab_peak_kib: monitors.map(|s| s.slab_peak_kib),
            slab_end_kib: monitors.map(|s| s.slab_end_kib),
            sunreclaim_peak_kib: monitors.map(|s| s.sunreclaim_peak_kib),
            sunreclaim_end_kib: monitors.map(|s| s.sunreclaim_end_kib),
            sreclaimable_peak_kib: monitors.map(|s| s.sreclaimable_peak_kib),
            sreclaimable_end_kib: monitors.map(|s| s.sreclaimable_end_kib),
            pgalloc: monitors.map(|s| s.pgalloc),
            pgfree: monitors.map(|s| s.pgfree),
            pgfault: monitors.map(|s| s.pgfault),
            pgmajfault: monitors.map(|s| s.pgmajfault),
            guest_user_percent: monitors.map(|s| s.guest_user_percent),
            guest_sys_percent: monitors.map(|s| s.guest_sys_percent),
            guest_softirq_percent: monitors.map(|s| s.guest_softirq_percent),
            guest_steal_percent: monitors.map(|s| s.guest_steal_percent),
            boot: Some(self.number),
            host: self.study.host.to_string(),
            start: Some(self.start),
            ..RunRecord::default()
        }
    }

    /// The timed runs after a failed prepare or warm-up never run: each is a failed row
    /// saying why, so that runs.csv accounts for every planned run.
    fn file_unrun_runs(&mut self, failed_id: u32, job: &BootJob, reason: &str, outcome: &mut StudyOutcome) -> Result<()> {
        let unrun = job.steps.iter().skip(failed_id as usize + 1).filter(|s| s.info.kind == StepKind::Timed);
        for step in unrun {
            let record = self.record(&step.info, &never_ran(step.id, reason), format!("not run: {reason}"));
            self.file_record(record, outcome)?;
        }
        Ok(())
    }

    /// A timed run cut short by the guest (crash, hang, breach) is still a row.
    fn file_lost_run(&mut self, info: &StepInfo, reason: &str, outcome: &mut StudyOutcome) -> Result<()> {
        if info.kind != StepKind::Timed {
            return Ok(());
        }
        let mut record = self.record(info, &never_ran(0, reason), reason.to_string());
        // What was waited for before it is known; its window ended with the guest.
        std::mem::take(&mut self.host).fill(&mut record);
        self.file_record(record, outcome)
    }

    /// With `quiet_host`, waits (bounded) for other processes to calm down before a timed
    /// run; a host that stays busy costs the wait, and the run goes ahead flagged.
    fn wait_for_quiet(&mut self, info: &StepInfo, outcome: &mut StudyOutcome) -> Result<()> {
        let (Some(quiet), Some(wait)) = (self.study.plan.quiet_host, self.study.limits.quiet_wait) else { return Ok(()) };
        let Some(ours) = self.ours.clone() else {
            self.note_unsampled(
                "the guests run on another host, whose load cannot be read from here (quiet_host waits for nothing)",
                outcome,
            );
            return Ok(());
        };
        self.study.listener.waiting_for_quiet(self.variant, info, quiet.max_load, wait);
        let limits = self.study.limits;
        let checks = (limits.quiet_check, limits.quiet_poll);
        match noise_guard::wait_for_quiet(self.study.probe, &ours, (quiet.max_load, wait), checks, &self.study.stops) {
            Ok(waited) => {
                if let Some(busy) = waited.still_busy {
                    let line = format!("variant {} {}: {busy}; it runs anyway, flagged as noisy", self.variant.name, info.describe());
                    self.study.listener.note(&format!("warning: {line}"));
                    self.host.reasons.push(busy);
                }
                self.host.quiet_wait_s = Some(waited.seconds);
                Ok(())
            }
            Err(error) if error.is::<Interrupted>() || error.is::<StudyTimedOut>() => Err(error),
            Err(error) => {
                self.note_unsampled(&format!("{error:#}"), outcome);
                Ok(())
            }
        }
    }

    /// Starts sampling the host for the timed run about to start.
    fn start_window(&mut self, outcome: &mut StudyOutcome) -> Option<Box<dyn HostWindow>> {
        let Some(ours) = self.ours.as_deref() else {
            self.note_unsampled("the guests run on another host, whose load cannot be read from here", outcome);
            return None;
        };
        match self.study.probe.start(ours) {
            Ok(window) => Some(window),
            Err(error) => {
                self.note_unsampled(&format!("{error:#}"), outcome);
                None
            }
        }
    }

    /// The host during the run, for its row: what it was, and why it was noisy.
    fn finish_window(&mut self, window: Box<dyn HostWindow>, outcome: &mut StudyOutcome) {
        match window.finish() {
            Ok(noise) => {
                let limits = NoiseThresholds::for_guest(self.study.plan.guest.cpus);
                self.host.reasons.extend(noise.noise_reasons(&limits));
                self.host.noise = Some(noise);
            }
            Err(error) => self.note_unsampled(&format!("{error:#}"), outcome),
        }
    }

    /// Says once per study that the host's noise is not on record, and why: a study is
    /// not failed for want of it.
    fn note_unsampled(&mut self, why: &str, outcome: &mut StudyOutcome) {
        if outcome.warnings.iter().any(|w| w.starts_with(UNSAMPLED)) {
            return;
        }
        let line = format!("{UNSAMPLED}: {why}; the runs' host columns stay empty");
        self.study.listener.note(&format!("warning: {line}"));
        outcome.warnings.push(line);
    }
}

/// Says Finish and waits for Done, filing the kernel log and the kernel's view that come
/// before it.
fn finish(session: &mut Session, boot: &mut Boot) -> Result<()> {
    boot.finishing = Some(Instant::now());
    session.finish()?;
    loop {
        match session.next()? {
            Event::Done => return Ok(()),
            Event::KernelLog(text) => boot.study.listener.kernel_log(boot.variant, boot.number, &text)?,
            Event::KernelView(view) => boot.study.listener.kernel_view(boot.variant, boot.number, view)?,
            other => bail!("internal: {other:?} after finish"),
        }
    }
}

fn never_ran(id: u32, reason: &str) -> StepResult {
    StepResult {
        id,
        outcome: Outcome::SpawnFailed { error: reason.to_string() },
        measurement: Default::default(),
        clean_s: 0.0,
        output_tail: String::new(),
        missing_files: Vec::new(),
        leftover_processes: 0,
        monitors: None,
        monitor_samples: String::new(),
    }
}

/// Names the step the guest failed in, and what the console shows (a panic, an oops)
/// first, since that is the cause.
fn explain(console_log: &Path, step: Option<&StepInfo>, error: &anyhow::Error) -> anyhow::Error {
    let what = match step {
        Some(step) => format!("{}: {error:#}", step.describe()),
        None => format!("{error:#}"),
    };
    if error.is::<HypervisorFailed>() {
        // The hypervisor's own words are the cause; the console has none.
        return anyhow!(GuestTrouble(what));
    }
    let text = String::from_utf8_lossy(&std::fs::read(console_log).unwrap_or_default()).into_owned();
    let console_name = console_log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let cause = match console::scan(&text).first() {
        Some(ConsoleFinding { line, excerpt, .. }) => format!("{line}: {what} (console/{console_name}):\n{excerpt}"),
        None if text.is_empty() => what,
        None => format!("{what} (console/{console_name}); console tail:\n{}", console::tail(console_log, CONSOLE_EXCERPT)),
    };
    anyhow!(GuestTrouble(cause))
}

pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_string()
}

/// Opens the conversation with a restored guest's agent: a fresh key, the host's clock
/// and fresh entropy, and its answer checked against the facts of the boot it was saved
/// from, so that the state of another variant (or kernel) cannot pass for this one.
fn resume<'g>(
    guest: &'g mut dyn crate::backend::Guest,
    timing: super::session::Timing,
    stop: &'g dyn Fn() -> Result<()>,
    key: String,
    state: &SavedState,
) -> Result<Session<'g>> {
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| anyhow!("the host's clock: {e}"))?;
    let unix_time_ns = u64::try_from(clock.as_nanos()).map_err(|_| anyhow!("the host's clock is past 2554"))?;
    let resume = kbench_protocol::Resume { key, unix_time_ns, entropy: boot_key()? };
    let (session, facts) = Session::resume(guest, timing, stop, resume)?;
    let saved = &state.facts;
    if (&facts.cmdline, &facts.kernel_release, facts.slab.is_on()) != (&saved.cmdline, &saved.kernel_release, saved.slab.is_on()) {
        bail!(
            "the restored guest is not the boot that was saved: it runs {} with /proc/cmdline {:?}, poisoning {}; the saved boot ran {} with {:?}, poisoning {}",
            facts.kernel_release,
            facts.cmdline,
            on_off(facts.slab.is_on()),
            saved.kernel_release,
            saved.cmdline,
            on_off(saved.slab.is_on())
        );
    }
    Ok(session)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}
