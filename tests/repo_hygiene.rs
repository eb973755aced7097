//! What a new user meets before any guest boots: the files the README and the scripts
//! name exist, the README's command blocks build what they use, git ignores what kbench
//! builds and writes, and the scripts find cargo's output where CARGO_TARGET_DIR puts it.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Folders of the repository whose files the documentation names.
const ROOTS: [&str; 6] = ["scenarios/", "scripts/", "docs/", "src/", "assets/", ".ci/"];

/// The documents a user reads or runs.
fn documents() -> Vec<PathBuf> {
    let mut documents = vec![repo().join("README.md"), repo().join("vm-images/README.md"), repo().join("results/README.md")];
    for folder in ["docs", "scripts", "scenarios"] {
        for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // docs/ci/: the ready-made CI jobs name paths too.
                documents.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()));
            } else {
                documents.push(path);
            }
        }
    }
    // Pictures (docs/report-html.png) name no paths.
    documents.retain(|p| p.extension().is_none_or(|e| e != "png"));
    documents
}

/// Every `scenarios/...`, `scripts/...` (and other ROOTS) path in a text, as written.
fn named_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for root in ROOTS {
        for (start, _) in text.match_indices(root) {
            // `../scenarios/x` and `foo/scripts/` are other folders' paths.
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || "/.-_".contains(c)) {
                continue;
            }
            let rest = &text[start..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c))).unwrap_or(rest.len());
            found.push(rest[..end].trim_end_matches('.').to_string());
        }
    }
    found
}

#[test]
fn every_path_the_readme_and_the_scripts_name_exists() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for path in named_paths(&text) {
            checked += 1;
            if !repo().join(&path).exists() {
                missing.push(format!("{}: {path}", document.strip_prefix(repo()).unwrap().display()));
            }
        }
    }
    assert!(checked > 20, "the scan found only {checked} paths");
    assert!(missing.is_empty(), "named but missing:\n{}", missing.join("\n"));
}

#[test]
fn the_path_scan_sees_what_it_must() {
    let text = "run scenarios/kbuild.toml, then `scripts/x.sh`; not ../scenarios/y.toml. See docs/scenario.md.";
    assert_eq!(named_paths(text), ["scenarios/kbuild.toml", "scripts/x.sh", "docs/scenario.md"]);
}

/// Each fenced block of the README that runs a scenario also builds (or has
/// quickstart.sh / test.sh build) the guest images that scenario boots, the agent and bench.
#[test]
fn every_readme_example_that_runs_a_scenario_builds_what_it_needs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks: Vec<&str> = readme.split("```").skip(1).step_by(2).collect();
    let mut runs = 0;
    let mut problems = Vec::new();
    for block in blocks {
        let runs_scenario =
            ["bench run", "bench bump", "bench bisect", "ci-compare-kernels.sh", "time-scenario.sh"].iter().any(|c| block.contains(c));
        let scenarios: Vec<String> =
            named_paths(block).into_iter().filter(|p| p.starts_with("scenarios/") && p.ends_with(".toml")).collect();
        if !runs_scenario || scenarios.is_empty() {
            continue;
        }
        runs += 1;
        let builds = |scripts: &[&str]| scripts.iter().any(|s| block.contains(s));
        let mut needs = vec![
            ("the agent", vec!["scripts/build-agent.sh", "scripts/quickstart.sh"]),
            ("bench", vec!["cargo build --release", "scripts/quickstart.sh"]),
        ];
        for scenario in &scenarios {
            let Ok(text) = std::fs::read_to_string(repo().join(scenario)) else {
                problems.push(format!("{scenario} does not exist:\n{block}"));
                continue;
            };
            if text.contains("vm-images/debian") {
                needs.push(("the Debian image", vec!["scripts/build-debian-image.sh", "scripts/quickstart.sh"]));
            }
            if text.contains("vm-images/tiny") {
                needs.push(("the tiny guest", vec!["scripts/build-tiny-guest.sh"]));
            }
        }
        for (what, scripts) in needs {
            if !builds(&scripts) {
                problems.push(format!("this block runs {scenarios:?} but does not build {what} ({scripts:?}):\n{block}"));
            }
        }
    }
    assert!(runs >= 3, "only {runs} README blocks run a scenario");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn git_ignores_what_kbench_builds_and_writes_and_keeps_the_readmes() {
    let check = |path: &str| {
        let out = Command::new("git").args(["check-ignore", "-q", "--no-index", path]).current_dir(repo()).output().expect("run git");
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!("git check-ignore {path}: {}", describe(&out)),
        }
    };
    for ignored in ["vm-images/debian", "vm-images/custom.qcow2", "results/tiny/20261129-080000/runs.csv", "target/debug/bench"] {
        assert!(check(ignored), "{ignored} is not ignored");
    }
    for kept in ["vm-images/README.md", "results/README.md", "scenarios/tiny.toml", "README.md"] {
        assert!(!check(kept), "{kept} is ignored");
    }
}

