//! The agent's job for one boot: which steps, in which order, with which command.

use super::workload::commands;
use crate::scenario::{JobsLevel, Plan};
use kbench_protocol::{DerivedTimeout, Job, Step, StepKind};

/// Output the agent sends back per step: enough for make's error and its context.
const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// What a step id stands for, so that a result can be filed.
#[derive(Debug, Clone)]
pub struct StepInfo {
    pub kind: StepKind,
    pub level: Option<JobsLevel>,
    /// 1-based, among steps of the same kind and level.
    pub index: u32,
}

/// Without `run_timeout`, a timed run may take this many times the longest warm-up...
const WARMUP_FACTOR: f64 = 5.0;
/// ...and never less than this, so that a quick warm-up does not make a tight limit.
const TIMEOUT_FLOOR_S: f64 = 60.0;

/// One timed run still to be measured: its level and 1-based index.
pub type PendingRun = (JobsLevel, u32);

/// Every timed run the plan asks for of one variant.
pub fn all_runs(plan: &Plan) -> Vec<PendingRun> {
    plan.levels.iter().flat_map(|level| (1..=plan.runs).map(move |index| (level.clone(), index))).collect()
}

/// Prepare once, the warm-ups at the first level, then the pending timed runs in order.
pub fn build(plan: &Plan, pending: &[PendingRun]) -> (Job, Vec<StepInfo>) {
    let work = commands(&plan.workload, false);
    let (command, prepare, clean) = (&work.command, &work.prepare, &work.clean);
    let timeout_s = plan.guest.run_timeout.map(|d| d.as_secs_f64());
    let mut steps = Vec::new();
    let mut infos = Vec::new();
    let mut push = |kind, level: Option<&JobsLevel>, index, clean: Option<&String>, command: String| {
        // A prepare only configures; what it must leave behind is the builds' business.
        let expect_files = if kind == StepKind::Prepare { Vec::new() } else { work.expect_files.clone() };
        steps.push(Step { id: steps.len() as u32, kind, clean: clean.cloned(), command, timeout_s, expect_files });
        infos.push(StepInfo { kind, level: level.cloned(), index });
    };
    if let Some(prepare) = prepare {
        push(StepKind::Prepare, None, 1, None, prepare.clone());
    }
    if let Some(first) = plan.levels.first() {
        for index in 1..=plan.warmup {
            push(StepKind::Warmup, Some(first), index, clean.as_ref(), substitute(command, first));
        }
    }
    for (level, index) in pending {
        push(StepKind::Timed, Some(level), *index, clean.as_ref(), substitute(command, level));
    }
    let derived_timeout = (plan.guest.run_timeout.is_none() && plan.warmup > 0)
        .then_some(DerivedTimeout { factor: WARMUP_FACTOR, floor_s: TIMEOUT_FLOOR_S });
    let job = Job {
        steps,
        output_tail_bytes: OUTPUT_TAIL_BYTES,
        env: work.env.clone(),
        derived_timeout,
        root: plan.guest.root.clone(),
        probes: work.probes.clone(),
    };
    (job, infos)
}

fn substitute(command: &str, level: &JobsLevel) -> String {
    command.replace("{jobs}", &level.substitution())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::{GuestPlan, Variant};
    use crate::scenario::Workload;
    use std::time::Duration;

    fn plan(run_timeout: Option<u64>, warmup: u32) -> Plan {
        Plan {
            name: "t".into(),
            scenario_path: "t.toml".into(),
            guest: GuestPlan {
                disk: None,
                cpus: 4,
                memory_mib: 512,
                accel: Default::default(),
                boot_timeout: Duration::from_secs(10),
                run_timeout: run_timeout.map(Duration::from_secs),
                study_timeout: None,
                retries: 1,
                qemu: None,
                root: None,
                backend: Default::default(),
                uri: None,
            },
            variants: vec![Variant {
                name: "v".into(),
                kernel: "k".into(),
                initrd: None,
                cmdline: String::new(),
                own_options: vec![],
            }],
            baseline: 0,
            levels: vec![JobsLevel { label: "half".into(), jobs: 2 }, JobsLevel { label: "max".into(), jobs: 0 }],
            runs: 2,
            warmup,
            rounds: 1,
            workload: Workload::Command {
                command: "make -j{jobs}".into(),
                prepare: Some("configure".into()),
                clean: Some("make clean".into()),
            },
        }
    }

    #[test]
    fn steps_are_prepare_warmups_then_the_pending_runs_with_jobs_substituted() {
        let plan = plan(None, 1);
        let pending = vec![all_runs(&plan)[1].clone(), all_runs(&plan)[2].clone()];
        let (job, infos) = build(&plan, &pending);
        let steps: Vec<(StepKind, &str, Option<&str>)> =
            job.steps.iter().map(|s| (s.kind, s.command.as_str(), s.clean.as_deref())).collect();
        assert_eq!(
            steps,
            [
                (StepKind::Prepare, "configure", None),
                (StepKind::Warmup, "make -j2", Some("make clean")),
                (StepKind::Timed, "make -j2", Some("make clean")),
                (StepKind::Timed, "make -j", Some("make clean")),
            ]
        );
        assert_eq!((infos[2].index, infos[3].index), (2, 1));
        assert!(job.steps.iter().enumerate().all(|(i, s)| s.id as usize == i));
        assert_eq!(job.derived_timeout.map(|d| d.limit(30.0)), Some(150.0));
    }

    #[test]
    fn an_explicit_run_timeout_or_no_warmup_derives_nothing() {
        let (job, _) = build(&plan(Some(100), 1), &[]);
        assert_eq!(job.derived_timeout, None);
        assert!(job.steps.iter().all(|s| s.timeout_s == Some(100.0)));
        assert_eq!(build(&plan(None, 0), &[]).0.derived_timeout, None);
    }
}
