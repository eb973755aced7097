//! Fault injection on real guests: hung runs, kernel panics, vanishing guests, boots that
//! never come, Ctrl-C and kill -9. Each asserts the recorded failure, the retry, the rows
//! kept on disk, and that no qemu process outlives `bench`.

mod common;
use common::*;
use std::time::{Duration, Instant};

fn run(scenario: &std::path::Path, root: &std::path::Path) -> std::process::Output {
    bench(&["run", scenario.to_str().unwrap(), "--results", root.to_str().unwrap()])
}

/// Counts this boot's runs in /tmp, which a fresh boot starts empty.
const COUNTER: &str = "n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n";

/// Fills the tiny guest's 512 MiB: with `sysctl.vm.panic_on_oom=1` on the command line the
/// kernel panics for real. A step has no quicker way: /proc/sysrq-trigger is read-only to
/// it and reboot needs a capability it lacks.
const EXHAUST_MEMORY: &str = "dd if=/dev/zero of=/dev/null bs=300M count=1 & dd if=/dev/zero of=/dev/null bs=300M count=1; wait";

#[test]
fn a_hung_run_is_killed_at_its_timeout_and_the_study_goes_on() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // The command line also carries quotes and shell metacharacters: passed exactly.
    let body = format!(
        r#"
runs = 2
rounds = 1
warmup = 0
jobs = ["half"]
[[variant]]
name = "hang"
cmdline = 'kbench.note="a b" kbench.dollar=$HOME;ls'
[workload]
kind = "command"
command = "{COUNTER}; if [ $n -eq 1 ]; then sleep 100000; fi"
"#
    );
    let scenario = tiny_scenario(dir.path(), "hang", &format!("{body}\n"));
    std::fs::write(&scenario, std::fs::read_to_string(&scenario).unwrap() + "run_timeout = 5\n").unwrap();
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "hang").join("runs.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["status"], "failed");
    assert!(rows[0]["failure"].contains("timed out after 5 s (limit: guest.run_timeout)"), "{:?}", rows[0]);
    assert!(num(&rows[0], "elapsed_s") >= 5.0 && num(&rows[0], "elapsed_s") < 60.0, "{:?}", rows[0]);
    assert_eq!(rows[1]["status"], "ok", "the study went on in the same guest");
    assert!(rows[1]["cmdline"].ends_with(r#"kbench.note="a b" kbench.dollar=$HOME;ls"#), "{:?}", rows[1]);
    assert_no_qemu_left(dir.path());
}

/// A scenario on the tiny guest with `[guest]` keys added.
fn tiny_with(dir: &std::path::Path, name: &str, body: &str, guest_keys: &str) -> std::path::PathBuf {
    let scenario = tiny_scenario(dir, name, body);
    std::fs::write(&scenario, std::fs::read_to_string(&scenario).unwrap() + guest_keys).unwrap();
    scenario
}

#[test]
fn a_hung_prepare_ends_at_its_prepare_timeout_and_its_runs_are_failed_rows() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 2\nwarmup = 0\njobs = [\"half\"]\n[[variant]]\nname = \"v\"\n[workload]\nkind = \"command\"\nprepare = \"sleep 100000\"\ncommand = \"true\"\n";
    let scenario = tiny_with(dir.path(), "hungprepare", body, "prepare_timeout = 5\n");
    let root = dir.path().join("results");
    let started = Instant::now();
    let out = run(&scenario, &root);
    assert!(started.elapsed() < Duration::from_secs(150), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "hungprepare").join("runs.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["status"], "failed");
        assert!(row["failure"].starts_with("not run: prepare failed: timed out after 5 s (limit: guest.prepare_timeout)"), "{row:?}");
    }
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_hung_warmup_ends_at_the_run_timeout_and_its_runs_are_failed_rows() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "runs = 1\nwarmup = 1\njobs = [\"half\"]\n[[variant]]\nname = \"v\"\n[workload]\nkind = \"command\"\ncommand = \"{COUNTER}; if [ $n -eq 1 ]; then sleep 100000; fi\"\n"
    );
    let scenario = tiny_with(dir.path(), "hungwarmup", &body, "run_timeout = 5\n");
    let root = dir.path().join("results");
    let started = Instant::now();
    let out = run(&scenario, &root);
    assert!(started.elapsed() < Duration::from_secs(150), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "hungwarmup").join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0]["failure"].starts_with("not run: warm-up 1 failed: timed out after 5 s (limit: guest.run_timeout)"), "{:?}", rows[0]);
    assert_no_qemu_left(dir.path());
}

