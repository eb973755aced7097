//! One set of runs of one metric, summarized.

use super::{mean, sample_sd, t_quantile};
use serde::Serialize;

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

/// What kernbench and mmtests print per metric, and the interval neither prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for a single run, where it is undefined.
    pub sd: Option<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Coefficient of variation, 100 · sd / mean; `None` without an sd or with a zero mean.
    pub cov_percent: Option<f64>,
    /// 95 % confidence interval of the mean by Student's t; `None` for a single run. When
    /// no value is below 0 (every metric kbench measures) its low end is never below 0:
    /// a mean of such values cannot be, and t's interval, symmetric, would say it could.
    pub ci95: Option<Interval>,
}

/// Summarizes a set of runs; `None` when there are none (every run failed).
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let m = mean(values);
    let sd = (n >= 2).then(|| sample_sd(values));
    let ci95 = sd.map(|sd| {
        let half = t_quantile(super::CONFIDENCE, (n - 1) as f64) * sd / (n as f64).sqrt();
        let non_negative = values.iter().all(|&v| v >= 0.0);
        let low = if non_negative { (m - half).max(0.0) } else { m - half };
        Interval { low, high: m + half }
    });
    Some(Summary {
        n,
        mean: m,
        sd,
        median: median(values),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        cov_percent: sd.filter(|_| m != 0.0).map(|sd| 100.0 * sd / m.abs()),
        ci95,
    })
}

/// The middle value (mean of the two middle ones for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    #[test]
    fn five_runs_match_scipy() {
        // Expected: numpy mean/std(ddof=1)/median and scipy.stats.t.interval(0.95, 4, ...),
        // NumPy 2.4.6, SciPy 1.17.1.
        let s = summarize(&[44.20, 43.10, 46.90, 44.50, 44.23]).unwrap();
        assert_eq!(s.n, 5);
        assert_close(s.mean, 44.586, 1e-12);
        assert_close(s.sd.unwrap(), 1.400528471684884, 1e-12);
        assert_eq!(s.median, 44.23);
        assert_eq!((s.min, s.max), (43.10, 46.90));
        assert_close(s.cov_percent.unwrap(), 3.1411843890119857, 1e-12);
        let ci = s.ci95.unwrap();
        assert_close(ci.low, 42.84701421824954, 1e-9);
        assert_close(ci.high, 46.324985781750456, 1e-9);
    }

    #[test]
    fn one_run_has_no_spread_and_no_interval() {
        let s = summarize(&[3.5]).unwrap();
        assert_eq!((s.n, s.mean, s.median, s.min, s.max), (1, 3.5, 3.5, 3.5, 3.5));
        assert_eq!((s.sd, s.cov_percent, s.ci95), (None, None, None));
    }

    #[test]
    fn identical_runs_have_a_zero_width_interval() {
        let s = summarize(&[2.0, 2.0, 2.0]).unwrap();
        assert_eq!(s.sd, Some(0.0));
        assert_eq!(s.cov_percent, Some(0.0));
        assert_eq!(s.ci95, Some(Interval { low: 2.0, high: 2.0 }));
    }

    #[test]
    fn no_runs_is_no_summary_and_zero_mean_has_no_cov() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[-1.0, 1.0]).unwrap().cov_percent, None);
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
