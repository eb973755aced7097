//! One timed run of one variant at one jobs level, as runs.csv holds it.

use serde::{Deserialize, Serialize};

/// Bumped whenever a column changes meaning or is removed; readers check it.
pub const RUNS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    /// Also what a run is until it is known to have succeeded.
    #[default]
    Failed,
}

/// How the guest that measured a run was started (runs.csv `start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestStart {
    /// Booted, then prepared and warmed up (`reuse = "boot"`, and every first round).
    Boot,
    /// Restored from the state saved after a boot's prepare and warm-ups (`reuse = "snapshot"`).
    Restore,
}

/// One timed run of one variant at one jobs level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub variant: String,
    /// `half`, `optimal`, `max` or the number the scenario gave.
    pub jobs_label: String,
    /// The `-j` value used (0 for `max`: make -j with no limit).
    pub jobs: u32,
    /// 1-based index among the timed runs of this variant and level.
    pub run: u32,
    pub status: RunStatus,
    pub elapsed_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub percent_cpu: f64,
    /// Involuntary context switches (ru_nivcsw): kernbench's "Context Switches".
    pub ctx_switches: u64,
    /// Voluntary context switches (ru_nvcsw): kernbench's "Sleeps".
    pub sleeps: u64,
    pub max_rss_kib: u64,
    pub exit_code: Option<i32>,
    /// Why the run failed; empty when it did not.
    pub failure: String,
    /// As read from the guest's /proc/sys/kernel/osrelease.
    pub kernel_release: String,
    /// As read from the guest's /proc/cmdline.
    pub cmdline: String,
    /// RFC 3339, UTC, when the host received the run's start.
    pub started_at: String,
    // The columns below came later (issue 13): a runs.csv without them reads them as
    // empty, and so are the monitors' columns of a run with `monitor_interval = 0`.
    /// ru_minflt of the whole process tree.
    #[serde(default)]
    pub minor_faults: Option<u64>,
    /// ru_majflt of the whole process tree.
    #[serde(default)]
    pub major_faults: Option<u64>,
    /// /proc/meminfo `Slab`, highest sample and last sample.
    #[serde(default)]
    pub slab_peak_kib: Option<u64>,
    #[serde(default)]
    pub slab_end_kib: Option<u64>,
    #[serde(default)]
    pub sunreclaim_peak_kib: Option<u64>,
    #[serde(default)]
    pub sunreclaim_end_kib: Option<u64>,
    #[serde(default)]
    pub sreclaimable_peak_kib: Option<u64>,
    #[serde(default)]
    pub sreclaimable_end_kib: Option<u64>,
    /// /proc/vmstat changes over the run: `pgalloc_*` summed, `pgfree`, `pgfault`, `pgmajfault`.
    #[serde(default)]
    pub pgalloc: Option<u64>,
    #[serde(default)]
    pub pgfree: Option<u64>,
    #[serde(default)]
    pub pgfault: Option<u64>,
    #[serde(default)]
    pub pgmajfault: Option<u64>,
    /// The guest's CPU time split over the run (/proc/stat), percent of all its CPU time.
    #[serde(default)]
    pub guest_user_percent: Option<f64>,
    #[serde(default)]
    pub guest_sys_percent: Option<f64>,
    #[serde(default)]
    pub guest_softirq_percent: Option<f64>,
    #[serde(default)]
    pub guest_steal_percent: Option<f64>,
    // The columns below came with issues 11 and 12; older files read them as empty.
    /// Which boot of its variant measured the run (1-based, as `console/` names the boot).
    #[serde(default)]
    pub boot: Option<u32>,
    /// The `[[host]]` that measured the run; empty in a study on one host.
    #[serde(default)]
    pub host: String,
    /// The host during the run (`host::noise`): other processes' CPU, in % of one CPU.
    #[serde(default)]
    pub host_other_cpu_percent: Option<f64>,
    /// Steal and iowait, in % of all the host's CPU time.
    #[serde(default)]
    pub host_steal_percent: Option<f64>,
    #[serde(default)]
    pub host_iowait_percent: Option<f64>,
    /// The host's 1-minute load average at the end of the run.
    #[serde(default)]
    pub host_load1: Option<f64>,
    /// The host's cpufreq governor and boost state during the run.
    #[serde(default)]
    pub host_governor: String,
    #[serde(default)]
    pub host_boost: String,
    /// Why the host was too busy for the run to be trusted ("; " between reasons); empty
    /// when it was quiet or not sampled.
    #[serde(default)]
    pub noise: String,
    /// Seconds the run waited for a quiet host (`quiet_host`) before it started.
    #[serde(default)]
    pub quiet_wait_s: Option<f64>,
    // Issue 21; older files read it as empty.
    /// Whether the guest was booted or restored for the run.
    #[serde(default)]
    pub start: Option<GuestStart>,
}

impl RunRecord {
    pub fn is_ok(&self) -> bool {
        self.status == RunStatus::Ok
    }

    /// The host was busy with other work while the run was measured (`noise` says why).
    pub fn is_noisy(&self) -> bool {
        !self.noise.is_empty()
    }
}

/// A plausible successful run, for tests anywhere in the crate.
#[cfg(test)]
pub fn test_record() -> RunRecord {
    RunRecord {
        schema_version: RUNS_SCHEMA_VERSION,
        variant: "baseline".into(),
        jobs_label: "half".into(),
        jobs: 1,
        run: 1,
        status: RunStatus::Ok,
        elapsed_s: 1.5,
        user_s: 1.0,
        sys_s: 0.25,
        percent_cpu: 83.3,
        ctx_switches: 10,
        sleeps: 20,
        max_rss_kib: 1000,
        exit_code: Some(0),
        failure: String::new(),
        kernel_release: "6.1.0".into(),
        cmdline: "console=ttyS0 \"quoted, with comma\"".into(),
        started_at: "2026-11-29T08:00:00Z".into(),
        ..RunRecord::default()
    }
}
