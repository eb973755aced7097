//! One study over several `[[host]]`s through a real libvirt daemon: host "local" is
//! this machine's qemu:///system, host "ssh" the same daemon reached through an sshd the
//! test starts on loopback. Needs root. Loopback only.

mod common;
use common::libvirt::*;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// 2 variants × 3 runs × 1 level in 2 rounds: each host boots a, b, then b, a.
const STUDY: &str = r#"
runs = 3
rounds = 2
warmup = 0
order = "alternate"
jobs = [1]

[[variant]]
name = "a"

[[variant]]
name = "b"
cmdline = "slub_debug=P"

[workload]
kind = "command"
command = "/bin/true"
"#;

/// The tiny-guest scenario with `[[host]]` entries after it. Each host's guest gets one
/// vCPU (`cpus` overrides guest.cpus = 2): two hosts' guests at once on a 2-core machine.
fn scenario(dir: &Path, name: &str, body: &str, hosts: &[(&str, &str)]) -> PathBuf {
    let path = tiny_scenario(dir, name, body);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (host, uri) in hosts {
        text.push_str(&format!("\n[[host]]\nname = \"{host}\"\nuri = \"{uri}\"\ncpus = 1\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn meta(results: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap()
}

/// The host's entry in meta.json's `hosts`.
fn host_entry<'m>(meta: &'m serde_json::Value, name: &str) -> &'m serde_json::Value {
    meta["hosts"].as_array().unwrap().iter().find(|h| h["name"] == name).unwrap_or_else(|| panic!("no host {name} in {meta}"))
}

/// (variant, run) of a host's ok rows.
fn runs_of(rows: &[Row], host: &str) -> BTreeSet<(String, String)> {
    rows.iter().filter(|r| r["host"] == host && r["status"] == "ok").map(|r| (r["variant"].clone(), r["run"].clone())).collect()
}

fn every_run() -> BTreeSet<(String, String)> {
    ["a", "b"].iter().flat_map(|v| (1..=3).map(move |run| (v.to_string(), run.to_string()))).collect()
}

/// The boots of a host in the order its rows were filed: (variant, boot).
fn boots_of(rows: &[Row], host: &str) -> Vec<(String, String)> {
    let mut boots: Vec<(String, String)> = Vec::new();
    for row in rows.iter().filter(|r| r["host"] == host) {
        let boot = (row["variant"].clone(), row["boot"].clone());
        if boots.last() != Some(&boot) {
            boots.push(boot);
        }
    }
    boots
}

#[test]
fn two_hosts_each_run_the_whole_study_at_once() {
    let _guard = guest_lock();
    libvirtd();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let ssh_uri = format!("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&no_verify=1&no_tty=1", sshd.port, sshd.user_key.display());
    let scenario = scenario(dir.path(), "two", STUDY, &[("local", SYSTEM), ("ssh", &ssh_uri)]);
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "two");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 2 * 2 * 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["host"] == "local" || r["host"] == "ssh"), "every row carries its host: {rows:?}");
    for host in ["local", "ssh"] {
        // The whole study on each host, in the plan's order: round 1 a b, round 2 b a.
        assert_eq!(runs_of(&rows, host), every_run(), "host {host}: {rows:?}");
        let expected: Vec<(String, String)> = [("a", "1"), ("b", "1"), ("b", "2"), ("a", "2")].map(|(v, b)| (v.into(), b.into())).to_vec();
        assert_eq!(boots_of(&rows, host), expected, "host {host}'s boots");
        for variant in ["a", "b"] {
            let console = std::fs::read_to_string(results.join(format!("console/{host}/{variant}-boot1.log"))).unwrap();
            assert!(console.contains("kbench-agent: step"), "console of {host} {variant}:\n{console}");
        }
    }
    assert!(!results.join("console/a-boot1.log").exists(), "a host's consoles are in its own folder");
    // The hosts ran at once: each began before the other ended.
    let span = |host: &str| {
        let times: Vec<&String> = rows.iter().filter(|r| r["host"] == host).map(|r| &r["started_at"]).collect();
        (times.iter().min().unwrap().to_string(), times.iter().max().unwrap().to_string())
    };
    let (local, ssh) = (span("local"), span("ssh"));
    assert!(local.0 <= ssh.1 && ssh.0 <= local.1, "the hosts ran one after the other: local {local:?}, ssh {ssh:?}");

    let meta = meta(&results);
    let cpus = std::thread::available_parallelism().unwrap().get() as u64;
    for (host, uri) in [("local", SYSTEM), ("ssh", ssh_uri.as_str())] {
        let entry = host_entry(&meta, host);
        assert_eq!(entry["status"], "done", "{entry}");
        assert_eq!(entry["uri"], uri, "{entry}");
        assert_eq!(entry["error"], "", "{entry}");
        assert_eq!(entry["accel"], "tcg", "no KVM here: {entry}");
        assert_eq!(entry["cpus"].as_u64(), Some(cpus), "{entry}");
        assert!(entry["memory_mib"].as_u64().unwrap() > 0 && entry["libvirt_version"].as_str().unwrap().contains('.'), "{entry}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("finished on ssh: ") && stderr.contains("finished on local: "), "progress names the host:\n{stderr}");
    // The report: a section per host, and the change pooled over both (3 runs a side each).
    let report = std::fs::read_to_string(results.join("report.md")).unwrap();
    for expected in ["## Hosts\n", "## Across hosts\n", "| b | Elapsed Time | 2 |", "## Host local\n", "## Host ssh\n"] {
        assert!(report.contains(expected), "report.md lacks {expected:?}:\n{report}");
    }
    for host in ["local", "ssh"] {
        let own = std::fs::read_to_string(results.join(format!("hosts/{host}/report.md"))).unwrap();
        assert!(own.contains("Elapsed Time"), "hosts/{host}/report.md:\n{own}");
    }
    assert!(sshd.log().contains("Accepted publickey for root"), "host ssh did not come through ssh:\n{}", sshd.log());
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
}

#[test]
fn an_unreachable_host_is_reported_while_the_other_runs_and_resume_runs_it_later() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    // Host "late": an sshd that is not running yet, on a loopback port nothing listens on.
    let late = SshdConfig::new();
    let late_uri = late.uri();
    let body = STUDY.replace("runs = 3\nrounds = 2", "runs = 2\nrounds = 1");
    let scenario = scenario(dir.path(), "late", &body, &[("local", SYSTEM), ("late", &late_uri)]);
    let root = dir.path().join("results");

    let out = bench(&["check", scenario.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("ok       host local ({SYSTEM}): libvirt: {SYSTEM}: libvirt ")), "{stdout}");
    assert!(stdout.contains(&format!("PROBLEM  host late ({late_uri}): libvirt: cannot connect to libvirt at {late_uri}")), "{stdout}");

    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "an incomplete study: {}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: host late is unreachable: ") && stderr.contains("the other hosts go on"), "{stderr}");
    let results = results_dir(&root, "late");
    let rows = read_rows(&results.join("runs.csv"));
    let expected: BTreeSet<(String, String)> =
        ["a", "b"].iter().flat_map(|v| ["1", "2"].map(|run| (v.to_string(), run.to_string()))).collect();
    assert_eq!(runs_of(&rows, "local"), expected, "{rows:?}");
    assert_eq!(rows.len(), 4, "host local's runs and nothing else: {rows:?}");
    let meta_after = meta(&results);
    assert_eq!(host_entry(&meta_after, "local")["status"], "done");
    let unreachable = host_entry(&meta_after, "late");
    assert_eq!(unreachable["status"], "unreachable", "{unreachable}");
    let error = unreachable["error"].as_str().unwrap();
    assert!(error.contains(&format!("cannot connect to libvirt at {late_uri}")) && error.contains("(key `host[1].uri`;"), "{unreachable}");
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));

    // The host comes up: --resume runs its block, and only its block.
    let sshd = late.start();
    let (pid, out) = finish(bench_child(&["run", "--resume", results.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows_after = read_rows(&results.join("runs.csv"));
    assert_eq!(rows_after.len(), 8, "{rows_after:?}");
    assert_eq!(&rows_after[..4], &rows[..], "host local's rows stay as they were");
    assert_eq!(runs_of(&rows_after, "late"), expected, "{rows_after:?}");
    let meta_resumed = meta(&results);
    assert_eq!(host_entry(&meta_resumed, "late")["status"], "done", "{meta_resumed}");
    assert_eq!(host_entry(&meta_resumed, "local")["status"], "done", "{meta_resumed}");
    assert!(sshd.log().contains("Accepted publickey for root"), "{}", sshd.log());
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));

    // Down again: a host whose block is complete is no problem, nothing boots.
    drop(sshd);
    let out = bench(&["run", "--resume", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note: host late is unreachable, but every run of its block is on record"),
        "{}",
        describe(&out)
    );
    assert_eq!(read_rows(&results.join("runs.csv")), rows_after, "nothing was measured again");
    let meta_complete = meta(&results);
    let late_entry = host_entry(&meta_complete, "late");
    assert_eq!(late_entry["status"], "done", "{late_entry}");
    assert!(late_entry["error"].as_str().unwrap().starts_with("unreachable when resumed, its block complete: "), "{late_entry}");
}

#[test]
fn hosts_refuse_what_would_not_run_them() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = [("local", SYSTEM), ("other", "qemu+ssh://root@127.0.0.1:1/system?no_tty=1")];
    let refused = |name: &str, guest_key: &str, extra: &[&str]| {
        let scenario = scenario(dir.path(), name, STUDY, &hosts);
        let text = std::fs::read_to_string(&scenario).unwrap().replace("[guest]\n", &format!("[guest]\n{guest_key}"));
        std::fs::write(&scenario, &text).unwrap();
        let mut args = vec!["check", scenario.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = bench(&args);
        assert_eq!(out.status.code(), Some(2), "{text}\n{}", describe(&out));
        // bench check reports the problem on its PROBLEM line (stdout), bench run on stderr.
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(said.contains(&format!("PROBLEM  scenario: scenario file {}", scenario.display())), "names the file: {said}");
        said
    };
    let qemu = refused("qemu", "", &["--backend", "qemu"]);
    assert!(qemu.contains("key `guest.backend` (or --backend)"), "{qemu}");
    let in_file = refused("qemu-key", "backend = \"qemu\"\n", &[]);
    assert!(in_file.contains("key `guest.backend` (or --backend)"), "{in_file}");
    let uri = refused("uri", "", &["--uri", SYSTEM]);
    assert!(uri.contains("--uri names one host"), "{uri}");
    let in_guest = refused("in-guest", "uri = \"qemu:///system\"\n", &[]);
    assert!(in_guest.contains("key `guest.uri`: with [[host]] entries each host gives its own uri"), "{in_guest}");
}

/// `reuse = "snapshot"` on a pool of two hosts (one daemon, reached two ways, as two
/// hosts of a lab would be): each host saves its own guests and restores them, and
/// neither host's end removes the other's states.
#[test]
fn two_hosts_each_save_and_restore_their_own_guests() {
    let _guard = guest_lock();
    libvirtd();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let ssh_uri = format!("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&no_verify=1&no_tty=1", sshd.port, sshd.user_key.display());
    let body = STUDY
        .replace("rounds = 2", "rounds = 3\nreuse = \"snapshot\"")
        .replace("kind = \"command\"", "kind = \"command\"\nprepare = \"touch /tmp/prepared\"")
        .replace("command = \"/bin/true\"", "command = \"test -e /tmp/prepared\"");
    let scenario = scenario(dir.path(), "saved", &body, &[("local", SYSTEM), ("ssh", &ssh_uri)]);
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "saved");
    let rows = read_rows(&results.join("runs.csv"));
    for host in ["local", "ssh"] {
        assert_eq!(runs_of(&rows, host), every_run(), "host {host}: {rows:?}");
        for variant in ["a", "b"] {
            let starts: Vec<&str> =
                rows.iter().filter(|r| r["host"] == host && r["variant"] == variant).map(|r| r["start"].as_str()).collect();
            assert_eq!(starts, ["restore"; 3], "host {host} variant {variant}");
        }
        let console = std::fs::read_to_string(results.join(format!("console/{host}/b-boot3.log"))).unwrap();
        assert!(console.contains("kbench-agent: restored: new key"), "console of {host} b boot 3:\n{console}");
    }
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
    let left: Vec<String> = pool_volumes().into_iter().filter(|n| n.contains(&format!("-{pid}-"))).collect();
    assert!(left.is_empty(), "state files left on the host: {left:?}");
}
