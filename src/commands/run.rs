//! `bench run SCENARIO`: plan → backend → study → runs.csv → statistics → reports.

use super::{gate_exit, EXIT_BROKEN, EXIT_FAILED, EXIT_OK};
use crate::backend;
use crate::backend::agent_binary;
use crate::benchmark::fleet::{self, Fleet};
use crate::benchmark::interrupt::{Interrupt, Interrupted};
use crate::benchmark::limits::Limits;
use crate::benchmark::noise_guard::ProcProbe;
use crate::benchmark::recorder::{Recorder, StudyFiles};
use crate::benchmark::runner::adaptive_target;
use crate::benchmark::study::{Stops, Study, StudyTimedOut};
use crate::benchmark::study_meta::{collect_meta, file_facts, hypervisor_facts};
use crate::benchmark::{resume, run_study, StudyOutcome};
use crate::commands::cli::RunArgs;
use crate::compare::study_gate::{gate_hosts, gate_study, StudyGate};
use crate::model::{now, Meta, RunRecord};
use crate::output::progress::Progress;
use crate::output::summary;
use crate::report::study::kernbench::kernbench_text;
use crate::report::study::{write_reports, ReportOptions};
use crate::results::folder::{ResultsDir, SetAside};
use crate::results::meta_json::read_meta;
use crate::results::runs_csv::{read_runs, refuse_inconsistent};
use crate::scenario;
use crate::scenario::Plan;
use crate::stats::StudyShape;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

pub fn run(args: &RunArgs) -> Result<u8> {
    let started = Instant::now();
    let scenario_path = scenario_path(args)?;
    let mut plan = scenario::load_with(&scenario_path, &args.backend.overrides())?;
    let agent = agent_binary::locate(args.agent.as_deref())?;
    if !plan.hosts.is_empty() {
        return run_on_hosts(args, plan, &agent, started);
    }
    let (backend, warning) = backend::open(&plan, &agent)?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let interrupt = Interrupt::install()?;
    let fresh_meta = collect_meta(&plan, hypervisor_facts(backend.as_ref(), plan.guest.backend.name()))?;
    let (results, meta, mut outcome) = match &args.resume {
        None => start(args, &plan, fresh_meta)?,
        Some(dir) => resume(dir, fresh_meta, args.retry_failed)?,
    };
    if args.resume.is_some() {
        if let Some(warning) = resume::reuse_recorded_seed(&mut plan, &meta) {
            eprintln!("warning: {warning}");
        }
    }
    results.write_meta(&meta)?;
    eprintln!("results: {}", results.path.display());

    let progress = Progress::new((plan.variants.len() * plan.levels.len() * plan.runs as usize) as u64);
    progress.set_position(outcome.records.len() as u64);
    let limits = Limits::for_plan(&plan);
    let scratch = results.scratch_dir();
    let files = Mutex::new(StudyFiles::new(results, meta));
    let mut recorder = Recorder::new(&files, &progress, "", plan.runs, started)?;
    let mut study = Study {
        plan: &plan,
        host: "",
        limits: &limits,
        backend: backend.as_ref(),
        agent: &agent,
        scratch: &scratch,
        listener: &mut recorder,
        stops: stops(&plan, &interrupt),
        probe: &ProcProbe,
    };
    let ended = run_study(&mut study, &mut outcome);
    recorder.update_time_budget()?;
    progress.finish();
    drop(backend);
    finish_study(args, &plan, files, ended, &outcome)
}

