//! report.html in a real browser: `bench report` on a fixture results folder, then
//! Debian's headless chromium loads the page from disk. The page must load without a
//! console message (errors, CSP violations: the page may fetch nothing), the rendered DOM
//! must hold the tables and the verdict, every inline plot must be laid out with a size,
//! and a screenshot must come out. Chromium is required (scripts/install-deps.sh installs
//! it): without it the test fails, it does not skip.

mod common;
use common::{bench, describe, repo};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Every browser run gets this long, then is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!("chromium is not installed: run scripts/install-deps.sh (Debian package `chromium`); this test needs a real browser");
}

/// Headless chromium as root on a machine without network: no sandbox (root), no GPU, no
/// background fetches that would stall, and a fresh profile per run.
fn browse(page: &Path, extra: &[String]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new("timeout");
    command.arg("--kill-after=5").arg(BROWSER_TIMEOUT.as_secs().to_string()).arg(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(extra);
    command.arg(format!("file://{}", page.display()));
    let output = command.output().expect("start chromium under timeout");
    assert_ne!(output.status.code(), Some(124), "chromium did not finish within {BROWSER_TIMEOUT:?}");
    output
}

/// The console lines chromium logs for the page (console.*, uncaught errors, CSP).
fn console_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("Content Security Policy"))
        .map(String::from)
        .collect()
}

/// An attribute the page's script wrote on <body>.
fn attribute(dom: &str, name: &str) -> String {
    let start = format!("{name}=\"");
    let value = dom.split(&start).nth(1).and_then(|s| s.split('"').next());
    value.unwrap_or_else(|| panic!("the page's script did not write {name}")).to_string()
}

