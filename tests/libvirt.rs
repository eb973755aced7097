//! The libvirt backend on real guests through a real libvirt daemon (this host's
//! qemu:///system, started by scripts/start-libvirtd.sh), locally and through ssh.
//! Needs root (qemu:///system, an sshd on loopback).

mod common;
use common::libvirt::*;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TWO_VARIANTS: &str = r#"
runs = 2
warmup = 1
jobs = ["half", "optimal"]

[[variant]]
name = "baseline"

[[variant]]
name = "poison"
cmdline = "slub_debug=P"

[workload]
kind = "command"
command = "for w in $(seq {jobs}); do (for i in $(seq 100); do /bin/true; done) & done; wait"
"#;

const ONE_RUN: &str = r#"
runs = 1
warmup = 0
jobs = [1]

[[variant]]
name = "only"

[workload]
kind = "command"
command = "/bin/true"
"#;

/// (variant, level, -j, run, status) of every row: what the study measured, not how.
fn shape(results: &Path) -> BTreeSet<(String, String, String, String, String)> {
    read_rows(&results.join("runs.csv"))
        .into_iter()
        .map(|r| (r["variant"].clone(), r["jobs_label"].clone(), r["jobs"].clone(), r["run"].clone(), r["status"].clone()))
        .collect()
}

#[test]
fn the_tiny_study_gives_the_same_rows_through_libvirt_as_through_qemu() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "same", TWO_VARIANTS);
    let qemu_root = dir.path().join("qemu");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", qemu_root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    let libvirt_root = dir.path().join("libvirt");
    let child = bench_child(&["run", scenario.to_str().unwrap(), "--results", libvirt_root.to_str().unwrap(), "--backend", "libvirt"]);
    let (pid, out) = finish(child);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let (qemu_results, libvirt_results) = (results_dir(&qemu_root, "same"), results_dir(&libvirt_root, "same"));
    let rows = shape(&libvirt_results);
    assert_eq!(rows.len(), 2 * 2 * 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.4 == "ok"), "{rows:?}");
    assert_eq!(rows, shape(&qemu_results));

    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(libvirt_results.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["hypervisor"]["backend"], "libvirt");
    let version = meta["hypervisor"]["version"].as_str().unwrap();
    assert!(version.starts_with("libvirt ") && version.contains(SYSTEM), "{version}");
    // Each boot's console came back through its stream into the results folder.
    for variant in ["baseline", "poison"] {
        let console = std::fs::read_to_string(libvirt_results.join(format!("console/{variant}-boot1.log"))).unwrap();
        assert!(console.contains("kbench-agent: step"), "console of {variant}:\n{console}");
    }
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
}

#[test]
fn a_command_line_full_of_xml_reaches_the_guest_byte_for_byte() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let hostile = r#"kb.x="a<b>&amp;c" kb.y='q' kb.z=]]> kb.w=</cmdline><on_crash>preserve</on_crash>"#;
    let body = ONE_RUN.replace("name = \"only\"", &format!("name = \"only\"\ncmdline = '''{hostile}'''"));
    let scenario = tiny_scenario(dir.path(), "escape", &body);
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "escape").join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "ok", "{rows:?}");
    // runs.csv's cmdline is the guest's /proc/cmdline.
    let cmdline = &rows[0]["cmdline"];
    assert!(cmdline.ends_with(&format!("quiet {hostile}")), "the guest booted with {cmdline:?}");
    assert!(domains_of(pid).is_empty());
}

