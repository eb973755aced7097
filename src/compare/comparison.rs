//! The comparison itself: per matched row and metric, Welch's test and criterion's
//! verdict from `stats`, and what the gate fails: a significantly worse metric, a row that
//! ran in the base and has no successful run in the new side, runs that failed in the new
//! side where the base had no failure, and a new side whose runs all failed.
//!
//! On a study over several lab hosts, rows match by host too, each host's entries are
//! compared on their own, and every (variant, level, metric) also gets a change pooled
//! across the hosts ([`crate::stats::pool`]). Which verdict gates: the pooled one, when at
//! least two hosts have enough runs on both sides; otherwise the per-host ones (then at
//! most one host can be judged). A host's own "slower" beside a pooled "no significant
//! change" is shown and warned about, not counted: every host is a test of its own, and
//! gating on any of them would fail a clean change on n hosts about n times as often as
//! `--alpha` says. A host that measured rows in the base and has no successful run of them
//! in the new side is a hole in the gate: its rows are row regressions, and the host is named.

use super::alike;
use super::matching::{host_prefix, pair_levels, Pairing, VariantMap};
use super::side::Side;
use crate::model::RunRecord;
use crate::stats::{
    compare, describe_noisy, noisy_runs, pool, summarize, Comparison, HostComparison, Metric, PooledChange, Summary, Thresholds, Verdict,
    MIN_HOSTS, MIN_RUNS, NOISE_ADVICE,
};
use anyhow::{bail, Result};
use serde::Serialize;
use std::fmt;

pub struct CompareOptions {
    pub metrics: Vec<Metric>,
    pub thresholds: Thresholds,
    pub map: VariantMap,
}

/// Everything every renderer needs; serialized as is for `--format json`.
#[derive(Debug, Serialize)]
pub struct CompareReport {
    pub base: SideInfo,
    pub new: SideInfo,
    pub thresholds: Thresholds,
    pub metrics: Vec<Metric>,
    pub entries: Vec<Entry>,
    /// Rows only the new side has; they are not compared.
    pub unmatched: Vec<String>,
    /// On several hosts: per base variant, level and metric, the change pooled across the
    /// hosts; empty on one host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pooled: Vec<PooledEntry>,
    /// Hosts with successful runs in the base and none in the new side: holes in the gate
    /// (their rows are row regressions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_hosts: Vec<String>,
    /// Rows the gate fails whatever the numbers say (see [`RowProblem`]).
    pub row_regressions: Vec<RowRegression>,
    /// Facts that differ between the two sides, and what could not be checked.
    pub warnings: Vec<String>,
    /// Significantly worse entries plus row regressions, plus one when every run of the new
    /// side failed; the exit code is 1 when any.
    pub regressions: usize,
    /// Gated comparisons that cannot tell: inconclusive, or too few runs, in a metric that
    /// gates (see [`cannot_tell`]); the exit code is 3 when any and nothing regressed.
    pub inconclusive: usize,
}

#[derive(Debug, Serialize)]
pub struct SideInfo {
    pub path: String,
    /// Kernel releases the guests reported, usually one.
    pub kernels: Vec<String>,
    /// Distinct guest command lines, as the guests saw them.
    pub cmdlines: Vec<String>,
    pub accel: Option<String>,
    pub ok_runs: usize,
    /// Failed runs are never averaged; they are counted, and new ones fail the gate.
    pub failed_runs: usize,
}

/// One metric of one row of the base.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub metric: Metric,
    pub unit: &'static str,
    #[serde(flatten)]
    pub pairing: Pairing,
    /// The successful runs of each side; `None` when a side has none.
    pub base: Option<Summary>,
    pub new: Option<Summary>,
    pub base_failed: usize,
    pub new_failed: usize,
    /// Successful runs of the row measured on a noisy host (runs.csv's `noise`): a
    /// warning, never a regression by itself.
    pub base_noisy: usize,
    pub new_noisy: usize,
    /// `None` when a side has no successful run of this row.
    pub comparison: Option<Comparison>,
    /// The verdict in the metric's words ("slower", "same", "inconclusive", "too few
    /// runs"), or why there is none ("no successful run in new").
    pub verdict: String,
    /// What the comparison could see, in words ([`Comparison::sensitivity_phrase`]): "sees
    /// ±2.3 %", and when inconclusive the runs a side that would decide it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<String>,
    /// The gate fails on this entry: significantly worse (and its verdict is the one that
    /// gates, see the module's doc), or its row is a row regression.
    pub regression: bool,
    /// Its verdict gates and cannot tell (see [`cannot_tell`]).
    pub inconclusive: bool,
}

