//! The files a guest boots from, in a storage pool of the host that runs it: uploaded
//! once through a stream, then found by name. A volume's name holds the start of its
//! sha256; a sidecar volume `<name>.sha256`, written after the upload completed, holds
//! all of it, so that a half-uploaded volume is never taken for a whole one. The sidecar
//! is written again each time a study uses the volume: its modification time is the
//! pair's "last used", which `bench pool --prune` goes by.

use super::domain_xml::escape;
use anyhow::{bail, Context, Result};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};
use virt::connect::Connect;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;

/// The pool kbench keeps its volumes in, created on first use.
pub const POOL: &str = "kbench";
pub const POOL_PATH: &str = "/var/lib/libvirt/images/kbench";
/// Another bench uploading the same file (two hosts that are one daemon): wait while
/// its volume grows, take over when it stopped growing for this long.
const STALLED_UPLOAD: Duration = Duration::from_secs(30);

/// The sha256 of a local file, from the checksum cache when the file is unchanged (a
/// multi-GB disk costs seconds of CPU to hash, every study).
pub use crate::host::checksum_cache::sha256_of as sha256_file;

/// The pool, defined, built and started when it is missing or stopped. Two hosts of one
/// study may be one daemon: whoever loses the race to define or start it takes the
/// winner's.
pub fn pool(conn: &Connect) -> Result<StoragePool> {
    let pool = match conn.lookup_storage_pool_by_name(POOL) {
        Ok(pool) => pool,
        Err(_) => {
            let xml = format!("<pool type='dir'><name>{POOL}</name><target><path>{POOL_PATH}</path></target></pool>");
            match conn.define_storage_pool_xml(&xml, 0) {
                Ok(pool) => {
                    pool.build(0).with_context(|| format!("cannot create the storage pool's folder {POOL_PATH}"))?;
                    let _ = pool.set_autostart(true);
                    pool
                }
                Err(error) => conn
                    .lookup_storage_pool_by_name(POOL)
                    .map_err(|_| error)
                    .with_context(|| format!("cannot define the storage pool {POOL} ({POOL_PATH})"))?,
            }
        }
    };
    if !pool.is_active().unwrap_or(false) {
        if let Err(error) = pool.create(0) {
            if !pool.is_active().unwrap_or(false) {
                return Err(error).with_context(|| format!("cannot start the storage pool {POOL}"));
            }
        }
    }
    pool.refresh(0).with_context(|| format!("cannot refresh the storage pool {POOL}"))?;
    Ok(pool)
}

/// A file to put into the pool: where it is read, the name its volume is called after,
/// and how a message names it. Usually a file of its own; a composed initrd is read from
/// an in-memory file (`/proc/self/fd/N`) and named after the initrd it stands for.
pub struct Local<'a> {
    pub path: &'a Path,
    pub name: String,
    pub shown: String,
}

impl Local<'_> {
    pub fn file(path: &Path) -> Local<'_> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Local { path, name, shown: path.display().to_string() }
    }
}

/// The volume's name: the file's name (made safe) and the start of its checksum.
pub fn volume_name(local: &Local, sha256: &str) -> String {
    let stem: String =
        local.name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    format!("{}-{}", stem.trim_start_matches('.'), &sha256[..16])
}

/// Whether the pool already holds `local` (by its checksum): the volume's path, if so.
pub fn find(pool: &StoragePool, local: &Local, sha256: &str) -> Result<Option<String>> {
    let name = volume_name(local, sha256);
    let Ok(volume) = pool.lookup_storage_vol_by_name(&name) else { return Ok(None) };
    match recorded_checksum(pool, &name)? {
        Some(recorded) if recorded == sha256 => Ok(Some(volume.path()?)),
        Some(recorded) => bail!(
            "the volume {name} in storage pool {POOL} records sha256 {recorded}, but {} has {sha256}: remove it (virsh vol-delete --pool {POOL} {name}; virsh vol-delete --pool {POOL} {name}.sha256) and run again",
            local.shown
        ),
        None => Ok(None),
    }
}

