//! The kernel-build workload end to end on the real Debian image (scripts/build-debian-image.sh):
//! Debian's kernel and initrd, the agent entering the read-only root disk, a real compile
//! of kernel objects from linux-source-6.1 into a tmpfs build folder, with and without
//! slub_debug=P. Small enough for CI under TCG.

mod common;
use common::*;

/// One object, configured with allnoconfig (the cheapest config target: no
/// merge_config.sh), after an untimed `make prepare` (clean = "targets"), so that the
/// run compiles just the object. About 4 minutes per variant under TCG.
const SMALL_BUILD: &str = r#"
runs = 1
warmup = 0
jobs = ["optimal"]

[[variant]]
name = "baseline"

[[variant]]
name = "poison"
cmdline = "slub_debug=P"

[workload]
kind = "kernel-build"
source = "/usr/src/linux"
config = "allnoconfig"
target = "lib/sort.o"
clean = "targets"
"#;

#[test]
fn a_small_kernel_build_compiles_in_both_variants_and_lands_in_runs_csv() {
    let _guard = debian_guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = debian_scenario(dir.path(), "kbuild", SMALL_BUILD);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "kbuild");

    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row:?}");
        assert_eq!(row["exit_code"], "0");
        // A compile, not a no-op: make and the compiler ran, in the guest (even on a fast
        // KVM host this build takes more than half a second of CPU).
        assert!(num(row, "user_s") > 0.2, "{row:?}");
        assert!(num(row, "elapsed_s") > 0.3, "{row:?}");
        let has_p = row["cmdline"].split_whitespace().any(|o| o == "slub_debug=P");
        assert_eq!(has_p, row["variant"] == "poison", "{row:?}");
        // The guest's make printed the object it built (the agent also checked that
        // /tmp/kbench-build/lib/sort.o exists: a missing one fails the run).
        let log = std::fs::read_to_string(results.join(format!("logs/{}-optimal-run1.log", row["variant"]))).unwrap();
        assert!(log.contains("CC      lib/sort.o"), "{log}");
    }

    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["workload"]["kind"], "kernel-build");
    assert_eq!(meta["workload"]["kernel_build"]["config"], "allnoconfig");
    for variant in meta["variants"].as_array().unwrap() {
        let boot = &variant["boot"];
        assert_eq!(boot["slab"]["kmalloc_64"].as_bool(), Some(variant["name"] == "poison"), "{variant}");
        let compiler = boot["probes"]["compiler"].as_str().unwrap();
        assert!(compiler.starts_with("gcc (Debian"), "{compiler}");
        let linux = boot["probes"]["linux_version"].as_str().unwrap();
        assert!(linux.starts_with("6.1."), "{linux}");
    }
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(report.contains("| Compiler | gcc (Debian"), "{report}");
    assert!(report.contains("| Linux compiled | 6.1."), "{report}");
    // The agent mounted the image read-only and ran the steps inside it.
    let console = std::fs::read_to_string(results.join("console/baseline-boot1.log")).unwrap();
    assert!(console.contains("kbench-agent: entered root /dev/vda (ro)"), "{console}");
    // ...locked the guest down after loading the disk's modules, ran each step in its own
    // namespaces, away from the agent's channel, and the build left nothing running.
    assert!(console.contains("kbench-agent: kernel knobs pinned; serial ports, console and kernel log covered"), "{console}");
    assert!(console.contains("kbench-agent: each step runs in its own mount and IPC namespaces"), "{console}");
    for variant in meta["variants"].as_array().unwrap() {
        assert!(variant.get("leftover_processes").is_none(), "{variant}");
    }
    let kernel_log = std::fs::read_to_string(results.join("kmsg/poison-boot1.log")).unwrap();
    assert!(kernel_log.contains("] Linux version 6.1"), "{kernel_log}");
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_bad_config_name_fails_the_variant_and_keeps_makes_output() {
    let _guard = debian_guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
runs = 1
warmup = 0
jobs = ["optimal"]
[[variant]]
name = "only"
[workload]
kind = "kernel-build"
source = "/usr/src/linux"
config = "nosuchconfig"
target = "lib/sort.o"
"#;
    let scenario = debian_scenario(dir.path(), "badconfig", body);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prepare failed"), "{}", describe(&out));
    let results = results_dir(&root, "badconfig");
    // The run that could not happen is a failed row, never an absent one.
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "failed");
    assert!(rows[0]["failure"].starts_with("not run: prepare failed: exit status 2"), "{:?}", rows[0]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Average"), "a failed run is never averaged");
    let log = std::fs::read_to_string(results.join("logs/only-prepare.log")).unwrap();
    assert!(log.contains("nosuchconfig"), "make's own complaint is kept: {log}");
    assert_no_qemu_left(dir.path());
}