/// One base variant at one level, one metric, pooled across the hosts.
#[derive(Debug, Serialize)]
pub struct PooledEntry {
    pub metric: Metric,
    pub unit: &'static str,
    pub base_variant: String,
    pub new_variant: String,
    pub jobs_label: String,
    /// Nested, as [`Entry::comparison`]: its `verdict` is the statistical one.
    pub pooled: PooledChange,
    /// The pooled verdict in the metric's words, as [`Entry::verdict`].
    pub verdict: String,
    /// This pooled verdict is the one that gates (at least [`MIN_HOSTS`] hosts count).
    pub gates: bool,
    /// It gates and is significantly worse.
    pub regression: bool,
    /// It gates and cannot tell (see [`cannot_tell`]).
    pub inconclusive: bool,
}

/// Why the gate fails a row without looking at its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowProblem {
    /// The base has successful runs of the row; the new side has none (all failed, or the
    /// row did not run at all).
    NoSuccessfulRunInNew,
    /// Runs of the row failed in the new side and none did in the base. Its successful
    /// runs are still compared.
    FailedOnlyInNew,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowRegression {
    #[serde(flatten)]
    pub pairing: Pairing,
    pub problem: RowProblem,
    pub base_ok: usize,
    pub base_failed: usize,
    pub new_ok: usize,
    pub new_failed: usize,
}

impl fmt::Display for RowRegression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.pairing;
        let name =
            if p.base_variant == p.new_variant { p.base_variant.clone() } else { format!("{} → {}", p.base_variant, p.new_variant) };
        write!(f, "{}{name} {} (-j {}): ", host_prefix(&p.host), p.jobs_label, p.jobs)?;
        match (self.problem, self.new_failed) {
            (RowProblem::NoSuccessfulRunInNew, 0) => {
                write!(f, "{} successful runs in base, not run in new", self.base_ok)
            }
            (RowProblem::NoSuccessfulRunInNew, failed) => {
                write!(f, "{} successful runs in base, none in new ({failed} failed)", self.base_ok)
            }
            (RowProblem::FailedOnlyInNew, failed) => {
                write!(f, "{failed} of {} runs failed in new, none of {} in base", failed + self.new_ok, self.base_ok)
            }
        }
    }
}

/// The direction in which a metric gets worse, for the gate. More time, more memory and
/// more context switches all cost; percent CPU has no better side (busier CPUs can mean
/// better parallelism or more overhead), so it is reported and never fails the gate.
pub fn worse(metric: Metric) -> Option<Verdict> {
    match metric {
        Metric::PercentCpu => None,
        // The guest's CPU split is a share, like percent CPU: which side is better depends.
        Metric::GuestUser | Metric::GuestSys | Metric::GuestSoftirq | Metric::GuestSteal => None,
        Metric::Elapsed
        | Metric::User
        | Metric::Sys
        | Metric::CtxSwitches
        | Metric::Sleeps
        | Metric::MaxRss
        | Metric::MinorFaults
        | Metric::MajorFaults
        | Metric::SlabPeak
        | Metric::SlabEnd
        | Metric::SUnreclaimPeak
        | Metric::SReclaimablePeak
        | Metric::Pgalloc
        | Metric::Pgfree
        | Metric::Pgfault => Some(Verdict::Higher),
    }
}