#[test]
fn kill_9_of_bench_leaves_no_domain() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let body = ONE_RUN.replace("command = \"/bin/true\"", "command = \"sleep 600\"");
    let scenario = tiny_scenario(dir.path(), "killed", &body);
    let root = dir.path().join("results");
    let mut child = bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt"]);
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    while domains_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "bench started no domain within 120 s");
        assert!(child.try_wait().unwrap().is_none(), "bench ended early: {}", describe(&child.wait_with_output().unwrap()));
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the guest boot far enough to be running the workload.
    std::thread::sleep(Duration::from_secs(5));
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !domains_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "domains outlived bench by 30 s: {:?}", domains_of(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    // Nor any file: the initrd composed with the agent lives in memory only.
    let prefix = format!("kbench-libvirt-{pid}-");
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "scratch left by the killed bench: {left:?}");
}

/// Issue 19 item 13: the initrd composed with the agent went through a scratch folder in
/// the temporary folder, which a kill -9 during its upload left there. With a temporary
/// folder where nothing can be created (a file), the study still runs: bench writes
/// nothing there, whatever the results folder's path.
#[test]
fn a_libvirt_study_writes_nothing_in_the_temporary_folder() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "notmp", ONE_RUN);
    let not_a_folder = dir.path().join("tmp");
    std::fs::write(&not_a_folder, "a file: nothing can be created under it").unwrap();
    let root = dir.path().join("r".repeat(120));
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt"])
        .env("KBENCH_AGENT", agent())
        .env("TMPDIR", &not_a_folder)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(shape(&results_dir(&root, "notmp")).len(), 1);
}

#[test]
fn an_unreachable_host_is_a_clear_error_within_a_bounded_time() {
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "unreachable", ONE_RUN);
    let root = dir.path().join("results");
    let uri = "qemu+ssh://root@127.0.0.1:1/system?no_tty=1";
    let started = Instant::now();
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt", "--uri", uri]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot connect to libvirt at {uri}")), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(90), "took {:?}", started.elapsed());
    assert!(!root.exists(), "nothing measured, no results folder");
    let out = bench(&["check", scenario.to_str().unwrap(), "--backend", "libvirt", "--uri", uri]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PROBLEM  libvirt: cannot connect to libvirt at"), "{}", describe(&out));
}

#[test]
fn bench_check_reports_the_libvirt_host() {
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "checked", ONE_RUN);
    let out = bench(&["check", scenario.to_str().unwrap(), "--backend", "libvirt"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let cpus = std::thread::available_parallelism().unwrap().get();
    for expected in
        [format!("libvirt: {SYSTEM}: libvirt "), "accel: ".into(), format!("libvirt host: {cpus} CPUs, "), "kernel of only: ".into()]
    {
        assert!(stdout.contains(&expected), "expected {expected:?} in:\n{stdout}");
    }
}

#[test]
fn a_study_runs_through_a_remote_transport_over_ssh() {
    let _guard = guest_lock();
    libvirtd();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "remote", ONE_RUN);
    let root = dir.path().join("results");
    let uri = format!("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&no_verify=1&no_tty=1", sshd.port, sshd.user_key.display());
    let (pid, out) = finish(bench_child(&[
        "run",
        scenario.to_str().unwrap(),
        "--results",
        root.to_str().unwrap(),
        "--backend",
        "libvirt",
        "--uri",
        &uri,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "remote");
    let rows = read_rows(&results.join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "ok", "{rows:?}");
    assert!(num(&rows[0], "elapsed_s") > 0.0);
    let meta = std::fs::read_to_string(results.join("meta.json")).unwrap();
    assert!(meta.contains(&format!("127.0.0.1:{}", sshd.port)), "meta.json names the remote URI:\n{meta}");
    assert!(sshd.log().contains("Accepted publickey for root"), "bench did not come through ssh:\n{}", sshd.log());
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
    // A host reached through a transport is another host: its noise cannot be read here.
    assert_eq!((rows[0]["host_other_cpu_percent"].as_str(), rows[0]["noise"].as_str()), ("", ""), "{rows:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("the host's noise could not be sampled: the guests run on another host").count(), 1, "{stderr}");
}

#[test]
fn a_local_libvirt_guest_s_qemu_is_found_and_the_host_sampled_around_its_run() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "sampled", ONE_RUN);
    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt"]));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "sampled").join("runs.csv"));
    // Sampled at all means the domain's QEMU was found alive (libvirt's pid file): a window
    // over a process that is not there fails and leaves the columns empty.
    assert!(num(&rows[0], "host_other_cpu_percent") >= 0.0 && num(&rows[0], "host_load1") >= 0.0, "{rows:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could not be sampled"), "{}", describe(&out));
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
}

