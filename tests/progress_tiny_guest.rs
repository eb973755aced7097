//! Progress without a terminal, on a real tiny guest: `bench run` with its output captured
//! (as in a CI log) prints one line per finished run, with the study's ETA.

mod common;
use common::*;

const STUDY: &str = r#"
runs = 2
warmup = 0
jobs = ["half", "optimal"]

[[variant]]
name = "baseline"

[workload]
kind = "command"
command = "for w in $(seq {jobs}); do (for i in $(seq 20); do /bin/true; done) & done; wait"
"#;

#[test]
fn a_captured_run_prints_a_line_per_finished_run_with_the_eta() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "progress", STUDY);
    let root = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("run ") && l.contains(" finished: ")).collect();
    let expected = [
        "run 1 of 2 finished: baseline half -j 1,",
        "run 1 of 2 finished: baseline optimal -j 2,",
        "run 2 of 2 finished: baseline half -j 1,",
        "run 2 of 2 finished: baseline optimal -j 2,",
    ];
    assert_eq!(lines.len(), expected.len(), "one line per timed run:\n{stderr}");
    let mut found: Vec<&str> = lines.iter().map(|l| &l[..l.find(',').unwrap() + 1]).collect();
    found.sort();
    assert_eq!(found, expected, "{stderr}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!("study: {} of 4 runs, ", i + 1)), "{line}");
        assert!(line.contains(" s, ok; ") && line.contains(" elapsed, ETA "), "{line}");
        assert!(!line.contains("ETA unknown"), "{line}");
    }
    assert!(lines[3].ends_with("ETA 0s"), "nothing left after the last run: {}", lines[3]);
    // No bar drawing reached the log.
    assert!(!stderr.contains('\r') && !stderr.contains("\u{1b}["), "terminal control codes in a captured log");
}
