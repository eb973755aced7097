//! Either side of `bench compare` read back: a results folder or a runs.csv, with the
//! meta.json beside it when there is one.

use super::meta_json::read_meta;
use super::runs_csv::{read_runs, refuse_inconsistent};
use crate::compare::Side;
use crate::stats::StudyShape;
use anyhow::{bail, Result};
use std::path::Path;

/// One side of `bench compare`: a results folder or a runs.csv. A missing or unreadable
/// meta.json is not an error: the runs can still be compared, only the facts around them
/// are unknown.
pub fn read_side(path: &Path) -> Result<Side> {
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
    Ok(Side::new(path.to_path_buf(), records, meta, meta_missing))
}
