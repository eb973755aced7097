//! Every time limit of a study, decided here and nowhere else. Each step the host sends
//! carries its limit; the agent enforces it on the whole step (clean, sync, command)
//! from StepStarted, and the host's own guard is the same limit plus [`Limits::margin`],
//! counted from the same message. Heartbeats tell a slow step from a dead guest.
//! docs/scenario.md ("Time limits") describes the same rules for users.

use crate::scenario::Plan;
use kbench_protocol::StepKind;
use std::fmt;
use std::time::Duration;

/// A prepare without `prepare_timeout` may take this long (a kernel configure plus
/// `make prepare` under TCG takes minutes; a hung one must still end).
pub const PREPARE_CEILING: Duration = Duration::from_secs(2 * 3600);
/// A warm-up without `run_timeout`, and a timed run with neither `run_timeout` nor a
/// warm-up to derive from, may take this long.
pub const STEP_CEILING: Duration = Duration::from_secs(6 * 3600);
/// Without `run_timeout`, a timed run may take this many times the longest warm-up...
pub const WARMUP_FACTOR: f64 = 5.0;
/// ...and never less than this, so that a quick warm-up does not make a tight limit...
pub const DERIVED_FLOOR: Duration = Duration::from_secs(60);
/// ...nor more than the longest limit a scenario may set: the warm-up's time is the
/// agent's word, and a limit must fit a timer on both sides.
pub const DERIVED_CEILING: Duration = Duration::from_secs(crate::scenario::limits::MAX_SECONDS);
/// How often the agent says it is alive while a step runs.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// No word from the agent for this long while it should be talking: the guest is dead
/// (3 missed heartbeats, and slack for a guest starved of CPU under TCG).
pub const SILENCE: Duration = Duration::from_secs(3 * 10 + 30);
/// The host's guard on a step: its limit plus this, for the agent to kill, reap and report.
pub const MARGIN: Duration = Duration::from_secs(30);
/// Each probe command (compiler version and the like) may take this long.
pub const PROBE: Duration = Duration::from_secs(30);
/// The boot facts, beyond the disk wait and the probes: mounting, reading /proc and /sys.
pub const FACTS_BASE: Duration = Duration::from_secs(30);
/// Per module the agent loads before it waits for the root disk.
pub const MODULE_ALLOWANCE: Duration = Duration::from_secs(10);
/// A guest that said Done may take this long to power off.
pub const POWER_OFF: Duration = Duration::from_secs(30);
/// With `quiet_host`, the first look at the host's load before a run lasts this long...
pub const QUIET_CHECK: Duration = Duration::from_secs(1);
/// ...and while it is busy, it is looked at again this often (each look covers the time
/// since the last one), until `quiet_host.wait` is spent.
pub const QUIET_POLL: Duration = Duration::from_secs(5);

/// One step's limit and where it comes from, for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub duration: Duration,
    pub source: String,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} ({})", seconds(self.duration), self.source)
    }
}

/// How a timed run's limit is found.
#[derive(Debug, Clone, PartialEq)]
pub enum RunLimit {
    Fixed(Limit),
    /// `factor` × the longest warm-up of the same boot, at least `floor`.
    FromWarmups {
        factor: f64,
        floor: Duration,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// From QEMU's start to the agent's hello.
    pub hello: Duration,
    /// From the setup to the boot facts: follows `guest.root.wait`, the modules and probes.
    pub boot_facts: Duration,
    pub prepare: Limit,
    pub warmup: Limit,
    pub run: RunLimit,
    pub heartbeat: Duration,
    pub silence: Duration,
    pub margin: Duration,
    pub probe: Duration,
    pub power_off: Duration,
    /// `quiet_host.wait`: the longest wait for a quiet host before each timed run, beyond
    /// the first look of `quiet_check`; `None` without `quiet_host`.
    pub quiet_wait: Option<Duration>,
    pub quiet_check: Duration,
    pub quiet_poll: Duration,
}

impl Limits {
    pub fn for_plan(plan: &Plan) -> Limits {
        let guest = &plan.guest;
        let prepare = match guest.prepare_timeout {
            Some(d) => Limit { duration: d, source: "guest.prepare_timeout".into() },
            None => Limit { duration: PREPARE_CEILING, source: "the default prepare ceiling".into() },
        };
        let fixed_run = guest.run_timeout.map(|d| Limit { duration: d, source: "guest.run_timeout".into() });
        let warmup = fixed_run.clone().unwrap_or(Limit { duration: STEP_CEILING, source: "the default step ceiling".into() });
        let run = match fixed_run {
            Some(limit) => RunLimit::Fixed(limit),
            None if plan.warmup > 0 => RunLimit::FromWarmups { factor: WARMUP_FACTOR, floor: DERIVED_FLOOR },
            None => {
                RunLimit::Fixed(Limit { duration: STEP_CEILING, source: "the default step ceiling: no run_timeout and no warm-up".into() })
            }
        };
        let root = guest
            .root
            .as_ref()
            .map_or(Duration::ZERO, |root| Duration::from_secs(u64::from(root.wait_s)) + MODULE_ALLOWANCE * root.modules.len() as u32);
        let probes = crate::benchmark::workload::commands(&plan.workload, false).probes.len() as u32;
        Limits {
            hello: guest.boot_timeout,
            boot_facts: FACTS_BASE + root + PROBE * probes,
            prepare,
            warmup,
            run,
            heartbeat: HEARTBEAT,
            silence: SILENCE,
            margin: MARGIN,
            probe: PROBE,
            power_off: POWER_OFF,
            quiet_wait: plan.quiet_host.map(|q| q.wait),
            quiet_check: QUIET_CHECK,
            quiet_poll: QUIET_POLL,
        }
    }