/// The volume name bench gives a file: its name and the start of its sha256.
fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn virsh(args: &[&str]) -> std::process::Output {
    Command::new("virsh").args(["-q", "-c", SYSTEM]).args(args).output().expect("run virsh")
}

#[test]
fn a_volume_that_records_another_checksum_is_refused_before_anything_boots() {
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    // A kernel of this test's own (one more byte): its volume is no other test's.
    let kernel = dir.path().join(format!("vmlinuz-mismatch-{}", std::process::id()));
    let mut bytes = std::fs::read(tiny_kernel()).unwrap();
    bytes.extend_from_slice(format!("{:?}", Instant::now()).as_bytes());
    std::fs::write(&kernel, bytes).unwrap();
    let name = format!("{}-{}", kernel.file_name().unwrap().to_str().unwrap(), &sha256(&kernel)[..16]);
    let scenario = tiny_scenario(dir.path(), "mismatch", ONE_RUN);
    let text = std::fs::read_to_string(&scenario).unwrap().replace(&tiny_kernel().display().to_string(), &kernel.display().to_string());
    std::fs::write(&scenario, text).unwrap();
    // The pool as bench creates it (docs/libvirt.md), holding the volume with a wrong record.
    if !virsh(&["pool-info", "kbench"]).status.success() {
        virsh(&["pool-define-as", "kbench", "dir", "--target", "/var/lib/libvirt/images/kbench"]);
        virsh(&["pool-build", "kbench"]);
        virsh(&["pool-start", "kbench"]);
    }
    let record = dir.path().join("record");
    std::fs::write(&record, format!("{}\n", "0".repeat(64))).unwrap();
    let record_name = format!("{name}.sha256");
    for (volume, size) in [(name.as_str(), "1"), (record_name.as_str(), "65")] {
        let out = virsh(&["vol-create-as", "kbench", volume, size, "--format", "raw"]);
        assert!(out.status.success(), "{}", describe(&out));
    }
    let out = virsh(&["vol-upload", "--pool", "kbench", &record_name, record.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));

    let root = dir.path().join("results");
    let (pid, out) = finish(bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt"]));
    for volume in [&name, &record_name] {
        virsh(&["vol-delete", "--pool", "kbench", volume]);
    }
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("the volume {name} in storage pool kbench records sha256 {}", "0".repeat(64))), "{stderr}");
    assert!(stderr.contains("virsh vol-delete"), "says what to do: {stderr}");
    assert!(!root.exists(), "refused before the study started");
    assert!(domains_of(pid).is_empty());
}

