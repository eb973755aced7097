//! The runner against scripted fake guests: no QEMU, no files, milliseconds per test.

use super::run_study;
use crate::benchmark::fake::{plan, quick_limits, FakeBackend, FakeProbe, Fault, MemoryListener, Script, HOST_STOP};
use crate::benchmark::interrupt::{Interrupt, Interrupted};
use crate::benchmark::limits::{Limit, Limits, RunLimit, DERIVED_CEILING};
use crate::benchmark::study::{Stops, Study, StudyOutcome, StudyTimedOut};
use crate::model::{GuestStart, RunRecord, RunStatus};
use crate::scenario::plan::QuietHost;
use crate::scenario::Plan;
use anyhow::Result;
use kbench_protocol::StepKind;
use std::path::Path;
use std::time::{Duration, Instant};

fn study(
    plan: &Plan,
    limits: &Limits,
    backend: &FakeBackend,
    outcome: &mut StudyOutcome,
    interrupt: &Interrupt,
) -> (Result<()>, MemoryListener) {
    study_on(plan, limits, backend, &FakeProbe::loads(&[0.0]), outcome, interrupt)
}

/// A study on a host whose noise `probe` tells.
fn study_on(
    plan: &Plan,
    limits: &Limits,
    backend: &FakeBackend,
    probe: &FakeProbe,
    outcome: &mut StudyOutcome,
    interrupt: &Interrupt,
) -> (Result<()>, MemoryListener) {
    let mut listener = MemoryListener::default();
    let mut study = Study {
        plan,
        host: "",
        limits,
        backend,
        agent: Path::new("agent"),
        scratch: Path::new("scratch"),
        listener: &mut listener,
        stops: Stops { interrupt, deadline: None, study_timeout_s: 0 },
        probe,
    };
    let result = run_study(&mut study, outcome);
    (result, listener)
}

fn run(plan: &Plan, limits: &Limits, backend: &FakeBackend) -> (Result<()>, MemoryListener, StudyOutcome) {
    let mut outcome = StudyOutcome::default();
    let (result, listener) = study(plan, limits, backend, &mut outcome, &Interrupt::default());
    (result, listener, outcome)
}

/// One variant only.
fn single(runs: u32, warmup: u32) -> Plan {
    let mut plan = plan(runs, warmup, 1);
    plan.variants.truncate(1);
    plan
}

fn rows(records: &[RunRecord]) -> Vec<(String, u32, RunStatus)> {
    records.iter().map(|r| (r.variant.clone(), r.run, r.status)).collect()
}

fn row(variant: &str, run: u32, status: RunStatus) -> (String, u32, RunStatus) {
    (variant.to_string(), run, status)
}

use RunStatus::{Failed, Ok as Good};

#[test]
fn rounds_alternate_the_variants_and_each_boot_sends_prepare_warmups_and_its_own_runs() {
    let plan = plan(2, 1, 2);
    let limits = quick_limits(&plan);
    let backend = FakeBackend::new(vec![]);
    let (result, listener, outcome) = run(&plan, &limits, &backend);
    result.unwrap();
    assert_eq!(backend.boots(), ["a", "b", "b", "a"]);
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("b", 1, Good), row("b", 2, Good), row("a", 2, Good)]);
    assert_eq!(listener.records, outcome.records, "every row reached the listener");
    let kinds: Vec<(String, f64)> = backend.steps(2).iter().map(|s| (format!("{:?} {}", s.kind, s.command), s.timeout_s)).collect();
    assert_eq!(kinds, [("Prepare configure".into(), 0.04), ("Warmup make -j1".into(), 0.04), ("Timed make -j1".into(), 0.04)]);
    assert_eq!(listener.started.iter().map(|(_, step, _)| step.as_str()).collect::<Vec<_>>()[..3], ["prepare", "warm-up 1", "run half 1"]);
    assert!(listener.kernel_logs.contains(&("b".into(), 2, "<6>booted\n".into())), "{:?}", listener.kernel_logs);
    assert!(outcome.problems.is_empty() && outcome.missing_runs() == 0);
}

#[test]
fn a_crash_fails_the_run_in_progress_and_a_new_boot_measures_the_rest() {
    let plan = single(3, 0);
    let backend = FakeBackend::new(vec![Script::at(2, Fault::Crash)]);
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Failed), row("a", 3, Good)]);
    assert!(outcome.records[1].failure.starts_with("run half 2: the guest stopped"), "{:?}", outcome.records[1]);
    assert_eq!(backend.steps(1).len(), 2, "the second boot: prepare and the one run missing");
    assert!(listener.notes.iter().any(|n| n.contains("booting again")), "{:?}", listener.notes);
}

/// Issue 19 item 13: a send that fails (the guest took nothing within the write timeout)
/// is the guest's trouble, like a crash: the run is a failed row and the guest boots again.
#[test]
fn a_guest_that_takes_no_message_fails_the_run_and_boots_again() {
    let plan = single(2, 0);
    let backend = FakeBackend::new(vec![Script::at(1, Fault::TakesNothing)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Failed), row("a", 2, Good)]);
    assert!(outcome.records[0].failure.contains("run half 1: cannot send to the guest agent: it took no byte"), "{:?}", outcome.records[0]);
    assert_eq!(backend.boots(), ["a", "a"]);
}

