//! A new set of runs against a baseline: is the change real or noise?
//!
//! Welch's t-test (no equal-variance assumption: `slub_debug=P` can change the spread as
//! well as the mean) gives the p-value and, by Welch–Satterthwaite, the degrees of freedom
//! for the interval of the difference. The change in percent is the ratio of the two means
//! minus one, and its interval comes from Fieller's theorem (see [`fieller`]): dividing the
//! difference's interval by the baseline mean, as criterion and mmtests do, takes that mean
//! as exact and is too narrow when the baseline is noisy.
//!
//! Three answers, as Chromium's Pinpoint (DIFFERENT / SAME / UNKNOWN) and benchstat's `~`:
//! - **changed** (higher/lower, read slower/faster for times), criterion's rule: p < alpha
//!   AND the whole 95 % interval lies beyond ± the noise threshold;
//! - **same**: equivalence shown by two one-sided tests (TOST) at alpha, that is the whole
//!   (1 − 2·alpha) interval (90 % at alpha 0.05) lies within ± the threshold;
//! - **inconclusive**: neither; the study was too noisy or too short to tell. Its
//!   [`Comparison::min_detectable_change_percent`] says what it could have seen and
//!   [`Comparison::runs_needed`] how many runs a side would decide it.
//!
//! Every metric kbench measures is a non-negative quantity: an interval of the change never
//! reaches below −100 % (Fieller's lower bound is clipped there and marked
//! [`Comparison::change_ci95_clipped`]), and where Fieller's set of ratios is unbounded
//! there is no interval and, without a significant p, the verdict is inconclusive.

use super::summary::{summarize, Interval, Summary};
use super::{t_quantile, t_two_sided_p};
use serde::Serialize;

/// The confidence level of every interval kbench reports.
pub const CONFIDENCE: f64 = 0.95;

/// mmtests stars a change when the intervals mean ± 1.96 · SD do not overlap.
const MMTESTS_SD_FACTOR: f64 = 1.96;

/// What the star (`*` on the terminal, ★ in Markdown, `mmtests_significant` in files)
/// means wherever kbench prints one: mmtests' rule, never criterion's verdict (that one is
/// said in words). Every legend quotes this.
pub const STAR_MEANS: &str = "mmtests' rule: the bands mean ± 1.96 · SD of the two sides do not overlap";

/// Fewer successful runs than this on either side give no test and no verdict, only
/// "too few runs". With two runs the t quantile is 12.7 and a test rests on one degree of
/// freedom; two runs whose values happen to agree have no spread at all and would give
/// p = 0. Three is the least that lets the spread be estimated at all honestly.
pub const MIN_RUNS: usize = 3;

/// When a change is called a change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Significance level of Welch's t-test (criterion's default 0.05).
    pub alpha: f64,
    /// Changes whose whole interval stays within ± this many percent are noise
    /// (criterion's default 1 %).
    pub noise_percent: f64,
}

impl Thresholds {
    /// The three outcomes' rule in words, for every legend (no markup, no `<`): "changed
    /// (slower/faster, higher/lower) when Welch's p is below 0.05 and the whole 95 % interval
    /// of the change lies beyond ±1 %; same when the whole 90 % interval lies within ±1 %
    /// (two one-sided tests); otherwise inconclusive".
    pub fn rule_words(&self) -> String {
        let equivalence = 100.0 * (1.0 - 2.0 * self.alpha).max(0.0);
        format!(
            "changed (slower/faster, higher/lower) when Welch's p is below {} and the whole 95 % interval of the change \
             lies beyond ±{} %; same when the whole {equivalence:.0} % interval lies within ±{} % (two one-sided tests at {}); \
             otherwise inconclusive",
            self.alpha, self.noise_percent, self.noise_percent, self.alpha
        )
    }
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
    /// Equivalent within ± the noise threshold (TOST at alpha): the whole (1 − 2·alpha)
    /// interval of the change lies inside it.
    Same,
    /// Neither a change nor shown the same: the interval reaches across the threshold.
    Inconclusive,
    /// Fewer than [`MIN_RUNS`] successful runs on a side: no test, no verdict.
    TooFewRuns,
    /// Across hosts: fewer than `MIN_HOSTS` hosts with enough runs, no interval over hosts.
    TooFewHosts,
}

impl Verdict {
    pub fn is_change(self) -> bool {
        matches!(self, Verdict::Higher | Verdict::Lower)
    }

