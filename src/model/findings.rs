//! Kernel trouble found in what a guest's kernel printed (`backend::console` finds it;
//! meta.json and the reports carry it).

use serde::{Deserialize, Serialize};

/// What kind of trouble a report is, most serious first (the derived order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// `Kernel panic - not syncing: ...`
    #[serde(alias = "Kernel panic")]
    Panic,
    /// `Oops: 0002 [#1] ...`, `general protection fault, ...: 0000 [#1] ...`
    #[serde(alias = "Oops")]
    Oops,
    /// `BUG: KASAN: slab-out-of-bounds in ...`
    Kasan,
    /// `BUG: KFENCE: use-after-free read in ...`
    Kfence,
    /// SLUB's own checks: `BUG kmalloc-64 (Not tainted): Poison overwritten` (no colon
    /// after BUG), also redzones, padding, "Object already free", "Freepointer corrupt".
    Slub,
    /// Any other `BUG: ...` or `kernel BUG at ...`.
    #[serde(alias = "BUG:")]
    Bug,
    /// `NMI watchdog: Watchdog detected hard LOCKUP on cpu 1`
    HardLockup,
    /// `watchdog: BUG: soft lockup - CPU#0 stuck for 22s!`
    SoftLockup,
    /// `rcu: INFO: rcu_sched self-detected stall on CPU`
    RcuStall,
    /// `INFO: task make:214 blocked for more than 120 seconds.`
    HungTask,
    /// `WARNING: CPU: 1 PID: 57 at mm/page_alloc.c:5525 ...`
    #[serde(alias = "WARNING:")]
    Warning,
}

impl FindingKind {
    /// A report of this kind, in a sentence.
    pub fn title(self) -> &'static str {
        match self {
            FindingKind::Panic => "kernel panic",
            FindingKind::Oops => "oops",
            FindingKind::Kasan => "KASAN report",
            FindingKind::Kfence => "KFENCE report",
            FindingKind::Slub => "SLUB report",
            FindingKind::Bug => "BUG",
            FindingKind::HardLockup => "hard lockup",
            FindingKind::SoftLockup => "soft lockup",
            FindingKind::RcuStall => "RCU stall",
            FindingKind::HungTask => "hung task",
            FindingKind::Warning => "WARNING",
        }
    }
}

/// Which of a boot's logs a finding was quoted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelLog {
    /// `console/<variant>-boot<N>.log`
    #[default]
    Console,
    /// `kmsg/<variant>-boot<N>.log`
    Kmsg,
}

impl KernelLog {
    pub fn folder(self) -> &'static str {
        match self {
            KernelLog::Console => "console",
            KernelLog::Kmsg => "kmsg",
        }
    }
}

/// The reports of one kind in one boot: the first is quoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleFinding {
    /// meta.json files written before the kernel log was read call it `marker`, with the
    /// text that matched ("Kernel panic", "BUG:", "Oops", "WARNING:").
    #[serde(alias = "marker")]
    pub kind: FindingKind,
    /// The first report's line, without its timestamp.
    pub line: String,
    /// That report: its header and what the kernel printed with it, bounded.
    pub excerpt: String,
    /// Reports of this kind in the boot; one both logs show counts once.
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub log: KernelLog,
}

impl ConsoleFinding {
    /// `SLUB report ×2, the first: "BUG kmalloc-64 (Not tainted): Poison overwritten"`
    pub fn summary(&self) -> String {
        match self.count {
            1 => format!("{}: {:?}", self.kind.title(), self.line),
            n => format!("{} ×{n}, the first: {:?}", self.kind.title(), self.line),
        }
    }

    /// The log it was quoted from, relative to the results folder: in the host's own
    /// folder (`console/<host>/`) in a study over several hosts.
    pub fn log_file(&self, host: &str, variant: &str, boot: u32) -> String {
        match host {
            "" => format!("{}/{variant}-boot{boot}.log", self.log.folder()),
            host => format!("{}/{host}/{variant}-boot{boot}.log", self.log.folder()),
        }
    }

    /// One line for the warnings: `variant poison boot 1: SLUB report: "BUG ..." (kmsg/poison-boot1.log)`,
    /// after `host lab1: ` in a study over several hosts.
    pub fn warning(&self, host: &str, variant: &str, boot: u32) -> String {
        let on = if host.is_empty() { String::new() } else { format!("host {host}: ") };
        format!("{on}variant {variant} boot {boot}: {} ({})", self.summary(), self.log_file(host, variant, boot))
    }
}

fn one() -> u32 {
    1
}
