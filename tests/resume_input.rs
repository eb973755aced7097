//! `bench run --resume` refuses a runs.csv whose rows do not fit the study, before any
//! guest boots: they would count as done (run 3 of 2) or never be compared (an unknown
//! variant). No guest needed: the refusal comes first.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const HEADER: &str = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at";

const BODY: &str = r#"
runs = 2
warmup = 0
jobs = [2]
[[variant]]
name = "baseline"
[workload]
kind = "command"
command = "true"
"#;

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("run sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().expect("a checksum").to_string()
}

/// An interrupted study's folder as `bench run` leaves it, with `rows` in runs.csv.
fn interrupted_study(dir: &Path, rows: &[&str]) -> std::path::PathBuf {
    let scenario = tiny_scenario(dir, "resume-input", BODY);
    let folder = dir.join("results/resume-input/20261129-080000");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&scenario, folder.join("scenario.toml")).unwrap();
    let file = |path: &Path| serde_json::json!({ "path": path.display().to_string(), "sha256": sha256(path) });
    let meta = serde_json::json!({
        "schema_version": 1, "kbench_version": "0.1.0", "scenario": "resume-input",
        "scenario_file": folder.join("scenario.toml").display().to_string(),
        "scenario_sha256": sha256(&folder.join("scenario.toml")),
        "started_at": "2026-11-29T08:00:00Z", "finished_at": null,
        "host": {"cpu_model": "Test CPU", "cpus": 2, "memory_mib": 4096, "kernel": "6.1.0"},
        "hypervisor": {"backend": "qemu", "version": "QEMU emulator version 7.2.15", "accel": "tcg"},
        "guest": {"cpus": 2, "memory_mib": 512, "disk": null},
        "workload": {"kind": "command", "command": "true", "prepare": null, "clean": null},
        "runs": 2, "warmup": 0, "levels": [{"label": "2", "jobs": 2}], "baseline": "baseline",
        "variants": [{"name": "baseline", "cmdline": "", "kernel": file(&tiny_kernel()), "initrd": file(&tiny_initrd()), "boot": null}]
    });
    std::fs::write(folder.join("meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text += &format!("1,{row},ok,1.5,1.0,0.25,83.3,10,20,1000,0,,6.1.0,console=ttyS0 quiet,2026-11-29T08:00:00Z\n");
    }
    std::fs::write(folder.join("runs.csv"), text).unwrap();
    folder
}

#[test]
fn rows_beyond_the_plan_or_of_an_unknown_variant_are_refused_before_any_boot() {
    let dir = tempfile::tempdir().unwrap();
    let folder = interrupted_study(dir.path(), &["baseline,2,2,1", "baseline,2,2,3", "bogus,2,2,1"]);
    let out = bench(&["run", "--resume", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let error = String::from_utf8_lossy(&out.stderr);
    let runs_csv = folder.join("runs.csv").display().to_string();
    assert!(error.contains(&format!("{runs_csv}: line 3: baseline 2 run 3 is beyond the plan")), "{error}");
    assert!(error.contains(&format!("{runs_csv}: line 4: variant \"bogus\" is not in the scenario")), "{error}");
    assert!(!folder.join("console/baseline-boot1.log").exists(), "nothing booted");
    assert_eq!(std::fs::read_to_string(folder.join("runs.csv")).unwrap().lines().count(), 4, "runs.csv untouched");
}

#[test]
fn a_run_on_record_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder = interrupted_study(dir.path(), &["baseline,2,2,1", "baseline,2,2,1"]);
    let out = bench(&["run", "--resume", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("line 3: baseline 2 run 1 is on record twice") && error.contains("(line 2)"), "{error}");
}
