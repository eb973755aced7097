//! The results folders of `bench history` read back: the folders named, or every results
//! folder found under one path.

use super::side::read_side;
use crate::history::Measurement;
use crate::model::Meta;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Reads each folder (or runs.csv) as one measurement of the study.
pub fn read_measurements(paths: &[PathBuf]) -> Result<Vec<Measurement>> {
    paths
        .iter()
        .map(|path| {
            let side = read_side(path).with_context(|| format!("cannot use {} in the history", path.display()))?;
            Ok(Measurement {
                name: path.display().to_string(),
                started_at: side.meta.as_ref().map(|m| m.started_at.clone()),
                workload: side.meta.as_ref().map(workload),
                records: side.records,
            })
        })
        .collect()
}

/// Every folder under `root` (itself included) that holds a runs.csv, sorted by path;
/// the caller orders them by when they were measured.
pub fn find_results_folders(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        bail!("{} is not a folder: give results folders of `bench run`, or one folder that holds them", root.display());
    }
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if dir.join("runs.csv").is_file() {
            found.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
            // `latest` points at a folder found under its own name already.
            let latest = path.file_name().is_some_and(|n| n == super::folder::LATEST_LINK) && path.is_symlink();
            if path.is_dir() && !latest {
                pending.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What makes two measurements the same benchmark: the workload's kind and commands.
fn workload(meta: &Meta) -> String {
    let w = &meta.workload;
    let mut text = format!("{} `{}`", w.kind, w.command);
    if let Some(prepare) = &w.prepare {
        text.push_str(&format!(", prepare `{prepare}`"));
    }
    if let Some(clean) = &w.clean {
        text.push_str(&format!(", clean `{clean}`"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_folders_are_found_below_a_root_but_not_inside_one() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["study/20261101-080000", "study/20261108-080000", "study/20261108-080000/plots", "empty"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        for dir in ["study/20261101-080000", "study/20261108-080000", "study/20261108-080000/plots"] {
            std::fs::write(root.path().join(dir).join("runs.csv"), "").unwrap();
        }
        let found = find_results_folders(root.path()).unwrap();
        let names: Vec<String> = found.iter().map(|p| p.strip_prefix(root.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["study/20261101-080000", "study/20261108-080000"]);
        assert!(find_results_folders(&root.path().join("nope")).is_err());
    }
}