#[test]
fn a_guest_that_keeps_failing_fails_its_variant_after_the_retries_and_the_next_variant_runs() {
    let plan = plan(1, 0, 1);
    let backend = FakeBackend::new(vec![Script::at(0, Fault::Crash), Script::at(0, Fault::Crash)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots(), ["a", "a", "b"]);
    assert_eq!(rows(&outcome.records), [row("b", 1, Good)]);
    assert_eq!(outcome.missing_runs(), 1);
    assert!(outcome.problems[0].contains("the guest failed 2 times"), "{:?}", outcome.problems);
    assert!(outcome.problems[0].contains("prepare: the guest stopped"), "{:?}", outcome.problems);
}

#[test]
fn a_resumed_study_measures_only_the_missing_runs() {
    let plan = single(3, 0);
    let backend = FakeBackend::new(vec![]);
    let mut outcome = StudyOutcome::default();
    let (_, _, first) = run(&single(1, 0), &quick_limits(&plan), &FakeBackend::new(vec![]));
    outcome.records = first.records;
    outcome.records[0].run = 2;
    let (result, _) = study(&plan, &quick_limits(&plan), &backend, &mut outcome, &Interrupt::default());
    result.unwrap();
    let steps = backend.steps(0);
    let runs: Vec<&str> = steps.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(runs, ["configure", "make -j1", "make -j1"]);
    assert_eq!(rows(&outcome.records), [row("a", 2, Good), row("a", 1, Good), row("a", 3, Good)]);
}

#[test]
fn a_failed_prepare_files_every_run_of_the_boot_as_not_run() {
    let plan = single(2, 1);
    let backend = FakeBackend::new(vec![Script::at(0, Fault::TimesOut)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Failed), row("a", 2, Failed)]);
    let failure = &outcome.records[0].failure;
    assert!(failure.starts_with("not run: prepare failed: timed out after 0 s (limit: test prepare)"), "{failure}");
    assert_eq!(backend.steps(0).len(), 1, "nothing ran after the prepare");
    assert!(outcome.problems[0].contains("prepare failed"), "{:?}", outcome.problems);
}

/// The agent does not end a hung step (or cannot): the host's guard, the step's limit
/// plus the margin, ends the boot; the heartbeats kept it from looking dead before that.
fn hang_at(plan: &Plan, step: usize) -> (MemoryListener, StudyOutcome, Duration) {
    let mut plan = plan.clone();
    plan.guest.retries = 0;
    let backend = FakeBackend::new(vec![Script::at(step, Fault::Hang)]);
    let mut limits = quick_limits(&plan);
    limits.silence = Duration::from_millis(30);
    let started = Instant::now();
    let (result, listener, outcome) = run(&plan, &limits, &backend);
    result.unwrap();
    assert_eq!(backend.steps(0)[step].timeout_s, 0.04, "the limit travelled with the step");
    (listener, outcome, started.elapsed())
}

#[test]
fn a_hung_prepare_ends_at_its_limit() {
    let (listener, outcome, took) = hang_at(&single(1, 0), 0);
    assert!(
        outcome.problems[0].contains("prepare: the guest hung: step 0 did not end within its limit of 0.04 s plus 0.02 s"),
        "{:?}",
        outcome.problems
    );
    assert!(listener.heartbeats >= 3, "the guest was alive all along: {}", listener.heartbeats);
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_hung_warmup_ends_at_its_limit() {
    let (_, outcome, took) = hang_at(&single(1, 1), 1);
    assert!(
        outcome.problems[0].contains("warm-up 1: the guest hung: step 1 did not end within its limit of 0.04 s"),
        "{:?}",
        outcome.problems
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_hung_run_without_warmup_ends_at_its_limit_as_a_failed_row() {
    let mut plan = single(2, 0);
    plan.guest.run_timeout = None;
    let limits = Limits::for_plan(&plan);
    assert!(matches!(&limits.run, RunLimit::Fixed(l) if l.source.contains("no warm-up")), "{:?}", limits.run);
    let (_, outcome, took) = hang_at(&plan, 1);
    assert_eq!(rows(&outcome.records), [row("a", 1, Failed)]);
    assert!(
        outcome.records[0].failure.starts_with("run half 1: the guest hung: step 1 did not end within its limit of 0.04 s plus 0.02 s"),
        "{:?}",
        outcome.records[0]
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_silent_guest_is_dead_long_before_a_long_step_limit() {
    let mut plan = single(1, 0);
    plan.guest.retries = 0;
    let mut limits = quick_limits(&plan);
    limits.run = RunLimit::Fixed(Limit { duration: Duration::from_secs(600), source: "long".into() });
    let backend = FakeBackend::new(vec![Script::at(1, Fault::Silent)]);
    let started = Instant::now();
    let (result, _, outcome) = run(&plan, &limits, &backend);
    result.unwrap();
    assert!(
        outcome.records[0].failure.contains("no word from the agent for 0.15 s while step 1 ran (no heartbeat)"),
        "{:?}",
        outcome.records[0]
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Issue 19 item 6: bench stopped longer than the silence (and, with a short limit, the
/// step's guard) while a healthy step ran. What the agent said meanwhile is read before
/// any deadline is judged.
#[test]
fn a_host_stopped_past_the_silence_and_the_guard_reads_what_the_agent_said_meanwhile() {
    let mut plan = single(2, 0);
    plan.guest.retries = 0;
    let short = quick_limits(&plan);
    assert!(HOST_STOP > short.silence && HOST_STOP > short.guard(Duration::from_millis(40)));
    let mut long = short.clone();
    long.run = RunLimit::Fixed(Limit { duration: Duration::from_secs(600), source: "long".into() });
    for limits in [short, long] {
        let backend = FakeBackend::new(vec![Script::at(1, Fault::HostStopped)]);
        let (result, listener, outcome) = run(&plan, &limits, &backend);
        result.unwrap();
        assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Good)], "{:?}", outcome.records);
        assert_eq!(backend.boots().len(), 1, "no boot was lost: {:?}", listener.notes);
        assert_eq!(listener.heartbeats, 2, "the heartbeats that waited were read");
    }
}

#[test]
fn without_run_timeout_a_run_gets_five_times_the_longest_whole_warmup() {
    let mut plan = single(1, 1);
    plan.guest.run_timeout = None;
    let mut backend = FakeBackend::new(vec![]);
    backend.warmup_s = 20.0;
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good)]);
    assert_eq!(backend.steps(0)[2].timeout_s, 200.0, "5 × (20 s clean + 20 s build)");
    assert!(listener.started[2].2.source.contains("longest warm-up, 40 s"), "{:?}", listener.started[2]);
}

/// Issue 19 item 13: a warm-up the agent says took 1e300 s (no Duration holds it) made
/// the host panic deriving the run's limit; now the limit stops at the ceiling.
#[test]
fn a_warmup_longer_than_any_timer_derives_a_limit_at_the_ceiling() {
    let mut plan = single(1, 1);
    plan.guest.run_timeout = None;
    let mut backend = FakeBackend::new(vec![]);
    backend.warmup_s = 1e300;
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good)]);
    assert_eq!(backend.steps(0)[2].timeout_s, DERIVED_CEILING.as_secs_f64());
}

