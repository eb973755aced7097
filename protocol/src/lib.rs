//! The one definition of what the kbench host and its in-guest agent say to each other.
//!
//! Both sides speak newline-delimited JSON over a dedicated serial line (the guest's
//! second 8250 port, `ttyS1`): it works with any x86 kernel that has the standard
//! built-ins and needs no module, no network and no shared filesystem.
//!
//! The conversation, one step at a time so that the host decides everything:
//!
//! ```text
//! agent: Hello                      (unsigned: the agent has no key yet)
//! host:  Setup { key, ... }
//! agent: BootFacts, KernelLog*
//! host:  Run(step)                  (one step, with its own time limit)
//! agent: StepStarted { id }, Heartbeat*, StepFinished(result), KernelLog*
//!        ... one Run per step ...
//! host:  Finish
//! agent: Done                       (and powers the guest off)
//! ```
//!
//! Every agent line after Hello is signed with the per-boot key ([`auth`]): a workload
//! that writes to the serial port cannot make the host believe anything. No line is
//! longer than [`MAX_LINE_BYTES`]; both readers drop longer ones unread ([`lines`]).
//!
//! The agent is PID 1 of the guest's initramfs (`rdinit=`). With [`Setup::root`] it first
//! mounts a root disk and chroots into it, so that the steps run in a full distribution
//! while the agent itself stays whatever the host delivered at this boot.

pub mod auth;
pub mod lines;

use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes shape; host and agent refuse to talk across versions.
pub const PROTOCOL_VERSION: u32 = 3;

/// The serial device the agent talks on, inside the guest.
pub const AGENT_PORT: &str = "/dev/ttyS1";

/// No message is longer: a step's output tail is capped far below it. A longer line is
/// not a message, and neither side buffers it.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum HostMessage {
    /// The answer to Hello: the boot's key and everything that holds for all its steps.
    Setup(Setup),
    /// Run this one step now.
    Run(Step),
    /// No more steps: say Done and power off.
    Finish,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum AgentMessage {
    Hello { protocol: u32, agent_version: String },
    BootFacts(BootFacts),
    StepStarted { id: u32 },
    /// Every [`Setup::heartbeat_s`] while a step runs: the guest is alive.
    Heartbeat { id: u32, elapsed_s: f64 },
    StepFinished(StepResult),
    /// New kernel log records (/dev/kmsg) since the last ones sent.
    KernelLog { text: String },
    Done,
    /// The agent cannot go on (bad setup, missing device); the host records the reason.
    Fatal { message: String },
}

/// What holds for every step of one boot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    /// The per-boot key (hex) the agent signs its messages with; see [`auth`].
    pub key: String,
    /// How many bytes of each step's combined stdout/stderr to send back.
    pub output_tail_bytes: usize,
    /// Environment variables set for every command (besides PATH and HOME).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// A disk to mount and chroot into before anything runs; `None` runs in the initramfs.
    #[serde(default)]
    pub root: Option<RootDisk>,
    /// Commands whose first output line describes the environment (compiler, source
    /// version); run after the root is entered, reported in [`BootFacts::probes`].
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// Seconds between two [`AgentMessage::Heartbeat`]s of a running step.
    pub heartbeat_s: f64,
    /// Seconds one probe may take before it is killed and reported as timed out.
    pub probe_timeout_s: f64,
}

/// How the agent reaches the root filesystem the steps run in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootDisk {
    /// Block device, e.g. `/dev/vda`; waited for (devtmpfs) after the modules are loaded.
    pub device: String,
    pub fstype: String,
    /// mount(8)-style options: `ro` / `rw` become flags, the rest is passed as data.
    pub options: String,
    /// Loaded with the initramfs's `modprobe`, in order. A failure is only logged: a
    /// kernel with the drivers built in has nothing to load.
    pub modules: Vec<String>,
    /// Seconds to wait for `device` to appear.
    pub wait_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub name: String,
    /// Run by `/bin/sh -c` in the root the steps see.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: u32,
    pub kind: StepKind,
    /// Run, untimed, before the measured command; its failure fails the step.
    pub clean: Option<String>,
    /// Run by `/bin/sh -c`, measured with wait4 rusage of the whole process tree.
    pub command: String,
    /// The whole step (clean, sync and command) may take this many seconds from
    /// StepStarted; then the agent kills what runs. Decided by the host, never derived.
    pub timeout_s: f64,
    /// Paths the agent checks for after the command, to prove the work happened.
    #[serde(default)]
    pub expect_files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Prepare,
    Warmup,
    Timed,
}

/// What the guest says about itself before any step runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootFacts {
    pub cmdline: String,
    pub kernel_release: String,
    pub cpus: u32,
    pub mem_total_kib: u64,
    pub slab: SlabPoison,
    /// Each [`Setup::probes`] entry: its name and the first line of its output (or why not).
    #[serde(default)]
    pub probes: std::collections::BTreeMap<String, String>,
}

