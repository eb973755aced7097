//! Files a lab host already holds (`[guest.remote]`): used in place, after libvirt read
//! them for us and their sha256 matched the local file's. Reading goes through a storage
//! pool on the file's folder (the pool already there, or a transient one made for the
//! check) and a volume download stream, hashed as it comes: no access of our own to the
//! host. The whole file is read once per study; a checksum seen before for the same
//! (host, path, size, mtime, ctime) comes from a small cache on this machine instead.

use super::domain_xml::{escape, tag_text};
use super::volumes::sha256_file;
use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use virt::connect::Connect;
use virt::storage_pool::StoragePool;
use virt::stream::Stream;

/// One `[guest.remote]` entry, checked against its local reference.
pub struct RemoteCheck<'a> {
    /// The scenario key that named it, e.g. `guest.remote.disk`.
    pub key: &'a str,
    pub remote: &'a str,
    pub local: &'a Path,
}

/// Checks that `check.remote` on the host at `uri` holds exactly `check.local`; an error
/// names the key, the host and the path.
pub fn verify(conn: &Connect, uri: &str, check: &RemoteCheck) -> Result<()> {
    let RemoteCheck { key, remote, local } = *check;
    let expected = sha256_file(local)?;
    let (folder, file) = split_remote(remote).ok_or_else(|| anyhow!("key `{key}`: {remote:?} is not an absolute path of a file"))?;
    let (pool, transient) = pool_on(conn, folder).with_context(|| format!("key `{key}`: cannot read {remote} on {uri}"))?;
    let result = (|| {
        let _ = pool.refresh(0);
        let volume = pool
            .lookup_storage_vol_by_name(file)
            .map_err(|_| anyhow!("key `{key}`: {remote} does not exist on {uri} (or is not a regular file libvirt can read)"))?;
        let info = volume
            .info_flags(virt::sys::VIR_STORAGE_VOL_GET_PHYSICAL)
            .with_context(|| format!("key `{key}`: cannot read the size of {remote} on {uri}"))?;
        let size = info.allocation;
        let local_size = std::fs::metadata(local).with_context(|| format!("cannot read {}", local.display()))?.len();
        if size != local_size {
            bail!(
                "key `{key}`: {remote} on {uri} has {size} bytes, the local reference {} has {local_size}: they are not the same file; copy it again or fix the path",
                local.display()
            );
        }
        let xml = volume.xml_desc(0).unwrap_or_default();
        let stamp = CacheKey { uri, path: remote, size, mtime: tag_text(&xml, "mtime"), ctime: tag_text(&xml, "ctime") };
        let actual = match cache_lookup(&stamp) {
            Some(sha) => sha,
            None => {
                let sha = download_sha256(conn, &volume, size).with_context(|| format!("key `{key}`: cannot read {remote} on {uri}"))?;
                cache_store(&stamp, &sha);
                sha
            }
        };
        if actual != expected {
            bail!(
                "key `{key}`: {remote} on {uri} has sha256 {actual}, but the local reference {} has {expected}: they differ; copy the file to the host again or point the key at the right one",
                local.display()
            );
        }
        Ok(())
    })();
    if transient {
        let _ = pool.destroy();
    }
    result
}

/// The folder and the file name of an absolute path.
fn split_remote(remote: &str) -> Option<(&str, &str)> {
    let (folder, file) = remote.rsplit_once('/')?;
    if !remote.starts_with('/') || file.is_empty() || file == "." || file == ".." {
        return None;
    }
    Some((if folder.is_empty() { "/" } else { folder }, file))
}

/// A running pool whose folder is `folder` (libvirt allows one per folder), or a
/// transient one made for this check (`true`: destroy it after).
fn pool_on(conn: &Connect, folder: &str) -> Result<(StoragePool, bool)> {
    let pools = conn.list_all_storage_pools(virt::sys::VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE).unwrap_or_default();
    for pool in pools {
        let xml = pool.xml_desc(0).unwrap_or_default();
        if xml.contains("<pool type='dir'>")
            && tag_text(&xml, "path").as_deref().map(|p| p.trim_end_matches('/')) == Some(folder.trim_end_matches('/'))
        {
            return Ok((pool, false));
        }
    }
    let name = format!("kbench-remote-{}-{}", std::process::id(), &format!("{:x}", Sha256::digest(folder.as_bytes()))[..12]);
    let xml = format!("<pool type='dir'><name>{name}</name><target><path>{}</path></target></pool>", escape(folder));
    let pool = conn.create_storage_pool_xml(&xml, 0).map_err(|e| anyhow!("cannot open the folder {folder} as a storage pool: {e}"))?;
    Ok((pool, true))
}

