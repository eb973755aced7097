//! Finds the static in-guest agent that `scripts/build-agent.sh` builds.
//!
//! Where it looks, in order: `--agent` or KBENCH_AGENT; `bench-agent` beside the `bench`
//! executable (where scripts/install.sh puts it); the target folder next to a `bench` run
//! from its build tree; and the target folder of the checkout `bench` was built from, so
//! that `scripts/build-agent.sh && cargo install --path .` gives a `bench` that finds its
//! agent from anywhere, as long as the checkout stays.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

const BUILD_HINT: &str = "build it with scripts/build-agent.sh (a static binary: the guest has no C library to load), or point --agent / KBENCH_AGENT at one";

/// `explicit` (flag or KBENCH_AGENT) wins; else the places listed above, first found.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        check_static(path)?;
        return Ok(path.to_path_buf());
    }
    let exe = std::env::current_exe().context("cannot find the bench executable's folder")?;
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-gnu/release/bench-agent");
    let candidates = [
        dir.join("bench-agent"),
        dir.join("../x86_64-unknown-linux-gnu/release/bench-agent"),
        dir.join("../../x86_64-unknown-linux-gnu/release/bench-agent"),
        checkout.clone(),
    ];
    for candidate in &candidates {
        if candidate.is_file() && check_static(candidate).is_ok() {
            return Ok(candidate.clone());
        }
    }
    bail!(
        "the guest agent (bench-agent) was found neither beside {} nor in {}: {BUILD_HINT}",
        exe.display(),
        checkout.display()
    )
}

/// A dynamically linked agent would die in a busybox initramfs: refuse it up front.
fn check_static(path: &Path) -> Result<()> {
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
    let phoff = u64::from_le_bytes(elf.get(0x20..0x28)?.try_into().ok()?) as usize;
    let (entsize, count) = (u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    const PT_INTERP: u32 = 3;
    Some((0..count).any(|i| {
        let at = phoff + i * entsize;
        elf.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) == Some(PT_INTERP)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_binary_is_told_apart() {
        let sh = std::fs::read("/bin/sh").unwrap();
        assert_eq!(has_interpreter(&sh), Some(true));
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), None);
    }
}
