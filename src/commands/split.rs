//! `bench split STUDY PREFIX=FOLDER...`: one study → a results folder per part (say per
//! kernel), so that kernels measured interleaved in one study are compared like any two
//! results (`bench bump` does it for a kernel bump).

use super::compare::resolved;
use super::EXIT_OK;
use crate::commands::cli::SplitArgs;
use crate::model::{study_part, unclaimed};
use crate::report::study::write_reports;
use crate::results::folder::write_study;
use crate::results::side::read_side;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub fn split(args: &SplitArgs) -> Result<u8> {
    let parts = parse_parts(&args.parts)?;
    let study = read_side(&args.study)?;
    let prefixes: Vec<&str> = parts.iter().map(|(prefix, _)| prefix.as_str()).collect();
    let variants = study.variants();
    let stray = unclaimed(variants.iter().copied(), &prefixes);
    if !stray.is_empty() && !args.allow_unclaimed {
        bail!(
            "{}: no part claims the variants {}; add a PREFIX=FOLDER for them, or --allow-unclaimed to leave them out",
            args.study.display(),
            stray.join(", ")
        );
    }
    if let Some(whole) = variants.iter().find(|v| prefixes.contains(v)) {
        bail!("{whole:?} is a whole variant name, not a prefix: its part would have a variant with no name; give the prefix its parts share, e.g. old. for old.off and old.poison");
    }
    refuse_clashing_folders(&args.study, &parts)?;
    // Every part is checked before the first is written: a refusal leaves nothing behind.
    let mut split = Vec::new();
    for (prefix, folder) in &parts {
        let (records, meta) = study_part(&study.records, study.meta.as_ref(), prefix, &prefixes);
        if records.is_empty() {
            bail!(
                "{prefix}={}: {} has no variant named {prefix}… (it has {})",
                folder.display(),
                args.study.display(),
                variants.join(", ")
            );
        }
        if folder.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
            bail!("{prefix}={}: the folder is not empty: give a new folder for the part (kbench does not mix studies)", folder.display());
        }
        split.push((prefix, folder, records, meta));
    }
    for (prefix, folder, records, meta) in split {
        write_study(folder, &records, meta.as_ref())?;
        write_reports(folder, &records, meta.as_ref(), &args.report.options())?;
        println!("{prefix}: {} runs → {}", records.len(), folder.display());
    }
    Ok(EXIT_OK)
}

/// Refuses a part's folder that is the study's own, inside it or around it, or shared
/// with another part (or inside or around it): writing one would overwrite the other.
fn refuse_clashing_folders(study: &Path, parts: &[(String, PathBuf)]) -> Result<()> {
    let study_folder = if study.is_dir() { study.to_path_buf() } else { study.parent().unwrap_or(Path::new(".")).to_path_buf() };
    let study_folder = resolved(&study_folder);
    let folders: Vec<PathBuf> = parts.iter().map(|(_, folder)| resolved(folder)).collect();
    let nested = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    for (i, ((prefix, given), folder)) in parts.iter().zip(&folders).enumerate() {
        if nested(folder, &study_folder) {
            bail!(
                "{prefix}={}: that is the study's own folder {} (or inside or around it): give a new folder for the part",
                given.display(),
                study_folder.display()
            );
        }
        if let Some(((other, other_given), _)) = parts.iter().zip(&folders).take(i).find(|(_, earlier)| nested(folder, earlier)) {
            bail!(
                "{prefix}={} and {other}={}: two parts in one folder (or one inside the other): give each part a folder of its own",
                given.display(),
                other_given.display()
            );
        }
    }
    Ok(())
}

/// `old.=results/old`: a prefix, `=`, a folder; a prefix may not be another's beginning,
/// or a variant would belong to two parts.
fn parse_parts(parts: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut parsed: Vec<(String, PathBuf)> = Vec::new();
    for part in parts {
        let Some((prefix, folder)) = part.split_once('=').filter(|(p, f)| !p.is_empty() && !f.is_empty()) else {
            bail!("{part:?}: expected PREFIX=FOLDER, e.g. old.=results/old for the variants old.off, old.poison, ...");
        };
        if let Some((other, _)) = parsed.iter().find(|(other, _)| other.starts_with(prefix) || prefix.starts_with(other.as_str())) {
            bail!("the prefixes {other:?} and {prefix:?} overlap: a variant would belong to both parts");
        }
        parsed.push((prefix.to_string(), PathBuf::from(folder)));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_need_a_prefix_a_folder_and_no_overlap() {
        let parts = |list: &[&str]| parse_parts(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parts(&["old.=a", "new.=b"]).unwrap().len(), 2);
        for bad in [&["old."][..], &["=a"], &["old.="], &["o=a", "old.=b"]] {
            assert!(parts(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_part_may_not_share_a_folder_with_the_study_or_another_part() {
        let root = tempfile::tempdir().unwrap();
        let study = root.path().join("study");
        std::fs::create_dir(&study).unwrap();
        let parts = |list: &[(&str, PathBuf)]| list.iter().map(|(p, f)| (p.to_string(), f.clone())).collect::<Vec<_>>();
        let ok = parts(&[("old.", root.path().join("old")), ("new.", root.path().join("new"))]);
        assert!(refuse_clashing_folders(&study, &ok).is_ok());
        let into_study = parts(&[("old.", root.path().join("old")), ("new.", root.path().join("x/../study"))]);
        let error = refuse_clashing_folders(&study, &into_study).unwrap_err().to_string();
        assert!(error.contains("study's own folder"), "{error}");
        let inside_study = parts(&[("old.", study.join("old"))]);
        assert!(refuse_clashing_folders(&study.join("runs.csv"), &inside_study).is_err());
        let shared = parts(&[("old.", root.path().join("p")), ("new.", root.path().join("./p"))]);
        let error = refuse_clashing_folders(&study, &shared).unwrap_err().to_string();
        assert!(error.contains("two parts in one folder"), "{error}");
        let nested = parts(&[("old.", root.path().join("p")), ("new.", root.path().join("p/q"))]);
        assert!(refuse_clashing_folders(&study, &nested).is_err());
    }
}