fn download_sha256(conn: &Connect, volume: &virt::storage_vol::StorageVol, size: u64) -> Result<String> {
    let stream = Stream::new(conn, 0)?;
    volume.download(&stream, 0, size, 0)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut seen = 0u64;
    loop {
        let n = stream.recv(&mut buffer)?;
        if n <= 0 {
            break;
        }
        hasher.update(&buffer[..n as usize]);
        seen += n as u64;
    }
    stream.finish()?;
    if seen != size {
        bail!("the download ended after {seen} of {size} bytes");
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// What identifies one state of a remote file without reading it. Without both times
/// nothing is cached.
struct CacheKey<'a> {
    uri: &'a str,
    path: &'a str,
    size: u64,
    mtime: Option<String>,
    ctime: Option<String>,
}

impl CacheKey<'_> {
    fn line_prefix(&self) -> Option<String> {
        let (mtime, ctime) = (self.mtime.as_deref()?, self.ctime.as_deref()?);
        if mtime.starts_with('0') || [self.uri, self.path].iter().any(|s| s.contains(['\t', '\n'])) {
            return None;
        }
        Some(format!("{}\t{}\t{}\t{mtime}\t{ctime}\t", self.uri, self.path, self.size))
    }
}

/// `$XDG_CACHE_HOME/kbench/remote-sha256` (or `~/.cache/...`): one line per file state.
fn cache_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("kbench").join("remote-sha256"))
}

fn cache_lookup(key: &CacheKey) -> Option<String> {
    let prefix = key.line_prefix()?;
    let text = std::fs::read_to_string(cache_file()?).ok()?;
    text.lines().rev().find_map(|line| line.strip_prefix(&prefix)).filter(|sha| sha.len() == 64).map(String::from)
}

/// Best effort: a cache that cannot be written costs the next study one read.
fn cache_store(key: &CacheKey, sha256: &str) {
    let (Some(prefix), Some(file)) = (key.line_prefix(), cache_file()) else { return };
    if let Some(folder) = file.parent() {
        let _ = std::fs::create_dir_all(folder);
    }
    use std::io::Write;
    if let Ok(mut out) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(out, "{prefix}{sha256}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_path_splits_into_folder_and_file() {
        assert_eq!(split_remote("/srv/images/root.ext4"), Some(("/srv/images", "root.ext4")));
        assert_eq!(split_remote("/root.ext4"), Some(("/", "root.ext4")));
        assert_eq!(split_remote("srv/root.ext4"), None);
        assert_eq!(split_remote("/srv/images/"), None);
        assert_eq!(split_remote("/srv/.."), None);
    }

    #[test]
    fn tags_are_read_and_unescaped() {
        let xml = "<pool type='dir'><target><path>/a&amp;b</path></target><timestamps><mtime>17.5</mtime></timestamps></pool>";
        assert_eq!(tag_text(xml, "path").as_deref(), Some("/a&b"));
        assert_eq!(tag_text(xml, "mtime").as_deref(), Some("17.5"));
        assert_eq!(tag_text(xml, "ctime"), None);
    }

    #[test]
    fn the_cache_needs_both_times_and_tells_states_apart() {
        let key = |mtime: Option<&str>| CacheKey {
            uri: "qemu:///system",
            path: "/srv/d",
            size: 5,
            mtime: mtime.map(String::from),
            ctime: Some("2.0".into()),
        };
        assert_eq!(key(None).line_prefix(), None);
        assert_eq!(key(Some("0")).line_prefix(), None, "a pool that reports no time caches nothing");
        assert_ne!(key(Some("1.0")).line_prefix(), key(Some("1.5")).line_prefix());
    }
}
