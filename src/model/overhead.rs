//! Where a study's time went (meta.json `boots` and `time_budget`): each boot's booting,
//! prepare, warm-ups, cleans, timed runs and shut-down, and the study's wall time and
//! bench's own CPU time, so that a report can say how much of the study measured anything.

use serde::{Deserialize, Serialize};

/// One boot of one variant: where its time went, and where its guest was pinned.
/// Host-side durations (`boot_s`, `shutdown_s`) are wall time on the host; the steps'
/// (`prepare_s`, `warmup_s`, `clean_s`, `timed_s`) are the agent's measurements in the
/// guest, as runs.csv's elapsed_s is: the time spent between them (the protocol, the host)
/// is the budget's `other_s`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BootTimes {
    pub variant: String,
    pub boot: u32,
    /// From starting the guest to its agent's boot facts (or to its failure, when it never
    /// got there).
    pub boot_s: f64,
    /// The prepare step's elapsed time; `None` when the workload has none (or it never ended).
    pub prepare_s: Option<f64>,
    /// The warm-ups' elapsed times, added up (their cleans are in `clean_s`).
    pub warmup_s: f64,
    /// The `clean` commands before warm-ups and timed runs, added up.
    pub clean_s: f64,
    /// The timed runs' elapsed times, added up: runs.csv's elapsed_s of this boot.
    pub timed_s: f64,
    /// From saying Finish to the guest's end; 0 for a guest that failed (it was killed).
    pub shutdown_s: f64,
    /// Where `guest.pin` put the guest's threads; absent when not pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinning: Option<PinningFacts>,
    /// `reuse = "snapshot"`: the guest was restored from a saved state, not booted; from
    /// starting QEMU to the agent's answer on the fresh key (`boot_s` is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_s: Option<f64>,
    /// `reuse = "snapshot"`: this boot saved its guest after prepare and warm-ups, taking
    /// this long (the guest stopped meanwhile)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_s: Option<f64>,
    /// ...into state files of this many bytes (memory, devices, the disk's writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bytes: Option<u64>,
}

impl BootTimes {
    pub fn new(variant: &str, boot: u32) -> BootTimes {
        BootTimes { variant: variant.to_string(), boot, ..BootTimes::default() }
    }
}

/// `guest.pin`: each vCPU thread on a host CPU of its own; QEMU's other threads and bench
/// on the shared CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinningFacts {
    pub vcpus: Vec<PinnedVcpu>,
    pub shared_cpus: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedVcpu {
    pub cpu_index: u32,
    /// The host thread (QEMU's vCPU thread) at the time of the boot.
    pub thread_id: i32,
    pub host_cpu: usize,
}

impl PinningFacts {
    /// "vCPU 0 → CPU 1; QEMU and bench on CPU 0".
    pub fn describe(&self) -> String {
        let vcpus: Vec<String> = self.vcpus.iter().map(|v| format!("vCPU {} → CPU {}", v.cpu_index, v.host_cpu)).collect();
        let shared: Vec<String> = self.shared_cpus.iter().map(usize::to_string).collect();
        let cpus = if shared.len() == 1 { "CPU" } else { "CPUs" };
        format!("{}; QEMU and bench on {cpus} {}", vcpus.join(", "), shared.join(", "))
    }
}

/// The study's time, on the host's clock. A resumed study adds each `bench run`'s budget
/// to the one before (`invocations` counts them): the time between two invocations, when
/// nothing ran, is in none of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeBudget {
    /// From `bench run`'s start to the study's end (the reports are written after it).
    pub wall_s: f64,
    /// The timed runs' elapsed times: what the study is for.
    pub timed_runs_s: f64,
    pub boot_s: f64,
    pub prepare_s: f64,
    pub warmup_s: f64,
    pub clean_s: f64,
    pub shutdown_s: f64,
    /// The rest of the wall time: checksums, waits for a quiet host, the protocol's
    /// round trips, steps that never ended (a hung or crashed guest).
    pub other_s: f64,
    /// bench's own user + system CPU time (getrusage RUSAGE_SELF). Its only children are
    /// the QEMUs, which are the guests, not overhead, and are not counted.
    pub bench_cpu_s: f64,
    pub invocations: u32,
    /// From `bench run`'s start to its first boot (the checksums of the files booted, the
    /// host's facts, the results folder): part of `other_s`. Absent in older meta.json.
    #[serde(default)]
    pub before_first_boot_s: f64,
    /// `reuse = "snapshot"`: saving guests after their prepare and warm-ups, and restoring
    /// them in later rounds instead of booting; 0 otherwise.
    #[serde(default)]
    pub save_s: f64,
    #[serde(default)]
    pub restore_s: f64,
    /// How many guests were restored, and the state files saved (bytes, all together).
    #[serde(default)]
    pub restores: u32,
    #[serde(default)]
    pub state_bytes: u64,
}

