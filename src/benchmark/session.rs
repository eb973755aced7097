//! The conversation with one booted guest: the handshake, the boot facts, and every
//! finished step filed as it arrives.

use super::job::StepInfo;
use super::runner::{GuestTrouble, Study, StudyOutcome};
use crate::backend::console;
use crate::backend::{Guest, GuestEvent};
use crate::model::{now, ConsoleFinding, RunRecord, RunStatus, RUNS_SCHEMA_VERSION};
use crate::scenario::Variant;
use anyhow::{anyhow, bail, Result};
use kbench_protocol::{AgentMessage, BootFacts, HostMessage, Job, Outcome, StepKind, StepResult, PROTOCOL_VERSION};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long the agent has, once it said hello, to report the boot facts.
const FACTS_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two steps the agent only reports; a silence this long means the guest hangs.
const BETWEEN_STEPS_TIMEOUT: Duration = Duration::from_secs(120);
/// Slack on top of the agent's own per-step timeout before the host gives up on the guest.
const STEP_MARGIN: Duration = Duration::from_secs(60);
/// Console bytes quoted in an error.
const CONSOLE_EXCERPT: usize = 2000;

/// The conversation with one booted guest.
struct Session<'s, 'a> {
    study: &'s mut Study<'a>,
    variant: &'s Variant,
    guest: &'s mut dyn Guest,
    /// This variant's boot number, as its console log is numbered.
    boot: u32,
    console_log: PathBuf,
    infos: &'s [StepInfo],
    facts: Option<BootFacts>,
    /// When the step in progress started, as the host saw it.
    started_at: String,
}

/// Hands the job to the guest's agent and files every step until the agent is done.
pub fn converse(
    study: &mut Study,
    variant: &Variant,
    guest: &mut dyn Guest,
    (boot, console_log): (u32, PathBuf),
    (job, infos): (Job, Vec<StepInfo>),
    outcome: &mut StudyOutcome,
) -> Result<()> {
    let mut session = Session { study, variant, guest, boot, console_log, infos: &infos, facts: None, started_at: now() };
    session.handshake(job)?;
    session.collect(outcome)
}

impl Session<'_, '_> {
    fn handshake(&mut self, job: Job) -> Result<()> {
        let boot_timeout = self.study.plan.guest.boot_timeout;
        match self.next_message(Some(boot_timeout), "the agent to start (guest.boot_timeout)")? {
            AgentMessage::Hello { protocol, .. } if protocol == PROTOCOL_VERSION => {}
            AgentMessage::Hello { protocol, agent_version } => bail!(
                "the guest's agent {agent_version} speaks protocol {protocol}, this kbench speaks {PROTOCOL_VERSION}: rebuild the agent (scripts/build-agent.sh)"
            ),
            other => bail!("the agent started with {other:?} instead of hello"),
        }
        self.guest.send(&HostMessage::Job(job))?;
        match self.next_message(Some(FACTS_TIMEOUT), "the guest's boot facts")? {
            AgentMessage::BootFacts(facts) => self.accept_facts(facts),
            other => bail!("expected the boot facts, the agent sent {other:?}"),
        }
    }

    /// A guest that did not boot with this variant's options would measure the wrong thing.
    fn accept_facts(&mut self, facts: BootFacts) -> Result<()> {
        let seen: Vec<&str> = facts.cmdline.split_whitespace().collect();
        let missing: Vec<&String> =
            self.variant.own_options.iter().filter(|o| !seen.contains(&o.as_str())).collect();
        if !missing.is_empty() {
            bail!(
                "the guest's /proc/cmdline {:?} lacks {:?}: the kernel did not boot with this variant's options",
                facts.cmdline,
                missing
            );
        }
        self.study.meta.record_boot(&self.variant.name, &facts);
        self.study.results.write_meta(self.study.meta)?;
        let poison = if facts.slab.is_on() { "on" } else { "off" };
        self.study.progress.println(&format!(
            "{}: booted {} with {} CPUs, slab poisoning {poison}; cmdline: {}",
            self.variant.name, facts.kernel_release, facts.cpus, facts.cmdline
        ));
        for (name, value) in &facts.probes {
            self.study.progress.println(&format!("{}: {name}: {value}", self.variant.name));
        }
        self.facts = Some(facts);
        Ok(())
    }

