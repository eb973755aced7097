//! `bench compare --format json|csv`: the comparison for programs. JSON is the whole
//! report; CSV is one flat row per matched row and metric. On several hosts, the CSV's
//! first column is `host`, and each change pooled across hosts is a row with an empty
//! host, `pooled_hosts` set and no base/new numbers.

use crate::compare::comparison::RowProblem;
use crate::compare::{CompareReport, Entry, PooledEntry};
use anyhow::{Context, Result};
use serde::Serialize;

pub fn to_json(report: &CompareReport) -> Result<String> {
    Ok(serde_json::to_string_pretty(report).context("cannot encode the comparison as JSON")? + "\n")
}

/// Flat, so that spreadsheets and `csvtool` need no nesting; empty cells where a number
/// does not exist (a single run has no SD, a zero baseline no percentage).
#[derive(Serialize)]
struct CsvRow<'a> {
    metric: &'static str,
    unit: &'static str,
    base_variant: &'a str,
    new_variant: &'a str,
    jobs_label: &'a str,
    /// Empty on a pooled row: each host ran the level with its own -j.
    jobs: Option<u32>,
    base_n: Option<usize>,
    base_mean: Option<f64>,
    base_sd: Option<f64>,
    base_failed: Option<usize>,
    new_n: Option<usize>,
    new_mean: Option<f64>,
    new_sd: Option<f64>,
    new_failed: Option<usize>,
    change_percent: Option<f64>,
    change_ci95_low: Option<f64>,
    change_ci95_high: Option<f64>,
    p_value: Option<f64>,
    verdict: &'a str,
    /// Criterion's rule: p < alpha and the whole interval beyond the noise threshold.
    significant: bool,
    regression: bool,
    /// Why the gate fails the row whatever its numbers: `no_successful_run_in_new` or
    /// `failed_only_in_new`; empty otherwise.
    row_problem: Option<RowProblem>,
    /// mmtests' rule, what the star means.
    mmtests_significant: Option<bool>,
    /// Successful runs of the row measured on a noisy host: a warning, not a regression.
    base_noisy: Option<usize>,
    new_noisy: Option<usize>,
    /// A gated metric that cannot tell (inconclusive or too few runs): exit 3.
    inconclusive: bool,
    /// The smallest change this comparison would call changed 4 times in 5.
    min_detectable_change_percent: Option<f64>,
    /// About how many runs a side would decide it at the threshold.
    runs_needed: Option<usize>,
}

/// The two columns a study over several hosts puts before [`CsvRow`]'s (csv cannot
/// flatten one struct into another): the host, and how many hosts a pooled row counts
/// (empty on a host's row).
struct HostCsvRow<'a> {
    host: &'a str,
    pooled_hosts: Option<usize>,
}

pub fn to_csv(report: &CompareReport) -> Result<String> {
    let context = "cannot encode the comparison as CSV";
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let hosts = report.on_hosts();
    let mut header = csv::StringRecord::new();
    for entry in &report.entries {
        let problem = report.row_regressions.iter().find(|r| r.pairing == entry.pairing).map(|r| r.problem);
        let lead = HostCsvRow { host: &entry.pairing.host, pooled_hosts: None };
        write_row(&mut writer, &mut header, hosts.then_some(lead), &row(entry, problem)).context(context)?;
    }
    for pooled in &report.pooled {
        let lead = HostCsvRow { host: "", pooled_hosts: Some(pooled.pooled.hosts.len()) };
        write_row(&mut writer, &mut header, Some(lead), &pooled_row(pooled)).context(context)?;
    }
    let bytes = writer.into_inner().context(context)?;
    let body = String::from_utf8(bytes).context("the comparison CSV is not UTF-8")?;
    if body.is_empty() {
        return Ok(body);
    }
    let mut head = csv::Writer::from_writer(Vec::new());
    head.write_record(&header).context(context)?;
    let head = String::from_utf8(head.into_inner().context(context)?).context("the comparison CSV is not UTF-8")?;
    Ok(head + &body)
}

/// One record: the host columns when given, then the row's; the header is taken from the
/// first record's field names.
fn write_row(writer: &mut csv::Writer<Vec<u8>>, header: &mut csv::StringRecord, lead: Option<HostCsvRow>, row: &CsvRow) -> Result<()> {
    let mut record = csv::StringRecord::new();
    let mut names = csv::StringRecord::new();
    if let Some(lead) = lead {
        record.push_field(lead.host);
        record.push_field(&lead.pooled_hosts.map(|n| n.to_string()).unwrap_or_default());
        names.extend(["host", "pooled_hosts"]);
    }
    let (row_names, row_values) = fields(row)?;
    names.extend(row_names.iter());
    record.extend(row_values.iter());
    if header.is_empty() {
        *header = names;
    }
    writer.write_record(&record)?;
    Ok(())
}

/// A row's column names and cells, as csv's serializer writes them.
fn fields(row: &CsvRow) -> Result<(csv::StringRecord, csv::StringRecord)> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.serialize(row)?;
    let bytes = writer.into_inner()?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
    let mut records = reader.records();
    let names = records.next().transpose()?.unwrap_or_default();
    let values = records.next().transpose()?.unwrap_or_default();
    Ok((names, values))
}