impl TimeBudget {
    /// The budget of one `bench run` that took `wall_s` and `bench_cpu_s` and measured `boots`.
    pub fn of(boots: &[BootTimes], wall_s: f64, bench_cpu_s: f64) -> TimeBudget {
        let sum = |part: fn(&BootTimes) -> f64| boots.iter().map(part).sum::<f64>();
        let mut budget = TimeBudget {
            wall_s,
            timed_runs_s: sum(|b| b.timed_s),
            boot_s: sum(|b| b.boot_s),
            prepare_s: sum(|b| b.prepare_s.unwrap_or(0.0)),
            warmup_s: sum(|b| b.warmup_s),
            clean_s: sum(|b| b.clean_s),
            shutdown_s: sum(|b| b.shutdown_s),
            other_s: 0.0,
            bench_cpu_s,
            invocations: 1,
            before_first_boot_s: 0.0,
            save_s: sum(|b| b.save_s.unwrap_or(0.0)),
            restore_s: sum(|b| b.restore_s.unwrap_or(0.0)),
            restores: boots.iter().filter(|b| b.restore_s.is_some()).count() as u32,
            state_bytes: boots.iter().filter_map(|b| b.state_bytes).sum(),
        };
        budget.other_s = (wall_s - budget.accounted_s()).max(0.0);
        budget
    }

    /// The study's budget now: this invocation's (`boots` it measured, its wall and CPU
    /// time so far, the time before its first boot) added to the budget of the invocations
    /// before it, if it was resumed.
    pub fn so_far(
        earlier: Option<&TimeBudget>,
        boots: &[BootTimes],
        wall_s: f64,
        bench_cpu_s: f64,
        before_first_boot_s: f64,
    ) -> TimeBudget {
        let now = TimeBudget { before_first_boot_s, ..TimeBudget::of(boots, wall_s, bench_cpu_s) };
        match earlier {
            Some(earlier) => earlier.plus(&now),
            None => now,
        }
    }

    /// The budget of a resumed study: this invocation's added to the earlier ones'.
    pub fn plus(&self, later: &TimeBudget) -> TimeBudget {
        TimeBudget {
            wall_s: self.wall_s + later.wall_s,
            timed_runs_s: self.timed_runs_s + later.timed_runs_s,
            boot_s: self.boot_s + later.boot_s,
            prepare_s: self.prepare_s + later.prepare_s,
            warmup_s: self.warmup_s + later.warmup_s,
            clean_s: self.clean_s + later.clean_s,
            shutdown_s: self.shutdown_s + later.shutdown_s,
            other_s: self.other_s + later.other_s,
            bench_cpu_s: self.bench_cpu_s + later.bench_cpu_s,
            invocations: self.invocations + later.invocations,
            before_first_boot_s: self.before_first_boot_s + later.before_first_boot_s,
            save_s: self.save_s + later.save_s,
            restore_s: self.restore_s + later.restore_s,
            restores: self.restores + later.restores,
            state_bytes: self.state_bytes + later.state_bytes,
        }
    }

    fn accounted_s(&self) -> f64 {
        self.timed_runs_s + self.boot_s + self.prepare_s + self.warmup_s + self.clean_s + self.shutdown_s + self.save_s + self.restore_s
    }

    /// The parts of the wall time besides the timed runs, largest first, in the order of
    /// their names when equal.
    pub fn overheads(&self) -> Vec<(&'static str, f64)> {
        let mut parts = vec![
            ("boot", self.boot_s),
            ("prepare", self.prepare_s),
            ("warm-up", self.warmup_s),
            ("clean", self.clean_s),
            ("shut-down", self.shutdown_s),
            ("other", self.other_s),
        ];
        // Only a study that saved and restored guests has these parts.
        parts.extend([("save", self.save_s), ("restore", self.restore_s)].into_iter().filter(|(_, s)| *s > 0.0));
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts
    }

    /// `seconds` as a percentage of the wall time (0 for an empty budget).
    pub fn share_percent(&self, seconds: f64) -> f64 {
        if self.wall_s > 0.0 {
            seconds / self.wall_s * 100.0
        } else {
            0.0
        }
    }

