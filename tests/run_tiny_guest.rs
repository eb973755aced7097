//! `bench run` end to end on real guests: Debian's stock kernel in a busybox initramfs,
//! booted under QEMU (TCG here, KVM on lab machines), with and without slub_debug=P.

mod common;
use common::*;

const FORK_LOOP: &str = r#"
runs = 2
rounds = 2
order = "alternate"
warmup = 1
jobs = ["half", "optimal"]

[[variant]]
name = "baseline"

[[variant]]
name = "poison"
cmdline = "slub_debug=P"

[workload]
kind = "command"
command = "for w in $(seq {jobs}); do (for i in $(seq 100); do /bin/true; done) & done; wait"
"#;

#[test]
fn two_variants_are_measured_in_their_own_guests_and_every_run_lands_in_runs_csv() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "forks", FORK_LOOP);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "forks");

    // Every planned run is a row, measured and sane.
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 2 * 2 * 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row:?}");
        assert_eq!(row["exit_code"], "0");
        assert!(num(row, "elapsed_s") > 0.0, "{row:?}");
        assert!(num(row, "user_s") + num(row, "sys_s") > 0.0, "{row:?}");
        assert!(num(row, "sleeps") > 0.0, "each run forks and waits: {row:?}");
        let percent = (num(row, "user_s") + num(row, "sys_s")) / num(row, "elapsed_s") * 100.0;
        assert!((num(row, "percent_cpu") - percent).abs() < 0.01, "{row:?}");
        assert_eq!(row["kernel_release"], rows[0]["kernel_release"]);
        assert!(!row["kernel_release"].is_empty());
    }
    assert!(rows.iter().any(|r| num(r, "ctx_switches") > 0.0), "involuntary switches are counted");
    // Two rounds, the second in reverse order, so that drift does not favour a variant.
    let order: Vec<String> = rows.iter().map(|r| format!("{}-{}{}", r["variant"], r["jobs_label"], r["run"])).collect();
    assert_eq!(
        order,
        [
            "baseline-half1",
            "baseline-optimal1",
            "poison-half1",
            "poison-optimal1",
            "poison-half2",
            "poison-optimal2",
            "baseline-half2",
            "baseline-optimal2"
        ]
    );
    assert!(results.join("console/baseline-boot2.log").is_file());
    let jobs: Vec<(&str, &str)> = rows.iter().map(|r| (r["jobs_label"].as_str(), r["jobs"].as_str())).collect();
    assert!(jobs.contains(&("half", "1")) && jobs.contains(&("optimal", "2")), "{jobs:?}");

    // Each guest booted with its own command line, and poisoning is on only with P.
    for row in &rows {
        let has_p = row["cmdline"].split_whitespace().any(|o| o == "slub_debug=P");
        assert_eq!(has_p, row["variant"] == "poison", "{row:?}");
    }
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    for variant in meta["variants"].as_array().unwrap() {
        let poison = &variant["boot"]["slab"]["kmalloc_64"];
        assert_eq!(poison.as_bool(), Some(variant["name"] == "poison"), "{variant}");
    }
    assert_eq!(meta["hypervisor"]["backend"], "qemu");
    assert!(["kvm", "tcg"].contains(&meta["hypervisor"]["accel"].as_str().unwrap()));
    assert_eq!(meta["variants"][0]["kernel"]["sha256"].as_str().unwrap().len(), 64);
    assert!(results.join("scenario.toml").is_file());
    assert!(std::fs::read_to_string(results.join("console/poison-boot1.log")).unwrap().contains("kbench-agent: step"));

    // The printed kernbench blocks are the rows' means and sample SDs.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let kernbench = std::fs::read_to_string(results.join("kernbench.txt")).unwrap();
    assert!(stdout.starts_with(&kernbench), "kernbench.txt:\n{kernbench}\nstdout:\n{stdout}");
    for (variant, label, title) in [("baseline", "half", "Half load -j 1"), ("poison", "optimal", "Optimal load -j 2")] {
        let elapsed: Vec<f64> =
            rows.iter().filter(|r| r["variant"] == variant && r["jobs_label"] == label).map(|r| num(r, "elapsed_s")).collect();
        let mean = elapsed.iter().sum::<f64>() / elapsed.len() as f64;
        let sd = ((elapsed[0] - mean).powi(2) + (elapsed[1] - mean).powi(2)).sqrt(); // n - 1 = 1
        let (printed_mean, printed_sd) = printed_elapsed(&stdout, variant, title);
        assert!((printed_mean - mean).abs() <= 1e-5 * mean.max(1.0), "{printed_mean} vs {mean}");
        assert!((printed_sd - sd).abs() <= 1e-5 * sd.max(1.0), "{printed_sd} vs {sd}");
    }
    assert!(stdout.contains("poison against baseline"), "{stdout}");

    // The end of the run wrote every report from the same runs.
    for file in ["report.md", "report.json", "summary.csv", "plots/half-j1-means.png", "plots/optimal-j2-change.svg"] {
        assert!(results.join(file).is_file(), "{file} is missing");
    }
    let summary = read_rows(&results.join("summary.csv"));
    // kernbench's six and max RSS, two fault counts, eleven from the monitors (on by default).
    assert_eq!(summary.len(), 2 * 2 * 20, "levels × variants × metrics");
    let elapsed = summary.iter().find(|r| r["variant"] == "baseline" && r["jobs_label"] == "half" && r["metric"] == "elapsed").unwrap();
    let (printed_mean, _) = printed_elapsed(&stdout, "baseline", "Half load -j 1");
    assert!((num(elapsed, "mean") - printed_mean).abs() <= 1e-5 * printed_mean.max(1.0), "{elapsed:?}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["facts"]["accel"], meta["hypervisor"]["accel"]);
    let md = std::fs::read_to_string(results.join("report.md")).unwrap();
    assert!(md.contains("slub_debug=P") && md.contains("| poison |"), "{md}");
    assert_no_qemu_left(dir.path());
}

