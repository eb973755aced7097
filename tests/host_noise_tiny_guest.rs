//! The host-noise guard on a real tiny guest: a CPU hog this test starts on the host
//! while a run is measured makes the run's row noisy, and the reports say so; with
//! `quiet_host`, the run waits for the hog to stop, up to `wait`, then runs flagged.
//! Nothing here asserts that a run is quiet: the machine is shared.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};

/// Two busy loops on the host, at the lowest priority (so that the guest still boots
/// quickly; they take the CPUs whenever it idles), killed however the test ends.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Hogs {
        let hog = || {
            Command::new("nice")
                .args(["-n", "19", "sh", "-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("start a CPU hog")
        };
        Hogs(vec![hog(), hog()])
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One run of a guest that sleeps 3 s: the hogs have the host's CPUs meanwhile.
fn study(extra: &str) -> String {
    format!(
        r#"
runs = 1
warmup = 0
jobs = ["half"]
{extra}

[[variant]]
name = "baseline"

[workload]
kind = "command"
command = "sleep 3"
"#
    )
}

/// Runs the study with the hogs running; the folder (kept until dropped), the results
/// folder, the run's row and bench's stderr.
fn run_with_hogs(name: &str, extra: &str) -> (tempfile::TempDir, std::path::PathBuf, Row, String) {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), name, &study(extra));
    let root = dir.path().join("results");
    let hogs = Hogs::start();
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    drop(hogs);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, name);
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0].clone();
    (dir, results, row, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_run_during_a_cpu_hog_is_flagged_in_its_row_and_the_reports() {
    let (_dir, results, row, stderr) = run_with_hogs("noisy", "");
    assert_eq!(row["status"], "ok", "{row:?}");
    let other = num(&row, "host_other_cpu_percent");
    // Two hogs on two cores, the guest asleep: far over the 20 % a 2-CPU guest tolerates.
    assert!(other > 50.0, "other processes' CPU {other} % with two hogs running: {row:?}");
    assert!(row["noise"].starts_with("other processes used "), "{row:?}");
    assert!(row["noise"].contains("% of a CPU (limit 20 %)"), "{row:?}");
    assert!(num(&row, "host_load1") >= 0.0 && !row["host_governor"].is_empty() && !row["host_boost"].is_empty(), "{row:?}");
    assert_eq!(row["quiet_wait_s"], "", "no quiet_host, no wait");
    let md = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(md.contains("baseline 1 ok, 1 ⚠ on a noisy host (run 1)"), "{md}");
    assert!(
        md.contains("- noisy host: 1 of 1 successful runs were measured while the host was busy with other work (the worst: baseline half run 1: other processes used"),
        "one warning for the study, naming the worst run: {md}"
    );
    let html = std::fs::read_to_string(results.join("report.html")).unwrap();
    assert!(html.contains("<tr class=\"noisy\">") && html.contains("<td>ok ⚠</td>"), "report.html marks the run");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["analysis"]["levels"][0]["variants"][0]["noisy_runs"][0]["run"], 1, "{json}");
    assert!(stderr.contains("noisy host: 1 of 1 successful runs were measured while the host was busy"), "{stderr}");
}

#[test]
fn quiet_host_waits_for_a_busy_host_up_to_its_wait_then_runs_flagged() {
    let (_dir, results, row, stderr) = run_with_hogs("waits", "quiet_host = { max_load = 0.5, wait = 3 }");
    assert_eq!(row["status"], "ok", "the run happened anyway: {row:?}");
    let waited = num(&row, "quiet_wait_s");
    // The first look (1 s) and the wait (3 s), and a little for the looks themselves.
    assert!((3.0..8.0).contains(&waited), "waited {waited} s: {row:?}");
    assert!(row["noise"].starts_with("the host was still busy after waiting "), "{row:?}");
    assert!(row["noise"].contains("quiet_host.max_load 0.5); other processes used "), "{row:?}");
    assert!(stderr.contains("runs anyway, flagged as noisy"), "{stderr}");
    assert!(
        stderr.contains("baseline: waiting up to 3 s for a quiet host (other processes at most 0.5 CPUs) before run half 1"),
        "a log says what the study waits for: {stderr}"
    );
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["design"]["quiet_host"]["wait_s"], 3, "{meta}");
}
