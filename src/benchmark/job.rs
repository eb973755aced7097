//! The agent's job for one boot: which steps, in which order, with which command.

use crate::scenario::{JobsLevel, Plan, Workload};
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
    let Workload::Command { command, prepare, clean } = &plan.workload;
    let timeout_s = plan.guest.run_timeout.map(|d| d.as_secs_f64());
    let mut steps = Vec::new();
    let mut infos = Vec::new();
    let mut push = |kind, level: Option<&JobsLevel>, index, clean: Option<&String>, command: String| {
        steps.push(Step {
            id: steps.len() as u32,
            kind,
            clean: clean.cloned(),
            command,
            timeout_s,
            expect_files: Vec::new(),
        });
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
    (Job { steps, output_tail_bytes: OUTPUT_TAIL_BYTES, env: Vec::new(), derived_timeout }, infos)
}

fn substitute(command: &str, level: &JobsLevel) -> String {
    command.replace("{jobs}", &level.substitution())
}
