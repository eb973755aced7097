//! A study spread over several lab hosts (`[[host]]`): every statistic per host, because
//! the absolute seconds of two machines are never pooled, and across hosts one pooled
//! change per variant, level and metric from each host's own paired change.
//!
//! The pooled change: per host h that has enough runs of both sides, d_h = ln(mean_new /
//! mean_base), the host's change as a log ratio (a host 2× faster than another has the same
//! d for the same relative change). The pooled change is exp(mean d) − 1, the geometric
//! mean of the hosts' ratios, with Student's t interval over the hosts (n_hosts − 1 degrees
//! of freedom): the hosts are the sample, so the interval says how far the change may
//! differ on another host like these, not how well one host measured it. With two hosts it
//! rests on one degree of freedom (t = 12.7) and is wide unless they agree closely. The
//! verdict has the same rule as every other: p < alpha and the whole interval beyond the
//! noise threshold.

use super::analysis::{analyze, Analysis};
use super::change::{verdict, Comparison, Thresholds, Verdict, MIN_RUNS};
use super::metric::Metric;
use super::summary::Interval;
use super::{mean, sample_sd, t_quantile, t_two_sided_p, CONFIDENCE};
use crate::model::RunRecord;
use serde::Serialize;

/// Fewer hosts with enough runs than this give a pooled estimate but no verdict.
pub const MIN_HOSTS: usize = 2;

/// The hosts named in runs.csv's `host` column, in order of first appearance; empty for a
/// study on one host (every row's host empty).
pub fn hosts_seen(records: &[RunRecord]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for r in records {
        if !r.host.is_empty() && !hosts.contains(&r.host) {
            hosts.push(r.host.clone());
        }
    }
    hosts
}

/// The rows one host measured.
pub fn runs_of_host(records: &[RunRecord], host: &str) -> Vec<RunRecord> {
    records.iter().filter(|r| r.host == host).cloned().collect()
}

/// One host's paired change, as the pooled change uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostChange {
    pub host: String,
    pub base_mean: f64,
    pub new_mean: f64,
    /// ln(new_mean / base_mean).
    pub log_ratio: f64,
}

/// A host left out of a pooled change, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftOut {
    pub host: String,
    pub reason: String,
}

/// The change across hosts of one variant against its baseline (or one side against the
/// other in `bench compare`), at one level, for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PooledChange {
    /// The hosts that count, each with its own change.
    pub hosts: Vec<HostChange>,
    /// Hosts with too few runs, or no ratio (a mean of 0): named, never silently dropped.
    pub left_out: Vec<LeftOut>,
    /// 100 · (exp(mean d) − 1); `None` when no host counts.
    pub change_percent: Option<f64>,
    /// 100 · (exp(mean d ± t · SE) − 1) with t at n_hosts − 1 df; `None` below [`MIN_HOSTS`].
    pub change_ci95: Option<Interval>,
    /// n_hosts − 1; `None` below [`MIN_HOSTS`] or when the hosts agree exactly.
    pub df: Option<f64>,
    /// One-sample t of the log ratios against 0; `None` as `df`.
    pub t: Option<f64>,
    /// Two-sided; `None` below [`MIN_HOSTS`].
    pub p_value: Option<f64>,
    /// [`Verdict::TooFewHosts`] below [`MIN_HOSTS`].
    pub verdict: Verdict,
}

impl PooledChange {
    /// "2 hosts: the interval rests on 1 degree of freedom (t = 12.7) and is wide", or none.
    pub fn caveat(&self) -> Option<String> {
        match self.hosts.len() {
            0 => Some("no host with enough runs on both sides".into()),
            1 => Some(format!("only host {} has enough runs: no interval across hosts, no verdict", self.hosts[0].host)),
            2 => Some(format!(
                "2 hosts: the interval rests on 1 degree of freedom (t = {:.1}) and is wide unless they agree closely",
                t_quantile(CONFIDENCE, 1.0)
            )),
            _ => None,
        }
    }
}

/// One host's comparison of one metric, as input to [`pool`]: `None` when a side has no
/// successful run of it there.
pub type HostComparison<'a> = (&'a str, Option<&'a Comparison>);

