//! `bench compare` on fixture pairs written here: known differences (a clear regression,
//! a clear improvement, noise only, mismatched workloads and jobs) and the verdicts, stars,
//! warnings and exit codes CI acts on.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEADER: &str = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,\
ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at";

/// kernbench's -j 2 elapsed times without and with slub_debug=P (../shared/REFERENCE.md).
const FAST: [f64; 5] = [40.61, 40.32, 40.95, 40.48, 40.71];
const SLOW: [f64; 5] = [44.20, 43.10, 46.90, 44.50, 44.23];
/// Within the spread of FAST, and tight enough to show it: the same within ± 1 %.
const FAST_AGAIN: [f64; 5] = [40.50, 40.90, 40.41, 40.66, 40.58];
/// A busy host: CoV 7.5 %, +2.4 % whose interval reaches far across ± 1 % either way.
const NOISY_BASE: [f64; 5] = [40.0, 44.0, 38.0, 46.0, 42.0];
const NOISY_NEW: [f64; 5] = [43.0, 39.0, 47.0, 41.0, 45.0];

#[derive(Clone)]
struct Run<'a> {
    variant: &'a str,
    label: &'a str,
    jobs: u32,
    elapsed: f64,
    sys: f64,
    ok: bool,
}

fn runs<'a>(variant: &'a str, label: &'a str, jobs: u32, elapsed: &[f64]) -> Vec<Run<'a>> {
    elapsed.iter().map(|&e| Run { variant, label, jobs, elapsed: e, sys: e / 8.0, ok: true }).collect()
}

fn csv_text(kernel: &str, rows: &[Run]) -> String {
    let mut text = format!("{HEADER}\n");
    for (i, r) in rows.iter().enumerate() {
        // Runs are numbered per variant and level, as bench run numbers them.
        let run = rows[..i].iter().filter(|o| o.variant == r.variant && o.label == r.label).count() + 1;
        let (status, exit, failure) = if r.ok { ("ok", "0", "") } else { ("failed", "1", "exit status 1") };
        let user = r.elapsed * 1.6;
        let cpu = (user + r.sys) / r.elapsed * 100.0;
        text += &format!(
            "1,{},{},{},{},{status},{},{user},{},{cpu},100,200,5000,{exit},{failure},{kernel},console=ttyS0 quiet,2026-11-29T08:00:00Z\n",
            r.variant, r.label, r.jobs, run, r.elapsed, r.sys
        );
    }
    text
}

