//! A study spread over two lab hosts, written here by hand (runs.csv with its `host`
//! column, meta.json with its `hosts`): `bench report` must report each host on its own and
//! pool the hosts' changes; `bench compare` must match rows by host, gate on the pooled
//! change and treat a host missing in the new side as a regression. No guest needed.

mod common;
use common::{bench, describe};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const HEADER: &str = "schema_version,host,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,\
ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at";

/// lab1: the kernbench figures of ../shared/REFERENCE.md (+9.78 %); lab2 a machine twice
/// as fast where poisoning costs +10.43 %.
const OFF1: [f64; 5] = [40.61, 40.32, 40.95, 40.48, 40.71];
const POISON1: [f64; 5] = [44.20, 43.10, 46.90, 44.50, 44.23];
const OFF2: [f64; 5] = [20.30, 20.20, 20.50, 20.25, 20.35];
const POISON2: [f64; 5] = [22.40, 22.10, 22.90, 22.50, 22.30];

/// (host, variant, elapsed times) → runs.csv, numbered per host, variant and level.
fn runs_csv(blocks: &[(&str, &str, Vec<f64>)]) -> String {
    let mut text = format!("{HEADER}\n");
    for (host, variant, elapsed) in blocks {
        for (i, e) in elapsed.iter().enumerate() {
            let user = e * 1.6;
            let sys = e / 8.0;
            let cpu = (user + sys) / e * 100.0;
            text += &format!(
                "1,{host},{variant},half,2,{},ok,{e},{user},{sys},{cpu},100,200,5000,0,,6.1.0,console=ttyS0 quiet,2026-11-29T08:00:00Z\n",
                i + 1
            );
        }
    }
    text
}

fn meta(hosts: Value) -> Value {
    json!({
        "schema_version": 1, "kbench_version": "0.1.0", "scenario": "slub-lab",
        "started_at": "2026-11-29T08:00:00Z", "finished_at": "2026-11-29T09:00:00Z",
        "host": { "cpu_model": "Controller CPU", "cpus": 2, "memory_mib": 4096, "kernel": "6.1.0" },
        "hypervisor": { "backend": "libvirt", "version": "libvirt 9.0.0", "accel": "kvm" },
        "guest": { "cpus": 4, "memory_mib": 1024, "disk": null },
        "workload": { "kind": "command", "command": "make -j {jobs}", "prepare": null, "clean": "make clean" },
        "runs": 5, "warmup": 1, "levels": [{ "label": "half", "jobs": 2 }],
        "baseline": "off",
        "variants": [
            { "name": "off", "cmdline": "quiet", "kernel": { "path": "k", "sha256": "0" }, "initrd": null, "boot": null },
            { "name": "poison", "cmdline": "quiet slub_debug=P", "kernel": { "path": "k", "sha256": "0" }, "initrd": null, "boot": null }
        ],
        "hosts": hosts
    })
}

fn lab_hosts() -> Value {
    json!([
        { "name": "lab1", "uri": "qemu:///system", "status": "done", "libvirt_version": "9.0.0", "accel": "kvm", "cpus": 8, "memory_mib": 16384 },
        { "name": "lab2", "uri": "qemu+ssh://root@lab2/system", "status": "done", "libvirt_version": "9.0.0", "accel": "kvm", "cpus": 16, "memory_mib": 32768 },
        { "name": "lab3", "uri": "qemu+ssh://root@lab3/system", "status": "unreachable",
          "error": "cannot connect to qemu+ssh://root@lab3/system: Connection refused" }
    ])
}

fn folder(root: &Path, name: &str, csv: &str, meta: &Value) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runs.csv"), csv).unwrap();
    std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(meta).unwrap()).unwrap();
    dir
}

fn study() -> Vec<(&'static str, &'static str, Vec<f64>)> {
    vec![
        ("lab1", "off", OFF1.to_vec()),
        ("lab1", "poison", POISON1.to_vec()),
        ("lab2", "off", OFF2.to_vec()),
        ("lab2", "poison", POISON2.to_vec()),
    ]
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= 1e-7 * expected.abs(), "{actual} is not {expected}");
}