    fn collect(&mut self, outcome: &mut StudyOutcome) -> Result<()> {
        let mut current: Option<u32> = None;
        let mut limit = Some(BETWEEN_STEPS_TIMEOUT);
        loop {
            let message = match self.next_message(limit, "the current step to finish") {
                Ok(message) => message,
                Err(error) => {
                    // The run in progress failed with the guest: say so in runs.csv.
                    if let Some(id) = current.filter(|_| error.is::<GuestTrouble>()) {
                        self.file_lost_run(id, &first_line(&format!("{error:#}")), outcome)?;
                    }
                    return Err(error);
                }
            };
            match message {
                AgentMessage::StepStarted { id, timeout_s } => {
                    current = Some(id);
                    limit = timeout_s.map(|t| Duration::from_secs_f64(t) + STEP_MARGIN);
                    self.started_at = now();
                    self.show_step(id);
                }
                AgentMessage::StepFinished(result) => {
                    current = None;
                    limit = Some(BETWEEN_STEPS_TIMEOUT);
                    self.file_step(result, outcome)?;
                }
                AgentMessage::KernelView(view) => {
                    let init = view.mem_auto_init.as_ref().map_or("not in the kernel log".to_string(), |i| {
                        format!("stack:{}, heap alloc:{}, heap free:{}", i.stack, i.heap_alloc, i.heap_free)
                    });
                    self.study.progress.println(&format!(
                        "{}: mem auto-init {init}; {} of {} slab caches poisoned, {} red-zoned",
                        self.variant.name, view.poisoned, view.caches, view.red_zoned
                    ));
                    self.study.meta.record_kernel_view(&self.variant.name, self.boot, view);
                    self.study.results.write_meta(self.study.meta)?;
                }
                AgentMessage::Done => return Ok(()),
                AgentMessage::Fatal { message } => bail!("the agent gave up: {message}"),
                other => bail!("unexpected message from the agent: {other:?}"),
            }
        }
    }

    fn info(&self, id: u32) -> Result<&StepInfo> {
        self.infos.get(id as usize).ok_or_else(|| anyhow!("the agent reported step {id}, which the job does not have"))
    }

    fn show_step(&self, id: u32) {
        if let Ok(info) = self.info(id) {
            let what = match (&info.kind, &info.level) {
                (kind, Some(level)) => format!("{} -j {} {} {}", level.label, level.substitution(), kind_name(*kind), info.index),
                (kind, None) => kind_name(*kind).to_string(),
            };
            self.study.progress.set_message(&format!("{}: {what}", self.variant.name));
        }
    }

    fn file_step(&mut self, result: StepResult, outcome: &mut StudyOutcome) -> Result<()> {
        let info = self.info(result.id)?.clone();
        let log = self.study.results.save_output(&log_name(&self.variant.name, &info), &result.output_tail)?;
        if info.kind == StepKind::Timed && !result.monitor_samples.is_empty() {
            self.study.results.save_monitors(&log_name(&self.variant.name, &info), &result.monitor_samples)?;
        }
        let mut failure = String::new();
        if !result.outcome.is_success() {
            failure = format!("{} (output: {log})", result.outcome.describe());
        } else if !result.missing_files.is_empty() {
            failure = format!("expected files missing after the run: {}", result.missing_files.join(", "));
        }
        match info.kind {
            StepKind::Timed => self.file_record(self.record(&info, &result, failure), outcome),
            StepKind::Prepare | StepKind::Warmup if !failure.is_empty() => {
                let reason = format!("{} failed: {failure}", kind_name(info.kind));
                self.file_unrun_runs(result.id, &reason, outcome)?;
                bail!("{reason}");
            }
            _ => Ok(()),
        }
    }

    fn file_record(&mut self, record: RunRecord, outcome: &mut StudyOutcome) -> Result<()> {
        self.study.results.append_run(&record)?;
        self.study.progress.finished_run(&record, self.study.plan.runs);
        outcome.records.push(record);
        Ok(())
    }