/// A results folder: runs.csv, and meta.json when `meta` is given.
fn side(dir: &Path, name: &str, kernel: &str, rows: &[Run], meta: Option<Value>) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("runs.csv"), csv_text(kernel, rows)).unwrap();
    if let Some(meta) = meta {
        std::fs::write(folder.join("meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    }
    folder
}

fn meta(accel: &str, command: &str) -> Value {
    json!({
        "schema_version": 1, "kbench_version": "0.1.0", "scenario": "kbuild",
        "scenario_file": "/s/kbuild.toml", "scenario_sha256": "00", "started_at": "2026-11-29T08:00:00Z",
        "finished_at": "2026-11-29T09:00:00Z",
        "host": { "cpu_model": "Example CPU", "cpus": 2, "memory_mib": 4096, "kernel": "6.1.0" },
        "hypervisor": { "backend": "qemu", "version": "QEMU emulator version 7.2.0", "accel": accel },
        "guest": { "cpus": 2, "memory_mib": 1024, "disk": null },
        "workload": { "kind": "command", "command": command, "prepare": null, "clean": "make clean" },
        "runs": 5, "warmup": 1, "levels": [{ "label": "half", "jobs": 1 }],
        "baseline": "baseline",
        "variants": [{ "name": "baseline", "cmdline": "", "kernel": { "path": "k", "sha256": "0" }, "initrd": null, "boot": null }]
    })
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench")).args(args).output().expect("run bench")
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap()];
    args.extend_from_slice(extra);
    bench(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn describe(out: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", out.status.code(), stdout(out), stderr(out))
}

/// A base and a new folder with the same facts, `base` and `new` elapsed times at -j 1.
fn pair(dir: &Path, base: &[f64], new: &[f64]) -> (PathBuf, PathBuf) {
    let m = meta("tcg", "make -j{jobs}");
    (
        side(dir, "old", "6.1.0", &runs("baseline", "half", 1, base), Some(m.clone())),
        side(dir, "new", "6.6.0", &runs("baseline", "half", 1, new), Some(m)),
    )
}

#[test]
fn a_clear_regression_leads_the_output_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    // The answer first; mmtests' star is in Markdown tables only.
    assert!(text.starts_with("baseline, new vs base: elapsed +9.8 % [+5.5, +14.0] slower (REGRESSION) at half -j 1\n"), "{text}");
    assert!(text.contains("+9.8 %  ") && !text.contains('*'), "{text}");
    // Fieller's interval of the ratio, checked with SciPy in stats::compare.
    assert!(text.contains("[+5.5 %, +14.0 %]"), "{text}");
    assert!(text.contains("slower (REGRESSION)"), "{text}");
    assert!(text.contains("REGRESSION: 1 of 1 comparison"), "{text}");
    assert!(text.contains("kernel 6.1.0") && text.contains("kernel 6.6.0"), "{text}");
    assert!(stderr(&out).is_empty(), "same facts, no warning: {}", describe(&out));
}

#[test]
fn a_clear_improvement_leads_the_output_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &SLOW, &FAST);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.starts_with("baseline, new vs base: elapsed -8.9 % [") && text.contains("-8.9 %  ") && text.contains("faster"), "{text}");
    assert!(!text.contains("REGRESSION"), "{text}");
    assert!(text.contains("no significant regression in 1 comparison"), "{text}");
}

#[test]
fn two_tight_equal_studies_are_the_same_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &FAST_AGAIN);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("  same\n"), "{text}");
    assert!(!text.contains('*') && !text.contains('★'), "nothing starred: {text}");
    assert!(!text.contains("no significant change") && !text.contains("INCONCLUSIVE"), "{text}");
    let json: Value = serde_json::from_str(&stdout(&compare(&old, &new, &["--format", "json"]))).unwrap();
    assert_eq!((json["entries"][0]["verdict"].as_str(), json["inconclusive"].as_u64()), (Some("same"), Some(0)));
    let tost = &json["entries"][0]["comparison"]["equivalence_ci"];
    assert!(tost["low"].as_f64().unwrap() > -1.0 && tost["high"].as_f64().unwrap() < 1.0, "{json}");
    let seen = json["entries"][0]["comparison"]["min_detectable_change_percent"].as_f64().unwrap();
    assert!((2.0..2.2).contains(&seen), "5 runs a side at a CoV of 0.5 % see about ±2.1 %: {seen}");
}

