//! Less noise and overhead accounted, on the tiny guest: `guest.pin` puts the vCPU thread
//! on the host CPU meta.json names while the guest runs, and meta.json carries each boot's
//! times and the study's time budget.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills bench (and so, through its death signal, its QEMU) however the test ends.
struct Bench(Child);
impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_meta(results: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).ok()?).ok()
}

/// `Cpus_allowed_list` of a thread, as the kernel reports it ("1", "0-1", "0,2").
fn cpus_allowed(pid: u32, tid: i64) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).map(|v| v.trim().to_string())
}

fn cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}

/// The processes `pid`'s threads started.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        found.extend(text.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
    }
    found
}

fn threads(pid: u32) -> Vec<i64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn scenario(dir: &Path, name: &str, body: &str, cpus: u32, pin: bool) -> PathBuf {
    let path = tiny_scenario(dir, name, body);
    let text = std::fs::read_to_string(&path).unwrap().replace("cpus = 2\n", &format!("cpus = {cpus}\npin = {pin}\n"));
    std::fs::write(&path, text).unwrap();
    path
}

const SLEEPER: &str = "runs = 1\nwarmup = 0\nrounds = 1\njobs = [\"half\"]\n[[variant]]\nname = \"pinned\"\n[workload]\nkind = \"command\"\ncommand = \"sleep 20\"\n";

#[test]
fn a_pinned_vcpu_runs_only_on_the_host_cpu_meta_json_names_and_nothing_else_of_qemu_does() {
    let _guard = guest_lock();
    let host_cpus = std::thread::available_parallelism().unwrap().get();
    assert!(host_cpus >= 2, "pinning one vCPU needs two host CPUs, this host lets the test use {host_cpus}");
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), "pin", SLEEPER, 1, true);
    let root = dir.path().join("results");
    let bench = Bench(
        Command::new(env!("CARGO_BIN_EXE_bench"))
            .args(["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()])
            .env("KBENCH_AGENT", agent())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run bench"),
    );
    let bench_pid = bench.0.id();

    // The boot's entry appears in meta.json once the guest booted, with its pinning.
    let deadline = Instant::now() + Duration::from_secs(240);
    let pinning = loop {
        assert!(Instant::now() < deadline, "no pinning in meta.json within 240 s");
        let meta = std::fs::read_dir(root.join("pin")).ok().and_then(|mut d| d.next()).and_then(|e| read_meta(&e.ok()?.path()));
        if let Some(pinning) = meta.as_ref().map(|m| m["boots"][0]["pinning"].clone()).filter(|p| !p.is_null()) {
            break pinning;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let vcpu = &pinning["vcpus"][0];
    let (tid, host_cpu) = (vcpu["thread_id"].as_i64().unwrap(), vcpu["host_cpu"].as_u64().unwrap() as usize);
    let shared: Vec<usize> = pinning["shared_cpus"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as usize).collect();
    assert_eq!(pinning["vcpus"].as_array().unwrap().len(), 1, "{pinning}");
    assert!(!shared.is_empty() && !shared.contains(&host_cpu), "{pinning}");

    // While the guest sleeps in its timed run: the vCPU thread is QEMU's, on its CPU alone.
    let qemu: Vec<u32> = children(bench_pid)
        .into_iter()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("qemu")))
        .collect();
    assert_eq!(qemu.len(), 1, "bench's QEMU: {qemu:?}");
    let qemu = qemu[0];
    let qemu_threads = threads(qemu);
    assert!(qemu_threads.contains(&tid), "thread {tid} is not QEMU's ({qemu_threads:?})");
    let vcpu_cpus = cpus_allowed(qemu, tid).expect("the vCPU thread's status");
    assert_eq!(cpu_list(&vcpu_cpus), [host_cpu], "the vCPU thread's Cpus_allowed_list {vcpu_cpus:?}, meta.json: {pinning}");
    let mut others = 0;
    for other in qemu_threads.iter().filter(|t| **t != tid) {
        let Some(list) = cpus_allowed(qemu, *other) else { continue };
        assert!(!cpu_list(&list).contains(&host_cpu), "QEMU thread {other} may run on the vCPU's CPU {host_cpu}: {list}");
        others += 1;
    }
    assert!(others > 0, "QEMU has threads besides its vCPU (main loop, RCU)");
    for own in threads(bench_pid) {
        let Some(list) = cpus_allowed(bench_pid, own) else { continue };
        assert!(!cpu_list(&list).contains(&host_cpu), "bench thread {own} may run on the vCPU's CPU {host_cpu}: {list}");
    }

    let mut bench = bench;
    let status = bench.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "bench run failed");
    let results = results_dir(&root, "pin");
    let meta = read_meta(&results).unwrap();
    assert_eq!(meta["design"]["pin"], true);
    assert_eq!(meta["boots"][0]["pinning"], pinning, "the final entry keeps the pinning");
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    let line = format!("vCPU 0 → CPU {host_cpu}; QEMU and bench on CPU");
    assert!(report.contains("## Time budget") && report.contains(&line), "report.md lacks {line:?}:\n{report}");
}

