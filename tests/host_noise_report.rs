//! Noisy runs on record (runs.csv's `noise`), no guest needed: the real `bench report`
//! and `bench compare` read a fixture runs.csv and must flag them everywhere, without
//! changing a verdict or an exit code.

mod common;
use common::{bench, describe};
use std::path::Path;

const HEADER: &str = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at,host_other_cpu_percent,noise";
const BUSY: &str = "other processes used 180 % of a CPU (limit 20 %)";

/// One variant, 5 runs at -j 2; `noisy` are the runs the host was busy during.
fn write_runs(dir: &Path, noisy: &[u32]) {
    let mut lines = vec![HEADER.to_string()];
    for run in 1..=5u32 {
        let (other, noise) = if noisy.contains(&run) { ("180.0", BUSY) } else { ("3.0", "") };
        lines.push(format!(
            "1,baseline,half,2,{run},ok,{},70.0,5.0,90.0,100,200,1000,0,,6.1.0,console=ttyS0,2026-11-29T08:00:00Z,{other},{noise}",
            40.0 + f64::from(run) / 10.0
        ));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("runs.csv"), lines.join("\n") + "\n").unwrap();
}

#[test]
fn bench_report_marks_noisy_runs_in_every_report_and_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write_runs(dir.path(), &[2, 4]);
    let out = bench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("warning: noisy host: 2 of 5 successful runs were measured while the host was busy with other work (the worst: baseline half run 2: {BUSY})")), "{stderr}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("Runs: baseline 5 ok, 2 ⚠ on a noisy host (run 2, 4)."), "{md}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<tr class=\"noisy\">").count(), 2, "two rows marked");
    let svg = std::fs::read_to_string(dir.path().join("plots/half-j2-runs.svg")).unwrap();
    assert!(svg.contains("noisy host"), "the runs plot rings them, with a legend");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    let noisy = &json["analysis"]["levels"][0]["variants"][0]["noisy_runs"];
    assert_eq!((noisy[0]["run"].as_u64(), noisy[1]["run"].as_u64(), noisy[0]["why"].as_str()), (Some(2), Some(4), Some(BUSY)), "{json}");
    assert!(json["analysis"]["warnings"].as_array().unwrap().iter().any(|w| w["kind"] == "noisy_runs"), "{json}");
}

#[test]
fn bench_compare_warns_of_a_noisy_row_in_every_format_and_keeps_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (base, new) = (dir.path().join("base"), dir.path().join("new"));
    write_runs(&base, &[]);
    write_runs(&new, &[3]);
    let (base, new) = (base.to_str().unwrap(), new.to_str().unwrap());
    for format in ["text", "markdown", "json", "csv", "junit"] {
        let out = bench(&["compare", base, new, "--format", format]);
        assert_eq!(out.status.code(), Some(0), "the same numbers pass the gate, noisy or not: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("warning: noisy host: baseline half (-j 2): 1 of 5 runs in new (run 3 ("), "{format}: {stderr}");
        let flagged = match format {
            "json" => stdout.contains("\"new_noisy\": 1"),
            "csv" => {
                stdout.lines().next().unwrap().contains(",base_noisy,new_noisy,")
                    && stdout.lines().nth(1).unwrap().contains(",same,false,false,,false,0,1,")
            }
            _ => stdout.contains("⚠ noisy host: 1 run in new"),
        };
        assert!(flagged, "{format}:\n{stdout}");
    }
}

/// Four variant-and-level rows with noisy runs: one noise warning for the study (how many,
/// the worst cause, the advice once), not one per row; the detail stays in the run list.
#[test]
fn four_noisy_rows_make_one_noise_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = vec![HEADER.to_string()];
    for (variant, label, jobs) in [("baseline", "half", 2), ("poison", "half", 2), ("baseline", "optimal", 4), ("poison", "optimal", 4)] {
        for run in 1..=5u32 {
            let (other, noise) = if run == 2 {
                ("180.0", BUSY.to_string())
            } else if run == 4 && variant == "poison" {
                ("250.0", "other processes used 250 % of a CPU (limit 20 %)".to_string())
            } else {
                ("3.0", String::new())
            };
            lines.push(format!(
                "1,{variant},{label},{jobs},{run},ok,{},70.0,5.0,90.0,100,200,1000,0,,6.1.0,console=ttyS0,2026-11-29T08:00:00Z,{other},{noise}",
                40.0 + f64::from(run) / 10.0
            ));
        }
    }
    std::fs::write(dir.path().join("runs.csv"), lines.join("\n") + "\n").unwrap();
    let out = bench(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let noise: Vec<&str> = stderr.lines().filter(|l| l.contains("noisy host")).collect();
    assert_eq!(noise.len(), 1, "one noise warning for four noisy rows:\n{stderr}");
    assert!(
        noise[0].contains("6 of 20 successful runs") && noise[0].contains("the worst: poison half run 4: other processes used 250 %"),
        "{}",
        noise[0]
    );
    assert_eq!(stderr.matches("quiet_host").count(), 1, "the advice once:\n{stderr}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert_eq!(md.matches("quiet_host").count(), 1, "{md}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<tr class=\"noisy\">").count(), 6, "every noisy run is in the run list");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("trust: ⚠ 6 of 20 runs measured on a noisy host"), "the headline ends the output:\n{stdout}");
}
