//! Bad input is refused before anything boots, with a message that names the file, the
//! key or the path, and what to do. Exit code 2: unusable input.

mod common;
use common::*;
use std::path::Path;

const GOOD: &str = r#"
runs = 2
[[variant]]
name = "baseline"
[[variant]]
name = "poison"
cmdline = "slub_debug=P"
[workload]
kind = "command"
command = "true"
"#;

/// Runs `bench check` on the tiny scenario with `body`, edited by `edit`.
fn check_with(edit: impl Fn(String) -> String) -> (i32, String) {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "bad", GOOD);
    let text = edit(std::fs::read_to_string(&scenario).unwrap());
    std::fs::write(&scenario, text).unwrap();
    let out = bench(&["check", scenario.to_str().unwrap(), "--results", dir.path().join("results").to_str().unwrap()]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), all)
}

fn assert_refused(edit: impl Fn(String) -> String, expected: &[&str]) {
    let (code, output) = check_with(edit);
    assert_eq!(code, 2, "{output}");
    for text in expected {
        assert!(output.contains(text), "expected {text:?} in:\n{output}");
    }
}

#[test]
fn the_good_scenario_passes_the_check() {
    let (code, output) = check_with(|t| t);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("2 variants × 2 jobs levels × 2 runs = 8 timed runs"), "{output}");
    assert!(output.contains("qemu: QEMU emulator version"), "{output}");
}

#[test]
fn malformed_toml_names_the_file_line_and_column() {
    assert_refused(|t| t.replace("runs = 2", "runs = = 2"), &["bad.toml", "line 3, column"]);
}

#[test]
fn an_unknown_key_is_named() {
    assert_refused(|t| t.replace("cpus = 2", "cpus = 2\ncpu_count = 2"), &["bad.toml", "unknown field `cpu_count`"]);
}

#[test]
fn a_missing_kernel_initrd_or_disk_is_named_with_its_key() {
    assert_refused(|t| t.replace("vm-images/tiny/vmlinuz", "vm-images/tiny/nope"), &["key `guest.kernel`", "nope"]);
    assert_refused(|t| t.replace("initramfs.cpio.gz", "missing.gz"), &["key `guest.initrd`", "missing.gz"]);
    assert_refused(|t| t.replace("[guest]", "[guest]\ndisk = \"no-such.img\""), &["key `guest.disk`", "no-such.img"]);
}

#[test]
fn a_kernel_that_is_not_a_bzimage_is_refused() {
    let initrd = tiny_initrd();
    assert_refused(
        move |t| t.replace(&tiny_kernel().display().to_string(), &initrd.display().to_string()),
        &["key `guest.kernel`", "is not an x86 kernel image"],
    );
}

#[test]
fn a_guest_bigger_than_the_host_is_refused() {
    assert_refused(|t| t.replace("cpus = 2", "cpus = 4096"), &["key `guest.cpus`", "more than this host's"]);
    assert_refused(|t| t.replace("memory = \"512M\"", "memory = \"4096G\""), &["key `guest.memory`", "more than this host's"]);
}

#[test]
fn zero_runs_no_variants_and_duplicate_names_are_refused() {
    assert_refused(|t| t.replace("runs = 2", "runs = 0"), &["key `runs`", "at least 1"]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\nrounds = 3"), &["key `rounds`", "between 1 and `runs` (2)"]);
    assert_refused(|t| t.replace("[[variant]]\nname = \"baseline\"\n[[variant]]\nname = \"poison\"\ncmdline = \"slub_debug=P\"\n", ""), &["no [[variant]]"]);
    assert_refused(|t| t.replace("name = \"poison\"", "name = \"baseline\""), &["key `variant[1].name`", "used twice"]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\njobs = [\"quarter\"]"), &["\"quarter\"", "\"half\", \"optimal\", \"max\""]);
}

#[test]
fn a_command_line_with_a_newline_is_refused() {
    assert_refused(|t| t.replace("cmdline = \"slub_debug=P\"", "cmdline = \"slub_debug=P\\nquiet\""), &["key `variant[1].cmdline`", "control character"]);
}

#[test]
fn a_libvirt_uri_without_the_libvirt_backend_and_an_unknown_backend_are_refused() {
    assert_refused(|t| t.replace("[guest]", "[guest]\nuri = \"qemu:///system\""), &["key `guest.uri`", "backend = \"libvirt\""]);
    assert_refused(|t| t.replace("[guest]", "[guest]\nbackend = \"xen\""), &["unknown variant `xen`", "`qemu`", "`libvirt`"]);
    assert_refused(
        |t| t.replace("[guest]", "[guest]\nbackend = \"libvirt\"\nqemu = \"/usr/bin/qemu-system-x86_64\""),
        &["key `guest.qemu`", "libvirt backend"],
    );
}

#[test]
fn missing_qemu_is_named() {
    assert_refused(|t| t.replace("[guest]", "[guest]\nqemu = \"/nonexistent/qemu-system-x86_64\""), &["/nonexistent/qemu-system-x86_64", "is QEMU installed?"]);
}

/// On every host: where the CPU has no vmx/svm flag that is the reason; where it has one,
/// the KVM device is pointed at a missing file, and the check must say so.
#[test]
fn kvm_asked_for_where_it_does_not_work_is_refused_with_the_reason() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "bad", GOOD);
    let text = std::fs::read_to_string(&scenario).unwrap().replace("[guest]", "[guest]\naccel = \"kvm\"");
    std::fs::write(&scenario, text).unwrap();
    let device = dir.path().join("no-kvm-device");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["check", scenario.to_str().unwrap(), "--results", dir.path().join("results").to_str().unwrap()])
        .env("KBENCH_AGENT", agent())
        .env("KBENCH_KVM_DEVICE", &device)
        .output()
        .unwrap();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let flags: Vec<&str> = cpuinfo.lines().filter(|l| l.starts_with("flags")).flat_map(str::split_whitespace).collect();
    let reason = match ["vmx", "svm"].iter().find(|flag| flags.contains(flag)) {
        None => "no vmx or svm flag".to_string(),
        Some(flag) => {
            let module = if *flag == "vmx" { "kvm_intel" } else { "kvm_amd" };
            if Path::new("/sys/module").join(module).exists() {
                format!("{} cannot be opened for reading and writing", device.display())
            } else {
                format!("the {module} module is not loaded")
            }
        }
    };
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for expected in ["key `guest.accel`", "KVM does not work here", &reason] {
        assert!(output.contains(expected), "expected {expected:?} in:\n{}", describe(&out));
    }
}

#[test]
fn an_unwritable_results_folder_is_refused_before_booting() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "bad", GOOD);
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let results = blocker.join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create the results folder"), "{}", describe(&out));
    assert!(!Path::new(&results).exists());
}

#[test]
fn a_missing_agent_says_how_to_build_it() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "bad", GOOD);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", scenario.to_str().unwrap(), "--results", dir.path().to_str().unwrap()])
        .env("KBENCH_AGENT", "/nonexistent/bench-agent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scripts/build-agent.sh"), "{}", describe(&out));
}

#[test]
fn a_closed_stdout_ends_bench_quietly_like_any_filter() {
    use std::os::unix::process::ExitStatusExt;
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "pipe", GOOD);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["check", scenario.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // `bench check | head -0`
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success() || out.status.signal() == Some(13), "{:?}", out.status);
}