    fn record(&self, info: &StepInfo, result: &StepResult, failure: String) -> RunRecord {
        let m = &result.measurement;
        let (label, jobs) = info.level.as_ref().map_or((String::new(), 0), |l| (l.label.clone(), l.jobs));
        let facts = self.facts.as_ref();
        let monitors = result.monitors.as_deref();
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
            minor_faults: Some(m.minor_faults),
            major_faults: Some(m.major_faults),
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
        }
    }

    /// The timed runs after a failed prepare or warm-up never run: each is a failed row
    /// saying why, so that runs.csv accounts for every planned run.
    fn file_unrun_runs(&mut self, failed_id: u32, reason: &str, outcome: &mut StudyOutcome) -> Result<()> {
        let unrun: Vec<StepInfo> =
            self.infos.iter().skip(failed_id as usize + 1).filter(|i| i.kind == StepKind::Timed).cloned().collect();
        for info in unrun {
            let never = StepResult {
                id: failed_id,
                outcome: Outcome::SpawnFailed { error: reason.to_string() },
                measurement: Default::default(),
                output_tail: String::new(),
                missing_files: Vec::new(),
                monitors: None,
                monitor_samples: String::new(),
            };
            self.file_record(self.record(&info, &never, format!("not run: {reason}")), outcome)?;
        }
        Ok(())
    }

    /// A timed run cut short by the guest (crash, hang, lost channel) is still a row.
    fn file_lost_run(&mut self, id: u32, reason: &str, outcome: &mut StudyOutcome) -> Result<()> {
        let info = self.info(id)?.clone();
        if info.kind != StepKind::Timed {
            return Ok(());
        }
        let lost = StepResult {
            id,
            outcome: Outcome::SpawnFailed { error: reason.to_string() },
            measurement: Default::default(),
            output_tail: String::new(),
            missing_files: Vec::new(),
            monitors: None,
            monitor_samples: String::new(),
        };
        self.file_record(self.record(&info, &lost, reason.to_string()), outcome)
    }

    /// Waits in short slices so that Ctrl-C is noticed within a fraction of a second.
    fn next_message(&mut self, limit: Option<Duration>, waiting_for: &str) -> Result<AgentMessage> {
        let started = Instant::now();
        loop {
            self.study.check_stop()?;
            if limit.is_some_and(|limit| started.elapsed() >= limit) {
                return Err(self.trouble(&format!(
                    "the guest hung: no word for {} s while waiting for {waiting_for}; it was killed",
                    started.elapsed().as_secs()
                )));
            }
            match self.guest.next_event(Duration::from_millis(200))? {
                None => continue,
                Some(GuestEvent::Message(message)) => return Ok(message),
                Some(GuestEvent::Closed { hypervisor_error }) => {
                    self.guest.shut_down(Duration::from_secs(5));
                    let stopped = format!("the guest stopped while waiting for {waiting_for}");
                    return Err(match hypervisor_error {
                        // The hypervisor's own words are the cause; the console has none.
                        Some(error) => anyhow!(GuestTrouble(format!("{stopped}: {error}"))),
                        None => self.trouble(&stopped),
                    });
                }
            }
        }
    }

    /// Names what the console shows (a panic, an oops) first, since that is the cause.
    fn trouble(&self, what: &str) -> anyhow::Error {
        let text = std::fs::read_to_string(&self.console_log).unwrap_or_default();
        let console_name = self.console_log.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let cause = match console::scan(&text).first() {
            Some(ConsoleFinding { line, excerpt, .. }) => format!("{line}: {what} (console/{console_name}):\n{excerpt}"),
            None => format!(
                "{what} (console/{console_name}); console tail:\n{}",
                console::tail(&self.console_log, CONSOLE_EXCERPT)
            ),
        };
        anyhow!(GuestTrouble(cause))
    }
}

pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_string()
}

fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Prepare => "prepare",
        StepKind::Warmup => "warm-up",
        StepKind::Timed => "run",
    }
}

fn log_name(variant: &str, info: &StepInfo) -> String {
    match &info.level {
        Some(level) => format!("{variant}-{}-{}{}", level.label, kind_name(info.kind), info.index),
        None => format!("{variant}-{}", kind_name(info.kind)),
    }
}
