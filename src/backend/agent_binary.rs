//! Finds the static in-guest agent that `scripts/build-agent.sh` builds.
//!
//! Where it looks, in order: `--agent` or KBENCH_AGENT; `bench-agent` beside the `bench`
//! executable (where scripts/install.sh puts it); the target folder next to a `bench` run
//! from its build tree; and the target folder of the checkout `bench` was built from, so
//! that `scripts/build-agent.sh && cargo install --path .` gives a `bench` that finds its
//! agent from anywhere, as long as the checkout stays.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

const BUILD_HINT: &str =
    "build it with scripts/build-agent.sh (a static binary: the guest has no C library to load), or point --agent / KBENCH_AGENT at one";

/// Where scripts/build-agent.sh puts the agent, under a cargo target folder.
const AGENT_IN_TARGET: &str = "x86_64-unknown-linux-gnu/release/bench-agent";

/// `explicit` (flag or KBENCH_AGENT) wins; else beside the `bench` binary, else in the
/// target folder it was built in, else in `$CARGO_TARGET_DIR`, else in the checkout's.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        check_static(path)?;
        return Ok(path.to_path_buf());
    }
    let exe = std::env::current_exe().context("cannot find the bench executable's folder")?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(AGENT_IN_TARGET);
    let mut places = candidates(&dir, target_dir.as_deref());
    places.push(checkout.clone());
    places.into_iter().find(|candidate| candidate.is_file() && check_static(candidate).is_ok()).with_context(|| {
        let also = target_dir.map(|t| format!(", in CARGO_TARGET_DIR ({})", t.display())).unwrap_or_default();
        format!(
            "the guest agent (bench-agent) was found neither beside {}{also} nor in {}: {BUILD_HINT}",
            exe.display(),
            checkout.display()
        )
    })
}

/// `exe_dir` is `<target>/release` or `<target>/debug` (or `<target>/debug/deps` for tests);
/// cargo honours CARGO_TARGET_DIR, so an installed `bench` finds the agent there.
fn candidates(exe_dir: &Path, cargo_target_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut candidates =
        vec![exe_dir.join("bench-agent"), exe_dir.join("..").join(AGENT_IN_TARGET), exe_dir.join("../..").join(AGENT_IN_TARGET)];
    if let Some(target) = cargo_target_dir {
        candidates.push(target.join(AGENT_IN_TARGET));
    }
    candidates
}

/// A dynamically linked agent would die in a busybox initramfs: refuse it up front.
fn check_static(path: &Path) -> Result<()> {
    // A device or a runaway file is no agent, and is not read until memory runs out.
    const MAX_AGENT_BYTES: u64 = 256 << 20;
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read the agent {}: {BUILD_HINT}", path.display()))?;
    if !metadata.is_file() || metadata.len() > MAX_AGENT_BYTES {
        bail!("{} is not an agent (not a regular file of at most {} MiB): {BUILD_HINT}", path.display(), MAX_AGENT_BYTES >> 20);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the agent {}: {BUILD_HINT}", path.display()))?;
    match has_interpreter(&bytes) {
        None => bail!("{} is not a 64-bit ELF executable: {BUILD_HINT}", path.display()),
        Some(true) => bail!("{} is dynamically linked: {BUILD_HINT}", path.display()),
        Some(false) => Ok(()),
    }
}

/// Whether an ELF64 file asks for a program interpreter (PT_INTERP), i.e. is dynamic.
fn has_interpreter(elf: &[u8]) -> Option<bool> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let phoff = usize::try_from(u64::from_le_bytes(elf.get(0x20..0x28)?.try_into().ok()?)).ok()?;
    let (entsize, count) = (u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    const PT_INTERP: u32 = 3;
    // The offsets come from the file: a header pointing past its end is no executable.
    let mut types = Vec::with_capacity(count);
    for i in 0..count {
        let at = phoff.checked_add(i.checked_mul(entsize)?)?;
        let bytes = elf.get(at..at.checked_add(4)?)?;
        types.push(u32::from_le_bytes(bytes.try_into().ok()?));
    }
    Some(types.contains(&PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest file `has_interpreter` calls static: an ELF64 header, no program headers.
    fn fake_static_agent(path: &Path) {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, elf).unwrap();
    }

    #[test]
    fn the_agent_is_found_in_cargo_target_dir() {
        let target = tempfile::tempdir().unwrap();
        let installed = tempfile::tempdir().unwrap();
        let agent = target.path().join(AGENT_IN_TARGET);
        fake_static_agent(&agent);
        let found = |target_dir: Option<&Path>| {
            candidates(installed.path(), target_dir).into_iter().find(|c| c.is_file() && check_static(c).is_ok())
        };
        assert_eq!(found(Some(target.path())), Some(agent.clone()));
        assert_eq!(found(None), None, "not without CARGO_TARGET_DIR: {:?}", candidates(installed.path(), None));
        // bench itself built into that folder (cargo build with CARGO_TARGET_DIR set).
        std::fs::create_dir(target.path().join("release")).unwrap();
        assert_eq!(
            candidates(&target.path().join("release"), None).into_iter().find(|c| c.is_file()).map(|c| c.canonicalize().unwrap()),
            Some(agent.canonicalize().unwrap())
        );
    }

    #[test]
    fn a_dynamic_binary_is_told_apart() {
        let sh = std::fs::read("/bin/sh").unwrap();
        assert_eq!(has_interpreter(&sh), Some(true));
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn program_headers_pointing_anywhere_are_no_executable() {
        let header = |phoff: u64, entsize: u16, count: u16| {
            let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
            elf.resize(64, 0);
            elf[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
            elf[0x36..0x38].copy_from_slice(&entsize.to_le_bytes());
            elf[0x38..0x3a].copy_from_slice(&count.to_le_bytes());
            elf
        };
        assert_eq!(has_interpreter(&header(u64::MAX, 56, 2)), None);
        assert_eq!(has_interpreter(&header(u64::MAX - 3, 0, 1)), None);
        assert_eq!(has_interpreter(&header(40, u16::MAX, u16::MAX)), None);
        assert_eq!(has_interpreter(&header(0, 56, 0)), Some(false));
        let error = format!("{:#}", check_static(Path::new("/dev/zero")).unwrap_err());
        assert!(error.contains("not a regular file"), "{error}");
    }
}
