//! A QEMU guest saved whole and started again from it (`reuse = "snapshot"`): its memory
//! and devices by migration into a file (QMP `migrate` to `exec:cat > FILE`, which QEMU 7.2
//! has; `file:` URIs came with 8.2), its disk's writes in a qcow2 overlay over the
//! read-only image. The image itself is never written: the first boot writes to an overlay
//! in the scratch space, a copy of which (taken while the guest is stopped) is the saved
//! disk; a restore runs on that copy under `snapshot=on`, so every restore starts from the
//! same disk as the memory it restores.

use super::qmp::Qmp;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How often QEMU is asked whether the migration is done.
const POLL: Duration = Duration::from_millis(20);

/// The files of one saved guest, in the folder the runner gives.
pub struct StateFiles {
    /// The migration stream: memory and device state.
    pub ram: PathBuf,
    /// The disk's writes up to the save (only for a guest with a disk).
    pub disk: PathBuf,
}

impl StateFiles {
    pub fn in_dir(dir: &Path) -> StateFiles {
        StateFiles { ram: dir.join("guest.state"), disk: dir.join("disk.qcow2") }
    }
}

/// A qcow2 overlay at `overlay` over the image `disk` (never written through it).
pub fn create_overlay(disk: &Path, overlay: &Path) -> Result<PathBuf> {
    let base = std::path::absolute(disk).with_context(|| format!("cannot resolve {}", disk.display()))?;
    let format = if super::qemu::is_qcow2(&base) { "qcow2" } else { "raw" };
    let output =
        Command::new("qemu-img").args(["create", "-q", "-f", "qcow2", "-F", format, "-b"]).arg(&base).arg(overlay).output().context(
            "reuse = \"snapshot\" with a guest disk needs qemu-img to keep the disk's writes apart (Debian: apt-get install qemu-utils)",
        )?;
    if !output.status.success() {
        bail!("qemu-img could not create the overlay {}: {}", overlay.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(overlay.to_path_buf())
}

/// Stops the guest, writes its state into `files` (and a copy of `overlay`, its disk's
/// writes), and lets it run on. The bytes written.
pub fn save(qmp: &mut Qmp, overlay: Option<&Path>, files: &StateFiles, timeout: Duration) -> Result<u64> {
    qmp.execute("stop", None)?;
    let saved = save_stopped(qmp, overlay, files, timeout);
    // Whether or not it was saved, the guest goes on with its own runs.
    let resumed = qmp.execute("cont", None);
    let bytes = saved?;
    resumed.context("the guest was saved but does not run on")?;
    Ok(bytes)
}

fn save_stopped(qmp: &mut Qmp, overlay: Option<&Path>, files: &StateFiles, timeout: Duration) -> Result<u64> {
    let uri = format!("exec:cat > {}", shell_quote(&files.ram)?);
    qmp.execute("migrate", Some(json!({ "uri": uri })))?;
    let deadline = Instant::now() + timeout;
    loop {
        let info = qmp.execute("query-migrate", None)?;
        match info.get("status").and_then(Value::as_str) {
            Some("completed") => break,
            Some(status @ ("failed" | "cancelled")) => {
                let why = info.get("error-desc").and_then(Value::as_str).unwrap_or("QEMU gave no reason");
                bail!("QEMU could not save the guest (migration {status}): {why}");
            }
            _ if Instant::now() >= deadline => {
                let _ = qmp.execute("migrate_cancel", None);
                bail!("QEMU did not save the guest within {} s", timeout.as_secs());
            }
            _ => std::thread::sleep(POLL),
        }
    }
    let mut bytes = std::fs::metadata(&files.ram).with_context(|| format!("the saved state {}", files.ram.display()))?.len();
    if let Some(overlay) = overlay {
        // Migration flushed and released the disk: the overlay holds every write up to now.
        bytes += std::fs::copy(overlay, &files.disk)
            .with_context(|| format!("cannot copy the guest's disk writes to {}", files.disk.display()))?;
    }
    Ok(bytes)
}

/// Loads `files` into a QEMU started with `-S -incoming defer`, then lets it run.
pub fn restore(qmp: &mut Qmp, files: &StateFiles, timeout: Duration) -> Result<()> {
    if !files.ram.is_file() {
        bail!("the saved state {} is missing", files.ram.display());
    }
    let uri = format!("exec:cat {}", shell_quote(&files.ram)?);
    qmp.execute("migrate-incoming", Some(json!({ "uri": uri })))?;
    let deadline = Instant::now() + timeout;
    loop {
        let status = qmp.execute("query-status", None)?;
        match status.get("status").and_then(Value::as_str) {
            Some("inmigrate") if Instant::now() < deadline => std::thread::sleep(POLL),
            Some("inmigrate") => bail!("QEMU did not load the saved state {} within {} s", files.ram.display(), timeout.as_secs()),
            Some("paused" | "prelaunch") => break,
            other => {
                bail!("QEMU could not load the saved state {}: its guest is {}", files.ram.display(), other.unwrap_or("in no known state"))
            }
        }
    }
    qmp.execute("cont", None)?;
    Ok(())
}

/// `path` as one word of `/bin/sh`, which QEMU's `exec:` runs.
fn shell_quote(path: &Path) -> Result<String> {
    let text = path.to_str().with_context(|| format!("{} is not UTF-8, which QEMU's exec: cannot name", path.display()))?;
    Ok(format!("'{}'", text.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_one_shell_word_whatever_it_holds() {
        assert_eq!(shell_quote(Path::new("/r/a b/x")).unwrap(), "'/r/a b/x'");
        assert_eq!(shell_quote(Path::new("/r/it's;rm -rf")).unwrap(), r"'/r/it'\''s;rm -rf'");
        let out =
            Command::new("sh").arg("-c").arg(format!("printf %s {}", shell_quote(Path::new("/a'b $(x) `y`")).unwrap())).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/a'b $(x) `y`");
    }
}
