//! Statistics over runs. No I/O here: numbers in, numbers out.
//!
//! - [`summarize`]: n, mean, sample SD, median, min, max, CoV, 95 % interval of the mean.
//! - [`compare`]: a new set of runs against a baseline (Welch's t-test, Fieller's interval
//!   of the change in percent, criterion's verdict, mmtests' star).
//! - [`analyze_hosts`]: a study over several lab hosts, per host, and pooled across hosts.
//! - [`inconsistencies`]: rows that contradict each other or the plan, refused by readers.
//! - [`outliers`]: hyperfine's modified Z-score and its slow-first-run warning.
//! - [`stopping`]: `runs = "auto"`'s rule: stop when the mean is precise enough, or at the cap.
//! - [`Metric`]: what is measured per run, its unit and how to read it from a run.

mod analysis;
mod change;
mod consistency;
mod geomean;
mod hosts;
mod metric;
mod noise;
mod outliers;
mod precision;
mod sequential;
mod summary;

// The API `bench compare` builds on: not every item is used by `bench run`/`report` yet.
pub use analysis::{analyze, Analysis, LevelAnalysis, MetricAnalysis, VariantAtLevel, VariantSeen};
#[allow(unused_imports)]
pub use change::{
    compare, compare_summaries, planned_sensitivity, Comparison, Thresholds, Verdict, CONFIDENCE, MIN_RUNS, POWER, RUNS_NEEDED_CAP,
    STAR_MEANS,
};
pub use consistency::{inconsistencies, StudyShape};
#[allow(unused_imports)]
pub use geomean::GeomeanChange;
#[allow(unused_imports)]
pub use hosts::{
    analyze_hosts, hosts_seen, pool, runs_of_host, HostAnalysis, HostChange, HostComparison, HostsAnalysis, LeftOut, PooledChange,
    PooledLevel, PooledMetric, PooledVariant, MIN_HOSTS,
};
#[allow(unused_imports)]
pub use metric::Metric;
#[allow(unused_imports)]
pub use noise::{describe as describe_noisy, noisy_runs, NoisyRun, NOISE_ADVICE};
#[allow(unused_imports)]
pub use outliers::{modified_z_scores, outliers, Outliers, OUTLIER_Z};
#[allow(unused_imports)]
pub use precision::{half_width_percent, stopping, Decide, Settled, Stopping, Target};
#[allow(unused_imports)]
pub use sequential::{decide, look, Spending};
#[allow(unused_imports)]
pub use summary::{median, summarize, Interval, Summary};

/// Arithmetic mean; NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (divides by n − 1, as kernbench); 0 for fewer than two values,
/// which is what kernbench prints. [`Summary::sd`] says "undefined" instead.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let squares: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

/// Two-sided quantile of Student's t: the `t` with P(|T| ≤ t) = `confidence`.
fn t_quantile(confidence: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
    if df.is_infinite() {
        return Normal::standard().inverse_cdf(0.5 + confidence / 2.0);
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(0.5 + confidence / 2.0),
        Err(_) => f64::NAN,
    }
}

/// Two-sided p-value of a t statistic with `df` degrees of freedom.
fn t_two_sided_p(t: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    match StudentsT::new(0.0, 1.0, df) {
        // cdf(−|t|) keeps precision for tiny p, where 1 − cdf(|t|) would round to 0.
        Ok(dist) => (2.0 * dist.cdf(-t.abs())).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// Relative closeness for known-answer tests.
#[cfg(test)]
pub(crate) fn assert_close(actual: f64, expected: f64, relative: f64) {
    let tolerance = relative * expected.abs().max(1e-12);
    assert!((actual - expected).abs() <= tolerance, "{actual} is not {expected} (± {tolerance})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sd_matches_kernbench_reference() {
        // ../shared/REFERENCE.md: Percent CPU {182,182,182,183,183} prints (0.547723).
        let sd = sample_sd(&[182.0, 182.0, 182.0, 183.0, 183.0]);
        assert!((sd - 0.547723).abs() < 1e-6, "{sd}");
        assert_eq!(mean(&[182.0, 182.0, 182.0, 183.0, 183.0]), 182.4);
    }

    #[test]
    fn sample_sd_of_one_value_is_zero() {
        assert_eq!(sample_sd(&[3.0]), 0.0);
        assert!(mean(&[]).is_nan());
    }

    #[test]
    fn t_quantiles_match_scipy() {
        // scipy.stats.t.ppf(0.975, 1) and (0.975, 4), SciPy 1.17.1.
        assert_close(t_quantile(0.95, 1.0), 12.706204736174694, 1e-9);
        assert_close(t_quantile(0.95, 4.0), 2.7764451051977934, 1e-9);
    }
}
