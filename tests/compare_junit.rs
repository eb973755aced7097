//! `bench compare --format junit` on fixture results folders, read back with a real XML
//! parser: well-formed, the usual JUnit shape (testsuites > testsuite > testcase, with
//! failure or skipped inside), and every count attribute equal to the cases it counts.

mod common;
use common::{bench, describe, repo};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/history").join(name)
}

fn junit(base: &str, new: &str, extra: &[&str]) -> (Option<i32>, String) {
    let (base, new) = (fixture(base), fixture(new));
    let mut args = vec!["compare", base.to_str().unwrap(), new.to_str().unwrap(), "--format", "junit"];
    args.extend_from_slice(extra);
    let out = bench(&args);
    assert!(out.status.code() != Some(2), "{}", describe(&out));
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

fn count(node: roxmltree::Node, attribute: &str) -> usize {
    node.attribute(attribute).unwrap_or_else(|| panic!("<{}> lacks {attribute}=", node.tag_name().name())).parse().unwrap()
}

fn children<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &'a str) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(move |n| n.has_tag_name(tag))
}

/// Checks the JUnit shape and that every count matches; returns (tests, failures, skipped).
fn check_shape(xml: &str) -> (usize, usize, usize, roxmltree::Document<'_>) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for suite in children(root, "testsuite") {
        assert!(suite.attribute("name").is_some());
        let cases: Vec<_> = children(suite, "testcase").collect();
        let failed = cases.iter().filter(|c| children(**c, "failure").count() == 1).count();
        let skips = cases.iter().filter(|c| children(**c, "skipped").count() == 1).count();
        assert_eq!(count(suite, "tests"), cases.len(), "testsuite tests=");
        assert_eq!(count(suite, "failures"), failed, "testsuite failures=");
        assert_eq!(count(suite, "skipped"), skips, "testsuite skipped=");
        assert_eq!(count(suite, "errors"), 0);
        for case in &cases {
            assert!(case.attribute("classname").is_some() && case.attribute("name").is_some());
            assert!(children(*case, "failure").count() + children(*case, "skipped").count() <= 1);
            for tag in case.children().filter(|n| n.is_element()) {
                assert!(["failure", "skipped", "system-out"].contains(&tag.tag_name().name()), "{:?}", tag.tag_name());
            }
        }
        tests += cases.len();
        failures += failed;
        skipped += skips;
    }
    assert_eq!((count(root, "tests"), count(root, "failures"), count(root, "skipped")), (tests, failures, skipped));
    (tests, failures, skipped, doc)
}

#[test]
fn a_regression_is_a_failed_test_case_with_the_numbers() {
    let (code, xml) = junit("c-6.1.0-26", "a-6.1.0-28-regressed", &["--metric", "all"]);
    assert_eq!(code, Some(1), "{xml}");
    let (tests, failures, skipped, doc) = check_shape(&xml);
    // 2 variants × 2 levels × 7 metrics.
    assert_eq!((tests, skipped), (28, 0));
    assert!(failures >= 4, "elapsed regressed +10 % in all four rows: {failures}");
    assert_eq!(doc.root_element().children().filter(|n| n.has_tag_name("testsuite")).count(), 2, "one suite per variant");
    let elapsed_failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.attribute("name").unwrap().starts_with("elapsed "))
        .filter_map(|n| n.children().find(|c| c.has_tag_name("failure")))
        .collect();
    assert_eq!(elapsed_failures.len(), 4);
    let message = elapsed_failures[0].attribute("message").unwrap();
    assert!(message.starts_with("slower: +10.0 %"), "{message}");
    let body = elapsed_failures[0].text().unwrap();
    assert!(body.contains("base: 40.61") && body.contains("new:  44.68"), "{body}");
}

#[test]
fn no_regression_gives_no_failure_and_an_inconclusive_case_is_skipped_never_passed() {
    // The same within ± 5 %: every case passes.
    let (code, xml) = junit("c-6.1.0-26", "a-6.1.0-28-same", &["--threshold", "5"]);
    assert_eq!(code, Some(0), "{xml}");
    let (tests, failures, skipped, _) = check_shape(&xml);
    assert_eq!((tests, failures, skipped), (4, 0, 0));
    // At ± 1 %, poison's 3 % spread over 5 runs cannot show it the same: skipped, with why.
    let (code, xml) = junit("c-6.1.0-26", "a-6.1.0-28-same", &[]);
    assert_eq!(code, Some(3), "{xml}");
    let (tests, failures, skipped, doc) = check_shape(&xml);
    assert_eq!((tests, failures, skipped), (4, 0, 2));
    let reasons: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("skipped")).map(|n| n.attribute("message").unwrap()).collect();
    assert!(
        reasons.iter().all(|r| r.starts_with("inconclusive (sees ±7.3 %; ±1 % needs about 156 runs a side at this spread)")),
        "{reasons:?}"
    );
    let (code, _) = junit("c-6.1.0-26", "a-6.1.0-28-same", &["--inconclusive", "pass"]);
    assert_eq!(code, Some(0));
}

#[test]
fn a_row_that_cannot_be_tested_is_a_skipped_case() {
    // NEW keeps a single run of poison at -j 4: no spread, no test, so no verdict either way.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("a-6.1.0-28-regressed").join("runs.csv")).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains(",poison,optimal,") || l.contains(",optimal,4,1,")).collect();
    std::fs::write(dir.path().join("runs.csv"), kept.join("\n") + "\n").unwrap();
    let (base, new) = (fixture("c-6.1.0-26"), dir.path().join("runs.csv"));
    let out = bench(&["compare", base.to_str().unwrap(), new.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1), "the other rows still regressed: {}", describe(&out));
    let xml = String::from_utf8(out.stdout).unwrap();
    let (tests, failures, skipped, doc) = check_shape(&xml);
    assert_eq!((tests, failures, skipped), (4, 3, 1), "{xml}");
    let skipped = doc.descendants().find(|n| n.has_tag_name("skipped")).unwrap();
    assert!(skipped.attribute("message").unwrap().starts_with("too few runs"), "{xml}");
    assert_eq!(skipped.parent().unwrap().attribute("classname"), Some("kbench.poison.optimal"));
}
