//! Runs one step and measures it the way GNU time does: wait4 on the shell, whose rusage
//! covers every descendant it waited for (make and all the compilers it ran).

use crate::isolate::Isolation;
use crate::leftovers::{self, Scope};
use crate::steps::Deadline;
use kbench_protocol::{Measurement, Outcome, Step, StepKind, StepResult};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const OUTPUT_LOG: &str = "/tmp/kbench-step.log";
const WORK_DIR: &str = "/tmp";

pub struct Runner {
    env: Vec<(String, String)>,
    output_tail_bytes: usize,
    isolation: Isolation,
    monitor_interval_s: f64,
}

struct Finished {
    status: libc::c_int,
    usage: libc::rusage,
    elapsed: Duration,
    timed_out: bool,
    /// Processes the command left running, killed after it.
    leftovers: u32,
}

impl Runner {
    pub fn new(env: &[(String, String)], output_tail_bytes: usize, isolation: Isolation, monitor_interval_s: f64) -> Runner {
        Runner { env: env.to_vec(), output_tail_bytes, isolation, monitor_interval_s }
    }

    /// Clean, sync and command all run within the one `deadline`.
    pub fn run(&self, step: &Step, deadline: &Deadline) -> StepResult {
        let mut result = StepResult {
            id: step.id,
            outcome: Outcome::Exited { code: 0 },
            measurement: Measurement::default(),
            clean_s: 0.0,
            output_tail: String::new(),
            missing_files: Vec::new(),
            leftover_processes: 0,
            monitors: None,
            monitor_samples: String::new(),
        };
        let timed_out = Outcome::TimedOut { after_s: step.timeout_s.round() as u64 };
        if let Some(clean) = &step.clean {
            let done = self.execute(clean, deadline);
            result.leftover_processes += done.as_ref().map_or(0, |d| d.leftovers);
            match done {
                Ok(done) if done.timed_out => {
                    result.outcome = timed_out;
                    result.clean_s = deadline.started.elapsed().as_secs_f64();
                    result.output_tail = self.output_tail();
                    return result;
                }
                Ok(done) if exit_code(done.status) == Some(0) => {}
                Ok(done) => {
                    result.outcome = Outcome::CleanFailed { code: exit_code(done.status).unwrap_or(-1) };
                    result.output_tail = self.output_tail();
                    return result;
                }
                Err(error) => {
                    result.outcome = Outcome::SpawnFailed { error };
                    return result;
                }
            }
            // As kernbench: what clean freed must reach the disk before the clock starts.
            // SAFETY: sync has no preconditions.
            unsafe { libc::sync() };
        }
        result.clean_s = deadline.started.elapsed().as_secs_f64();
        let interval = if step.kind == StepKind::Timed { self.monitor_interval_s } else { 0.0 };
        let monitor = crate::monitor::Monitor::start(interval);
        let executed = self.execute(&step.command, deadline);
        if let Some(monitor) = monitor {
            (result.monitors, result.monitor_samples) = monitor.stop();
        }
        match executed {
            Ok(done) => {
                result.leftover_processes += done.leftovers;
                result.outcome = if done.timed_out { timed_out } else { outcome(&done) };
                result.measurement = measurement(&done);
                result.output_tail = self.output_tail();
            }
            Err(error) => result.outcome = Outcome::SpawnFailed { error },
        }
        result.missing_files = step.expect_files.iter().filter(|path| !std::path::Path::new(path).exists()).cloned().collect();
        result
    }

    fn execute(&self, command: &str, deadline: &Deadline) -> Result<Finished, String> {
        let log = File::create(OUTPUT_LOG).map_err(|e| format!("cannot create {OUTPUT_LOG}: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut shell = Command::new("/bin/sh");
        self.isolation.apply(&mut shell);
        let child = shell
            .arg("-c")
            .arg(command)
            .current_dir(WORK_DIR)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("/bin/sh: {e}"))?;
        let pid = child.id() as libc::pid_t;
        let watchdog = Watchdog::start(pid, deadline.remaining(started));
        let (status, usage) = wait4(pid).map_err(|e| format!("wait4: {e}"))?;
        let elapsed = started.elapsed();
        let timed_out = watchdog.stop();
        // Whatever the command left behind must not run into the next measurement.
        let leftovers = leftovers::kill_all(Scope::for_step(pid));
        let changed = self.isolation.restore_agent_limits();
        if !changed.is_empty() {
            crate::console(&format!("the step changed the agent's resource limits, put back: {}", changed.join(", ")));
        }
        Ok(Finished { status, usage, elapsed, timed_out, leftovers })
    }

    fn output_tail(&self) -> String {
        read_tail(std::path::Path::new(OUTPUT_LOG), self.output_tail_bytes)
    }
}

/// The last `limit` bytes of a file as text (what make printed last is its error); empty
/// when there is no file. A character cut at the start becomes U+FFFD, not an error.
fn read_tail(path: &std::path::Path, limit: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(limit as u64);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn wait4(pid: libc::pid_t) -> std::io::Result<(libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

fn exit_code(status: libc::c_int) -> Option<i32> {
    std::process::ExitStatus::from_raw(status).code()
}

fn outcome(done: &Finished) -> Outcome {
    let status = std::process::ExitStatus::from_raw(done.status);
    if let Some(code) = status.code() {
        Outcome::Exited { code }
    } else {
        Outcome::Signaled { signal: status.signal().unwrap_or(0) }
    }
}

fn measurement(done: &Finished) -> Measurement {
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Measurement {
        elapsed_s: done.elapsed.as_secs_f64(),
        user_s: seconds(done.usage.ru_utime),
        sys_s: seconds(done.usage.ru_stime),
        involuntary_csw: done.usage.ru_nivcsw as u64,
        voluntary_csw: done.usage.ru_nvcsw as u64,
        max_rss_kib: done.usage.ru_maxrss as u64,
        minor_faults: done.usage.ru_minflt as u64,
        major_faults: done.usage.ru_majflt as u64,
    }
}

/// Kills the command's process group when its time is up.
struct Watchdog {
    cancel: mpsc::Sender<()>,
    fired: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(pid: libc::pid_t, limit: Duration) -> Watchdog {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let fired = std::thread::spawn(move || {
            match cancelled.recv_timeout(limit) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // SAFETY: signalling the step's process group.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    true
                }
                _ => false,
            }
        });
        Watchdog { cancel, fired }
    }

    fn stop(self) -> bool {
        let _ = self.cancel.send(());
        self.fired.join().unwrap_or(false)
    }
}

#[cfg(test)]
mod tail_tests {
    use super::read_tail;

    #[test]
    fn the_tail_is_the_last_bytes_and_a_short_file_whole() {
        let dir = std::env::temp_dir().join(format!("kbench-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("step.log");
        std::fs::write(&log, "line one\nmake: *** [Makefile:2] Error 2\n").unwrap();
        let last = "*** [Makefile:2] Error 2\n";
        assert_eq!(read_tail(&log, last.len()), last);
        assert_eq!(read_tail(&log, 4096), "line one\nmake: *** [Makefile:2] Error 2\n");
        // "é" is two bytes: a cut through it is one replacement character, not a failure.
        std::fs::write(&log, "é!").unwrap();
        assert_eq!(read_tail(&log, 2), "\u{fffd}!");
        assert_eq!(read_tail(&dir.join("absent.log"), 10), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
