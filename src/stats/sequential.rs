//! `runs = "auto"` with `decide = true`: stop a variant and level as soon as its comparison
//! with the baseline is known (changed or the same), or at `max_runs` (then inconclusive).
//!
//! Looking at a test after every round and stopping the first time it crosses alpha gives
//! it many chances to cross by luck ("optional stopping"): with 16 looks a plain p < 0.05
//! raises an A/A pair's false alarms to about 20 %. A group-sequential design spends alpha
//! over the looks instead. kbench uses the Lan–DeMets alpha-spending approach (Lan, K. K. G.
//! & DeMets, D. L. (1983), "Discrete sequential boundaries for clinical trials",
//! Biometrika 70(3):659–663) with a spending function of the Pocock type,
//! α(t) = α · ln(1 + (e − 1) · t) (or of the O'Brien–Fleming type, α(t) = 2 − 2 Φ(z₁₋α/₂ /
//! √t), O'Brien & Fleming 1979), where t = n / `max_runs` is the information fraction
//! after n runs a side. The look at n is judged at the alpha spent since the previous look,
//! α(tₖ) − α(tₖ₋₁). Judging each look at its own increment is the union (Bonferroni) bound
//! over the looks: the chance that any look raises a false alarm is at most Σ increments
//! = α, whatever the correlation between looks, so the design is valid without the
//! numerical integration exact boundaries need, at the price of being conservative (the
//! simulation in the tests measures how much).
//!
//! The rule at a look, with α' the look's alpha and the threshold θ:
//! - changed (higher/lower): Welch's p < α' and the 95 % interval of the ratio lies beyond
//!   1 ± θ, as the verdict of [`super::change`];
//! - same: two one-sided tests at α' of the ratio against 1 − θ and 1 + θ (Fieller's pivot
//!   at each bound): the (1 − 2α') interval lies within ± θ;
//! - otherwise go on; at the cap the verdict is inconclusive.

use super::change::{Verdict, MIN_RUNS};
use super::summary::Summary;
use super::{t_two_sided_p, CONFIDENCE};
use serde::{Deserialize, Serialize};

/// How alpha is spent over the looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spending {
    /// α · ln(1 + (e − 1) t): spends early, so a clear difference stops early.
    Pocock,
    /// 2 − 2 Φ(z₁₋α/₂ / √t): spends almost nothing early, nearly all at the cap.
    OBrienFleming,
}

impl Spending {
    /// The alpha spent by information fraction `t` (0 ≤ t ≤ 1); α(1) = `alpha`.
    pub fn spent(self, alpha: f64, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        if t == 0.0 {
            return 0.0;
        }
        match self {
            Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
            Spending::OBrienFleming => {
                use statrs::distribution::{ContinuousCDF, Normal};
                let normal = Normal::standard();
                let z = normal.inverse_cdf(1.0 - alpha / 2.0);
                2.0 - 2.0 * normal.cdf(z / t.sqrt())
            }
        }
    }

    /// The alpha of the look after `n` runs a side when the previous look was after
    /// `previous` (0 for the first look), with at most `max_runs`.
    pub fn look_alpha(self, alpha: f64, previous: u32, n: u32, max_runs: u32) -> f64 {
        let fraction = |runs: u32| f64::from(runs) / f64::from(max_runs.max(1));
        (self.spent(alpha, fraction(n)) - self.spent(alpha, fraction(previous))).max(0.0)
    }
}

/// P(T > x) for Student's t with `df` degrees of freedom.
fn upper_tail(x: f64, df: f64) -> f64 {
    let two_sided = t_two_sided_p(x, df);
    if x >= 0.0 {
        two_sided / 2.0
    } else {
        1.0 - two_sided / 2.0
    }
}

