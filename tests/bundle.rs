//! `bench bundle` and `bench run --from-bundle` on the tiny guest: a study packed on one
//! results folder runs again from the bundle, and a kernel that changed since is refused
//! by its checksum.

mod common;

use common::*;
use std::path::Path;

fn latest(root: &Path, scenario: &str) -> std::path::PathBuf {
    root.join(scenario).join("latest").canonicalize().unwrap()
}

#[test]
fn a_bundle_runs_again_and_a_changed_kernel_is_refused_by_checksum() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // The study boots a copy of the tiny kernel, so that the test can change it.
    let kernel = dir.path().join("vmlinuz");
    std::fs::copy(tiny_kernel(), &kernel).unwrap();
    let body = format!(
        "runs = 3\nrounds = 1\nwarmup = 0\njobs = [1]\nmonitor_interval = 0\n\n[[variant]]\nname = \"base\"\nkernel = \"{}\"\n\n[workload]\nkind = \"command\"\ncommand = '''\nsleep 0.2\n# [x]\n'''\n",
        kernel.display()
    );
    let scenario = tiny_scenario(dir.path(), "bundled", &body);
    let first = dir.path().join("first");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", first.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let study = latest(&first, "bundled");
    let seed = |folder: &Path| {
        let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(folder.join("meta.json")).unwrap()).unwrap();
        meta["design"]["seed"].as_u64()
    };

    let (bare, whole) = (dir.path().join("repro.tar.gz"), dir.path().join("whole.tar.gz"));
    let out = bench(&["bundle", study.to_str().unwrap(), "-o", bare.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = bench(&["bundle", study.to_str().unwrap(), "-o", whole.to_str().unwrap(), "--with-kernels"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // Measured again from the bundle: the same study, in the same order.
    let again = dir.path().join("again");
    let out = bench(&["run", "--from-bundle", bare.to_str().unwrap(), "--results", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rerun = latest(&again, "bundled");
    assert_eq!(read_rows(&rerun.join("runs.csv")).len(), 3, "{}", describe(&out));
    assert_eq!(seed(&rerun), seed(&study), "the bundle's scenario carries the study's seed");
    let scenario_as_run = std::fs::read_to_string(rerun.join("scenario.toml")).unwrap();
    let command = scenario_as_run.parse::<toml::Table>().unwrap()["workload"]["command"].as_str().map(str::to_string);
    assert_eq!(command.as_deref(), Some("sleep 0.2\n# [x]\n"));

    // The kernel file changes: the bare bundle refuses it by its checksum, before booting.
    let mut bytes = std::fs::read(&kernel).unwrap();
    bytes.extend_from_slice(b"changed");
    std::fs::write(&kernel, bytes).unwrap();
    let refused = dir.path().join("refused");
    let out = bench(&["run", "--from-bundle", bare.to_str().unwrap(), "--results", refused.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&kernel.display().to_string()) && stderr.contains("is not the file the study measured"), "{}", describe(&out));
    assert!(!refused.join("bundled").exists(), "nothing was measured: {}", describe(&out));
    // Bundling it now with the kernel inside is refused too: it is not what was measured.
    let out = bench(&["bundle", study.to_str().unwrap(), "-o", dir.path().join("late.tar.gz").to_str().unwrap(), "--with-kernels"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed since the study measured it"), "{}", describe(&out));

    // The bundle with the kernel inside still runs: it carries the file that was measured.
    let whole_run = dir.path().join("whole");
    let out = bench(&["run", "--from-bundle", whole.to_str().unwrap(), "--results", whole_run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(read_rows(&latest(&whole_run, "bundled").join("runs.csv")).len(), 3);
}