/// Pools per-host comparisons (each host's base against its new side) into one change.
pub fn pool(per_host: &[HostComparison], thresholds: &Thresholds) -> PooledChange {
    let mut hosts = Vec::new();
    let mut left_out = Vec::new();
    for &(host, comparison) in per_host {
        let leave = |reason: String| LeftOut { host: host.to_string(), reason };
        match comparison {
            None => left_out.push(leave("no successful run on a side".into())),
            Some(c) if c.verdict == Verdict::TooFewRuns => {
                left_out.push(leave(format!("{} vs {} successful runs; at least {MIN_RUNS} per side are needed", c.base.n, c.new.n)))
            }
            Some(c) if !(c.base.mean > 0.0 && c.new.mean > 0.0) => {
                left_out.push(leave(format!("means {} and {}: no ratio of means that are not both above 0", c.base.mean, c.new.mean)))
            }
            Some(c) => hosts.push(HostChange {
                host: host.to_string(),
                base_mean: c.base.mean,
                new_mean: c.new.mean,
                log_ratio: (c.new.mean / c.base.mean).ln(),
            }),
        }
    }
    let logs: Vec<f64> = hosts.iter().map(|h| h.log_ratio).collect();
    let percent = |d: f64| 100.0 * d.exp_m1();
    let change_percent = (!logs.is_empty()).then(|| percent(mean(&logs)));
    let mut pooled = PooledChange {
        hosts,
        left_out,
        change_percent,
        change_ci95: None,
        df: None,
        t: None,
        p_value: None,
        verdict: Verdict::TooFewHosts,
    };
    if logs.len() < MIN_HOSTS {
        return pooled;
    }
    let n = logs.len() as f64;
    let (m, se) = (mean(&logs), sample_sd(&logs) / n.sqrt());
    if se == 0.0 {
        // Every host saw exactly the same ratio: certain either way, as Welch's test with
        // no spread on either side.
        pooled.p_value = Some(if m == 0.0 { 1.0 } else { 0.0 });
        pooled.change_ci95 = Some(Interval { low: percent(m), high: percent(m) });
    } else {
        let df = n - 1.0;
        let t = m / se;
        let half = t_quantile(CONFIDENCE, df) * se;
        pooled.df = Some(df);
        pooled.t = Some(t);
        pooled.p_value = Some(t_two_sided_p(t, df));
        pooled.change_ci95 = Some(Interval { low: percent(m - half), high: percent(m + half) });
    }
    // TOST over hosts: the (1 − 2·alpha) interval of the mean log ratio within ± threshold.
    let equivalence_half = t_quantile((1.0 - 2.0 * thresholds.alpha).max(0.0), n - 1.0) * se;
    let equivalence_ci = Some(Interval { low: percent(m - equivalence_half), high: percent(m + equivalence_half) });
    pooled.verdict = verdict(pooled.p_value.unwrap_or(f64::NAN), m, pooled.change_ci95, equivalence_ci, thresholds);
    pooled
}

