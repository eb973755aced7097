//! `bench compare BASE NEW`: load both sides → match and compare → render → exit code
//! for CI (0 same or better, 1 regression, 3 a gated metric cannot tell, 2 unusable input
//! via `main`; see [`super::gate_exit`]).

use super::gate_exit;
use crate::commands::cli::{CompareArgs, CompareFormat, JudgeArgs};
use crate::compare::{self, CompareOptions, CompareReport, VariantMap};
use crate::report::compare::json_csv::{to_csv, to_json};
use crate::report::compare::{junit as compare_junit, markdown as compare_markdown, text as compare_text};
use crate::results::side::read_side;
use crate::stats::Metric;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub fn compare(args: &CompareArgs) -> Result<u8> {
    if let Some(output) = &args.output {
        refuse_to_overwrite(output, &[&args.base, &args.new])?;
    }
    let report = build_report(&args.base, &args.new, &args.map, &args.judge)?;
    let rendered = render(&report, args.format)?;
    match &args.output {
        None => print!("{rendered}"),
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", report.outcome_line());
        }
    }
    Ok(exit_code(&report, &args.judge))
}

/// Both sides read and compared, the warnings printed: what `bench compare` and `bench
/// bump` render.
pub(crate) fn build_report(base: &Path, new: &Path, map: &[String], judge: &JudgeArgs) -> Result<CompareReport> {
    let options = CompareOptions { metrics: metrics(&judge.metric), thresholds: judge.thresholds(), map: VariantMap::parse(map)? };
    let base = read_side(base).context("cannot use the base")?;
    let new = read_side(new).context("cannot use the new run")?;
    let report = compare::build(&base, &new, &options)?;
    for warning in &crate::report::headline::compare_warnings(&report.warnings) {
        eprintln!("warning: {warning}");
    }
    Ok(report)
}

/// The gate: the exit code a comparison earns (`bench compare`, `bench bump`, `bench
/// bisect`'s steps).
pub(crate) fn exit_code(report: &CompareReport, judge: &JudgeArgs) -> u8 {
    gate_exit(report.regressions, report.inconclusive, judge.inconclusive)
}

/// `--output` must not replace what it was computed from, nor land in a results folder
/// (any folder above it holding a runs.csv or meta.json): `bench compare A A --output
/// A/runs.csv` once replaced the runs with the comparison.
fn refuse_to_overwrite(output: &Path, inputs: &[&PathBuf]) -> Result<()> {
    let target = resolved(output);
    for input in inputs {
        let input_file = resolved(input);
        if target == input_file {
            bail!("--output {} is an input of the comparison: write the comparison elsewhere", output.display());
        }
    }
    let mut folder = target.parent();
    while let Some(dir) = folder {
        if let Some(name) = ["runs.csv", "meta.json"].into_iter().find(|name| dir.join(name).is_file()) {
            bail!(
                "--output {}: {} holds a {name}, so it is (inside) a results folder, whose files kbench does not \
                 overwrite; write the comparison outside it (e.g. next to the results folders)",
                output.display(),
                dir.display()
            );
        }
        folder = dir.parent();
    }
    Ok(())
}

/// The path with symlinks and `..` resolved as far as it exists, so that two spellings of
/// one file or folder compare equal (one not made yet keeps its name under its real
/// folder, and a `..` after a folder that does not exist undoes it).
pub(crate) fn resolved(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let mut absolute = PathBuf::new();
    for part in std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).components() {
        match part {
            std::path::Component::ParentDir => {
                absolute.pop();
            }
            std::path::Component::CurDir => {}
            other => absolute.push(other),
        }
    }
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => resolved(parent).join(name),
        _ => absolute,
    }
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

pub(crate) fn render(report: &CompareReport, format: CompareFormat) -> Result<String> {
    Ok(match format {
        CompareFormat::Text => compare_text::render(report),
        CompareFormat::Markdown => compare_markdown::render(report),
        CompareFormat::Json => to_json(report)?,
        CompareFormat::Csv => to_csv(report)?,
        CompareFormat::Junit => compare_junit::render(report),
    })
}
