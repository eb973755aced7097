//! Which rows of the two sides are the same measurement: same lab host (on a study over
//! several `[[host]]`s), same variant (or the one `--map` names) at the same jobs level,
//! run with the same `-j`. Every row of the base is
//! kept, also when the new side lacks it: a row that ran before and not now is the gate's
//! business, not a detail.

use super::side::Side;
use anyhow::{bail, Result};
use serde::Serialize;

/// `--map old=new`: variants renamed between the two sides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantMap(Vec<(String, String)>);

impl VariantMap {
    /// Parses `old=new` pairs; a name on either side may appear once.
    pub fn parse(pairs: &[String]) -> Result<VariantMap> {
        let mut map = Vec::new();
        for pair in pairs {
            let Some((old, new)) = pair.split_once('=').filter(|(o, n)| !o.is_empty() && !n.is_empty()) else {
                bail!("--map {pair:?}: expected OLD=NEW, a variant of the base and its name in the new run");
            };
            if map.iter().any(|(o, _): &(String, String)| o == old) {
                bail!("--map names the base variant {old:?} twice");
            }
            map.push((old.to_string(), new.to_string()));
        }
        Ok(VariantMap(map))
    }

    pub fn new_name<'a>(&'a self, base_variant: &'a str) -> &'a str {
        self.0.iter().find(|(old, _)| old == base_variant).map_or(base_variant, |(_, new)| new)
    }

    /// Refuses a map naming variants that are not there: a typo would silently match nothing.
    fn check(&self, base: &Side, new: &Side) -> Result<()> {
        for (old, renamed) in &self.0 {
            if !base.variants().contains(&old.as_str()) {
                bail!("--map {old}={renamed}: {} has no variant {old:?} (it has {})", base.path.display(), list(&base.variants()));
            }
            if !new.variants().contains(&renamed.as_str()) {
                bail!("--map {old}={renamed}: {} has no variant {renamed:?} (it has {})", new.path.display(), list(&new.variants()));
            }
        }
        Ok(())
    }
}

/// One row of the comparison: a variant at a jobs level on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pairing {
    /// The `[[host]]` both sides measured the row on; empty for a study on one host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub base_variant: String,
    pub new_variant: String,
    pub jobs_label: String,
    pub jobs: u32,
}

/// Every row of the base, in its order, paired with the same row of the new side (which
/// may have no runs of it: the gate says so), and the rows only the new side has
/// ("variant level" strings). Different `-j` for the same level means the two were not run
/// alike (another guest CPU count): that is an error, as is nothing in common.
pub fn pair_levels(base: &Side, new: &Side, map: &VariantMap) -> Result<(Vec<Pairing>, Vec<String>)> {
    map.check(base, new)?;
    refuse_one_host_against_several(base, new)?;
    let mut base_levels = levels(base);
    // The baseline first, as every report shows it; the others in the order they ran.
    if let Some(baseline) = base.meta.as_ref().map(|m| m.baseline.as_str()) {
        base_levels.sort_by_key(|(_, variant, _, _)| variant != baseline);
    }
    let new_levels = levels(new);
    let mut pairings = Vec::new();
    let mut in_common = 0;
    for (host, variant, label, jobs) in &base_levels {
        let renamed = map.new_name(variant);
        let found = new_levels.iter().find(|(h, v, l, _)| h == host && v == renamed && l == label);
        if let Some((_, _, _, new_jobs)) = found.filter(|(_, _, _, new_jobs)| new_jobs != jobs) {
            bail!(
                "the jobs level {label:?} of variant {variant}{} ran with -j {jobs} in {} but -j {new_jobs} in {}: \
                 the guests differ (guest CPUs?), so the runs are not comparable",
                on_host(host),
                base.path.display(),
                new.path.display()
            );
        }
        in_common += usize::from(found.is_some());
        pairings.push(Pairing {
            host: host.clone(),
            base_variant: variant.clone(),
            new_variant: renamed.to_string(),
            jobs_label: label.clone(),
            jobs: *jobs,
        });
    }
    let only_in_new = new_levels
        .iter()
        .filter(|(host, variant, label, _)| {
            !pairings.iter().any(|p| &p.host == host && &p.new_variant == variant && &p.jobs_label == label)
        })
        .map(|(host, variant, label, jobs)| format!("only in new: {}{variant} {label} (-j {jobs})", host_prefix(host)))
        .collect();
    if in_common == 0 {
        bail!(nothing_in_common(base, new, &base_levels, &new_levels));
    }
    Ok((pairings, only_in_new))
}

