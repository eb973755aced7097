//! When a variant and jobs level has been measured enough (`runs = "auto"`): when the 95 %
//! interval of its mean elapsed time is within ± `precision` % of the mean, or when it
//! reached `max_runs`.
//!
//! The rule looks at one side's own spread only, never at a comparison: stopping as soon
//! as a test says p < alpha ("optional stopping") gives that test many chances to cross
//! alpha by luck and inflates the false alarms far above alpha; stopping when an interval
//! is narrow enough does not (../shared/REFERENCE.md, "Noise, order and many hosts").

// Issue 11: the runner calls it once `runs = "auto"` is wired.
#![allow(dead_code)]

use super::{mean, sample_sd, t_quantile, CONFIDENCE};

/// What to do after the runs measured so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stopping {
    /// Below `min_runs`, or the interval is still wider than the target.
    Continue { half_width_percent: Option<f64> },
    /// The target is met: the interval's half-width is this % of the mean.
    Precise { half_width_percent: f64 },
    /// `max_runs` measured without meeting the target (`None`: not even two values).
    Cap { half_width_percent: Option<f64> },
}

impl Stopping {
    pub fn is_stop(&self) -> bool {
        !matches!(self, Stopping::Continue { .. })
    }
}

/// Half-width of the 95 % Student-t interval of the mean, in % of the mean; `None` for
/// fewer than two values or a mean that is not positive (no relative precision then).
pub fn half_width_percent(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values);
    if m <= 0.0 || !m.is_finite() {
        return None;
    }
    let n = values.len() as f64;
    let half = t_quantile(CONFIDENCE, n - 1.0) * sample_sd(values) / n.sqrt();
    Some(100.0 * half / m)
}

/// The stopping rule. `values` are the successful runs' elapsed times so far; the caller
/// counts `max_runs` against every attempted run if failed runs should use up the cap.
pub fn stopping(values: &[f64], precision_percent: f64, min_runs: u32, max_runs: u32) -> Stopping {
    let half_width_percent = half_width_percent(values);
    let n = values.len() as u32;
    if n >= min_runs {
        if let Some(half) = half_width_percent.filter(|h| *h <= precision_percent) {
            return Stopping::Precise { half_width_percent: half };
        }
    }
    if n >= max_runs {
        return Stopping::Cap { half_width_percent };
    }
    Stopping::Continue { half_width_percent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    /// Feeds a series run by run, as a study measures it; returns where it stopped.
    fn run_until_stop(series: &[f64], precision: f64, min_runs: u32, max_runs: u32) -> (usize, Stopping) {
        for n in 1..=series.len() {
            let decision = stopping(&series[..n], precision, min_runs, max_runs);
            if decision.is_stop() {
                return (n, decision);
            }
        }
        panic!("the series ran out before the rule stopped");
    }

    #[test]
    fn a_quiet_series_stops_at_the_target() {
        // ±0.5 % around 100 s: the interval is within 2 % from the minimum number of runs.
        let quiet: Vec<f64> = (0..30).map(|i| 100.0 + [0.4, -0.3, 0.5, -0.5, 0.1, -0.2][i % 6]).collect();
        let (n, decision) = run_until_stop(&quiet, 2.0, 5, 30);
        assert_eq!(n, 5);
        assert!(matches!(decision, Stopping::Precise { half_width_percent } if half_width_percent <= 2.0), "{decision:?}");
    }

    #[test]
    fn a_noisy_series_stops_at_the_cap() {
        // ±30 %: no interval of 12 runs gets within 2 %.
        let noisy: Vec<f64> = (0..30).map(|i| 100.0 + [30.0, -25.0, 20.0, -30.0][i % 4]).collect();
        let (n, decision) = run_until_stop(&noisy, 2.0, 5, 12);
        assert_eq!(n, 12);
        assert!(matches!(decision, Stopping::Cap { half_width_percent: Some(h) } if h > 2.0), "{decision:?}");
    }

    #[test]
    fn a_series_that_settles_stops_in_between() {
        // Noisy first runs, then steady ones: more than min_runs, fewer than max_runs.
        let mut series = vec![110.0, 92.0, 105.0];
        series.extend((0..40).map(|i| 100.0 + if i % 2 == 0 { 0.5 } else { -0.5 }));
        let (n, decision) = run_until_stop(&series, 1.0, 3, 40);
        assert!(n > 3 && n < 40, "stopped after {n}");
        assert!(matches!(decision, Stopping::Precise { .. }));
    }

    #[test]
    fn min_runs_holds_even_when_precise() {
        assert!(matches!(stopping(&[100.0, 100.0, 100.0], 1.0, 5, 10), Stopping::Continue { half_width_percent: Some(h) } if h == 0.0));
    }

    #[test]
    fn half_width_matches_a_hand_computation() {
        // mean 10, sd 1, n 4: t(0.975, 3) = 3.182446305284263 (SciPy) · 1 / 2 = 1.5912 → 15.912 %.
        let values = [9.0, 10.0, 11.0, 10.0];
        let sd = sample_sd(&values);
        assert_close(half_width_percent(&values).unwrap(), 100.0 * 3.182446305284263 * sd / 2.0 / 10.0, 1e-9);
        assert_eq!(half_width_percent(&[5.0]), None);
        assert_eq!(half_width_percent(&[0.0, 0.0]), None);
    }
}