    /// bench's CPU time as a percentage of one core over the wall time.
    pub fn bench_cpu_percent(&self) -> f64 {
        self.share_percent(self.bench_cpu_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(timed_s: f64, prepare_s: Option<f64>) -> BootTimes {
        BootTimes { boot_s: 6.0, prepare_s, warmup_s: 3.0, clean_s: 1.0, timed_s, shutdown_s: 0.5, ..BootTimes::new("a", 1) }
    }

    #[test]
    fn the_rest_of_the_wall_time_is_other_and_the_shares_follow() {
        let budget = TimeBudget::of(&[boot(20.0, Some(4.0)), boot(10.0, None)], 100.0, 0.5);
        assert_eq!(budget.timed_runs_s, 30.0);
        assert_eq!(budget.boot_s, 12.0);
        assert_eq!(budget.prepare_s, 4.0, "a boot without a prepare adds nothing");
        assert_eq!((budget.warmup_s, budget.clean_s, budget.shutdown_s), (6.0, 2.0, 1.0));
        // 100 - (30 + 12 + 4 + 6 + 2 + 1)
        assert_eq!(budget.other_s, 45.0);
        assert_eq!(budget.share_percent(budget.timed_runs_s), 30.0);
        assert_eq!(budget.bench_cpu_percent(), 0.5);
        assert_eq!(budget.overheads()[0], ("other", 45.0));
        assert_eq!(budget.overheads()[1], ("boot", 12.0));
        assert_eq!(budget.invocations, 1);
    }

    #[test]
    fn saves_and_restores_are_parts_of_their_own_and_only_when_there_were_any() {
        let first = BootTimes { save_s: Some(0.5), state_bytes: Some(80_000_000), ..boot(10.0, Some(4.0)) };
        let restored = BootTimes { boot_s: 0.0, prepare_s: None, warmup_s: 0.0, restore_s: Some(0.4), ..boot(10.0, None) };
        let budget = TimeBudget::of(&[first, restored.clone(), restored], 60.0, 0.1);
        assert_eq!((budget.save_s, budget.restores, budget.state_bytes), (0.5, 2, 80_000_000));
        assert!((budget.restore_s - 0.8).abs() < 1e-12);
        // Timed 3 × 10, boot 6, prepare 4, warm-ups 3, cleans 3 × 1, shut-downs 3 × 0.5, save, restores.
        let accounted = 30.0 + 6.0 + 4.0 + 3.0 + 3.0 + 1.5 + 0.5 + 0.8;
        assert!((budget.other_s - (60.0 - accounted)).abs() < 1e-9, "{budget:?}");
        let names: Vec<&str> = budget.overheads().iter().map(|p| p.0).collect();
        assert!(names.contains(&"save") && names.contains(&"restore"), "{names:?}");
        let plain = TimeBudget::of(&[boot(10.0, Some(4.0))], 40.0, 0.1);
        assert!(!plain.overheads().iter().any(|p| p.0 == "save" || p.0 == "restore"));
    }

    #[test]
    fn a_budget_never_has_negative_other_time_nor_divides_by_zero() {
        // The guest's clock may run ahead of the host's: the parts can exceed the wall.
        let budget = TimeBudget::of(&[boot(20.0, None)], 25.0, 0.0);
        assert_eq!(budget.other_s, 0.0);
        let empty = TimeBudget::of(&[], 0.0, 0.0);
        assert_eq!((empty.share_percent(5.0), empty.bench_cpu_percent()), (0.0, 0.0));
    }

    #[test]
    fn a_resumed_study_adds_its_budget_to_the_earlier_one() {
        let first = TimeBudget { before_first_boot_s: 9.0, ..TimeBudget::of(&[boot(20.0, Some(4.0))], 50.0, 0.2) };
        let second = TimeBudget { before_first_boot_s: 0.5, ..TimeBudget::of(&[boot(10.0, Some(4.0))], 40.0, 0.3) };
        let both = first.plus(&second);
        assert_eq!(both.wall_s, 90.0);
        assert_eq!(both.timed_runs_s, 30.0);
        assert_eq!(both.prepare_s, 8.0);
        assert!((both.bench_cpu_s - 0.5).abs() < 1e-12);
        assert_eq!(both.other_s, first.other_s + second.other_s);
        assert_eq!(both.invocations, 2);
        assert_eq!(both.before_first_boot_s, 9.5);
        assert_eq!(TimeBudget::so_far(Some(&first), &[boot(10.0, Some(4.0))], 40.0, 0.3, 0.5), both);
        assert_eq!(TimeBudget::so_far(None, &[boot(10.0, Some(4.0))], 40.0, 0.3, 0.5), second);
    }

    #[test]
    fn pinning_is_described_per_vcpu() {
        let pinning = PinningFacts {
            vcpus: vec![PinnedVcpu { cpu_index: 0, thread_id: 10, host_cpu: 2 }, PinnedVcpu { cpu_index: 1, thread_id: 11, host_cpu: 3 }],
            shared_cpus: vec![0, 1],
        };
        assert_eq!(pinning.describe(), "vCPU 0 → CPU 2, vCPU 1 → CPU 3; QEMU and bench on CPUs 0, 1");
        let one = PinningFacts { vcpus: vec![PinnedVcpu { cpu_index: 0, thread_id: 10, host_cpu: 1 }], shared_cpus: vec![0] };
        assert_eq!(one.describe(), "vCPU 0 → CPU 1; QEMU and bench on CPU 0");
    }
}
