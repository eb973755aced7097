//! `bench compare BASE NEW`: load both sides → match and compare → render → exit code
//! for CI (0 no regression, 1 regression, 2 unusable input via `main`).

use super::{EXIT_FAILED, EXIT_OK};
use crate::cli::{CompareArgs, CompareFormat};
use crate::compare::{self, CompareOptions, CompareReport, VariantMap};
use crate::export::compare::{to_csv, to_json};
use crate::export::results::read_side;
use crate::export::{compare_junit, compare_markdown, compare_text};
use crate::stats::{Metric, Thresholds};
use anyhow::{Context, Result};

pub fn compare(args: &CompareArgs) -> Result<u8> {
    let options = CompareOptions {
        metrics: metrics(&args.metric),
        thresholds: Thresholds { alpha: args.alpha, noise_percent: args.threshold },
        map: VariantMap::parse(&args.map)?,
    };
    let base = read_side(&args.base).context("cannot use the base")?;
    let new = read_side(&args.new).context("cannot use the new run")?;
    let report = compare::build(&base, &new, &options)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let rendered = render(&report, args.format)?;
    match &args.output {
        None => print!("{rendered}"),
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", report.outcome_line());
        }
    }
    Ok(if report.regressions > 0 { EXIT_FAILED } else { EXIT_OK })
}

/// clap has checked the names; `all` stands for every metric, duplicates count once.
pub(crate) fn metrics(names: &[String]) -> Vec<Metric> {
    let mut metrics: Vec<Metric> = Vec::new();
    for name in names {
        let chosen = if name == "all" { Metric::ALL.to_vec() } else { Metric::from_name(name).into_iter().collect() };
        for metric in chosen {
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
    }
    metrics
}

fn render(report: &CompareReport, format: CompareFormat) -> Result<String> {
    Ok(match format {
        CompareFormat::Text => compare_text::render(report),
        CompareFormat::Markdown => compare_markdown::render(report),
        CompareFormat::Json => to_json(report)?,
        CompareFormat::Csv => to_csv(report)?,
        CompareFormat::Junit => compare_junit::render(report),
    })
}
