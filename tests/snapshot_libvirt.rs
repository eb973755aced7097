//! `reuse = "snapshot"` through a real libvirt daemon (issue 21): guests saved by
//! virDomainSave into the lab host's pool and restored from there, and what a kill -9
//! during a restore leaves (a restored domain is not auto-destroyed) until the next run.
//! Needs root (qemu:///system).

mod common;
use common::libvirt::*;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Three variants, four rounds: every round after the first restores.
const THREE_BY_FOUR: &str = r#"
runs = 4
rounds = 4
warmup = 1
jobs = ["half"]
reuse = "snapshot"
[[variant]]
name = "a"
[[variant]]
name = "b"
cmdline = "slub_debug=P"
[[variant]]
name = "c"
cmdline = "init_on_free=1"
[workload]
kind = "command"
prepare = "echo prepared > /tmp/prepared"
command = "cat /tmp/prepared; for i in $(seq 20); do /bin/true; done"
"#;

/// The tiny-guest scenario run through libvirt.
fn libvirt_scenario(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = tiny_scenario(dir, name, body);
    // [guest] is the file's last table.
    let text = std::fs::read_to_string(&path).unwrap() + "backend = \"libvirt\"\n";
    std::fs::write(&path, text).unwrap();
    path
}

/// The volumes of the kbench pool a bench of pid `pid` saved or wrote guests into.
fn state_volumes_of(pid: u32) -> Vec<String> {
    pool_volumes()
        .into_iter()
        .filter(|n| (n.starts_with("kbench-state-") || n.starts_with("kbench-work-")) && n.contains(&format!("-{pid}-")))
        .collect()
}

#[test]
fn a_libvirt_snapshot_study_boots_each_variant_once_and_restores_it_in_every_later_round() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = libvirt_scenario(dir.path(), "lvsnap", THREE_BY_FOUR);
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "lvsnap");
    let rows = read_rows(&results.join("runs.csv"));
    let mut keys: Vec<(String, String, String)> =
        rows.iter().map(|r| (r["variant"].clone(), r["run"].clone(), r["status"].clone())).collect();
    keys.sort();
    let expected: Vec<(String, String, String)> =
        ["a", "b", "c"].iter().flat_map(|v| (1..=4).map(move |run| (v.to_string(), run.to_string(), "ok".to_string()))).collect();
    assert_eq!(keys, expected, "the rows a booted study writes");
    for variant in ["a", "b", "c"] {
        let starts: Vec<&str> = rows.iter().filter(|r| r["variant"] == variant).map(|r| r["start"].as_str()).collect();
        assert_eq!(starts.iter().filter(|s| **s == "boot").count(), 1, "{variant}: {starts:?}");
        assert_eq!(starts.iter().filter(|s| **s == "restore").count(), 3, "{variant}: {starts:?}");
    }
    // A restore of the wrong variant's guest would show the other command line.
    assert!(rows.iter().filter(|r| r["variant"] == "b").all(|r| r["cmdline"].contains("slub_debug=P")));
    assert!(rows.iter().filter(|r| r["variant"] == "c").all(|r| r["cmdline"].contains("init_on_free=1")));
    assert!(rows.iter().filter(|r| r["variant"] == "a").all(|r| !r["cmdline"].contains("slub_debug")));
    for row in &rows {
        let log = std::fs::read_to_string(results.join(format!("logs/{}-half-run{}.log", row["variant"], row["run"]))).unwrap();
        assert!(log.starts_with("prepared"), "{}: the restored guest lost its prepare's file: {log}", row["run"]);
    }
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    let budget = &meta["time_budget"];
    assert_eq!(budget["restores"], 9, "{budget}");
    assert!(budget["state_bytes"].as_u64().unwrap() > 1_000_000, "{budget}");
    for boot in 2..=4 {
        let console = std::fs::read_to_string(results.join(format!("console/c-boot{boot}.log"))).unwrap();
        assert!(console.contains("kbench-agent: restored: new key, clock set, entropy credited"), "boot {boot}:\n{console}");
    }
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
    assert!(state_volumes_of(pid).is_empty(), "state files left on the host: {:?}", state_volumes_of(pid));
    assert!(!results.join(".scratch").exists());
}

#[test]
fn a_kill_9_during_a_libvirt_restore_leaves_nothing_after_the_next_run() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 2\nrounds = 2\nwarmup = 0\njobs = [\"half\"]\nreuse = \"snapshot\"\n[[variant]]\nname = \"long\"\n[workload]\nkind = \"command\"\ncommand = \"sleep 1\"\n";
    let scenario = libvirt_scenario(dir.path(), "lvkilled", body);
    let root = dir.path().join("results");
    let mut child = spawn_run(&scenario, &root);
    let pid = child.id();
    // The restore of round 2 opens the second console once its domain is there.
    let deadline = Instant::now() + Duration::from_secs(300);
    let results = loop {
        let found = root.join("lvkilled").is_dir().then(|| results_dir(&root, "lvkilled"));
        if let Some(folder) = found.filter(|f| f.join("console/long-boot2.log").exists()) {
            break folder;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("bench ended ({status}) before the restore");
        }
        assert!(Instant::now() < deadline, "no restore within 300 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    // What makes this test: libvirt does not destroy a restored domain with its connection.
    assert!(!domains_of(pid).is_empty(), "the restored domain outlived bench, as libvirt lets it");
    assert!(!state_volumes_of(pid).is_empty(), "the state file outlived bench");

    let resumed = bench(&["run", "--resume", results.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(0), "{}", describe(&resumed));
    let text = String::from_utf8_lossy(&resumed.stderr).to_string() + &String::from_utf8_lossy(&resumed.stdout);
    assert!(text.contains("removed what a killed bench left on qemu:///system"), "{text}");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.iter().map(|r| r["status"].as_str()).collect::<Vec<_>>(), ["ok", "ok"]);
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
    assert!(state_volumes_of(pid).is_empty(), "state files left: {:?}", state_volumes_of(pid));
    assert!(!results.join(".scratch").exists());
}

/// A guest with a disk through libvirt: it runs on an overlay volume over the uploaded
/// image (libvirt cannot save a `<transient/>` disk); the prepare's writes are in every
/// restore, and no restore sees another's writes.
#[test]
fn a_restored_libvirt_debian_guest_finds_its_prepares_writes_and_no_other_runs() {
    let _guard = debian_guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
runs = 3
rounds = 3
warmup = 0
jobs = ["half"]
reuse = "snapshot"
[[variant]]
name = "deb"
[workload]
kind = "command"
prepare = "echo prepared > /root/kbench-prepared && sync"
command = "cat /root/kbench-prepared; ls /root | grep -c kbench-run-; touch /root/kbench-run-$(cat /proc/sys/kernel/random/uuid); sync"
[guest.root]
options = "rw"
"#;
    let scenario = debian_scenario(dir.path(), "lvdeb", body);
    let text = std::fs::read_to_string(&scenario).unwrap() + "backend = \"libvirt\"\n";
    std::fs::write(&scenario, text).unwrap();
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "lvdeb");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.iter().map(|r| r["start"].as_str()).collect::<Vec<_>>(), ["boot", "restore", "restore"]);
    for run in 1..=3 {
        let log = std::fs::read_to_string(results.join(format!("logs/deb-half-run{run}.log"))).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[..2], ["prepared", "0"], "run {run}: the prepare's file, and no run's but its own: {log}");
    }
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
    assert!(state_volumes_of(pid).is_empty(), "overlays or states left: {:?}", state_volumes_of(pid));
}
