//! `bench bundle RESULTS -o repro.tar.gz`: what it takes to measure a study again on
//! another machine, in one file; and `bench run --from-bundle FILE`, which unpacks it,
//! checks every kernel, initrd and disk against the checksums the study measured, and
//! runs it.
//!
//! The bundle holds the scenario as run (every path absolute, or, with --with-kernels,
//! `files/…` inside the bundle; the seed written in, so the boots come in the same
//! order), meta.json, SHA256SUMS, VERSION (kbench's) and a README with the commands.

use super::bump::pair::absolutize_paths;
use super::EXIT_OK;
use crate::benchmark::study_meta::file_facts;
use crate::commands::cli::BundleArgs;
use crate::model::Meta;
use crate::results::meta_json::read_meta;
use anyhow::{bail, Context, Result};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

const CHECKSUMS: &str = "SHA256SUMS";
const SCENARIO: &str = "scenario.toml";
/// Where --with-kernels puts the kernels and initrds, relative to the scenario.
const FILES: &str = "files";

pub fn bundle(args: &BundleArgs) -> Result<u8> {
    let dir = &args.results;
    let meta = read_meta(&dir.join("meta.json")).with_context(|| format!("{} is not a results folder of bench run", dir.display()))?;
    let text = std::fs::read_to_string(dir.join(SCENARIO)).with_context(|| format!("cannot read {}", dir.join(SCENARIO).display()))?;
    let base = Path::new(&meta.scenario_file).parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut table: Table = text.parse().with_context(|| format!("{}: not TOML", dir.join(SCENARIO).display()))?;
    absolutize_paths(&mut table, &base)?;
    let files = bundled_files(&mut table, &meta, args.with_kernels)?;
    pin_seed(&mut table, &meta);
    let scenario = format!(
        "# The scenario of {} as it ran (kbench {}), for `bench run --from-bundle`.\n{}",
        dir.display(),
        meta.kbench_version,
        toml::to_string(&table).context("cannot write the bundle's scenario")?
    );
    let mut sums = String::new();
    for file in &files {
        let _ = writeln!(sums, "{}  {}", file.sha256, file.name);
    }
    let meta_json = std::fs::read(dir.join("meta.json")).with_context(|| format!("cannot read {}", dir.join("meta.json").display()))?;
    let out = std::fs::File::create(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::default()));
    let readme = readme(&meta, &args.output, &files, args.with_kernels);
    for (name, bytes) in [
        (SCENARIO, scenario.as_bytes()),
        ("meta.json", meta_json.as_slice()),
        (CHECKSUMS, sums.as_bytes()),
        ("VERSION", format!("kbench {}\n", env!("CARGO_PKG_VERSION")).as_bytes()),
        ("README.md", readme.as_bytes()),
    ] {
        append_bytes(&mut tar, name, bytes)?;
    }
    for file in files.iter().filter(|f| f.packed) {
        tar.append_path_with_name(&file.source, &file.name).with_context(|| format!("cannot pack {}", file.source.display()))?;
    }
    let encoder = tar.into_inner().context("cannot finish the bundle")?;
    encoder.finish().with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "bundle: {} ({} files checked by sha256{})",
        args.output.display(),
        files.len(),
        if args.with_kernels { ", kernels and initrds inside" } else { "" }
    );
    Ok(EXIT_OK)
}

/// A file the study read: where it is, what the bundle calls it, and its measured sha256.
struct BundledFile {
    source: PathBuf,
    /// The path the bundle's scenario names (absolute, or `files/…` when packed).
    name: String,
    sha256: String,
    packed: bool,
}

/// Every variant gets its kernel and initrd spelled out (the ones meta.json measured),
/// each checked against meta.json's sha256; with `pack`, moved to `files/`.
fn bundled_files(table: &mut Table, meta: &Meta, pack: bool) -> Result<Vec<BundledFile>> {
    let mut files: Vec<BundledFile> = Vec::new();
    let mut add = |path: &str, sha256: &str, what: &str| -> Result<String> {
        if let Some(known) = files.iter().find(|f| f.source == Path::new(path)) {
            return Ok(known.name.clone());
        }
        let source = PathBuf::from(path);
        let name = match (pack, source.file_name()) {
            (true, Some(file)) => format!("{FILES}/{}-{}", &sha256[..sha256.len().min(12)], file.to_string_lossy()),
            _ => path.to_string(),
        };
        if pack {
            let now = file_facts(&source).with_context(|| format!("cannot pack the {what}"))?;
            if now.sha256 != sha256 {
                bail!("the {what} {path} changed since the study measured it (sha256 {}, the study's {sha256}): the bundle would not reproduce it", now.sha256);
            }
        }
        files.push(BundledFile { source, name: name.clone(), sha256: sha256.to_string(), packed: pack });
        Ok(name)
    };
    // The scenario's paths, made absolute against its folder: meta.json's may be relative
    // to wherever the study was started.
    let guest = table.get("guest").and_then(Value::as_table).cloned().unwrap_or_default();
    let guest_path = |key: &str| guest.get(key).and_then(Value::as_str).map(str::to_string);
    let Some(Value::Array(variants)) = table.get_mut("variant") else { bail!("the study's scenario has no [[variant]]") };
    for variant in variants.iter_mut().filter_map(Value::as_table_mut) {
        let name = variant.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let facts = meta.variants.iter().find(|v| v.name == name).with_context(|| format!("meta.json has no variant {name:?}"))?;
        let own = |key: &str| variant.get(key).and_then(Value::as_str).map(str::to_string).or_else(|| guest_path(key));
        let (kernel_path, initrd_path) = (own("kernel"), own("initrd"));
        let kernel_path = kernel_path.with_context(|| format!("variant {name} has no kernel"))?;
        let kernel = add(&kernel_path, &facts.kernel.sha256, &format!("kernel of {name}"))?;
        variant.insert("kernel".into(), Value::String(kernel));
        if let (Some(path), Some(initrd)) = (initrd_path, &facts.initrd) {
            let initrd = add(&path, &initrd.sha256, &format!("initrd of {name}"))?;
            variant.insert("initrd".into(), Value::String(initrd));
        }
    }
    // The disk stays where it is (images are large): its checksum goes along.
    if let (Some(path), Some(disk)) = (guest_path("disk"), &meta.guest.disk) {
        files.push(BundledFile { source: PathBuf::from(&path), name: path, sha256: disk.sha256.clone(), packed: false });
    }
    Ok(files)
}