    /// The limit a step of `kind` gets; `longest_warmup` is the longest whole warm-up
    /// step (clean included) of this boot so far.
    pub fn for_step(&self, kind: StepKind, longest_warmup: Option<Duration>) -> Limit {
        match kind {
            StepKind::Prepare => self.prepare.clone(),
            StepKind::Warmup => self.warmup.clone(),
            StepKind::Timed => match (&self.run, longest_warmup) {
                (RunLimit::Fixed(limit), _) => limit.clone(),
                (RunLimit::FromWarmups { factor, floor }, Some(warmup)) => {
                    let derived = Duration::try_from_secs_f64(warmup.as_secs_f64() * factor).unwrap_or(Duration::MAX);
                    let source = format!("{factor} × the longest warm-up, {}", seconds(warmup));
                    if derived > DERIVED_CEILING {
                        let source = format!("{source}, lowered to the ceiling of {}", seconds(DERIVED_CEILING));
                        Limit { duration: DERIVED_CEILING, source }
                    } else if derived >= *floor {
                        Limit { duration: derived, source }
                    } else {
                        Limit { duration: *floor, source: format!("{source}, raised to the floor of {}", seconds(*floor)) }
                    }
                }
                (RunLimit::FromWarmups { .. }, None) => {
                    Limit { duration: STEP_CEILING, source: "the default step ceiling: no warm-up finished".into() }
                }
            },
        }
    }

    /// The host's guard on a step with `limit`, counted from StepStarted.
    pub fn guard(&self, limit: Duration) -> Duration {
        limit + self.margin
    }

    /// The longest a study of `plan` can take when every step hits its limit and every
    /// boot is retried: finite, whatever the scenario says.
    pub fn worst_case(&self, plan: &Plan) -> Duration {
        let worst_run = match &self.run {
            RunLimit::Fixed(limit) => limit.duration,
            RunLimit::FromWarmups { factor, floor } => self.warmup.duration.mul_f64(*factor).max(*floor),
        };
        let quiet = self.quiet_wait.map_or(Duration::ZERO, |wait| wait + self.quiet_check);
        let steps_per_boot = self.guard(self.prepare.duration)
            + self.guard(self.warmup.duration) * plan.warmup
            + (self.guard(worst_run) + quiet) * plan.runs.div_ceil(plan.rounds) * plan.levels.len() as u32;
        let boot = self.hello + self.boot_facts + steps_per_boot + self.silence + self.power_off;
        boot * (plan.guest.retries + 1) * plan.rounds * plan.variants.len() as u32
    }

