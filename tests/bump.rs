//! `bench bump` on the tiny guest: the old and the new kernel in one interleaved study,
//! split and compared into one folder, with the gate's exit code.
//!
//! Both "kernels" are copies of the tiny guest's kernel; what one costs more is a kernel
//! option of its side (`--new-cmdline`), which the workload reads from /proc/cmdline.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// `if … slow …` in a multi-line command whose lines look like TOML: the bump's scenario
/// must hand the guest exactly this command.
const COMMAND: &str = "if grep -q bumpcost=slow /proc/cmdline; then sleep 0.9; else sleep 0.3; fi\n# [x]\n# [[variant]]\n";

fn scenario(dir: &Path, runs: u32) -> PathBuf {
    let body = format!(
        "runs = {runs}\nrounds = 1\nwarmup = 0\njobs = [1]\nmonitor_interval = 0\n\n[[variant]]\n\"name\" = \"base\"\n\n[workload]\nkind = \"command\"\ncommand = '''\n{COMMAND}'''\n"
    );
    tiny_scenario(dir, "bumped", &body)
}

/// Two files with the tiny kernel's bytes: the old and the new kernel.
fn kernels(dir: &Path) -> (String, String) {
    let (old, new) = (dir.join("old-vmlinuz"), dir.join("new-vmlinuz"));
    std::fs::copy(tiny_kernel(), &old).unwrap();
    std::fs::copy(tiny_kernel(), &new).unwrap();
    (old.display().to_string(), new.display().to_string())
}

#[test]
fn a_slower_new_kernel_fails_the_bump_names_the_row_and_a_resumed_bump_finishes_the_study() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), 4);
    let (old, new) = kernels(dir.path());
    let out_dir = dir.path().join("bump");
    let out = bench(&[
        "bump",
        scenario.to_str().unwrap(),
        "--old",
        &old,
        "--new",
        &new,
        "--new-cmdline",
        "bumpcost=slow",
        "--threshold",
        "10%",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("REGRESSION"), "{}", describe(&out));
    for file in ["scenario.toml", "old/runs.csv", "new/runs.csv", "compare.txt", "compare.md", "compare.json", "compare.xml", "mail.txt"] {
        assert!(out_dir.join(file).is_file(), "no {file}: {}", describe(&out));
    }
    let study = out_dir.join("study/bumped/latest").canonicalize().unwrap();
    assert_eq!(read_rows(&study.join("runs.csv")).len(), 8, "4 runs of old.base and 4 of new.base in one study");
    // The guest ran the command exactly as the scenario wrote it.
    let generated: toml::Table = std::fs::read_to_string(out_dir.join("scenario.toml")).unwrap().parse().unwrap();
    assert_eq!(generated["workload"]["command"].as_str(), Some(COMMAND));
    let mail = std::fs::read_to_string(out_dir.join("mail.txt")).unwrap();
    assert!(mail.contains("Regression: base at -j 1") && mail.contains("elapsed"), "{mail}");
    assert!(mail.contains("95 % interval") && mail.contains("Machine: ") && mail.contains(&new), "{mail}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("compare.json")).unwrap()).unwrap();
    assert!(json["regressions"].as_u64().unwrap_or(0) >= 1, "{json}");

    // A bump stopped mid-study: its last two runs are missing. --resume measures them
    // and compares again.
    let runs_csv = study.join("runs.csv");
    let text = std::fs::read_to_string(&runs_csv).unwrap();
    let kept: Vec<&str> = text.lines().take(1 + 6).collect();
    std::fs::write(&runs_csv, kept.join("\n") + "\n").unwrap();
    std::fs::remove_file(out_dir.join("compare.md")).unwrap();
    let out = bench(&["bump", "--resume", out_dir.to_str().unwrap(), "--threshold", "10%"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming: 6 runs already on record"), "{}", describe(&out));
    assert_eq!(read_rows(&runs_csv).len(), 8, "{}", describe(&out));
    assert!(out_dir.join("compare.md").is_file());
}

#[test]
fn an_equal_pair_passes_the_bump() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), 5);
    let (old, new) = kernels(dir.path());
    let out_dir = dir.path().join("bump");
    // Both sides sleep 0.3 s: a wide threshold keeps TCG's noise inside it.
    let out =
        bench(&["bump", scenario.to_str().unwrap(), "--old", &old, "--new", &new, "--threshold", "50%", "-o", out_dir.to_str().unwrap()]);
    // 0 is the gate's "the same or better" (3 would be "cannot tell": not at ±50 %).
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no significant regression"), "{}", describe(&out));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["entries"][0]["verdict"].as_str(), Some("same"), "{json}");
    let mail = std::fs::read_to_string(out_dir.join("mail.txt")).unwrap();
    assert!(mail.contains("No significant regression"), "{mail}");
}

#[test]
fn a_bump_refuses_a_missing_kernel_and_a_folder_in_use_before_booting() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path(), 4);
    let (old, _) = kernels(dir.path());
    let out_dir = dir.path().join("bump");
    let out = bench(&["bump", scenario.to_str().unwrap(), "--old", &old, "--new", "/nonexistent/vmlinuz", "-o", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--new /nonexistent/vmlinuz"), "{}", describe(&out));
    assert!(!out_dir.exists(), "a refused bump leaves no folder");

    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("something"), "").unwrap();
    let out = bench(&["bump", scenario.to_str().unwrap(), "--old", &old, "--new", &old, "-o", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"), "{}", describe(&out));

    // A scenario the run would refuse leaves no folder behind either.
    let out = bench(&[
        "bump",
        scenario.to_str().unwrap(),
        "--old",
        &old,
        "--new",
        &old,
        "--new-cmdline",
        "slow",
        "-o",
        dir.path().join("b2").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!dir.path().join("b2").exists(), "{}", describe(&out));
}
