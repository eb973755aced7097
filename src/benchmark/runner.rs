//! The study: every round boots every variant, each boot measures the runs still missing.
//! With `runs = "auto"` a round measures only the variants and levels not precise yet
//! (`stats::Target`), and a variant with nothing left is not booted.
//! A guest that crashes, hangs, vanishes or breaks the protocol costs the run in progress
//! (recorded as failed) and is booted again, up to `retries` times, for the runs still
//! missing.

use super::boot::{self, first_line, Ended, RestoreFailed, Start};
use super::job::{self, PendingRun};
use super::session::GuestTrouble;
use super::snapshots::SavedStates;
use super::study::{Study, StudyOutcome, StudyTimedOut};
use crate::backend::console;
use crate::benchmark::interrupt::Interrupted;
use crate::model::RunRecord;
use crate::scenario::file::Reuse;
use crate::scenario::{Plan, Variant};
use crate::stats::{Decide, Target};
use anyhow::Result;
use std::path::Path;

/// Runs the variants in turn; a variant that fails is noted and the study goes on.
/// An interrupt or the study timeout ends it early: `outcome` still holds every run.
pub fn run_study(study: &mut Study, outcome: &mut StudyOutcome) -> Result<()> {
    let ended = run_rounds(study, outcome);
    if let Some(target) = adaptive_target(study.plan) {
        outcome.planned_runs = adaptive_planned(study.plan, &target, &outcome.records);
        study.listener.planned_runs(outcome.planned_runs);
    }
    ended
}

fn run_rounds(study: &mut Study, outcome: &mut StudyOutcome) -> Result<()> {
    // Dropped on every way out (the end, Ctrl-C, the study timeout): no state file stays.
    let mut states = (study.plan.reuse == Reuse::Snapshot).then(|| SavedStates::new(study.scratch, study.host));
    outcome.planned_runs = study.plan.variants.len() * job::all_runs(study.plan).len();
    for round in 0..study.plan.rounds {
        if let Some(target) = adaptive_target(study.plan) {
            // What is still to come, now that the last round's runs are in.
            outcome.planned_runs = adaptive_planned(study.plan, &target, &outcome.records);
            study.listener.planned_runs(outcome.planned_runs);
        }
        for variant in study.plan.variant_order(round) {
            study.stops.check()?;
            if let Err(error) = run_variant(study, variant, round, outcome, states.as_mut()) {
                if error.is::<Interrupted>() || error.is::<StudyTimedOut>() {
                    return Err(error);
                }
                let line = format!("variant {}: {error:#}", variant.name);
                study.listener.note(&format!("error: {line}"));
                outcome.problems.push(line);
            }
        }
    }
    Ok(())
}

