//! `bench compare` of real `bench run` results on the tiny guest, in cases whose outcome
//! is known before anything runs: the same kernel twice under a threshold no noise can
//! reach passes the gate; a new side whose every run fails is a regression.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// The workload fails on a guest booted with `kbench.fail`: the same command on both sides.
const SCENARIO: &str = r#"
runs = 3
warmup = 0
jobs = ["half", "optimal"]

[[variant]]
name = "baseline"

[workload]
kind = "command"
command = "if grep -q kbench.fail /proc/cmdline; then exit 3; fi; for w in $(seq {jobs}); do (for i in $(seq 100); do /bin/true; done) & done; wait"
"#;

/// Runs the scenario into `dir/side`; `extra_cmdline` goes to the guest's command line.
fn run_side(dir: &Path, side: &str, extra_cmdline: &str, expected_exit: i32) -> PathBuf {
    std::fs::create_dir_all(dir.join(side)).unwrap();
    let scenario = tiny_scenario(&dir.join(side), "same", SCENARIO);
    let text = std::fs::read_to_string(&scenario).unwrap().replace("cmdline = \"quiet\"", &format!("cmdline = \"quiet{extra_cmdline}\""));
    std::fs::write(&scenario, text).unwrap();
    let root = dir.join(side).join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(expected_exit), "{side}: {}", describe(&out));
    results_dir(&root, "same")
}

#[test]
fn the_same_kernel_twice_under_a_threshold_no_noise_reaches_passes_the_gate() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let old = run_side(dir.path(), "old", "", 0);
    let new = run_side(dir.path(), "new", "", 0);
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    // A change must have its whole interval beyond ±1000 % to count: 11 times slower.
    let options = ["--metric", "elapsed,sys", "--threshold", "1000%"];

    let out = bench(&[&["compare", old, new][..], &options].concat());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for row in ["baseline  half -j 1", "baseline  optimal -j 2"] {
        assert_eq!(text.matches(row).count(), 2, "{row} once per metric: {}", describe(&out));
    }
    assert!(text.contains("6 successful runs, 0 failed"), "{}", describe(&out));
    assert!(!text.contains("(REGRESSION)"), "{}", describe(&out));
    // Same host, same QEMU, same guest: no fact differs, nothing to warn about but an
    // honest flag of runs measured while the shared host was busy.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning") && !l.starts_with("warning: noisy host: ")).collect();
    assert!(warnings.is_empty(), "{}", describe(&out));

    let json = bench(&[&["compare", old, new][..], &options, &["--format", "json"]].concat());
    assert_eq!(json.status.code(), Some(0), "{}", describe(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["regressions"], 0, "{report}");
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2 * 2, "{report}");
    for entry in entries {
        assert!(["elapsed", "sys"].contains(&entry["metric"].as_str().unwrap()), "{entry}");
        assert_eq!(entry["base_variant"], "baseline");
        assert_eq!(entry["comparison"]["base"]["n"], 3);
        assert_eq!(entry["comparison"]["new"]["n"], 3);
        assert_eq!(entry["regression"], false, "{entry}");
        assert!(entry["verdict"].is_string(), "{entry}");
        if entry["metric"] == "elapsed" {
            // Three timed runs a side never take identical nanoseconds: there is a p.
            let p = entry["comparison"]["p_value"].as_f64().unwrap_or_else(|| panic!("no p: {entry}"));
            assert!((0.0..=1.0).contains(&p), "{entry}");
        }
    }
    assert_eq!(report["base"]["kernels"], report["new"]["kernels"]);
    assert_eq!(report["base"]["accel"], report["new"]["accel"]);
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_new_kernel_whose_every_run_fails_is_a_regression() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let old = run_side(dir.path(), "old", "", 0);
    let new = run_side(dir.path(), "new", " kbench.fail", 1);
    let rows = read_rows(&new.join("runs.csv"));
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "failed"), "{rows:?}");

    let out = bench(&["compare", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("baseline"), "the failing variant is named: {}", describe(&out));
    assert_no_qemu_left(dir.path());
}
