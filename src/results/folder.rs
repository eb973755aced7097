//! The results folder of one study: `<root>/<scenario>/<timestamp>/` with a copy of the
//! scenario, meta.json, runs.csv, the consoles of every boot and each step's output.
//!
//! One `bench run` at a time writes a folder: it holds an exclusive lock on `.lock`
//! (with its pid in it) as long as it runs. Files the backend needs only while a guest
//! runs go to `.scratch/`, removed at the end and, after a `kill -9`, on resume.

use super::runs_csv::{rewrite_runs, set_aside_torn_row, RunsWriter, TornRow};
use crate::model::{Meta, RunRecord};
use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = ".lock";
const SCRATCH_DIR: &str = ".scratch";
/// One CSV of raw in-guest monitor samples per timed run.
pub const MONITORS_DIR: &str = "monitors";
/// Failed rows that `--retry-failed` took out of runs.csv, kept for the record.
pub const FAILED_RUNS_FILE: &str = "runs-failed.csv";
/// `<root>/<scenario>/latest`: a relative symlink to the study's newest folder, so a
/// person or a script can open `results/tiny/latest/report.html` without the timestamp.
pub const LATEST_LINK: &str = "latest";

pub struct ResultsDir {
    pub path: PathBuf,
    runs: RunsWriter,
    /// Held until the study ends; the kernel releases it whatever ends `bench`.
    _lock: Flock<File>,
}

/// A torn last row of runs.csv, set aside when the study resumed.
pub struct SetAside {
    pub row: TornRow,
    pub file: PathBuf,
}

