//! meta.json, read back (`ResultsDir::write_meta` writes it while a study runs).

use crate::model::Meta;
use anyhow::{Context, Result};
use std::path::Path;

pub fn read_meta(path: &Path) -> Result<Meta> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a kbench meta.json", path.display()))
}
