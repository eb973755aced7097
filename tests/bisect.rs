//! `bench bisect` on the tiny guest. The "kernels" are copies of the tiny kernel, which
//! cost the same: a bisect over them stops at its endpoints. A cost that differs comes from
//! a boot option the workload reads from /proc/cmdline, which `--options` bisects over.

mod common;

use common::*;
use std::path::Path;

fn scenario(dir: &Path) -> std::path::PathBuf {
    let body = "runs = 4\nrounds = 1\nwarmup = 0\njobs = [1]\nmonitor_interval = 0\n\n[[variant]]\nname = \"base\"\n\n[workload]\nkind = \"command\"\n\
                command = \"if grep -q bumpcost=slow /proc/cmdline; then sleep 0.9; else sleep 0.3; fi\"\n";
    tiny_scenario(dir, "bisected", body)
}

#[test]
fn a_bisect_over_boot_options_names_the_one_that_costs_and_a_rerun_repeats_no_step() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let out_dir = dir.path().join("bisect");
    let args = [
        "bisect",
        scenario.to_str().unwrap(),
        "--options",
        "foo.a=1 bumpcost=slow bar.b=1",
        "--threshold",
        "50%",
        "-o",
        out_dir.to_str().unwrap(),
    ];
    let plan = bench(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan_text.contains("2: +bumpcost=slow") && plan_text.contains("at most 3 to go"), "{}", describe(&plan));
    assert!(!out_dir.exists(), "a dry run measures nothing");

    let out = bench(&args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("first bad: 2 (+bumpcost=slow); last good: 1 (+foo.a=1)"), "{}", describe(&out));
    let log = std::fs::read_to_string(out_dir.join("bisect.log")).unwrap();
    let moves: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(moves, ["bad 3 +bar.b=1", "good 1 +foo.a=1", "bad 2 +bumpcost=slow"], "{log}");
    assert!(log.contains("changed, elapsed base -j 1: +") && log.contains("4 runs a side"), "{log}");
    assert!(out_dir.join("report.txt").is_file());

    // Run again: every step is in bisect.log, none is measured again.
    let again = bench(&args);
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("resuming: 3 steps already"), "{}", describe(&again));
    assert_eq!(std::fs::read_dir(out_dir.join("steps")).unwrap().count(), 3, "no new step");
}

#[test]
fn a_bisect_whose_endpoints_do_not_differ_stops_there() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario(dir.path());
    let kernels = dir.path().join("kernels");
    std::fs::create_dir(&kernels).unwrap();
    for name in ["1-good", "2-mid", "3-bad"] {
        std::fs::copy(tiny_kernel(), kernels.join(name)).unwrap();
    }
    let out_dir = dir.path().join("bisect");
    let out = bench(&[
        "bisect",
        scenario.to_str().unwrap(),
        "--kernels",
        kernels.to_str().unwrap(),
        "--threshold",
        "50%",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    // 0: the same; 3 would be the gate's "cannot tell" (not on a 0.3 s sleep at ±50 %).
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3-bad does not differ from"), "{}", describe(&out));
    assert_eq!(std::fs::read_dir(out_dir.join("steps")).unwrap().count(), 1, "only the endpoints were measured");
}

/// The tiny initramfs with one more file, /kbench-slow, in a newc archive appended to it
/// (the kernel unpacks every archive of an initrd): a "kernel" that costs more.
fn slow_initrd(dir: &Path) -> std::path::PathBuf {
    let files = dir.join("marker");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kbench-slow"), "").unwrap();
    let mut cpio = std::process::Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(&files)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cpio");
    std::io::Write::write_all(cpio.stdin.as_mut().unwrap(), b"kbench-slow\n").unwrap();
    let archive = cpio.wait_with_output().unwrap();
    assert!(archive.status.success());
    let mut image = std::fs::read(tiny_initrd()).unwrap();
    image.resize(image.len().next_multiple_of(4), 0);
    image.extend_from_slice(&archive.stdout);
    let path = dir.join("slow-initramfs.cpio");
    std::fs::write(&path, image).unwrap();
    path
}

/// A git tree of four commits and a build command that "builds" each: the tiny kernel
/// with the tiny initramfs up to the second commit, with the costly one from the third on.
fn commits_and_build(dir: &Path, slow: &Path) -> (std::path::PathBuf, Vec<String>, String) {
    let tree = dir.join("linux");
    std::fs::create_dir(&tree).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&tree)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    let mut commits = Vec::new();
    for (i, cost) in ["fast", "fast", "slow", "slow"].iter().enumerate() {
        std::fs::write(tree.join("cost"), format!("{cost} {i}\n")).unwrap();
        git(&["add", "cost"]);
        git(&["commit", "-q", "-m", &format!("commit {i}")]);
        commits.push(git(&["rev-parse", "HEAD"]));
    }
    let script = dir.join("build.sh");
    let body = format!(
        "git checkout -q \"$1\" && echo \"built $1\" >&2 && if grep -q slow cost; then echo {k},{slow}; else echo {k},{fast}; fi\n",
        k = tiny_kernel().display(),
        slow = slow.display(),
        fast = tiny_initrd().display()
    );
    std::fs::write(&script, body).unwrap();
    (tree, commits, format!("sh {} {{rev}}", script.display()))
}

#[test]
fn a_bisect_over_built_commits_names_the_first_whose_initrd_costs_more() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 4\nrounds = 1\nwarmup = 0\njobs = [1]\nmonitor_interval = 0\n\n[[variant]]\nname = \"base\"\n\n[workload]\nkind = \"command\"\n\
                command = \"if [ -e /kbench-slow ]; then sleep 0.9; else sleep 0.3; fi\"\n";
    let scenario = tiny_scenario(dir.path(), "bisected", body);
    let slow = slow_initrd(dir.path());
    let (tree, commits, build) = commits_and_build(dir.path(), &slow);
    let out_dir = dir.path().join("bisect");
    let revs = format!("{}..{}", commits[0], commits[3]);
    let args =
        ["bisect", scenario.to_str().unwrap(), "--threshold", "50%", "-o", out_dir.to_str().unwrap(), "--revs", &revs, "--build", &build];
    let in_tree = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bench")).args(args).env("KBENCH_AGENT", agent()).current_dir(&tree).output().unwrap()
    };
    let plan = in_tree(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(plan.status.code(), Some(0), "{}", describe(&plan));
    let listed: Vec<&str> = commits.iter().map(String::as_str).collect();
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    for (i, commit) in listed.iter().enumerate() {
        assert!(plan_text.contains(&format!("  {i}: {commit}")), "the commits oldest first: {plan_text}");
    }
    assert!(!out_dir.exists(), "a dry run builds and measures nothing");

    let out = in_tree(&args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("first bad: 2 ({})", commits[2])), "{}", describe(&out));
    let log = std::fs::read_to_string(out_dir.join("bisect.log")).unwrap();
    let moves: Vec<String> =
        log.lines().filter(|l| !l.starts_with('#')).map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(moves, ["bad 3", "good 1", "bad 2"], "{log}");
    // Each commit the search visited was built once, its kernel copied beside its log.
    for i in [0, 1, 2, 3] {
        let built = out_dir.join("kernels").join(&commits[i]);
        assert!(built.join("kernel").is_file() && built.join("build.log").is_file(), "commit {i} was visited and built");
    }
}