/// The study over the scenario's `[[host]]`s: every host connected at once, then each
/// runs its block on its own thread (`benchmark::fleet`).
fn run_on_hosts(args: &RunArgs, mut plan: Plan, agent: &Path, started: Instant) -> Result<u8> {
    let slots = fleet::open_hosts(&plan, agent);
    if slots.iter().all(|s| s.opened.is_err()) {
        let errors: Vec<String> = slots.iter().filter_map(|s| s.opened.as_ref().err()).map(|e| format!("{e:#}")).collect();
        bail!("no host of the scenario can be reached, nothing runs:\n  {}", errors.join("\n  "));
    }
    let interrupt = Interrupt::install()?;
    let mut fresh_meta = collect_meta(&plan, fleet::hypervisor_facts(&slots))?;
    fresh_meta.hosts = fleet::host_facts(&slots);
    let (results, mut meta, outcome) = match &args.resume {
        None => start(args, &plan, fresh_meta.clone())?,
        Some(dir) => resume(dir, fresh_meta.clone(), args.retry_failed)?,
    };
    if args.resume.is_some() {
        if let Some(warning) = resume::reuse_recorded_seed(&mut plan, &meta) {
            eprintln!("warning: {warning}");
        }
    }
    // This attempt's connections decide each host's state: an unreachable host of an
    // earlier attempt is tried again.
    meta.hosts = fresh_meta.hosts;
    results.write_meta(&meta)?;
    eprintln!("results: {}", results.path.display());

    let per_host = (plan.variants.len() * plan.levels.len() * plan.runs as usize) as u64;
    let progress = Progress::new(per_host * plan.hosts.len() as u64);
    progress.set_position(outcome.records.len() as u64);
    let scratch = results.scratch_dir();
    let files = Mutex::new(StudyFiles::new(results, meta));
    let fleet = Fleet { agent, scratch: &scratch, files: &files, progress: &progress, stops: stops(&plan, &interrupt), started };
    let (ended, outcome) = fleet::run_hosts(&fleet, &plan, slots, outcome.records);
    progress.finish();
    finish_study(args, &plan, files, ended, &outcome)
}

fn stops<'a>(plan: &Plan, interrupt: &'a Interrupt) -> Stops<'a> {
    Stops {
        interrupt,
        deadline: plan.guest.study_timeout.map(|limit| Instant::now() + limit),
        study_timeout_s: plan.guest.study_timeout.map_or(0, |d| d.as_secs()),
    }
}

/// Once no guest runs: meta.json's end, the reports, the problems and the exit code.
fn finish_study(args: &RunArgs, plan: &Plan, files: Mutex<StudyFiles>, ended: Result<()>, outcome: &StudyOutcome) -> Result<u8> {
    crate::benchmark::interrupt::restore_default_sigpipe();
    let StudyFiles { results, mut meta, .. } =
        files.into_inner().map_err(|_| anyhow::anyhow!("internal: the results folder's lock is poisoned"))?;
    meta.finished_at = Some(now());
    if let Some(target) = adaptive_target(plan) {
        let variants: Vec<String> = plan.variants.iter().map(|v| v.name.clone()).collect();
        let levels: Vec<String> = plan.levels.iter().map(|l| l.label.clone()).collect();
        meta.stopping = target.statements(&outcome.records, &variants, &levels);
    }
    // The runs are on disk already; a folder that cannot take meta.json's end now is a
    // study broken mid-way (4), reported from what it has, not bad input.
    let meta_written = results.write_meta(&meta);
    let baseline = args.report.baseline.clone().unwrap_or_else(|| plan.variants[plan.baseline].name.clone());
    let options = ReportOptions { baseline: Some(baseline), ..args.report.options() };
    // The problems first: the last lines on the terminal are the reports' headline.
    report_problems(&results, outcome, plan.adaptive.is_some());
    let gate = print_reports(&results.path, &outcome.records, &meta, &options, args);
    let code = exit_code(ended, outcome)?;
    if let Err(error) = meta_written {
        eprintln!("error: {error:#}");
        if code == EXIT_OK || code == EXIT_FAILED {
            return Ok(EXIT_BROKEN);
        }
    }
    Ok(match gate {
        // A failed run, a broken or interrupted study: that code says more than the gate.
        Some(gate) if code == EXIT_OK => {
            println!("{}", gate.outcome_line());
            gate_exit(gate.regressions.len(), gate.inconclusive.len(), args.inconclusive)
        }
        _ => code,
    })
}

