//! What `cargo install --path .` and a packager get: a `bench` that finds its agent from
//! anywhere, shell completions and manual pages generated from the command line's
//! definitions.

mod common;
use common::{describe, guest_lock, repo};
use std::process::Command;

fn bench_at(exe: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(exe).args(args).env_remove("KBENCH_AGENT").output().expect("run bench")
}

fn bench(args: &[&str]) -> std::process::Output {
    bench_at(std::path::Path::new(env!("CARGO_BIN_EXE_bench")), args)
}

/// Installs with cargo itself (into a private root and target folder: the test's own
/// cargo holds the workspace's) and runs the installed `bench` from elsewhere, without
/// KBENCH_AGENT: it must find the agent the checkout built.
#[test]
fn cargo_install_gives_a_bench_that_finds_its_agent() {
    let _guard = guest_lock(); // builds the agent and the tiny guest `check` looks at
    let root = tempfile::tempdir().unwrap();
    let target = repo().join("target/install-test");
    let out = Command::new(env!("CARGO"))
        .args(["install", "--path"])
        .arg(repo())
        .args(["--debug", "--locked", "--offline", "--bin", "bench", "--root"])
        .arg(root.path())
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo install");
    assert!(out.status.success(), "cargo install failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let installed = root.path().join("bin/bench");
    let scenario = repo().join("scenarios/tiny.toml");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(&installed)
        .args(["check", scenario.to_str().unwrap(), "--results"])
        .arg(elsewhere.path())
        .current_dir(elsewhere.path())
        .env_remove("KBENCH_AGENT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let agent = repo().join("target/x86_64-unknown-linux-gnu/release/bench-agent");
    assert!(stdout.contains(&format!("agent: {}", agent.display())), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn completions_are_valid_scripts_that_know_every_subcommand() {
    let out = bench(&["completions", "bash"]);
    assert!(out.status.success(), "{}", describe(&out));
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(script.path()).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["run", "report", "compare", "history", "check", "--format", "junit"] {
        assert!(text.contains(word), "the bash completion lacks {word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = bench(&["completions", shell]);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("history"), "{shell}: {}", describe(&out));
    }
    let out = bench(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad input");
}

#[test]
fn the_manual_pages_render_without_warnings() {
    let out = bench(&["man"]);
    assert!(out.status.success(), "{}", describe(&out));
    let page = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(page.path(), &out.stdout).unwrap();
    let rendered =
        Command::new("groff").args(["-man", "-Tutf8", "-ww", "-P", "-cbou"]).arg(page.path()).output().expect("groff (Debian: groff-base)");
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(rendered.stderr.is_empty(), "groff warns: {}", String::from_utf8_lossy(&rendered.stderr));
    let text = String::from_utf8_lossy(&rendered.stdout);
    for expected in ["NAME", "SYNOPSIS", "bench-run(1)", "bench-history(1)", "Exit codes (one table for every subcommand):"] {
        assert!(text.contains(expected), "the page lacks {expected}:\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = bench(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    for page in ["bench.1", "bench-run.1", "bench-report.1", "bench-compare.1", "bench-history.1", "bench-check.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a manual page");
    }
}