#[test]
fn report_has_a_section_per_host_and_the_pooled_change_across_hosts() {
    let root = tempfile::tempdir().unwrap();
    let dir = folder(root.path(), "study", &runs_csv(&study()), &meta(lab_hosts()));
    let out = bench(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("=== host lab1 (qemu:///system) ==="), "{stdout}");
    assert!(stdout.contains("poison against off across hosts, half"), "{stdout}");

    // Expected, independently (Python's math; t quantile tan(π · 0.475) for 1 df,
    // p = 1 − 2/π · atan|t|): d = ln(mean(POISON_h) / mean(OFF_h)) per host,
    // 100 · expm1(mean d ± 12.706 · sd(d)/√2).
    let report: Value = serde_json::from_str(&read(&dir.join("report.json"))).unwrap();
    let pooled = &report["hosts_analysis"]["pooled"][0]["variants"][0]["metrics"][0];
    assert_eq!(pooled["metric"], "elapsed");
    close(pooled["change_percent"].as_f64().unwrap(), 10.105990489929042);
    close(pooled["change_ci95"]["low"].as_f64().unwrap(), 6.033428443413022);
    close(pooled["change_ci95"]["high"].as_f64().unwrap(), 14.3349726566487);
    close(pooled["p_value"].as_f64().unwrap(), 0.019608137151567173);
    assert_eq!(pooled["verdict"], "higher");
    assert_eq!(pooled["df"], 1.0);
    assert_eq!(report["lab_hosts"][2]["status"], "unreachable");
    // Each host's statistics are its own: lab2's baseline mean is lab2's alone.
    let lab2 = &report["hosts_analysis"]["hosts"][1];
    assert_eq!(lab2["host"], "lab2");
    let lab2_off = &lab2["analysis"]["levels"][0]["variants"][0]["metrics"][0]["summary"];
    close(lab2_off["mean"].as_f64().unwrap(), 20.32);

    let md = read(&dir.join("report.md"));
    for expected in [
        "## Across hosts",
        "## Host lab1",
        "## Host lab2",
        "## Host lab3",
        "cannot connect to qemu+ssh://root@lab3/system: Connection refused",
        "| poison | Elapsed Time | 2 | +10.1 %",
        "lab1 +9.8 %, lab2 +10.4 %",
        "one degree of freedom",
        "hosts/lab1/report.md",
    ] {
        assert!(md.contains(expected), "report.md lacks {expected:?}:\n{md}");
    }
    for file in ["report.md", "report.html", "report.json", "summary.csv", "kernbench.txt"] {
        assert!(dir.join("hosts/lab1").join(file).is_file(), "hosts/lab1/{file}");
        assert!(dir.join("hosts/lab2").join(file).is_file(), "hosts/lab2/{file}");
    }
    assert!(!dir.join("hosts/lab3").exists(), "a host without runs has no report folder");
    let host_md = read(&dir.join("hosts/lab2/report.md"));
    assert!(host_md.contains("+10.4 %"), "lab2's own report has lab2's change:\n{host_md}");
    let html = read(&dir.join("report.html"));
    assert!(html.contains("Across hosts") && html.contains("hosts/lab1/report.html") && html.contains("Connection refused"));

    let mut csv = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..3], ["host", "pooled_hosts", "jobs_label"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let elapsed_rows: Vec<&csv::StringRecord> =
        rows.iter().filter(|r| &r[column("metric")] == "elapsed" && &r[column("variant")] == "poison").collect();
    let hosts: Vec<&str> = elapsed_rows.iter().map(|r| &r[0]).collect();
    assert_eq!(hosts, ["lab1", "lab2", ""], "each host's row, then the pooled one");
    assert_eq!(&elapsed_rows[2][column("pooled_hosts")], "2");
    assert_eq!(&elapsed_rows[2][column("verdict")], "slower");
}

#[test]
fn a_one_host_report_has_no_host_sections() {
    // The same rows without a host column and meta.json without hosts: as before.
    let root = tempfile::tempdir().unwrap();
    let csv = runs_csv(&study()[..2]).replace("1,lab1,", "1,,");
    let mut one = meta(json!([]));
    one.as_object_mut().unwrap().remove("hosts");
    let dir = folder(root.path(), "one", &csv, &one);
    let out = bench(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let md = read(&dir.join("report.md"));
    assert!(!md.contains("Across hosts") && !md.contains("## Host "), "{md}");
    assert!(!dir.join("hosts").exists());
    assert!(read(&dir.join("summary.csv")).starts_with("jobs_label,jobs,variant,"));
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap()];
    args.extend_from_slice(extra);
    bench(&args)
}

fn scaled(values: &[f64], factor: f64) -> Vec<f64> {
    values.iter().map(|v| v * factor).collect()
}

