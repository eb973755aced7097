//! A new set of runs against a baseline: is the change real or noise?
//!
//! Welch's t-test (no equal-variance assumption: `slub_debug=P` can change the spread as
//! well as the mean) gives the p-value and, by Welch–Satterthwaite, the degrees of freedom
//! for the interval of the difference. The verdict follows criterion: a change counts only
//! when p < alpha AND the whole interval lies beyond the noise threshold.

use super::summary::{summarize, Interval, Summary};
use super::{t_quantile, t_two_sided_p};
use serde::Serialize;

/// The confidence level of every interval kbench reports.
pub const CONFIDENCE: f64 = 0.95;

/// mmtests stars a change when the intervals mean ± 1.96 · SD do not overlap.
const MMTESTS_SD_FACTOR: f64 = 1.96;

/// When a change is called a change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Significance level of Welch's t-test (criterion's default 0.05).
    pub alpha: f64,
    /// Changes whose whole interval stays within ± this many percent are noise
    /// (criterion's default 1 %).
    pub noise_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { alpha: 0.05, noise_percent: 1.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The new mean is higher: significant and beyond the noise threshold.
    Higher,
    /// The new mean is lower: significant and beyond the noise threshold.
    Lower,
    NoSignificantChange,
    /// Fewer than two runs on a side: no spread, so no test.
    TooFewRuns,
}

impl Verdict {
    pub fn is_change(self) -> bool {
        matches!(self, Verdict::Higher | Verdict::Lower)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub base: Summary,
    pub new: Summary,
    /// new mean − base mean, in the metric's unit.
    pub difference: f64,
    /// 95 % interval of the difference (Welch–Satterthwaite); `None` with too few runs.
    pub difference_ci95: Option<Interval>,
    /// 100 · difference / base mean; `None` when the base mean is 0.
    pub change_percent: Option<f64>,
    /// The difference's interval in percent of the base mean (the base mean is taken as
    /// exact, as criterion and mmtests do).
    pub change_ci95: Option<Interval>,
    /// Welch's t statistic; `None` with too few runs or when both sets have no spread.
    pub t: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom; `None` when `t` is.
    pub df: Option<f64>,
    /// Two-sided p-value of Welch's t-test; `None` with too few runs.
    pub p_value: Option<f64>,
    pub verdict: Verdict,
    /// mmtests' star: the intervals mean ± 1.96 · SD of the two sets do not overlap.
    pub mmtests_significant: bool,
}

/// Compares two sets of runs of one metric; `None` when either set is empty.
pub fn compare(base: &[f64], new: &[f64], thresholds: &Thresholds) -> Option<Comparison> {
    Some(compare_summaries(&summarize(base)?, &summarize(new)?, thresholds))
}

/// [`compare`] from summaries alone (mean, SD, n suffice, as for published numbers).
pub fn compare_summaries(base: &Summary, new: &Summary, thresholds: &Thresholds) -> Comparison {
    let difference = new.mean - base.mean;
    let welch = match (base.sd, new.sd) {
        (Some(s1), Some(s2)) => Some(welch(difference, s1, base.n, s2, new.n)),
        _ => None,
    };
    let to_percent = |value: f64| 100.0 * value / base.mean;
    let has_percent = base.mean != 0.0;
    let change_ci95 = welch
        .filter(|_| has_percent)
        .map(|w| Interval { low: to_percent(w.interval.low), high: to_percent(w.interval.high) });
    let verdict = match welch {
        None => Verdict::TooFewRuns,
        Some(w) => verdict(w.p, difference, change_ci95, thresholds),
    };
    Comparison {
        base: base.clone(),
        new: new.clone(),
        difference,
        difference_ci95: welch.map(|w| w.interval),
        change_percent: has_percent.then(|| to_percent(difference)),
        change_ci95,
        t: welch.and_then(|w| w.t),
        df: welch.and_then(|w| w.df),
        p_value: welch.map(|w| w.p),
        verdict,
        mmtests_significant: mmtests_star(base, new),
    }
}

#[derive(Debug, Clone, Copy)]
struct Welch {
    t: Option<f64>,
    df: Option<f64>,
    p: f64,
    interval: Interval,
}

/// Welch's t-test for `difference` of two means with sample SDs `s1`, `s2`.
fn welch(difference: f64, s1: f64, n1: usize, s2: f64, n2: usize) -> Welch {
    let (v1, v2) = (s1 * s1 / n1 as f64, s2 * s2 / n2 as f64);
    let se = (v1 + v2).sqrt();
    if se == 0.0 {
        // No spread on either side: any difference at all is certain, none is no change.
        let p = if difference == 0.0 { 1.0 } else { 0.0 };
        return Welch { t: None, df: None, p, interval: Interval { low: difference, high: difference } };
    }
    let df = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1) as f64 + v2 * v2 / (n2 - 1) as f64);
    let t = difference / se;
    let half = t_quantile(CONFIDENCE, df) * se;
    Welch {
        t: Some(t),
        df: Some(df),
        p: t_two_sided_p(t, df),
        interval: Interval { low: difference - half, high: difference + half },
    }
}