fn scenario_path(args: &RunArgs) -> Result<PathBuf> {
    if let Some(bundle) = &args.from_bundle {
        return super::bundle::unpack(bundle, &args.results);
    }
    match (&args.scenario, &args.resume) {
        (Some(path), _) => Ok(path.clone()),
        (None, Some(dir)) => Ok(PathBuf::from(read_meta(&dir.join("meta.json"))?.scenario_file)),
        (None, None) => bail!("give a scenario file: bench run SCENARIO.toml"),
    }
}

fn start(args: &RunArgs, plan: &Plan, meta: Meta) -> Result<(ResultsDir, Meta, StudyOutcome)> {
    let results = ResultsDir::create(&args.results, &plan.name, &plan.scenario_path, plan.saved_state_mib_on_results_disk())?;
    Ok((results, meta, StudyOutcome::default()))
}

/// Picks an interrupted study up where it stopped, if it is still the same study.
fn resume(dir: &Path, fresh: Meta, retry_failed: bool) -> Result<(ResultsDir, Meta, StudyOutcome)> {
    // The lock first: nothing is read for the study while another bench may write it.
    let (mut results, set_aside) = ResultsDir::reopen(dir)?;
    if let Some(SetAside { row, file }) = set_aside {
        eprintln!(
            "warning: runs.csv ended with a torn row (line {}: bench was stopped while writing it); it was moved to {} and that run is measured again",
            row.line,
            file.display()
        );
    }
    let mut meta = read_meta(&dir.join("meta.json"))?;
    let copy = file_facts(&dir.join("scenario.toml"))?;
    if copy.sha256 != fresh.scenario_sha256 {
        bail!(
            "cannot resume {}: the scenario {} differs from the one the study started with ({}/scenario.toml); start a new study instead",
            dir.display(),
            fresh.scenario_file,
            dir.display()
        );
    }
    for (old, new) in meta.variants.iter().zip(&fresh.variants) {
        let changed =
            old.kernel.sha256 != new.kernel.sha256 || old.initrd.as_ref().map(|f| &f.sha256) != new.initrd.as_ref().map(|f| &f.sha256);
        if changed {
            bail!("cannot resume {}: the kernel or initrd of variant {} changed since the study started", dir.display(), old.name);
        }
    }
    if meta.guest.disk.as_ref().map(|f| &f.sha256) != fresh.guest.disk.as_ref().map(|f| &f.sha256) {
        bail!("cannot resume {}: the guest disk image changed since the study started", dir.display());
    }
    if meta.hypervisor.accel != fresh.hypervisor.accel || meta.hypervisor.version != fresh.hypervisor.version {
        eprintln!(
            "warning: the study started under {} ({}), it resumes under {} ({}): runs may not be comparable",
            meta.hypervisor.accel, meta.hypervisor.version, fresh.hypervisor.accel, fresh.hypervisor.version
        );
    }
    meta.finished_at = None;
    let mut records = read_runs(dir).with_context(|| format!("cannot resume {}", dir.display()))?;
    // Rows that do not fit the plan would be counted as done (or twice) and never measured.
    refuse_inconsistent(dir, &records, Some(&StudyShape::of(&meta))).with_context(|| format!("cannot resume {}", dir.display()))?;
    if retry_failed {
        let (kept, failed) = resume::split_failed(records);
        if !failed.is_empty() {
            let moved_to = results.supersede_failed(&kept, &failed)?;
            eprintln!("retrying {} failed runs: their rows moved to {}", failed.len(), moved_to.display());
        }
        records = kept;
    }
    eprintln!("resuming: {} runs already on record", records.len());
    Ok((results, meta, StudyOutcome { records, ..StudyOutcome::default() }))
}