    /// The answer is known: changed or the same (what `runs = "auto"`'s decide mode waits for).
    pub fn is_decided(self) -> bool {
        matches!(self, Verdict::Higher | Verdict::Lower | Verdict::Same)
    }

    /// Not changed and not shown the same, though there were runs enough to test.
    pub fn is_inconclusive(self) -> bool {
        self == Verdict::Inconclusive
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
    /// 95 % interval of the change in percent, 100 · (new mean / base mean − 1), by
    /// Fieller's theorem: both means' uncertainty counts. `None` with too few runs, and
    /// when the base mean is not itself clearly away from 0 (the interval is unbounded).
    /// Its low end never goes below −100 % (see `change_ci95_clipped`).
    pub change_ci95: Option<Interval>,
    /// Fieller's low end fell below −100 %, impossible for a quantity that cannot go
    /// below 0, and was set to −100 %: the interval is wider than any reading of it.
    pub change_ci95_clipped: bool,
    /// The (1 − 2·alpha) interval of the change (90 % at alpha 0.05), Fieller's as
    /// `change_ci95`: "same" when it lies within ± the threshold (TOST at alpha).
    pub equivalence_ci: Option<Interval>,
    /// The smallest true change, in percent of the base mean, this comparison would call
    /// changed 4 times in 5 (80 % power at alpha, from the measured spread and n): the
    /// threshold plus (t₁₋α/₂ + t₀.₈) standard errors. `None` with too few runs or a base
    /// mean of 0.
    pub min_detectable_change_percent: Option<f64>,
    /// About how many runs a side, at this spread, would decide the comparison at the
    /// threshold (a true change of 0 shown the same, one of twice the threshold changed,
    /// each 4 times in 5). `None` with too few runs, a base mean of 0, or a threshold of 0.
    pub runs_needed: Option<usize>,
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

impl Comparison {
    /// What this comparison could see, in one short phrase for every text output: "sees
    /// ±2.3 %", and when inconclusive also what would decide it, "sees ±38 %; ±1 % needs
    /// about 14 runs a side at this spread". `None` with too few runs or no percentages.
    pub fn sensitivity_phrase(&self, thresholds: &Thresholds) -> Option<String> {
        let seen = self.min_detectable_change_percent?;
        let mut phrase = format!("sees ±{}", percent_words(seen));
        if self.verdict.is_inconclusive() {
            match self.runs_needed {
                Some(n) if n > RUNS_NEEDED_CAP => phrase.push_str(&format!(
                    "; ±{} needs more than {RUNS_NEEDED_CAP} runs a side at this spread",
                    percent_words(thresholds.noise_percent)
                )),
                Some(n) => {
                    phrase.push_str(&format!("; ±{} needs about {n} runs a side at this spread", percent_words(thresholds.noise_percent)))
                }
                None => {}
            }
        }
        Some(phrase)
    }
}

/// "1 %", "2.3 %", "38 %": two significant figures, as people say them.
fn percent_words(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0} %")
    } else if value >= 1.0 {
        let text = format!("{value:.1}");
        format!("{} %", text.trim_end_matches(".0"))
    } else {
        format!("{value:.2} %")
    }
}

/// What `runs` runs a side would see at the spread of `base` and `new` (say an earlier
/// study's): the smallest change they would call changed 4 times in 5, and the runs a side
/// that would decide a comparison at the threshold. `None` below [`MIN_RUNS`] runs or with
/// a base mean of 0.
pub fn planned_sensitivity(base: &Summary, new: &Summary, runs: usize, thresholds: &Thresholds) -> Option<(f64, Option<usize>)> {
    let with_runs = |s: &Summary| Summary { n: runs, ..s.clone() };
    let c = compare_summaries(&with_runs(base), &with_runs(new), thresholds);
    c.min_detectable_change_percent.map(|seen| (seen, c.runs_needed))
}

/// Compares two sets of runs of one metric; `None` when either set is empty.
pub fn compare(base: &[f64], new: &[f64], thresholds: &Thresholds) -> Option<Comparison> {
    Some(compare_summaries(&summarize(base)?, &summarize(new)?, thresholds))
}

