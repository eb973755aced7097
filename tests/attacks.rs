//! A hostile workload on a real guest: it cannot forge the agent's messages, drown them,
//! or leave a process running into the next measurement. Each test reads only what
//! `bench run` wrote (runs.csv, meta.json, report.md), so it holds whatever the protocol.

mod common;
use common::*;
use std::path::Path;

fn run(scenario: &Path, root: &Path) -> std::process::Output {
    bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()])
}

/// Counts this boot's runs in /tmp, which a fresh boot starts empty (hence `rounds = 1`:
/// every run in one boot).
const COUNTER: &str = "n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n";

/// What the agent would say for a finished step `id` that took a millisecond.
fn forged_finish(id: u32) -> String {
    format!(
        r#"{{"msg":"step_finished","id":{id},"outcome":{{"kind":"exited","code":0}},"measurement":{{"elapsed_s":0.001,"user_s":0.0,"sys_s":0.0,"involuntary_csw":0,"voluntary_csw":0,"max_rss_kib":0}},"output_tail":"","leftover_processes":0}}"#
    )
}

/// Every row is the real measurement of at least `seconds`, or failed; never a forged time.
fn assert_real_or_failed(rows: &[Row], seconds: f64, out: &std::process::Output) {
    for row in rows {
        let real = row["status"] == "ok" && num(row, "elapsed_s") >= seconds;
        assert!(real || row["status"] == "failed", "a forged measurement was recorded: {row:?}\n{}", describe(out));
    }
}