pub fn build(base: &Side, new: &Side, options: &CompareOptions) -> Result<CompareReport> {
    alike::check_workload(base, new)?;
    let (pairings, unmatched) = pair_levels(base, new, &options.map)?;
    let base_info = side_info(base);
    let new_info = side_info(new);
    if base_info.ok_runs == 0 && new_info.ok_runs > 0 {
        bail!(
            "every run in the base {} failed: there is nothing to compare {} against; run the base again",
            base.path.display(),
            new.path.display()
        );
    }
    let row_regressions: Vec<RowRegression> = pairings.iter().filter_map(|p| row_regression(base, new, p)).collect();
    // A metric neither side has (older runs.csv, monitors off) is left out, not shown as 0.
    let (metrics, unmeasured): (Vec<Metric>, Vec<Metric>) =
        options.metrics.iter().partition(|m| base.records.iter().chain(&new.records).any(|r| m.value(r).is_some()));
    let mut entries: Vec<Entry> = metrics
        .iter()
        .flat_map(|&metric| pairings.iter().map(move |p| (metric, p)))
        .map(|(metric, p)| {
            let failing_row = row_regressions.iter().any(|r| &r.pairing == p);
            entry(base, new, p, metric, &options.thresholds, failing_row)
        })
        .collect();
    let several_hosts = !base.hosts().is_empty();
    let pooled = if several_hosts { pooled_entries(&mut entries, &options.thresholds) } else { Vec::new() };
    let mut warnings = alike::differences(base, new);
    warnings.extend(alike::host_differences(base, new));
    warnings.extend(alike::unknown_facts(base, new));
    warnings.extend(pairings.iter().filter_map(|p| noisy_row(base, new, p)));
    warnings.extend(entries.iter().filter_map(incomparable));
    warnings.extend(host_warnings(base, new, &entries, &pooled));
    if !unmeasured.is_empty() && options.metrics.len() < Metric::ALL.len() {
        let names: Vec<&str> = unmeasured.iter().map(|m| m.name()).collect();
        warnings.push(format!(
            "not compared: {}: neither side measured it (runs.csv from before these columns, or monitor_interval = 0)",
            names.join(", ")
        ));
    }
    let worse_entries = entries.iter().filter(|e| e.regression && is_worse(e)).count();
    let worse_pooled = pooled.iter().filter(|p| p.regression).count();
    let all_failed = usize::from(new_info.ok_runs == 0);
    let missing_hosts = missing_hosts(base, new);
    let inconclusive = entries.iter().filter(|e| e.inconclusive).count() + pooled.iter().filter(|p| p.inconclusive).count();
    Ok(CompareReport {
        inconclusive,
        base: base_info,
        new: new_info,
        thresholds: options.thresholds,
        metrics,
        regressions: worse_entries + worse_pooled + row_regressions.len() + all_failed,
        entries,
        unmatched,
        pooled,
        missing_hosts,
        row_regressions,
        warnings,
    })
}