#[test]
fn a_run_the_agent_timed_out_is_a_failed_row_naming_its_limit_and_the_boot_goes_on() {
    let plan = single(2, 0);
    let backend = FakeBackend::new(vec![Script::at(1, Fault::TimesOut)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Failed), row("a", 2, Good)]);
    assert!(outcome.records[0].failure.starts_with("timed out after 0 s (limit: test run)"), "{:?}", outcome.records[0]);
    assert_eq!(backend.boots().len(), 1);
}

#[test]
fn an_interrupt_stops_a_hung_run_at_once_and_keeps_the_runs_measured() {
    let plan = single(2, 0);
    let mut limits = quick_limits(&plan);
    limits.run = RunLimit::Fixed(Limit { duration: Duration::from_secs(600), source: "long".into() });
    let backend = FakeBackend::new(vec![Script::at(2, Fault::Hang)]);
    let interrupt = Interrupt::default();
    let raiser = interrupt.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        raiser.raise(2);
    });
    let started = Instant::now();
    let mut outcome = StudyOutcome::default();
    let (result, _) = study(&plan, &limits, &backend, &mut outcome, &interrupt);
    thread.join().unwrap();
    assert!(result.unwrap_err().is::<Interrupted>());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(rows(&outcome.records), [row("a", 1, Good)]);
}

/// Each breach ends the boot: the run in progress is a failed row saying why, the forged
/// numbers are nowhere, and the next boot measures the rest.
fn breach(fault: Fault, expected: &str) {
    let plan = single(2, 0);
    let backend = FakeBackend::new(vec![Script::at(1, fault)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Failed), row("a", 2, Good)], "{fault:?}");
    let failure = &outcome.records[0].failure;
    assert!(failure.starts_with("run half 1: protocol breach: ") && failure.contains(expected), "{fault:?}: {failure}");
    assert!(outcome.records.iter().all(|r| r.elapsed_s != 0.001), "a forged number was filed");
}

#[test]
fn a_line_the_agent_did_not_sign_breaks_the_boot() {
    breach(Fault::Forge, "the agent's channel carried a line the agent did not sign: something in the guest wrote to /dev/ttyS1");
}

#[test]
fn an_over_long_line_breaks_the_boot() {
    breach(Fault::TooLong, "a line longer than any message (300000000 bytes and more");
}

#[test]
fn a_replayed_line_breaks_the_boot() {
    breach(Fault::Replay, "a replayed or lost message");
}

#[test]
fn done_before_finish_breaks_the_boot() {
    breach(Fault::EarlyDone, "the agent sent done before the host said finish where a heartbeat or the result of step 1 was due");
}

#[test]
fn a_result_for_another_step_breaks_the_boot() {
    breach(Fault::WrongId, "the result of step 2 where a heartbeat or the result of step 1 was due");
}

#[test]
fn kernel_logs_during_a_step_are_filed_and_do_not_disturb_it() {
    let plan = single(1, 0);
    let backend = FakeBackend::new(vec![Script::at(1, Fault::KernelLog)]);
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good)]);
    assert_eq!(listener.kernel_logs.iter().map(|(_, _, t)| t.as_str()).collect::<Vec<_>>(), ["<6>booted\n", "<6>during step 1\n"]);
}

#[test]
fn processes_a_step_left_running_are_a_warning_and_the_run_is_kept() {
    let plan = single(2, 0);
    let backend = FakeBackend::new(vec![Script::at(2, Fault::LeavesProcesses)]);
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Good)]);
    let line = "variant a boot 1, run half 2: the step left 2 processes running; kbench killed them";
    assert_eq!(listener.leftovers, [line]);
    assert_eq!(outcome.warnings, [line]);
    assert!(listener.notes.contains(&format!("warning: {line}")), "{:?}", listener.notes);
}

