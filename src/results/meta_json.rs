//! meta.json, read back (`ResultsDir::write_meta` writes it while a study runs).

use super::bounded::read_regular_file;
use crate::model::Meta;
use anyhow::{Context, Result};
use std::path::Path;

/// More than any study's meta.json (a few KiB a boot).
const MAX_META_JSON_BYTES: u64 = 256 << 20;

pub fn read_meta(path: &Path) -> Result<Meta> {
    let bytes = read_regular_file(path, MAX_META_JSON_BYTES, "meta.json is written by `bench run`")?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a kbench meta.json", path.display()))
}