#[test]
fn a_lost_connection_fails_the_boot_and_the_retry_reconnects() {
    let _guard = guest_lock();
    libvirtd();
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let body = ONE_RUN.replace("runs = 1", "runs = 2").replace("command = \"/bin/true\"", "command = \"sleep 4\"");
    let scenario = tiny_scenario(dir.path(), "lost", &body);
    let root = dir.path().join("results");
    let uri = format!("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&no_verify=1&no_tty=1", sshd.port, sshd.user_key.display());
    let mut child =
        bench_child(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap(), "--backend", "libvirt", "--uri", &uri]);
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    while domains_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "bench started no domain within 120 s");
        assert!(child.try_wait().unwrap().is_none(), "bench ended early: {}", describe(&child.wait_with_output().unwrap()));
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(8));
    // Cut the transport: the ssh that carries bench's connection.
    let ssh = Command::new("pgrep").args(["-P", &pid.to_string(), "-x", "ssh"]).output().unwrap();
    let ssh = String::from_utf8_lossy(&ssh.stdout).trim().to_string();
    assert!(!ssh.is_empty(), "bench has no ssh child");
    Command::new("kill").arg("-9").args(ssh.split_whitespace()).status().unwrap();
    let (_, out) = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("booting again for the remaining runs"), "{}", describe(&out));
    assert!(stderr.contains(&format!("the connection to libvirt at {uri} was lost")), "the cause is named: {}", describe(&out));
    let rows = read_rows(&results_dir(&root, "lost").join("runs.csv"));
    assert_eq!(rows.len(), 2, "every run is on record: {rows:?}");
    assert!(rows.iter().any(|r| r["status"] == "ok"), "the retry measured: {rows:?}");
    // Exit 0 when the cut came during the boot, 1 when it cost a run.
    let failed = rows.iter().filter(|r| r["status"] != "ok").count();
    assert_eq!(out.status.code(), Some(if failed == 0 { 0 } else { 1 }), "{}", describe(&out));
    assert!(domains_of(pid).is_empty(), "domains left: {:?}", domains_of(pid));
}

/// A folder on the libvirt host (this one) that stands for a lab host's own storage, and
/// is removed with the test.
struct HostFolder(PathBuf);

