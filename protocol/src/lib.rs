//! The one definition of what the kbench host and its in-guest agent say to each other.
//!
//! Both sides speak newline-delimited JSON over a dedicated serial line (the guest's
//! second 8250 port, `ttyS1`): it works with any x86 kernel that has the standard
//! built-ins and needs no module, no network and no shared filesystem.
//!
//! The conversation: the agent says [`AgentMessage::Hello`], the host answers with one
//! [`HostMessage::Job`], the agent reports [`AgentMessage::BootFacts`], then one
//! [`AgentMessage::StepFinished`] per step as soon as it ends, then
//! [`AgentMessage::Done`] and powers the guest off. After the boot facts and after each
//! step it sends what the kernel logged meanwhile ([`AgentMessage::KernelLog`]).
//!
//! The agent is PID 1 of the guest's initramfs (`rdinit=`). With [`Job::root`] it first
//! mounts a root disk and chroots into it, so that the steps run in a full distribution
//! while the agent itself stays whatever the host delivered at this boot.

use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes shape; host and agent refuse to talk across versions.
pub const PROTOCOL_VERSION: u32 = 2;

/// The serial device the agent talks on, inside the guest.
pub const AGENT_PORT: &str = "/dev/ttyS1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum HostMessage {
    Job(Job),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum AgentMessage {
    Hello { protocol: u32, agent_version: String },
    BootFacts(BootFacts),
    /// `timeout_s` is the limit the agent enforces on this step, if any.
    StepStarted { id: u32, timeout_s: Option<f64> },
    StepFinished(StepResult),
    /// Every record the guest's kernel logged since the last such message, one line per
    /// record as `dmesg -r` prints it: `<3>[   12.345678] BUG kmalloc-64 (Not tainted): ...`.
    /// `<N>` is the raw syslog priority: the level (0-7) for the kernel's own records, the
    /// level plus facility × 8 for those written from user space (e.g. `<14>`). Sent after
    /// the boot facts and after each step; the agent caps one message and says how many
    /// records it dropped.
    KernelLog { text: String },
    Done,
    /// The agent cannot go on (bad job, missing device); the host records the reason.
    Fatal { message: String },
}

/// Everything the agent is to do in one boot, in order. The host decides the order;
/// the agent only executes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub steps: Vec<Step>,
    /// How many bytes of each step's combined stdout/stderr to send back.
    pub output_tail_bytes: usize,
    /// Environment variables set for every command (besides PATH and HOME).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// For timed steps without a timeout of their own: a limit derived from the warm-ups.
    #[serde(default)]
    pub derived_timeout: Option<DerivedTimeout>,
    /// A disk to mount and chroot into before anything runs; `None` runs in the initramfs.
    #[serde(default)]
    pub root: Option<RootDisk>,
    /// Commands whose first output line describes the environment (compiler, source
    /// version); run after the root is entered, reported in [`BootFacts::probes`].
    #[serde(default)]
    pub probes: Vec<Probe>,
}

/// A timed step may take `factor` times the longest warm-up, and never less than `floor_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DerivedTimeout {
    pub factor: f64,
    pub floor_s: f64,
}

impl DerivedTimeout {
    pub fn limit(&self, longest_warmup_s: f64) -> f64 {
        (longest_warmup_s * self.factor).max(self.floor_s)
    }
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
    /// Kill the command's process group after this many seconds.
    pub timeout_s: Option<f64>,
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
    /// Each [`Job::probes`] entry: its name and the first line of its output (or why not).
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
    pub measurement: Measurement,
    /// The last bytes of the command's combined output (of `clean` when that failed).
    pub output_tail: String,
    /// Of `expect_files`, those that were not there after the command.
    #[serde(default)]
    pub missing_files: Vec<String>,
    /// Processes the step left running when its shell ended (daemons, background jobs),
    /// which the agent then killed so that they do not run into the next step.
    #[serde(default)]
    pub leftover_processes: u32,
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
            leftover_processes: 1,
        });
        let line = encode(&msg);
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(decode::<AgentMessage>(&line).unwrap(), msg);
    }

    #[test]
    fn a_result_from_an_agent_without_leftover_counting_reads_as_none_left() {
        let line = r#"{"msg":"step_finished","id":0,"outcome":{"kind":"exited","code":0},"measurement":{"elapsed_s":1.0,"user_s":0.0,"sys_s":0.0,"involuntary_csw":0,"voluntary_csw":0,"max_rss_kib":0},"output_tail":""}"#;
        let AgentMessage::StepFinished(result) = decode::<AgentMessage>(line).unwrap() else { panic!("not a step result") };
        assert_eq!(result.leftover_processes, 0);
        let log = AgentMessage::KernelLog { text: "<3>[    1.000000] BUG kmalloc-64 (Not tainted): Poison overwritten\n".into() };
        assert_eq!(decode::<AgentMessage>(&encode(&log)).unwrap(), log);
        assert!(encode(&log).starts_with(r#"{"msg":"kernel_log","text":"#), "{}", encode(&log));
    }

    #[test]
    fn percent_cpu_is_user_plus_sys_over_elapsed() {
        let m = Measurement { elapsed_s: 2.0, user_s: 3.0, sys_s: 0.5, ..Default::default() };
        assert!((m.percent_cpu() - 175.0).abs() < 1e-9);
        assert_eq!(Measurement::default().percent_cpu(), 0.0);
    }
}