/// Read from `/sys/kernel/slab/*/poison`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlabPoison {
    pub caches: u32,
    pub poisoned: u32,
    /// `/sys/kernel/slab/kmalloc-64/poison`, the cache the study checks by name.
    pub kmalloc_64: Option<bool>,
}

impl SlabPoison {
    /// Poisoning is on when the reference cache says so, or failing that, any cache.
    pub fn is_on(&self) -> bool {
        self.kmalloc_64.unwrap_or(self.poisoned > 0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub id: u32,
    pub outcome: Outcome,
    /// The measured command only; the clean before it is not in it.
    pub measurement: Measurement,
    /// Seconds from StepStarted until the command started (clean and sync): the whole
    /// step took `clean_s + measurement.elapsed_s`.
    #[serde(default)]
    pub clean_s: f64,
    /// The last bytes of the command's combined output (of `clean` when that failed).
    pub output_tail: String,
    /// Of `expect_files`, those that were not there after the command.
    #[serde(default)]
    pub missing_files: Vec<String>,
    /// Processes the step left behind that the agent had to kill after it.
    #[serde(default)]
    pub leftover_processes: u32,
}

impl StepResult {
    /// The whole step's time, the clean included: what a time limit is compared with.
    pub fn step_s(&self) -> f64 {
        self.clean_s + self.measurement.elapsed_s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Exited { code: i32 },
    Signaled { signal: i32 },
    TimedOut { after_s: u64 },
    CleanFailed { code: i32 },
    SpawnFailed { error: String },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Exited { code: 0 })
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Exited { code } => format!("exit status {code}"),
            Outcome::Signaled { signal } => format!("killed by signal {signal}"),
            Outcome::TimedOut { after_s } => format!("timed out after {after_s} s"),
            Outcome::CleanFailed { code } => format!("clean command failed with exit status {code}"),
            Outcome::SpawnFailed { error } => format!("could not start: {error}"),
        }
    }
}

/// One command's cost, as GNU time reports it (`%e %U %S %P %c %w %M`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Wall time on the guest's monotonic clock.
    pub elapsed_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    /// ru_nivcsw: kernbench's "Context Switches", GNU time's `%c`.
    pub involuntary_csw: u64,
    /// ru_nvcsw: kernbench's "Sleeps", GNU time's `%w`.
    pub voluntary_csw: u64,
    pub max_rss_kib: u64,
}

impl Measurement {
    /// (user + sys) / elapsed × 100, as GNU time's `%P`.
    pub fn percent_cpu(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            (self.user_s + self.sys_s) / self.elapsed_s * 100.0
        } else {
            0.0
        }
    }
}

/// One message as one line of JSON (no embedded newline: serde_json escapes them).
pub fn encode<T: Serialize>(message: &T) -> String {
    let mut line = serde_json::to_string(message).expect("protocol messages always serialize");
    line.push('\n');
    line
}

pub fn decode<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, serde_json::Error> {
    serde_json::from_str(line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_single_lines() {
        let msg = AgentMessage::StepFinished(StepResult {
            id: 3,
            outcome: Outcome::Exited { code: 2 },
            measurement: Measurement { elapsed_s: 1.5, user_s: 1.0, sys_s: 0.5, ..Default::default() },
            output_tail: "make: *** Error 2\nline two".into(),
            missing_files: vec![],
            clean_s: 0.5,
            leftover_processes: 0,
        });
        let line = encode(&msg);
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(decode::<AgentMessage>(&line).unwrap(), msg);
    }

    #[test]
    fn fields_added_later_default_and_the_step_time_includes_the_clean() {
        let line = r#"{"msg":"step_finished","id":1,"outcome":{"kind":"exited","code":0},"measurement":{"elapsed_s":2.0,"user_s":1.0,"sys_s":0.0,"involuntary_csw":0,"voluntary_csw":0,"max_rss_kib":0},"output_tail":""}"#;
        let AgentMessage::StepFinished(result) = decode::<AgentMessage>(line).unwrap() else { panic!() };
        assert_eq!((result.clean_s, result.leftover_processes), (0.0, 0));
        assert_eq!(StepResult { clean_s: 1.5, ..result }.step_s(), 3.5);
    }

    #[test]
    fn percent_cpu_is_user_plus_sys_over_elapsed() {
        let m = Measurement { elapsed_s: 2.0, user_s: 3.0, sys_s: 0.5, ..Default::default() };
        assert!((m.percent_cpu() - 175.0).abs() < 1e-9);
        assert_eq!(Measurement::default().percent_cpu(), 0.0);
    }
}
