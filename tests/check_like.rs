//! `bench check SCENARIO --like RESULTS`: before anything boots, what the planned runs can
//! detect at the spread an earlier study measured. No guest boots; the tiny images are only
//! read (a scenario must name a real kernel).

mod common;
use common::*;

const BODY: &str = r#"
runs = 5
jobs = ["half", "optimal"]
baseline = "off"
[[variant]]
name = "off"
[[variant]]
name = "poison"
cmdline = "slub_debug=P"
[workload]
kind = "command"
command = "true"
"#;

#[test]
fn an_earlier_studys_spread_says_what_the_planned_runs_can_detect() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = repo().join("tests/fixtures/history/c-6.1.0-26");
    let check = |body: &str| {
        let scenario = tiny_scenario(dir.path(), "like", body);
        let results = dir.path().join("results");
        let out =
            bench(&["check", scenario.to_str().unwrap(), "--results", results.to_str().unwrap(), "--like", earlier.to_str().unwrap()]);
        assert_ne!(out.status.code(), None, "{}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let stdout = check(BODY);
    assert!(stdout.contains("what the planned runs can detect (80 % power, at the spread of an earlier study):"), "{stdout}");
    // poison's elapsed has a CoV of 3.1 % over 5 runs in the fixture, off's 0.6 %.
    let poison_half = stdout.lines().find(|l| l.trim_start().starts_with("poison half (-j 1) against off: 5 runs a side see ±")).unwrap();
    assert!(poison_half.contains("CoV 0.6 % and 3.1 %") && poison_half.contains("±1 % needs about "), "{poison_half}");
    let seen = |line: &str| -> f64 { line.split("see ±").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap() };
    // More planned runs see smaller changes.
    let more = check(&BODY.replace("runs = 5", "runs = 20"));
    let poison_half_20 = more.lines().find(|l| l.contains("poison half (-j 1) against off: 20 runs a side see ±")).unwrap();
    assert!(seen(poison_half_20) < seen(poison_half), "{poison_half_20} vs {poison_half}");
    assert!(stdout.lines().any(|l| l.contains("poison optimal (-j 2) against off")), "{stdout}");
}