/// [`compare`] from summaries alone (mean, SD, n suffice, as for published numbers).
pub fn compare_summaries(base: &Summary, new: &Summary, thresholds: &Thresholds) -> Comparison {
    let difference = new.mean - base.mean;
    let welch = match (base.sd, new.sd) {
        (Some(s1), Some(s2)) if base.n >= MIN_RUNS && new.n >= MIN_RUNS => Some(welch(difference, s1, base.n, s2, new.n)),
        _ => None,
    };
    let has_percent = base.mean != 0.0;
    let fieller_at = |confidence: f64| welch.filter(|_| has_percent).and_then(|w| fieller(base, new, w.df, confidence));
    let (change_ci95, change_ci95_clipped) = clip(fieller_at(CONFIDENCE), base, new);
    let (equivalence_ci, _) = clip(fieller_at((1.0 - 2.0 * thresholds.alpha).max(0.0)), base, new);
    let verdict = match welch {
        None => Verdict::TooFewRuns,
        Some(w) => verdict(w.p, difference, change_ci95, equivalence_ci, thresholds),
    };
    let sensitivity = welch.filter(|_| has_percent).map(|w| Sensitivity::of(base, new, w.df, thresholds));
    Comparison {
        base: base.clone(),
        new: new.clone(),
        difference,
        difference_ci95: welch.map(|w| w.interval),
        change_percent: has_percent.then(|| 100.0 * difference / base.mean),
        change_ci95,
        change_ci95_clipped,
        equivalence_ci,
        min_detectable_change_percent: sensitivity.map(|s| s.min_detectable_percent),
        runs_needed: sensitivity.and_then(|s| s.runs_needed),
        t: welch.and_then(|w| w.t),
        df: welch.and_then(|w| w.df),
        p_value: welch.map(|w| w.p),
        verdict,
        mmtests_significant: mmtests_star(base, new),
    }
}

/// A ratio of two quantities that cannot go below 0 cannot go below 0 either: Fieller's
/// low end below −100 % (a base mean barely clear of 0) is set to −100 % and marked.
fn clip(interval: Option<Interval>, base: &Summary, new: &Summary) -> (Option<Interval>, bool) {
    match interval {
        Some(i) if base.min >= 0.0 && new.min >= 0.0 && i.low < -100.0 => (Some(Interval { low: -100.0, high: i.high }), true),
        other => (other, false),
    }
}

/// What a comparison of this spread and size could see.
#[derive(Debug, Clone, Copy)]
struct Sensitivity {
    min_detectable_percent: f64,
    runs_needed: Option<usize>,
}

/// Power of [`Sensitivity`]: a change is found 4 times in 5.
pub const POWER: f64 = 0.8;

/// The most runs a side [`Comparison::runs_needed`] counts up to; beyond it says "more than".
pub const RUNS_NEEDED_CAP: usize = 10_000;

impl Sensitivity {
    fn of(base: &Summary, new: &Summary, df: Option<f64>, thresholds: &Thresholds) -> Sensitivity {
        let relative = |s: &Summary| s.sd.unwrap_or(0.0) / base.mean.abs();
        let (rb, rn) = (relative(base), relative(new));
        let se = 100.0 * (rb * rb / base.n as f64 + rn * rn / new.n as f64).sqrt();
        // With no spread at all Welch has no df; the margin is then 0 anyway.
        let df = df.unwrap_or(f64::INFINITY);
        let margin = |df: f64| one_sided_quantile(1.0 - thresholds.alpha / 2.0, df) + one_sided_quantile(POWER, df);
        let min_detectable_percent = thresholds.noise_percent + margin(df) * se;
        // Runs a side n with margin(2n − 2) · 100 · √((rb² + rn²) / n) ≤ threshold.
        let spread = 100.0 * (rb * rb + rn * rn).sqrt();
        let runs_needed = (thresholds.noise_percent > 0.0).then(|| {
            // t's quantiles exceed the normal's, so the normal's n is a lower bound to start from.
            let lower = (margin(f64::INFINITY) * spread / thresholds.noise_percent).powi(2).floor();
            let start = if lower.is_finite() { (lower as usize).max(MIN_RUNS) } else { RUNS_NEEDED_CAP + 1 };
            (start..=RUNS_NEEDED_CAP)
                .find(|&n| margin(2.0 * n as f64 - 2.0) * spread / (n as f64).sqrt() <= thresholds.noise_percent)
                .unwrap_or(RUNS_NEEDED_CAP + 1)
        });
        Sensitivity { min_detectable_percent, runs_needed }
    }
}

/// The `q` quantile of Student's t with `df` degrees of freedom (the normal's at ∞).
fn one_sided_quantile(q: f64, df: f64) -> f64 {
    t_quantile(2.0 * q - 1.0, df)
}