/// The old rule gave clean and build each the limit, and a timed run without run_timeout
/// 5 × the longest warm-up *build*, at least 60 s: a 61 s clean was killed. The limit now
/// covers the whole step and is derived from whole warm-up steps, so it is not.
#[test]
fn a_slow_clean_with_a_quick_build_is_not_killed_by_a_derived_limit() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 1\nwarmup = 1\njobs = [\"half\"]\n[[variant]]\nname = \"v\"\n[workload]\nkind = \"command\"\nclean = \"sleep 61\"\ncommand = \"true\"\n";
    let scenario = tiny_scenario(dir.path(), "slowclean", body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "slowclean").join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "ok", "{:?}", rows[0]);
    assert!(num(&rows[0], "elapsed_s") < 30.0, "the clean is not measured: {:?}", rows[0]);
    assert_no_qemu_left(dir.path());
}

/// A workload that writes to the agent's serial port can neither forge a result nor
/// swallow the real one: each row is the real measurement, or a failed row saying why.
/// (Where the steps cannot reach the port at all, every row is the real one.)
#[test]
fn a_workload_writing_to_the_agents_port_cannot_forge_or_swallow_a_result() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = r#"
runs = 2
warmup = 0
jobs = ["half"]
[[variant]]
name = "forge"
cmdline = "kbench.attack=forge"
[[variant]]
name = "flood"
cmdline = "kbench.attack=flood"
[workload]
kind = "command"
command = '''
if grep -q kbench.attack=forge /proc/cmdline; then
  printf '%s\n' '{"msg":"step_finished","id":1,"outcome":{"kind":"exited","code":0},"measurement":{"elapsed_s":0.001,"user_s":0,"sys_s":0,"involuntary_csw":0,"voluntary_csw":0,"max_rss_kib":0},"output_tail":""}' '{"msg":"done"}' > /dev/ttyS1
else
  head -c 3000000 /dev/zero | tr '\0' x > /dev/ttyS1
fi 2>/dev/null
sleep 2
'''
"#;
    let scenario = tiny_scenario(dir.path(), "attack", body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    let rows = read_rows(&results_dir(&root, "attack").join("runs.csv"));
    assert_eq!(rows.len(), 4, "every planned run is on record: {rows:?}\n{}", describe(&out));
    for row in &rows {
        // The flood is refused when it passes the length limit, or earlier, when an agent
        // message lands at the end of its bytes and makes a line the agent did not sign.
        let expected: &[&str] = match row["variant"].as_str() {
            "forge" => &["the agent's channel carried a line the agent did not sign"],
            _ => {
                &["the agent's channel carried a line longer than any message", "the agent's channel carried a line the agent did not sign"]
            }
        };
        let real = row["status"] == "ok" && num(row, "elapsed_s") >= 2.0;
        let refused = row["status"] == "failed" && expected.iter().any(|e| row["failure"].contains(e));
        assert!(real || refused, "{row:?}\n{}", describe(&out));
    }
    let all_ok = rows.iter().all(|r| r["status"] == "ok");
    assert_eq!(out.status.code(), Some(if all_ok { 0 } else { 1 }), "{}", describe(&out));
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_kernel_panic_fails_its_run_and_a_new_boot_measures_the_rest() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
runs = 2
rounds = 1
warmup = 0
jobs = ["half", "optimal"]
[[variant]]
name = "panics"
cmdline = "sysctl.vm.panic_on_oom=1"
[workload]
kind = "command"
command = "{COUNTER}; if [ $n -eq 3 ]; then {EXHAUST_MEMORY}; fi"
"#
    );
    let scenario = tiny_scenario(dir.path(), "panic", &body);
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let results = results_dir(&root, "panic");
    let rows = read_rows(&results.join("runs.csv"));
    let status: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r["jobs_label"].as_str(), r["run"].as_str(), r["status"].as_str())).collect();
    assert_eq!(
        status,
        [("half", "1", "ok"), ("half", "2", "ok"), ("optimal", "1", "failed"), ("optimal", "2", "ok")],
        "{}",
        describe(&out)
    );
    assert!(rows[2]["failure"].contains("Kernel panic"), "{:?}", rows[2]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("booting again"), "{}", describe(&out));
    assert!(std::fs::read_to_string(results.join("console/panics-boot1.log")).unwrap().contains("Kernel panic"));
    assert!(results.join("console/panics-boot2.log").is_file());
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results.join("meta.json")).unwrap()).unwrap();
    let findings = &meta["variants"][0]["kernel_findings"];
    assert_eq!(findings[0]["boot"], 1, "{findings}");
    assert_eq!(findings[0]["kind"], "panic", "{findings}");
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_guest_that_vanishes_fails_its_variant_after_the_retries_and_the_next_variant_still_runs() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    // loglevel=0: the panic never reaches the console, the guest just stops.
    let body = format!(
        r#"
runs = 2
rounds = 1
order = "alternate"
warmup = 0
jobs = ["half"]
[[variant]]
name = "vanishes"
cmdline = "kbench.vanish=1 loglevel=0 sysctl.vm.panic_on_oom=1"
[[variant]]
name = "steady"
[workload]
kind = "command"
command = "if grep -q kbench.vanish=1 /proc/cmdline; then {EXHAUST_MEMORY}; sleep 60; fi; true"
"#
    );
    let scenario = tiny_scenario(dir.path(), "vanish", &body);
    std::fs::write(&scenario, std::fs::read_to_string(&scenario).unwrap() + "retries = 0\n").unwrap();
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "vanish").join("runs.csv"));
    let status: Vec<(&str, &str)> = rows.iter().map(|r| (r["variant"].as_str(), r["status"].as_str())).collect();
    assert_eq!(status, [("vanishes", "failed"), ("steady", "ok"), ("steady", "ok")], "{}", describe(&out));
    assert!(rows[0]["failure"].contains("the guest stopped"), "{:?}", rows[0]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("variant vanishes: the guest failed 1 times"), "{stderr}");
    assert!(stderr.contains("1 of 4 planned runs are missing"), "{stderr}");
    assert_no_qemu_left(dir.path());
}

