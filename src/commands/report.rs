//! `bench report RESULTS_DIR`: runs.csv (+ meta.json when present) → statistics → every
//! report again, exactly as the end of `bench run` writes them.

use super::EXIT_OK;
use crate::commands::cli::{ReportArgs, ReportFlags};
use crate::model::Meta;
use crate::output::summary;
use crate::report::study::{write_reports, ReportOptions};
use crate::results::folder::lock;
use crate::results::meta_json::read_meta;
use crate::results::runs_csv::{read_runs, refuse_inconsistent};
use crate::stats::{StudyShape, Thresholds};
use anyhow::{bail, Result};
use std::path::Path;

pub fn report(args: &ReportArgs) -> Result<u8> {
    let dir = &args.results;
    if !dir.join("runs.csv").is_file() {
        bail!("{} has no runs.csv: give the results folder that `bench run` printed (RESULTS/<scenario>/<timestamp>)", dir.display());
    }
    // A study still running in the folder writes these reports itself when it ends.
    let _lock = lock(dir)?;
    let records = read_runs(dir)?;
    if records.is_empty() {
        bail!("{} has no runs yet: nothing to report", dir.join("runs.csv").display());
    }
    let meta = meta_if_present(dir);
    refuse_inconsistent(dir, &records, meta.as_ref().map(StudyShape::of).as_ref())?;
    let written = write_reports(dir, &records, meta.as_ref(), &args.report.options())?;
    summary::print(dir, &written);
    Ok(EXIT_OK)
}

/// meta.json only adds facts: a missing or unreadable one is reported, not fatal.
fn meta_if_present(dir: &Path) -> Option<Meta> {
    let path = dir.join("meta.json");
    if !path.exists() {
        return None;
    }
    match read_meta(&path) {
        Ok(meta) => Some(meta),
        Err(error) => {
            eprintln!("warning: {error:#}; the report goes on without host and guest facts");
            None
        }
    }
}

impl ReportFlags {
    pub fn options(&self) -> ReportOptions {
        ReportOptions { thresholds: Thresholds { alpha: self.alpha, noise_percent: self.threshold }, baseline: self.baseline.clone() }
    }
}