#[test]
fn compare_gates_on_the_pooled_change_and_a_missing_host_is_a_regression() {
    let root = tempfile::tempdir().unwrap();
    let hosts = json!([
        { "name": "lab1", "uri": "qemu:///system", "status": "done", "accel": "kvm" },
        { "name": "lab2", "uri": "qemu+ssh://root@lab2/system", "status": "done", "accel": "kvm" }
    ]);
    let base = folder(root.path(), "base", &runs_csv(&study()), &meta(hosts.clone()));

    // 10 % slower on both hosts: the pooled change gates.
    let slower: Vec<_> = study().into_iter().map(|(h, v, e)| (h, v, scaled(&e, 1.10))).collect();
    let new = folder(root.path(), "slower", &runs_csv(&slower), &meta(hosts.clone()));
    let out = compare(&base, &new, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text.contains("across hosts:"), "{text}");
    assert!(text.contains("REGRESSION: significantly worse across hosts"), "{text}");
    assert!(text.lines().any(|l| l.trim_start().starts_with("lab2") && l.contains("slower")), "per-host rows:\n{text}");

    for (format, expected) in
        [("json", "\"pooled\""), ("markdown", "pooled over 2 of 2 hosts"), ("junit", "across hosts"), ("csv", "host,pooled_hosts,metric")]
    {
        let out = compare(&base, &new, &["--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(expected), "{format} lacks {expected:?}:\n{text}");
    }
    let json: Value = serde_json::from_slice(&compare(&base, &new, &["--format", "json"]).stdout).unwrap();
    assert_eq!(json["entries"][0]["host"], "lab1");
    assert_eq!((json["pooled"][0]["verdict"].as_str(), json["pooled"][0]["gates"].as_bool()), (Some("slower"), Some(true)));
    assert_eq!(json["pooled"][0]["pooled"]["verdict"], "higher");
    assert_eq!(json["pooled"][0]["pooled"]["hosts"][1]["host"], "lab2");

    // The same study again: no regression; lab2 lost KVM since, which is said.
    let mut tcg = hosts.clone();
    tcg[1]["accel"] = json!("tcg");
    let again = folder(root.path(), "again", &runs_csv(&study()), &meta(tcg));
    let out = compare(&base, &again, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: host lab2: accel differs: kvm (base) vs tcg (new)"),
        "{}",
        describe(&out)
    );

    // lab2 did not run in the new study: a hole in the gate, named.
    let only_lab1: Vec<_> = study().into_iter().filter(|(h, _, _)| *h == "lab1").collect();
    let partial = folder(root.path(), "partial", &runs_csv(&only_lab1), &meta(hosts));
    let out = compare(&base, &partial, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(text.contains("hosts with successful runs in base and none in new: lab2"), "{text}");
    assert!(text.contains("REGRESSION host lab2: off half (-j 2): 5 successful runs in base, not run in new"), "{text}");

    // One machine against several hosts: refused as bad input, with the reason.
    let one = folder(root.path(), "one", &runs_csv(&study()[..2]).replace("1,lab1,", "1,,"), &meta(json!([])));
    let out = compare(&one, &base, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ran on one machine (no host column)"), "{}", describe(&out));
}

#[test]
fn history_follows_each_host_in_its_own_series() {
    let root = tempfile::tempdir().unwrap();
    let hosts = json!([{ "name": "lab1", "uri": "qemu:///system", "status": "done" }, { "name": "lab2", "uri": "qemu+ssh://root@lab2/system", "status": "done" }]);
    let first = folder(root.path(), "first", &runs_csv(&study()), &meta(hosts.clone()));
    let slower: Vec<_> = study().into_iter().map(|(h, v, e)| (h, v, scaled(&e, if h == "lab2" { 1.10 } else { 1.0 }))).collect();
    let second = folder(root.path(), "second", &runs_csv(&slower), &meta(hosts));
    let out = bench(&["history", first.to_str().unwrap(), second.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1), "lab2 got slower: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("host,variant,"), "{text}");
    let lab1_second = text.lines().find(|l| l.starts_with("lab1,off,half,2,elapsed,s,2,")).unwrap();
    assert!(lab1_second.contains("same"), "{text}");
    let lab2_second = text.lines().find(|l| l.starts_with("lab2,off,half,2,elapsed,s,2,")).unwrap();
    assert!(lab2_second.contains("slower"), "{text}");
}
