//! Files read back whole, but only regular files of a sane size: a device such as
//! /dev/zero, a pipe or a runaway file would otherwise be read until memory runs out.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The whole of `path`, refused when it is not a regular file or holds more than
/// `max_bytes`; `advice` says what to give instead.
pub fn read_regular_file(path: &Path, max_bytes: u64, advice: &str) -> Result<Vec<u8>> {
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a regular file: {advice}", path.display());
    }
    let too_big = |size: u64| format!("{} holds {size} bytes, more than the {max_bytes} such a file can have: {advice}", path.display());
    if metadata.len() > max_bytes {
        bail!(too_big(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    File::open(path)
        .and_then(|file| file.take(max_bytes + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max_bytes {
        bail!(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_oversized_files_are_refused_and_others_read_whole() {
        let error = format!("{:#}", read_regular_file(Path::new("/dev/zero"), 1 << 20, "give a runs.csv").unwrap_err());
        assert!(error.contains("/dev/zero is not a regular file: give a runs.csv"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("runs.csv");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular_file(&file, 10, "x").unwrap(), b"0123456789");
        let error = format!("{:#}", read_regular_file(&file, 9, "x").unwrap_err());
        assert!(error.contains("holds 10 bytes, more than the 9"), "{error}");
        let missing = format!("{:#}", read_regular_file(&dir.path().join("none"), 9, "x").unwrap_err());
        assert!(missing.contains("cannot read") && missing.contains("none"), "{missing}");
    }
}