    /// What `bench check` prints: every limit and where it comes from.
    pub fn describe(&self, plan: &Plan) -> Vec<String> {
        let run = match &self.run {
            RunLimit::Fixed(limit) => limit.to_string(),
            RunLimit::FromWarmups { factor, floor } => {
                format!("{factor} × the longest warm-up of the boot, at least {} (no run_timeout)", seconds(*floor))
            }
        };
        let study = match plan.guest.study_timeout {
            Some(d) => format!("{} (guest.study_timeout)", seconds(d)),
            None => format!(
                "no limit set (guest.study_timeout); at most {} if every step ran into its limit and every boot was retried",
                seconds(self.worst_case(plan))
            ),
        };
        let has_prepare = crate::benchmark::workload::commands(&plan.workload, false).prepare.is_some();
        let quiet = match (plan.quiet_host, self.quiet_wait) {
            (Some(q), Some(wait)) => format!(
                "quiet host: before each timed run, up to {} for other processes to use at most {} CPUs (quiet_host)",
                seconds(wait + self.quiet_check),
                q.max_load
            ),
            _ => "quiet host: no wait (no quiet_host); noisy runs are flagged".into(),
        };
        vec![
            format!("agent hello: {} (guest.boot_timeout)", seconds(self.hello)),
            format!("boot facts: {} (root disk wait, modules and probes)", seconds(self.boot_facts)),
            if has_prepare { format!("prepare: {}", self.prepare) } else { "prepare: none in this workload".into() },
            if plan.warmup > 0 { format!("warm-up: {}", self.warmup) } else { "warm-up: none (warmup = 0)".into() },
            format!("timed run: {run}"),
            format!(
                "the host gives each step its limit + {}; no heartbeat for {} means a dead guest",
                seconds(self.margin),
                seconds(self.silence)
            ),
            quiet,
            format!("study: {study}"),
        ]
    }
}

pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{} h", s / 3600.0)
    } else if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s.fract() == 0.0 {
        format!("{s} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::fake::plan;

    #[test]
    fn without_any_timeout_every_step_still_has_a_finite_limit() {
        let mut p = plan(2, 0, 1);
        p.guest.run_timeout = None;
        p.guest.prepare_timeout = None;
        let limits = Limits::for_plan(&p);
        assert_eq!(limits.for_step(StepKind::Prepare, None).duration, PREPARE_CEILING);
        assert_eq!(limits.for_step(StepKind::Warmup, None).duration, STEP_CEILING);
        let run = limits.for_step(StepKind::Timed, None);
        assert_eq!(run.duration, STEP_CEILING);
        assert!(run.source.contains("no warm-up"), "{run}");
        assert!(limits.worst_case(&p) < Duration::from_secs(365 * 24 * 3600));
    }

    #[test]
    fn timed_runs_derive_five_times_the_longest_whole_warmup_with_a_floor() {
        let mut p = plan(2, 1, 1);
        p.guest.run_timeout = None;
        let limits = Limits::for_plan(&p);
        let run = limits.for_step(StepKind::Timed, Some(Duration::from_secs(30)));
        assert_eq!(run.duration, Duration::from_secs(150));
        assert!(run.source.contains("longest warm-up, 30 s"), "{run}");
        assert_eq!(limits.for_step(StepKind::Timed, Some(Duration::from_secs(2))).duration, DERIVED_FLOOR);
        // The warm-up is the agent's word: a huge one still makes a limit a timer holds.
        let huge = limits.for_step(StepKind::Timed, Some(Duration::MAX));
        assert_eq!(huge.duration, DERIVED_CEILING);
        assert!(huge.source.contains("lowered to the ceiling of 168 h"), "{huge}");
        assert!(std::time::Instant::now().checked_add(limits.guard(huge.duration)).is_some());
    }

    #[test]
    fn scenario_timeouts_win_and_the_facts_limit_follows_the_disk_wait() {
        let mut p = plan(2, 1, 1);
        p.guest.run_timeout = Some(Duration::from_secs(100));
        p.guest.prepare_timeout = Some(Duration::from_secs(7));
        p.guest.root = Some(kbench_protocol::RootDisk {
            device: "/dev/vda".into(),
            fstype: "ext4".into(),
            options: "ro".into(),
            modules: vec!["a".into(), "b".into()],
            wait_s: 200,
        });
        let limits = Limits::for_plan(&p);
        assert_eq!(limits.for_step(StepKind::Prepare, None).to_string(), "7 s (guest.prepare_timeout)");
        assert_eq!(limits.for_step(StepKind::Warmup, None).duration, Duration::from_secs(100));
        assert_eq!(limits.for_step(StepKind::Timed, Some(Duration::from_secs(1000))).duration, Duration::from_secs(100));
        assert_eq!(limits.boot_facts, FACTS_BASE + Duration::from_secs(200) + MODULE_ALLOWANCE * 2);
        assert!(limits.boot_facts > Duration::from_secs(200), "the disk wait ends before the host gives up");
        assert_eq!(limits.guard(Duration::from_secs(100)), Duration::from_secs(100) + MARGIN);
    }
}
