//! `bench history` over fixture results folders of one study measured on three kernels
//! (tests/fixtures/history): the third is +10 % slower in `a-6.1.0-28-regressed` and
//! unchanged in `a-6.1.0-28-same`. Folder names sort against the measurement order on
//! purpose, so that finding them under one path must order them by meta.json.

mod common;
use common::{bench, describe, repo};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> String {
    repo().join("tests/fixtures/history").join(name).display().to_string()
}

fn history(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["history"];
    all.extend_from_slice(args);
    let out = bench(&all);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Copies fixture folders under `root/study/`.
fn copy_into(root: &Path, names: &[&str]) -> PathBuf {
    let study = root.join("study");
    for name in names {
        let to = study.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in ["runs.csv", "meta.json"] {
            std::fs::copy(Path::new(&fixture(name)).join(file), to.join(file)).unwrap();
        }
    }
    study
}

#[test]
fn a_regression_in_the_last_step_exits_1_and_is_named() {
    let plot = tempfile::tempdir().unwrap();
    let svg = plot.path().join("trend.svg");
    let (first, second, third) = (fixture("c-6.1.0-26"), fixture("b-6.1.0-27"), fixture("a-6.1.0-28-regressed"));
    let (code, stdout, stderr) = history(&[&first, &second, &third, "--plot", svg.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let outcome = stdout.lines().last().unwrap();
    assert!(outcome.starts_with("REGRESSION in the last step"), "{outcome}");
    for row in ["off half -j 2 elapsed: slower +9.8 %", "poison optimal -j 4 elapsed: slower +9.8 %"] {
        assert!(outcome.contains(row), "{outcome} does not name {row}");
    }
    // The kernel of each measurement, and the steps judged both ways.
    for kernel in ["6.1.0-26-amd64", "6.1.0-27-amd64", "6.1.0-28-amd64"] {
        assert!(stdout.contains(kernel), "{stdout}");
    }
    assert!(stdout.contains("+0.20 % same") && stdout.contains("+10.0 % slower (REGRESSION)"), "{stdout}");
    let svg = std::fs::read_to_string(&svg).expect("--plot wrote the trend");
    assert!(svg.starts_with("<svg") && svg.contains("Elapsed Time") && svg.contains("6.1.0-28-amd64"));
}

#[test]
fn without_the_regression_it_exits_0_when_shown_the_same_and_3_when_it_cannot_tell() {
    let folders = [fixture("c-6.1.0-26"), fixture("b-6.1.0-27"), fixture("a-6.1.0-28-same")];
    let (code, stdout, stderr) = history(&[&folders[0], &folders[1], &folders[2], "--threshold", "5"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.lines().last().unwrap().starts_with("no significant regression in the last step"), "{stdout}");
    // At ± 1 %, poison's 3 % spread over 5 runs can show neither a change nor the same.
    let (code, stdout, stderr) = history(&[&folders[0], &folders[1], &folders[2]]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    let outcome = stdout.lines().last().unwrap();
    assert!(outcome.starts_with("INCONCLUSIVE: no significant regression in the last step, but it cannot tell"), "{outcome}");
    assert!(outcome.contains("poison half -j 2 elapsed: inconclusive -0.3 %") && !outcome.contains("off half"), "{outcome}");
    assert!(stdout.contains("inconclusive (sees ±7.") && stdout.contains("±1 % needs about "), "{stdout}");
    let (code, _, _) = history(&[&folders[0], &folders[1], &folders[2], "--inconclusive", "pass"]);
    assert_eq!(code, Some(0));
}

#[test]
fn folders_found_under_one_path_are_ordered_by_when_they_were_measured() {
    let root = tempfile::tempdir().unwrap();
    // By name, the regressed one would come first and the last step would be no regression.
    let study = copy_into(root.path(), &["a-6.1.0-28-regressed", "b-6.1.0-27", "c-6.1.0-26"]);
    let (code, stdout, stderr) = history(&[study.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let kernels: Vec<&str> = json["measurements"].as_array().unwrap().iter().map(|m| m["kernels"][0].as_str().unwrap()).collect();
    assert_eq!(kernels, ["6.1.0-26-amd64", "6.1.0-27-amd64", "6.1.0-28-amd64"]);
    assert_eq!(json["last_step_regressions"].as_array().unwrap().len(), 4);
}

#[test]
fn csv_has_a_row_per_series_and_measurement() {
    let (code, stdout, _) = history(&[&fixture("c-6.1.0-26"), &fixture("a-6.1.0-28-same"), "--format", "csv", "--metric", "elapsed,sys"]);
    assert_eq!(code, Some(3), "poison's steps cannot tell");
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // 2 metrics × 2 variants × 2 levels × 2 measurements.
    assert_eq!(rows.len(), 16);
    let verdict = headers.iter().position(|h| h == "previous_verdict").unwrap();
    assert_eq!(rows[1][verdict].to_string(), "same");
}

#[test]
fn unusable_input_exits_2_with_a_reason() {
    let root = tempfile::tempdir().unwrap();
    let study = copy_into(root.path(), &["c-6.1.0-26", "b-6.1.0-27"]);
    let meta = study.join("b-6.1.0-27/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap().replace("make -j {jobs}", "make -j {jobs} bzImage");
    std::fs::write(&meta, text).unwrap();
    let out = bench(&["history", study.join("c-6.1.0-26").to_str().unwrap(), study.join("b-6.1.0-27").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("different workloads"), "{}", describe(&out));

    let (code, _, stderr) = history(&[&fixture("c-6.1.0-26")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("at least two"), "{stderr}");
}
