//! `bench pool`: kbench's volumes in the `kbench` pool of one host, and their removal.
//! Only pairs kbench made are ever looked at — `<file>-<sha16>` with its `.sha256`
//! sidecar — and a pair is removed only when asked, not used for the given number of
//! days, not one of the current scenario's files, and not open by any running domain.

use super::domain_xml::{tag_text, unescape};
use super::volumes::POOL;
use anyhow::{Context, Result};
use std::collections::HashSet;
use virt::connect::Connect;

/// One kbench pair in the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEntry {
    pub name: String,
    /// The volume's path on the host.
    pub path: String,
    /// Bytes the volume takes on the host's disk.
    pub allocation: u64,
    pub capacity: u64,
    /// Unix seconds of the sidecar's last write: upload, or the last study that used it.
    pub last_used: f64,
}

/// Whether `name` is one kbench gives a volume: anything, `-`, 16 lowercase hex digits.
pub fn is_kbench_volume(name: &str) -> bool {
    match name.rsplit_once('-') {
        Some((stem, sha)) => !stem.is_empty() && sha.len() == 16 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        None => false,
    }
}

/// kbench's pairs in the pool (a volume without its sidecar, an upload under way or
/// abandoned, is left alone: `ensure` deals with it).
pub fn entries(conn: &Connect) -> Result<Vec<PoolEntry>> {
    let Ok(pool) = conn.lookup_storage_pool_by_name(POOL) else { return Ok(Vec::new()) };
    if !pool.is_active().unwrap_or(false) {
        return Ok(Vec::new());
    }
    let _ = pool.refresh(0);
    let volumes = pool.list_all_volumes(0).with_context(|| format!("cannot list the storage pool {POOL}"))?;
    let names: HashSet<String> = volumes.iter().filter_map(|v| v.name().ok()).collect();
    let mut entries = Vec::new();
    for volume in &volumes {
        let Ok(name) = volume.name() else { continue };
        if !is_kbench_volume(&name) {
            continue;
        }
        let sidecar_name = format!("{name}.sha256");
        if !names.contains(&sidecar_name) {
            continue;
        }
        let Ok(sidecar) = pool.lookup_storage_vol_by_name(&sidecar_name) else { continue };
        let last_used = sidecar.xml_desc(0).ok().and_then(|xml| mtime(&xml)).unwrap_or(0.0);
        let info = volume.info().with_context(|| format!("cannot read the volume {name}"))?;
        entries.push(PoolEntry { path: volume.path()?, name, allocation: info.allocation, capacity: info.capacity, last_used });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The `<mtime>` of a volume's XML, in Unix seconds.
fn mtime(xml: &str) -> Option<f64> {
    let start = xml.find("<mtime>")? + "<mtime>".len();
    let end = start + xml[start..].find("</mtime>")?;
    xml[start..end].trim().parse().ok()
}

/// Every file path a running domain of the host names (disks, kernel, initrd).
pub fn paths_in_use(conn: &Connect) -> Result<HashSet<String>> {
    let domains = conn.list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE).context("cannot list the running domains")?;
    let mut paths = HashSet::new();
    for domain in domains {
        let xml = domain.xml_desc(0).unwrap_or_default();
        paths.extend(paths_named(&xml));
    }
    Ok(paths)
}

/// The values of `<kernel>`, `<initrd>` and every `file='...'` in a domain's XML.
fn paths_named(xml: &str) -> Vec<String> {
    let mut paths: Vec<String> = ["kernel", "initrd"].iter().filter_map(|tag| tag_text(xml, tag)).collect();
    for quote in ['\'', '"'] {
        let open = format!("file={quote}");
        let mut rest = xml;
        while let Some(start) = rest.find(&open).map(|i| i + open.len()) {
            let Some(end) = rest[start..].find(quote) else { break };
            paths.push(unescape(&rest[start..start + end]));
            rest = &rest[start + end..];
        }
    }
    paths
}

/// Why a pair stays, or `None` when it may go.
pub fn keep_reason(
    entry: &PoolEntry,
    now: f64,
    older_than_days: f64,
    current: &HashSet<String>,
    in_use: &HashSet<String>,
) -> Option<&'static str> {
    if in_use.contains(&entry.path) {
        Some("in use by a running domain")
    } else if current.contains(&entry.name) {
        Some("a file of the scenario")
    } else if now - entry.last_used < older_than_days * 86_400.0 {
        Some("used recently")
    } else {
        None
    }
}

/// Removes the pair: the sidecar first, so that a volume whose removal fails is never
/// taken for a checked one.
pub fn remove(conn: &Connect, name: &str) -> Result<()> {
    let pool = conn.lookup_storage_pool_by_name(POOL).with_context(|| format!("no storage pool {POOL}"))?;
    for volume in [format!("{name}.sha256"), name.to_string()] {
        if let Ok(vol) = pool.lookup_storage_vol_by_name(&volume) {
            vol.delete(0).with_context(|| format!("cannot remove the volume {volume} from storage pool {POOL}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kbench_names_count() {
        assert!(is_kbench_volume("vmlinuz-0123456789abcdef"));
        assert!(is_kbench_volume("initramfs.cpio.gz-agent-25625c301e49cb41"));
        assert!(!is_kbench_volume("vmlinuz-0123456789abcdef.sha256"));
        assert!(!is_kbench_volume("vmlinuz-0123456789ABCDEF"));
        assert!(!is_kbench_volume("root.qcow2"));
        assert!(!is_kbench_volume("-0123456789abcdef"));
        assert!(!is_kbench_volume("disk-0123456789abcde"));
    }

    #[test]
    fn a_pair_goes_only_when_old_unused_and_not_the_scenarios() {
        let entry = PoolEntry {
            name: "k-0123456789abcdef".into(),
            path: "/p/k-0123456789abcdef".into(),
            allocation: 1,
            capacity: 1,
            last_used: 0.0,
        };
        let none = HashSet::new();
        let day = 86_400.0;
        assert_eq!(keep_reason(&entry, 31.0 * day, 30.0, &none, &none), None);
        assert_eq!(keep_reason(&entry, 29.0 * day, 30.0, &none, &none), Some("used recently"));
        let current: HashSet<String> = [entry.name.clone()].into();
        assert_eq!(keep_reason(&entry, 31.0 * day, 30.0, &current, &none), Some("a file of the scenario"));
        let busy: HashSet<String> = [entry.path.clone()].into();
        assert_eq!(keep_reason(&entry, 31.0 * day, 0.0, &none, &busy), Some("in use by a running domain"));
    }

    #[test]
    fn a_domains_files_are_found() {
        let xml = "<domain><os><kernel>/p/k&amp;1</kernel><initrd>/p/i</initrd></os><devices><disk><source file='/p/d'/></disk><disk><source file=\"/p/e\"/></disk></devices></domain>";
        let paths = paths_named(xml);
        for path in ["/p/k&1", "/p/i", "/p/d", "/p/e"] {
            assert!(paths.contains(&path.to_string()), "{path} in {paths:?}");
        }
        assert_eq!(mtime("<timestamps><mtime>1795975101.5</mtime></timestamps>"), Some(1795975101.5));
    }
}
