//! `runs.csv`: one row per timed run, appended and flushed the moment the run ends, so
//! that whatever stops `bench` later, every run measured so far is on disk.

use super::bounded::read_regular_file;
use crate::model::{RunRecord, RUNS_SCHEMA_VERSION};
use crate::stats::{inconsistencies, StudyShape};
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends rows to a runs.csv, fsyncing each one.
pub struct RunsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl RunsWriter {
    /// Creates the file with its header at once (so that a study stopped before its first
    /// run leaves a valid, empty runs.csv), or appends to an existing one (resume).
    pub fn open(path: &Path) -> Result<RunsWriter> {
        let context = || format!("cannot open {} for writing", path.display());
        upgrade_header(path)?;
        let mut file = OpenOptions::new().create(true).append(true).open(path).with_context(context)?;
        if file.metadata().with_context(context)?.len() == 0 {
            file.write_all(&header_line()).with_context(context)?;
            file.sync_data().with_context(context)?;
        }
        let writer = csv::WriterBuilder::new().has_headers(false).from_writer(file);
        Ok(RunsWriter { path: path.to_path_buf(), writer })
    }

    pub fn append(&mut self, record: &RunRecord) -> Result<()> {
        let context = || format!("cannot write a row to {}", self.path.display());
        self.writer.serialize(record).with_context(context)?;
        self.writer.flush().with_context(context)?;
        self.writer.get_ref().sync_data().with_context(context)
    }
}

/// A runs.csv written before columns were added (resumed by this kbench) is rewritten
/// with today's header first, its rows keeping empty new columns, so that appended rows
/// match the header.
fn upgrade_header(path: &Path) -> Result<()> {
    let Ok(bytes) = read_bounded(path) else { return Ok(()) };
    let header = header_line();
    if bytes.is_empty() || bytes.starts_with(&header) {
        return Ok(());
    }
    let records = read_runs(path)?;
    rewrite_runs(path, &records)
}

/// The header row, as serde names RunRecord's fields.
fn header_line() -> Vec<u8> {
    let blank = RunRecord { schema_version: RUNS_SCHEMA_VERSION, ..RunRecord::default() };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.serialize(&blank).expect("a run serializes");
    let mut text = writer.into_inner().expect("writing to memory cannot fail");
    let end = text.iter().position(|&b| b == b'\n').expect("the header ends its line");
    text.truncate(end + 1);
    text
}

/// The path of the runs.csv a folder or a file argument stands for.
pub fn runs_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("runs.csv")
    } else {
        path.to_path_buf()
    }
}

/// A last row that was cut short: `bench` died while writing it (kill -9, a crash, a full
/// disk) or the file lost its final newline. Every row kbench writes ends with a newline
/// in one write, so a row without one never held a whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornRow {
    /// 1-based line where it starts.
    pub line: u64,
    /// Byte offset where it starts: the file is whole up to here.
    pub offset: u64,
}

/// Finds a torn last row: no final newline, or a last row cut inside a quoted field (its
/// quotes do not pair up, so the reader ran into the end of the file inside them). A
/// whole row that cannot be read is not torn: the reader reports it by its line.
pub fn find_torn_row(bytes: &[u8]) -> Option<TornRow> {
    if bytes.is_empty() {
        return None;
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut last = None;
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let position = record.position().expect("the reader sets positions");
        last = Some(TornRow { line: position.line(), offset: position.byte() });
    }
    let start = last?;
    let row = &bytes[start.offset as usize..];
    let quotes_pair_up = row.iter().filter(|&&b| b == b'"').count() % 2 == 0;
    let whole = bytes.ends_with(b"\n") && quotes_pair_up;
    (!whole).then_some(start)
}

