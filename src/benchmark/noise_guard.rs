//! The host-noise guard around each timed run: before it, a bounded wait for a quiet host
//! when the scenario asks (`quiet_host`); while it runs, a sample of the host
//! (`host::noise`) for the row's host columns and its `noise` flag.

use super::study::Stops;
use crate::host::noise::{self as host_noise, HostNoise, NoiseSample, Quiet};
use crate::model::RunRecord;
use anyhow::Result;
use std::time::{Duration, Instant};

/// How the host is sampled: its /proc in a study, a script in tests.
pub trait HostProbe {
    /// Starts a window; `ours` are the study's own processes (its QEMU, bench).
    fn start(&self, ours: &[u32]) -> Result<Box<dyn HostWindow>>;
}

/// A window being sampled.
pub trait HostWindow {
    fn finish(self: Box<Self>) -> Result<HostNoise>;
}

/// This host's /proc and /sys.
pub struct ProcProbe;

impl HostProbe for ProcProbe {
    fn start(&self, ours: &[u32]) -> Result<Box<dyn HostWindow>> {
        Ok(Box::new(NoiseSample::start(ours)?))
    }
}

impl HostWindow for NoiseSample {
    fn finish(self: Box<Self>) -> Result<HostNoise> {
        NoiseSample::finish(*self)
    }
}

/// The start of warnings that the host could not be sampled: said once per study.
pub const UNSAMPLED: &str = "the host's noise could not be sampled";

/// What the guard found for one run, for its row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunHost {
    pub noise: Option<HostNoise>,
    /// Why the run is not to be trusted: the window's reasons, and a wait that ran out.
    pub reasons: Vec<String>,
    pub quiet_wait_s: Option<f64>,
}

impl RunHost {
    pub fn fill(self, record: &mut RunRecord) {
        if let Some(noise) = self.noise {
            record.host_other_cpu_percent = Some(round(noise.other_cpu_percent, 10.0));
            record.host_steal_percent = Some(round(noise.steal_percent, 100.0));
            record.host_iowait_percent = Some(round(noise.iowait_percent, 100.0));
            record.host_load1 = Some(noise.load1);
            record.host_governor = noise.governor;
            record.host_boost = noise.boost;
        }
        record.noise = self.reasons.join("; ");
        record.quiet_wait_s = self.quiet_wait_s.map(|s| round(s, 10.0));
    }
}

fn round(value: f64, per_unit: f64) -> f64 {
    (value * per_unit).round() / per_unit
}

/// How a wait for a quiet host ended, for the run's row.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietWait {
    /// Wall time from the first look to the run's start.
    pub seconds: f64,
    /// Why the run goes ahead on a busy host; `None` when the host got quiet.
    pub still_busy: Option<String>,
}

/// Waits until other processes than `ours` keep at most `max_load` CPUs busy: a first look
/// of `check`, then a look every `poll` (each over the time since the last one) for at
/// most `wait`. `stops` (Ctrl-C, study_timeout) end it within 0.1 s.
pub fn wait_for_quiet(
    probe: &dyn HostProbe,
    ours: &[u32],
    (max_load, wait): (f64, Duration),
    (check, poll): (Duration, Duration),
    stops: &Stops,
) -> Result<QuietWait> {
    let started = Instant::now();
    let mut window: Option<Box<dyn HostWindow>> = None;
    let read_load = || -> Result<f64> {
        let current = match window.take() {
            Some(window) => window,
            None => {
                let first = probe.start(ours)?;
                sleep(stops, check)?;
                first
            }
        };
        let noise = current.finish()?;
        window = Some(probe.start(ours)?);
        Ok(noise.other_cpu_percent / 100.0)
    };
    let quiet = host_noise::wait_for_quiet(read_load, |d| sleep(stops, d), max_load, wait, poll)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(QuietWait {
        seconds,
        still_busy: match quiet {
            Quiet::After(_) => None,
            Quiet::StillBusy { load, .. } => Some(format!(
                "the host was still busy after waiting {seconds:.0} s for quiet (other processes kept {load:.1} CPUs busy, quiet_host.max_load {max_load})"
            )),
        },
    })
}