#[test]
fn two_noisy_studies_cannot_tell_exit_3_and_say_how_many_runs_would() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &NOISY_BASE, &NOISY_NEW);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("+2.4 %") && text.contains("inconclusive (sees ±"), "{text}");
    assert!(text.contains("; ±1 % needs about ") && text.contains(" runs a side at this spread)"), "{text}");
    assert!(text.contains("INCONCLUSIVE: no significant regression, but 1 of 1 comparison cannot tell"), "{text}");
    assert!(!text.contains("no significant change") && !text.contains("REGRESSION:"), "{text}");

    let json: Value = serde_json::from_str(&stdout(&compare(&old, &new, &["--format", "json"]))).unwrap();
    let entry = &json["entries"][0];
    assert_eq!(
        (entry["verdict"].as_str(), entry["inconclusive"].as_bool(), json["inconclusive"].as_u64()),
        (Some("inconclusive"), Some(true), Some(1))
    );
    let seen = entry["comparison"]["min_detectable_change_percent"].as_f64().unwrap();
    assert!((10.0..30.0).contains(&seen), "a 7.5 % CoV with 5 runs sees about ±16 %: {seen}");
    let needed = entry["comparison"]["runs_needed"].as_u64().unwrap();
    assert!((500..2000).contains(&needed), "{needed}");
    assert!(text.contains(&format!("±1 % needs about {needed} runs a side")), "{text}");
    let csv = stdout(&compare(&old, &new, &["--format", "csv"]));
    let (header, row) = (csv.lines().next().unwrap(), csv.lines().nth(1).unwrap());
    let cell = |name: &str| row.split(',').nth(header.split(',').position(|h| h == name).unwrap()).unwrap().to_string();
    assert_eq!((cell("verdict"), cell("inconclusive"), cell("runs_needed")), ("inconclusive".into(), "true".into(), needed.to_string()));
    assert!(cell("min_detectable_change_percent").parse::<f64>().unwrap() > 10.0, "{csv}");
    let junit = stdout(&compare(&old, &new, &["--format", "junit"]));
    assert!(junit.contains("<skipped message=\"inconclusive (sees ±") && junit.contains("failures=\"0\""), "never passed: {junit}");

    // --inconclusive: pass is the old behaviour, fail makes it a failure; a regression stays one.
    assert_eq!(compare(&old, &new, &["--inconclusive", "pass"]).status.code(), Some(0));
    assert_eq!(compare(&old, &new, &["--inconclusive", "fail"]).status.code(), Some(1));
    assert_eq!(compare(&old, &new, &["--inconclusive", "exit3"]).status.code(), Some(3));
    let (fast, slow) = pair(&dir.path().join("clear"), &FAST, &SLOW);
    assert_eq!(compare(&fast, &slow, &["--inconclusive", "pass"]).status.code(), Some(1));
}

#[test]
fn a_regression_inside_the_threshold_does_not_fail_and_alpha_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    // The interval of the change reaches down to +5.52 %: not beyond a 6 % noise threshold,
    // nor within it: the gate cannot tell (3), and never fails (1).
    assert_eq!(compare(&old, &new, &["--threshold", "6%"]).status.code(), Some(3));
    assert_eq!(compare(&old, &new, &["--threshold", "6%", "--inconclusive", "pass"]).status.code(), Some(0));
    assert_eq!(compare(&old, &new, &["--threshold", "5"]).status.code(), Some(1));
    // p = 0.0028: not significant at alpha 0.001, and +9.8 % is not within ± 1 % either.
    assert_eq!(compare(&old, &new, &["--alpha", "0.001"]).status.code(), Some(3));
    let bad = compare(&old, &new, &["--threshold", "lots"]);
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
}

#[test]
fn different_workloads_are_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), Some(meta("tcg", "make -j{jobs}")));
    let new = side(dir.path(), "new", "6.6.0", &runs("baseline", "half", 1, &SLOW), Some(meta("tcg", "make -j{jobs} vmlinux")));
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let error = stderr(&out);
    assert!(error.contains("different workloads") && error.contains("workload.command"), "{error}");
    assert!(error.contains("\"make -j{jobs} vmlinux\""), "{error}");
}

#[test]
fn another_jobs_value_for_the_same_level_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), None);
    let new = side(dir.path(), "new", "6.6.0", &runs("baseline", "half", 2, &SLOW), None);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("-j 1 in") && stderr(&out).contains("but -j 2 in"), "{}", describe(&out));
}

#[test]
fn renamed_variants_need_a_map_and_then_compare() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("v6.1", "half", 1, &FAST), None);
    let new = side(dir.path(), "new", "6.6.0", &runs("v6.6", "half", 1, &SLOW), None);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("no variant and jobs level in common"), "{}", describe(&out));
    assert!(stderr(&out).contains("--map v6.1=v6.6"), "{}", describe(&out));
    let out = compare(&old, &new, &["--map", "v6.1=v6.6"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("v6.1 → v6.6"), "{}", describe(&out));
}

