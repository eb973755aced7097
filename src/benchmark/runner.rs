//! One guest per variant: boot, hand over the job, check the boot, file each finished run.

use super::job::{self, StepInfo};
use crate::backend::{Backend, Guest, GuestEvent, GuestSpec};
use crate::export::meta::{now, Meta};
use crate::export::results::ResultsDir;
use crate::export::runs_csv::{RunRecord, RunStatus, RUNS_SCHEMA_VERSION};
use crate::interrupt::Interrupt;
use crate::output::progress::Progress;
use crate::scenario::{Plan, Variant};
use anyhow::{anyhow, bail, Result};
use kbench_protocol::{AgentMessage, BootFacts, HostMessage, StepKind, StepResult, PROTOCOL_VERSION};
use std::path::Path;
use std::time::Duration;

/// How long the agent has, once it said hello, to report the boot facts.
const FACTS_TIMEOUT: Duration = Duration::from_secs(60);
/// Slack on top of the agent's own per-step timeout before the host gives up on the guest.
const STEP_MARGIN: Duration = Duration::from_secs(60);
/// How long a guest that said Done may take to power off.
const POWER_OFF_TIMEOUT: Duration = Duration::from_secs(30);
/// Console bytes quoted in an error.
const CONSOLE_EXCERPT: usize = 3000;

/// What a study produced, whatever stopped it.
#[derive(Debug, Default)]
pub struct StudyOutcome {
    pub records: Vec<RunRecord>,
    /// One line per variant that did not complete, and why.
    pub problems: Vec<String>,
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

pub struct Study<'a> {
    pub plan: &'a Plan,
    pub backend: &'a dyn Backend,
    pub agent: &'a Path,
    pub results: &'a mut ResultsDir,
    pub meta: &'a mut Meta,
    pub progress: &'a Progress,
    pub interrupt: &'a Interrupt,
}

/// Runs every variant in turn; a variant that fails is noted and the study goes on.
/// An interrupt ends it early with `Err(Interrupted)`: `outcome` still holds every run.
pub fn run_study(study: &mut Study, outcome: &mut StudyOutcome) -> Result<()> {
    outcome.planned_runs = study.plan.variants.len() * study.plan.levels.len() * study.plan.runs as usize;
    for variant in &study.plan.variants {
        study.interrupt.check()?;
        if let Err(error) = run_variant(study, variant, outcome) {
            if error.is::<crate::interrupt::Interrupted>() {
                return Err(error);
            }
            let line = format!("variant {}: {error:#}", variant.name);
            study.progress.println(&format!("error: {line}"));
            outcome.problems.push(line);
        }
    }
    Ok(())
}

fn run_variant(study: &mut Study, variant: &Variant, outcome: &mut StudyOutcome) -> Result<()> {
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
        console_log: study.results.console_log(&variant.name, 1),
    };
    study.progress.set_message(&format!("{}: booting", variant.name));
    let mut guest = study.backend.boot(&spec)?;
    let (job, infos) = job::build(plan);
    let mut session = Session { study, variant, guest: guest.as_mut(), infos: &infos, facts: None, started_at: now() };
    session.handshake(job)?;
    let result = session.collect(outcome);
    if result.is_ok() {
        guest.shut_down(POWER_OFF_TIMEOUT);
    }
    result
}

/// The conversation with one booted guest.
struct Session<'s, 'a> {
    study: &'s mut Study<'a>,
    variant: &'s Variant,
    guest: &'s mut dyn Guest,
    infos: &'s [StepInfo],
    facts: Option<BootFacts>,
    /// When the step in progress started, as the host saw it.
    started_at: String,
}

impl Session<'_, '_> {
    fn handshake(&mut self, job: kbench_protocol::Job) -> Result<()> {
        let boot_timeout = self.study.plan.guest.boot_timeout;
        match self.next_message(boot_timeout, "the agent to start (boot timeout)")? {
            AgentMessage::Hello { protocol, .. } if protocol == PROTOCOL_VERSION => {}
            AgentMessage::Hello { protocol, agent_version } => bail!(
                "the guest's agent {agent_version} speaks protocol {protocol}, this kbench speaks {PROTOCOL_VERSION}: rebuild the agent (scripts/build-agent.sh) and the guest image"
            ),
            other => bail!("the agent started with {other:?} instead of hello"),
        }
        self.guest.send(&HostMessage::Job(job))?;
        match self.next_message(FACTS_TIMEOUT, "the guest's boot facts")? {
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
        let step_limit = self.study.plan.guest.run_timeout.map(|t| t + STEP_MARGIN);
        let mut current: Option<u32> = None;
        loop {
            let message = self.next_message_or(step_limit, "the current step to finish");
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    // The run in progress failed with the guest: say so in runs.csv.
                    if let Some(id) = current {
                        self.file_lost_run(id, &format!("{error:#}"), outcome)?;
                    }
                    return Err(error);
                }
            };
            match message {
                AgentMessage::StepStarted { id } => {
                    current = Some(id);
                    self.started_at = now();
                    self.show_step(id);
                }
                AgentMessage::StepFinished(result) => {
                    current = None;
                    self.file_step(result, outcome)?;
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
                (StepKind::Prepare, _) => "prepare".to_string(),
                (kind, Some(level)) => format!("{} -j {} {} {}", level.label, level.substitution(), kind_name(*kind), info.index),
                (kind, None) => kind_name(*kind).to_string(),
            };
            self.study.progress.set_message(&format!("{}: {what}", self.variant.name));
        }
    }