/// A stand-in for `bench` that records its arguments (and makes the results folder a
/// `bench run` would), so the scripts' own logic runs without booting anything.
fn fake_bench(target: &Path, log: &Path) {
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{0}'\nif [ \"$1\" = run ]; then mkdir -p \"$4/fake/20261129-080000\"; cp \"$2\" '{0}.scenario'; fi\nexit 0\n",
        log.display()
    );
    let bench = target.join("release/bench");
    std::fs::create_dir_all(bench.parent().unwrap()).unwrap();
    std::fs::write(&bench, script).unwrap();
    Command::new("chmod").arg("+x").arg(&bench).status().unwrap();
}

#[test]
fn the_scripts_run_the_bench_in_cargo_target_dir_even_a_relative_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    fake_bench(&dir.path().join("elsewhere"), &log);

    // Relative to the folder the script is started from, not to the repository.
    let out = Command::new(repo().join("scripts/time-scenario.sh"))
        .args(["scenarios/tiny.toml", "1", dir.path().join("results").to_str().unwrap()])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", "elsewhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(calls, format!("run scenarios/tiny.toml --results {}\n", dir.path().join("results").display()), "{}", describe(&out));

    std::fs::remove_file(&log).unwrap();
    // The kernel-bump script is a wrapper: its arguments become `bench bump`'s.
    let out = Command::new(repo().join("scripts/ci-compare-kernels.sh"))
        .args(["s.toml", "old", "new", "--threshold", "2%"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", "elsewhere")
        .env("RESULTS", "ci")
        .env_remove("BENCH")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(calls, "bump s.toml --old old --new new -o ci --threshold 2%\n", "{}", describe(&out));
}

/// What the agent uses from the kernel, and the option the README must name for it.
#[test]
fn the_readme_names_the_kernel_options_the_agent_relies_on() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut agent = String::new();
    for entry in std::fs::read_dir(repo().join("agent/src")).unwrap() {
        agent += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    // kbench boots every guest with an initramfs holding the agent.
    assert!(std::fs::read_to_string(repo().join("src/backend/initrd.rs")).unwrap().contains("newc"));
    let mut needs = vec!["CONFIG_BLK_DEV_INITRD", "CONFIG_SERIAL_8250"];
    for (used, option) in [
        ("/sys/kernel/slab", "CONFIG_SLUB_DEBUG"),
        ("devtmpfs", "CONFIG_DEVTMPFS"),
        ("\"tmpfs\"", "CONFIG_TMPFS"),
        ("/proc/", "CONFIG_PROC_FS"),
        ("sysfs", "CONFIG_SYSFS"),
        ("/dev/kmsg", "CONFIG_PRINTK"),
    ] {
        if agent.contains(used) {
            needs.push(option);
        }
    }
    assert!(needs.len() >= 6, "the agent's source no longer shows what it mounts: {needs:?}");
    for option in needs {
        assert!(readme.contains(&format!("`{option}`")), "README's kernel requirements lack {option}");
    }
}
