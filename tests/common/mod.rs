//! Shared by the real-guest tests: builds the agent and the tiny guest once, writes
//! scenarios, runs the real `bench` binary, and reads what it wrote.
#![allow(dead_code)]

pub mod libvirt;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, Once};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target folder these tests were built in (CARGO_TARGET_DIR, `--target-dir` or
/// target/): `bench` is `<it>/debug/bench`.
pub fn target_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_BIN_EXE_bench"));
    bench.parent().and_then(Path::parent).expect("bench lies in <target>/<profile>/").to_path_buf()
}

pub fn agent() -> PathBuf {
    target_dir().join("x86_64-unknown-linux-gnu/release/bench-agent")
}

pub fn tiny_kernel() -> PathBuf {
    repo().join("vm-images/tiny/vmlinuz")
}

pub fn tiny_initrd() -> PathBuf {
    repo().join("vm-images/tiny/initramfs.cpio.gz")
}

pub fn debian_image() -> PathBuf {
    repo().join("vm-images/debian")
}

/// Like `guest_lock`, and makes sure the Debian image exists (built once, idempotently).
pub fn debian_guest_lock() -> MutexGuard<'static, ()> {
    let guard = guest_lock();
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        let out = Command::new(repo().join("scripts/build-debian-image.sh")).output().expect("run build-debian-image.sh");
        assert!(out.status.success(), "build-debian-image.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
    });
    guard
}

/// A scenario on the Debian image: `[guest]` filled in, the rest from `body`.
pub fn debian_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let image = debian_image();
    let text = format!(
        "name = \"{name}\"\n{body}\n[guest]\nkernel = \"{}\"\ninitrd = \"{}\"\ndisk = \"{}\"\ncpus = 2\nmemory = \"2G\"\ncmdline = \"quiet\"\nboot_timeout = 300\nrun_timeout = 1800\n",
        image.join("vmlinuz").display(),
        image.join("initrd.img").display(),
        image.join("root.ext4").display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Guests are serialized: two TCG guests on a 2-core machine would only slow each other.
pub fn guest_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    ensure_guest();
    guard
}

/// Runs the idempotent build scripts once per test binary.
fn ensure_guest() {
    static BUILT: Once = Once::new();
    BUILT.call_once(|| {
        for script in ["scripts/build-agent.sh", "scripts/build-tiny-guest.sh"] {
            // The agent goes where agent() looks, whatever told cargo where to build.
            let out = Command::new(repo().join(script)).env("CARGO_TARGET_DIR", target_dir()).output().expect("run build script");
            assert!(out.status.success(), "{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    });
}

/// A scenario on the tiny guest: `[guest]` filled in, the rest from `body`.
pub fn tiny_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\n{body}\n[guest]\nkernel = \"{}\"\ninitrd = \"{}\"\ncpus = 2\nmemory = \"512M\"\ncmdline = \"quiet\"\nboot_timeout = 300\n",
        tiny_kernel().display(),
        tiny_initrd().display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench")).args(args).env("KBENCH_AGENT", agent()).output().expect("run bench")
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `bench ARGS` in the background, its output captured.
pub fn bench_child(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .env("KBENCH_AGENT", agent())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start bench")
}

/// Waits for a `bench_child`: its pid and what it printed.
pub fn finish(child: std::process::Child) -> (u32, Output) {
    let pid = child.id();
    (pid, child.wait_with_output().expect("wait for bench"))
}

/// `bench run` in the background, for tests that signal it while its guest runs. Its
/// temporary folder is `tmp` beside `root`, where a test can see what it leaves.
pub fn spawn_run(scenario: &Path, root: &Path) -> std::process::Child {
    let tmp = root.with_file_name("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()])
        .env("KBENCH_AGENT", agent())
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The one results folder under `root/<scenario>/`.
pub fn results_dir(root: &Path, scenario: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(scenario))
        .unwrap_or_else(|e| panic!("no results for {scenario}: {e}"))
        .map(|e| e.unwrap())
        // `latest` is a link to the newest folder, not a folder of its own.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

pub type Row = std::collections::HashMap<String, String>;

pub fn read_rows(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.deserialize::<Row>().map(|r| r.unwrap()).collect()
}

/// The results folder under `root/<scenario>/` once its runs.csv has `rows` data rows
/// (a study still running); at most 300 s.
pub fn wait_for_rows(root: &Path, scenario: &str, rows: usize) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        if let Ok(entries) = std::fs::read_dir(root.join(scenario)) {
            for entry in entries.flatten() {
                let csv = entry.path().join("runs.csv");
                if csv.exists() && read_rows(&csv).len() >= rows {
                    return entry.path();
                }
            }
        }
        assert!(std::time::Instant::now() < deadline, "no {rows} rows in time");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub fn num(row: &Row, column: &str) -> f64 {
    row.get(column).unwrap_or_else(|| panic!("no column {column}")).parse().unwrap_or_else(|_| panic!("{column}: {:?}", row[column]))
}

/// No qemu this test started may survive it.
pub fn assert_no_qemu_left(marker: &Path) {
    let out = Command::new("pgrep").args(["-f", &marker.display().to_string()]).output().unwrap();
    let pids = String::from_utf8_lossy(&out.stdout);
    assert!(pids.trim().is_empty(), "qemu processes left behind: {pids}");
}
