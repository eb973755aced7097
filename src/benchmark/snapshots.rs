//! `reuse = "snapshot"`: the guests saved after a variant's first boots (`snapshots` of
//! them) had prepared and warmed up, restored in turn by its later rounds. The state files
//! live in the results folder's scratch space (`.scratch/states/[<host>/]<variant>.<slot>/`;
//! through libvirt only a pointer to the state file the lab host keeps): removed when the study
//! ends (and on Ctrl-C, which ends it), and after a `kill -9` by the next `--resume`,
//! which finds none and boots again.

use anyhow::{Context, Result};
use kbench_protocol::BootFacts;
use std::collections::{HashMap, HashSet};
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
    /// Slots whose restore failed: their rounds boot and measure, without saving again.
    given_up: HashSet<String>,
}

impl SavedStates {
    /// The states of one host's block (`host`, empty for a study without `[[host]]`):
    /// the hosts of a fleet save and drop theirs apart.
    pub fn new(scratch: &Path, host: &str) -> SavedStates {
        let states = scratch.join("states");
        SavedStates { root: if host.is_empty() { states } else { states.join(host) }, states: HashMap::new(), given_up: HashSet::new() }
    }

    pub fn get(&self, slot: &str) -> Option<&SavedState> {
        self.states.get(slot)
    }

    /// An empty folder for the state of `slot` (`<variant>.<index>`), any earlier one removed.
    pub fn fresh_dir(&mut self, slot: &str) -> Result<PathBuf> {
        self.forget(slot);
        // A variant's name is a plain word (the plan checks it): the slot is a safe folder name.
        let dir = self.root.join(slot);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    pub fn insert(&mut self, slot: &str, state: SavedState) {
        self.states.insert(slot.to_string(), state);
    }

    /// A restore of the slot's state failed: its rounds boot and measure from now on (a
    /// guest saved again might fail again, and each failure costs a boot).
    pub fn give_up(&mut self, slot: &str) {
        self.forget(slot);
        self.given_up.insert(slot.to_string());
    }

    /// Whether a boot for `slot` may save its guest.
    pub fn may_save(&self, slot: &str) -> bool {
        !self.given_up.contains(slot)
    }

    /// Drops a slot's state (it could not be saved): the rounds that would restore it boot.
    pub fn forget(&mut self, slot: &str) {
        if let Some(state) = self.states.remove(slot) {
            let _ = std::fs::remove_dir_all(state.dir);
        }
    }
}

impl Drop for SavedStates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