/// Per base variant, level and metric, the change pooled across hosts; when it gates (at
/// least [`MIN_HOSTS`] hosts count) the hosts' own entries no longer fail the gate by their
/// numbers (their row problems still do).
fn pooled_entries(entries: &mut [Entry], thresholds: &Thresholds) -> Vec<PooledEntry> {
    let mut keys: Vec<(Metric, String, String, String)> = Vec::new();
    for e in entries.iter() {
        let key = (e.metric, e.pairing.base_variant.clone(), e.pairing.new_variant.clone(), e.pairing.jobs_label.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let same = |e: &Entry, (metric, base_variant, _, label): &(Metric, String, String, String)| {
        e.metric == *metric && &e.pairing.base_variant == base_variant && &e.pairing.jobs_label == label
    };
    let mut pooled = Vec::new();
    for key in keys {
        let per_host: Vec<HostComparison> =
            entries.iter().filter(|e| same(e, &key)).map(|e| (e.pairing.host.as_str(), e.comparison.as_ref())).collect();
        let change = pool(&per_host, thresholds);
        let (metric, base_variant, new_variant, jobs_label) = key.clone();
        let gates = change.hosts.len() >= MIN_HOSTS;
        let regression = gates && Some(change.verdict) == worse(metric);
        let inconclusive = gates && cannot_tell(metric, change.verdict);
        pooled.push(PooledEntry {
            metric,
            unit: metric.unit(),
            base_variant,
            new_variant,
            jobs_label,
            verdict: metric.verdict_word(change.verdict).to_string(),
            pooled: change,
            gates,
            regression,
            inconclusive,
        });
        if gates {
            for e in entries.iter_mut().filter(|e| same(e, &key)) {
                // Its row problem, if any, still fails the gate; its numbers alone do not.
                e.regression = e.regression && !is_worse(e);
                e.inconclusive = false;
            }
        }
    }
    pooled
}

/// Hosts whose successful base runs have no successful counterpart at all in the new side.
fn missing_hosts(base: &Side, new: &Side) -> Vec<String> {
    base.hosts()
        .into_iter()
        .filter(|host| base.records.iter().any(|r| r.host == *host && r.is_ok()))
        .filter(|host| !new.records.iter().any(|r| r.host == *host && r.is_ok()))
        .map(String::from)
        .collect()
}

/// What the per-host view adds: hosts only in new, a host significantly worse on its own
/// while the pooled verdict (which gates) is not, and how far the pooled change can go.
fn host_warnings(base: &Side, new: &Side, entries: &[Entry], pooled: &[PooledEntry]) -> Vec<String> {
    let base_hosts = base.hosts();
    let mut warnings: Vec<String> = new
        .hosts()
        .into_iter()
        .filter(|h| !base_hosts.contains(h))
        .map(|h| format!("host {h} is only in new: its runs are not compared (the base has no runs on it)"))
        .collect();
    for e in entries.iter().filter(|e| is_worse(e) && !e.regression) {
        let p = &e.pairing;
        let Some(q) = pooled.iter().find(|q| q.metric == e.metric && q.base_variant == p.base_variant && q.jobs_label == p.jobs_label)
        else {
            continue;
        };
        if q.regression {
            continue;
        }
        let pooled_verdict = format!("{} over {} hosts", q.verdict, q.pooled.hosts.len());
        warnings.push(format!(
            "host {}: {} {} {} is {} on this host alone; the change pooled across hosts gates ({pooled_verdict})",
            p.host,
            e.metric.name(),
            p.base_variant,
            p.jobs_label,
            e.verdict
        ));
    }
    if let Some(first) = pooled.first() {
        for q in pooled.iter().filter(|q| q.metric == first.metric) {
            if let Some(caveat) = q.pooled.caveat() {
                warnings.push(format!("across hosts, {} {}: {caveat}", q.base_variant, q.jobs_label));
            }
        }
    }
    warnings
}

/// Successful and failed runs of one row of one side.
fn counts(side: &Side, host: &str, variant: &str, label: &str) -> (usize, usize) {
    let (ok, failed): (Vec<&RunRecord>, Vec<&RunRecord>) = side.row(host, variant, label).into_iter().partition(|r| r.is_ok());
    (ok.len(), failed.len())
}

fn row_regression(base: &Side, new: &Side, pairing: &Pairing) -> Option<RowRegression> {
    let (base_ok, base_failed) = counts(base, &pairing.host, &pairing.base_variant, &pairing.jobs_label);
    let (new_ok, new_failed) = counts(new, &pairing.host, &pairing.new_variant, &pairing.jobs_label);
    let problem = if base_ok > 0 && new_ok == 0 {
        RowProblem::NoSuccessfulRunInNew
    } else if new_failed > 0 && base_failed == 0 {
        RowProblem::FailedOnlyInNew
    } else {
        return None;
    };
    Some(RowRegression { pairing: pairing.clone(), problem, base_ok, base_failed, new_ok, new_failed })
}

fn entry(base: &Side, new: &Side, pairing: &Pairing, metric: Metric, thresholds: &Thresholds, failing_row: bool) -> Entry {
    let (base_ok, base_failed) = runs(base, &pairing.host, &pairing.base_variant, &pairing.jobs_label, metric);
    let (new_ok, new_failed) = runs(new, &pairing.host, &pairing.new_variant, &pairing.jobs_label, metric);
    let base_noisy = noisy_runs(row(base, &pairing.host, &pairing.base_variant, &pairing.jobs_label)).len();
    let new_noisy = noisy_runs(row(new, &pairing.host, &pairing.new_variant, &pairing.jobs_label)).len();
    let comparison = compare(&base_ok, &new_ok, thresholds);
    let verdict = match &comparison {
        Some(c) => metric.verdict_word(c.verdict),
        None if base_ok.is_empty() && new_ok.is_empty() => "no successful run on either side",
        None if base_ok.is_empty() => "no successful run in base",
        None => "no successful run in new",
    };
    let mut entry = Entry {
        metric,
        unit: metric.unit(),
        pairing: pairing.clone(),
        base: summarize(&base_ok),
        new: summarize(&new_ok),
        base_failed,
        new_failed,
        base_noisy,
        new_noisy,
        verdict: verdict.to_string(),
        sensitivity: comparison.as_ref().and_then(|c| c.sensitivity_phrase(thresholds)),
        regression: failing_row,
        inconclusive: comparison.as_ref().is_some_and(|c| cannot_tell(metric, c.verdict)),
        comparison,
    };
    entry.regression |= is_worse(&entry);
    entry
}

/// A gated metric whose comparison cannot tell: inconclusive (neither changed nor shown
/// the same) or too few runs to test. The gate says so (exit 3) instead of passing it: a
/// noisy study that could not have seen a 30 % regression is no evidence there is none.
/// Metrics that never gate ([`worse`] is `None`) never count.
pub fn cannot_tell(metric: Metric, verdict: Verdict) -> bool {
    worse(metric).is_some() && matches!(verdict, Verdict::Inconclusive | Verdict::TooFewRuns)
}

/// Significantly worse beyond the noise threshold, by the numbers alone.
pub fn is_worse(entry: &Entry) -> bool {
    entry.comparison.as_ref().is_some_and(|c| Some(c.verdict) == worse(entry.metric))
}

/// The metric's values of the successful runs of a row, and the number of failed runs.
fn runs(side: &Side, host: &str, variant: &str, label: &str, metric: Metric) -> (Vec<f64>, usize) {
    let row = side.row(host, variant, label);
    let ok: Vec<f64> = row.iter().filter(|r| r.is_ok()).filter_map(|r| metric.value(r)).collect();
    let failed = row.iter().filter(|r| !r.is_ok()).count();
    (ok, failed)
}

/// The runs of one row of one side.
fn row<'r>(side: &'r Side, host: &str, variant: &str, label: &str) -> impl Iterator<Item = &'r RunRecord> {
    side.row(host, variant, label).into_iter()
}

