//! Runs one step and measures it the way GNU time does: wait4 on the shell, whose rusage
//! covers every descendant it waited for (make and all the compilers it ran).

use crate::steps::Deadline;
use kbench_protocol::{Measurement, Outcome, Step, StepResult};
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
}

struct Finished {
    status: libc::c_int,
    usage: libc::rusage,
    elapsed: Duration,
    timed_out: bool,
}

impl Runner {
    pub fn new(env: &[(String, String)], output_tail_bytes: usize) -> Runner {
        Runner { env: env.to_vec(), output_tail_bytes }
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
        };
        let timed_out = Outcome::TimedOut { after_s: step.timeout_s.round() as u64 };
        if let Some(clean) = &step.clean {
            match self.execute(clean, deadline) {
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
        match self.execute(&step.command, deadline) {
            Ok(done) => {
                result.outcome = if done.timed_out { timed_out } else { outcome(&done) };
                result.measurement = measurement(&done);
                result.output_tail = self.output_tail();
            }
            Err(error) => result.outcome = Outcome::SpawnFailed { error },
        }
        result.missing_files =
            step.expect_files.iter().filter(|path| !std::path::Path::new(path).exists()).cloned().collect();
        result
    }

    fn execute(&self, command: &str, deadline: &Deadline) -> Result<Finished, String> {
        let log = File::create(OUTPUT_LOG).map_err(|e| format!("cannot create {OUTPUT_LOG}: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = Command::new("/bin/sh")
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
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        reap_orphans();
        Ok(Finished { status, usage, elapsed, timed_out })
    }

    fn output_tail(&self) -> String {
        let Ok(mut file) = File::open(OUTPUT_LOG) else {
            return String::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(self.output_tail_bytes as u64);
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(start)).is_ok() {
            let _ = file.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
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

/// As PID 1 we inherit every orphan; reap the zombies so they do not pile up.
fn reap_orphans() {
    let mut status = 0;
    // SAFETY: plain waitpid with WNOHANG.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
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