/// Sleeps `duration`, asking `stops` every 0.1 s.
fn sleep(stops: &Stops, duration: Duration) -> Result<()> {
    let end = Instant::now() + duration;
    loop {
        stops.check()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::fake::FakeProbe;
    use crate::benchmark::interrupt::{Interrupt, Interrupted};

    fn stops(interrupt: &Interrupt) -> Stops<'_> {
        Stops { interrupt, deadline: None, study_timeout_s: 0 }
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_quiet_host_is_seen_at_the_first_look() {
        let probe = FakeProbe::loads(&[30.0]);
        let interrupt = Interrupt::default();
        let waited = wait_for_quiet(&probe, &[1], (0.5, MS(5000)), (MS(10), MS(50)), &stops(&interrupt)).unwrap();
        assert_eq!(waited.still_busy, None);
        assert!(waited.seconds < 1.0, "{waited:?}");
    }

    #[test]
    fn a_busy_host_is_waited_for_until_the_wait_is_spent_then_named() {
        let probe = FakeProbe::loads(&[190.0]);
        let interrupt = Interrupt::default();
        let started = Instant::now();
        let waited = wait_for_quiet(&probe, &[1], (0.5, MS(300)), (MS(10), MS(100)), &stops(&interrupt)).unwrap();
        assert!(started.elapsed() < MS(1000), "{:?}", started.elapsed());
        assert!(waited.seconds >= 0.3, "{waited:?}");
        let busy = waited.still_busy.unwrap();
        assert!(busy.contains("kept 1.9 CPUs busy, quiet_host.max_load 0.5"), "{busy}");
        // A first look and one after each of 3 polls, each window started where the last ended.
        assert_eq!(probe.windows(), 5, "4 looks and the window open at the end");
    }

    #[test]
    fn the_host_getting_quiet_ends_the_wait() {
        let probe = FakeProbe::loads(&[190.0, 150.0, 20.0]);
        let interrupt = Interrupt::default();
        let waited = wait_for_quiet(&probe, &[1], (0.5, MS(60_000)), (MS(10), MS(20)), &stops(&interrupt)).unwrap();
        assert_eq!(waited.still_busy, None);
        assert!(waited.seconds < 5.0, "{waited:?}");
    }

    #[test]
    fn ctrl_c_ends_a_long_wait_at_once() {
        let probe = FakeProbe::loads(&[190.0]);
        let interrupt = Interrupt::default();
        let raiser = interrupt.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(MS(200));
            raiser.raise(2);
        });
        let started = Instant::now();
        let error = wait_for_quiet(&probe, &[1], (0.5, Duration::from_secs(3600)), (MS(10), Duration::from_secs(5)), &stops(&interrupt))
            .unwrap_err();
        thread.join().unwrap();
        assert!(error.is::<Interrupted>(), "{error:#}");
        assert!(started.elapsed() < MS(1000), "{:?}", started.elapsed());
    }

    #[test]
    fn a_row_gets_the_window_s_figures_rounded_and_its_reasons() {
        let mut record = RunRecord::default();
        let noise = HostNoise {
            other_cpu_percent: 123.456,
            steal_percent: 0.123,
            iowait_percent: 1.0 / 3.0,
            load1: 2.5,
            governor: "performance".into(),
            boost: "unknown".into(),
        };
        RunHost { noise: Some(noise), reasons: vec!["a".into(), "b".into()], quiet_wait_s: Some(3.04) }.fill(&mut record);
        assert_eq!(record.host_other_cpu_percent, Some(123.5));
        assert_eq!(record.host_steal_percent, Some(0.12));
        assert_eq!(record.host_iowait_percent, Some(0.33));
        assert_eq!((record.host_load1, record.host_governor.as_str(), record.host_boost.as_str()), (Some(2.5), "performance", "unknown"));
        assert_eq!((record.noise.as_str(), record.quiet_wait_s), ("a; b", Some(3.0)));
        let mut unsampled = RunRecord::default();
        RunHost::default().fill(&mut unsampled);
        assert_eq!(unsampled, RunRecord::default(), "a run the guard could not sample keeps its host columns empty");
    }
}
