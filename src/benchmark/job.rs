//! The agent's job for one boot: which steps, in which order, with which command.

use super::workload::commands;
use crate::scenario::{JobsLevel, Plan};
use kbench_protocol::{Job, Step, StepKind};

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

/// Prepare once, the warm-ups at the first level, then each level's timed runs.
pub fn build(plan: &Plan) -> (Job, Vec<StepInfo>) {
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
    for level in &plan.levels {
        for index in 1..=plan.runs {
            push(StepKind::Timed, Some(level), index, clean.as_ref(), substitute(command, level));
        }
    }
    let job = Job {
        steps,
        output_tail_bytes: OUTPUT_TAIL_BYTES,
        env: work.env.clone(),
        root: plan.guest.root.clone(),
        probes: work.probes.clone(),
    };
    (job, infos)
}

fn substitute(command: &str, level: &JobsLevel) -> String {
    command.replace("{jobs}", &level.substitution())
}