/// One round of one variant: boots (or restores its saved guest) until the round's runs
/// are all on record or the retries are spent.
fn run_variant(
    study: &mut Study,
    variant: &Variant,
    round: u32,
    outcome: &mut StudyOutcome,
    mut states: Option<&mut SavedStates>,
) -> Result<()> {
    let boots = study.plan.guest.retries + 1;
    let mut attempt = 1;
    while attempt <= boots {
        let pending = pending_runs(study.plan, variant, round, &outcome.records);
        if pending.is_empty() {
            return Ok(());
        }
        let (number, console_log) = study.listener.next_boot(&variant.name)?;
        // `snapshots` slots per variant: round r restores the guest round r mod snapshots saved.
        let slot = format!("{}.{}", variant.name, round % study.plan.snapshots);
        let saved = states.as_deref().and_then(|s| s.get(&slot)).cloned();
        let start = match &saved {
            Some(state) => Start::Restore(state),
            // A guest only this round would restore is not worth its save: it measures.
            None => Start::Boot {
                states: states
                    .as_deref_mut()
                    .filter(|s| round + study.plan.snapshots < study.plan.rounds && s.may_save(&slot))
                    .map(|s| (s, slot.clone())),
            },
        };
        let result = boot::run(study, variant, (number, &console_log), &pending, outcome, start);
        note_console(study, variant, number, &console_log, outcome)?;
        match result {
            Ok(Ended::Measured) => return Ok(()),
            // Saved, nothing measured: the round's runs go to a restore of it.
            Ok(Ended::Saved) => continue,
            Err(error) if error.is::<RestoreFailed>() => {
                // Nothing was measured: the round boots instead, without spending a retry.
                study.listener.note(&format!(
                    "warning: variant {} boot {number}: its saved guest could not be restored ({}); booting it instead, and its rounds from now on",
                    variant.name,
                    first_line(&format!("{error:#}"))
                ));
                if let Some(states) = states.as_deref_mut() {
                    states.give_up(&slot);
                }
                continue;
            }
            Err(error) if error.is::<GuestTrouble>() && attempt < boots => {
                study.listener.note(&format!(
                    "warning: variant {} boot {number}: {}; booting again for the remaining runs",
                    variant.name,
                    first_line(&format!("{error:#}"))
                ));
                attempt += 1;
            }
            Err(error) if error.is::<GuestTrouble>() => {
                return Err(error.context(format!("the guest failed {boots} times; the remaining runs were not measured")));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `runs = "auto"`'s schedule for this plan.
pub fn adaptive_target(plan: &Plan) -> Option<Target> {
    plan.adaptive.map(|a| Target {
        precision_percent: a.precision_percent,
        min_runs: a.min_runs,
        max_runs: a.max_runs,
        rounds: plan.rounds,
        decide: a.decide_threshold_percent.map(|noise_percent| Decide {
            baseline: plan.variants[plan.baseline].name.clone(),
            alpha: Decide::ALPHA,
            noise_percent,
            spending: Decide::SPENDING,
        }),
    })
}

/// The runs an adaptive study asks for, given those on record: each variant and level up
/// to where it stopped, or up to the cap while it has not.
fn adaptive_planned(plan: &Plan, target: &Target, records: &[RunRecord]) -> usize {
    plan.variants.iter().flat_map(|v| plan.levels.iter().map(move |l| target.settle(records, &v.name, &l.label).planned as usize)).sum()
}

/// Runs of this variant and round that have no row yet.
pub fn pending_runs(plan: &Plan, variant: &Variant, round: u32, records: &[RunRecord]) -> Vec<PendingRun> {
    if let Some(target) = adaptive_target(plan) {
        return adaptive_pending(plan, &target, variant, round, records);
    }
    job::all_runs(plan)
        .into_iter()
        .filter(|(level, index)| {
            plan.round_of(*index) == round
                && !records.iter().any(|r| r.variant == variant.name && r.jobs_label == level.label && r.run == *index)
        })
        .collect()
}

/// The round's block of runs of each level that is not stopped yet, as far as they have
/// no row. The decision looks only at runs before the block, so a retried boot (or a
/// resumed study) takes the same one.
fn adaptive_pending(plan: &Plan, target: &Target, variant: &Variant, round: u32, records: &[RunRecord]) -> Vec<PendingRun> {
    let block = target.block(round);
    plan.levels
        .iter()
        .filter(|level| !block.is_empty() && !target.decide(records, &variant.name, &level.label, *block.start()).0.is_stop())
        .flat_map(|level| {
            block
                .clone()
                .filter(|index| !records.iter().any(|r| r.variant == variant.name && r.jobs_label == level.label && r.run == *index))
                .map(move |index| (level.clone(), index))
        })
        .collect()
}

/// Kernel trouble on the console or in the kernel log (`kmsg/`, beside `console/`) is
/// reported even when every run succeeded.
fn note_console(study: &mut Study, variant: &Variant, boot: u32, log: &Path, outcome: &mut StudyOutcome) -> Result<()> {
    let kmsg = study.listener.kernel_log_file(&variant.name, boot, log);
    let kmsg_text = kmsg.and_then(|path| std::fs::read(path).ok()).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let console_text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
    let findings = console::scan_logs(&console_text, kmsg_text.as_deref());
    for finding in &findings {
        let line = finding.warning(study.host, &variant.name, boot);
        study.listener.note(&format!("warning: {line}"));
        outcome.warnings.push(line);
    }
    study.listener.console_findings(variant, boot, findings)
}

#[cfg(test)]
mod tests;
