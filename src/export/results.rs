//! The results folder of one study: `<root>/<scenario>/<timestamp>/` with a copy of the
//! scenario, meta.json, runs.csv, the consoles of every boot and each step's output;
//! and either side of `bench compare` read back.

use super::meta_json::read_meta;
use super::runs_csv::{read_runs, refuse_inconsistent, RunsWriter};
use crate::stats::StudyShape;
use crate::compare::Side;
use crate::model::{Meta, RunRecord};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub struct ResultsDir {
    pub path: PathBuf,
    runs: RunsWriter,
}

impl ResultsDir {
    pub fn create(root: &Path, scenario_name: &str, scenario_file: &Path) -> Result<ResultsDir> {
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let parent = root.join(scenario_name);
        let mut path = parent.join(&stamp);
        let mut n = 2;
        while path.exists() {
            path = parent.join(format!("{stamp}-{n}"));
            n += 1;
        }
        for dir in [path.clone(), path.join("console"), path.join("logs")] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the results folder {} (use --results DIR to put it elsewhere)", dir.display()))?;
        }
        std::fs::copy(scenario_file, path.join("scenario.toml"))
            .with_context(|| format!("cannot copy {} into {}", scenario_file.display(), path.display()))?;
        let runs = RunsWriter::open(&path.join("runs.csv"))?;
        Ok(ResultsDir { path, runs })
    }

    /// Reopens the folder of an interrupted study; new rows are appended to its runs.csv.
    pub fn reopen(path: &Path) -> Result<ResultsDir> {
        for needed in ["runs.csv", "meta.json", "scenario.toml"] {
            if !path.join(needed).is_file() {
                bail!("{} has no {needed}: it is not a kbench results folder", path.display());
            }
        }
        std::fs::create_dir_all(path.join("console")).with_context(|| format!("cannot write into {}", path.display()))?;
        std::fs::create_dir_all(path.join("logs")).with_context(|| format!("cannot write into {}", path.display()))?;
        let runs = RunsWriter::open(&path.join("runs.csv"))?;
        Ok(ResultsDir { path: path.to_path_buf(), runs })
    }

    /// The console log of the variant's next boot, numbered after those already saved
    /// (a resumed study keeps the consoles of the first attempt).
    pub fn next_console_log(&self, variant: &str) -> (u32, PathBuf) {
        (1..)
            .map(|boot| (boot, self.path.join("console").join(format!("{variant}-boot{boot}.log"))))
            .find(|(_, path)| !path.exists())
            .expect("some boot number is free")
    }

    /// Saves a step's output tail; returns the path relative to the results folder.
    pub fn save_output(&self, name: &str, output: &str) -> Result<String> {
        let relative = format!("logs/{name}.log");
        let path = self.path.join(&relative);
        std::fs::write(&path, output).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(relative)
    }

    pub fn append_run(&mut self, record: &RunRecord) -> Result<()> {
        self.runs.append(record)
    }

    pub fn write_meta(&self, meta: &Meta) -> Result<()> {
        write_json(&self.path.join("meta.json"), meta)
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text + "\n").with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

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
    Ok(Side { path: path.to_path_buf(), records, meta, meta_missing })
}