/// A study on several hosts analysed: each host on its own, and the pooled changes.
#[derive(Debug, Clone, Serialize)]
pub struct HostsAnalysis {
    pub baseline: String,
    pub thresholds: Thresholds,
    pub hosts: Vec<HostAnalysis>,
    pub pooled: Vec<PooledLevel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostAnalysis {
    pub host: String,
    /// `None` when the host has no runs, or none of the baseline.
    pub analysis: Option<Analysis>,
    /// Why there is no analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PooledLevel {
    pub jobs_label: String,
    pub variants: Vec<PooledVariant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PooledVariant {
    pub variant: String,
    pub metrics: Vec<PooledMetric>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PooledMetric {
    pub metric: Metric,
    #[serde(flatten)]
    pub pooled: PooledChange,
}

/// Analyses each host's runs against `baseline` (or the first variant of all the runs)
/// and pools every variant's change across hosts. `expected_hosts` (meta.json's) are
/// listed even without a row, after the hosts runs.csv names.
pub fn analyze_hosts(
    records: &[RunRecord],
    expected_hosts: &[String],
    baseline: Option<&str>,
    thresholds: &Thresholds,
) -> Result<HostsAnalysis, String> {
    let baseline = match baseline {
        Some(name) => name.to_string(),
        None => records.first().map(|r| r.variant.clone()).ok_or("runs.csv has no runs")?,
    };
    if !records.iter().any(|r| r.variant == baseline) {
        return Err(format!("no runs of the baseline {baseline:?} on any host"));
    }
    let without_host = records.iter().filter(|r| r.host.is_empty()).count();
    if without_host > 0 {
        return Err(format!(
            "{without_host} rows of runs.csv name no host, in a study over the hosts {}: each row must carry the host that measured it",
            hosts_seen(records).into_iter().chain(expected_hosts.iter().cloned()).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut names = hosts_seen(records);
    for host in expected_hosts {
        if !names.contains(host) {
            names.push(host.clone());
        }
    }
    let hosts: Vec<HostAnalysis> = names
        .into_iter()
        .map(|host| {
            let runs = runs_of_host(records, &host);
            if runs.is_empty() {
                return HostAnalysis { host, analysis: None, problem: Some("no runs on record".into()) };
            }
            match analyze(&runs, Some(&baseline), thresholds) {
                Ok(analysis) => HostAnalysis { host, analysis: Some(analysis), problem: None },
                Err(problem) => HostAnalysis { host, analysis: None, problem: Some(problem) },
            }
        })
        .collect();
    let pooled = pool_levels(&hosts, &baseline, thresholds);
    Ok(HostsAnalysis { baseline, thresholds: *thresholds, hosts, pooled })
}

fn pool_levels(hosts: &[HostAnalysis], baseline: &str, thresholds: &Thresholds) -> Vec<PooledLevel> {
    let analysed: Vec<(&str, &Analysis)> = hosts.iter().filter_map(|h| Some((h.host.as_str(), h.analysis.as_ref()?))).collect();
    let mut labels: Vec<&str> = Vec::new();
    let mut variants: Vec<&str> = Vec::new();
    let mut metrics: Vec<Metric> = Vec::new();
    for (_, a) in &analysed {
        for level in &a.levels {
            push_new(&mut labels, level.jobs_label.as_str());
        }
        for v in a.variants.iter().filter(|v| v.name != baseline) {
            push_new(&mut variants, v.name.as_str());
        }
        for &m in &a.metrics {
            push_new(&mut metrics, m);
        }
    }
    metrics.sort_by_key(|m| Metric::ALL.iter().position(|x| x == m));
    labels
        .iter()
        .map(|&label| PooledLevel {
            jobs_label: label.to_string(),
            variants: variants
                .iter()
                .map(|&variant| PooledVariant {
                    variant: variant.to_string(),
                    metrics: metrics
                        .iter()
                        .map(|&metric| {
                            let per_host: Vec<HostComparison> =
                                hosts.iter().map(|h| (h.host.as_str(), comparison(h, label, variant, metric))).collect();
                            PooledMetric { metric, pooled: pool(&per_host, thresholds) }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

fn comparison<'a>(host: &'a HostAnalysis, label: &str, variant: &str, metric: Metric) -> Option<&'a Comparison> {
    let level = host.analysis.as_ref()?.levels.iter().find(|l| l.jobs_label == label)?;
    let v = level.variant(variant)?;
    v.metrics.iter().find(|m| m.metric == metric)?.comparison.as_ref()
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl HostsAnalysis {
    pub fn host(&self, name: &str) -> Option<&HostAnalysis> {
        self.hosts.iter().find(|h| h.host == name)
    }

    #[cfg(test)]
    pub fn pooled(&self, label: &str, variant: &str, metric: Metric) -> Option<&PooledChange> {
        let level = self.pooled.iter().find(|l| l.jobs_label == label)?;
        let v = level.variants.iter().find(|v| v.variant == variant)?;
        v.metrics.iter().find(|m| m.metric == metric).map(|m| &m.pooled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};
    use crate::stats::{assert_close, compare};

    fn run(host: &str, variant: &str, run: u32, elapsed: f64) -> RunRecord {
        RunRecord { host: host.into(), variant: variant.into(), run, elapsed_s: elapsed, ..test_record() }
    }

    fn host_runs(host: &str, off: &[f64], poison: &[f64]) -> Vec<RunRecord> {
        let mut rows = Vec::new();
        for (i, e) in off.iter().enumerate() {
            rows.push(run(host, "off", i as u32 + 1, *e));
        }
        for (i, e) in poison.iter().enumerate() {
            rows.push(run(host, "poison", i as u32 + 1, *e));
        }
        rows
    }

    /// Three hosts of very different speed; poison is about 10 % slower on each.
    fn three_hosts() -> Vec<RunRecord> {
        [
            host_runs("a", &[40.0, 40.5, 39.5, 40.2, 39.8], &[44.0, 44.5, 43.5, 44.2, 43.8]),
            host_runs("b", &[80.0, 81.0, 79.0, 80.5, 79.5], &[89.0, 90.0, 88.0, 89.5, 88.5]),
            host_runs("c", &[20.0, 20.2, 19.8, 20.1, 19.9], &[21.8, 22.0, 21.6, 21.9, 21.7]),
        ]
        .concat()
    }

    #[test]
    fn hosts_are_listed_in_order_and_one_host_has_none() {
        assert_eq!(hosts_seen(&three_hosts()), ["a", "b", "c"]);
        assert!(hosts_seen(&[test_record(), test_record()]).is_empty());
    }

    /// Expected values computed independently with Python's math module (no SciPy on this
    /// machine): the log ratios from the means above, and the t distribution's closed forms
    /// for 1 and 2 degrees of freedom: quantile tan(π (q − ½)) and p = 1 − 2/π · atan|t| for
    /// df 1; quantile (2q − 1) / √(2q(1 − q)) and p = 1 − |t| / √(2 + t²) for df 2.
    ///
    /// ```python
    /// import math, statistics as st
    /// d = [math.log(r) for r in (1.1, 1.1125, 1.09)]  # the hosts' ratios of means
    /// m, se = st.mean(d), st.stdev(d)/math.sqrt(3)
    /// q = 0.95/math.sqrt(2*0.975*0.025); t = m/se
    /// print(100*math.expm1(m), 100*math.expm1(m-q*se), 100*math.expm1(m+q*se), t, 1-abs(t)/math.sqrt(2+t*t))
    /// ```
    #[test]
    fn the_pooled_change_is_the_geometric_mean_of_the_host_ratios_with_a_t_interval_over_hosts() {
        let analysis = analyze_hosts(&three_hosts(), &[], None, &Thresholds::default()).unwrap();
        assert_eq!(analysis.baseline, "off");
        assert_eq!(analysis.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        let a = analysis.host("a").unwrap().analysis.as_ref().unwrap();
        let poison_a = a.level("half").unwrap().variant("poison").unwrap().metric(Metric::Elapsed);
        assert_close(poison_a.summary.as_ref().unwrap().mean, 44.0, 1e-12);
        assert_eq!(poison_a.runs.len(), 5, "each host's statistics are its own runs only");
        let pooled = analysis.pooled("half", "poison", Metric::Elapsed).unwrap();
        assert_eq!(pooled.hosts.len(), 3);
        assert_close(pooled.hosts[1].log_ratio, 1.1125f64.ln(), 1e-12);
        assert_close(pooled.change_percent.unwrap(), 10.079488001234038, 1e-9);
        let ci = pooled.change_ci95.unwrap();
        assert_close(ci.low, 7.315939343307816, 1e-8);
        assert_close(ci.high, 12.914202240260883, 1e-8);
        assert_eq!(pooled.df, Some(2.0));
        assert_close(pooled.t.unwrap(), 16.25116860710634, 1e-8);
        assert_close(pooled.p_value.unwrap(), 0.003765066789364946, 1e-6);
        assert_eq!(pooled.verdict, Verdict::Higher);
        assert_eq!(pooled.caveat(), None);
    }

    #[test]
    fn two_hosts_have_one_degree_of_freedom_and_say_so() {
        // python: d = [log(1.1), log(1.1125)]; m, se = mean(d), stdev(d)/sqrt(2);
        // q = tan(pi*0.475); expm1(m ± q*se); t = m/se; p = 1 - 2/pi*atan(t)
        let records: Vec<RunRecord> = three_hosts().into_iter().filter(|r| r.host != "c").collect();
        let analysis = analyze_hosts(&records, &[], None, &Thresholds::default()).unwrap();
        let pooled = analysis.pooled("half", "poison", Metric::Elapsed).unwrap();
        assert_eq!(pooled.df, Some(1.0));
        assert_close(pooled.change_percent.unwrap(), 10.62323444918794, 1e-9);
        let ci = pooled.change_ci95.unwrap();
        assert_close(ci.low, 2.960241841938101, 1e-7);
        assert_close(ci.high, 18.85655842559786, 1e-7);
        assert_close(pooled.p_value.unwrap(), 0.035588492263534666, 1e-6);
        assert_eq!(pooled.verdict, Verdict::Higher);
        assert!(pooled.caveat().unwrap().contains("1 degree of freedom (t = 12.7)"), "{:?}", pooled.caveat());
    }

    #[test]
    fn hosts_that_disagree_give_no_clear_change() {
        // +10 % on one host, −5 % on the other: the interval over hosts spans both.
        let records =
            [host_runs("a", &[40.0, 40.5, 39.5], &[44.0, 44.5, 43.5]), host_runs("b", &[80.0, 81.0, 79.0], &[76.0, 77.0, 75.0])].concat();
        let analysis = analyze_hosts(&records, &[], None, &Thresholds::default()).unwrap();
        let pooled = analysis.pooled("half", "poison", Metric::Elapsed).unwrap();
        assert_eq!(pooled.verdict, Verdict::Inconclusive);
        let host_verdicts: Vec<Verdict> = ["a", "b"]
            .iter()
            .map(|h| {
                let a = analysis.host(h).unwrap().analysis.as_ref().unwrap();
                a.level("half").unwrap().variant("poison").unwrap().metric(Metric::Elapsed).comparison.as_ref().unwrap().verdict
            })
            .collect();
        assert_eq!(host_verdicts, [Verdict::Higher, Verdict::Lower], "each host has its own verdict");
    }

    #[test]
    fn a_host_with_too_few_runs_is_left_out_and_named_and_one_host_left_gives_no_verdict() {
        let mut records = three_hosts();
        records.retain(|r| !(r.host == "b" && r.run > 2) && r.host != "c");
        records.push(RunRecord { status: RunStatus::Failed, ..run("c", "off", 1, 0.0) });
        let expected = ["a".to_string(), "b".into(), "c".into(), "d".into()];
        let analysis = analyze_hosts(&records, &expected, None, &Thresholds::default()).unwrap();
        let pooled = analysis.pooled("half", "poison", Metric::Elapsed).unwrap();
        assert_eq!(pooled.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(), ["a"]);
        let left: Vec<(&str, &str)> = pooled.left_out.iter().map(|l| (l.host.as_str(), l.reason.as_str())).collect();
        assert_eq!(left[0], ("b", "2 vs 2 successful runs; at least 3 per side are needed"));
        assert_eq!(left[1].0, "c");
        assert_eq!(left[2].0, "d");
        assert_eq!(pooled.verdict, Verdict::TooFewHosts);
        assert_close(pooled.change_percent.unwrap(), 10.0, 1e-12);
        assert_eq!((pooled.change_ci95, pooled.p_value), (None, None));
        assert!(pooled.caveat().unwrap().contains("only host a"));
        assert_eq!(analysis.host("d").unwrap().problem.as_deref(), Some("no runs on record"));
        let c = analysis.host("c").unwrap();
        assert!(c.analysis.is_some(), "a host with only failed runs is analysed: its failures are counted");
    }

    #[test]
    fn rows_without_a_host_in_a_study_over_hosts_are_refused() {
        let mut records = three_hosts();
        records[0].host.clear();
        let error = analyze_hosts(&records, &[], None, &Thresholds::default()).unwrap_err();
        assert!(error.starts_with("1 rows of runs.csv name no host, in a study over the hosts a, b, c"), "{error}");
        let error = analyze_hosts(&[test_record()], &["lab1".into()], None, &Thresholds::default()).unwrap_err();
        assert!(error.contains("over the hosts lab1"), "{error}");
    }

    #[test]
    fn hosts_agreeing_exactly_are_certain() {
        let same = compare(&[10.0, 10.0, 10.0], &[11.0, 11.0, 11.0], &Thresholds::default()).unwrap();
        let other = compare(&[20.0, 20.0, 20.0], &[22.0, 22.0, 22.0], &Thresholds::default()).unwrap();
        let pooled = pool(&[("a", Some(&same)), ("b", Some(&other))], &Thresholds::default());
        assert_eq!((pooled.p_value, pooled.verdict), (Some(0.0), Verdict::Higher));
        assert_close(pooled.change_ci95.unwrap().low, 10.0, 1e-9);
        let zero = compare(&[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0], &Thresholds::default()).unwrap();
        let pooled = pool(&[("a", Some(&zero)), ("b", None)], &Thresholds::default());
        assert!(pooled.left_out[0].reason.contains("not both above 0"), "{:?}", pooled.left_out);
        assert_eq!((pooled.change_percent, pooled.verdict), (None, Verdict::TooFewHosts));
    }
}
