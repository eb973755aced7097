//! One side of a comparison: the runs of a results folder or of a bare runs.csv, and the
//! meta.json beside them when there is one.

use crate::export::meta::{read_meta, Meta};
use crate::export::runs_csv::{read_runs, refuse_inconsistent, RunRecord};
use crate::stats::StudyShape;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub struct Side {
    /// As given on the command line, for messages.
    pub path: PathBuf,
    pub records: Vec<RunRecord>,
    pub meta: Option<Meta>,
    /// Why there is no meta (absent, unreadable); `None` when it was read.
    pub meta_missing: Option<String>,
}

/// Reads a results folder or a runs.csv. A missing or unreadable meta.json is not an
/// error: the runs can still be compared, only the facts around them are unknown.
pub fn load(path: &Path) -> Result<Side> {
    if !path.exists() {
        bail!("{} does not exist: give a results folder of `bench run` or a runs.csv", path.display());
    }
    let records = read_runs(path)?;
    if records.is_empty() {
        bail!("{} has no runs: the study measured nothing to compare", path.display());
    }
    let folder = if path.is_dir() { path.to_path_buf() } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
    let meta_path = folder.join("meta.json");
    let (meta, meta_missing) = if !meta_path.is_file() {
        (None, Some(format!("{} is absent", meta_path.display())))
    } else {
        match read_meta(&meta_path) {
            Ok(meta) => (Some(meta), None),
            Err(error) => (None, Some(format!("{error:#}"))),
        }
    };
    refuse_inconsistent(path, &records, meta.as_ref().map(StudyShape::of).as_ref())?;
    Ok(Side { path: path.to_path_buf(), records, meta, meta_missing })
}

impl Side {
    /// Distinct kernel releases of the runs, in order of appearance.
    pub fn kernels(&self) -> Vec<&str> {
        let mut kernels: Vec<&str> = Vec::new();
        for record in &self.records {
            if !record.kernel_release.is_empty() && !kernels.contains(&record.kernel_release.as_str()) {
                kernels.push(&record.kernel_release);
            }
        }
        kernels
    }

    pub fn variants(&self) -> Vec<&str> {
        let mut variants: Vec<&str> = Vec::new();
        for record in &self.records {
            if !variants.contains(&record.variant.as_str()) {
                variants.push(&record.variant);
            }
        }
        variants
    }
}