#[test]
fn differing_facts_are_warned_about_and_a_bare_csv_has_unknown_facts() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), Some(meta("kvm", "make")));
    let new = side(dir.path(), "new", "6.6.0", &runs("baseline", "half", 1, &FAST_AGAIN), Some(meta("tcg", "make")));
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stderr(&out).contains("warning: accel differs: kvm (base) vs tcg (new)"), "{}", describe(&out));

    let mut gcc12 = meta("kvm", "make");
    gcc12["variants"] = json!([{ "name": "baseline", "cmdline": "", "kernel": { "path": "k", "sha256": "0" }, "initrd": null,
        "boot": { "cmdline": "", "kernel_release": "6.6.0", "cpus": 2, "mem_total_kib": 1, "slab": { "caches": 1, "poisoned": 0, "kmalloc_64": false },
                  "probes": { "compiler": "gcc (Debian 12.2.0-14) 12.2.0" } } }]);
    let newer_gcc = side(dir.path(), "gcc12", "6.6.0", &runs("baseline", "half", 1, &FAST_AGAIN), Some(gcc12));
    let out = compare(&old, &newer_gcc, &[]);
    assert!(
        stderr(&out).contains("warning: compiler differs: not recorded (base) vs gcc (Debian 12.2.0-14) 12.2.0 (new)"),
        "{}",
        describe(&out)
    );

    let bare = side(dir.path(), "bare", "6.6.0", &runs("baseline", "half", 1, &FAST_AGAIN), None);
    let out = compare(&old, &bare.join("runs.csv"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stderr(&out).contains("new: no meta.json facts"), "{}", describe(&out));
    assert!(stderr(&out).contains("cannot be checked"), "{}", describe(&out));
}

#[test]
fn runs_failed_only_in_new_are_excluded_from_the_numbers_and_fail_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = runs("baseline", "half", 1, &FAST_AGAIN);
    rows.push(Run { variant: "baseline", label: "half", jobs: 1, elapsed: 900.0, sys: 1.0, ok: false });
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), None);
    let new = side(dir.path(), "new", "6.6.0", &rows, None);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1), "a build that fails only under the new kernel: {}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("5 successful runs, 1 failed and excluded"), "{text}");
    assert!(text.contains("same, 1 failed in new (REGRESSION)"), "the 900 s run is not averaged: {text}");
    assert!(text.contains("REGRESSION baseline half (-j 1): 1 of 6 runs failed in new, none of 5 in base"), "{text}");
    assert!(text.contains("REGRESSION: runs failed only in new: baseline half (-j 1)"), "{text}");
    let csv = stdout(&compare(&old, &new, &["--format", "csv"]));
    assert!(csv.lines().nth(1).unwrap().contains(",true,failed_only_in_new,"), "{csv}");

    // A row that failed in the base as well: counted, reported, not a regression.
    let mut old_rows = runs("baseline", "half", 1, &FAST);
    old_rows.push(Run { variant: "baseline", label: "half", jobs: 1, elapsed: 1.0, sys: 0.0, ok: false });
    let old = side(dir.path(), "old-failed", "6.1.0", &old_rows, None);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout(&out).contains("failed runs excluded: 1 in base, 1 in new"), "{}", describe(&out));
}

/// Base: two levels of five successful runs; new: `half` as fast, `optimal` as `optimal_new`.
fn two_levels(dir: &Path, optimal_new: Vec<Run<'static>>) -> (PathBuf, PathBuf) {
    let old_rows = [runs("baseline", "half", 1, &FAST), runs("baseline", "optimal", 2, &FAST)].concat();
    let new_rows = [runs("baseline", "half", 1, &FAST_AGAIN), optimal_new].concat();
    (side(dir, "old", "6.1.0", &old_rows, None), side(dir, "new", "6.6.0", &new_rows, None))
}