#[test]
fn pinning_more_vcpus_than_the_host_can_spare_is_refused_by_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let host_cpus = std::thread::available_parallelism().unwrap().get() as u32;
    let scenario = scenario(dir.path(), "toomany", SLEEPER, host_cpus, true);
    let results = dir.path().join("r");
    for args in [vec!["check", scenario.to_str().unwrap()], vec!["run", scenario.to_str().unwrap(), "--results", results.to_str().unwrap()]]
    {
        let command = args[0];
        let out = bench(&args);
        // check says it on its PROBLEM line (stdout), run on stderr.
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{command}: {}", describe(&out));
        assert!(said.contains("key `guest.pin`") && said.contains(&format!("needs {} host CPUs", host_cpus + 1)), "{command}: {said}");
    }
}

#[test]
fn meta_json_has_each_boots_times_and_the_time_budget() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 2\nwarmup = 1\nrounds = 1\njobs = [\"half\"]\n[[variant]]\nname = \"v\"\n[workload]\nkind = \"command\"\nprepare = \"sleep 2\"\ncommand = \"sleep 1\"\n";
    let scenario = scenario(dir.path(), "budget", body, 1, false);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "budget");
    let meta = read_meta(&results).unwrap();
    let boots = meta["boots"].as_array().expect("meta.json has boots");
    assert_eq!(boots.len(), 1, "{boots:?}");
    let boot = &boots[0];
    let seconds = |key: &str| boot[key].as_f64().unwrap_or_else(|| panic!("boots[0].{key}: {boot}"));
    assert_eq!((boot["variant"].as_str(), boot["boot"].as_u64()), (Some("v"), Some(1)));
    assert!(seconds("boot_s") > 0.0, "{boot}");
    // The guest's own clock timed `sleep 2`, `sleep 1`s: at least that long.
    assert!(seconds("prepare_s") >= 2.0, "the prepare's duration is kept: {boot}");
    assert!(seconds("warmup_s") >= 1.0 && seconds("timed_s") >= 2.0, "{boot}");
    assert!(seconds("shutdown_s") > 0.0, "{boot}");
    assert!(boot.get("pinning").is_none(), "not pinned: {boot}");
    let runs: f64 = read_rows(&results.join("runs.csv")).iter().map(|r| num(r, "elapsed_s")).sum();
    assert!((seconds("timed_s") - runs).abs() < 1e-6, "timed_s is runs.csv's elapsed: {runs} vs {boot}");

    let budget = &meta["time_budget"];
    let part = |key: &str| budget[key].as_f64().unwrap_or_else(|| panic!("time_budget.{key}: {budget}"));
    assert!((part("timed_runs_s") - seconds("timed_s")).abs() < 1e-9, "{budget}");
    assert!((part("prepare_s") - seconds("prepare_s")).abs() < 1e-9, "{budget}");
    let parts = ["timed_runs_s", "boot_s", "prepare_s", "warmup_s", "clean_s", "shutdown_s", "other_s"].map(part);
    assert!((parts.iter().sum::<f64>() - part("wall_s")).abs() < 1e-6, "the parts add up to the wall time: {budget}");
    assert!(part("wall_s") > seconds("boot_s") + 5.0, "{budget}");
    assert!(part("bench_cpu_s") > 0.0 && part("bench_cpu_s") < part("wall_s"), "{budget}");
    assert_eq!(budget["invocations"], 1);

    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(report.contains("## Time budget") && report.contains("went into the timed runs") && report.contains("of one core"), "{report}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["facts"]["time_budget"], *budget);
}
