//! The scenario of a kernel bump: every variant V of a scenario twice, as `old.V` with the
//! old kernel and `new.V` with the new one, in one study whose boots interleave.
//!
//! Built from the parsed TOML (`toml::Table`), never from its lines: every value comes
//! back exactly as the scenario wrote it (multi-line strings, quoted keys, inline
//! tables); only comments are lost, which is fine for a generated file. The file is
//! written into the bump's own folder, so every path the scenario names relative to its
//! folder is made absolute.

use crate::scenario::file::ScenarioFile;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// One side of the bump: its variant-name prefix, its kernel, and what it adds.
#[derive(Debug, Clone)]
pub struct Side {
    /// `old.` or `new.`: the prefix `bench split` cuts the study at.
    pub prefix: String,
    /// None: the scenario's own kernel (`bench bisect --options`).
    pub kernel: Option<PathBuf>,
    /// The initrd of the side's variants that name none of their own.
    pub initrd: Option<PathBuf>,
    /// Kernel options added to every variant of the side (say a boot option the bump
    /// turns on); empty for none.
    pub cmdline: String,
}

/// The paired scenario as TOML text. `base` is the original scenario's folder, which its
/// relative paths start at; `seed` orders the boots when the scenario gives none (written
/// into the file, so the bump's order is in its scenario, not only in meta.json).
pub fn paired_scenario(text: &str, base: &Path, sides: &[Side; 2], seed: u64) -> Result<String> {
    // The scenario's own errors first, worded as `bench run` words them.
    toml::from_str::<ScenarioFile>(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut table: Table = text.parse().context("not a TOML file")?;
    absolutize_paths(&mut table, base)?;
    let variants = match table.remove("variant") {
        Some(Value::Array(variants)) if !variants.is_empty() => variants,
        _ => bail!("no [[variant]]: a bump measures each variant with both kernels"),
    };
    let mut paired = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let Value::Table(variant) = variant else { bail!("variant[{index}] is not a table") };
        for side in sides {
            paired.push(Value::Table(side_variant(variant, side, index)?));
        }
    }
    let first = paired.first().and_then(|v| v.get("name")).and_then(Value::as_str).unwrap_or_default().to_string();
    let baseline = match table.get("baseline") {
        Some(Value::String(name)) => format!("{}{name}", sides[0].prefix),
        Some(_) => bail!("key `baseline` is not a string"),
        None => first,
    };
    table.insert("baseline".into(), Value::String(baseline));
    table.insert("variant".into(), Value::Array(paired));
    let random = matches!(table.get("order").and_then(Value::as_str), None | Some("random"));
    if random && !table.contains_key("seed") {
        table.insert("seed".into(), Value::Integer(seed as i64 & i64::MAX));
    }
    toml::to_string(&table).context("cannot write the bump's scenario")
}

/// A variant of one side: renamed with the side's prefix, with the side's kernel (and
/// initrd) unless it names its own, and the side's options after its own.
fn side_variant(variant: &Table, side: &Side, index: usize) -> Result<Table> {
    let mut copy = variant.clone();
    let Some(Value::String(name)) = variant.get("name") else { bail!("variant[{index}] has no name") };
    copy.insert("name".into(), Value::String(format!("{}{name}", side.prefix)));
    if let (false, Some(kernel)) = (copy.contains_key("kernel"), &side.kernel) {
        copy.insert("kernel".into(), path_value(kernel)?);
    }
    if let (false, Some(initrd)) = (copy.contains_key("initrd"), &side.initrd) {
        copy.insert("initrd".into(), path_value(initrd)?);
    }
    let extra = side.cmdline.trim();
    if !extra.is_empty() {
        let own = match copy.get("cmdline") {
            Some(Value::String(own)) => own.trim().to_string(),
            Some(_) => bail!("key `variant[{index}].cmdline` is not a string"),
            None => String::new(),
        };
        let joined = if own.is_empty() { extra.to_string() } else { format!("{own} {extra}") };
        copy.insert("cmdline".into(), Value::String(joined));
    }
    Ok(copy)
}

/// Every key `scenario::plan` reads as a file relative to the scenario's folder.
pub fn absolutize_paths(table: &mut Table, base: &Path) -> Result<()> {
    if let Some(Value::Table(guest)) = table.get_mut("guest") {
        for key in ["kernel", "initrd", "disk"] {
            absolutize(guest, key, base)?;
        }
    }
    if let Some(Value::Array(variants)) = table.get_mut("variant") {
        for variant in variants.iter_mut().filter_map(Value::as_table_mut) {
            for key in ["kernel", "initrd"] {
                absolutize(variant, key, base)?;
            }
        }
    }
    // A kernel build's config is a make target or a file; only an existing file moves.
    if let Some(Value::Table(workload)) = table.get_mut("workload") {
        if let Some(Value::String(config)) = workload.get("config") {
            if base.join(config.trim()).is_file() {
                absolutize(workload, "config", base)?;
            }
        }
    }
    Ok(())
}

