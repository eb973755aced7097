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
//! A guest saved between two steps and restored later (`reuse = "snapshot"`) starts a
//! conversation of its own, on a fresh key:
//!
//! ```text
//! host:  Sync                             (on the saved boot, before the save)
//! agent: Synced                           (its last word before the save)
//! host:  Resume { key, clock, entropy }   (first word to the restored agent)
//! agent: Resumed(facts)                    (signed with the new key, number 1)
//!        ... Run, Finish as above ...
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
pub const PROTOCOL_VERSION: u32 = 6;

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
    /// Say [`AgentMessage::Synced`]. Before a save: once the host has that answer, the agent
    /// has said all it had to (a step's kernel log may follow its result) and waits, so no
    /// line of this conversation is left on its way to arrive after a restore.
    Sync,
    /// The guest was restored from a state saved between two steps: sign with this key
    /// from now on, set the clock, reseed the random generator, and say [`AgentMessage::Resumed`].
    Resume(Resume),
}

/// What a restored agent takes before anything else: the saved guest carries the key,
/// clock and random state of the moment it was saved, shared by every restore of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// A fresh key (hex) that replaces the saved one; the sequence numbers start again
    /// from 1, so nothing signed before the restore is accepted after it.
    pub key: String,
    /// The host's clock (CLOCK_REALTIME), nanoseconds since the epoch: the saved guest's
    /// clock stood still while it was saved.
    pub unix_time_ns: u64,
    /// Fresh random bytes (hex) for the guest's random generator: without them every
    /// restore of one state would draw the same numbers.
    pub entropy: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum AgentMessage {
    Hello {
        protocol: u32,
        agent_version: String,
    },
    BootFacts(BootFacts),
    /// The answer to [`HostMessage::Resume`]: the facts that tell which boot was restored.
    Resumed(ResumedFacts),
    StepStarted {
        id: u32,
    },
    /// Every [`Setup::heartbeat_s`] while a step runs: the guest is alive.
    Heartbeat {
        id: u32,
        elapsed_s: f64,
    },
    StepFinished(StepResult),
    /// New kernel log records (/dev/kmsg) since the last ones sent, one line per record
    /// as `dmesg -r` prints it: `<3>[   12.345678] BUG kmalloc-64 (Not tainted): ...`.
    /// `<N>` is the raw syslog priority: the level (0-7) for the kernel's own records, the
    /// level plus facility × 8 for those written from user space (e.g. `<14>`). Sent after
    /// the boot facts and after each step; the agent caps one message and says how many
    /// records it dropped.
    KernelLog {
        text: String,
    },
    /// The kernel's own view of its memory hardening, sent once after [`HostMessage::Finish`]
    /// and before [`AgentMessage::Done`] (so its largest caches are those at the end of the
    /// runs).
    KernelView(KernelView),
    Done,
    /// The answer to [`HostMessage::Sync`].
    Synced,
    /// The agent cannot go on (bad setup, missing device); the host records the reason.
    Fatal {
        message: String,
    },
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
    /// Seconds between two samples of the in-guest monitors during a timed step; 0 = off.
    #[serde(default)]
    pub monitor_interval_s: f64,
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

/// What a restored guest is, read again after the restore: enough to tell a state of
/// the wrong variant (another command line, kernel or poisoning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumedFacts {
    pub cmdline: String,
    pub kernel_release: String,
    pub slab: SlabPoison,
    /// The clock was set to the host's.
    pub clock_set: bool,
    /// The random bytes were mixed in, and credited as entropy (RNDADDENTROPY), or only
    /// mixed in (a write to /dev/urandom).
    pub entropy_credited: bool,
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
    /// What the monitors saw during a timed step; `None` when they were off. Boxed: it
    /// would make every message as large.
    #[serde(default)]
    pub monitors: Option<Box<MonitorSummary>>,
    /// The monitors' raw samples, one CSV line each after a header, capped in size.
    #[serde(default)]
    pub monitor_samples: String,
}

impl StepResult {
    /// The whole step's time, the clean included: what a time limit is compared with.
    pub fn step_s(&self) -> f64 {
        self.clean_s + self.measurement.elapsed_s
    }
}

/// The in-guest monitors of one timed step, sampled from /proc/meminfo, /proc/vmstat and
/// /proc/stat: memory in KiB, vmstat counters as the change over the step, the guest's
/// CPU time split in percent of all its CPU time over the step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSummary {
    pub samples: u32,
    pub slab_peak_kib: u64,
    pub slab_end_kib: u64,
    pub sunreclaim_peak_kib: u64,
    pub sunreclaim_end_kib: u64,
    pub sreclaimable_peak_kib: u64,
    pub sreclaimable_end_kib: u64,
    /// All `pgalloc_*` zones summed.
    pub pgalloc: u64,
    pub pgfree: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
    /// user + nice.
    pub guest_user_percent: f64,
    pub guest_sys_percent: f64,
    pub guest_softirq_percent: f64,
    pub guest_steal_percent: f64,
}

/// What the kernel says about its memory hardening: the boot's "mem auto-init" line,
/// which slab caches are poisoned or red-zoned, and its largest slab caches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelView {
    /// From the kernel log; `None` when the line was not found (ring buffer overwritten).
    pub mem_auto_init: Option<MemAutoInit>,
    /// Caches under /sys/kernel/slab, and those with `poison` / `red_zone` set to 1.
    pub caches: u32,
    pub poisoned: u32,
    pub red_zoned: u32,
    /// The ten largest slab caches by memory, largest first.
    pub largest_caches: Vec<SlabCache>,
}

/// `mem auto-init: stack:all(zero), heap alloc:on, heap free:off` split into its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemAutoInit {
    pub stack: String,
    pub heap_alloc: String,
    pub heap_free: String,
}

impl MemAutoInit {
    pub fn heap_alloc_on(&self) -> bool {
        self.heap_alloc == "on"
    }

    pub fn heap_free_on(&self) -> bool {
        self.heap_free == "on"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlabCache {
    pub name: String,
    /// Memory the cache's slabs take (slabs × slab size).
    pub memory_kib: u64,
    pub objects: u64,
    pub object_size: u64,
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
    /// ru_minflt: page faults served without I/O.
    #[serde(default)]
    pub minor_faults: u64,
    /// ru_majflt: page faults that needed I/O (kcbench's "major faults").
    #[serde(default)]
    pub major_faults: u64,
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
            monitors: Some(Box::new(MonitorSummary { samples: 3, slab_peak_kib: 2048, pgalloc: 10, ..Default::default() })),
            monitor_samples: "t_s,slab_kib\n0.0,2000\n".into(),
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
        assert_eq!(result.monitors, None);
        assert_eq!(result.monitor_samples, "");
        assert_eq!((result.measurement.minor_faults, result.measurement.major_faults), (0, 0));
        assert_eq!(StepResult { clean_s: 1.5, ..result }.step_s(), 3.5);
    }

    #[test]
    fn percent_cpu_is_user_plus_sys_over_elapsed() {
        let m = Measurement { elapsed_s: 2.0, user_s: 3.0, sys_s: 0.5, ..Default::default() };
        assert!((m.percent_cpu() - 175.0).abs() < 1e-9);
        assert_eq!(Measurement::default().percent_cpu(), 0.0);
    }
}
