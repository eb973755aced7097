//! `reuse = "snapshot"`: the guests saved after a variant's first boot had prepared and
//! warmed up, one per variant, restored by its later rounds. The state files live in the
//! results folder's scratch space (`.scratch/states/<variant>/`): removed when the study
//! ends (and on Ctrl-C, which ends it), and after a `kill -9` by the next `--resume`,
//! which finds none and boots again.

use anyhow::{Context, Result};
use kbench_protocol::BootFacts;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One variant's saved guest.
#[derive(Debug, Clone)]
pub struct SavedState {
    pub dir: PathBuf,
    /// What the guest said when it booted: a restore must say the same (cmdline, kernel,
    /// poisoning), or it is not this variant's guest.
    pub facts: BootFacts,
}

pub struct SavedStates {
    root: PathBuf,
    states: HashMap<String, SavedState>,
}

impl SavedStates {
    pub fn new(scratch: &Path) -> SavedStates {
        SavedStates { root: scratch.join("states"), states: HashMap::new() }
    }

    pub fn get(&self, variant: &str) -> Option<&SavedState> {
        self.states.get(variant)
    }

    /// An empty folder for the variant's state, any earlier one removed.
    pub fn fresh_dir(&mut self, variant: &str) -> Result<PathBuf> {
        self.forget(variant);
        // The variant's name is a plain word (the plan checks it), safe as a folder name.
        let dir = self.root.join(variant);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    pub fn insert(&mut self, variant: &str, state: SavedState) {
        self.states.insert(variant.to_string(), state);
    }

    /// Drops the variant's state (a restore of it failed): its later rounds boot again.
    pub fn forget(&mut self, variant: &str) {
        if let Some(state) = self.states.remove(variant) {
            let _ = std::fs::remove_dir_all(state.dir);
        }
    }
}

impl Drop for SavedStates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