/// The verdict of one look at alpha `look_alpha` with noise threshold `noise_percent`:
/// changed or same when known, [`Verdict::Inconclusive`] to go on, [`Verdict::TooFewRuns`]
/// below [`MIN_RUNS`] a side.
pub fn look(base: &Summary, new: &Summary, look_alpha: f64, noise_percent: f64) -> Verdict {
    let (Some(sa), Some(sb)) = (base.sd, new.sd) else { return Verdict::TooFewRuns };
    if base.n < MIN_RUNS || new.n < MIN_RUNS || base.mean <= 0.0 {
        return Verdict::TooFewRuns;
    }
    let (a, b) = (base.mean, new.mean);
    let (va, vb) = (sa * sa / base.n as f64, sb * sb / new.n as f64);
    let (low, high) = (1.0 - noise_percent / 100.0, 1.0 + noise_percent / 100.0);
    if va + vb == 0.0 {
        // No spread on either side: the ratio is exact.
        let ratio = b / a;
        return if ratio > high {
            Verdict::Higher
        } else if ratio < low {
            Verdict::Lower
        } else {
            Verdict::Same
        };
    }
    let df = (va + vb).powi(2) / (va * va / (base.n - 1) as f64 + vb * vb / (new.n - 1) as f64);
    // Fieller's pivot at the ratio r: (b − r·a) / √(vb + r²·va), Student's t at ρ = r.
    let pivot = |r: f64| (b - r * a) / (vb + r * r * va).sqrt();
    let p = t_two_sided_p((b - a) / (va + vb).sqrt(), df);
    let beyond = (1.0 - CONFIDENCE) / 2.0;
    if p < look_alpha {
        if upper_tail(pivot(high), df) < beyond {
            return Verdict::Higher;
        }
        if upper_tail(-pivot(low), df) < beyond {
            return Verdict::Lower;
        }
    }
    if upper_tail(pivot(low), df) < look_alpha && upper_tail(-pivot(high), df) < look_alpha {
        return Verdict::Same;
    }
    Verdict::Inconclusive
}

/// What decide mode does after `n` runs a side (looks at `previous` and now `n`).
pub fn decide(base: &Summary, new: &Summary, alpha: f64, noise_percent: f64, spending: Spending, previous: u32, max_runs: u32) -> Verdict {
    let n = base.n.min(new.n) as u32;
    look(base, new, spending.look_alpha(alpha, previous, n, max_runs), noise_percent)
}

/// The fixed design's runs a side for `power` against a true change of `change_percent`
/// at a CoV of `cov_percent` on both sides, by kbench's rule (the 95 % interval beyond the
/// threshold): the least n with (t₁₋α/₂ + t_power) · CoV · √(2 / n) ≤ change − threshold.
#[cfg(test)]
pub fn fixed_runs(cov_percent: f64, change_percent: f64, noise_percent: f64, alpha: f64, power: f64) -> u32 {
    use super::t_quantile;
    let margin = change_percent - noise_percent;
    (MIN_RUNS as u32..100_000)
        .find(|&n| {
            let df = 2.0 * f64::from(n) - 2.0;
            let z = t_quantile(1.0 - alpha, df) + t_quantile(2.0 * power - 1.0, df);
            z * cov_percent * (2.0 / f64::from(n)).sqrt() <= margin
        })
        .unwrap_or(100_000)
}

#[cfg(test)]
pub(crate) mod simulation {
    //! Monte Carlo of decide mode: A/A pairs (no change) and pairs with a true change, with
    //! normal and lognormal noise. Deterministic (a fixed seed), pure, no I/O.

    use super::*;