impl ResultsDir {
    /// A new folder for a study under `root`, whose disk must also hold `saved_mib` of
    /// saved guests (`reuse = "snapshot"` with QEMU).
    pub fn create(root: &Path, scenario_name: &str, scenario_file: &Path, saved_mib: u64) -> Result<ResultsDir> {
        room_for_results(root, saved_mib)?;
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let parent = root.join(scenario_name);
        let cannot_create =
            |dir: &Path| format!("cannot create the results folder {} (use --results DIR to put it elsewhere)", dir.display());
        std::fs::create_dir_all(&parent).with_context(|| cannot_create(&parent))?;
        // Made, not merely looked for: two studies started in the same second each get a
        // folder of their own.
        let mut path = parent.join(&stamp);
        let mut n = 2;
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => break,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    path = parent.join(format!("{stamp}-{n}"));
                    n += 1;
                }
                Err(error) => return Err(error).with_context(|| cannot_create(&path)),
            }
        }
        for dir in [path.join("console"), path.join("logs"), path.join(SCRATCH_DIR)] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the results folder {} (use --results DIR to put it elsewhere)", dir.display()))?;
        }
        let lock = lock(&path)?;
        clear_abandoned_scratch(&parent, &path);
        std::fs::copy(scenario_file, path.join("scenario.toml"))
            .with_context(|| format!("cannot copy {} into {}", scenario_file.display(), path.display()))?;
        let runs = RunsWriter::open(&path.join("runs.csv"))?;
        // A convenience: the study goes on without it.
        if let Err(error) = point_latest_at(&path) {
            eprintln!("warning: {error:#}");
        }
        Ok(ResultsDir { path, runs, _lock: lock })
    }

    /// Reopens the folder of an interrupted study; new rows are appended to its runs.csv.
    /// Refused while another `bench` holds it. A torn last row (a `bench` killed while
    /// writing it) is moved into `runs.csv.torn-<time>`, and the scratch files a killed
    /// `bench` left are removed.
    pub fn reopen(path: &Path) -> Result<(ResultsDir, Option<SetAside>)> {
        for needed in ["runs.csv", "meta.json", "scenario.toml"] {
            if !path.join(needed).is_file() {
                bail!("{} has no {needed}: it is not a kbench results folder", path.display());
            }
        }
        let lock = lock(path)?;
        let scratch = path.join(SCRATCH_DIR);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).with_context(|| format!("cannot clear {}", scratch.display()))?;
        }
        for dir in [path.join("console"), path.join("logs"), scratch] {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot write into {}", path.display()))?;
        }
        let runs_path = path.join("runs.csv");
        let set_aside = set_aside_torn_row(&runs_path)?.map(|(row, file)| SetAside { row, file });
        let runs = RunsWriter::open(&runs_path)?;
        Ok((ResultsDir { path: path.to_path_buf(), runs, _lock: lock }, set_aside))
    }

    /// Where the backend keeps files while a guest runs.
    pub fn scratch_dir(&self) -> PathBuf {
        self.path.join(SCRATCH_DIR)
    }

    /// A folder of the results (`console`, `kmsg`, `logs`, `monitors`), or the host's own
    /// inside it in a study over several hosts (`host` empty on one host), relative.
    fn folder(kind: &str, host: &str) -> String {
        match host {
            "" => kind.to_string(),
            host => format!("{kind}/{host}"),
        }
    }

    /// The console log of the variant's next boot, numbered after those already saved
    /// (a resumed study keeps the consoles of the first attempt).
    pub fn next_console_log(&self, host: &str, variant: &str) -> Result<(u32, PathBuf)> {
        let dir = self.path.join(Self::folder("console", host));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok((1..)
            .map(|boot| (boot, dir.join(format!("{variant}-boot{boot}.log"))))
            .find(|(_, path)| !path.exists())
            .expect("some boot number is free"))
    }

    /// The kernel log of one boot, `kmsg/[<host>/]<variant>-boot<N>.log` beside its
    /// console log.
    pub fn kernel_log_path(&self, host: &str, variant: &str, boot: u32) -> PathBuf {
        self.path.join(Self::folder("kmsg", host)).join(format!("{variant}-boot{boot}.log"))
    }

    /// Appends to the kernel log of one boot: what the guest's kernel logged at every
    /// level, as the agent read it from /dev/kmsg.
    pub fn append_kernel_log(&self, host: &str, variant: &str, boot: u32, text: &str) -> Result<()> {
        let path = self.kernel_log_path(host, variant, boot);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Saves a step's output tail; returns the path relative to the results folder.
    pub fn save_output(&self, host: &str, name: &str, output: &str) -> Result<String> {
        self.save(&Self::folder("logs", host), &format!("{name}.log"), output)
    }

    /// Saves a timed run's raw monitor samples to `monitors/<name>.csv` (as mmtests keeps
    /// its monitors beside the results); returns the path relative to the results folder.
    pub fn save_monitors(&self, host: &str, name: &str, samples: &str) -> Result<String> {
        self.save(&Self::folder(MONITORS_DIR, host), &format!("{name}.csv"), samples)
    }

    fn save(&self, folder: &str, file: &str, text: &str) -> Result<String> {
        let dir = self.path.join(folder);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let relative = format!("{folder}/{file}");
        let path = self.path.join(&relative);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(relative)
    }

    pub fn append_run(&mut self, record: &RunRecord) -> Result<()> {
        self.runs.append(record)
    }

    /// `--retry-failed`: the failed rows move to runs-failed.csv (appended, so every
    /// attempt stays on record) and runs.csv keeps the others, so that the failed runs
    /// are measured again and statistics see only the new attempt. runs-failed.csv is
    /// written and synced first: a crash in between leaves a row in both, never in none.
    pub fn supersede_failed(&mut self, kept: &[RunRecord], failed: &[RunRecord]) -> Result<PathBuf> {
        let failed_path = self.path.join(FAILED_RUNS_FILE);
        let mut record_of_failures = RunsWriter::open(&failed_path)?;
        for record in failed {
            record_of_failures.append(record)?;
        }
        let runs_path = self.path.join("runs.csv");
        rewrite_runs(&runs_path, kept)?;
        self.runs = RunsWriter::open(&runs_path)?;
        Ok(failed_path)
    }

    pub fn write_meta(&self, meta: &Meta) -> Result<()> {
        write_json(&self.path.join("meta.json"), meta)
    }
}

impl Drop for ResultsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.scratch_dir());
    }
}

/// Points `latest` beside `folder` at it, atomically: a new link under a temporary name
/// renamed over the old one, so a reader never finds no link or a half-made one. The
/// target is the folder's name only, so the link survives moving the whole tree.
fn point_latest_at(folder: &Path) -> Result<()> {
    let (Some(parent), Some(name)) = (folder.parent(), folder.file_name()) else {
        bail!("{} has no parent folder to hold a `{LATEST_LINK}` link", folder.display());
    };
    let link = parent.join(LATEST_LINK);
    // Named after the folder: studies started at once never share a temporary link.
    let temporary = parent.join(format!(".{LATEST_LINK}.{}.tmp", name.to_string_lossy()));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(name, &temporary)
        .with_context(|| format!("cannot create the link {} to {}", temporary.display(), folder.display()))?;
    std::fs::rename(&temporary, &link).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        anyhow::anyhow!("cannot point {} at {}: {error}", link.display(), folder.display())
    })
}