    fn file_step(&mut self, result: StepResult, outcome: &mut StudyOutcome) -> Result<()> {
        let info = self.info(result.id)?.clone();
        let log_name = log_name(&self.variant.name, &info);
        let log = self.study.results.save_output(&log_name, &result.output_tail)?;
        let mut failure = String::new();
        if !result.outcome.is_success() {
            failure = format!("{} (output: {log})", result.outcome.describe());
        } else if !result.missing_files.is_empty() {
            failure = format!("expected files missing after the run: {}", result.missing_files.join(", "));
        }
        match info.kind {
            StepKind::Timed => {
                let record = self.record(&info, &result, failure);
                self.study.results.append_run(&record)?;
                outcome.records.push(record);
                self.study.progress.inc();
            }
            StepKind::Prepare | StepKind::Warmup if !failure.is_empty() => {
                let reason = format!("{} failed: {failure}", kind_name(info.kind));
                self.file_unrun_runs(result.id, &reason, outcome)?;
                bail!("{reason}");
            }
            _ => {}
        }
        Ok(())
    }

    fn record(&self, info: &StepInfo, result: &StepResult, failure: String) -> RunRecord {
        let m = &result.measurement;
        let level = info.level.clone().unwrap_or_else(|| crate::scenario::JobsLevel { label: String::new(), jobs: 0 });
        let facts = self.facts.as_ref();
        RunRecord {
            schema_version: RUNS_SCHEMA_VERSION,
            variant: self.variant.name.clone(),
            jobs_label: level.label,
            jobs: level.jobs,
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
                kbench_protocol::Outcome::Exited { code } => Some(code),
                _ => None,
            },
            failure,
            kernel_release: facts.map(|f| f.kernel_release.clone()).unwrap_or_default(),
            cmdline: facts.map(|f| f.cmdline.clone()).unwrap_or_default(),
            started_at: self.started_at.clone(),
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
                outcome: kbench_protocol::Outcome::SpawnFailed { error: reason.to_string() },
                measurement: Default::default(),
                output_tail: String::new(),
                missing_files: Vec::new(),
            };
            let record = self.record(&info, &never, format!("not run: {reason}"));
            self.study.results.append_run(&record)?;
            outcome.records.push(record);
            self.study.progress.inc();
        }
        Ok(())
    }

    /// A timed run cut short by the guest (crash, hang, lost channel) is still a row.
    fn file_lost_run(&mut self, id: u32, reason: &str, outcome: &mut StudyOutcome) -> Result<()> {
        let info = self.info(id)?.clone();
        if info.kind != StepKind::Timed {
            return Ok(());
        }
        let failure = reason.lines().next().unwrap_or(reason).to_string();
        let lost = StepResult {
            id,
            outcome: kbench_protocol::Outcome::SpawnFailed { error: failure.clone() },
            measurement: Default::default(),
            output_tail: String::new(),
            missing_files: Vec::new(),
        };
        let record = self.record(&info, &lost, failure);
        self.study.results.append_run(&record)?;
        outcome.records.push(record);
        self.study.progress.inc();
        Ok(())
    }

    fn next_message(&mut self, limit: Duration, waiting_for: &str) -> Result<AgentMessage> {
        self.next_message_or(Some(limit), waiting_for)
    }

    /// Waits in short slices so that Ctrl-C is noticed within a fraction of a second.
    fn next_message_or(&mut self, limit: Option<Duration>, waiting_for: &str) -> Result<AgentMessage> {
        let started = std::time::Instant::now();
        loop {
            self.study.interrupt.check()?;
            if let Some(limit) = limit {
                if started.elapsed() >= limit {
                    bail!(
                        "no word from the guest for {} s while waiting for {waiting_for}; the guest was killed. Console tail:\n{}",
                        limit.as_secs(),
                        self.guest.console_tail(CONSOLE_EXCERPT)
                    );
                }
            }
            match self.guest.next_event(Duration::from_millis(200))? {
                None => continue,
                Some(GuestEvent::Message(message)) => return Ok(message),
                Some(GuestEvent::Closed) => bail!(
                    "the guest stopped while waiting for {waiting_for} (crash, panic or the agent died). Console tail:\n{}",
                    self.guest.console_tail(CONSOLE_EXCERPT)
                ),
            }
        }
    }
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