fn nothing_in_common(base: &Side, new: &Side, base_levels: &[Level], new_levels: &[Level]) -> String {
    let describe = |levels: &[Level]| {
        let names: Vec<String> = levels.iter().map(|(h, v, l, j)| format!("{}{v} {l} (-j {j})", host_prefix(h))).collect();
        names.join(", ")
    };
    let hint = match (base.variants().as_slice(), new.variants().as_slice()) {
        ([old], [renamed]) if old != renamed => format!(": if they are the same variant, add --map {old}={renamed}"),
        _ => ": use --map OLD=NEW when variants were renamed".to_string(),
    };
    format!(
        "no variant and jobs level in common: {} has {}; {} has {}{hint}",
        base.path.display(),
        describe(base_levels),
        new.path.display(),
        describe(new_levels)
    )
}

type Level = (String, String, String, u32);

/// (host, variant, jobs label, -j) in order of first appearance.
fn levels(side: &Side) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    for r in &side.records {
        if !levels.iter().any(|(h, v, l, _)| h == &r.host && v == &r.variant && l == &r.jobs_label) {
            levels.push((r.host.clone(), r.variant.clone(), r.jobs_label.clone(), r.jobs));
        }
    }
    levels
}

/// "host a: ", or nothing on one host.
pub fn host_prefix(host: &str) -> String {
    if host.is_empty() {
        String::new()
    } else {
        format!("host {host}: ")
    }
}

fn on_host(host: &str) -> String {
    if host.is_empty() {
        String::new()
    } else {
        format!(" on host {host}")
    }
}

