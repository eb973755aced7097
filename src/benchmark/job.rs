//! What one boot is to do: which steps, in which order, with which command. The steps
//! get their time limits only when they are sent (`limits`), since a timed run's limit
//! may follow from the warm-ups of the same boot.

use super::limits::{Limit, Limits};
use super::workload::commands;
use crate::scenario::{JobsLevel, Plan};
use kbench_protocol::{Probe, RootDisk, Setup, Step, StepKind};

/// Output the agent sends back per step: enough for make's error and its context.
const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// What a step id stands for, so that a result can be filed.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    pub kind: StepKind,
    pub level: Option<JobsLevel>,
    /// 1-based, among steps of the same kind and level.
    pub index: u32,
}

impl StepInfo {
    /// "prepare", "warm-up 1", "run half 2".
    pub fn describe(&self) -> String {
        match (self.kind, &self.level) {
            (StepKind::Prepare, _) => "prepare".into(),
            (StepKind::Warmup, _) => format!("warm-up {}", self.index),
            (StepKind::Timed, Some(level)) => format!("run {} {}", level.label, self.index),
            (StepKind::Timed, None) => format!("run {}", self.index),
        }
    }
}

/// One step before its limit is known.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub id: u32,
    pub info: StepInfo,
    pub clean: Option<String>,
    pub command: String,
    pub expect_files: Vec<String>,
}

impl PlannedStep {
    pub fn with_limit(&self, limit: &Limit) -> Step {
        Step {
            id: self.id,
            kind: self.info.kind,
            clean: self.clean.clone(),
            command: self.command.clone(),
            timeout_s: limit.duration.as_secs_f64(),
            expect_files: self.expect_files.clone(),
        }
    }
}

/// Everything one boot does, in order.
#[derive(Debug, Clone)]
pub struct BootJob {
    pub steps: Vec<PlannedStep>,
    env: Vec<(String, String)>,
    root: Option<RootDisk>,
    probes: Vec<Probe>,
    monitor_interval_s: f64,
}

impl BootJob {
    /// The agent's setup for this boot, with the boot's key (hex).
    pub fn setup(&self, key: String, limits: &Limits) -> Setup {
        Setup {
            key,
            output_tail_bytes: OUTPUT_TAIL_BYTES,
            env: self.env.clone(),
            root: self.root.clone(),
            probes: self.probes.clone(),
            heartbeat_s: limits.heartbeat.as_secs_f64(),
            probe_timeout_s: limits.probe.as_secs_f64(),
            monitor_interval_s: self.monitor_interval_s,
        }
    }
}

/// One timed run still to be measured: its level and 1-based index.
pub type PendingRun = (JobsLevel, u32);

/// Every timed run the plan asks for of one variant.
pub fn all_runs(plan: &Plan) -> Vec<PendingRun> {
    plan.levels.iter().flat_map(|level| (1..=plan.runs).map(move |index| (level.clone(), index))).collect()
}

/// Prepare once, the warm-ups at the first level, then the pending timed runs in order;
/// a guest restored after its prepare and warm-ups (`prepared`) only the timed runs.
pub fn build(plan: &Plan, pending: &[PendingRun], prepared: bool) -> BootJob {
    let work = commands(&plan.workload, false);
    let mut steps: Vec<PlannedStep> = Vec::new();
    let mut push = |kind, level: Option<&JobsLevel>, index, clean: Option<&String>, command: String| {
        // A prepare only configures; what it must leave behind is the builds' business.
        let expect_files = if kind == StepKind::Prepare { Vec::new() } else { work.expect_files.clone() };
        let info = StepInfo { kind, level: level.cloned(), index };
        steps.push(PlannedStep { id: steps.len() as u32, info, clean: clean.cloned(), command, expect_files });
    };
    if let Some(prepare) = work.prepare.as_ref().filter(|_| !prepared) {
        push(StepKind::Prepare, None, 1, None, prepare.clone());
    }
    if let Some(first) = plan.levels.first().filter(|_| !prepared) {
        for index in 1..=plan.warmup {
            push(StepKind::Warmup, Some(first), index, work.clean.as_ref(), substitute(&work.command, first));
        }
    }
    for (level, index) in pending {
        push(StepKind::Timed, Some(level), *index, work.clean.as_ref(), substitute(&work.command, level));
    }
    BootJob {
        steps,
        env: work.env.clone(),
        root: plan.guest.root.clone(),
        probes: work.probes.clone(),
        monitor_interval_s: plan.monitor_interval_s,
    }
}

fn substitute(command: &str, level: &JobsLevel) -> String {
    command.replace("{jobs}", &level.substitution())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::fake::plan;
    use crate::scenario::Workload;

    #[test]
    fn steps_are_prepare_warmups_then_the_pending_runs_with_jobs_substituted() {
        let mut plan = plan(2, 1, 1);
        plan.levels = vec![JobsLevel { label: "half".into(), jobs: 2 }, JobsLevel { label: "max".into(), jobs: 0 }];
        plan.workload =
            Workload::Command { command: "make -j{jobs}".into(), prepare: Some("configure".into()), clean: Some("make clean".into()) };
        let pending = vec![all_runs(&plan)[1].clone(), all_runs(&plan)[2].clone()];
        let restored = build(&plan, &pending, true);
        let kinds: Vec<StepKind> = restored.steps.iter().map(|s| s.info.kind).collect();
        assert_eq!(kinds, [StepKind::Timed, StepKind::Timed], "a restored guest was prepared and warmed up");
        assert!(restored.steps.iter().enumerate().all(|(i, s)| s.id as usize == i));
        let job = build(&plan, &pending, false);
        let steps: Vec<(StepKind, &str, Option<&str>)> =
            job.steps.iter().map(|s| (s.info.kind, s.command.as_str(), s.clean.as_deref())).collect();
        assert_eq!(
            steps,
            [
                (StepKind::Prepare, "configure", None),
                (StepKind::Warmup, "make -j2", Some("make clean")),
                (StepKind::Timed, "make -j2", Some("make clean")),
                (StepKind::Timed, "make -j", Some("make clean")),
            ]
        );
        assert_eq!((job.steps[2].info.index, job.steps[3].info.index), (2, 1));
        assert_eq!(job.steps[3].info.describe(), "run max 1");
        assert!(job.steps.iter().enumerate().all(|(i, s)| s.id as usize == i));
        let limit = Limit { duration: std::time::Duration::from_millis(2500), source: "t".into() };
        assert_eq!(job.steps[2].with_limit(&limit).timeout_s, 2.5);
    }
}
