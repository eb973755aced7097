//! A part of a study: the variants whose names start with one prefix, as a study of its
//! own with the prefix taken off. One interleaved study of an old and a new kernel
//! (variants `old.off`, `new.off`, ...) becomes one study per kernel, which `bench
//! compare` and `bench history` take like any other (`bench split`).

use super::{Meta, RunRecord};

/// The rows and facts of the variants named `<prefix><name>`, renamed `<name>`. The
/// baseline of the part is the baseline's counterpart: `old.off` is the baseline of
/// the whole study, so `off` is the baseline of the part `new.`. `prefixes` are all the
/// parts' prefixes, to find that counterpart.
pub fn study_part(records: &[RunRecord], meta: Option<&Meta>, prefix: &str, prefixes: &[&str]) -> (Vec<RunRecord>, Option<Meta>) {
    let rows = records
        .iter()
        .filter_map(|r| r.variant.strip_prefix(prefix).map(|name| RunRecord { variant: name.to_string(), ..r.clone() }))
        .collect();
    let meta = meta.map(|meta| {
        let mut part = meta.clone();
        part.variants.retain(|v| v.name.starts_with(prefix));
        for variant in &mut part.variants {
            variant.name = variant.name[prefix.len()..].to_string();
        }
        part.stopping.retain(|s| s.variant.starts_with(prefix));
        for stop in &mut part.stopping {
            stop.variant = stop.variant[prefix.len()..].to_string();
        }
        // The time budget stays the whole study's: the parts shared its wall time.
        part.boots.retain(|b| b.variant.starts_with(prefix));
        for boot in &mut part.boots {
            boot.variant = boot.variant[prefix.len()..].to_string();
        }
        let baseline = prefixes.iter().find_map(|p| meta.baseline.strip_prefix(p)).unwrap_or(&meta.baseline);
        part.baseline = baseline.to_string();
        part
    });
    (rows, meta)
}

/// Variants of the study no prefix accounts for.
pub fn unclaimed<'a>(variants: impl IntoIterator<Item = &'a str>, prefixes: &[&str]) -> Vec<&'a str> {
    variants.into_iter().filter(|name| !prefixes.iter().any(|p| name.starts_with(p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    fn rows() -> Vec<RunRecord> {
        ["old.off", "new.off", "old.poison", "new.poison"].iter().map(|v| RunRecord { variant: v.to_string(), ..test_record() }).collect()
    }

    #[test]
    fn a_part_keeps_its_own_rows_renamed() {
        let (old, _) = study_part(&rows(), None, "old.", &["old.", "new."]);
        let names: Vec<&str> = old.iter().map(|r| r.variant.as_str()).collect();
        assert_eq!(names, ["off", "poison"]);
        let (none, _) = study_part(&rows(), None, "older.", &["older."]);
        assert!(none.is_empty());
    }

    #[test]
    fn variants_outside_every_part_are_named() {
        let names = ["old.off", "new.off", "stray"];
        assert_eq!(unclaimed(names, &["old.", "new."]), ["stray"]);
    }
}