/// Takes the folder's lock, or says which process holds it.
/// Takes the folder's lock, which one `bench` at a time holds while it writes the folder
/// (a study running, resumed, or its reports written again); refused, with the holder's
/// pid, while another has it. Held until the value is dropped.
/// Removes the scratch space (saved guests of `reuse = "snapshot"`: hundreds of MB each)
/// that a `bench` killed with `kill -9` left in the other results folders of the same
/// scenario; a folder whose lock a running `bench` holds is left alone. Best effort.
fn clear_abandoned_scratch(parent: &Path, except: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for folder in entries.flatten().map(|e| e.path()).filter(|p| p != except && p.join(SCRATCH_DIR).is_dir()) {
        let Ok(file) = File::open(folder.join(LOCK_FILE)) else { continue };
        // Held by nobody: its bench is gone. The lock is let go at once, its file unchanged.
        if let Ok(_unused) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let _ = std::fs::remove_dir_all(folder.join(SCRATCH_DIR));
        }
    }
}

pub fn lock(folder: &Path) -> Result<Flock<File>> {
    let path = folder.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut locked) => {
            let mut write_pid = || -> std::io::Result<()> {
                locked.set_len(0)?;
                locked.rewind()?;
                writeln!(locked, "{}", std::process::id())?;
                locked.sync_data()
            };
            write_pid().with_context(|| format!("cannot write {}", path.display()))?;
            Ok(locked)
        }
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another bench".to_string(),
                pid => format!("another bench (pid {pid})"),
            };
            bail!("{} is in use by {holder}, which is still writing it; wait for it to end (or stop it), then try again", folder.display())
        }
        Err((_, errno)) => bail!("cannot lock {}: {errno}", path.display()),
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
    write_atomically(path, (text + "\n").as_bytes())
}

/// Replaces `path` with `bytes` so that a reader, a crash or a full disk finds either the
/// old file or the new one whole: written to a temporary file beside it, synced, renamed
/// over it, and the folder synced. A failure names `path` and leaves no temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(folder)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        anyhow::Error::new(error).context(format!("cannot write {}", path.display()))
    })
}

/// Below this, a long study may fill the disk with consoles and logs.
pub const MIN_FREE_MIB: u64 = 100;

/// Whether a results folder can be made under `root` (or its nearest existing parent):
/// writable, with at least [`MIN_FREE_MIB`] free, and `saved_mib` more for the guests a
/// snapshot study saves there. The free MiB when it can.
pub fn room_for_results(root: &Path, saved_mib: u64) -> Result<u64> {
    let mut dir = root.to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => dir = parent.to_path_buf(),
            _ => dir = PathBuf::from("."),
        }
    }
    let stat = nix::sys::statvfs::statvfs(&dir).with_context(|| format!("cannot read the free space of {}", dir.display()))?;
    let free_mib = stat.blocks_available() as u64 * stat.fragment_size() as u64 / (1024 * 1024);
    if nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_err() {
        bail!("{} is not writable: choose another folder with --results", dir.display());
    }
    if free_mib < MIN_FREE_MIB {
        bail!(
            "only {free_mib} MiB free in {}, a study needs at least {MIN_FREE_MIB} MiB for its runs, consoles and logs: free some space or choose another folder with --results",
            dir.display()
        );
    }
    let needed = MIN_FREE_MIB + saved_mib;
    if free_mib < needed {
        bail!(
            "only {free_mib} MiB free in {}, and reuse = \"snapshot\" keeps saved guests of up to {saved_mib} MiB there (one per variant and snapshot, each as large as the guest's memory, plus its disk's writes): free {} MiB, choose another folder with --results, or use reuse = \"boot\"",
            dir.display(),
            needed - free_mib
        );
    }
    Ok(free_mib)
}