fn absolutize(table: &mut Table, key: &str, base: &Path) -> Result<()> {
    if let Some(Value::String(path)) = table.get(key) {
        let absolute = std::path::absolute(base.join(path)).with_context(|| format!("cannot resolve {path}"))?;
        table.insert(key.into(), path_value(&absolute)?);
    }
    Ok(())
}

fn path_value(path: &Path) -> Result<Value> {
    let absolute = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    match absolute.to_str() {
        Some(text) => Ok(Value::String(text.to_string())),
        None => bail!("{} is not UTF-8: a scenario names its files in UTF-8", absolute.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sides() -> [Side; 2] {
        [
            Side { prefix: "old.".into(), kernel: Some("/k/old".into()), initrd: None, cmdline: String::new() },
            Side { prefix: "new.".into(), kernel: Some("/k/new".into()), initrd: Some("/k/new.img".into()), cmdline: "slow".into() },
        ]
    }

    const SCENARIO: &str = r#"name = "fake"
baseline = "off"  # the reference
[guest]
kernel = "k"
disk = "/images/root.ext4"
root = { device = "/dev/vdb", options = "ro" }

[[variant]]
"name" = "off"

[[variant]]
name = 'poison'
cmdline = "slub_debug=P"

[[variant]]
name = "own"
kernel = "mine"
initrd = "mine.img"

[workload]
kind = "command"
command = '''
make
[x]
[[variant]]
name = "not a variant"
'''
clean = """tab\there "quoted" \\ end"""
"#;

    #[test]
    fn every_value_survives_and_each_variant_appears_once_per_side() {
        let text = paired_scenario(SCENARIO, Path::new("/scen"), &sides(), 42).unwrap();
        let paired: Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
        let original: Table = SCENARIO.parse().unwrap();
        // Untouched values come back exactly: the multi-line command with its `[x]` and
        // `[[variant]]` lines, the escapes, the inline table (and the quoted key `"name"` is read as a name).
        assert_eq!(paired["workload"], original["workload"], "{text}");
        assert_eq!(paired["guest"]["root"], original["guest"]["root"]);
        assert_eq!(paired["guest"]["disk"].as_str(), Some("/images/root.ext4"));
        assert_eq!(paired["guest"]["kernel"].as_str(), Some("/scen/k"), "relative paths start at the scenario's folder");
        assert_eq!(paired["baseline"].as_str(), Some("old.off"));
        assert_eq!(paired["seed"].as_integer(), Some(42));
        let variants = paired["variant"].as_array().unwrap();
        let field = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let names: Vec<_> = variants.iter().map(|v| field(v, "name").unwrap()).collect();
        assert_eq!(names, ["old.off", "new.off", "old.poison", "new.poison", "old.own", "new.own"]);
        assert_eq!(field(&variants[0], "kernel").as_deref(), Some("/k/old"));
        assert_eq!(field(&variants[0], "initrd"), None, "the old side keeps the guest's initrd");
        assert_eq!(field(&variants[1], "kernel").as_deref(), Some("/k/new"));
        assert_eq!(field(&variants[1], "initrd").as_deref(), Some("/k/new.img"));
        assert_eq!(field(&variants[1], "cmdline").as_deref(), Some("slow"));
        assert_eq!(field(&variants[3], "cmdline").as_deref(), Some("slub_debug=P slow"));
        assert_eq!(field(&variants[2], "cmdline").as_deref(), Some("slub_debug=P"));
        // A variant with a kernel of its own keeps it on both sides (an A/A check).
        for own in &variants[4..] {
            assert_eq!(field(own, "kernel").as_deref(), Some("/scen/mine"));
            assert_eq!(field(own, "initrd").as_deref(), Some("/scen/mine.img"));
        }
        // What `bench run` reads, it reads the same.
        let file: ScenarioFile = toml::from_str(&text).unwrap();
        assert_eq!(file.variants.len(), 6);
        let crate::scenario::file::WorkloadSection::Command { command, .. } = file.workload else { panic!() };
        assert_eq!(command, "make\n[x]\n[[variant]]\nname = \"not a variant\"\n");
    }

    #[test]
    fn a_given_seed_or_order_is_kept_and_a_broken_scenario_is_refused() {
        let seeded = SCENARIO.replace("baseline = \"off\"", "seed = 7\nbaseline = \"off\"");
        let text = paired_scenario(&seeded, Path::new("/scen"), &sides(), 42).unwrap();
        assert_eq!(text.parse::<Table>().unwrap()["seed"].as_integer(), Some(7));
        let alternate = SCENARIO.replace("baseline = \"off\"", "order = \"alternate\"\nbaseline = \"off\"");
        let text = paired_scenario(&alternate, Path::new("/scen"), &sides(), 42).unwrap();
        assert!(!text.parse::<Table>().unwrap().contains_key("seed"), "alternate takes no seed");
        let no_variant = "name = \"n\"\n[guest]\nkernel = \"k\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n";
        assert!(paired_scenario(no_variant, Path::new("/"), &sides(), 1).unwrap_err().to_string().contains("no [[variant]]"));
        assert!(paired_scenario("name = \"n\"\nbogus = 1\n", Path::new("/"), &sides(), 1).is_err());
    }
}
