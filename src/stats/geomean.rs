//! benchstat's geomean row: per variant and metric, the change over every jobs level at
//! once, as the geometric mean of the levels' ratios new/base, with its interval.
//!
//! Each level's log ratio d = ln(x̄_new / x̄_base) has, by the delta method, the variance
//! s²_new / (n_new · x̄²_new) + s²_base / (n_base · x̄²_base); the levels are measured
//! independently, so the mean of the L log ratios has the variance Σ v / L², and its
//! degrees of freedom are Welch–Satterthwaite's over all 2·L parts. The interval is
//! exp(mean d ± t · SE) − 1, which never goes below −100 %; the verdict is the three
//! outcomes' rule on it ([`super::change`]).

use super::analysis::LevelAnalysis;
use super::change::{verdict, Thresholds, Verdict, MIN_RUNS};
use super::metric::Metric;
use super::summary::Interval;
use super::{t_quantile, t_two_sided_p, CONFIDENCE};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeomeanChange {
    pub variant: String,
    pub metric: Metric,
    /// The levels that count: both means above 0 and at least [`MIN_RUNS`] runs a side.
    pub levels: usize,
    /// 100 · (exp(mean d) − 1); `None` when no level counts.
    pub change_percent: Option<f64>,
    pub change_ci95: Option<Interval>,
    pub p_value: Option<f64>,
    pub verdict: Verdict,
}

/// The geomean change of every variant but the baseline (`levels`' first), per metric.
pub fn geomeans(levels: &[LevelAnalysis], metrics: &[Metric], thresholds: &Thresholds) -> Vec<GeomeanChange> {
    let mut variants: Vec<&str> = Vec::new();
    for level in levels {
        for v in level.variants.iter().skip(1) {
            if !variants.contains(&v.variant.as_str()) {
                variants.push(&v.variant);
            }
        }
    }
    let mut out = Vec::new();
    for variant in variants {
        for &metric in metrics {
            // (log ratio, base variance part, its df, new variance part, its df) per level.
            let parts: Vec<(f64, f64, f64, f64, f64)> = levels
                .iter()
                .filter_map(|level| level.variants.iter().find(|v| v.variant == variant))
                .filter_map(|v| v.metrics.iter().find(|m| m.metric == metric)?.comparison.as_ref())
                .filter(|c| c.base.n >= MIN_RUNS && c.new.n >= MIN_RUNS && c.base.mean > 0.0 && c.new.mean > 0.0)
                .map(|c| {
                    let part = |s: &super::Summary| s.sd.unwrap_or(0.0).powi(2) / (s.n as f64 * s.mean * s.mean);
                    ((c.new.mean / c.base.mean).ln(), part(&c.base), (c.base.n - 1) as f64, part(&c.new), (c.new.n - 1) as f64)
                })
                .collect();
            out.push(geomean(variant, metric, &parts, thresholds));
        }
    }
    out
}

fn geomean(variant: &str, metric: Metric, parts: &[(f64, f64, f64, f64, f64)], thresholds: &Thresholds) -> GeomeanChange {
    let mut change = GeomeanChange {
        variant: variant.to_string(),
        metric,
        levels: parts.len(),
        change_percent: None,
        change_ci95: None,
        p_value: None,
        verdict: Verdict::TooFewRuns,
    };
    if parts.is_empty() {
        return change;
    }
    let l = parts.len() as f64;
    let m = parts.iter().map(|p| p.0).sum::<f64>() / l;
    let percent = |d: f64| 100.0 * d.exp_m1();
    change.change_percent = Some(percent(m));
    let variance: f64 = parts.iter().map(|p| p.1 + p.3).sum::<f64>() / (l * l);
    let interval_at = |confidence: f64, df: f64| {
        let half = t_quantile(confidence, df) * variance.sqrt();
        Interval { low: percent(m - half), high: percent(m + half) }
    };
    let (ci, equivalence, p) = if variance == 0.0 {
        let exact = Interval { low: percent(m), high: percent(m) };
        (exact, exact, if m == 0.0 { 1.0 } else { 0.0 })
    } else {
        let denominator: f64 = parts.iter().map(|p| p.1 * p.1 / p.2 + p.3 * p.3 / p.4).sum::<f64>() / (l * l * l * l);
        let df = variance * variance / denominator;
        (interval_at(CONFIDENCE, df), interval_at((1.0 - 2.0 * thresholds.alpha).max(0.0), df), t_two_sided_p(m / variance.sqrt(), df))
    };
    change.change_ci95 = Some(ci);
    change.p_value = Some(p);
    change.verdict = verdict(p, m, Some(ci), Some(equivalence), thresholds);
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord};
    use crate::stats::{analyze, assert_close};

    fn runs(variant: &str, label: &str, jobs: u32, elapsed: &[f64]) -> Vec<RunRecord> {
        elapsed
            .iter()
            .enumerate()
            .map(|(i, &e)| RunRecord {
                variant: variant.into(),
                jobs_label: label.into(),
                jobs,
                run: i as u32 + 1,
                elapsed_s: e,
                ..test_record()
            })
            .collect()
    }

    #[test]
    fn the_geomean_of_two_levels_is_the_geometric_mean_of_their_ratios() {
        let base = [40.61, 40.32, 40.95, 40.48, 40.71];
        let slower: Vec<f64> = base.iter().map(|v| v * 1.10).collect();
        let faster: Vec<f64> = base.iter().map(|v| v * 0.95).collect();
        let records = [
            runs("off", "half", 2, &base),
            runs("poison", "half", 2, &slower),
            runs("off", "optimal", 4, &base),
            runs("poison", "optimal", 4, &faster),
        ]
        .concat();
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let g = analysis.geomean.iter().find(|g| g.variant == "poison" && g.metric == Metric::Elapsed).unwrap();
        assert_eq!(g.levels, 2);
        assert_close(g.change_percent.unwrap(), 100.0 * ((1.10f64 * 0.95).sqrt() - 1.0), 1e-9);
        let ci = g.change_ci95.unwrap();
        assert!(ci.low < g.change_percent.unwrap() && ci.high > g.change_percent.unwrap() && ci.low > -100.0, "{ci:?}");
        // +2.2 %, each level's CoV 0.6 %: beyond ± 1 %.
        assert_eq!(g.verdict, Verdict::Higher, "{g:?}");
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(json["geomean"][0]["variant"], "poison");
    }

    #[test]
    fn no_level_with_enough_runs_has_no_geomean() {
        let records = [runs("off", "half", 2, &[1.0, 1.1]), runs("poison", "half", 2, &[1.2, 1.3])].concat();
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let g = &analysis.geomean[0];
        assert_eq!((g.levels, g.change_percent, g.verdict), (0, None, Verdict::TooFewRuns));
    }
}