fn failed(label: &'static str, jobs: u32, count: usize) -> Vec<Run<'static>> {
    (0..count).map(|_| Run { variant: "baseline", label, jobs, elapsed: 1.0, sys: 0.0, ok: false }).collect()
}

#[test]
fn a_level_whose_builds_all_fail_in_new_is_a_regression_and_the_base_shows_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = two_levels(dir.path(), failed("optimal", 2, 5));
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    let row = text.lines().find(|l| l.starts_with("  ") && l.contains("optimal -j 2")).expect("the optimal row");
    assert!(row.contains("40.61 ± 0.2380 (5)") && row.contains("none (5 failed)"), "the base's real runs: {row}");
    assert!(row.contains("no successful run in new (REGRESSION)"), "{row}");
    assert!(text.contains("REGRESSION baseline optimal (-j 2): 5 successful runs in base, none in new (5 failed)"), "{text}");
    assert!(text.contains("REGRESSION: no successful run in new: baseline optimal (-j 2)"), "{text}");

    let markdown = stdout(&compare(&old, &new, &["--format", "markdown"]));
    assert!(markdown.contains("- **REGRESSION** baseline optimal (-j 2): 5 successful runs in base, none in new"), "{markdown}");
    let json: Value = serde_json::from_str(&stdout(&compare(&old, &new, &["--format", "json"]))).unwrap();
    assert_eq!(json["regressions"], 1);
    assert_eq!(json["row_regressions"][0]["problem"], "no_successful_run_in_new");
    assert_eq!(json["row_regressions"][0]["jobs_label"], "optimal");
    assert_eq!(json["entries"][1]["base"]["n"], 5);
    let csv = stdout(&compare(&old, &new, &["--format", "csv"]));
    assert!(csv.lines().nth(2).unwrap().contains(",true,no_successful_run_in_new,"), "{csv}");
}

#[test]
fn a_level_that_did_not_run_in_new_is_a_regression_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = two_levels(dir.path(), Vec::new());
    let out = compare(&old, &new, &["--metric", "elapsed,sys"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("REGRESSION baseline optimal (-j 2): 5 successful runs in base, not run in new"), "{text}");
    assert!(text.lines().filter(|l| l.contains("optimal -j 2") && l.contains("not run")).count() == 2, "per metric: {text}");
}

#[test]
fn every_run_failed_in_new_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), None);
    let new = side(dir.path(), "new", "6.6.0", &failed("half", 1, 5), None);
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("REGRESSION: every run in new failed (5 runs)"), "{}", describe(&out));
    // The other way round the base measured nothing to compare with: unusable.
    let out = compare(&new, &old, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("every run in the base"), "{}", describe(&out));
}