impl HostFolder {
    fn new(tag: &str) -> HostFolder {
        let path = PathBuf::from(format!("/var/lib/libvirt/images/kbench-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        HostFolder(path)
    }
}

impl Drop for HostFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The storage pools of the daemon whose name starts with `prefix`.
fn pools(prefix: &str) -> Vec<String> {
    let out = virsh(&["pool-list", "--all", "--name"]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|n| n.starts_with(prefix)).map(String::from).collect()
}

/// bench with its checksum cache in `cache` (never the user's).
fn bench_cached(cache: &Path, args: &[&str]) -> (u32, std::process::Output) {
    let child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .env("KBENCH_AGENT", agent())
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bench");
    finish(child)
}

#[test]
fn a_kernel_the_host_holds_is_checked_and_booted_in_place() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    // The local reference under a name of this test's own: were it uploaded, its volume
    // would show in the pool.
    let local = dir.path().join(format!("vmlinuz-remote-{}", std::process::id()));
    std::fs::copy(tiny_kernel(), &local).unwrap();
    let host = HostFolder::new("remote");
    let remote = host.0.join("vmlinuz");
    std::fs::copy(tiny_kernel(), &remote).unwrap();
    let scenario = tiny_scenario(dir.path(), "remote-kernel", ONE_RUN);
    let text = std::fs::read_to_string(&scenario).unwrap().replace(&tiny_kernel().display().to_string(), &local.display().to_string())
        + &format!("backend = \"libvirt\"\nremote = {{ kernel = \"{}\" }}\n", remote.display());
    std::fs::write(&scenario, text).unwrap();

    let root = dir.path().join("results");
    let (pid, out) = bench_cached(dir.path(), &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let results = results_dir(&root, "remote-kernel");
    let rows = shape(&results);
    let expected: BTreeSet<_> = [("only".to_string(), "1".to_string(), "1".to_string(), "1".to_string(), "ok".to_string())].into();
    assert_eq!(rows, expected);
    let console = std::fs::read_to_string(results.join("console/only-boot1.log")).unwrap();
    assert!(console.contains("kbench-agent: step"), "{console}");
    let uploaded: Vec<String> =
        pool_volumes().into_iter().filter(|v| v.starts_with(&format!("vmlinuz-remote-{}", std::process::id()))).collect();
    assert!(uploaded.is_empty(), "the kernel was uploaded after all: {uploaded:?}");
    // The local file stays the reference the results record.
    let meta = std::fs::read_to_string(results.join("meta.json")).unwrap();
    assert!(meta.contains(&local.display().to_string()), "{meta}");
    assert!(pools(&format!("kbench-remote-{pid}-")).is_empty(), "the check's pool is gone");
    assert!(domains_of(pid).is_empty());
    assert_eq!(std::fs::read(&remote).unwrap(), std::fs::read(tiny_kernel()).unwrap(), "the host's file is untouched");
    // The verified checksum is remembered for the next study on the unchanged file.
    let cache = std::fs::read_to_string(dir.path().join("kbench/remote-sha256")).unwrap();
    let line = format!("{SYSTEM}\t{}\t", remote.display());
    assert!(cache.lines().any(|l| l.starts_with(&line) && l.ends_with(&sha256(&local))), "{cache}");
}

#[test]
fn a_host_file_that_differs_or_is_missing_is_refused_before_anything_boots() {
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let host = HostFolder::new("differs");
    let remote = host.0.join("vmlinuz");
    let mut bytes = std::fs::read(tiny_kernel()).unwrap();
    bytes[4096] ^= 1;
    std::fs::write(&remote, &bytes).unwrap();
    for (path, says) in [(remote.clone(), "has sha256"), (host.0.join("absent"), "does not exist")] {
        let scenario = tiny_scenario(dir.path(), "differs", ONE_RUN);
        let text = std::fs::read_to_string(&scenario).unwrap()
            + &format!("backend = \"libvirt\"\nremote = {{ kernel = \"{}\" }}\n", path.display());
        std::fs::write(&scenario, text).unwrap();
        let root = dir.path().join("results");
        let (pid, out) = bench_cached(dir.path(), &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for part in ["key `guest.remote.kernel`", SYSTEM, &path.display().to_string(), says] {
            assert!(stderr.contains(part), "{part:?} in {stderr}");
        }
        assert!(!root.exists(), "refused before the study started");
        assert!(domains_of(pid).is_empty());
        assert!(pools(&format!("kbench-remote-{pid}-")).is_empty(), "the check's pool is gone");
    }
}

/// A sparse file: 1 MiB of data at the start and one in the middle of 64 MiB.
fn sparse_file(path: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::File::create(path).unwrap();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    file.write_all(&data).unwrap();
    file.seek(SeekFrom::Start(30 << 20)).unwrap();
    file.write_all(&data).unwrap();
    file.write_all(format!("{:?}", Instant::now()).as_bytes()).unwrap();
    file.set_len(64 << 20).unwrap();
}

fn vol_info_bytes(volume: &str, field: &str) -> u64 {
    let out = virsh(&["vol-info", "--bytes", "--pool", "kbench", volume]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_sparse_disk_is_uploaded_with_its_holes_and_its_content_intact() {
    let _guard = guest_lock();
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join(format!("sparse-{}.img", std::process::id()));
    sparse_file(&disk);
    let name = format!("{}-{}", disk.file_name().unwrap().to_str().unwrap(), &sha256(&disk)[..16]);
    // The disk is no file system: the guest fails once it is booted, after the upload.
    let body = ONE_RUN.replace("runs = 1", "runs = 1\n");
    let scenario = tiny_scenario(dir.path(), "sparse", &body);
    let text = std::fs::read_to_string(&scenario).unwrap()
        + &format!("backend = \"libvirt\"\nretries = 0\ndisk = \"{}\"\nroot = {{ wait = 1 }}\n", disk.display());
    std::fs::write(&scenario, text).unwrap();
    let root = dir.path().join("results");
    let (pid, out) = bench_cached(dir.path(), &["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()]);
    assert!(domains_of(pid).is_empty());
    let downloaded = dir.path().join("downloaded");
    let download = virsh(&["vol-download", "--pool", "kbench", &name, downloaded.to_str().unwrap()]);
    let (allocation, capacity) = (vol_info_bytes(&name, "Allocation:"), vol_info_bytes(&name, "Capacity:"));
    for volume in [format!("{name}.sha256"), name.clone()] {
        virsh(&["vol-delete", "--pool", "kbench", &volume]);
    }
    assert!(download.status.success(), "{}\n{}", describe(&download), describe(&out));
    assert_eq!(sha256(&downloaded), sha256(&disk), "the volume holds the file");
    assert_eq!(capacity, 64 << 20);
    assert!(allocation < 8 << 20, "the holes stayed holes: {allocation} bytes allocated");
}

#[test]
fn pruning_removes_an_old_kbench_pair_and_keeps_the_scenarios_and_foreign_volumes() {
    libvirtd();
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    // The scenario's disk, its pair in the pool as bench names it, last used long ago.
    let disk = dir.path().join(format!("prune-disk-{pid}.img"));
    std::fs::write(&disk, format!("disk {:?}", Instant::now())).unwrap();
    let current = format!("{}-{}", disk.file_name().unwrap().to_str().unwrap(), &sha256(&disk)[..16]);
    let old = format!("prune-old-{pid}-0123456789abcdef");
    let foreign = format!("prune-foreign-{pid}.img");
    let foreign_like = format!("prune-foreign-{pid}-0123456789abcdef");
    let _ = pool_volumes();
    if !virsh(&["pool-info", "kbench"]).status.success() {
        virsh(&["pool-define-as", "kbench", "dir", "--target", "/var/lib/libvirt/images/kbench"]);
        virsh(&["pool-build", "kbench"]);
        virsh(&["pool-start", "kbench"]);
    }
    // `foreign_like` has kbench's name but no sidecar: not a pair kbench completed.
    let made = [current.clone(), format!("{current}.sha256"), old.clone(), format!("{old}.sha256"), foreign.clone(), foreign_like.clone()];
    for volume in &made {
        let out = virsh(&["vol-create-as", "kbench", volume, "1", "--format", "raw"]);
        assert!(out.status.success(), "{}", describe(&out));
        let touch =
            Command::new("touch").args(["-d", "40 days ago"]).arg(format!("/var/lib/libvirt/images/kbench/{volume}")).status().unwrap();
        assert!(touch.success());
    }
    let scenario = tiny_scenario(dir.path(), "prune", ONE_RUN);
    let text = std::fs::read_to_string(&scenario).unwrap() + &format!("disk = \"{}\"\n", disk.display());
    std::fs::write(&scenario, text).unwrap();
    let s = scenario.to_str().unwrap();

    let listed = bench(&["pool", s, "--uri", SYSTEM, "--older-than", "30"]);
    let listed_after = pool_volumes();
    let pruned = bench(&["pool", s, "--uri", SYSTEM, "--prune", "--older-than", "30"]);
    let left = pool_volumes();
    for volume in &made {
        virsh(&["vol-delete", "--pool", "kbench", volume]);
    }
    assert_eq!(listed.status.code(), Some(0), "{}", describe(&listed));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(made.iter().all(|v| listed_after.contains(v)), "listing removes nothing: {listed_after:?}");
    let line = |text: &str, name: &str| text.lines().find(|l| l.trim_start().starts_with(&format!("{name} "))).map(String::from);
    assert!(line(&text, &old).is_some_and(|l| l.contains("--prune removes it") && l.contains("last used 40.")), "{text}");
    assert!(line(&text, &current).is_some_and(|l| l.contains("kept: a file of the scenario")), "{text}");
    assert!(line(&text, &foreign).is_none() && line(&text, &foreign_like).is_none(), "only kbench's pairs are listed: {text}");

    assert_eq!(pruned.status.code(), Some(0), "{}", describe(&pruned));
    assert!(!left.contains(&old) && !left.contains(&format!("{old}.sha256")), "the old pair is gone: {}", describe(&pruned));
    for kept in [&current, &format!("{current}.sha256"), &foreign, &foreign_like] {
        assert!(left.contains(kept), "{kept} kept: {}", describe(&pruned));
    }
}