fn pooled_row(p: &PooledEntry) -> CsvRow<'_> {
    CsvRow {
        metric: p.metric.name(),
        unit: p.unit,
        base_variant: &p.base_variant,
        new_variant: &p.new_variant,
        jobs_label: &p.jobs_label,
        jobs: None,
        base_n: None,
        base_mean: None,
        base_sd: None,
        base_failed: None,
        new_n: None,
        new_mean: None,
        new_sd: None,
        new_failed: None,
        change_percent: p.pooled.change_percent,
        change_ci95_low: p.pooled.change_ci95.map(|i| i.low),
        change_ci95_high: p.pooled.change_ci95.map(|i| i.high),
        p_value: p.pooled.p_value,
        verdict: &p.verdict,
        significant: p.pooled.verdict.is_change(),
        regression: p.regression,
        row_problem: None,
        mmtests_significant: None,
        base_noisy: None,
        new_noisy: None,
        inconclusive: p.inconclusive,
        min_detectable_change_percent: None,
        runs_needed: None,
    }
}

fn row(e: &Entry, row_problem: Option<RowProblem>) -> CsvRow<'_> {
    let c = e.comparison.as_ref();
    CsvRow {
        metric: e.metric.name(),
        unit: e.unit,
        base_variant: &e.pairing.base_variant,
        new_variant: &e.pairing.new_variant,
        jobs_label: &e.pairing.jobs_label,
        jobs: Some(e.pairing.jobs),
        base_n: e.base.as_ref().map(|s| s.n),
        base_mean: e.base.as_ref().map(|s| s.mean),
        base_sd: e.base.as_ref().and_then(|s| s.sd),
        base_failed: Some(e.base_failed),
        new_n: e.new.as_ref().map(|s| s.n),
        new_mean: e.new.as_ref().map(|s| s.mean),
        new_sd: e.new.as_ref().and_then(|s| s.sd),
        new_failed: Some(e.new_failed),
        change_percent: c.and_then(|c| c.change_percent),
        change_ci95_low: c.and_then(|c| c.change_ci95).map(|i| i.low),
        change_ci95_high: c.and_then(|c| c.change_ci95).map(|i| i.high),
        p_value: c.and_then(|c| c.p_value),
        verdict: &e.verdict,
        significant: c.is_some_and(|c| c.verdict.is_change()),
        regression: e.regression,
        row_problem,
        mmtests_significant: c.map(|c| c.mmtests_significant),
        base_noisy: Some(e.base_noisy),
        new_noisy: Some(e.new_noisy),
        inconclusive: e.inconclusive,
        min_detectable_change_percent: c.and_then(|c| c.min_detectable_change_percent),
        runs_needed: c.and_then(|c| c.runs_needed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{build, CompareOptions, Side, VariantMap};
    use crate::model::{test_record, RunRecord};
    use crate::report::compare::{junit as compare_junit, markdown as compare_markdown, text as compare_text};
    use crate::stats::{Metric, Thresholds};

    fn side(noisy_run: Option<u32>) -> Side {
        let records = (1..=5)
            .map(|run| RunRecord {
                run,
                elapsed_s: 40.0 + f64::from(run) / 10.0,
                noise: if Some(run) == noisy_run { "other processes used 150 % of a CPU (limit 20 %)".into() } else { String::new() },
                ..test_record()
            })
            .collect();
        Side::new("x".into(), records, None, Some("absent".into()))
    }

    /// Every format of `bench compare` flags a row with noisy runs, and none calls it a regression.
    #[test]
    fn every_format_flags_a_row_measured_on_a_noisy_host() {
        let options = CompareOptions { metrics: vec![Metric::Elapsed], thresholds: Thresholds::default(), map: VariantMap::default() };
        let report = build(&side(None), &side(Some(3)), &options).unwrap();
        assert_eq!(report.regressions, 0);
        let flag = "same, ⚠ noisy host: 1 run in new";
        let text = compare_text::render(&report);
        assert!(text.contains(flag), "{text}");
        let markdown = compare_markdown::render(&report);
        assert!(
            markdown.contains(flag) && markdown.contains("- noisy host: baseline half (-j 1): 1 of 5 runs in new (run 3"),
            "{markdown}"
        );
        let junit = compare_junit::render(&report);
        assert!(junit.contains("failures=\"0\"") && junit.contains(flag) && junit.contains("noisy host: baseline half"), "{junit}");
        let json: serde_json::Value = serde_json::from_str(&to_json(&report).unwrap()).unwrap();
        assert_eq!((json["entries"][0]["base_noisy"].as_u64(), json["entries"][0]["new_noisy"].as_u64()), (Some(0), Some(1)));
        assert!(json["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().starts_with("noisy host:")));
        let csv = to_csv(&report).unwrap();
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .ends_with(",mmtests_significant,base_noisy,new_noisy,inconclusive,min_detectable_change_percent,runs_needed"),
            "{csv}"
        );
        assert!(lines.next().unwrap().contains(",false,0,1,false,"), "{csv}");
    }
}