fn verdict(p: f64, difference: f64, change_ci95: Option<Interval>, thresholds: &Thresholds) -> Verdict {
    // A NaN p (a distribution statrs could not build) is no evidence of a change.
    if p.is_nan() || p >= thresholds.alpha {
        return Verdict::NoSignificantChange;
    }
    let noise = thresholds.noise_percent;
    match change_ci95 {
        Some(ci) if ci.low > noise => Verdict::Higher,
        Some(ci) if ci.high < -noise => Verdict::Lower,
        Some(_) => Verdict::NoSignificantChange,
        // A zero baseline has no percentages (say, no involuntary switches at all): any
        // significant difference is beyond every relative threshold.
        None if difference > 0.0 => Verdict::Higher,
        None => Verdict::Lower,
    }
}

fn mmtests_star(base: &Summary, new: &Summary) -> bool {
    let band = |s: &Summary| {
        s.sd.map(|sd| Interval { low: s.mean - MMTESTS_SD_FACTOR * sd, high: s.mean + MMTESTS_SD_FACTOR * sd })
    };
    match (band(base), band(new)) {
        (Some(b), Some(n)) => !b.overlaps(&n),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    const BASE: [f64; 5] = [40.61, 40.32, 40.95, 40.48, 40.71];
    const POISON: [f64; 5] = [44.20, 43.10, 46.90, 44.50, 44.23];

    fn summary(mean: f64, sd: f64, n: usize) -> Summary {
        Summary { n, mean, sd: Some(sd), median: mean, min: mean, max: mean, cov_percent: None, ci95: None }
    }

    #[test]
    fn welch_matches_scipy_on_raw_runs() {
        // Expected: scipy.stats.ttest_ind(POISON, BASE, equal_var=False) with
        // .confidence_interval(0.95), divided by BASE's mean for percent; SciPy 1.17.1.
        let c = compare(&BASE, &POISON, &Thresholds::default()).unwrap();
        assert_close(c.t.unwrap(), 6.25204110647369, 1e-9);
        assert_close(c.df.unwrap(), 4.230776091772742, 1e-9);
        assert_close(c.p_value.unwrap(), 0.002761859701335364, 1e-7);
        let ci = c.difference_ci95.unwrap();
        assert_close(ci.low, 2.2453950189697016, 1e-8);
        assert_close(ci.high, 5.698604981030287, 1e-8);
        assert_close(c.change_percent.unwrap(), 9.779878859506558, 1e-9);
        let pct = c.change_ci95.unwrap();
        assert_close(pct.low, 5.5286231815868945, 1e-8);
        assert_close(pct.high, 14.031134537426224, 1e-8);
        assert_eq!(c.verdict, Verdict::Higher);
        // 40.614 + 1.96 · 0.238 = 41.08 < 44.586 − 1.96 · 1.4005 = 41.84: starred.
        assert!(c.mmtests_significant);
        let reverse = compare(&POISON, &BASE, &Thresholds::default()).unwrap();
        assert_eq!(reverse.verdict, Verdict::Lower);
        assert_close(reverse.p_value.unwrap(), 0.002761859701335364, 1e-7);
    }

    #[test]
    fn welch_matches_scipy_on_the_published_kernbench_numbers() {
        // REFERENCE.md, -j 2 elapsed, with vs without slub_debug=P (n = 5 each). Expected:
        // scipy.stats.ttest_ind_from_stats(44.586, 1.67125, 5, 40.614, 0.232873, 5,
        // equal_var=False) and t.ppf(0.975, df) for the interval; SciPy 1.17.1.
        let c = compare_summaries(&summary(40.614, 0.232873, 5), &summary(44.586, 1.67125, 5), &Thresholds::default());
        assert_close(c.t.unwrap(), 5.263530454704435, 1e-9);
        assert_close(c.df.unwrap(), 4.155267920250434, 1e-9);
        assert_close(c.p_value.unwrap(), 0.005610035770417549, 1e-7);
        assert_close(c.change_ci95.unwrap().low, 4.696258234792907, 1e-7);
        assert_close(c.change_ci95.unwrap().high, 14.863499484220249, 1e-7);
        assert_eq!(c.verdict, Verdict::Higher);
        // -j 4 user time: 89.22 (16.3062) vs 86.233 (17.1381) is noise, p = 0.7849.
        let user = compare_summaries(&summary(86.233, 17.1381, 5), &summary(89.22, 16.3062, 5), &Thresholds::default());
        assert_close(user.p_value.unwrap(), 0.7848640039912407, 1e-7);
        assert_eq!(user.verdict, Verdict::NoSignificantChange);
        assert!(!user.mmtests_significant);
    }

    #[test]
    fn a_significant_change_inside_the_noise_threshold_is_no_change() {
        // 0.5 % slower with almost no spread: p is tiny but the interval is within ± 1 %.
        let base = [100.0, 100.01, 99.99, 100.0];
        let new = [100.5, 100.51, 100.49, 100.5];
        let c = compare(&base, &new, &Thresholds::default()).unwrap();
        assert!(c.p_value.unwrap() < 1e-6, "{c:?}");
        assert_eq!(c.verdict, Verdict::NoSignificantChange);
        let strict = Thresholds { alpha: 0.05, noise_percent: 0.1 };
        assert_eq!(compare(&base, &new, &strict).unwrap().verdict, Verdict::Higher);
        let very_strict_alpha = Thresholds { alpha: 0.0, noise_percent: 0.1 };
        assert_eq!(compare(&base, &new, &very_strict_alpha).unwrap().verdict, Verdict::NoSignificantChange);
    }

    #[test]
    fn a_single_run_on_either_side_is_too_few_to_test() {
        let c = compare(&[40.0], &[44.0, 45.0], &Thresholds::default()).unwrap();
        assert_eq!(c.verdict, Verdict::TooFewRuns);
        assert_eq!((c.p_value, c.change_ci95, c.t), (None, None, None));
        assert_eq!(c.change_percent, Some(10.0 + 1.25));
        assert!(!c.mmtests_significant);
    }

    #[test]
    fn no_runs_on_a_side_is_no_comparison() {
        assert!(compare(&[], &[1.0, 2.0], &Thresholds::default()).is_none());
        assert!(compare(&[1.0, 2.0], &[], &Thresholds::default()).is_none());
    }

    #[test]
    fn zero_variance_on_both_sides_is_certain_either_way() {
        let same = compare(&[5.0, 5.0, 5.0], &[5.0, 5.0], &Thresholds::default()).unwrap();
        assert_eq!((same.p_value, same.verdict), (Some(1.0), Verdict::NoSignificantChange));
        assert_eq!(same.change_ci95, Some(Interval { low: 0.0, high: 0.0 }));
        let slower = compare(&[5.0, 5.0], &[6.0, 6.0], &Thresholds::default()).unwrap();
        assert_eq!((slower.p_value, slower.verdict, slower.t), (Some(0.0), Verdict::Higher, None));
        assert_eq!(slower.change_ci95, Some(Interval { low: 20.0, high: 20.0 }));
        assert!(slower.mmtests_significant);
    }

    #[test]
    fn zero_variance_on_one_side_has_the_other_sides_degrees_of_freedom() {
        // With s1 = 0 Welch–Satterthwaite gives df = n2 − 1 exactly.
        let c = compare(&[10.0, 10.0, 10.0], &[11.0, 12.0, 13.0], &Thresholds::default()).unwrap();
        assert_close(c.df.unwrap(), 2.0, 1e-12);
        // t = 2 / (1 / √3) = 3.4641; scipy.stats.t.sf(3.4641016, 2) · 2 = 0.07417990022744853.
        assert_close(c.p_value.unwrap(), 0.07417990022744853, 1e-7);
        assert_eq!(c.verdict, Verdict::NoSignificantChange);
    }

    #[test]
    fn a_zero_baseline_has_no_percentages_but_a_verdict() {
        let c = compare(&[0.0, 0.0, 0.0], &[3.0, 4.0, 5.0], &Thresholds::default()).unwrap();
        assert_eq!((c.change_percent, c.change_ci95), (None, None));
        assert_eq!(c.verdict, Verdict::Higher);
    }
}