/// "Elapsed Time M (SD)" from the block of `title` under the `variant` header.
fn printed_elapsed(stdout: &str, variant: &str, title: &str) -> (f64, f64) {
    let section = &stdout[stdout.find(&format!("{variant} (")).expect("variant header")..];
    let block = &section[section.find(&format!("Average {title} Run (std deviation):")).expect("block")..];
    let line = block.lines().find(|l| l.starts_with("Elapsed Time ")).unwrap();
    let rest = line.trim_start_matches("Elapsed Time ");
    let (mean, sd) = rest.split_once(" (").unwrap();
    (mean.parse().unwrap(), sd.trim_end_matches(')').parse().unwrap())
}

#[test]
fn a_run_whose_command_fails_is_recorded_as_failed_never_averaged_and_fails_the_study() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
runs = 1
warmup = 0
jobs = ["half", "optimal"]
[[variant]]
name = "only"
[workload]
kind = "command"
command = "echo building with {jobs}; test {jobs} -ne 2"
"#;
    let scenario = tiny_scenario(dir.path(), "fails", body);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let results = results_dir(&root, "fails");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 2);
    let failed = rows.iter().find(|r| r["jobs_label"] == "optimal").unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["exit_code"], "1");
    assert!(failed["failure"].contains("exit status 1"), "{failed:?}");
    assert_eq!(rows.iter().find(|r| r["jobs_label"] == "half").unwrap()["status"], "ok");
    // The failed level has no block; the output of the failed run is kept.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Average Half load -j 1 Run"), "{stdout}");
    assert!(!stdout.contains("Average Optimal load"), "{stdout}");
    let log = std::fs::read_to_string(results.join("logs/only-optimal-run1.log")).unwrap();
    assert_eq!(log, "building with 2\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed: only optimal -j 2 run 1"), "{}", describe(&out));
    // The report counts the failed run and averages nothing for its level.
    let summary = read_rows(&results.join("summary.csv"));
    let optimal = summary.iter().find(|r| r["jobs_label"] == "optimal" && r["metric"] == "elapsed").unwrap();
    assert_eq!((optimal["n"].as_str(), optimal["failed"].as_str(), optimal["mean"].as_str()), ("0", "1", ""), "{optimal:?}");
    assert_no_qemu_left(dir.path());
}

#[test]
fn the_guests_kernel_log_is_kept_per_boot_at_every_level() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // A mapping beyond RLIMIT_DATA makes the kernel itself warn at level 4, which `quiet`
    // keeps off the console; the step cannot write to the kernel log itself.
    let body = r#"
runs = 1
warmup = 0
jobs = ["half"]
[[variant]]
name = "only"
[workload]
kind = "command"
command = "sh -c 'ulimit -d 2000; dd if=/dev/zero of=/dev/null bs=8M count=1'; echo '<3>kbench-marker from user space' > /dev/kmsg; true"
"#;
    let scenario = tiny_scenario(dir.path(), "kmsg", body);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "kmsg");
    let log = std::fs::read_to_string(results.join("kmsg/only-boot1.log")).unwrap();
    let has = |prefix: &str, text: &str| log.lines().any(|l| l.starts_with(prefix) && l.contains(text));
    assert!(has("<5>[    0.000000] ", "Linux version"), "the boot's records come first:\n{log}");
    assert!(has("<4>[", "exceed data ulimit"), "the step's records follow:\n{log}");
    assert!(!log.contains("kbench-marker"), "a step cannot write into the kernel log:\n{log}");
    let console = std::fs::read_to_string(results.join("console/only-boot1.log")).unwrap();
    assert!(!console.contains("exceed data ulimit"), "the console had it already:\n{console}");
    assert_no_qemu_left(dir.path());
}