#[test]
fn an_agent_that_gives_up_fails_its_variant_without_a_retry() {
    let plan = single(1, 0);
    let backend = FakeBackend::new(vec![Script::at(0, Fault::Fatal)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots().len(), 1);
    assert!(outcome.problems[0].contains("the agent gave up: cannot go on"), "{:?}", outcome.problems);
}

#[test]
fn boot_facts_that_never_come_end_the_boot_at_the_facts_limit() {
    let mut plan = single(1, 0);
    plan.guest.retries = 0;
    let mut limits = quick_limits(&plan);
    limits.boot_facts = Duration::from_millis(80);
    let backend = FakeBackend::new(vec![Script::at(0, Fault::NoFacts)]);
    let started = Instant::now();
    let (result, _, outcome) = run(&plan, &limits, &backend);
    result.unwrap();
    assert!(outcome.problems[0].contains("the guest hung: no boot facts within 0.08 s"), "{:?}", outcome.problems);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_agent_of_another_protocol_is_refused_with_what_to_do() {
    let plan = single(1, 0);
    let backend = FakeBackend::new(vec![Script::at(0, Fault::OldAgent)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots().len(), 1, "no retry: another boot would not help");
    let problem = &outcome.problems[0];
    let version = kbench_protocol::PROTOCOL_VERSION;
    let expected = format!("speaks protocol {}, this kbench speaks {version}: rebuild the agent", version - 1);
    assert!(problem.contains(&expected) && problem.contains("scripts/build-agent.sh"), "{problem}");
}

#[test]
fn the_kernel_view_after_finish_and_the_monitors_of_each_timed_run_are_filed() {
    let plan = plan(2, 1, 1);
    let backend = FakeBackend::new(vec![]);
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    let views: Vec<(&str, u32, bool)> =
        listener.kernel_views.iter().map(|(v, boot, view)| (v.as_str(), *boot, view.mem_auto_init.is_some())).collect();
    assert_eq!(views, [("a", 1, true), ("b", 1, true)]);
    assert_eq!(listener.kernel_views[0].2.poisoned, 120);
    // Only the timed runs carry samples: no prepare, no warm-up.
    let sampled: Vec<(&str, &str)> = listener.monitor_samples.iter().map(|(v, s, _)| (v.as_str(), s.as_str())).collect();
    assert_eq!(sampled, [("a", "run half 1"), ("a", "run half 2"), ("b", "run half 1"), ("b", "run half 2")]);
    for record in &outcome.records {
        assert_eq!((record.minor_faults, record.major_faults), (Some(100), Some(1)));
        assert!(record.slab_peak_kib.is_some_and(|kib| kib > 1000), "{record:?}");
        assert_eq!(record.pgfault, Some(0));
    }
}

#[test]
fn a_kernel_view_during_a_step_breaks_the_boot() {
    breach(Fault::EarlyKernelView, "the agent sent kernel view where a heartbeat or the result of step 1 was due");
}

#[test]
fn a_run_that_never_ran_has_no_faults_on_record() {
    let plan = single(2, 0);
    let backend = FakeBackend::new(vec![Script::at(1, Fault::Crash)]);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    let never: Vec<&RunRecord> = outcome.records.iter().filter(|r| r.status == Failed).collect();
    assert!(!never.is_empty());
    assert!(never.iter().all(|r| r.minor_faults.is_none() && r.slab_peak_kib.is_none()), "{never:?}");
}

/// A plan that waits up to `wait` for other processes to use at most half a CPU.
fn quiet_plan(runs: u32, wait: Duration) -> Plan {
    let mut plan = single(runs, 0);
    plan.quiet_host = Some(QuietHost { max_load: 0.5, wait });
    plan
}

#[test]
fn each_timed_run_s_row_carries_the_host_s_noise_during_it() {
    let plan = single(2, 1);
    let backend = FakeBackend::new(vec![]);
    // 2.5 CPUs of other work: over the 20 % a 2-CPU guest tolerates.
    let probe = FakeProbe::loads(&[250.0]);
    let mut outcome = StudyOutcome::default();
    let (result, listener) = study_on(&plan, &quick_limits(&plan), &backend, &probe, &mut outcome, &Interrupt::default());
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Good)]);
    for record in &outcome.records {
        assert_eq!(record.host_other_cpu_percent, Some(250.0));
        assert_eq!((record.host_steal_percent, record.host_iowait_percent, record.host_load1), (Some(0.0), Some(0.5), Some(2.5)));
        assert_eq!((record.host_governor.as_str(), record.host_boost.as_str()), ("performance", "on"));
        assert_eq!(record.noise, "other processes used 250 % of a CPU (limit 20 %)");
        assert_eq!(record.quiet_wait_s, None, "no quiet_host, no wait");
    }
    assert_eq!(listener.records, outcome.records, "the filed rows carry them too");
    assert_eq!(probe.windows(), 2, "one window per timed run; the prepare and the warm-up are not sampled");
    assert_eq!(*probe.ours.borrow(), vec![vec![std::process::id()]; 2], "bench itself is the study's (the fake guest has no process)");

    let quiet = FakeProbe::loads(&[5.0]);
    let mut outcome = StudyOutcome::default();
    study_on(&plan, &quick_limits(&plan), &FakeBackend::new(vec![]), &quiet, &mut outcome, &Interrupt::default()).0.unwrap();
    assert!(outcome.records.iter().all(|r| r.noise.is_empty() && r.host_other_cpu_percent == Some(5.0)), "{:?}", outcome.records);
}