#[test]
fn output_never_overwrites_an_input_or_a_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let runs_csv = old.join("runs.csv");
    let before = std::fs::read_to_string(&runs_csv).unwrap();
    let a = old.to_str().unwrap();
    for output in [runs_csv.clone(), old.join("meta.json"), old.join("compare.md"), old.join("plots/x.md"), new.join("../old/./runs.csv")] {
        let out = bench(&["compare", a, a, "--output", output.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}: {}", output.display(), describe(&out));
        assert!(stderr(&out).contains("--output") && stderr(&out).contains("results folder"), "{}", describe(&out));
    }
    assert_eq!(std::fs::read_to_string(&runs_csv).unwrap(), before, "runs.csv untouched");
    assert!(!old.join("compare.md").exists());

    // A bare runs.csv outside any results folder is an input too.
    let bare = dir.path().join("bare.csv");
    std::fs::copy(&runs_csv, &bare).unwrap();
    let out = compare(&bare, &new, &["--output", bare.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("is an input of the comparison"), "{}", describe(&out));

    let beside = dir.path().join("compare.md");
    assert_eq!(compare(&old, &new, &["--output", beside.to_str().unwrap()]).status.code(), Some(1));
    assert!(std::fs::read_to_string(&beside).unwrap().contains("REGRESSION"));
}

#[test]
fn the_star_is_mmtests_rule_in_markdown_tables_and_the_legend_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Significant (p = 0.017) and beyond 0.5 %, but the bands mean ± 1.96 SD overlap:
    // a verdict without a star.
    let (old, new) = pair(dir.path(), &[100.0, 101.0, 102.0, 103.0, 104.0], &[103.0, 104.0, 105.0, 106.0, 107.0]);
    let out = compare(&old, &new, &["--threshold", "0.5"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("+2.9 %  ") && text.contains("slower (REGRESSION)"), "no star: {text}");
    assert!(!text.contains('*') && !text.contains("mmtests"), "the text has no star to explain: {text}");
    // Starred by mmtests' rule, yet within a 6 % noise threshold: a star without a verdict.
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let out = compare(&old, &new, &["--threshold", "6"]);
    assert!(stdout(&out).contains("+9.8 %  ") && stdout(&out).contains("inconclusive"), "{}", describe(&out));
    let markdown = stdout(&compare(&old, &new, &["--format", "markdown", "--threshold", "6"]));
    assert!(
        markdown.contains("+9.8 % ★") && markdown.contains("★ (in these tables only): mmtests' rule: the bands mean ± 1.96 · SD"),
        "{markdown}"
    );
}

#[test]
fn several_metrics_are_compared_and_each_can_regress() {
    let dir = tempfile::tempdir().unwrap();
    let old = side(dir.path(), "old", "6.1.0", &runs("baseline", "half", 1, &FAST), None);
    // The same elapsed times, twice the system time.
    let slow_sys: Vec<Run> = runs("baseline", "half", 1, &FAST_AGAIN).into_iter().map(|r| Run { sys: r.sys * 2.0, ..r }).collect();
    let new = side(dir.path(), "new", "6.6.0", &slow_sys, None);
    assert_eq!(compare(&old, &new, &[]).status.code(), Some(0), "elapsed alone does not regress");
    let out = compare(&old, &new, &["--metric", "elapsed,sys"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("Elapsed Time [s], higher is worse") && text.contains("System Time [s]"), "{text}");
    assert!(text.contains("REGRESSION: 1 of 2 comparisons"), "{text}");
    let all = compare(&old, &new, &["--metric", "all", "--format", "csv"]);
    assert_eq!(stdout(&all).lines().count(), 1 + 7, "{}", describe(&all));
    // Metrics with the same value in every run on both sides get no table, only a note.
    let text = stdout(&compare(&old, &new, &["--metric", "all"]));
    assert!(text.contains("Not shown, the same value in every run on both sides: Context Switches, Sleeps, Max RSS."), "{text}");
    assert!(text.contains("System Time [s]") && !text.contains("Sleeps [count]"), "{text}");
}

#[test]
fn markdown_is_an_mmtests_style_table_with_stars() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let out = compare(&old, &new, &["--format", "markdown"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    let header = text.lines().find(|l| l.starts_with("| Elapsed Time")).expect("a table");
    assert!(header.contains("base 6.1.0") && header.contains("new 6.6.0"), "{text}");
    let row = text.lines().find(|l| l.starts_with("| baseline half -j 1")).expect("a row");
    assert!(row.contains("40.61 ± 0.2380 (5)") && row.contains("44.59 ± 1.401 (5) +9.8 % ★"), "{row}");
    let widths: Vec<usize> = text.lines().filter(|l| l.starts_with('|')).map(|l| l.chars().count()).collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "aligned as plain text too: {text}");
    assert!(text.starts_with("**bench compare**: REGRESSION"), "{text}");
    assert!(
        text.contains("\n\n- baseline, new vs base: **elapsed +9.8 % [+5.5, +14.0] slower (REGRESSION) at half -j 1**\n"),
        "the answer under the outcome: {text}"
    );
}

#[test]
fn json_and_csv_carry_every_number_and_output_goes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let file = dir.path().join("compare.json");
    let out = compare(&old, &new, &["--format", "json", "--output", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).starts_with("REGRESSION"), "the outcome line still shows: {}", describe(&out));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(report["regressions"], 1);
    let entry = &report["entries"][0];
    assert_eq!((entry["metric"].as_str(), entry["verdict"].as_str()), (Some("elapsed"), Some("slower")));
    assert_eq!(entry["regression"], true);
    assert!((entry["comparison"]["p_value"].as_f64().unwrap() - 0.002761859701335364).abs() < 1e-9);
    assert_eq!(report["thresholds"]["noise_percent"], 1.0);

    let out = compare(&old, &new, &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let rows: Vec<std::collections::HashMap<String, String>> = reader.deserialize().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["verdict"].as_str(), rows[0]["regression"].as_str()), ("slower", "true"));
    assert_eq!(rows[0]["base_n"], "5");
}