#[test]
fn a_boot_that_never_reaches_the_agent_times_out() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = "runs = 1\nwarmup = 0\n[[variant]]\nname = \"slow\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n";
    let scenario = tiny_scenario(dir.path(), "noboot", body);
    let text = std::fs::read_to_string(&scenario).unwrap().replace("boot_timeout = 300", "boot_timeout = 1\nretries = 1");
    std::fs::write(&scenario, text).unwrap();
    let root = dir.path().join("results");
    let out = run(&scenario, &root);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the guest hung: no word for 1 s while waiting for the agent to start"), "{stderr}");
    assert!(stderr.contains("the guest failed 2 times"), "{stderr}");
    let results = results_dir(&root, "noboot");
    assert!(results.join("console/slow-boot2.log").exists(), "the boot was retried");
    assert_no_qemu_left(dir.path());
}

#[test]
fn ctrl_c_keeps_the_runs_and_resume_measures_only_the_missing_ones() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        r#"
runs = 2
rounds = 1
warmup = 0
jobs = ["half"]
[[variant]]
name = "steady"
[workload]
kind = "command"
command = "{COUNTER}; if [ $n -ge 2 ]; then sleep 1000; fi"
"#
    );
    let scenario = tiny_scenario(dir.path(), "interrupt", &body);
    let root = dir.path().join("results");
    let child = spawn_run(&scenario, &root);
    let results = wait_for_rows(&root, "interrupt", 1);
    std::thread::sleep(Duration::from_secs(1));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGINT).unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", describe(&out));
    assert!(started.elapsed() < Duration::from_secs(20), "stopping took {:?}", started.elapsed());
    assert_eq!(read_rows(&results.join("runs.csv")).len(), 1);
    assert!(std::fs::read_to_string(results.join("kernbench.txt")).unwrap().contains("Average Half load -j 1 Run"));
    assert_no_qemu_left(dir.path());

    // A changed scenario is not the same study.
    let original = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, original.replace("runs = 2", "runs = 3")).unwrap();
    let refused = bench(&["run", "--resume", results.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("differs from the one the study started with"), "{}", describe(&refused));

    std::fs::write(&scenario, original).unwrap();
    let resumed = bench(&["run", "--resume", results.to_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(0), "{}", describe(&resumed));
    let rows = read_rows(&results.join("runs.csv"));
    let runs: Vec<(&str, &str)> = rows.iter().map(|r| (r["run"].as_str(), r["status"].as_str())).collect();
    assert_eq!(runs, [("1", "ok"), ("2", "ok")]);
    assert_no_qemu_left(dir.path());
}

#[test]
fn killing_bench_with_sigkill_takes_its_qemu_down_too() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "sigkill", SLEEPER);
    sigkill_while_the_step_runs(dir.path(), &scenario, &dir.path().join("results"), "sigkill");
}

