//! Delivers the agent to the guest as [`AGENT_PATH`] by appending a small cpio archive to
//! the guest's initrd: Linux unpacks concatenated archives in order, later files winning.
//!
//! Not as `/init`: that would replace a distribution initrd's own /init (initramfs-tools)
//! and leave its modules unreachable by name. Under its own path, started with
//! `rdinit=` (see `scenario::plan::KBENCH_CMDLINE`), the agent is PID 1 in any initramfs
//! (a busybox one, Debian's, none at all) and can use what that initramfs holds.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Where the agent lands in the guest's initramfs.
pub const AGENT_PATH: &str = "/kbench/agent";

/// Writes `base` (if any), zero padding to a 4-byte boundary (the kernel only looks for
/// a following archive there), then a newc archive holding the agent as [`AGENT_PATH`].
pub fn with_agent(base: Option<&Path>, agent: &Path, out: &Path) -> Result<()> {
    let image = compose(base, agent)?;
    let mut file = std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    file.write_all(&image).with_context(|| format!("cannot write {}", out.display()))
}

/// What [`with_agent`] writes, in memory.
pub fn compose(base: Option<&Path>, agent: &Path) -> Result<Vec<u8>> {
    let agent_bytes = std::fs::read(agent).with_context(|| format!("cannot read the agent {}", agent.display()))?;
    let mut image = match base {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read initrd {}", path.display()))?,
        None => Vec::new(),
    };
    image.resize(image.len().next_multiple_of(4), 0);
    let (folder, _) = AGENT_PATH.trim_start_matches('/').rsplit_once('/').expect("AGENT_PATH has a folder");
    append_newc(&mut image, 1, folder, 0o040755, &[]);
    append_newc(&mut image, 2, AGENT_PATH.trim_start_matches('/'), 0o100755, &agent_bytes);
    append_newc(&mut image, 0, "TRAILER!!!", 0, &[]);
    Ok(image)
}

/// One entry in the "newc" cpio format (see the kernel's Documentation/driver-api/early-userspace).
fn append_newc(image: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}{z:08x}{z:08x}{z:08x}{z:08x}{namesize:08x}{z:08x}",
        uid = 0,
        gid = 0,
        nlink = 1,
        mtime = 0,
        size = data.len(),
        z = 0,
        namesize = name.len() + 1,
    );
    image.extend_from_slice(header.as_bytes());
    image.extend_from_slice(name.as_bytes());
    image.push(0);
    image.resize(image.len().next_multiple_of(4), 0);
    image.extend_from_slice(data);
    image.resize(image.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appended_archive_is_read_back_by_cpio() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::write(&base, b"abc").unwrap();
        let agent = dir.path().join("agent");
        std::fs::write(&agent, b"#!/bin/sh\necho agent\n").unwrap();
        let out = dir.path().join("initrd");
        with_agent(Some(&base), &agent, &out).unwrap();
        let image = std::fs::read(&out).unwrap();
        assert_eq!(&image[..4], b"abc\0");
        assert_eq!(&image[4..10], b"070701");
        // The real cpio tool must list and extract what we wrote.
        let listing = std::process::Command::new("cpio")
            .args(["-i", "--to-stdout", "kbench/agent"])
            .stdin(
                std::fs::File::open(&out)
                    .map(|mut f| {
                        use std::io::{Seek, SeekFrom};
                        f.seek(SeekFrom::Start(4)).unwrap();
                        f
                    })
                    .unwrap(),
            )
            .output()
            .expect("cpio is installed (scripts/install-deps.sh)");
        assert_eq!(listing.stdout, b"#!/bin/sh\necho agent\n");
        // The guest starts what we deliver, not the initrd's own /init.
        assert!(crate::scenario::plan::KBENCH_CMDLINE.split(' ').any(|o| o == format!("rdinit={AGENT_PATH}")));
    }
}