/// A study on one machine against one spread over `[[host]]`s has no row in common: say
/// why instead of "nothing in common".
fn refuse_one_host_against_several(base: &Side, new: &Side) -> Result<()> {
    let (base_hosts, new_hosts) = (base.hosts(), new.hosts());
    let several = |side: &Side, hosts: &[&str]| format!("{} ran on the hosts {}", side.path.display(), hosts.join(", "));
    let one = |side: &Side| format!("{} ran on one machine (no host column)", side.path.display());
    match (base_hosts.is_empty(), new_hosts.is_empty()) {
        (true, false) => bail!("{} but {}: rows match by host, so compare studies run alike", one(base), several(new, &new_hosts)),
        (false, true) => bail!("{} but {}: rows match by host, so compare studies run alike", several(base, &base_hosts), one(new)),
        _ => Ok(()),
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord};

    fn side(path: &str, rows: &[(&str, &str, u32)]) -> Side {
        hosts_side(path, &rows.iter().map(|&(v, l, j)| ("", v, l, j)).collect::<Vec<_>>())
    }

    fn hosts_side(path: &str, rows: &[(&str, &str, &str, u32)]) -> Side {
        let records = rows
            .iter()
            .map(|(host, variant, label, jobs)| RunRecord {
                host: host.to_string(),
                variant: variant.to_string(),
                jobs_label: label.to_string(),
                jobs: *jobs,
                ..test_record()
            })
            .collect();
        Side::new(path.into(), records, None, None)
    }

    #[test]
    fn the_baseline_comes_first_whatever_order_the_runs_were_in() {
        let mut base = side("old", &[("poison", "half", 1), ("baseline", "half", 1), ("poison", "optimal", 2), ("baseline", "optimal", 2)]);
        let new = side("new", &[("poison", "half", 1), ("baseline", "half", 1), ("poison", "optimal", 2), ("baseline", "optimal", 2)]);
        let order = |base: &Side| -> Vec<String> {
            let (pairings, _) = pair_levels(base, &new, &VariantMap::default()).unwrap();
            pairings.iter().map(|p| format!("{} {}", p.base_variant, p.jobs_label)).collect()
        };
        assert_eq!(order(&base), ["poison half", "baseline half", "poison optimal", "baseline optimal"], "no meta.json: run order");
        base.meta = Some(crate::model::Meta { baseline: "baseline".into(), ..crate::model::test_meta() });
        assert_eq!(order(&base), ["baseline half", "baseline optimal", "poison half", "poison optimal"]);
    }

    #[test]
    fn every_base_row_is_paired_and_rows_only_in_new_are_listed() {
        let base = side("old", &[("baseline", "half", 1), ("baseline", "optimal", 2), ("poison", "half", 1)]);
        let new = side("new", &[("baseline", "half", 1), ("baseline", "optimal", 2), ("baseline", "4", 4)]);
        let (pairs, only_in_new) = pair_levels(&base, &new, &VariantMap::default()).unwrap();
        assert_eq!(pairs.len(), 3, "poison half is a row the new side lacks: the gate judges it");
        assert_eq!((pairs[1].base_variant.as_str(), pairs[1].jobs_label.as_str(), pairs[1].jobs), ("baseline", "optimal", 2));
        assert_eq!((pairs[2].new_variant.as_str(), pairs[2].jobs_label.as_str()), ("poison", "half"));
        assert_eq!(only_in_new, ["only in new: baseline 4 (-j 4)"]);
    }

    #[test]
    fn a_map_pairs_renamed_variants_and_refuses_unknown_names() {
        let base = side("old", &[("old", "half", 1)]);
        let new = side("new", &[("new", "half", 1)]);
        let error = pair_levels(&base, &new, &VariantMap::default()).unwrap_err().to_string();
        assert!(error.contains("no variant and jobs level in common") && error.contains("--map old=new"), "{error}");
        let map = VariantMap::parse(&["old=new".into()]).unwrap();
        let (pairs, only_in_new) = pair_levels(&base, &new, &map).unwrap();
        assert_eq!((pairs[0].new_variant.as_str(), only_in_new.len()), ("new", 0));
        let typo = VariantMap::parse(&["old=neu".into()]).unwrap();
        assert!(pair_levels(&base, &new, &typo).unwrap_err().to_string().contains("has no variant \"neu\""));
        assert!(VariantMap::parse(&["old".into()]).is_err());
        assert!(VariantMap::parse(&["a=b".into(), "a=c".into()]).is_err());
    }

    #[test]
    fn the_same_level_with_another_jobs_value_is_refused() {
        let base = side("old", &[("baseline", "half", 1)]);
        let new = side("new", &[("baseline", "half", 2)]);
        let error = pair_levels(&base, &new, &VariantMap::default()).unwrap_err().to_string();
        assert!(error.contains("-j 1 in old but -j 2 in new"), "{error}");
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;
    use crate::model::{test_record, RunRecord};

    fn side(path: &str, rows: &[(&str, &str)]) -> Side {
        let records = rows
            .iter()
            .map(|(host, variant)| RunRecord { host: host.to_string(), variant: variant.to_string(), ..test_record() })
            .collect();
        Side::new(path.into(), records, None, None)
    }

    #[test]
    fn rows_match_by_host_and_a_host_only_in_new_is_listed() {
        let base = side("old", &[("a", "off"), ("b", "off")]);
        let new = side("new", &[("a", "off"), ("c", "off")]);
        let (pairs, only_in_new) = pair_levels(&base, &new, &VariantMap::default()).unwrap();
        let hosts: Vec<&str> = pairs.iter().map(|p| p.host.as_str()).collect();
        assert_eq!(hosts, ["a", "b"], "host b is kept: it ran in the base, the gate judges its absence");
        assert_eq!(only_in_new, ["only in new: host c: off half (-j 1)"]);
    }

    #[test]
    fn one_machine_against_several_hosts_is_refused_with_the_reason() {
        let error = pair_levels(&side("old", &[("", "off")]), &side("new", &[("a", "off")]), &VariantMap::default()).unwrap_err();
        assert!(error.to_string().contains("old ran on one machine (no host column) but new ran on the hosts a"), "{error}");
    }
}