#[test]
fn a_host_that_cannot_be_sampled_leaves_the_columns_empty_and_says_so_once() {
    let plan = quiet_plan(2, Duration::from_secs(600));
    for (backend, probe, why) in [
        (FakeBackend::new(vec![]), FakeProbe::failing(), "cannot read /proc/stat"),
        (FakeBackend::remote(), FakeProbe::loads(&[300.0]), "run on another host"),
    ] {
        let mut outcome = StudyOutcome::default();
        let (result, listener) = study_on(&plan, &quick_limits(&plan), &backend, &probe, &mut outcome, &Interrupt::default());
        result.unwrap();
        assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Good)]);
        assert!(outcome.records.iter().all(|r| r.host_other_cpu_percent.is_none() && r.noise.is_empty() && r.quiet_wait_s.is_none()));
        let notes: Vec<&String> = listener.notes.iter().filter(|n| n.contains("noise could not be sampled")).collect();
        assert_eq!(notes.len(), 1, "{:?}", listener.notes);
        assert!(notes[0].contains(why), "{notes:?}");
    }
}

#[test]
fn quiet_host_waits_bounded_by_its_wait_between_steps_without_tripping_the_silence_limit() {
    // The wait (300 ms) is longer than the silence limit of quick_limits (150 ms): the
    // guest says nothing while nothing is asked of it, and that is no silence.
    let plan = quiet_plan(2, Duration::from_millis(300));
    let limits = quick_limits(&plan);
    assert!(limits.silence < Duration::from_millis(300));
    let probe = FakeProbe::loads(&[190.0]);
    let mut outcome = StudyOutcome::default();
    let started = Instant::now();
    let (result, listener) = study_on(&plan, &limits, &FakeBackend::new(vec![]), &probe, &mut outcome, &Interrupt::default());
    result.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Good)]);
    assert_eq!(listener.quiet_waits, ["a run half 1", "a run half 2"]);
    for record in &outcome.records {
        let waited = record.quiet_wait_s.unwrap();
        assert!((0.3..1.5).contains(&waited), "{record:?}");
        assert!(record.noise.starts_with("the host was still busy after waiting"), "{}", record.noise);
        assert!(record.noise.contains("; other processes used 190 % of a CPU"), "{}", record.noise);
    }
    let warnings: Vec<&String> = listener.notes.iter().filter(|n| n.contains("runs anyway, flagged as noisy")).collect();
    assert_eq!(warnings.len(), 2, "{:?}", listener.notes);
    assert!(warnings[0].starts_with("warning: variant a run half 1: the host was still busy"), "{}", warnings[0]);

    // A host that is quiet at the first look costs only that look.
    let quiet = FakeProbe::loads(&[10.0]);
    let mut outcome = StudyOutcome::default();
    study_on(&plan, &limits, &FakeBackend::new(vec![]), &quiet, &mut outcome, &Interrupt::default()).0.unwrap();
    assert!(outcome.records.iter().all(|r| r.noise.is_empty() && r.quiet_wait_s.is_some_and(|s| s < 0.3)), "{:?}", outcome.records);
}

#[test]
fn ctrl_c_and_the_study_timeout_end_a_quiet_host_wait_at_once() {
    let plan = quiet_plan(2, Duration::from_secs(3600));
    let limits = quick_limits(&plan);
    let backend = FakeBackend::new(vec![]);
    let probe = FakeProbe::loads(&[190.0]);
    let interrupt = Interrupt::default();
    let raiser = interrupt.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        raiser.raise(2);
    });
    let started = Instant::now();
    let mut outcome = StudyOutcome::default();
    let (result, _) = study_on(&plan, &limits, &backend, &probe, &mut outcome, &interrupt);
    thread.join().unwrap();
    assert!(result.unwrap_err().is::<Interrupted>());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(outcome.records.is_empty(), "the first run was still waiting: {:?}", outcome.records);

    let interrupt = Interrupt::default();
    let mut listener = MemoryListener::default();
    let mut study = Study {
        plan: &plan,
        host: "",
        limits: &limits,
        backend: &backend,
        agent: Path::new("agent"),
        scratch: Path::new("scratch"),
        listener: &mut listener,
        stops: Stops { interrupt: &interrupt, deadline: Some(Instant::now() + Duration::from_millis(300)), study_timeout_s: 1 },
        probe: &probe,
    };
    let started = Instant::now();
    let error = run_study(&mut study, &mut StudyOutcome::default()).unwrap_err();
    assert!(error.is::<StudyTimedOut>(), "{error:#}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

// runs = "auto": variants and levels stop on their own precision, never on a comparison.

use crate::benchmark::resume::reuse_recorded_seed;
use crate::scenario::order::{BootOrder, OrderChoice};
use crate::scenario::plan::{AdaptiveRuns, JobsLevel};

/// Two variants, one level, `min_runs` 3, `max_runs` 6, one run per boot (rounds = max_runs).
fn adaptive(rounds: u32) -> Plan {
    let mut plan = plan(6, 0, rounds);
    plan.adaptive = Some(AdaptiveRuns { precision_percent: 2.0, min_runs: 3, max_runs: 6, decide_threshold_percent: None });
    plan
}

/// ±20 % around 10 s: never within 2 %.
fn noisy(_variant: &str, _command: &str, nth: usize) -> f64 {
    if nth.is_multiple_of(2) {
        12.0
    } else {
        8.0
    }
}

fn steady(_variant: &str, _command: &str, nth: usize) -> f64 {
    10.0 + 0.01 * (nth % 2) as f64
}

fn counts(records: &[RunRecord], variant: &str, level: &str) -> (usize, usize) {
    let of = records.iter().filter(|r| r.variant == variant && r.jobs_label == level);
    let (ok, failed): (Vec<&RunRecord>, Vec<&RunRecord>) = of.partition(|r| r.is_ok());
    (ok.len(), failed.len())
}

fn with_elapsed(scripts: Vec<Script>, elapsed: crate::benchmark::fake::ElapsedOf) -> FakeBackend {
    let mut backend = FakeBackend::new(scripts);
    backend.elapsed_of = Some(elapsed);
    backend
}

#[test]
fn auto_runs_stop_at_min_runs_when_the_times_are_steady() {
    let plan = adaptive(6);
    let backend = with_elapsed(vec![], steady);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots(), ["a", "b", "b", "a", "a", "b"], "three rounds, interleaved, then nothing to boot");
    assert_eq!((counts(&outcome.records, "a", "half"), counts(&outcome.records, "b", "half")), ((3, 0), (3, 0)));
    assert_eq!((outcome.planned_runs, outcome.missing_runs()), (6, 0));
}

