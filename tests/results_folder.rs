//! The results folder keeps a study whatever stops it: runs.csv has its header from the
//! start, one bench at a time writes the folder, a torn last row is set aside by resume
//! (and refused by readers), rows the plan cannot have are refused, failed runs are
//! measured again on request, and QEMU's own words reach the user.
//!
//! QEMU is the real one behind a wrapper that adds `KBENCH_TEST_QEMU_ARGS` to its command
//! line: `-m 1M` after kbench's own `-m` leaves no room for the initrd (QEMU refuses to
//! start and says why), `-S` keeps the guest paused (a study that waits for its boot).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BODY: &str = r#"
runs = 2
rounds = 1
warmup = 0
jobs = [1]
[[variant]]
name = "baseline"
[workload]
kind = "command"
command = "true"
"#;

const FAIL_TO_START: &str = "-m 1M";
const PAUSED: &str = "-S";

fn wrapper(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("qemu-wrapper");
    std::fs::write(&path, "#!/bin/sh\nexec qemu-system-x86_64 \"$@\" $KBENCH_TEST_QEMU_ARGS\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The tiny scenario with `body`, run by the wrapper, without retries.
fn scenario(dir: &Path, body: &str) -> PathBuf {
    let path = tiny_scenario(dir, "folder", body);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("[guest]", &format!("[guest]\nqemu = \"{}\"\nretries = 0", wrapper(dir).display()));
    std::fs::write(&path, text).unwrap();
    path
}

fn bench_with(qemu_args: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench"));
    command.args(args).env("KBENCH_AGENT", agent()).env("KBENCH_TEST_QEMU_ARGS", qemu_args);
    command
}

fn run_with(qemu_args: &str, args: &[&str]) -> Output {
    bench_with(qemu_args, args).output().expect("run bench")
}

/// A study whose only boot QEMU refused: a results folder with no runs.
fn study_without_runs(dir: &Path, body: &str) -> PathBuf {
    let scenario = scenario(dir, body);
    let root = dir.join("results");
    let out = run_with(FAIL_TO_START, &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    results_dir(&root, "folder")
}

fn header(folder: &Path) -> String {
    let text = std::fs::read_to_string(folder.join("runs.csv")).unwrap();
    text.lines().next().map(|l| format!("{l}\n")).unwrap_or_default()
}

fn row(variant: &str, run: u32, status: &str) -> String {
    let (exit, failure) = if status == "ok" { ("0", "") } else { ("2", "exited with 2") };
    // The columns after started_at (minor_faults … start) left empty.
    let memory = ",".repeat(27);
    format!("1,{variant},1,1,{run},{status},1.5,1.0,0.25,83.3,10,20,1000,{exit},{failure},6.1.0-test,console=ttyS0,2026-11-29T08:00:00Z{memory}\n")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn qemu_s_own_message_is_in_the_error_and_nothing_is_left_behind() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), BODY);
    let root = dir.path().join("results");
    let out = run_with(FAIL_TO_START, &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("initrd is too large"), "QEMU's reason, not only in a log file:\n{}", describe(&out));
    let folder = results_dir(&root, "folder");
    // No run, yet a valid runs.csv: its header was written with the folder.
    assert_eq!(std::fs::read_to_string(folder.join("runs.csv")).unwrap(), header(&folder));
    assert!(header(&folder).starts_with("schema_version,variant,"));
    assert!(!folder.join(".scratch").exists(), "the composed initrd goes with the study");
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_study_stopped_before_its_first_run_resumes_and_one_bench_at_a_time_writes_it() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), BODY);
    let root = dir.path().join("results");
    let first = bench_with(PAUSED, &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let folder = loop {
        let found = std::fs::read_dir(root.join("folder")).ok().and_then(|mut d| d.next()).map(|e| e.unwrap().path());
        if let Some(folder) = found.filter(|f| f.join("meta.json").is_file()) {
            break folder;
        }
        assert!(Instant::now() < deadline, "no results folder within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The guest is paused in its boot: a second bench must not write the same folder.
    let second = run_with(FAIL_TO_START, &["run", "--resume", folder.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(2), "{}", describe(&second));
    assert!(stderr(&second).contains(&format!("in use by another bench (pid {})", first.id())), "{}", describe(&second));

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(folder.join("runs.csv")).unwrap(), header(&folder), "a valid, empty runs.csv");
    assert_no_qemu_left(dir.path());

    // The empty study resumes (its boot fails again, which is exit 1, not bad input).
    let resumed = run_with(FAIL_TO_START, &["run", "--resume", folder.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(1), "{}", describe(&resumed));
    assert!(stderr(&resumed).contains("resuming: 0 runs already on record"), "{}", describe(&resumed));
}

#[test]
fn a_torn_last_row_is_refused_by_readers_and_set_aside_by_resume() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let folder = study_without_runs(dir.path(), BODY);
    let whole = format!("{}{}", header(&folder), row("baseline", 1, "ok"));
    let torn = "1,baseline,1,1,2,ok,1.4";
    std::fs::write(folder.join("runs.csv"), format!("{whole}{torn}")).unwrap();

    let report = bench(&["report", folder.to_str().unwrap()]);
    assert_eq!(report.status.code(), Some(2), "{}", describe(&report));
    assert!(
        stderr(&report).contains("the last row (line 3) is torn") && stderr(&report).contains("bench run --resume"),
        "{}",
        describe(&report)
    );
    let compare = bench(&["compare", folder.to_str().unwrap(), folder.to_str().unwrap()]);
    assert_eq!(compare.status.code(), Some(2), "{}", describe(&compare));
    assert!(stderr(&compare).contains("is torn"), "{}", describe(&compare));

    let resumed = run_with(FAIL_TO_START, &["run", "--resume", folder.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(1), "{}", describe(&resumed));
    assert!(stderr(&resumed).contains("runs.csv ended with a torn row (line 3"), "{}", describe(&resumed));
    assert!(stderr(&resumed).contains("resuming: 1 runs already on record"), "{}", describe(&resumed));
    assert_eq!(std::fs::read_to_string(folder.join("runs.csv")).unwrap(), whole);
    let aside: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("runs.csv.torn-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read_to_string(&aside[0]).unwrap(), torn);
    let report = bench(&["report", folder.to_str().unwrap()]);
    assert_eq!(report.status.code(), Some(0), "{}", describe(&report));
}

#[test]
fn resume_refuses_rows_the_scenario_does_not_plan() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let folder = study_without_runs(dir.path(), BODY);
    let header = header(&folder);
    for (rows, expected) in [
        (row("baseline", 9, "ok"), "baseline 1 run 9 is beyond the plan"),
        (row("stranger", 1, "ok"), "variant \"stranger\" is not in the scenario"),
        (format!("{}{}", row("baseline", 1, "ok"), row("baseline", 1, "ok")), "on record twice"),
    ] {
        std::fs::write(folder.join("runs.csv"), format!("{header}{rows}")).unwrap();
        let out = run_with(FAIL_TO_START, &["run", "--resume", folder.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(stderr(&out).contains(expected), "expected {expected:?}:\n{}", describe(&out));
        assert!(!stderr(&out).contains("resuming:"), "refused before anything runs:\n{}", describe(&out));
    }
}

/// Also: a 64-byte variant name (the longest allowed) under a results path far beyond
/// the 108 bytes of a unix socket name boots and measures: kbench keeps its own paths short.
#[test]
fn retry_failed_measures_failed_runs_again_and_keeps_the_failure_on_record() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let long_name = "v".repeat(64);
    let body = BODY.replace("name = \"baseline\"", &format!("name = \"{long_name}\""));
    let deep = dir.path().join("a-results-folder-with-a-long-name".repeat(5));
    std::fs::create_dir_all(&deep).unwrap();
    let folder = study_without_runs(&deep, &body);
    assert!(folder.display().to_string().len() > 200);
    let failed = row(&long_name, 2, "failed");
    std::fs::write(folder.join("runs.csv"), format!("{}{}{failed}", header(&folder), row(&long_name, 1, "ok"))).unwrap();

    let out = run_with("", &["run", "--resume", folder.to_str().unwrap(), "--retry-failed"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stderr(&out).contains("retrying 1 failed runs"), "{}", describe(&out));
    let rows = read_rows(&folder.join("runs.csv"));
    let runs: Vec<(&str, &str)> = rows.iter().map(|r| (r["run"].as_str(), r["status"].as_str())).collect();
    assert_eq!(runs, [("1", "ok"), ("2", "ok")], "run 2 measured again, the failure not beside it");
    assert_ne!(rows[1]["kernel_release"], "6.1.0-test", "measured in the guest, not the fixture");
    assert_eq!(std::fs::read_to_string(folder.join("runs-failed.csv")).unwrap(), format!("{}{failed}", header(&folder)));
    assert!(std::fs::read_to_string(folder.join("console").join(format!("{long_name}-boot2.log"))).unwrap().contains("kbench-agent"));
    assert_no_qemu_left(dir.path());
}

#[test]
fn retry_failed_needs_resume() {
    let out = bench(&["run", "some.toml", "--retry-failed"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("--resume"), "{}", describe(&out));
}

#[test]
fn a_full_disk_is_refused_before_the_results_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), BODY);
    let disk = dir.path().join("small-disk");
    std::fs::create_dir(&disk).unwrap();
    // A 16 MiB tmpfs stands for a disk with too little room (the test runs as root, as the suite does).
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=16M", "tmpfs"]).arg(&disk).status().expect("run mount");
    assert!(mounted.success(), "mounting a small tmpfs needs root");
    let out = run_with("", &["run", scenario.to_str().unwrap(), "--results", disk.to_str().unwrap()]);
    let entries: Vec<_> = std::fs::read_dir(&disk).unwrap().map(|e| e.unwrap().path()).collect();
    let _ = Command::new("umount").arg(&disk).status();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("MiB free") && stderr(&out).contains("--results"), "{}", describe(&out));
    assert!(entries.is_empty(), "nothing is made on a disk that cannot hold the study: {entries:?}");
}

#[test]
fn bench_report_waits_its_turn_while_a_study_writes_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("study");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(repo().join("tests/fixtures/history/b-6.1.0-27/runs.csv"), folder.join("runs.csv")).unwrap();
    // `flock` holds the folder's lock as a running study does (--close: its sleep does not).
    let mut holder = Command::new("flock").arg("--close").arg(folder.join(".lock")).args(["sleep", "30"]).spawn().expect("run flock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !folder.join(".lock").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let refused = bench(&["report", folder.to_str().unwrap()]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(stderr(&refused).contains("in use by"), "{}", describe(&refused));
    assert!(!folder.join("report.md").exists(), "nothing written while the study holds the folder");
    let written = bench(&["report", folder.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0), "{}", describe(&written));
    assert!(folder.join("report.md").is_file());
}