/// A row with runs measured on a noisy host, on either side: its verdicts may be bent
/// either way, so it is a warning; the gate (and the exit code) stays the numbers' alone.
fn noisy_row(base: &Side, new: &Side, pairing: &Pairing) -> Option<String> {
    let sides = [("base", base, &pairing.base_variant), ("new", new, &pairing.new_variant)];
    let parts: Vec<String> = sides
        .into_iter()
        .filter_map(|(name, side, variant)| {
            let ok = row(side, &pairing.host, variant, &pairing.jobs_label).filter(|r| r.is_ok()).count();
            let noisy = noisy_runs(row(side, &pairing.host, variant, &pairing.jobs_label));
            (!noisy.is_empty()).then(|| format!("{} of {ok} runs in {name} ({})", noisy.len(), describe_noisy(&noisy)))
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    let name = if pairing.base_variant == pairing.new_variant {
        pairing.base_variant.clone()
    } else {
        format!("{} → {}", pairing.base_variant, pairing.new_variant)
    };
    Some(format!(
        "noisy host: {}{name} {} (-j {}): {} were measured on a noisy host; this row's verdicts may be off either way, and the gate does not count that: {NOISE_ADVICE}",
        host_prefix(&pairing.host),
        pairing.jobs_label,
        pairing.jobs,
        parts.join(", ")
    ))
}

/// Rows the gate cannot judge by their numbers deserve a word: with too few runs they can
/// never fail it. A row with no successful run in the new side is a row regression instead.
fn incomparable(entry: &Entry) -> Option<String> {
    let p = &entry.pairing;
    let what = format!("{}{} {} {}", host_prefix(&p.host), entry.metric.name(), p.base_variant, p.jobs_label);
    match &entry.comparison {
        None if entry.base.is_none() => Some(format!("{what}: no successful run in the base; not compared")),
        None => None,
        Some(c) if c.verdict == Verdict::TooFewRuns => {
            Some(format!("{what}: {} vs {} successful runs; at least {MIN_RUNS} per side are needed for a verdict", c.base.n, c.new.n))
        }
        Some(_) => None,
    }
}

fn side_info(side: &Side) -> SideInfo {
    let mut cmdlines: Vec<String> = Vec::new();
    for record in &side.records {
        if !cmdlines.contains(&record.cmdline) {
            cmdlines.push(record.cmdline.clone());
        }
    }
    let ok_runs = side.records.iter().filter(|r| r.is_ok()).count();
    SideInfo {
        path: side.path.display().to_string(),
        kernels: side.kernels().into_iter().map(String::from).collect(),
        cmdlines,
        accel: side.meta.as_ref().map(|m| m.hypervisor.accel.clone()),
        ok_runs,
        failed_runs: side.records.len() - ok_runs,
    }
}

impl CompareReport {
    /// A study over several lab hosts: rows carry their host, and there are pooled changes.
    pub fn on_hosts(&self) -> bool {
        self.entries.iter().any(|e| !e.pairing.host.is_empty())
    }

    pub fn pooled_of(&self, metric: Metric) -> impl Iterator<Item = &PooledEntry> {
        self.pooled.iter().filter(move |p| p.metric == metric)
    }

    pub fn entries_of(&self, metric: Metric) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.metric == metric)
    }

    /// "REGRESSION: …" or "no significant regression: …", one line for logs and summaries.
    pub fn outcome_line(&self) -> String {
        let t = &self.thresholds;
        let rule = format!("p < {} and the 95 % interval beyond ±{} %", t.alpha, t.noise_percent);
        let n = self.entries.len();
        let comparisons = if n == 1 { "comparison" } else { "comparisons" };
        if self.regressions == 0 && self.inconclusive > 0 {
            let rows: Vec<String> = self
                .entries
                .iter()
                .filter(|e| e.inconclusive)
                .map(|e| format!("{}{} {} {}", host_prefix(&e.pairing.host), e.metric.name(), e.pairing.base_variant, e.pairing.jobs_label))
                .chain(
                    self.pooled
                        .iter()
                        .filter(|p| p.inconclusive)
                        .map(|p| format!("{} {} {} across hosts", p.metric.name(), p.base_variant, p.jobs_label)),
                )
                .collect();
            return format!(
                "INCONCLUSIVE: no significant regression, but {} of {n} {comparisons} cannot tell (neither beyond nor within ±{} %): {}",
                self.inconclusive,
                t.noise_percent,
                rows.join(", ")
            );
        }
        if self.regressions == 0 {
            return format!("no significant regression in {n} {comparisons} ({rule})");
        }
        let mut parts = Vec::new();
        if self.new.ok_runs == 0 {
            parts.push(format!("every run in new failed ({} runs)", self.new.failed_runs));
        }
        let worse = self.entries.iter().filter(|e| e.regression && is_worse(e)).count();
        if worse > 0 {
            parts.push(format!("{worse} of {n} {comparisons} significantly worse ({rule})"));
        }
        let pooled: Vec<String> = self
            .pooled
            .iter()
            .filter(|p| p.regression)
            .map(|p| format!("{} {} {}", p.metric.name(), p.base_variant, p.jobs_label))
            .collect();
        if !pooled.is_empty() {
            parts.push(format!("significantly worse across hosts ({rule}): {}", pooled.join(", ")));
        }
        if !self.missing_hosts.is_empty() {
            parts.push(format!("hosts with successful runs in base and none in new: {}", self.missing_hosts.join(", ")));
        }
        for (problem, title) in
            [(RowProblem::NoSuccessfulRunInNew, "no successful run in new"), (RowProblem::FailedOnlyInNew, "runs failed only in new")]
        {
            let rows: Vec<String> = self
                .row_regressions
                .iter()
                .filter(|r| r.problem == problem)
                .map(|r| {
                    format!("{}{} {} (-j {})", host_prefix(&r.pairing.host), r.pairing.base_variant, r.pairing.jobs_label, r.pairing.jobs)
                })
                .collect();
            if !rows.is_empty() {
                parts.push(format!("{title}: {}", rows.join(", ")));
            }
        }
        format!("REGRESSION: {}", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    const FAST: [f64; 5] = [40.61, 40.32, 40.95, 40.48, 40.71];
    const SLOW: [f64; 5] = [44.20, 43.10, 46.90, 44.50, 44.23];

    fn rows(label: &str, elapsed: &[f64], failed: usize) -> Vec<RunRecord> {
        let ok = elapsed.iter().map(|&e| (e, RunStatus::Ok));
        let failed = (0..failed).map(|_| (999.0, RunStatus::Failed));
        ok.chain(failed)
            .enumerate()
            .map(|(i, (elapsed_s, status))| RunRecord { jobs_label: label.into(), run: i as u32 + 1, elapsed_s, status, ..test_record() })
            .collect()
    }

    fn side_of(records: Vec<RunRecord>) -> Side {
        Side::new("x".into(), records, None, Some("absent".into()))
    }

    fn side(elapsed: &[f64], failed: usize) -> Side {
        side_of(rows("half", elapsed, failed))
    }

    fn options(metrics: Vec<Metric>) -> CompareOptions {
        CompareOptions { metrics, thresholds: Thresholds::default(), map: VariantMap::default() }
    }

    #[test]
    fn slower_elapsed_is_a_regression_and_the_base_shows_its_runs() {
        let report = build(&side(&FAST, 0), &side(&SLOW, 0), &options(vec![Metric::Elapsed])).unwrap();
        let e = &report.entries[0];
        assert_eq!((e.verdict.as_str(), e.regression), ("slower", true));
        assert_eq!((e.base.as_ref().unwrap().n, e.new.as_ref().unwrap().n), (5, 5));
        assert_eq!(report.regressions, 1);
        assert!(report.outcome_line().starts_with("REGRESSION: 1 of 1 comparison significantly"), "{}", report.outcome_line());
        let reverse = build(&side(&SLOW, 0), &side(&FAST, 0), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((reverse.entries[0].verdict.as_str(), reverse.regressions), ("faster", 0));
    }

    #[test]
    fn runs_failed_only_in_new_fail_the_gate_and_are_never_averaged() {
        let report = build(&side(&FAST, 0), &side(&FAST, 1), &options(vec![Metric::Elapsed])).unwrap();
        let e = &report.entries[0];
        assert_eq!(e.comparison.as_ref().unwrap().new.n, 5, "the failed run is not averaged");
        assert_eq!((e.verdict.as_str(), e.regression, e.new_failed), ("same", true, 1));
        assert_eq!(report.row_regressions.len(), 1);
        assert_eq!(report.row_regressions[0].problem, RowProblem::FailedOnlyInNew);
        assert_eq!(report.row_regressions[0].to_string(), "baseline half (-j 1): 1 of 6 runs failed in new, none of 5 in base");
        assert_eq!(report.regressions, 1);
        assert!(report.outcome_line().contains("runs failed only in new: baseline half (-j 1)"), "{}", report.outcome_line());
        // A row that failed in the base too fails the same way: counted, not a regression.
        let both = build(&side(&FAST, 1), &side(&FAST, 2), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((both.regressions, both.entries[0].new_failed), (0, 2));
    }

    #[test]
    fn a_level_that_ran_in_base_and_not_successfully_in_new_is_a_regression() {
        let base = side_of([rows("half", &FAST, 0), rows("optimal", &FAST, 0)].concat());
        let all_failed = side_of([rows("half", &FAST, 0), rows("optimal", &[], 5)].concat());
        let report = build(&base, &all_failed, &options(vec![Metric::Elapsed])).unwrap();
        let optimal = &report.entries[1];
        assert_eq!((optimal.verdict.as_str(), optimal.regression), ("no successful run in new", true));
        assert_eq!(optimal.base.as_ref().map(|s| s.n), Some(5), "the base shows its real runs");
        assert_eq!(report.row_regressions[0].to_string(), "baseline optimal (-j 1): 5 successful runs in base, none in new (5 failed)");
        assert_eq!(report.regressions, 1);
        assert!(report.outcome_line().contains("no successful run in new: baseline optimal (-j 1)"), "{}", report.outcome_line());

        let missing = side_of(rows("half", &FAST, 0));
        let report = build(&base, &missing, &options(vec![Metric::Elapsed, Metric::Sys])).unwrap();
        assert_eq!(report.row_regressions[0].to_string(), "baseline optimal (-j 1): 5 successful runs in base, not run in new");
        assert_eq!(report.regressions, 1, "one row, however many metrics");
        assert!(report.unmatched.is_empty());
    }

    #[test]
    fn every_run_failed_in_new_is_a_regression_and_in_base_unusable() {
        let report = build(&side(&[1.0, 1.1, 1.2], 0), &side(&[], 2), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!(report.regressions, 2, "the row, and the whole side");
        assert!(report.outcome_line().starts_with("REGRESSION: every run in new failed (2 runs)"), "{}", report.outcome_line());
        let error = build(&side(&[], 2), &side(&[1.0, 1.1, 1.2], 0), &options(vec![Metric::Elapsed])).unwrap_err();
        assert!(error.to_string().contains("every run in the base x failed"), "{error}");
        let both = build(&side(&[], 2), &side(&[], 2), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((both.regressions, both.entries[0].verdict.as_str()), (1, "no successful run on either side"));
    }

    fn on_host(host: &str, elapsed: &[f64]) -> Vec<RunRecord> {
        rows("half", elapsed, 0).into_iter().map(|r| RunRecord { host: host.into(), ..r }).collect()
    }

    fn scaled(values: &[f64], factor: f64) -> Vec<f64> {
        values.iter().map(|v| v * factor).collect()
    }

    /// Hosts a, b, c of different speed, each the base runs FAST scaled by its speed.
    fn hosts_base() -> Side {
        side_of([on_host("a", &FAST), on_host("b", &scaled(&FAST, 2.0)), on_host("c", &scaled(&FAST, 0.5))].concat())
    }

    #[test]
    fn on_several_hosts_the_pooled_change_gates_and_the_hosts_are_shown() {
        let slower = side_of([on_host("a", &SLOW), on_host("b", &scaled(&SLOW, 2.0)), on_host("c", &scaled(&SLOW, 0.5))].concat());
        let report = build(&hosts_base(), &slower, &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!(report.entries.iter().map(|e| e.pairing.host.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(report.entries.iter().all(|e| e.verdict == "slower" && !e.regression), "the hosts' verdicts do not gate");
        assert_eq!(report.pooled.len(), 1);
        let p = &report.pooled[0];
        assert_eq!((p.verdict.as_str(), p.gates, p.regression, p.pooled.hosts.len()), ("slower", true, true, 3));
        // The same ratio on every host: the pooled change is that ratio, with no spread.
        crate::stats::assert_close(p.pooled.change_percent.unwrap(), 100.0 * (44.586 / 40.614 - 1.0), 1e-9);
        assert_eq!(report.regressions, 1);
        assert!(report.outcome_line().contains("significantly worse across hosts"), "{}", report.outcome_line());
    }

    #[test]
    fn a_host_worse_on_its_own_is_a_warning_when_the_pooled_change_is_not() {
        let mixed = side_of([on_host("a", &SLOW), on_host("b", &scaled(&FAST, 1.9)), on_host("c", &scaled(&FAST, 0.5))].concat());
        let report = build(&hosts_base(), &mixed, &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!(report.entries[0].verdict, "slower");
        assert_eq!(report.pooled[0].verdict, "inconclusive");
        assert_eq!(report.regressions, 0, "{}", report.outcome_line());
        assert_eq!(report.inconclusive, 1, "the pooled verdict gates, and it cannot tell");
        assert!(!report.entries.iter().any(|e| e.inconclusive), "the hosts' own verdicts do not gate");
        assert!(
            report.outcome_line().starts_with("INCONCLUSIVE: no significant regression, but 1 of 3 comparisons cannot tell"),
            "{}",
            report.outcome_line()
        );
        assert!(
            report.warnings.iter().any(|w| w.starts_with("host a: elapsed baseline half is slower on this host alone")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn a_host_missing_in_new_is_a_named_regression_and_a_host_only_in_new_is_noted() {
        let new = side_of([on_host("a", &SLOW), on_host("d", &FAST)].concat());
        let report = build(&hosts_base(), &new, &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!(report.missing_hosts, ["b", "c"]);
        assert_eq!(report.row_regressions[0].to_string(), "host b: baseline half (-j 1): 5 successful runs in base, not run in new");
        // Only host a is left on both sides: no pooled verdict, so host a's own gates.
        assert_eq!(report.pooled[0].verdict, "too few hosts");
        assert!(!report.pooled[0].gates);
        assert!(report.entries[0].regression, "host a's own slower verdict gates");
        assert_eq!(report.regressions, 3, "host a slower, and the rows of b and c");
        let outcome = report.outcome_line();
        assert!(outcome.contains("hosts with successful runs in base and none in new: b, c"), "{outcome}");
        assert!(outcome.contains("no successful run in new: host b: baseline half (-j 1)"), "{outcome}");
        assert!(report.unmatched.iter().any(|u| u == "only in new: host d: baseline half (-j 1)"), "{:?}", report.unmatched);
        assert!(report.warnings.iter().any(|w| w.starts_with("host d is only in new")), "{:?}", report.warnings);
        assert!(report.warnings.iter().any(|w| w.contains("only host a has enough runs")), "{:?}", report.warnings);
    }

    #[test]
    fn one_host_has_no_pooled_change() {
        let report = build(&side(&FAST, 0), &side(&SLOW, 0), &options(vec![Metric::Elapsed])).unwrap();
        assert!(report.pooled.is_empty() && report.missing_hosts.is_empty());
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("pooled").is_none() && json["entries"][0].get("host").is_none(), "one-host JSON is unchanged");
    }

    #[test]
    fn percent_cpu_never_gates_and_too_few_runs_are_warned_about() {
        assert_eq!(worse(Metric::PercentCpu), None);
        assert_eq!(worse(Metric::MaxRss), Some(Verdict::Higher));
        let report = build(&side(&[1.0, 1.0], 0), &side(&[2.0, 2.0], 0), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((report.entries[0].verdict.as_str(), report.regressions), ("too few runs", 0));
        assert!(report.warnings.iter().any(|w| w.contains("2 vs 2 successful runs; at least 3 per side")), "{:?}", report.warnings);
        assert!(report.warnings.iter().any(|w| w.contains("no meta.json facts")));
    }

    #[test]
    fn noisy_runs_on_either_side_are_a_warning_never_a_regression() {
        let mut noisy_new = side(&FAST, 0);
        noisy_new.records[1].noise = "other processes used 150 % of a CPU (limit 20 %)".into();
        let report = build(&side(&FAST, 0), &noisy_new, &options(vec![Metric::Elapsed, Metric::Sys])).unwrap();
        assert_eq!(report.regressions, 0, "the verdicts and the exit code follow the numbers alone");
        assert!(report.entries.iter().all(|e| (e.base_noisy, e.new_noisy) == (0, 1) && !e.regression));
        let warnings: Vec<&String> = report.warnings.iter().filter(|w| w.starts_with("noisy host:")).collect();
        assert_eq!(warnings.len(), 1, "one warning per row, however many metrics: {warnings:?}");
        assert!(
            warnings[0].starts_with("noisy host: baseline half (-j 1): 1 of 5 runs in new (run 2 (other processes used 150 % of a CPU (limit 20 %))) were measured"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("quiet_host"), "{}", warnings[0]);
        let mut noisy_base = side(&FAST, 0);
        noisy_base.records[0].noise = "steal 9.0 % (limit 2.0 %)".into();
        let report = build(&noisy_base, &side(&SLOW, 0), &options(vec![Metric::Elapsed])).unwrap();
        assert_eq!((report.regressions, report.entries[0].base_noisy), (1, 1), "a real regression stays one");
        assert!(report.warnings.iter().any(|w| w.contains("1 of 5 runs in base (run 1 (steal 9.0 %")), "{:?}", report.warnings);
        assert!(build(&side(&FAST, 0), &side(&FAST, 0), &options(vec![Metric::Elapsed]))
            .unwrap()
            .warnings
            .iter()
            .all(|w| !w.starts_with("noisy")));
    }
}