/// The `confidence` interval of 100 · (ρ − 1) for the ratio of means ρ = μ_new / μ_base, by
/// Fieller's theorem: the ρ for which (x̄_new − ρ · x̄_base) / √(v_new + ρ² · v_base) lies
/// within ± t, with v the squared standard errors and t the quantile at Welch's degrees of
/// freedom `df`. Solving for ρ gives the roots of a quadratic.
///
/// Why Fieller and not Welch's test on the logs of the runs: it works from mean, SD and n
/// alone (published numbers have no runs to take logs of), it is an interval for the same
/// ratio of arithmetic means as the change it surrounds (logs give the geometric means),
/// and counts of 0 (no involuntary switches) need no special case. With the same df as
/// the p-value, the interval excludes 0 % exactly when Welch's p < 0.05: at ρ = 1 the
/// pivot is Welch's t. `None` when the base mean is within its own interval of 0
/// (t² · v_base ≥ x̄_base²): the set of ratios is then unbounded.
fn fieller(base: &Summary, new: &Summary, df: Option<f64>, confidence: f64) -> Option<Interval> {
    let (a, b) = (base.mean, new.mean);
    let variance = |s: &Summary| s.sd.map(|sd| sd * sd / s.n as f64);
    let (va, vb) = (variance(base)?, variance(new)?);
    let Some(df) = df else {
        // No spread on either side: the ratio is exact.
        let change = 100.0 * (b - a) / a;
        return Some(Interval { low: change, high: change });
    };
    let t = t_quantile(confidence, df);
    let denominator = a * a - t * t * va;
    if denominator <= 0.0 || !t.is_finite() {
        return None;
    }
    let half = t * (a * a * vb + b * b * va - t * t * va * vb).max(0.0).sqrt();
    let (low, high) = ((a * b - half) / denominator, (a * b + half) / denominator);
    Some(Interval { low: 100.0 * (low - 1.0), high: 100.0 * (high - 1.0) })
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
    Welch { t: Some(t), df: Some(df), p: t_two_sided_p(t, df), interval: Interval { low: difference - half, high: difference + half } }
}

pub(super) fn verdict(
    p: f64,
    difference: f64,
    change_ci95: Option<Interval>,
    equivalence_ci: Option<Interval>,
    thresholds: &Thresholds,
) -> Verdict {
    let noise = thresholds.noise_percent;
    let same = || match equivalence_ci {
        Some(ci) if ci.low >= -noise && ci.high <= noise => Verdict::Same,
        // Unbounded, or reaching across the threshold: the runs cannot tell.
        _ => Verdict::Inconclusive,
    };
    // A NaN p (a distribution statrs could not build) is no evidence of a change.
    if p.is_nan() || p >= thresholds.alpha {
        return same();
    }
    match change_ci95 {
        Some(ci) if ci.low > noise => Verdict::Higher,
        Some(ci) if ci.high < -noise => Verdict::Lower,
        Some(_) => same(),
        // A zero baseline has no percentages (say, no involuntary switches at all), and one
        // not clearly away from zero has an unbounded ratio: any significant difference is
        // beyond every relative threshold.
        None if difference > 0.0 => Verdict::Higher,
        None => Verdict::Lower,
    }
}