/// Moves a torn last row out of `file` into `<file>.torn-<timestamp>` beside it and cuts
/// the file back to its last whole row. The copy is written and synced before the cut.
pub fn set_aside_torn_row(file: &Path) -> Result<Option<(TornRow, PathBuf)>> {
    let bytes = read_bounded(file)?;
    let Some(torn) = find_torn_row(&bytes) else { return Ok(None) };
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let mut aside = file.with_file_name(format!("{}.torn-{stamp}", file_name(file)));
    let mut n = 2;
    while aside.exists() {
        aside = file.with_file_name(format!("{}.torn-{stamp}-{n}", file_name(file)));
        n += 1;
    }
    let write_aside = || -> std::io::Result<()> {
        let mut copy = OpenOptions::new().write(true).create_new(true).open(&aside)?;
        copy.write_all(&bytes[torn.offset as usize..])?;
        copy.sync_all()
    };
    write_aside().with_context(|| format!("cannot write {}", aside.display()))?;
    let cut = || -> std::io::Result<()> {
        let original = OpenOptions::new().write(true).open(file)?;
        original.set_len(torn.offset)?;
        original.sync_all()
    };
    cut().with_context(|| format!("cannot cut the torn row off {}", file.display()))?;
    Ok(Some((torn, aside)))
}

/// Replaces `file` with `records` (header included), atomically: a crash leaves either
/// the old or the new file.
pub fn rewrite_runs(file: &Path, records: &[RunRecord]) -> Result<()> {
    let temporary = file.with_file_name(format!("{}.tmp", file_name(file)));
    let _ = std::fs::remove_file(&temporary);
    {
        let mut writer = RunsWriter::open(&temporary)?;
        for record in records {
            writer.append(record)?;
        }
    }
    std::fs::rename(&temporary, file).with_context(|| format!("cannot replace {}", file.display()))
}

fn file_name(file: &Path) -> String {
    file.file_name().map_or_else(|| "runs.csv".into(), |n| n.to_string_lossy().into_owned())
}

/// Reads a runs.csv (or the runs.csv inside a results folder).
///
/// The schema version is checked on the raw row before the row is decoded, so that a
/// file from another kbench is refused with its version, not with a confusing column error.
/// An empty file is a study stopped before its header was written: no runs. A torn last
/// row is refused with what to do: readers never change a results folder, and `bench run
/// --resume` sets the row aside.
pub fn read_runs(path: &Path) -> Result<Vec<RunRecord>> {
    let file = runs_file(path);
    let bytes = read_bounded(&file)?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(torn) = find_torn_row(&bytes) {
        let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        bail!(
            "{}: the last row (line {}) is torn: bench was stopped while writing it, so it holds no whole run. `bench run --resume {}` sets it aside (into runs.csv.torn-<time>) and measures that run again; or delete that line",
            file.display(),
            torn.line,
            folder.display()
        );
    }
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().with_context(|| format!("cannot read {}", file.display()))?.clone();
    let Some(version_column) = headers.iter().position(|h| h == "schema_version") else {
        bail!("{} has no schema_version column: it is not a runs.csv written by kbench", file.display());
    };
    let mut records = Vec::new();
    let mut row = csv::StringRecord::new();
    loop {
        // The reader's own line count: a quoted field may hold newlines.
        let line = reader.position().line();
        match reader.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => bail!("{}: cannot read the row at line {line}: {error}", file.display()),
        }
        let line = row.position().map_or(line, |p| p.line());
        check_schema_version(&file, line, row.get(version_column).unwrap_or(""))?;
        let record: RunRecord =
            row.deserialize(Some(&headers)).with_context(|| format!("{}: row at line {line} is not a kbench run", file.display()))?;
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
    let file = runs_file(path);
    let row_lines = row_lines(&file).unwrap_or_default();
    // Rows of records built in memory have no file behind them: count one line a row.
    let line = |row: usize| row_lines.get(row).copied().unwrap_or(row as u64 + 2);
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

/// The line each row starts on, in file order: a quoted field may hold newlines, so row
/// n is not always line n + 2.
fn row_lines(file: &Path) -> Result<Vec<u64>> {
    let bytes = read_bounded(file)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    let mut lines = Vec::new();
    while reader.read_byte_record(&mut record)? {
        lines.push(record.position().map_or(0, |p| p.line()));
    }
    Ok(lines)
}

/// The most a runs.csv may hold: a million runs take about 400 MB; more is not a study.
pub const MAX_RUNS_CSV_BYTES: u64 = 2 << 30;

fn read_bounded(file: &Path) -> Result<Vec<u8>> {
    read_regular_file(file, MAX_RUNS_CSV_BYTES, "give a results folder of `bench run` or its runs.csv")
}

fn check_schema_version(file: &Path, line: u64, field: &str) -> Result<()> {
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

    /// runs.csv as kbench wrote it before the fault and monitor columns.
    const BEFORE_MONITORS: &str = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at
1,baseline,half,1,1,ok,1.5,1.0,0.25,83.3,10,20,1000,0,,6.1.0,console=ttyS0,2026-11-29T08:00:00Z
";

    #[test]
    fn a_runs_csv_from_before_the_monitors_reads_with_empty_memory_columns_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, BEFORE_MONITORS).unwrap();
        let old = read_runs(&path).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!((old[0].elapsed_s, old[0].minor_faults, old[0].slab_peak_kib, old[0].guest_sys_percent), (1.5, None, None, None));
        let mut new = sample(2, RunStatus::Ok);
        new.minor_faults = Some(1234);
        new.slab_peak_kib = Some(40_000);
        new.guest_sys_percent = Some(12.5);
        RunsWriter::open(&path).unwrap().append(&new).unwrap();
        let both = read_runs(&path).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].slab_peak_kib, None);
        assert_eq!(both[1], new);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().next().unwrap().ends_with("quiet_wait_s,start"), "{text}");
    }

    /// runs.csv as kbench wrote it before the boot and host-noise columns (issue 11).
    const BEFORE_HOST_NOISE: &str = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at,\
