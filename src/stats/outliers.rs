//! Outliers, flagged and never removed: hyperfine's modified Z-score rule, where it can
//! mean something: at least [`MIN_RUNS_FOR_OUTLIERS`] runs and a MAD above 0.

use super::summary::median;
use serde::Serialize;

/// A run is an outlier when |x − median| / (1.4826 · MAD) exceeds this (hyperfine).
pub const OUTLIER_Z: f64 = 10.0;

/// Below this many runs the median and the MAD rest on one or two values: with three
/// runs, a run 4 sleeps off the other two would score as an outlier. So no flags.
pub const MIN_RUNS_FOR_OUTLIERS: usize = 5;

/// Scales the MAD to an estimate of the SD for normally distributed values.
const MAD_TO_SD: f64 = 1.4826;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outliers {
    /// 0-based positions, in the order the values were given, of the outlying values.
    pub indices: Vec<usize>,
    /// The first value is itself an outlier on the slow (high) side: a cold cache or an
    /// unfinished warm-up, hyperfine's "first run was significantly slower" warning.
    pub slow_first: bool,
}

/// (x − median) / (1.4826 · MAD) for every value. With a MAD of 0 (at least half the
/// values identical) any other value scores ±∞, as in hyperfine; all-identical values
/// score 0. [`outliers`] flags nothing then.
pub fn modified_z_scores(values: &[f64]) -> Vec<f64> {
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    let scale = MAD_TO_SD * median(&deviations);
    values
        .iter()
        .map(|v| {
            let distance = v - center;
            if distance == 0.0 {
                0.0
            } else {
                distance / scale
            }
        })
        .collect()
}

/// The outliers among `values`, given in run order so that the first run is the first value.
///
/// A MAD of 0 flags nothing, unlike hyperfine: it only says that at least half the runs
/// gave the same value, which is what an integer-valued metric (context switches, max RSS
/// in KiB) does on a quiet guest. The spread is then unknown, not zero, and a value one
/// count away would score ∞: every value off the median would be called an outlier.
pub fn outliers(values: &[f64]) -> Outliers {
    if values.len() < MIN_RUNS_FOR_OUTLIERS {
        return Outliers::default();
    }
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    if median(&deviations) == 0.0 {
        return Outliers::default();
    }
    let scores = modified_z_scores(values);
    Outliers {
        indices: scores.iter().enumerate().filter(|(_, z)| z.abs() > OUTLIER_Z).map(|(i, _)| i).collect(),
        slow_first: scores.first().is_some_and(|&z| z > OUTLIER_Z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    #[test]
    fn scores_match_numpy_and_the_far_run_is_flagged() {
        // Expected: (x − np.median(x)) / (1.4826 · np.median(|x − np.median(x)|)), NumPy 2.4.6.
        let values = [1.0, 1.1, 1.2, 1.05, 1.15, 1.1, 1.12, 1.08, 1.11, 5.0];
        let scores = modified_z_scores(&values);
        assert_close(scores[0], -2.02347228, 1e-7);
        assert_close(scores[2], 1.83076063, 1e-7);
        assert_close(scores[9], 75.06118595, 1e-7);
        assert_eq!(outliers(&values), Outliers { indices: vec![9], slow_first: false });
    }

    #[test]
    fn a_slow_first_run_is_noted() {
        let found = outliers(&[9.0, 1.0, 1.1, 0.9, 1.05]);
        assert_eq!(found, Outliers { indices: vec![0], slow_first: true });
        // A fast first run is an outlier but not a cold cache.
        assert!(!outliers(&[0.01, 1.0, 1.1, 0.9, 1.05]).slow_first);
    }

    #[test]
    fn ordinary_spread_few_runs_and_identical_runs_have_no_outliers() {
        assert!(outliers(&[40.61, 40.32, 40.95, 40.48, 40.71]).indices.is_empty());
        assert!(outliers(&[3.0]).indices.is_empty());
        assert!(outliers(&[3.0, 300.0]).indices.is_empty(), "two runs: each is 1/1.4826 MADs away");
        assert!(outliers(&[2.0, 2.0, 2.0]).indices.is_empty());
        assert!(outliers(&[399.0, 399.0, 403.0]).indices.is_empty(), "three runs are too few to call one odd");
        assert!(outliers(&[9.0, 1.0, 1.1, 0.9]).indices.is_empty());
        assert!(outliers(&[]).indices.is_empty());
    }

    #[test]
    fn a_zero_mad_flags_nothing() {
        // Five runs of an integer-valued metric: three agree, so the MAD is 0 and the
        // scores of the other two are infinite. Hyperfine would flag both.
        let max_rss = [120004.0, 120004.0, 120005.0, 120004.0, 120003.0];
        assert!(modified_z_scores(&max_rss)[2].is_infinite());
        assert_eq!(outliers(&max_rss), Outliers::default());
        assert_eq!(outliers(&[10.0, 10.0, 10.0, 10.0, 20.0]), Outliers::default());
        // A MAD of one count still finds a value far from the rest.
        assert_eq!(outliers(&[100.0, 101.0, 100.0, 102.0, 101.0, 150.0]).indices, vec![5]);
    }
}