/// Writes every report and prints the kernbench blocks first, then the verdicts. A report
/// that cannot be made does not hide the runs: the kernbench blocks are printed anyway.
/// With `--gate`, what the gate found (a study with no report cannot tell).
fn print_reports(dir: &Path, records: &[RunRecord], meta: &Meta, options: &ReportOptions, args: &RunArgs) -> Option<StudyGate> {
    let metrics = super::compare::metrics(&args.gate_metric);
    match write_reports(dir, records, Some(meta), options) {
        Ok(written) => {
            summary::print(dir, &written);
            let gate = match (&written.analysis, &written.hosts) {
                (_, Some(hosts)) => gate_hosts(hosts, &metrics),
                (Some(analysis), None) => gate_study(analysis, &metrics),
                (None, None) => StudyGate { inconclusive: vec!["no analysis of the runs".into()], ..StudyGate::default() },
            };
            args.gate.then_some(gate)
        }
        Err(error) => {
            print!("{}", kernbench_text(records));
            eprintln!("warning: no report: {error:#}");
            args.gate.then(|| StudyGate { inconclusive: vec![format!("no report: {error:#}")], ..StudyGate::default() })
        }
    }
}

fn report_problems(results: &ResultsDir, outcome: &StudyOutcome, adaptive: bool) {
    for line in &outcome.problems {
        eprintln!("error: {}", line.lines().next().unwrap_or(""));
    }
    for record in outcome.records.iter().filter(|r| !r.is_ok()) {
        let on = if record.host.is_empty() { String::new() } else { format!(" on {}", record.host) };
        eprintln!("failed{on}: {} {} -j {} run {}: {}", record.variant, record.jobs_label, record.jobs, record.run, record.failure);
    }
    if outcome.missing_runs() > 0 && adaptive {
        // Variants and levels not stopped yet may still become precise before their cap.
        eprintln!(
            "up to {} more runs are due before every variant and level is precise or at its cap (bench run --resume {} continues)",
            outcome.missing_runs(),
            results.path.display()
        );
    } else if outcome.missing_runs() > 0 {
        eprintln!(
            "{} of {} planned runs are missing (bench run --resume {} runs them)",
            outcome.missing_runs(),
            outcome.planned_runs,
            results.path.display()
        );
    }
    eprintln!("results: {}", results.path.display());
}

fn exit_code(ended: Result<()>, outcome: &StudyOutcome) -> Result<u8> {
    match ended {
        Err(error) if error.is::<Interrupted>() => {
            let signal = error.downcast_ref::<Interrupted>().map_or(2, |i| i.0);
            eprintln!("interrupted: the guest was stopped; every run measured is kept in runs.csv");
            Ok(128u8.saturating_add(signal as u8))
        }
        Err(error) if error.is::<StudyTimedOut>() => {
            eprintln!("error: {error}");
            Ok(EXIT_FAILED)
        }
        // Once runs are on record the failure is no longer bad input (2 says nothing was
        // measured): the backend or the disk broke mid-study, and the rows are kept.
        Err(error) if !outcome.records.is_empty() => {
            eprintln!("error: {error:#}");
            eprintln!("the study broke after measuring started: the {} runs on record are kept in runs.csv", outcome.records.len());
            Ok(EXIT_BROKEN)
        }
        Err(error) => Err(error),
        Ok(()) if outcome.problems.is_empty() && outcome.failed_runs() == 0 && outcome.missing_runs() == 0 => Ok(EXIT_OK),
        Ok(()) => Ok(EXIT_FAILED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    #[test]
    fn a_study_that_breaks_after_measuring_exits_4_and_before_it_stays_bad_input() {
        let measured = StudyOutcome { records: vec![test_record()], planned_runs: 3, ..StudyOutcome::default() };
        assert_eq!(exit_code(Err(anyhow::anyhow!("No space left on device")), &measured).unwrap(), EXIT_BROKEN);
        let nothing = StudyOutcome { planned_runs: 3, ..StudyOutcome::default() };
        assert!(exit_code(Err(anyhow::anyhow!("the volume records another sha256")), &nothing).is_err(), "2 via main: nothing measured");
        let done = StudyOutcome { records: vec![test_record(); 3], planned_runs: 3, ..StudyOutcome::default() };
        assert_eq!(exit_code(Ok(()), &done).unwrap(), EXIT_OK);
        assert_eq!(exit_code(Err(Interrupted(15).into()), &measured).unwrap(), 143, "a signal is not a breakage");
    }
}