/// Writes a study that was not measured here (a part of another, `bench split`) as a
/// results folder of its own: runs.csv and, when known, meta.json. The folder must be new
/// or empty, so that nothing is mixed into another study.
pub fn write_study(folder: &Path, records: &[RunRecord], meta: Option<&Meta>) -> Result<()> {
    if folder.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} is not empty: give a new folder for the part (kbench does not mix studies)", folder.display());
    }
    std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    rewrite_runs(&folder.join("runs.csv"), records)?;
    match meta {
        Some(meta) => write_json(&folder.join("meta.json"), meta),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};
    use crate::results::runs_csv::read_runs;

    #[test]
    fn a_boots_kernel_log_is_appended_next_to_its_console_log() {
        let (_root, results) = study();
        let (boot, console) = results.next_console_log("", "poison").unwrap();
        results.append_kernel_log("", "poison", boot, "<5>[    0.000000] Linux version\n").unwrap();
        results.append_kernel_log("", "poison", boot, "<3>[   12.345678] BUG kmalloc-64 (Not tainted): Poison overwritten\n").unwrap();
        let kmsg = results.path.join("kmsg").join(console.file_name().unwrap());
        let text = std::fs::read_to_string(kmsg).unwrap();
        assert_eq!(text, "<5>[    0.000000] Linux version\n<3>[   12.345678] BUG kmalloc-64 (Not tainted): Poison overwritten\n");
    }

    #[test]
    fn each_host_keeps_its_boots_in_a_folder_of_its_own() {
        let (_root, results) = study();
        let (one, console_one) = results.next_console_log("", "poison").unwrap();
        let (lab, console_lab) = results.next_console_log("lab1", "poison").unwrap();
        assert_eq!((one, lab), (1, 1));
        assert_eq!(console_one, results.path.join("console/poison-boot1.log"));
        assert_eq!(console_lab, results.path.join("console/lab1/poison-boot1.log"));
        assert_eq!(results.kernel_log_path("lab1", "poison", 1), results.path.join("kmsg/lab1/poison-boot1.log"));
        assert_eq!(results.save_output("lab1", "poison-half-run1", "x").unwrap(), "logs/lab1/poison-half-run1.log");
        assert_eq!(results.save_output("", "poison-half-run1", "y").unwrap(), "logs/poison-half-run1.log");
        assert_eq!(results.save_monitors("lab2", "poison-half-run1", "z").unwrap(), "monitors/lab2/poison-half-run1.csv");
        assert_eq!(std::fs::read_to_string(results.path.join("logs/lab1/poison-half-run1.log")).unwrap(), "x");
    }

    fn study() -> (tempfile::TempDir, ResultsDir) {
        let root = tempfile::tempdir().unwrap();
        let scenario = root.path().join("s.toml");
        std::fs::write(&scenario, "name = \"s\"\n").unwrap();
        let results = ResultsDir::create(root.path(), "s", &scenario, 0).unwrap();
        (root, results)
    }

    #[test]
    fn studies_started_at_once_each_get_a_folder_of_their_own() {
        let root = tempfile::tempdir().unwrap();
        let scenario = root.path().join("s.toml");
        std::fs::write(&scenario, "name = \"s\"\n").unwrap();
        let barrier = std::sync::Barrier::new(8);
        let folders: Vec<PathBuf> = std::thread::scope(|scope| {
            let started: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        let results = ResultsDir::create(root.path(), "s", &scenario, 0).expect("a folder of its own");
                        let path = results.path.clone();
                        // Held until all have one: a shared folder would be refused by its lock.
                        std::thread::sleep(std::time::Duration::from_millis(200));
                        path
                    })
                })
                .collect();
            started.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let distinct: std::collections::BTreeSet<&PathBuf> = folders.iter().collect();
        assert_eq!(distinct.len(), 8, "{folders:?}");
    }

    #[test]
    fn an_atomic_write_replaces_the_file_or_names_it_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let missing = dir.path().join("gone").join("meta.json");
        let error = format!("{:#}", write_atomically(&missing, b"x").unwrap_err());
        assert!(error.starts_with(&format!("cannot write {}", missing.display())), "{error}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["meta.json"], "no temporary file is left");
    }

    #[test]
    fn latest_links_to_the_newest_folder_by_a_relative_path() {
        let root = tempfile::tempdir().unwrap();
        let scenario = root.path().join("s.toml");
        std::fs::write(&scenario, "name = \"s\"\n").unwrap();
        let first = ResultsDir::create(root.path(), "s", &scenario, 0).unwrap();
        let link = root.path().join("s").join(LATEST_LINK);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(first.path.file_name().unwrap()));
        let second = ResultsDir::create(root.path(), "s", &scenario, 0).unwrap();
        assert_ne!(first.path, second.path);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(second.path.file_name().unwrap()));
        assert!(link.join("runs.csv").is_file(), "the link resolves to the study");
        let names: Vec<_> = std::fs::read_dir(root.path().join("s")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 3, "two folders and the link, no temporary left: {names:?}");
        // A reader that scans the results for studies does not count the link as one more.
        let found = crate::results::history::find_results_folders(root.path()).unwrap();
        assert_eq!(found, [first.path.clone(), second.path.clone()]);
    }

    #[test]
    fn a_second_writer_is_refused_with_the_first_ones_pid() {
        let (_root, results) = study();
        std::fs::write(results.path.join("meta.json"), "{}").unwrap();
        let error = format!("{:#}", ResultsDir::reopen(&results.path).err().expect("refused"));
        assert!(error.contains(&format!("pid {}", std::process::id())) && error.contains("in use"), "{error}");
        let path = results.path.clone();
        drop(results);
        assert!(ResultsDir::reopen(&path).is_ok(), "free once the first one ended");
    }

    #[test]
    fn retried_failures_leave_runs_csv_for_runs_failed_csv() {
        let (_root, mut results) = study();
        let ok = RunRecord { run: 1, ..test_record() };
        let failed = RunRecord { run: 2, status: RunStatus::Failed, failure: "timed out".into(), ..test_record() };
        results.append_run(&ok).unwrap();
        results.append_run(&failed).unwrap();
        results.supersede_failed(std::slice::from_ref(&ok), std::slice::from_ref(&failed)).unwrap();
        let again = RunRecord { run: 2, ..test_record() };
        results.append_run(&again).unwrap();
        assert_eq!(read_runs(&results.path).unwrap(), vec![ok, again]);
        assert_eq!(read_runs(&results.path.join(FAILED_RUNS_FILE)).unwrap(), vec![failed]);
    }

    #[test]
    fn a_new_study_clears_the_scratch_a_killed_one_left_but_not_a_running_ones() {
        let root = tempfile::tempdir().unwrap();
        let scenario = root.path().join("s.toml");
        std::fs::write(&scenario, "name = \"s\"").unwrap();
        let running = ResultsDir::create(root.path(), "s", &scenario, 0).unwrap();
        std::fs::create_dir_all(running.scratch_dir().join("states/a")).unwrap();
        std::fs::write(running.scratch_dir().join("states/a/guest.state"), "x").unwrap();
        // As kill -9 leaves a folder: its scratch and lock file stay, nobody holds the lock.
        let killed_scratch = root.path().join("s/20200101-000000").join(SCRATCH_DIR);
        std::fs::create_dir_all(killed_scratch.join("states/a")).unwrap();
        std::fs::write(killed_scratch.join("states/a/guest.state"), "x").unwrap();
        std::fs::write(killed_scratch.with_file_name(LOCK_FILE), "12345\n").unwrap();
        let _next = ResultsDir::create(root.path(), "s", &scenario, 0).unwrap();
        assert!(!killed_scratch.exists(), "the killed study's saved guests are gone");
        assert!(running.scratch_dir().join("states/a/guest.state").exists(), "a running study keeps its own");
    }

    #[test]
    fn scratch_files_live_in_the_folder_and_go_with_it() {
        let (_root, results) = study();
        let scratch = results.scratch_dir();
        assert!(scratch.starts_with(&results.path) && scratch.is_dir());
        std::fs::write(scratch.join("v.initrd"), "x").unwrap();
        let path = results.path.clone();
        drop(results);
        assert!(!scratch.exists());
        // A killed bench leaves them: the next resume clears them.
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::write(scratch.join("stale.initrd"), "x").unwrap();
        std::fs::write(path.join("meta.json"), "{}").unwrap();
        let (reopened, _) = ResultsDir::reopen(&path).unwrap();
        assert!(!scratch.join("stale.initrd").exists());
        drop(reopened);
    }
}