/// Issue 19 item 13: a pinned guest's QMP socket fell back to the temporary folder when
/// the results folder's path was too long for a socket name, and a kill -9 left it there.
#[test]
fn killing_a_pinned_bench_with_a_long_results_path_leaves_nothing_in_tmp() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let scenario = tiny_scenario(dir.path(), "sigkill-pin", SLEEPER);
    let text = std::fs::read_to_string(&scenario).unwrap().replace("cpus = 2\n", "cpus = 1\npin = true\n");
    std::fs::write(&scenario, text).unwrap();
    // Far beyond the 107 bytes of a socket name once the study's folders are added.
    let root = dir.path().join("r".repeat(120));
    sigkill_while_the_step_runs(dir.path(), &scenario, &root, "sigkill-pin");
}

/// One run of `sleep 1000` on variant `long`.
const SLEEPER: &str = "runs = 1\nwarmup = 0\n[[variant]]\nname = \"long\"\n[workload]\nkind = \"command\"\ncommand = \"sleep 1000\"\n";

/// Kills `bench run` with SIGKILL once its guest started the step; asserts that no QEMU
/// and no file outlives it.
fn sigkill_while_the_step_runs(dir: &std::path::Path, scenario: &std::path::Path, root: &std::path::Path, name: &str) {
    let mut child = spawn_run(scenario, root);
    wait_for_the_step(&mut child, root, name);
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_no_qemu_left(dir);
    // Nor any file: no scratch folder or socket in the temporary folder, and the initrd
    // composed in the results folder's .scratch/ went once QEMU had read it.
    let left: Vec<_> = std::fs::read_dir(root.with_file_name("tmp")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left in the temporary folder: {left:?}");
    let scratch = results_dir(root, name).join(".scratch");
    let left: Vec<_> = std::fs::read_dir(&scratch).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", scratch.display());
}

/// Waits until the guest of variant `long` in study `name` started its first step.
fn wait_for_the_step(child: &mut std::process::Child, root: &std::path::Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let console = std::fs::read_dir(root.join(name))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("console/long-boot1.log")).ok())
            .unwrap_or_default();
        if console.contains("kbench-agent: step 0") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("bench ended ({status}) before the step ran");
        }
        assert!(Instant::now() < deadline, "the guest never started its step");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Issue 19 item 6: bench stopped (SIGSTOP) longer than the 60 s silence and the step's
/// guard while a healthy guest ran `sleep 20`; its heartbeats and result waited in the
/// socket, and the run was recorded failed ("no word from the agent for 60 s").
#[test]
fn a_bench_stopped_past_the_silence_keeps_the_healthy_run_it_finds_waiting() {
    let _guard = guest_lock();
    let dir = tempfile::tempdir().unwrap();
    let body = SLEEPER.replace("runs = 1", "runs = 1\njobs = [\"half\"]").replace("sleep 1000", "sleep 20");
    // The guard: 30 s + 30 s of margin, also behind us when bench wakes up.
    let scenario = tiny_with(dir.path(), "stopped", &body, "run_timeout = 30\n");
    let root = dir.path().join("results");
    let mut child = spawn_run(&scenario, &root);
    wait_for_the_step(&mut child, &root, "stopped");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_secs(75));
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let rows = read_rows(&results_dir(&root, "stopped").join("runs.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "ok", "{:?}", rows[0]);
    assert!((20.0..30.0).contains(&num(&rows[0], "elapsed_s")), "{:?}", rows[0]);
    assert_no_qemu_left(dir.path());
}