/// The path, on the pool's host, of a volume holding exactly `local`; uploads it unless
/// the pool has it already.
pub fn ensure(pool: &StoragePool, local: &Local, sha256: &str) -> Result<String> {
    let name = volume_name(local, sha256);
    let mut last_size = None;
    let mut last_growth = Instant::now();
    loop {
        if let Some(path) = find(pool, local, sha256)? {
            mark_used(pool, &name, sha256)?;
            return Ok(path);
        }
        match pool.lookup_storage_vol_by_name(&name) {
            Err(_) => match upload(pool, local, &name, sha256) {
                Ok(path) => return Ok(path),
                // Someone else created it in between: wait for their upload.
                Err(_) if pool.lookup_storage_vol_by_name(&name).is_ok() => {}
                Err(error) => return Err(error),
            },
            Ok(volume) => {
                // Uploading elsewhere, or abandoned half-way (a killed bench).
                let size = volume.info().map(|i| i.allocation).ok();
                if size != last_size {
                    last_size = size;
                    last_growth = Instant::now();
                } else if last_growth.elapsed() > STALLED_UPLOAD {
                    let _ = volume.delete(0);
                    continue;
                }
                std::thread::sleep(Duration::from_secs(1));
                let _ = pool.refresh(0);
            }
        }
    }
}

fn upload(pool: &StoragePool, local: &Local, name: &str, sha256: &str) -> Result<String> {
    let shown = &local.shown;
    let size = std::fs::metadata(local.path).with_context(|| format!("cannot read {shown}"))?.len();
    let volume = create_volume(pool, name, size.max(1))?;
    let conn = pool.connect()?;
    // Before the study's progress bar: a disk image over a slow link takes a while.
    eprintln!(
        "uploading {shown} ({} MiB) into storage pool {POOL} at {} as {name}",
        size.div_ceil(1 << 20),
        conn.uri().unwrap_or_default()
    );
    let result = (|| {
        let mut file = std::fs::File::open(local.path).with_context(|| format!("cannot read {shown}"))?;
        let extents = data_extents(&file, size).with_context(|| format!("cannot read {shown}"))?;
        // A disk image is mostly holes: a sparse stream sends a hole as its length only,
        // and the pool's file gets the same hole.
        let stream = Stream::new(&conn, 0)?;
        volume.upload(&stream, 0, size, virt::sys::VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut at = 0;
        for extent in extents {
            if extent.start > at {
                send_hole(&stream, extent.start - at)?;
            }
            file.seek(SeekFrom::Start(extent.start)).with_context(|| format!("cannot read {shown}"))?;
            let mut left = extent.end - extent.start;
            while left > 0 {
                let want = left.min(buffer.len() as u64) as usize;
                let n = file.read(&mut buffer[..want]).with_context(|| format!("cannot read {shown}"))?;
                if n == 0 {
                    bail!("{shown} got shorter while it was uploaded");
                }
                send_all(&stream, &buffer[..n])?;
                left -= n as u64;
            }
            at = extent.end;
        }
        if size > at {
            send_hole(&stream, size - at)?;
        }
        stream.finish()?;
        // Written last: the volume counts as complete only now.
        create_volume(pool, &format!("{name}.sha256"), 65)?;
        mark_used(pool, name, sha256)?;
        anyhow::Ok(volume.path()?)
    })();
    if result.is_err() {
        let _ = volume.delete(0);
    }
    result.with_context(|| format!("cannot upload {shown} into storage pool {POOL} as {name}"))
}

/// A range of a file that holds data; what lies between two is a hole (reads as zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub start: u64,
    pub end: u64,
}

/// The data of the file's first `size` bytes, as the file system tells (SEEK_DATA,
/// SEEK_HOLE); a file system that cannot tell gives one extent over everything.
pub fn data_extents(file: &std::fs::File, size: u64) -> std::io::Result<Vec<Extent>> {
    use nix::unistd::{lseek, Whence};
    let mut extents = Vec::new();
    let mut at = 0u64;
    while at < size {
        let start = match lseek(file.as_fd(), at as i64, Whence::SeekData) {
            Ok(start) => start as u64,
            // No data after `at`: the rest is a hole.
            Err(nix::errno::Errno::ENXIO) => break,
            Err(nix::errno::Errno::EINVAL) if at == 0 => return Ok(vec![Extent { start: 0, end: size }]),
            Err(errno) => return Err(errno.into()),
        };
        let end = (lseek(file.as_fd(), start as i64, Whence::SeekHole).map_err(std::io::Error::from)? as u64).min(size);
        if start >= size {
            break;
        }
        extents.push(Extent { start, end });
        at = end;
    }
    Ok(extents)
}