/// "733x294 733x294 …" → sizes in CSS pixels.
fn svg_sizes(dom: &str) -> Vec<(u32, u32)> {
    attribute(dom, "data-svg-sizes")
        .split_whitespace()
        .map(|s| {
            let (w, h) = s.split_once('x').expect("WxH");
            (w.parse().unwrap(), h.parse().unwrap())
        })
        .collect()
}

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = repo().join("tests/fixtures/history").join(name);
    for file in ["runs.csv", "meta.json"] {
        std::fs::copy(from.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

#[test]
fn report_html_loads_in_a_browser_with_tables_plots_and_no_console_errors() {
    let dir = copy_fixture("b-6.1.0-27");
    let out = bench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let page = dir.path().join("report.html");
    let html = std::fs::read_to_string(&page).expect("bench report writes report.html");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "the page links nothing outside itself");

    let dom = browse(&page, &["--dump-dom".into()]);
    assert!(dom.status.success(), "chromium --dump-dom failed:\n{}", String::from_utf8_lossy(&dom.stderr));
    let console = console_lines(&dom);
    assert!(console.is_empty(), "the page logged to the console:\n{}", console.join("\n"));
    let rendered = String::from_utf8_lossy(&dom.stdout);
    for expected in [
        "kbench report: slub-poison",
        "Half load -j 2",
        "Optimal load -j 4",
        "off (baseline)",
        "Elapsed Time (s)",
        "slower",
        "Test CPU 9000",
        "6.1.0-27-amd64",
        "timed out after 600 s",
        "Every run",
    ] {
        assert!(rendered.contains(expected), "the rendered page lacks {expected:?}");
    }
    assert_eq!(rendered.matches("<table class=\"comparison\"").count(), 2, "one comparison table per level");
    // The page's own script wrote the laid-out size of each inline plot.
    let sizes = svg_sizes(&rendered);
    assert_eq!(sizes.len(), 6, "means and runs and change plots for two levels: {sizes:?}");
    assert!(sizes.iter().all(|&(w, h)| w > 100 && h > 50), "every plot has a size: {sizes:?}");

    // Phone width (headless chromium lays out no narrower than 500 px): the plots shrink
    // to the viewport instead of overflowing it.
    let narrow = browse(&page, &["--window-size=390,844".into(), "--dump-dom".into()]);
    let narrow = String::from_utf8_lossy(&narrow.stdout);
    let viewport: u32 = attribute(&narrow, "data-viewport-width").parse().unwrap();
    let sizes = svg_sizes(&narrow);
    assert!(viewport < 600 && sizes.iter().all(|&(w, _)| w > 100 && w <= viewport), "plots in a {viewport} px viewport: {sizes:?}");

    let shot = dir.path().join("shot.png");
    let out = browse(&page, &["--window-size=1200,2000".into(), format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "chromium --screenshot failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a screenshot with content: {} bytes", png.len());
}

/// The answer is on the first screen: at desktop size (1280×800) and at phone size
/// (390×844), the page's script measures the headline's box, and it must end inside the
/// viewport and hold each variant's elapsed verdict.
#[test]
fn the_headline_with_each_variant_s_elapsed_verdict_is_on_the_first_screen() {
    let dir = copy_fixture("b-6.1.0-27");
    let out = bench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let page = dir.path().join("report.html");
    for (width, height) in [(1280, 800), (390, 844)] {
        let dom = browse(&page, &[format!("--window-size={width},{height}"), "--dump-dom".into()]);
        assert!(dom.status.success(), "chromium --dump-dom failed:\n{}", String::from_utf8_lossy(&dom.stderr));
        let rendered = String::from_utf8_lossy(&dom.stdout);
        let viewport_width: i64 = attribute(&rendered, "data-viewport-width").parse().unwrap();
        let viewport_height: i64 = attribute(&rendered, "data-viewport-height").parse().unwrap();
        let bounds: Vec<i64> = attribute(&rendered, "data-headline-box").split_whitespace().map(|n| n.parse().unwrap()).collect();
        let [left, top, right, bottom] = bounds[..] else { panic!("four numbers: {bounds:?}") };
        assert!(viewport_height >= height * 3 / 4, "{width}x{height}: the viewport is {viewport_width}x{viewport_height}");
        assert!(
            left >= 0 && top >= 0 && right <= viewport_width && bottom <= viewport_height,
            "{width}x{height}: the headline at {bounds:?} leaves the {viewport_width}x{viewport_height} first screen"
        );
        let headline = rendered.split("<section id=\"headline\"").nth(1).and_then(|s| s.split("</section>").next()).expect("a headline");
        let answer = headline.split("<p>").find(|p| p.contains("poison vs off:")).expect("a line for poison against the baseline");
        assert!(answer.contains("elapsed ") && answer.contains("at -j 2") && answer.contains("at -j 4"), "each level: {answer}");
        assert!(["slower", "faster", "same", "inconclusive"].iter().any(|verdict| answer.contains(verdict)), "the verdict: {answer}");
        let shot = dir.path().join(format!("first-screen-{width}x{height}.png"));
        let out = browse(&page, &[format!("--window-size={width},{height}"), format!("--screenshot={}", shot.display())]);
        assert!(out.status.success(), "chromium --screenshot failed:\n{}", String::from_utf8_lossy(&out.stderr));
        if let Ok(keep) = std::env::var("KBENCH_KEEP_SCREENSHOTS") {
            std::fs::copy(&shot, Path::new(&keep).join(shot.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn history_html_loads_in_a_browser_and_marks_the_regression() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("history.html");
    let fixtures = repo().join("tests/fixtures/history");
    let steps: Vec<String> =
        ["c-6.1.0-26", "b-6.1.0-27", "a-6.1.0-28-regressed"].iter().map(|n| fixtures.join(n).display().to_string()).collect();
    let mut args: Vec<&str> = vec!["history"];
    args.extend(steps.iter().map(String::as_str));
    args.extend(["--html", page.to_str().unwrap()]);
    let out = bench(&args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    let dom = browse(&page, &["--dump-dom".into()]);
    let console = console_lines(&dom);
    assert!(console.is_empty(), "the page logged to the console:\n{}", console.join("\n"));
    let rendered = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(rendered.matches("<table class=\"series\"").count(), 4, "a table per variant and level");
    assert_eq!(rendered.matches("verdict verdict-change").count(), 8, "the third step, against the previous and the first, in four rows");
    assert!(rendered.contains("REGRESSION in the last step") && rendered.contains("6.1.0-28-amd64"));
    let sizes = svg_sizes(&rendered);
    assert!(sizes.len() == 1 && sizes[0].0 > 100 && sizes[0].1 > 100, "the trend plot has a size: {sizes:?}");
}
