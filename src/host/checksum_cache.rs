//! The sha256 of a local file, remembered by the file's state (path, device, inode, size,
//! mtime, ctime) in `$XDG_CACHE_HOME/kbench/local-sha256`: a 3 GB disk image costs ~9 s
//! of CPU to hash, every study, although it rarely changes. Any write to the file moves
//! its ctime, which the user cannot set back, so a stale entry is never matched.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file changed less than this long ago may change again within the same tick of the
/// file system's clock (a coarse one: a few ms), unseen by mtime and ctime: not cached.
const SETTLED: Duration = Duration::from_secs(2);
/// Smaller files (a scenario, its copy in each results folder) hash in microseconds: not
/// cached, so the cache holds the few large files studies boot, not one line per study.
const WORTH_CACHING: u64 = 1 << 20;

/// The sha256 of `path` (lower-case hex), from the cache when the file is unchanged.
pub fn sha256_of(path: &Path) -> Result<String> {
    sha256_with_cache(path, cache_file().as_deref(), SystemTime::now())
}

fn sha256_with_cache(path: &Path, cache: Option<&Path>, now: SystemTime) -> Result<String> {
    let key = cache.and_then(|_| line_prefix(path, now));
    if let (Some(cache), Some(prefix)) = (cache, &key) {
        if let Some(sha) = lookup(cache, prefix) {
            return Ok(sha);
        }
    }
    let sha = hash(path)?;
    // The state read again after hashing: a file written while it was read is not cached.
    if let (Some(cache), Some(prefix)) = (cache, key) {
        if line_prefix(path, now).as_ref() == Some(&prefix) {
            store(cache, &prefix, &sha);
        }
    }
    Ok(sha)
}

fn hash(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The file's state as the start of a cache line; `None` when it cannot be cached (no
/// absolute path, a name with a tab or newline, a small file, a file changed just before `now`).
fn line_prefix(path: &Path, now: SystemTime) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let shown = absolute.to_str().filter(|s| !s.contains(['\t', '\n']))?;
    let meta = std::fs::metadata(&absolute).ok().filter(|m| m.size() >= WORTH_CACHING)?;
    let changed = SystemTime::UNIX_EPOCH + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec().clamp(0, 999_999_999) as u32);
    if now.duration_since(changed).map_or(true, |age| age < SETTLED) {
        return None;
    }
    Some(format!(
        "{shown}\t{}\t{}\t{}\t{}.{:09}\t{}.{:09}\t",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

/// `$XDG_CACHE_HOME/kbench/local-sha256` (or `~/.cache/...`): one line per file state.
fn cache_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("kbench").join("local-sha256"))
}

fn lookup(cache: &Path, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(cache).ok()?;
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix(prefix))
        .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(String::from)
}

/// Best effort: a cache that cannot be written costs the next study one read.
fn store(cache: &Path, prefix: &str, sha256: &str) {
    if let Some(folder) = cache.parent() {
        let _ = std::fs::create_dir_all(folder);
    }
    use std::io::Write;
    if let Ok(mut out) = std::fs::OpenOptions::new().create(true).append(true).open(cache) {
        // One write of one line: concurrent studies append whole lines.
        let _ = out.write_all(format!("{prefix}{sha256}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    /// A file large enough to be cached, starting with `head`.
    fn large(path: &Path, head: &[u8]) {
        let mut bytes = head.to_vec();
        bytes.resize(WORTH_CACHING as usize, b'.');
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_settled_file_is_read_from_the_cache_and_a_changed_one_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let (file, cache) = (dir.path().join("disk.img"), dir.path().join("cache"));
        large(&file, b"abc");
        let sha = hash(&file).unwrap();
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(sha256_with_cache(&file, Some(&cache), later).unwrap(), sha);
        let prefix = line_prefix(&file, later).unwrap();
        assert_eq!(lookup(&cache, &prefix), Some(sha.clone()), "the settled state was stored");

        // The cache answers for that state, without reading the file: a planted line wins.
        store(&cache, &prefix, &"0".repeat(64));
        assert_eq!(sha256_with_cache(&file, Some(&cache), later).unwrap(), "0".repeat(64));

        // Any write moves ctime: the planted line no longer matches, the file is hashed.
        std::thread::sleep(Duration::from_millis(20));
        large(&file, b"abd");
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_ne!(line_prefix(&file, later).unwrap(), prefix);
        let abd = sha256_with_cache(&file, Some(&cache), later).unwrap();
        assert_eq!(abd, hash(&file).unwrap());
        assert_ne!(abd, sha);
    }

    #[test]
    fn a_file_changed_just_now_or_a_small_one_is_hashed_but_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let (file, cache) = (dir.path().join("k"), dir.path().join("cache"));
        large(&file, b"abc");
        assert_eq!(sha256_with_cache(&file, Some(&cache), SystemTime::now()).unwrap(), hash(&file).unwrap());
        assert!(!cache.exists(), "a file changed within {SETTLED:?} may change again unseen");
        std::fs::write(&file, b"abc").unwrap();
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(sha256_with_cache(&file, Some(&cache), later).unwrap(), ABC);
        assert!(!cache.exists(), "a small file is not worth a line");
        assert_eq!(sha256_with_cache(&file, None, SystemTime::now()).unwrap(), ABC);
        assert!(sha256_with_cache(&dir.path().join("missing"), Some(&cache), SystemTime::now()).is_err());
    }
}