/// Sends `length` bytes of hole on a sparse stream. virt 0.5.0 wraps no virStreamSendHole:
/// its C function, on the stream the crate made.
fn send_hole(stream: &Stream, length: u64) -> Result<()> {
    // SAFETY: the stream pointer is valid while `stream` lives; libvirt copies nothing
    // from us but the length.
    let result = unsafe { virt::sys::virStreamSendHole(stream.as_ptr(), length as i64, 0) };
    if result < 0 {
        bail!("the stream took no hole: {}", virt::error::Error::last_error());
    }
    Ok(())
}

/// Writes the sidecar of volume `name` again (same content): its modification time,
/// which the pool reports, says when a study last used the pair.
fn mark_used(pool: &StoragePool, name: &str, sha256: &str) -> Result<()> {
    let record = pool
        .lookup_storage_vol_by_name(&format!("{name}.sha256"))
        .with_context(|| format!("the volume {name}.sha256 in storage pool {POOL} is gone"))?;
    let conn = pool.connect()?;
    let stream = Stream::new(&conn, 0)?;
    record.upload(&stream, 0, 65, 0).with_context(|| format!("cannot write the volume {name}.sha256"))?;
    send_all(&stream, format!("{sha256}\n").as_bytes())?;
    stream.finish().with_context(|| format!("cannot write the volume {name}.sha256"))?;
    Ok(())
}

fn create_volume(pool: &StoragePool, name: &str, capacity: u64) -> Result<StorageVol> {
    let xml = format!(
        "<volume><name>{}</name><capacity unit='bytes'>{capacity}</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>",
        escape(name)
    );
    StorageVol::create_xml(pool, &xml, 0).with_context(|| format!("cannot create the volume {name} in storage pool {POOL}"))
}

fn send_all(stream: &Stream, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        let n = stream.send(bytes)?;
        if n <= 0 {
            bail!("the stream took no data");
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// The checksum the sidecar volume records, if there is one.
fn recorded_checksum(pool: &StoragePool, name: &str) -> Result<Option<String>> {
    let Ok(record) = pool.lookup_storage_vol_by_name(&format!("{name}.sha256")) else { return Ok(None) };
    let conn = pool.connect()?;
    let stream = Stream::new(&conn, 0)?;
    record.download(&stream, 0, 0, 0).with_context(|| format!("cannot read the volume {name}.sha256"))?;
    let mut text = Vec::new();
    let mut buffer = [0u8; 256];
    loop {
        let n = stream.recv(&mut buffer)?;
        if n <= 0 || text.len() > 4096 {
            break;
        }
        text.extend_from_slice(&buffer[..n as usize]);
    }
    let _ = stream.finish();
    Ok(Some(String::from_utf8_lossy(&text).trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_are_safe_and_carry_the_checksum() {
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(volume_name(&Local::file(Path::new("/x/vmlinuz-6.1")), sha), "vmlinuz-6.1-0123456789abcdef");
        assert_eq!(volume_name(&Local::file(Path::new("/x/.a b'<c>")), sha), "a_b__c_-0123456789abcdef");
    }

    #[test]
    fn a_sparse_files_data_is_found_between_its_holes() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("kbench-extents-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sparse");
        let mut file = std::fs::File::create(&path).unwrap();
        let mib = 1u64 << 20;
        file.seek(SeekFrom::Start(4 * mib)).unwrap();
        file.write_all(&[7u8; 4096]).unwrap();
        file.set_len(16 * mib).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let extents = data_extents(&file, 16 * mib).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let covered: u64 = extents.iter().map(|e| e.end - e.start).sum();
        assert!(extents.iter().any(|e| e.start <= 4 * mib && e.end >= 4 * mib + 4096), "{extents:?}");
        assert!(extents.windows(2).all(|w| w[0].end <= w[1].start) && extents.iter().all(|e| e.end <= 16 * mib));
        assert!(covered < 2 * mib, "the holes are skipped: {extents:?}");
    }
}
