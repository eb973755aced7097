//! `bench compare` of two real `bench run` results on the tiny guest: the same kernel
//! twice, as a CI job comparing a kernel with itself would.

mod common;
use common::*;

const SCENARIO: &str = r#"
runs = 3
warmup = 1
jobs = ["half", "optimal"]

[[variant]]
name = "baseline"

[workload]
kind = "command"
command = "for w in $(seq {jobs}); do (for i in $(seq 100); do /bin/true; done) & done; wait"
"#;

#[test]
fn two_real_runs_compare_row_by_row_with_an_exit_code_matching_the_verdict() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "same", SCENARIO);
    let mut results = Vec::new();
    for side in ["old", "new"] {
        let root = dir.path().join(side);
        let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        results.push(results_dir(&root, "same"));
    }
    let (old, new) = (results[0].to_str().unwrap(), results[1].to_str().unwrap());

    let out = bench(&["compare", old, new, "--metric", "elapsed,sys"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let regression = text.contains("(REGRESSION)");
    assert_eq!(out.status.code(), Some(if regression { 1 } else { 0 }), "{}", describe(&out));
    for row in ["baseline  half -j 1", "baseline  optimal -j 2"] {
        assert_eq!(text.matches(row).count(), 2, "{row} once per metric: {}", describe(&out));
    }
    assert!(text.contains("6 successful runs, 0 failed"), "{}", describe(&out));
    // Same host, same QEMU, same guest: nothing to warn about.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{}", describe(&out));

    let json = bench(&["compare", old, new, "--metric", "elapsed,sys", "--format", "json"]);
    assert_eq!(json.status.code(), out.status.code(), "{}", describe(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2 * 2, "{report}");
    assert_eq!(report["regressions"].as_u64().unwrap() > 0, regression);
    for entry in entries {
        assert!(["elapsed", "sys"].contains(&entry["metric"].as_str().unwrap()), "{entry}");
        assert_eq!(entry["base_variant"], "baseline");
        assert_eq!(entry["comparison"]["base"]["n"], 3);
        assert_eq!(entry["comparison"]["new"]["n"], 3);
        assert!(entry["comparison"]["p_value"].is_number() || entry["comparison"]["p_value"].is_null(), "{entry}");
        assert!(entry["verdict"].is_string() && entry["regression"].is_boolean(), "{entry}");
    }
    assert_eq!(report["base"]["kernels"], report["new"]["kernels"]);
    assert_eq!(report["base"]["accel"], report["new"]["accel"]);
    assert_no_qemu_left(dir.path());
}
