//! `runs.csv`: one row per timed run, appended and flushed the moment the run ends, so
//! that whatever stops `bench` later, every run measured so far is on disk.

use crate::model::{RunRecord, RUNS_SCHEMA_VERSION};
use crate::stats::{inconsistencies, StudyShape};
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Appends rows to a runs.csv, fsyncing each one.
pub struct RunsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl RunsWriter {
    /// Creates the file with its header, or appends to an existing one (resume).
    pub fn open(path: &Path) -> Result<RunsWriter> {
        let exists = path.exists() && path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {} for writing", path.display()))?;
        let writer = csv::WriterBuilder::new().has_headers(!exists).from_writer(file);
        Ok(RunsWriter { path: path.to_path_buf(), writer })
    }

    pub fn append(&mut self, record: &RunRecord) -> Result<()> {
        let context = || format!("cannot write a row to {}", self.path.display());
        self.writer.serialize(record).with_context(context)?;
        self.writer.flush().with_context(context)?;
        self.writer.get_ref().sync_data().with_context(context)
    }
}

/// Reads a runs.csv (or the runs.csv inside a results folder).
///
/// The schema version is checked on the raw row before the row is decoded, so that a
/// file from another kbench is refused with its version, not with a confusing column error.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>> {
    let file = if path.is_dir() { path.join("runs.csv") } else { path.to_path_buf() };
    let mut reader = csv::Reader::from_path(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let headers = reader.headers().with_context(|| format!("cannot read {}", file.display()))?.clone();
    let Some(version_column) = headers.iter().position(|h| h == "schema_version") else {
        bail!("{} has no schema_version column: it is not a runs.csv written by kbench", file.display());
    };
    let mut records = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let line = index + 2;
        let row = row.with_context(|| format!("{}: cannot read the row at line {line}", file.display()))?;
        check_schema_version(&file, line, row.get(version_column).unwrap_or(""))?;
        let record: RunRecord = row
            .deserialize(Some(&headers))
            .with_context(|| format!("{}: row at line {line} is not a kbench run", file.display()))?;
        records.push(record);
    }
    Ok(records)
}

/// Refuses records that contradict each other or the plan (`shape`, from meta.json),
/// naming each offending row by its line in `path` (a runs.csv or its folder, as for
/// [`read_runs`], whose records are in file order after the header on line 1).
pub fn refuse_inconsistent(path: &Path, records: &[RunRecord], shape: Option<&StudyShape>) -> Result<()> {
    const SHOWN: usize = 5;
    let found = inconsistencies(records, shape);
    if found.is_empty() {
        return Ok(());
    }
    let file = if path.is_dir() { path.join("runs.csv") } else { path.to_path_buf() };
    let line = |row: usize| row + 2;
    let mut lines: Vec<String> = found
        .iter()
        .take(SHOWN)
        .map(|i| match i.earlier {
            Some(earlier) => format!("{}: line {}: {} (line {})", file.display(), line(i.row), i.problem, line(earlier)),
            None => format!("{}: line {}: {}", file.display(), line(i.row), i.problem),
        })
        .collect();
    if found.len() > SHOWN {
        lines.push(format!("and {} more", found.len() - SHOWN));
    }
    bail!(
        "{} has rows that cannot all be true, so nothing was averaged:\n  {}\n\
         runs.csv was edited or two studies were merged: remove or fix those rows, or use the results folder as `bench run` wrote it",
        file.display(),
        lines.join("\n  ")
    )
}

fn check_schema_version(file: &Path, line: usize, field: &str) -> Result<()> {
    let Ok(version) = field.trim().parse::<u32>() else {
        bail!("{}: line {line} has schema_version {field:?}, not a number: it is not a kbench run", file.display());
    };
    let advice = match version {
        v if v == RUNS_SCHEMA_VERSION => return Ok(()),
        v if v > RUNS_SCHEMA_VERSION => "it was written by a newer kbench: read it with that version or a later one",
        // Version 1 is the first; an older number can only come from a hand-edited file.
        _ => "no kbench ever wrote that version: the file was edited or is not a kbench runs.csv",
    };
    bail!(
        "{}: line {line} has runs.csv schema version {version}, this kbench reads version {RUNS_SCHEMA_VERSION}: {advice}",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    fn sample(run: u32, status: RunStatus) -> RunRecord {
        RunRecord { run, status, ..test_record() }
    }

    #[test]
    fn rows_survive_a_reopen_and_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let first = sample(1, RunStatus::Ok);
        let mut second = sample(2, RunStatus::Failed);
        second.exit_code = None;
        second.failure = "timed out after 5 s".into();
        RunsWriter::open(&path).unwrap().append(&first).unwrap();
        RunsWriter::open(&path).unwrap().append(&second).unwrap();
        assert_eq!(read_runs(&path).unwrap(), vec![first, second]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("schema_version").count(), 1, "one header only:\n{text}");
    }

    #[test]
    fn another_schema_version_is_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut record = sample(1, RunStatus::Ok);
        record.schema_version = 99;
        RunsWriter::open(&path).unwrap().append(&record).unwrap();
        let error = format!("{:#}", read_runs(dir.path()).unwrap_err());
        assert!(error.contains("line 2") && error.contains("version 99"), "{error}");
        assert!(error.contains("newer kbench"), "{error}");
    }

    #[test]
    fn inconsistent_rows_are_refused_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut writer = RunsWriter::open(&path).unwrap();
        for record in [sample(1, RunStatus::Ok), sample(2, RunStatus::Ok), sample(1, RunStatus::Ok)] {
            writer.append(&record).unwrap();
        }
        let records = read_runs(dir.path()).unwrap();
        let error = refuse_inconsistent(dir.path(), &records, None).unwrap_err().to_string();
        let expected = format!("{}: line 4: baseline half run 1 is on record twice", path.display());
        assert!(error.contains(&expected) && error.contains("(line 2)"), "{error}");
        assert!(refuse_inconsistent(dir.path(), &records[..2], None).is_ok());
    }

    #[test]
    fn a_csv_without_a_schema_version_is_not_a_runs_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, "variant,elapsed_s\nbaseline,1.0\n").unwrap();
        let error = format!("{:#}", read_runs(&path).unwrap_err());
        assert!(error.contains("no schema_version column"), "{error}");
    }
}