minor_faults,major_faults,slab_peak_kib,slab_end_kib,sunreclaim_peak_kib,sunreclaim_end_kib,sreclaimable_peak_kib,sreclaimable_end_kib,pgalloc,pgfree,pgfault,pgmajfault,\
guest_user_percent,guest_sys_percent,guest_softirq_percent,guest_steal_percent
1,baseline,half,1,1,ok,1.5,1.0,0.25,83.3,10,20,1000,0,,6.1.0,console=ttyS0,2026-11-29T08:00:00Z,100,1,5000,4000,3000,2000,1000,900,10,9,8,0,80.0,15.0,1.0,0.5
";

    #[test]
    fn a_runs_csv_from_before_the_host_noise_columns_reads_them_as_unsampled_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, BEFORE_HOST_NOISE).unwrap();
        let old = read_runs(&path).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!((old[0].slab_peak_kib, old[0].guest_steal_percent), (Some(5000), Some(0.5)));
        assert_eq!((old[0].boot, old[0].host_other_cpu_percent, old[0].host_load1, old[0].quiet_wait_s), (None, None, None, None));
        assert_eq!(old[0].start, None, "a file from before issue 21 says nothing of how its guests started");
        assert!(old[0].noise.is_empty() && !old[0].is_noisy() && old[0].host_governor.is_empty());
        let mut new = sample(2, RunStatus::Ok);
        new.host_other_cpu_percent = Some(150.0);
        new.noise = "other processes used 150 % of a CPU (limit 20 %)".into();
        new.quiet_wait_s = Some(3.1);
        new.start = Some(crate::model::GuestStart::Restore);
        RunsWriter::open(&path).unwrap().append(&new).unwrap();
        let both = read_runs(&path).unwrap();
        assert_eq!((both[0].noise.as_str(), &both[1]), ("", &new));
        assert!(std::fs::read_to_string(&path).unwrap().lines().nth(2).unwrap().ends_with(",restore"));
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
    fn a_new_runs_csv_has_its_header_before_any_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let _writer = RunsWriter::open(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("schema_version,variant,")
                && text.contains(",started_at,minor_faults,")
                && text.ends_with("quiet_wait_s,start\n"),
            "{text}"
        );
        assert_eq!(read_runs(&path).unwrap(), vec![]);
    }

    #[test]
    fn an_empty_file_is_a_study_without_runs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("runs.csv"), "").unwrap();
        assert_eq!(read_runs(dir.path()).unwrap(), vec![]);
    }

    fn two_rows_then(cut: impl Fn(&mut Vec<u8>)) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut writer = RunsWriter::open(&path).unwrap();
        writer.append(&sample(1, RunStatus::Ok)).unwrap();
        let whole = std::fs::read(&path).unwrap();
        let mut second = sample(2, RunStatus::Failed);
        second.failure = "first line\nsecond line".into();
        writer.append(&second).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        cut(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        (dir, path, whole)
    }

    #[test]
    fn a_torn_last_row_is_refused_by_readers_and_set_aside_on_request() {
        // Cut in the middle of a field, right after the newline inside a quoted field,
        // and just before the final newline: each leaves no whole second run.
        let cuts: [fn(&mut Vec<u8>) -> (); 3] = [
            |b| b.truncate(b.len() - 30),
            |b| {
                let at = b.windows(11).position(|w| w == b"first line\n").unwrap();
                b.truncate(at + 11)
            },
            |b| {
                b.pop();
            },
        ];
        for cut in cuts {
            let (dir, path, whole) = two_rows_then(cut);
            let torn_part = std::fs::read(&path).unwrap()[whole.len()..].to_vec();
            let error = format!("{:#}", read_runs(&path).unwrap_err());
            assert!(error.contains("line 3") && error.contains("torn") && error.contains("bench run --resume"), "{error}");
            let (torn, aside) = set_aside_torn_row(&path).unwrap().expect("a torn row");
            assert_eq!((torn.line, torn.offset), (3, whole.len() as u64));
            assert_eq!(aside.parent(), Some(dir.path()));
            assert!(aside.file_name().unwrap().to_string_lossy().starts_with("runs.csv.torn-"));
            assert_eq!(std::fs::read(&aside).unwrap(), torn_part);
            assert_eq!(std::fs::read(&path).unwrap(), whole);
            assert_eq!(read_runs(&path).unwrap(), vec![sample(1, RunStatus::Ok)]);
            assert_eq!(set_aside_torn_row(&path).unwrap(), None);
        }
    }

    #[test]
    fn whole_files_have_no_torn_row() {
        let (_dir, path, _) = two_rows_then(|_| {});
        assert_eq!(find_torn_row(&std::fs::read(&path).unwrap()), None);
        assert_eq!(find_torn_row(&header_line()), None);
        assert_eq!(find_torn_row(b""), None);
        assert_eq!(find_torn_row(b"schema_version,vari"), Some(TornRow { line: 1, offset: 0 }));
    }

    #[test]
    fn a_rewrite_replaces_the_rows() {
        let (_dir, path, _) = two_rows_then(|_| {});
        rewrite_runs(&path, &[sample(7, RunStatus::Ok)]).unwrap();
        assert_eq!(read_runs(&path).unwrap(), vec![sample(7, RunStatus::Ok)]);
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
    fn rows_after_a_field_with_newlines_are_named_by_their_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut writer = RunsWriter::open(&path).unwrap();
        let failed = RunRecord { failure: "make: ***\nError 2\nstop".into(), ..sample(1, RunStatus::Failed) };
        for record in [failed, sample(1, RunStatus::Ok), sample(1, RunStatus::Ok)] {
            writer.append(&record).unwrap();
        }
        let records = read_runs(dir.path()).unwrap();
        let error = refuse_inconsistent(dir.path(), &records, None).unwrap_err().to_string();
        // Line 2 holds the failed run over three lines: the runs start on lines 5 and 6.
        assert!(error.contains("line 6: baseline half run 1 is on record twice") && error.contains("(line 5)"), "{error}");
        std::fs::write(&path, [std::fs::read(&path).unwrap(), b"1,baseline,half,1,x\n".to_vec()].concat()).unwrap();
        let error = format!("{:#}", read_runs(&path).unwrap_err());
        assert!(error.contains("line 7"), "{error}");
    }

    #[test]
    fn a_whole_last_row_that_is_not_a_run_is_named_not_called_torn() {
        let (_dir, path, _) = two_rows_then(|b| b.extend_from_slice(b"garbage,\"quoted\"\n"));
        assert_eq!(find_torn_row(&std::fs::read(&path).unwrap()), None);
        let error = format!("{:#}", read_runs(&path).unwrap_err());
        assert!(error.contains("line 5") && !error.contains("torn"), "{error}");
    }

    #[test]
    fn a_device_is_refused_before_it_is_read() {
        let error = format!("{:#}", read_runs(Path::new("/dev/zero")).unwrap_err());
        assert!(error.contains("/dev/zero is not a regular file"), "{error}");
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
