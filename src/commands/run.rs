//! `bench run SCENARIO`: plan → backend → study → runs.csv → statistics → reports.

use super::{EXIT_FAILED, EXIT_OK};
use crate::backend::{accel, qemu::QemuBackend, Backend};
use crate::benchmark::{run_study, runner::Study, StudyOutcome};
use crate::cli::RunArgs;
use crate::export::meta::{now, Meta};
use crate::export::results::ResultsDir;
use crate::interrupt::{Interrupt, Interrupted};
use crate::output::progress::Progress;
use crate::export::runs_csv::RunRecord;
use crate::output::reports::{write_reports, ReportOptions};
use crate::output::summary;
use std::path::Path;
use crate::{agent_binary, scenario};
use anyhow::Result;

pub fn run(args: &RunArgs) -> Result<u8> {
    let plan = scenario::load(&args.scenario)?;
    let agent = agent_binary::locate(args.agent.as_deref())?;
    let (accel, warning) = accel::choose(plan.guest.accel)?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let backend = QemuBackend::new(plan.guest.qemu.as_deref(), accel)?;
    let interrupt = Interrupt::install()?;
    let mut results = ResultsDir::create(&args.results, &plan.name, &plan.scenario_path)?;
    let mut meta = Meta::collect(&plan, &backend as &dyn Backend, "qemu")?;
    results.write_meta(&meta)?;
    eprintln!("results: {}", results.path.display());

    let progress = Progress::new((plan.variants.len() * plan.levels.len() * plan.runs as usize) as u64);
    let mut outcome = StudyOutcome::default();
    let mut study = Study {
        plan: &plan,
        backend: &backend,
        agent: &agent,
        results: &mut results,
        meta: &mut meta,
        progress: &progress,
        interrupt: &interrupt,
    };
    let ended = run_study(&mut study, &mut outcome);
    progress.finish();

    meta.finished_at = Some(now());
    results.write_meta(&meta)?;
    let baseline = args.report.baseline.clone().unwrap_or_else(|| plan.variants[plan.baseline].name.clone());
    let options = ReportOptions { baseline: Some(baseline), ..args.report.options() };
    print_reports(&results.path, &outcome.records, &meta, &options);
    report_problems(&outcome);
    println!("results: {}", results.path.display());

    match ended {
        Err(error) => match error.downcast_ref::<Interrupted>() {
            Some(Interrupted(signal)) => {
                eprintln!("interrupted: the guest was stopped; the runs above are kept in runs.csv");
                Ok(128u8.saturating_add(*signal as u8))
            }
            None => Err(error),
        },
        Ok(()) if outcome.problems.is_empty() && outcome.failed_runs() == 0 && outcome.missing_runs() == 0 => Ok(EXIT_OK),
        Ok(()) => Ok(EXIT_FAILED),
    }
}

/// Writes every report and prints the kernbench blocks first, then the verdicts. A report
/// that cannot be made does not hide the runs: the kernbench blocks are printed anyway.
fn print_reports(dir: &Path, records: &[RunRecord], meta: &Meta, options: &ReportOptions) {
    match write_reports(dir, records, Some(meta), options) {
        Ok(written) => {
            print!("{}", written.kernbench);
            print!("{}", written.verdicts);
            for warning in &written.warnings {
                eprintln!("warning: {warning}");
            }
            println!("report: {}", dir.join("report.md").display());
        }
        Err(error) => {
            print!("{}", summary::kernbench_text(records));
            eprintln!("warning: no report: {error:#}");
        }
    }
}

fn report_problems(outcome: &StudyOutcome) {
    for line in &outcome.problems {
        eprintln!("error: {}", line.lines().next().unwrap_or(""));
    }
    for record in outcome.records.iter().filter(|r| !r.is_ok()) {
        eprintln!(
            "failed: {} {} -j {} run {}: {}",
            record.variant, record.jobs_label, record.jobs, record.run, record.failure
        );
    }
    if outcome.missing_runs() > 0 {
        eprintln!("{} of {} planned runs are missing", outcome.missing_runs(), outcome.planned_runs);
    }
}