    /// splitmix64: small, fast, good enough for Monte Carlo here.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed)
        }

        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        /// Box–Muller.
        pub fn normal(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Noise {
        Normal,
        Lognormal,
    }

    /// One run: mean `mean`, coefficient of variation `cov_percent`.
    pub fn draw(rng: &mut Rng, noise: Noise, mean: f64, cov_percent: f64) -> f64 {
        let cv = cov_percent / 100.0;
        match noise {
            Noise::Normal => mean * (1.0 + cv * rng.normal()),
            Noise::Lognormal => {
                let sigma = (1.0 + cv * cv).ln().sqrt();
                mean * (sigma * rng.normal() - sigma * sigma / 2.0).exp()
            }
        }
    }

    /// A summary of the first values, from running sums (only n, mean and sd are read).
    fn summary(sum: f64, squares: f64, n: usize) -> Summary {
        let mean = sum / n as f64;
        let sd = ((squares - sum * mean) / (n - 1) as f64).max(0.0).sqrt();
        Summary { n, mean, sd: Some(sd), median: mean, min: 0.0, max: 0.0, cov_percent: None, ci95: None }
    }

    #[derive(Debug, Clone, Copy, Default)]
    pub struct Tally {
        pub studies: u32,
        pub changed: u32,
        /// Changed the right way (the true change's sign).
        pub found: u32,
        pub same: u32,
        pub inconclusive: u32,
        pub runs: u64,
    }

    impl Tally {
        pub fn rate(&self, count: u32) -> f64 {
            f64::from(count) / f64::from(self.studies)
        }

        pub fn mean_runs(&self) -> f64 {
            self.runs as f64 / f64::from(self.studies)
        }
    }

    #[derive(Clone, Copy)]
    pub struct Design {
        pub alpha: f64,
        pub noise_percent: f64,
        pub min_runs: u32,
        pub max_runs: u32,
        pub spending: Spending,
    }

    /// `studies` studies of decide mode, a look after every run from `min_runs` on.
    pub fn simulate(design: &Design, noise: Noise, cov_percent: f64, change_percent: f64, studies: u32, seed: u64) -> Tally {
        let mut rng = Rng::new(seed);
        let mut tally = Tally { studies, ..Tally::default() };
        let ratio = 1.0 + change_percent / 100.0;
        for _ in 0..studies {
            let (mut sa, mut qa, mut sb, mut qb) = (0.0, 0.0, 0.0, 0.0);
            let mut previous = 0;
            let mut verdict = Verdict::Inconclusive;
            let mut n = 0;
            while n < design.max_runs {
                n += 1;
                let (x, y) = (draw(&mut rng, noise, 100.0, cov_percent), draw(&mut rng, noise, 100.0 * ratio, cov_percent));
                (sa, qa, sb, qb) = (sa + x, qa + x * x, sb + y, qb + y * y);
                if n < design.min_runs {
                    continue;
                }
                let (base, new) = (summary(sa, qa, n as usize), summary(sb, qb, n as usize));
                verdict = decide(&base, &new, design.alpha, design.noise_percent, design.spending, previous, design.max_runs);
                previous = n;
                if verdict.is_decided() {
                    break;
                }
            }
            tally.runs += u64::from(n);
            match verdict {
                Verdict::Higher | Verdict::Lower => {
                    tally.changed += 1;
                    let right = (verdict == Verdict::Higher) == (change_percent > 0.0);
                    tally.found += u32::from(right && change_percent != 0.0);
                }
                Verdict::Same => tally.same += 1,
                _ => tally.inconclusive += 1,
            }
        }
        tally
    }

    /// The fixed design: one look at `runs` a side at the whole alpha.
    pub fn simulate_fixed(
        design: &Design,
        noise: Noise,
        cov_percent: f64,
        change_percent: f64,
        runs: u32,
        studies: u32,
        seed: u64,
    ) -> Tally {
        let fixed = Design { min_runs: runs, max_runs: runs, ..*design };
        // One look at the cap spends all of alpha: α(1) − α(0) = α.
        simulate(&fixed, noise, cov_percent, change_percent, studies, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::simulation::{simulate, simulate_fixed, Design, Noise, Tally};
    use super::*;
    use crate::stats::assert_close;

    fn design(spending: Spending, max_runs: u32) -> Design {
        Design { alpha: 0.05, noise_percent: 1.0, min_runs: 5, max_runs, spending }
    }

    #[test]
    fn alpha_is_spent_up_to_alpha_at_the_cap() {
        for spending in [Spending::Pocock, Spending::OBrienFleming] {
            assert_close(spending.spent(0.05, 1.0), 0.05, 1e-9);
            assert_eq!(spending.spent(0.05, 0.0), 0.0);
            let total: f64 = (5..=20)
                .scan(0, |previous, n| {
                    let a = spending.look_alpha(0.05, *previous, n, 20);
                    *previous = n;
                    Some(a)
                })
                .sum();
            assert_close(total, 0.05, 1e-9);
        }
        // O'Brien–Fleming spends almost nothing early: at a quarter, 2 − 2Φ(1.96 · 2) = 8.9e-5.
        assert_close(Spending::OBrienFleming.spent(0.05, 0.25), 8.857e-5, 1e-2);
        assert_close(Spending::Pocock.spent(0.05, 0.25), 0.05 * (1.0 + (std::f64::consts::E - 1.0) * 0.25).ln(), 1e-12);
    }

    /// The A/A false-alarm rate stays at or below alpha (within 3 Monte Carlo standard
    /// errors) over 12,000 studies with 16 looks each, normal and lognormal noise, CoV 1 %
    /// to 10 %; and a plain p < alpha at every look would not.
    #[test]
    fn decide_mode_keeps_aa_false_alarms_within_alpha() {
        let d = design(Spending::Pocock, 20);
        let mut total = Tally::default();
        for (i, noise) in [Noise::Normal, Noise::Lognormal].into_iter().enumerate() {
            for (j, cov) in [1.0, 3.0, 10.0].into_iter().enumerate() {
                let t = simulate(&d, noise, cov, 0.0, 2000, 1000 + (i * 10 + j) as u64);
                let bound = 0.05 + 3.0 * (0.05 * 0.95 / 2000.0f64).sqrt();
                assert!(t.rate(t.changed) <= bound, "{noise:?} CoV {cov} %: {t:?}");
                total.studies += t.studies;
                total.changed += t.changed;
            }
        }
        assert!(total.studies >= 12_000);
        assert!(total.rate(total.changed) <= 0.05 + 3.0 * (0.05 * 0.95 / 12_000.0f64).sqrt(), "{total:?}");
        // The naive rule, p < alpha at each of the 16 looks with no threshold, inflates it.
        let naive = Design { noise_percent: 0.0, ..d };
        let naive_alarms = (0..2000u64)
            .filter(|&seed| {
                let mut rng = simulation::Rng::new(seed);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                (1..=20).any(|n| {
                    a.push(simulation::draw(&mut rng, Noise::Normal, 100.0, 3.0));
                    b.push(simulation::draw(&mut rng, Noise::Normal, 100.0, 3.0));
                    n >= naive.min_runs
                        && crate::stats::compare(&a, &b, &crate::stats::Thresholds { alpha: 0.05, noise_percent: 0.0 })
                            .unwrap()
                            .verdict
                            .is_change()
                })
            })
            .count();
        assert!(naive_alarms as f64 / 2000.0 > 0.1, "optional stopping inflates: {naive_alarms} of 2000");
    }

    /// A true change of twice the threshold is found with the power the docs claim (80 %
    /// at max_runs = 1.5 × the fixed design's runs), in fewer runs on average than the
    /// fixed design of 80 % power, and an A/A pair with a spread well inside the threshold
    /// is shown the same.
    #[test]
    fn decide_mode_finds_twice_the_threshold_with_the_claimed_power_in_fewer_runs() {
        let fixed_n = fixed_runs(1.0, 2.0, 1.0, 0.05, 0.8);
        assert_eq!(fixed_n, 17, "CoV 1 %, threshold 1 %, change 2 %");
        let max_runs = fixed_n * 3 / 2;
        let d = design(Spending::Pocock, max_runs);
        for (k, noise) in [Noise::Normal, Noise::Lognormal].into_iter().enumerate() {
            let sequential = simulate(&d, noise, 1.0, 2.0, 2000, 77 + k as u64);
            let fixed = simulate_fixed(&d, noise, 1.0, 2.0, fixed_n, 2000, 99 + k as u64);
            let se = (0.8 * 0.2 / 2000.0f64).sqrt();
            assert!(fixed.rate(fixed.found) >= 0.8 - 3.0 * se, "the fixed design has its power: {fixed:?}");
            assert!(sequential.rate(sequential.found) >= 0.8 - 3.0 * se, "{noise:?}: {sequential:?}");
            assert!(sequential.mean_runs() < f64::from(fixed_n), "{noise:?}: {} runs on average vs {fixed_n}", sequential.mean_runs());
            assert!(sequential.rate(sequential.same) < 0.05, "a real change is rarely called the same: {sequential:?}");
        }
        let aa = simulate(&d, Noise::Normal, 0.5, 0.0, 2000, 5);
        assert!(aa.rate(aa.same) > 0.8 && aa.mean_runs() < f64::from(max_runs), "{aa:?}");
    }

    #[test]
    fn a_look_agrees_with_the_verdict_at_the_same_alpha() {
        use crate::stats::{compare_summaries, Thresholds};
        let s = |mean: f64, sd: f64, n: usize| Summary {
            n,
            mean,
            sd: Some(sd),
            median: mean,
            min: mean,
            max: mean,
            cov_percent: None,
            ci95: None,
        };
        for (base, new) in
            [(s(40.614, 0.238, 5), s(44.586, 1.4005, 5)), (s(100.0, 0.2, 5), s(100.3, 0.2, 5)), (s(42.0, 3.16, 5), s(43.0, 3.16, 5))]
        {
            let full = compare_summaries(&base, &new, &Thresholds::default()).verdict;
            assert_eq!(look(&base, &new, 0.05, 1.0), full, "{base:?} {new:?}");
        }
    }
}

/// The figures in docs/scenario.md ("Deciding: decide = true"): `scripts/verdict-simulation.sh`
/// runs this (release build) and prints the table.
#[cfg(test)]
mod figures {
    use super::simulation::{simulate, simulate_fixed, Design, Noise};
    use super::*;

    #[test]
    #[ignore = "prints the simulation table of docs/scenario.md; run scripts/verdict-simulation.sh"]
    fn verdict_simulation_table() {
        let studies = 20_000;
        // A line of its own: the test harness prints the test's name without a newline.
        println!();
        println!("| spending | noise | CoV | true change | max_runs | changed | same | inconclusive | mean runs a side | fixed design: runs, power |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for spending in [Spending::Pocock, Spending::OBrienFleming] {
            for noise in [Noise::Normal, Noise::Lognormal] {
                for (cov, change) in [(1.0, 0.0), (3.0, 0.0), (10.0, 0.0), (0.5, 0.0), (1.0, 2.0), (0.5, 2.0)] {
                    let fixed_n = fixed_runs(cov, 2.0, 1.0, 0.05, 0.8);
                    let max_runs = if change == 0.0 && cov > 1.0 { 20 } else { (fixed_n * 3 / 2).max(6) };
                    let d = Design { alpha: 0.05, noise_percent: 1.0, min_runs: 5.min(max_runs), max_runs, spending };
                    let t = simulate(&d, noise, cov, change, studies, 42);
                    let fixed = if change == 0.0 {
                        "".to_string()
                    } else {
                        let f = simulate_fixed(&d, noise, cov, change, fixed_n, studies, 43);
                        format!("{fixed_n}, {:.1} %", 100.0 * f.rate(f.found))
                    };
                    println!(
                        "| {spending:?} | {noise:?} | {cov} % | {change} % | {max_runs} | {:.2} % | {:.1} % | {:.1} % | {:.1} | {fixed} |",
                        100.0 * t.rate(t.changed),
                        100.0 * t.rate(t.same),
                        100.0 * t.rate(t.inconclusive),
                        t.mean_runs()
                    );
                }
            }
        }
    }
}