/// The seed the study drew from the clock, written in: the same boots in the same order.
fn pin_seed(table: &mut Table, meta: &Meta) {
    let random = matches!(table.get("order").and_then(Value::as_str), None | Some("random"));
    if let (true, false, Some(seed)) = (random, table.contains_key("seed"), meta.design.as_ref().and_then(|d| d.seed)) {
        table.insert("seed".into(), Value::Integer(seed as i64 & i64::MAX));
    }
}

fn append_bytes<W: std::io::Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes).with_context(|| format!("cannot pack {name}"))
}

fn readme(meta: &Meta, output: &Path, files: &[BundledFile], packed: bool) -> String {
    let bundle = output.file_name().map_or("repro.tar.gz".into(), |n| n.to_string_lossy().into_owned());
    let design = meta.design.as_ref().map_or(String::new(), |d| {
        format!("{} rounds, {} order{}", d.rounds, d.order, d.seed.map_or(String::new(), |s| format!(", seed {s}")))
    });
    let mut text = format!(
        "# Measure {scenario} again\n\nA study of kbench {version}, started {started} on {cpu} ({accel}, {qemu}): \
{runs} runs a variant and level; {design}.\n\n```sh\n# kbench {version}: cargo build --release && scripts/build-agent.sh\nbench run --from-bundle {bundle}\n```\n\n\
`bench run --from-bundle` unpacks the bundle beside the results, checks every file below against its sha256 \
(a changed kernel, initrd or disk is refused, exit 2) and runs the scenario as it ran here. \
Compare the new results with the old ones: `bench compare OLD_RESULTS NEW_RESULTS`.\n\n",
        scenario = meta.scenario,
        version = meta.kbench_version,
        started = meta.started_at,
        cpu = meta.host.cpu_model,
        accel = meta.hypervisor.accel,
        qemu = meta.hypervisor.version,
        runs = meta.runs,
    );
    if meta.variants.iter().all(|v| v.name.starts_with("old.") || v.name.starts_with("new.")) {
        let _ = writeln!(
            text,
            "A kernel bump (`bench bump`): split the rerun and compare its halves:\n\n```sh\nbench split RESULTS/{}/latest old.=old new.=new && bench compare old new\n```\n",
            meta.scenario
        );
    }
    text += if packed {
        "The kernels and initrds are inside (`files/`); the disk image is not:\n\n"
    } else {
        "These files must be at these paths (copy them there first):\n\n"
    };
    for file in files {
        let _ = writeln!(text, "- `{}` sha256 `{}`", file.name, file.sha256);
    }
    text
}

/// `bench run --from-bundle FILE`: the bundle unpacked into a new folder under `results`,
/// every file checked; the scenario to run.
pub fn unpack(bundle: &Path, results: &Path) -> Result<PathBuf> {
    let stem = bundle.file_name().map_or("bundle".into(), |n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string());
    let dir = results.join("bundles").join(format!("{stem}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = std::fs::File::open(bundle).with_context(|| format!("cannot open the bundle {}", bundle.display()))?;
    // tar's unpack refuses entries that would land outside `dir` (`..`, absolute paths).
    tar::Archive::new(GzDecoder::new(file))
        .unpack(&dir)
        .with_context(|| format!("{} is not a bundle of bench bundle", bundle.display()))?;
    if let Err(error) = check_sums(bundle, &dir) {
        // Nothing runs from it: the unpacked copy goes too.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(error);
    }
    eprintln!("bundle: {} unpacked into {}, every file's sha256 checked", bundle.display(), dir.display());
    Ok(dir.join(SCENARIO))
}

/// Every file SHA256SUMS names (relative ones inside the unpacked bundle) has its sha256.
fn check_sums(bundle: &Path, dir: &Path) -> Result<()> {
    let sums = std::fs::read_to_string(dir.join(CHECKSUMS))
        .with_context(|| format!("{} has no {CHECKSUMS}: not a bundle of bench bundle", bundle.display()))?;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let Some((sha256, name)) = line.split_once("  ") else { bail!("{CHECKSUMS} of {}: unreadable line {line:?}", bundle.display()) };
        let now = file_facts(&dir.join(name)).with_context(|| format!("the bundle needs {name} (sha256 {sha256})"))?;
        if now.sha256 != sha256 {
            bail!("{name} is not the file the study measured: its sha256 is {}, the bundle's {sha256}; put the original there (or bundle with --with-kernels)", now.sha256);
        }
    }
    Ok(())
}