#[test]
fn auto_runs_stop_at_the_cap_when_the_times_are_noisy() {
    let plan = adaptive(6);
    let backend = with_elapsed(vec![], noisy);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots().len(), 12);
    assert_eq!((counts(&outcome.records, "a", "half"), counts(&outcome.records, "b", "half")), ((6, 0), (6, 0)));
    assert_eq!((outcome.planned_runs, outcome.missing_runs()), (12, 0));
    let runs: Vec<u32> = outcome.records.iter().filter(|r| r.variant == "a").map(|r| r.run).collect();
    assert_eq!(runs, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn auto_runs_stop_each_variant_and_level_on_its_own() {
    // Variant a's -j 2 level is noisy, everything else steady.
    fn a_max_noisy(variant: &str, command: &str, nth: usize) -> f64 {
        if variant == "a" && command == "make -j2" {
            noisy(variant, command, nth)
        } else {
            steady(variant, command, nth)
        }
    }
    let mut plan = adaptive(6);
    plan.levels.push(JobsLevel { label: "2".into(), jobs: 2 });
    let backend = with_elapsed(vec![], a_max_noisy);
    let (result, listener, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    let all = |v, l| counts(&outcome.records, v, l);
    assert_eq!([all("a", "half"), all("a", "2"), all("b", "half"), all("b", "2")], [(3, 0), (6, 0), (3, 0), (3, 0)]);
    assert_eq!(backend.boots(), ["a", "b", "b", "a", "a", "b", "a", "a", "a"], "b is not booted once it is precise");
    // The later boots of a measure only its noisy level.
    let commands: Vec<String> = backend.steps(6).iter().map(|s| s.command.clone()).collect();
    assert_eq!(commands, ["configure", "make -j2"]);
    assert_eq!(outcome.planned_runs, 15);
    assert_eq!(listener.records.len(), 15);
}

#[test]
fn a_failed_run_uses_up_the_cap_but_not_the_precision() {
    let mut plan = adaptive(6);
    plan.variants.truncate(1);
    // Boot 2's run (step 1, after the prepare) crashes; the retry finds no run left in its round.
    let backend = with_elapsed(vec![Script::default(), Script::at(1, Fault::Crash)], steady);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 2, Failed), row("a", 3, Good), row("a", 4, Good)]);
    assert_eq!(backend.boots().len(), 4, "no boot again for the failed run: the next round measures the next one");
    assert_eq!((outcome.planned_runs, outcome.missing_runs()), (4, 0));
}

#[test]
fn a_failed_run_retried_on_resume_is_measured_under_its_own_number() {
    let mut plan = adaptive(6);
    plan.variants.truncate(1);
    let first = with_elapsed(vec![Script::default(), Script::at(1, Fault::Crash)], steady);
    let (result, _, stopped) = run(&plan, &quick_limits(&plan), &first);
    result.unwrap();
    // bench run --resume --retry-failed: the failed row is set aside, its run is due again.
    let (kept, failed) = crate::benchmark::resume::split_failed(stopped.records);
    assert_eq!(rows(&failed), [row("a", 2, Failed)]);
    let backend = with_elapsed(vec![], steady);
    let mut outcome = StudyOutcome { records: kept, ..StudyOutcome::default() };
    let (result, _) = study(&plan, &quick_limits(&plan), &backend, &mut outcome, &Interrupt::default());
    result.unwrap();
    assert_eq!(backend.boots().len(), 1, "one boot, for run 2 only");
    assert_eq!(rows(&outcome.records), [row("a", 1, Good), row("a", 3, Good), row("a", 4, Good), row("a", 2, Good)]);
    // Precise from runs 1 to 3; run 4 is on record and counts.
    assert_eq!((outcome.planned_runs, outcome.missing_runs()), (4, 0));
    let target = super::adaptive_target(&plan).unwrap();
    let statement = &target.statements(&outcome.records, &["a".into()], &["half".into()])[0];
    assert!(statement.describe().starts_with("precise after 4 runs"), "{statement:?}");
}

#[test]
fn several_runs_per_boot_decide_between_boots() {
    // rounds = 3: two runs per boot, so the steady variants stop after 4 runs, not 3.
    let plan = adaptive(3);
    let backend = with_elapsed(vec![], steady);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(backend.boots(), ["a", "b", "b", "a"]);
    assert_eq!(counts(&outcome.records, "a", "half"), (4, 0));
    assert_eq!(backend.steps(0).iter().filter(|s| s.command == "make -j1").count(), 2);
}

