//! The study's own signal on a real guest: what the guest's kernel prints reaches
//! meta.json, bench's warnings and report.md. The workload writes report headers into the
//! kernel's log through /dev/kmsg, so they travel the real path (printk, the console at
//! its log level, the serial port, the saved logs); complete SLUB and KASAN reports are
//! read from fixtures by the unit tests of src/backend/console.rs.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const SLUB_HEADER: &str = "BUG kmalloc-64 (Not tainted): Poison overwritten";
const WARNING: &str = "WARNING: CPU: 0 PID: 1 at mm/slub.c:1 kbench_test+0x0/0x10";

/// One run that prints a SLUB header at level 3 (shown on a `quiet` console) and a
/// WARNING at level 4 (not shown there: only in the kernel log).
fn study(dir: &Path) -> (std::process::Output, PathBuf) {
    let body = format!(
        r#"
runs = 1
warmup = 0
jobs = ["half"]
[[variant]]
name = "poison"
[workload]
kind = "command"
command = "printf '<3>{SLUB_HEADER}\\n' > /dev/kmsg; printf '<4>{WARNING}\\n' > /dev/kmsg; sleep 1"
"#
    );
    let scenario = tiny_scenario(dir, "klog", &body);
    assert!(std::fs::read_to_string(&scenario).unwrap().contains("cmdline = \"quiet\""));
    let root = dir.join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "kernel trouble is a warning, not a failed run: {}", describe(&out));
    let results = results_dir(&root, "klog");
    (out, results)
}

fn findings(results: &Path) -> Vec<serde_json::Value> {
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    meta["variants"][0]["kernel_findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_slub_report_on_the_console_reaches_meta_json_the_warnings_and_the_report() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let (out, results) = study(dir.path());
    let findings = findings(&results);
    let slub = findings.iter().find(|f| f["kind"] == "slub").unwrap_or_else(|| panic!("no SLUB finding: {findings:#?}"));
    assert_eq!(slub["line"], SLUB_HEADER, "{slub}");
    assert_eq!(slub["boot"], 1, "{slub}");
    assert_eq!(slub["count"], 1, "the console and the kernel log show it once each: {slub}");
    assert!(std::fs::read_to_string(results.join("console/poison-boot1.log")).unwrap().contains(&format!("] {SLUB_HEADER}")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("variant poison boot 1: SLUB report: \"{SLUB_HEADER}\"")), "{}", describe(&out));
    let md = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(md.contains(&format!("| poison | 1 | SLUB report | 1 | `{SLUB_HEADER}` |")), "{md}");
    assert_no_qemu_left(dir.path());
}

/// Needs the agent to forward /dev/kmsg into `kmsg/<variant>-boot<N>.log`.
#[test]
fn a_warning_a_quiet_console_never_shows_is_found_in_the_kernel_log() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let (_, results) = study(dir.path());
    // The agent echoes the step's command on the console: look for the kernel's line.
    let console = std::fs::read_to_string(results.join("console/poison-boot1.log")).unwrap();
    assert!(!console.contains(&format!("] {WARNING}")), "quiet hides level 4:\n{console}");
    let findings = findings(&results);
    let warning = findings.iter().find(|f| f["kind"] == "warning").unwrap_or_else(|| panic!("no WARNING finding: {findings:#?}"));
    assert_eq!((&warning["line"], &warning["log"]), (&serde_json::json!(WARNING), &serde_json::json!("kmsg")), "{warning}");
    assert_no_qemu_left(dir.path());
}
