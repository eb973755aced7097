//! The study's own signal on a real guest: what the guest's kernel prints reaches
//! meta.json, bench's warnings and report.md. The kernel prints it for real: a workload
//! can no longer write into the kernel's log or onto the console (tests/attacks.rs), so
//! these runs make the kernel itself speak. Complete SLUB and KASAN reports are read from
//! fixtures by the unit tests of src/backend/console.rs.

mod common;
use common::*;

const PANIC: &str = "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled";

/// Fills the tiny guest's 512 MiB; with `sysctl.vm.panic_on_oom=1` the kernel panics.
const EXHAUST_MEMORY: &str = "dd if=/dev/zero of=/dev/null bs=300M count=1 & dd if=/dev/zero of=/dev/null bs=300M count=1; wait";

#[test]
fn a_kernel_panic_on_the_console_reaches_meta_json_the_warnings_and_the_report() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "runs = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"oom\"\ncmdline = \"sysctl.vm.panic_on_oom=1\"\n[workload]\nkind = \"command\"\ncommand = \"{EXHAUST_MEMORY}\"\n"
    );
    let scenario = tiny_scenario(dir.path(), "klog", &body);
    std::fs::write(&scenario, std::fs::read_to_string(&scenario).unwrap() + "retries = 0\n").unwrap();
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "the guest crashed in the only run: {}", describe(&out));
    let results = results_dir(&root, "klog");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    let findings = meta["variants"][0]["kernel_findings"].as_array().cloned().unwrap_or_default();
    let panic = findings.iter().find(|f| f["kind"] == "panic").unwrap_or_else(|| panic!("no panic finding: {findings:#?}"));
    assert_eq!(
        (&panic["line"], &panic["boot"], &panic["log"]),
        (&serde_json::json!(PANIC), &serde_json::json!(1), &serde_json::json!("console")),
        "{panic}"
    );
    assert!(panic["excerpt"].as_str().unwrap().contains("panic+0x"), "what the kernel printed after it is quoted: {panic}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("variant oom boot 1: kernel panic: \"{PANIC}\"")), "{}", describe(&out));
    let md = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(md.contains(&format!("| oom | 1 | kernel panic | 1 | `{PANIC}` |")), "{md}");
    assert_no_qemu_left(dir.path());
}

/// Needs the agent to forward /dev/kmsg into `kmsg/<variant>-boot<N>.log`.
#[test]
fn a_kernel_warning_a_quiet_console_never_shows_is_in_the_kernel_log() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // A mapping beyond RLIMIT_DATA: the kernel warns once, at level 4, facility 0.
    let body = "runs = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"warn\"\n[workload]\nkind = \"command\"\ncommand = '''sh -c 'ulimit -d 2000; dd if=/dev/zero of=/dev/null bs=8M count=1'; true'''\n";
    let scenario = tiny_scenario(dir.path(), "kwarn", body);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "kwarn");
    let kmsg = std::fs::read_to_string(results.join("kmsg/warn-boot1.log")).unwrap();
    let warning =
        kmsg.lines().find(|l| l.contains("exceed data ulimit")).unwrap_or_else(|| panic!("no warning in the kernel log:\n{kmsg}"));
    assert!(warning.starts_with("<4>["), "the kernel's record, level 4: {warning}");
    let console = std::fs::read_to_string(results.join("console/warn-boot1.log")).unwrap();
    assert!(!console.contains("exceed data ulimit"), "quiet hides level 4:\n{console}");
    assert_no_qemu_left(dir.path());
}