#[test]
fn a_resumed_adaptive_study_takes_the_same_decisions_and_boots_in_the_recorded_order() {
    let mut recorded = adaptive(6);
    recorded.order = BootOrder { choice: OrderChoice::Random, seed: 42, seed_from_clock: true };
    let full = with_elapsed(vec![], noisy);
    let (result, _, whole) = run(&recorded, &quick_limits(&recorded), &full);
    result.unwrap();
    // The same study stopped after its first five runs: it is resumed with a scenario
    // that drew another seed from the clock, and meta.json's seed restores the order.
    let mut resumed = recorded.clone();
    resumed.order.seed = 4242;
    let mut meta_design = crate::benchmark::study_meta::design_facts(&recorded);
    meta_design.seed = Some(42);
    let meta = meta_with(meta_design);
    assert_eq!(reuse_recorded_seed(&mut resumed, &meta), None);
    let other_seed = BootOrder { seed: 4242, ..recorded.order };
    assert_ne!(other_seed.sequence(2, 6)[2..], recorded.order.sequence(2, 6)[2..], "the clock's seed would boot otherwise");
    let backend = with_elapsed(vec![], noisy);
    let mut outcome = StudyOutcome { records: whole.records[..5].to_vec(), ..StudyOutcome::default() };
    let (result, _) = study(&resumed, &quick_limits(&resumed), &backend, &mut outcome, &Interrupt::default());
    result.unwrap();
    assert_eq!(backend.boots(), full.boots()[5..], "the remaining boots, in the recorded order");
    let key = |r: &RunRecord| (r.variant.clone(), r.run, r.status);
    assert_eq!(outcome.records.iter().map(key).collect::<Vec<_>>(), whole.records.iter().map(key).collect::<Vec<_>>());
    assert_eq!(outcome.planned_runs, 12);
}

fn meta_with(design: crate::model::DesignFacts) -> crate::model::Meta {
    let mut meta = crate::model::test_meta();
    meta.runs = 6;
    meta.design = Some(design);
    meta
}

#[test]
fn each_boot_reports_its_times_once_booted_and_at_its_end() {
    let plan = single(2, 1);
    let backend = FakeBackend::new(vec![]);
    let (result, listener, _) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!(listener.boot_times.len(), 2, "{:?}", listener.boot_times);
    let (booted, ended) = (&listener.boot_times[0], &listener.boot_times[1]);
    assert_eq!((booted.variant.as_str(), booted.boot), ("a", 1));
    assert!(booted.boot_s > 0.0 && booted.prepare_s.is_none() && booted.timed_s == 0.0, "{booted:?}");
    assert_eq!(ended.boot_s, booted.boot_s, "the boot is timed once, to the boot facts");
    // The fake agent: the prepare takes 1 s (clean 0.5 s), the warm-up 1 s (clean 1 s),
    // timed steps 2 and 3 take 1.002 s and 1.003 s (clean 0.5 s each).
    assert_eq!(ended.prepare_s, Some(1.0), "the prepare's measurement is kept");
    assert_eq!(ended.warmup_s, 1.0);
    assert!((ended.clean_s - 2.5).abs() < 1e-9, "{ended:?}");
    assert!((ended.timed_s - 2.005).abs() < 1e-9, "{ended:?}");
    assert!(ended.shutdown_s > 0.0, "{ended:?}");
    assert!(ended.pinning.is_none());
}

#[test]
fn a_boot_that_fails_still_reports_its_times() {
    let mut plan = single(1, 0);
    plan.guest.retries = 0;
    let backend = FakeBackend::new(vec![Script::at(1, Fault::Crash)]);
    let (result, listener, _) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    let ended = listener.boot_times.last().expect("the failed boot's times");
    assert_eq!(ended.prepare_s, Some(1.0), "{ended:?}");
    assert_eq!((ended.timed_s, ended.shutdown_s), (0.0, 0.0), "the run never ended, the guest was killed: {ended:?}");
    let never = FakeBackend::new(vec![Script::at(0, Fault::NoFacts)]);
    let mut limits = quick_limits(&plan);
    limits.boot_facts = Duration::from_millis(80);
    let (result, listener, _) = run(&plan, &limits, &never);
    result.unwrap();
    let times = &listener.boot_times;
    assert_eq!(times.len(), 1, "never booted: reported once, at its end: {times:?}");
    assert!(times[0].boot_s >= 0.08, "the whole failed boot counts as booting: {times:?}");
}

/// decide = true: a clear difference against the baseline stops both at min_runs.
fn clear(variant: &str, _command: &str, nth: usize) -> f64 {
    let base = if variant == "b" { 30.0 } else { 10.0 };
    base + 0.01 * (nth % 3) as f64
}

#[test]
fn decide_mode_stops_a_clear_difference_at_min_runs_and_stays_stopped() {
    let mut plan = adaptive(6);
    plan.adaptive = Some(AdaptiveRuns { precision_percent: 2.0, min_runs: 3, max_runs: 6, decide_threshold_percent: Some(5.0) });
    let backend = with_elapsed(vec![], clear);
    let (result, _, outcome) = run(&plan, &quick_limits(&plan), &backend);
    result.unwrap();
    assert_eq!((counts(&outcome.records, "a", "half"), counts(&outcome.records, "b", "half")), ((3, 0), (3, 0)), "{:?}", backend.boots());
}