#[test]
fn unreadable_and_foreign_files_are_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = pair(dir.path(), &FAST, &SLOW);
    let missing = compare(&old, &dir.path().join("nowhere"), &[]);
    assert_eq!(missing.status.code(), Some(2), "{}", describe(&missing));
    assert!(stderr(&missing).contains("nowhere does not exist"), "{}", describe(&missing));

    let newer = dir.path().join("newer.csv");
    std::fs::write(&newer, csv_text("6.6.0", &runs("baseline", "half", 1, &SLOW)).replace("\n1,", "\n2,")).unwrap();
    let out = compare(&old, &newer, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("schema version 2") && stderr(&out).contains("newer kbench"), "{}", describe(&out));

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, format!("{HEADER}\n")).unwrap();
    let out = compare(&old, &empty, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("has no runs"), "{}", describe(&out));
}

#[test]
fn inconsistent_rows_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair(dir.path(), &FAST, &SLOW);
    let runs_csv = new.join("runs.csv");
    let text = std::fs::read_to_string(&runs_csv).unwrap();
    // Run 2 again, as if two studies had been pasted together.
    let second = text.lines().nth(2).unwrap().to_string();
    std::fs::write(&runs_csv, format!("{text}{second}\n")).unwrap();
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let expected = format!("{}: line 7: baseline half run 2 is on record twice", runs_csv.display());
    assert!(stderr(&out).contains(&expected) && stderr(&out).contains("(line 3)"), "{}", describe(&out));

    // A negative time, a variant the scenario does not have, a run beyond `runs = 5`.
    for (edited, problem) in [
        ("1,baseline,half,1,3,ok,-40.95,", "baseline half run 3: elapsed_s is -40.95"),
        ("1,poison,half,1,3,ok,40.95,", "variant \"poison\" is not in the scenario (meta.json has baseline)"),
        ("1,baseline,half,1,9,ok,40.95,", "baseline half run 9 is beyond the plan"),
    ] {
        let (old, new) = pair(dir.path(), &FAST, &SLOW);
        let runs_csv = old.join("runs.csv");
        let text = std::fs::read_to_string(&runs_csv).unwrap();
        std::fs::write(&runs_csv, text.replace("1,baseline,half,1,3,ok,40.95,", edited)).unwrap();
        let out = compare(&old, &new, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(stderr(&out).contains(&format!("{}: line 4: {problem}", runs_csv.display())), "{}", describe(&out));
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let out = bench(&["compare", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "Exit codes:",
        "0  every gated metric is the same or better",
        "1  a significant regression",
        "3  a gated metric is inconclusive",
        "--inconclusive",
        "same",
        "Worked example",
        "of BASE with no successful run in NEW",
        "2  unusable input",
        "--map",
        "Fieller",
        "mmtests' rule",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}

/// runs.csv with the monitors' columns, slab memory per run as given (the rest fixed).
fn side_with_slab(dir: &Path, name: &str, slab: &[f64]) -> PathBuf {
    let rows = runs("baseline", "half", 1, &FAST);
    let mut lines: Vec<String> = csv_text("6.1.0", &rows).lines().map(str::to_string).collect();
    lines[0] += ",minor_faults,major_faults,slab_peak_kib,slab_end_kib,sunreclaim_peak_kib,sunreclaim_end_kib,\
sreclaimable_peak_kib,sreclaimable_end_kib,pgalloc,pgfree,pgfault,pgmajfault,guest_user_percent,guest_sys_percent,\
guest_softirq_percent,guest_steal_percent";
    for (line, s) in lines.iter_mut().skip(1).zip(slab) {
        *line += &format!(",1000,0,{s},{s},{s},{s},{s},{s},5000,5000,900,0,60,30,1,0");
    }
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("runs.csv"), lines.join("\n") + "\n").unwrap();
    std::fs::write(folder.join("meta.json"), serde_json::to_string_pretty(&meta("tcg", "make -j{jobs}")).unwrap()).unwrap();
    folder
}

#[test]
fn more_slab_memory_is_a_regression_of_the_slab_metric_and_an_old_runs_csv_is_not_compared_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = side_with_slab(dir.path(), "old", &[30_000.0, 30_100.0, 29_950.0, 30_050.0, 30_020.0]);
    let new = side_with_slab(dir.path(), "new", &[36_000.0, 36_100.0, 35_950.0, 36_050.0, 36_020.0]);
    let out = compare(&old, &new, &["--metric", "slab_peak"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains("higher (REGRESSION)"), "{}", describe(&out));
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "elapsed alone is unchanged: {}", describe(&out));

    // Two folders from before the monitors: the slab metric is named as not compared.
    let (a, b) = pair(&dir.path().join("older"), &FAST, &FAST_AGAIN);
    let out = compare(&a, &b, &["--metric", "elapsed,slab_peak"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stderr(&out).contains("not compared: slab_peak"), "{}", describe(&out));
    assert!(!stdout(&out).contains("Slab"), "{}", describe(&out));
}

/// One interleaved study of two kernels (`scripts/ci-compare-kernels.sh` names the
/// variants old.V and new.V) split per kernel: each part is a results folder of its own
/// with its reports, and the two compare like two studies.
#[test]
fn a_study_of_two_kernels_splits_into_two_sides_that_compare() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = runs("old.baseline", "half", 1, &FAST);
    rows.extend(runs("new.baseline", "half", 1, &SLOW));
    let mut study_meta = meta("kvm", "make");
    study_meta["baseline"] = json!("old.baseline");
    study_meta["variants"] = json!(["old.baseline", "new.baseline"]
        .map(|name| json!({ "name": name, "cmdline": "", "kernel": { "path": name, "sha256": "0" }, "initrd": null, "boot": null })));
    let study = side(dir.path(), "study", "6.1.0", &rows, Some(study_meta));
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let out = bench(&["split", study.to_str().unwrap(), &format!("old.={}", old.display()), &format!("new.={}", new.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    for (part, kernel) in [(&old, "old.baseline"), (&new, "new.baseline")] {
        let meta: Value = serde_json::from_str(&std::fs::read_to_string(part.join("meta.json")).unwrap()).unwrap();
        assert_eq!((meta["baseline"].as_str(), meta["variants"][0]["name"].as_str()), (Some("baseline"), Some("baseline")));
        assert_eq!(meta["variants"][0]["kernel"]["path"].as_str(), Some(kernel), "the part keeps its own kernel's facts");
        assert_eq!(std::fs::read_to_string(part.join("runs.csv")).unwrap().lines().count(), 6);
        assert!(part.join("report.html").is_file() && part.join("kernbench.txt").is_file());
    }
    let out = compare(&old, &new, &[]);
    assert_eq!(out.status.code(), Some(1), "the new kernel is slower: {}", describe(&out));

    // Nothing is written over, and every variant must belong to a part.
    let again = bench(&["split", study.to_str().unwrap(), &format!("old.={}", old.display())]);
    assert_eq!(again.status.code(), Some(2), "{}", describe(&again));
    assert!(stderr(&again).contains("no part claims the variants new.baseline"), "{}", describe(&again));
    let out = bench(&["split", study.to_str().unwrap(), &format!("old.={}", old.display()), "--allow-unclaimed"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", describe(&out));

    // A part into the study's own folder, two parts into one folder, or a whole variant
    // name as a prefix: refused before any part is written.
    let first = dir.path().join("first");
    let clashes = [
        (format!("new.={}", study.display()), "study's own folder"),
        (format!("new.={}", first.display()), "two parts in one folder"),
        (format!("new.baseline={}", dir.path().join("second").display()), "whole variant name"),
    ];
    for (second, reason) in clashes {
        let out = bench(&["split", study.to_str().unwrap(), &format!("old.={}", first.display()), &second, "--allow-unclaimed"]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(stderr(&out).contains(reason), "{reason}: {}", describe(&out));
        assert!(!first.exists(), "nothing written before the refusal: {}", describe(&out));
    }
    assert_eq!(std::fs::read_dir(&study).unwrap().count(), 2, "the study keeps its runs.csv and meta.json alone");
}