fn mmtests_star(base: &Summary, new: &Summary) -> bool {
    let band = |s: &Summary| s.sd.map(|sd| Interval { low: s.mean - MMTESTS_SD_FACTOR * sd, high: s.mean + MMTESTS_SD_FACTOR * sd });
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

    /// The percent intervals below are Fieller's, computed independently of the closed form
    /// here: SciPy 1.17.1 finds the two roots ρ of the pivot numerically,
    ///
    /// ```python
    /// a, sa, na = np.mean(base), np.std(base, ddof=1), len(base)   # or published numbers
    /// b, sb, nb = np.mean(new), np.std(new, ddof=1), len(new)
    /// va, vb = sa**2/na, sb**2/nb
    /// df = (va+vb)**2/(va**2/(na-1)+vb**2/(nb-1))
    /// t = scipy.stats.t.ppf(0.975, df)
    /// f = lambda r: (b - r*a)**2 - t**2*(vb + r**2*va)
    /// lo = scipy.optimize.brentq(f, b/a - 10, b/a, xtol=1e-15)
    /// hi = scipy.optimize.brentq(f, b/a, b/a + 10, xtol=1e-15)
    /// print(100*(lo-1), 100*(hi-1))
    /// ```
    #[test]
    fn welch_matches_scipy_on_raw_runs() {
        // Expected: scipy.stats.ttest_ind(POISON, BASE, equal_var=False) with
        // .confidence_interval(0.95) for the difference; SciPy 1.17.1. Percent: Fieller, above.
        let c = compare(&BASE, &POISON, &Thresholds::default()).unwrap();
        assert_close(c.t.unwrap(), 6.25204110647369, 1e-9);
        assert_close(c.df.unwrap(), 4.230776091772742, 1e-9);
        assert_close(c.p_value.unwrap(), 0.002761859701335364, 1e-7);
        let ci = c.difference_ci95.unwrap();
        assert_close(ci.low, 2.2453950189697016, 1e-8);
        assert_close(ci.high, 5.698604981030287, 1e-8);
        assert_close(c.change_percent.unwrap(), 9.779878859506558, 1e-9);
        let pct = c.change_ci95.unwrap();
        assert_close(pct.low, 5.521859440402355, 1e-8);
        assert_close(pct.high, 14.04903380998439, 1e-8);
        assert_eq!(c.verdict, Verdict::Higher);
        // 40.614 + 1.96 · 0.238 = 41.08 < 44.586 − 1.96 · 1.4005 = 41.84: starred.
        assert!(c.mmtests_significant);
        let reverse = compare(&POISON, &BASE, &Thresholds::default()).unwrap();
        assert_eq!(reverse.verdict, Verdict::Lower);
        assert_close(reverse.p_value.unwrap(), 0.002761859701335364, 1e-7);
        assert_close(reverse.change_ci95.unwrap().low, -12.31841545750514, 1e-8);
        assert_close(reverse.change_ci95.unwrap().high, -5.2329057407494055, 1e-8);
    }

    #[test]
    fn a_noisy_baseline_widens_the_percent_interval() {
        // The baseline's SD is 7.9 % of its mean. Dividing the difference's interval by the
        // base mean (SciPy: ttest_ind(NEW, BASE, equal_var=False).confidence_interval(0.95)
        // / mean(BASE)) gave [+10.27 %, +29.73 %]; Fieller's (the snippet above) is wider.
        let base = [90.0, 110.0, 100.0, 95.0, 105.0];
        let new = [120.0, 122.0, 121.0, 119.0, 118.0];
        let c = compare(&base, &new, &Thresholds::default()).unwrap();
        let pct = c.change_ci95.unwrap();
        assert_close(pct.low, 9.394762592257845, 1e-8);
        assert_close(pct.high, 32.80789922326343, 1e-8);
        assert!(pct.low < 10.274742137921717 && pct.high > 29.725257862078283, "{pct:?}");
        assert_eq!(c.change_percent, Some(20.0));
    }

    #[test]
    fn the_percent_interval_excludes_zero_exactly_when_p_is_below_five_percent() {
        // At ρ = 1 Fieller's pivot is Welch's t: the interval and the test agree.
        // SciPy 1.17.1 ttest_ind(new, base, equal_var=False).pvalue: 0.0694 and 0.0316.
        let base = [10.0, 11.0, 12.0];
        for (new, significant) in [([12.0, 13.0, 13.5], false), ([13.0, 13.5, 14.0], true)] {
            let c = compare(&base, &new, &Thresholds { alpha: 0.05, noise_percent: 0.0 }).unwrap();
            assert_eq!(c.p_value.unwrap() < 0.05, significant, "{c:?}");
            assert_eq!(c.change_ci95.unwrap().low > 0.0, significant, "{c:?}");
        }
    }

    #[test]
    fn a_base_mean_not_clearly_above_zero_has_no_bounded_percent_interval() {
        // Involuntary switches 0, 0, 3: the base mean's own interval reaches below 0.
        let c = compare(&[0.0, 0.0, 3.0], &[40.0, 42.0, 44.0], &Thresholds::default()).unwrap();
        assert_eq!(c.change_percent, Some(4100.0));
        assert_eq!(c.change_ci95, None);
        assert_eq!(c.verdict, Verdict::Higher, "p = {:?}", c.p_value);
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
        // Fieller (the snippet above, from the published mean, SD and n).
        assert_close(c.change_ci95.unwrap().low, 4.691611254583439, 1e-7);
        assert_close(c.change_ci95.unwrap().high, 14.878953944867334, 1e-7);
        assert_eq!(c.verdict, Verdict::Higher);
        // -j 4 user time: 89.22 (16.3062) vs 86.233 (17.1381) is noise, p = 0.7849.
        let user = compare_summaries(&summary(86.233, 17.1381, 5), &summary(89.22, 16.3062, 5), &Thresholds::default());
        assert_close(user.p_value.unwrap(), 0.7848640039912407, 1e-7);
        assert_eq!(user.verdict, Verdict::Inconclusive, "noise, not shown the same either");
        assert!(!user.mmtests_significant);
    }

    #[test]
    fn a_significant_change_inside_the_noise_threshold_is_the_same() {
        // 0.5 % slower with almost no spread: p is tiny but the interval is within ± 1 %.
        let base = [100.0, 100.01, 99.99, 100.0];
        let new = [100.5, 100.51, 100.49, 100.5];
        let c = compare(&base, &new, &Thresholds::default()).unwrap();
        assert!(c.p_value.unwrap() < 1e-6, "{c:?}");
        assert_eq!(c.verdict, Verdict::Same);
        let strict = Thresholds { alpha: 0.05, noise_percent: 0.1 };
        assert_eq!(compare(&base, &new, &strict).unwrap().verdict, Verdict::Higher);
        let very_strict_alpha = Thresholds { alpha: 0.0, noise_percent: 0.1 };
        // alpha 0: no test can reject anything, and the 100 % interval is unbounded.
        assert_eq!(compare(&base, &new, &very_strict_alpha).unwrap().verdict, Verdict::Inconclusive);
    }

    #[test]
    fn fewer_than_the_minimum_of_runs_on_either_side_is_too_few_to_test() {
        let c = compare(&[40.0], &[44.0, 45.0], &Thresholds::default()).unwrap();
        assert_eq!(c.verdict, Verdict::TooFewRuns);
        assert_eq!((c.p_value, c.change_ci95, c.t), (None, None, None));
        assert_eq!(c.change_percent, Some(10.0 + 1.25));
        assert!(!c.mmtests_significant);
        // Two runs a side that agree exactly: no spread, which used to give p = 0 and a verdict.
        let two = compare(&[5.0, 5.0], &[6.0, 6.0], &Thresholds::default()).unwrap();
        assert_eq!((two.verdict, two.p_value, two.change_ci95), (Verdict::TooFewRuns, None, None));
        let two_noisy = compare(&[40.61, 40.32], &POISON, &Thresholds::default()).unwrap();
        assert_eq!(two_noisy.verdict, Verdict::TooFewRuns);
        assert_eq!(MIN_RUNS, 3);
    }

    #[test]
    fn no_runs_on_a_side_is_no_comparison() {
        assert!(compare(&[], &[1.0, 2.0], &Thresholds::default()).is_none());
        assert!(compare(&[1.0, 2.0], &[], &Thresholds::default()).is_none());
    }

    #[test]
    fn zero_variance_on_both_sides_is_certain_either_way() {
        let same = compare(&[5.0, 5.0, 5.0], &[5.0, 5.0, 5.0], &Thresholds::default()).unwrap();
        assert_eq!((same.p_value, same.verdict), (Some(1.0), Verdict::Same));
        assert_eq!(same.change_ci95, Some(Interval { low: 0.0, high: 0.0 }));
        let slower = compare(&[5.0, 5.0, 5.0], &[6.0, 6.0, 6.0], &Thresholds::default()).unwrap();
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
        assert_eq!(c.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn a_zero_baseline_has_no_percentages_but_a_verdict() {
        let c = compare(&[0.0, 0.0, 0.0], &[3.0, 4.0, 5.0], &Thresholds::default()).unwrap();
        assert_eq!((c.change_percent, c.change_ci95), (None, None));
        assert_eq!(c.verdict, Verdict::Higher);
    }

    #[test]
    fn tight_equal_sides_are_the_same_and_noisy_ones_inconclusive_with_the_runs_that_would_decide() {
        // Within 0.3 % of each other, SD 0.2 %: the 90 % interval lies within ± 1 %.
        let same = compare_summaries(&summary(100.0, 0.2, 5), &summary(100.3, 0.2, 5), &Thresholds::default());
        assert_eq!(same.verdict, Verdict::Same);
        let tost = same.equivalence_ci.unwrap();
        assert!(tost.low > -1.0 && tost.high < 1.0, "{tost:?}");
        let wide = same.change_ci95.unwrap();
        assert!(wide.low < tost.low && wide.high > tost.high, "the 95 % interval is the wider: {wide:?} {tost:?}");
        // A busy host, CoV 10 % and 3 runs a side: +4 % could be anything from −25 % to +33 %.
        let noisy = compare_summaries(&summary(100.0, 10.0, 3), &summary(104.0, 10.0, 3), &Thresholds::default());
        assert_eq!(noisy.verdict, Verdict::Inconclusive);
        let needed = noisy.runs_needed.unwrap();
        // (1.96 + 0.84)² · (10² + 10²) / 1² ≈ 1570 with the normal's quantiles.
        assert!((1500..1700).contains(&needed), "a 10 % CoV needs about 1600 runs a side to decide ± 1 %: {needed}");
        // Hopeless: 40 % CoV.
        let hopeless = compare_summaries(&summary(100.0, 40.0, 3), &summary(132.0, 45.0, 3), &Thresholds::default());
        assert_eq!(hopeless.runs_needed, Some(RUNS_NEEDED_CAP + 1));
        let words = hopeless.sensitivity_phrase(&Thresholds::default()).unwrap();
        assert!(words.ends_with("±1 % needs more than 10000 runs a side at this spread"), "{words}");
        let phrase = noisy.sensitivity_phrase(&Thresholds::default()).unwrap();
        assert!(phrase.starts_with("sees ±") && phrase.contains(&format!("±1 % needs about {needed} runs a side")), "{phrase}");
        assert!(same.sensitivity_phrase(&Thresholds::default()).unwrap().starts_with("sees ±1."), "decided: no runs wanted");
    }

    #[test]
    fn the_detectable_change_is_the_threshold_plus_the_power_margin() {
        // n = 10 a side, SD 1 % each: SE = √(2 · 0.01² / 10) = 0.4472 %, df = 18.
        // t.ppf(0.975, 18) = 2.100922, t.ppf(0.8, 18) = 0.8621 (tables): MDC = 1 + 2.9630 · 0.4472.
        let c = compare_summaries(&summary(100.0, 1.0, 10), &summary(100.0, 1.0, 10), &Thresholds::default());
        assert_close(c.min_detectable_change_percent.unwrap(), 1.0 + (2.100922 + 0.8621) * 0.4472136, 1e-4);
        // ± 1 % at 1.414 % spread of the difference: n with (t + t) · 1.414 / √n ≤ 1 is 17 (df 32: (2.0369 + 0.8530) · 1.414 / 4.123 = 0.991; 16 gives 1.024).
        assert_eq!(c.runs_needed, Some(17));
        assert_eq!(c.verdict, Verdict::Same);
        let no_threshold =
            compare_summaries(&summary(100.0, 1.0, 10), &summary(100.0, 1.0, 10), &Thresholds { alpha: 0.05, noise_percent: 0.0 });
        assert_eq!((no_threshold.runs_needed, no_threshold.verdict), (None, Verdict::Inconclusive));
    }

    #[test]
    fn a_change_interval_never_reaches_below_minus_100_percent() {
        // The new mean barely clear of 0 in its own interval: Fieller's low end is below −100 %.
        let c = compare(&[4.0, 6.0, 5.0, 5.5, 4.5], &[1.0, 9.0, 2.0, 8.0, 0.5], &Thresholds::default()).unwrap();
        let ci = c.change_ci95.unwrap();
        assert_eq!((ci.low, c.change_ci95_clipped), (-100.0, true), "{c:?}");
        assert!(ci.high > 0.0);
        assert_eq!(c.verdict, Verdict::Inconclusive);
        // A mean of times never has an interval below 0 either.
        let mean = summarize(&[0.1, 0.2, 5.0]).unwrap();
        assert_eq!(mean.ci95.unwrap().low, 0.0);
        assert!(summarize(&[-1.0, 0.1, 2.0]).unwrap().ci95.unwrap().low < 0.0, "signed values keep t's interval");
    }

    #[test]
    fn no_bounded_interval_and_no_significant_p_is_inconclusive() {
        let c = compare(&[0.0, 0.0, 3.0], &[0.0, 3.0, 0.0], &Thresholds::default()).unwrap();
        assert_eq!((c.change_ci95, c.verdict), (None, Verdict::Inconclusive));
    }
}