/// `reuse = "snapshot"` over fake guests: the study in a scratch folder of its own.
fn run_snapshot(plan: &Plan, backend: &FakeBackend) -> (Result<()>, MemoryListener, StudyOutcome, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let limits = quick_limits(plan);
    let mut outcome = StudyOutcome::default();
    let mut listener = MemoryListener::default();
    let interrupt = Interrupt::default();
    let probe = FakeProbe::loads(&[0.0]);
    let mut study = Study {
        plan,
        host: "",
        limits: &limits,
        backend,
        agent: Path::new("agent"),
        scratch: scratch.path(),
        listener: &mut listener,
        stops: Stops { interrupt: &interrupt, deadline: None, study_timeout_s: 0 },
        probe: &probe,
    };
    let result = run_study(&mut study, &mut outcome);
    (result, listener, outcome, scratch)
}

fn snapshot_plan(variants: usize, rounds: u32) -> Plan {
    let mut plan = plan(rounds, 1, rounds);
    plan.reuse = crate::scenario::file::Reuse::Snapshot;
    if variants > 2 {
        let mut third = plan.variants[1].clone();
        third.name = "c".into();
        third.cmdline = "console=ttyS0 v=c".into();
        third.own_options = vec!["v=c".into()];
        plan.variants.push(third);
    }
    plan
}

#[test]
fn snapshot_boots_each_variant_once_and_restores_it_for_every_round() {
    let plan = snapshot_plan(3, 4);
    let backend = FakeBackend::new(vec![]);
    let (result, listener, outcome, scratch) = run_snapshot(&plan, &backend);
    result.unwrap();
    assert_eq!((*backend.saves.borrow(), *backend.restores.borrow()), (3, 12), "3 variants booted and saved once, restored 4 times each");
    assert_eq!(outcome.records.len(), 12);
    assert!(outcome.records.iter().all(|r| r.is_ok()));
    // Every timed run starts alike: on a restore of the variant's saved guest.
    assert!(outcome.records.iter().all(|r| r.start == Some(GuestStart::Restore)), "{:?}", outcome.records);
    // Round 1 of each variant: the boot prepares and warms up, no timed run; the restore
    // right after it, and every later one, gets its timed run only.
    let kinds = |boot: usize| backend.steps(boot).iter().map(|s| s.kind).collect::<Vec<StepKind>>();
    for boot in [0, 2, 4] {
        assert!(!kinds(boot).contains(&StepKind::Timed), "boot {boot}: {:?}", kinds(boot));
    }
    for boot in [1, 3, 5].into_iter().chain(6..15) {
        assert_eq!(kinds(boot), [StepKind::Timed], "boot {boot}");
    }
    assert!(listener.notes.iter().any(|n| n.contains("restored its saved state")), "{:?}", listener.notes);
    assert!(!scratch.path().join("states").exists(), "the state files go with the study");
}

/// `snapshots = 2` over 5 rounds: rounds 1 and 2 boot and save, and restore what they
/// saved; 3 and 5 restore the first's guest, 4 the second's.
#[test]
fn two_snapshots_are_restored_in_turn() {
    let mut plan = snapshot_plan(1, 5);
    plan.variants.truncate(1);
    plan.snapshots = 2;
    let backend = FakeBackend::new(vec![]);
    let (result, _listener, outcome, _scratch) = run_snapshot(&plan, &backend);
    result.unwrap();
    assert_eq!((*backend.saves.borrow(), *backend.restores.borrow()), (2, 5));
    assert!(outcome.records.iter().all(|r| r.start == Some(GuestStart::Restore)));
    assert_eq!(outcome.records.len(), 5);
}

#[test]
fn snapshot_saves_nothing_in_the_last_round() {
    let mut plan = snapshot_plan(2, 1);
    plan.rounds = 1;
    let backend = FakeBackend::new(vec![]);
    let (result, _listener, outcome, _scratch) = run_snapshot(&plan, &backend);
    result.unwrap();
    assert_eq!((*backend.saves.borrow(), *backend.restores.borrow(), outcome.records.len()), (0, 0, 2));
}

/// The replay test: a restored guest that answers with the saved boot's key (the saved
/// conversation replayed) is refused; the round boots instead, nothing is lost.
#[test]
fn a_restored_guest_that_signs_with_the_saved_key_is_refused_and_the_round_boots() {
    let plan = snapshot_plan(1, 2);
    let mut plan = plan;
    plan.variants.truncate(1);
    // Boot 1 (round 1) is clean; the restore of round 2 replays; its fallback boot is clean.
    let backend = FakeBackend::new(vec![Script::default(), Script::at(0, Fault::ReplaysSavedKey)]);
    let (result, listener, outcome, _scratch) = run_snapshot(&plan, &backend);
    result.unwrap();
    assert_eq!(*backend.restores.borrow(), 1);
    let warning = listener.notes.iter().find(|n| n.contains("could not be restored")).expect("a warning");
    assert!(warning.contains("wrong signature"), "{warning}");
    assert_eq!(outcome.records.iter().map(|r| r.start).collect::<Vec<_>>(), [Some(GuestStart::Boot), Some(GuestStart::Boot)]);
    assert!(outcome.records.iter().all(|r| r.is_ok()) && outcome.problems.is_empty());
}

#[test]
fn a_restored_state_of_another_variant_is_refused() {
    let mut plan = snapshot_plan(1, 2);
    plan.variants.truncate(1);
    let backend = FakeBackend::new(vec![Script::default(), Script::at(0, Fault::WrongState)]);
    let (result, listener, outcome, _scratch) = run_snapshot(&plan, &backend);
    result.unwrap();
    let warning = listener.notes.iter().find(|n| n.contains("could not be restored")).expect("a warning");
    assert!(warning.contains("is not the boot that was saved"), "{warning}");
    assert_eq!(outcome.records.len(), 2);
    assert!(outcome.records.iter().all(|r| r.start == Some(GuestStart::Boot)));
}
