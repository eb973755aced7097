//! `bench split STUDY PREFIX=FOLDER...`: one study → a results folder per part (say per
//! kernel), so that kernels measured interleaved in one study are compared like any two
//! results (`scripts/ci-compare-kernels.sh`).

use super::EXIT_OK;
use crate::commands::cli::SplitArgs;
use crate::report::study::write_reports;
use crate::results::folder::write_study;
use crate::results::side::read_side;
use crate::model::{study_part, unclaimed};
use anyhow::{bail, Result};
use std::path::PathBuf;

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
    for (prefix, folder) in &parts {
        let (records, meta) = study_part(&study.records, study.meta.as_ref(), prefix, &prefixes);
        if records.is_empty() {
            bail!("{prefix}={}: {} has no variant named {prefix}… (it has {})", folder.display(), args.study.display(), variants.join(", "));
        }
        write_study(folder, &records, meta.as_ref())?;
        write_reports(folder, &records, meta.as_ref(), &args.report.options())?;
        println!("{prefix}: {} runs → {}", records.len(), folder.display());
    }
    Ok(EXIT_OK)
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
}
