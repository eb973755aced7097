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

/// The tiny scenario with `GOOD` as its body, edited by `edit`.
fn edited_scenario(dir: &Path, edit: &dyn Fn(String) -> String) -> std::path::PathBuf {
    let scenario = tiny_scenario(dir, "bad", GOOD);
    let text = edit(std::fs::read_to_string(&scenario).unwrap());
    std::fs::write(&scenario, text).unwrap();
    scenario
}

/// Runs `bench check` on the tiny scenario with `body`, edited by `edit`.
fn check_with(edit: impl Fn(String) -> String) -> (i32, String) {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = edited_scenario(dir.path(), &edit);
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

/// What `bench check` refuses, `bench run` refuses too, before it creates the results
/// folder or boots anything, with the same words.
fn assert_refused_by_check_and_run(edit: impl Fn(String) -> String, expected: &[&str]) {
    assert_refused(&edit, expected);
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = edited_scenario(dir.path(), &edit);
    let results = dir.path().join("results");
    let out = bench(&["run", scenario.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for text in expected {
        assert!(stderr.contains(text), "expected {text:?} from bench run in:\n{}", describe(&out));
    }
    assert!(!results.exists(), "bench run created {} before refusing", results.display());
    assert_no_qemu_left(dir.path());
}

#[test]
fn the_good_scenario_passes_the_check() {
    let (code, output) = check_with(|t| t);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("2 variants × 2 jobs levels × 2 runs = 8 timed runs"), "{output}");
    assert!(output.contains("qemu: QEMU emulator version"), "{output}");
    assert!(output.contains("prepare: none in this workload"), "{output}");
    assert!(output.contains("warm-up: 6 h (the default step ceiling)"), "{output}");
    assert!(output.contains("timed run: 5 × the longest warm-up of the boot, at least 60 s"), "{output}");
    assert!(output.contains("study: no limit set (guest.study_timeout); at most "), "{output}");
}

#[test]
fn a_zero_prepare_timeout_is_refused() {
    assert_refused(|t| t.replace("cpus = 2", "cpus = 2\nprepare_timeout = 0"), &["key `guest.prepare_timeout`"]);
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
    assert_refused(
        |t| t.replace("[[variant]]\nname = \"baseline\"\n[[variant]]\nname = \"poison\"\ncmdline = \"slub_debug=P\"\n", ""),
        &["no [[variant]]"],
    );
    assert_refused(|t| t.replace("name = \"poison\"", "name = \"baseline\""), &["key `variant[1].name`", "used twice"]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\njobs = [\"quarter\"]"), &["\"quarter\"", "\"half\", \"optimal\", \"max\""]);
}

#[test]
fn a_command_line_with_a_newline_is_refused() {
    assert_refused(
        |t| t.replace("cmdline = \"slub_debug=P\"", "cmdline = \"slub_debug=P\\nquiet\""),
        &["key `variant[1].cmdline`", "control character"],
    );
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
    assert_refused(
        |t| t.replace("[guest]", "[guest]\nqemu = \"/nonexistent/qemu-system-x86_64\""),
        &["/nonexistent/qemu-system-x86_64", "is QEMU installed?"],
    );
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

#[test]
fn names_that_are_no_file_names_are_refused() {
    for (name, expected) in [
        ("..", "is not a usable name"),
        (".", "is not a usable name"),
        ("a\\u0007b", "is not a usable name"),
        ("a b", "is not a usable name"),
    ] {
        assert_refused_by_check_and_run(move |t| t.replace("name = \"bad\"", &format!("name = \"{name}\"")), &["key `name`", expected]);
    }
    let long = "s".repeat(300);
    assert_refused_by_check_and_run(
        move |t| t.replace("name = \"bad\"", &format!("name = \"{long}\"")),
        &["key `name`", "300 bytes long, at most 64"],
    );
}

#[test]
fn a_variant_name_too_long_for_its_files_is_refused() {
    let long = "v".repeat(90);
    assert_refused_by_check_and_run(
        move |t| t.replace("name = \"poison\"", &format!("name = \"{long}\"")),
        &["key `variant[1].name`", "90 bytes long, at most 64"],
    );
}

#[test]
fn memory_too_small_for_the_initrd_is_refused_with_the_floor() {
    assert_refused_by_check_and_run(
        |t| t.replace("memory = \"512M\"", "memory = \"1M\""),
        &["key `guest.memory`", "1 MiB is too little", "at least 132 MiB"],
    );
}

#[test]
fn a_nul_or_an_oversized_command_is_refused() {
    assert_refused_by_check_and_run(|t| t.replace("command = \"true\"", "command = \"true\\u0000x\""), &["key `workload.command`", "NUL"]);
    let long = format!("echo {}", "x".repeat(130 * 1024));
    assert_refused_by_check_and_run(
        move |t| t.replace("command = \"true\"", &format!("command = \"true\"\nprepare = \"{long}\"")),
        &["key `workload.prepare`", "at most 65536"],
    );
}

#[test]
fn kernel_options_that_take_the_guest_from_kbench_are_refused() {
    assert_refused_by_check_and_run(
        |t| t.replace("cmdline = \"slub_debug=P\"", "cmdline = \"rdinit=/bin/sh\""),
        &["key `variant[1].cmdline`", "\"rdinit=/bin/sh\" is not allowed", "replaces the agent"],
    );
    assert_refused(
        |t| t.replace("cmdline = \"quiet\"", "cmdline = \"quiet console=ttyS1\""),
        &["key `guest.cmdline`", "ttyS1 is kbench's channel"],
    );
    assert_refused(|t| t.replace("cmdline = \"quiet\"", "cmdline = \"quiet panic=0\""), &["key `guest.cmdline`", "panic=-1"]);
}

/// Issue 19 item 7: kernel output on the agent's port in any spelling, and words the
/// kernel hands to the agent as its arguments, were accepted and broke the run.
#[test]
fn the_agents_port_in_any_spelling_and_words_for_init_are_refused() {
    let port = "ttyS1 is kbench's channel to the agent";
    for option in [
        "console=uart8250,io,760,115200",
        "console=uart,io,0x2f8",
        "earlyprintk=serial,1,115200,keep",
        "earlyprintk=ttyS1",
        "earlycon=uart8250,io,760 keep_bootcon",
    ] {
        let cmdline = format!("cmdline = \"quiet {option}\"");
        let first = option.split(' ').next().unwrap();
        assert_refused_by_check_and_run(
            move |t| t.replace("cmdline = \"quiet\"", &cmdline),
            &["key `guest.cmdline`", &format!("{first:?} is not allowed"), port],
        );
    }
    let init = "which takes it for its channel";
    for (cmdline, word) in [("single", "single"), ("foo bar", "foo")] {
        assert_refused_by_check_and_run(
            move |t| t.replace("cmdline = \"slub_debug=P\"", &format!("cmdline = \"slub_debug=P {cmdline}\"")),
            &["key `variant[1].cmdline`", &format!("{word:?} is not allowed"), init, "quiet, debug, ro, rw"],
        );
    }
    assert_refused_by_check_and_run(
        |t| t.replace("cmdline = \"quiet\"", "cmdline = \"quiet -- /dev/ttyS0\""),
        &["key `guest.cmdline`", "\"--\" is not allowed", "everything after `--`"],
    );
}

#[test]
fn a_qemu_that_is_not_qemu_is_refused() {
    assert_refused_by_check_and_run(
        |t| t.replace("[guest]", "[guest]\nqemu = \"/bin/false\""),
        &["/bin/false is not QEMU", "QEMU emulator version"],
    );
    assert_refused(|t| t.replace("[guest]", "[guest]\nqemu = \"/bin/echo\""), &["/bin/echo is not QEMU"]);
}

#[test]
fn time_limits_beyond_a_week_are_refused_not_a_panic() {
    const HUGE: &str = "9223372036854775807";
    for (key, replacement) in [
        ("run_timeout", format!("boot_timeout = 300\nrun_timeout = {HUGE}")),
        ("study_timeout", format!("boot_timeout = 300\nstudy_timeout = {HUGE}")),
        ("prepare_timeout", format!("boot_timeout = 300\nprepare_timeout = {HUGE}")),
        ("boot_timeout", format!("boot_timeout = {HUGE}")),
    ] {
        assert_refused_by_check_and_run(
            move |t| t.replace("boot_timeout = 300", &replacement),
            &[&format!("key `guest.{key}`"), "from 1 to 604800 (7 days)"],
        );
    }
}

#[test]
fn counts_beyond_their_bounds_are_refused() {
    assert_refused(|t| t.replace("runs = 2", "runs = 4000000000"), &["key `runs`", "at most 1000"]);
    assert_refused(|t| t.replace("[guest]", "[guest]\nretries = 4294967295"), &["key `guest.retries`", "at most 100"]);
}

#[test]
fn bad_order_adaptive_runs_quiet_host_and_pinning_keys_are_refused() {
    assert_refused(|t| t.replace("runs = 2", "runs = 2\norder = \"shuffled\""), &["\"shuffled\"", "alternate", "random"]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\norder = \"alternate\"\nseed = 3"), &["key `seed`", "only `order = \"random\"`"]);
    assert_refused(|t| t.replace("runs = 2", "runs = \"many\""), &["\"many\"", r#"a number of runs (5) or "auto""#]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\nprecision = 1.0"), &["key `precision`", "only used with runs = \"auto\""]);
    assert_refused(|t| t.replace("runs = 2", "runs = \"auto\"\nmin_runs = 2"), &["key `min_runs`", "at least 3"]);
    assert_refused(|t| t.replace("runs = 2", "runs = 2\nquiet_host = { max_load = 0.5, wait = 0 }"), &["key `quiet_host.wait`"]);
    // Two vCPUs pinned need three host CPUs.
    let host_cpus = std::thread::available_parallelism().unwrap().get();
    let too_many = format!("cpus = {host_cpus}\npin = true");
    assert_refused(move |t| t.replace("cpus = 2", &too_many), &["key `guest.pin`", &format!("needs {} host CPUs", host_cpus + 1)]);
}

// bench check reports every problem it finds, one line per check, then one summary line.

/// The lines of `bench check`'s output that start with `prefix` after their indentation.
fn lines_starting<'a>(output: &'a str, prefix: &str) -> Vec<&'a str> {
    output.lines().filter(|l| l.trim_start().starts_with(prefix)).collect()
}

#[test]
fn check_reports_every_problem_then_one_summary_line() {
    // An invalid scenario (too many vCPUs) and a broken QEMU: the first used to hide the second.
    let (code, output) = check_with(|t| t.replace("cpus = 2", "cpus = 4096").replace("[guest]", "[guest]\nqemu = \"/bin/false\""));
    assert_eq!(code, 2, "{output}");
    let problems = lines_starting(&output, "PROBLEM");
    assert_eq!(problems.len(), 2, "{output}");
    assert!(problems[0].contains("scenario: ") && problems[0].contains("key `guest.cpus`"), "{output}");
    assert!(problems[1].contains("qemu: ") && problems[1].contains("/bin/false is not QEMU"), "{output}");
    assert!(lines_starting(&output, "ok ").iter().any(|l| l.contains("agent: ")), "the agent is still checked:\n{output}");
    let last = output.lines().last().unwrap_or_default();
    assert!(last.starts_with("2 problems (scenario, qemu); ") && last.ends_with(" checks passed"), "{output}");
}

#[test]
fn a_good_check_ends_with_all_checks_passed_and_counts_in_the_singular() {
    let (code, output) = check_with(|t| t.replace("runs = 2", "runs = 1"));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("× 1 run = 4 timed runs"), "{output}");
    assert!(output.contains("boots: 1 round per variant"), "{output}");
    assert!(lines_starting(&output, "PROBLEM").is_empty(), "{output}");
    let last = output.lines().last().unwrap_or_default();
    assert!(last.starts_with("all ") && last.ends_with(" checks passed"), "{output}");
    assert!(output.contains("expected: not known yet: no finished study of bad under"), "{output}");
    assert!(output.contains("if every step ran into its limit"), "the worst case is labelled as such:\n{output}");
}

#[test]
fn a_missing_tiny_image_names_the_script_that_builds_it() {
    assert_refused(
        |t| t.replace("vm-images/tiny/vmlinuz", "vm-images/tiny/nope"),
        &["key `guest.kernel`", "build it with scripts/build-tiny-guest.sh"],
    );
}