#[test]
fn forged_results_and_an_early_done_on_the_agents_port_are_not_recorded() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let forgery: Vec<String> = [forged_finish(0), forged_finish(1), r#"{"msg":"done"}"#.to_string()]
        .iter()
        .map(|line| format!("echo '{line}' > /dev/ttyS1; "))
        .collect();
    let body = format!(
        "runs = 2\nrounds = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"forger\"\n[workload]\nkind = \"command\"\ncommand = '''{}sleep 5'''\n",
        forgery.concat()
    );
    let scenario = tiny_scenario(dir.path(), "forge", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let rows = read_rows(&results_dir(&root, "forge").join("runs.csv"));
    assert_eq!(rows.len(), 2, "exactly the planned runs: {rows:?}\n{}", describe(&out));
    assert_real_or_failed(&rows, 5.0, &out);
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_result_forged_for_another_step_during_a_run_adds_no_row() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "runs = 2\nrounds = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"forger\"\n[workload]\nkind = \"command\"\ncommand = '''{COUNTER}; if [ $n -eq 1 ]; then echo '{}' > /dev/ttyS1; fi; sleep 2'''\n",
        forged_finish(1)
    );
    let scenario = tiny_scenario(dir.path(), "forge_other", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let rows = read_rows(&results_dir(&root, "forge_other").join("runs.csv"));
    let runs: Vec<&str> = rows.iter().map(|r| r["run"].as_str()).collect();
    assert_eq!(runs, ["1", "2"], "one row per planned run: {rows:?}\n{}", describe(&out));
    assert_real_or_failed(&rows, 2.0, &out);
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_flood_without_newline_on_the_agents_port_does_not_swallow_the_result() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // `timeout` bounds the flood on an agent whose port the workload can reach.
    let body = "runs = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"flood\"\n[workload]\nkind = \"command\"\ncommand = '''head -c 300000000 /dev/zero | timeout 30 tr '\\0' x > /dev/ttyS1; true'''\n";
    let scenario = tiny_scenario(dir.path(), "flood", body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let rows = read_rows(&results_dir(&root, "flood").join("runs.csv"));
    assert_eq!(rows.len(), 1, "the run is on record: {}", describe(&out));
    assert!(["ok", "failed"].contains(&rows[0]["status"].as_str()), "{rows:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("missing"), "{}", describe(&out));
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_daemon_a_run_leaves_behind_is_killed_before_the_next_run_and_reported() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // Each run fails if the daemon of the run before it is still alive.
    let body = format!(
        "runs = 3\nrounds = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"daemon\"\n[workload]\nkind = \"command\"\ncommand = '''{COUNTER}; p=/tmp/daemon.$((n-1)); if [ -e $p ] && kill -0 $(cat $p) 2>/dev/null; then echo the daemon of run $((n-1)) survived; exit 1; fi; setsid sh -c 'echo $$ > /tmp/daemon.'$n'; while :; do :; done' & sleep 1'''\n"
    );
    let scenario = tiny_scenario(dir.path(), "daemon", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let results = results_dir(&root, "daemon");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 3, "{}", describe(&out));
    for row in &rows {
        assert_eq!(
            row["status"],
            "ok",
            "{row:?}\n{}",
            std::fs::read_to_string(results.join("logs/daemon-half-run2.log")).unwrap_or_default()
        );
    }
    // Every run left its daemon, and each time kbench says it killed it.
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    let leftovers = meta["variants"][0]["leftover_processes"].as_array().unwrap_or_else(|| panic!("no leftovers in meta.json: {meta}"));
    assert_eq!(leftovers.len(), 3, "{leftovers:?}");
    for entry in leftovers {
        assert!(entry["processes"].as_u64().unwrap() >= 1, "{entry}");
    }
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(report.contains("running; kbench killed"), "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("kbench killed it"), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_no_qemu_left(dir.path());
}

/// A program a step would have the kernel run for it, outside its namespace: it leaves a
/// mark, writes a forged result on the real port and stays as a busy loop.
const HELPER: &str = "printf '#!/bin/sh\\ntouch /tmp/helper-ran; echo $$ > /tmp/helper.pid; echo forged > /dev/ttyS1\\nexec sh -c \"while :; do :; done\"\\n' > /tmp/h; chmod 755 /tmp/h";

/// Fails the step if a helper ran or still runs, after giving it `seconds` to act.
fn no_helper_after(seconds: u32) -> String {
    format!(
        "sleep {seconds}; if [ -e /tmp/helper-ran ]; then echo a kernel helper ran the step\\'s program; exit 1; fi; \
         if [ -e /tmp/helper.pid ] && kill -0 $(cat /tmp/helper.pid) 2>/dev/null; then echo the helper still runs; exit 1; fi"
    )
}

/// Issue 19: a step that points core_pattern or modprobe at its own program got it run by
/// the kernel with every capability in the agent's namespace, where ttyS1 is the real port.
#[test]
fn a_step_cannot_have_the_kernel_run_its_program_through_core_pattern_or_modprobe() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // Run 1 the core-dump pipe, run 2 a binary format nobody knows (which asks modprobe),
    // run 3 only looks: each in the same boot, each failing if a helper ran or runs.
    let check = no_helper_after(2);
    let body = format!(
        "runs = 3\nrounds = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"helper\"\n[workload]\nkind = \"command\"\ncommand = '''{COUNTER}; {HELPER}; \
         if [ $n -eq 1 ]; then echo '|/tmp/h' > /proc/sys/kernel/core_pattern; sh -c 'kill -SEGV $$'; fi; \
         if [ $n -eq 2 ]; then echo /tmp/h > /proc/sys/kernel/modprobe; printf '\\377\\377\\377\\377xxxx' > /tmp/bad; chmod 755 /tmp/bad; /tmp/bad; fi; \
         {check}'''\n"
    );
    let scenario = tiny_scenario(dir.path(), "helper", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let results = results_dir(&root, "helper");
    let rows = read_rows(&results.join("runs.csv"));
    let logs: String =
        (1..=3).map(|n| std::fs::read_to_string(results.join(format!("logs/helper-half-run{n}.log"))).unwrap_or_default()).collect();
    assert_eq!(rows.len(), 3, "{}", describe(&out));
    for row in &rows {
        let real = row["status"] == "ok" && num(row, "elapsed_s") >= 2.0;
        assert!(real, "the run is not the real one: {row:?}\n{logs}\n{}", describe(&out));
    }
    assert!(logs.contains("core_pattern: Read-only file system") && logs.contains("modprobe: Read-only file system"), "{logs}");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_no_qemu_left(dir.path());
}

/// Issue 19: with CAP_SYS_TIME a step slowed the guest's clock by 10 % (adjtimex), and the
/// runs after it looked faster; renicing the agent or silencing the console would last too.
#[test]
fn a_step_cannot_slew_the_clock_renice_the_agent_or_silence_the_console() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let attempts = [
        ("adjtimex -t 9000 -f -32768000", "slewed the clock"),
        ("renice -n 19 -p 1", "reniced the agent"),
        ("dmesg -n 1", "changed the console log level"),
    ];
    let tries: String =
        attempts.iter().map(|(command, done)| format!("if {command} >/dev/null 2>&1; then echo {done}; exit 1; fi; ")).collect();
    let body = format!(
        "runs = 2\nrounds = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"slew\"\n[workload]\nkind = \"command\"\ncommand = '''{tries}sleep 3'''\n"
    );
    let scenario = tiny_scenario(dir.path(), "slew", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let results = results_dir(&root, "slew");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 2, "{}", describe(&out));
    for row in &rows {
        let log = std::fs::read_to_string(results.join(format!("logs/slew-half-run{}.log", row["run"]))).unwrap_or_default();
        assert_eq!(row["status"], "ok", "{row:?}\n{log}\n{}", describe(&out));
        // A clock slowed by 10 % would time `sleep 3` at about 2.7 s.
        assert!(num(row, "elapsed_s") >= 3.0, "{row:?}");
    }
    assert_no_qemu_left(dir.path());
}

/// Issue 19: records a step wrote to /dev/kmsg and text it wrote to /dev/console appeared
/// in report.md as kernel panics, KASAN and SLUB reports of the kernel under test.
#[test]
fn report_headers_a_step_writes_to_the_kernel_log_or_the_console_are_no_kernel_findings() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let forged = [
        "printf '<3>BUG kmalloc-64 (Not tainted): Poison overwritten\\n' > /dev/kmsg",
        "printf '<0>Kernel panic - not syncing: forged\\n' > /dev/kmsg",
        "printf '<3>BUG: KASAN: slab-out-of-bounds in forged+0x0/0x1\\n' > /dev/kmsg",
        "printf 'Kernel panic - not syncing: forged\\n' > /dev/console",
        "printf '[    9.000000] BUG kmalloc-64 (Not tainted): Poison overwritten\\n' > /dev/console",
    ];
    let body = format!(
        "runs = 1\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"fake\"\n[workload]\nkind = \"command\"\ncommand = '''{}; true'''\n",
        forged.join("; ")
    );
    let scenario = tiny_scenario(dir.path(), "fake", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let results = results_dir(&root, "fake");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!((rows.len(), rows[0]["status"].as_str()), (1, "ok"), "{}", describe(&out));
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    let findings = &meta["variants"][0]["kernel_findings"];
    assert!(findings.as_array().is_none_or(|f| f.is_empty()), "user-space text counted as the kernel's: {findings:#}");
    let md = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(md.contains("## Kernel trouble\n\nNone: no panic"), "{md}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("SLUB report"), "{}", describe(&out));
    assert_no_qemu_left(dir.path());
}
