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
    let forgery: Vec<String> =
        [forged_finish(0), forged_finish(1), r#"{"msg":"done"}"#.to_string()].iter().map(|line| format!("echo '{line}' > /dev/ttyS1; ")).collect();
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
        assert_eq!(row["status"], "ok", "{row:?}\n{}", std::fs::read_to_string(results.join("logs/daemon-half-run2.log")).unwrap_or_default());
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
