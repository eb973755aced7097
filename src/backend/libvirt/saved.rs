//! `reuse = "snapshot"` through libvirt: a guest saved by the daemon (virDomainSaveFlags)
//! into a file of the kbench pool on the guest's host, and started again from it
//! (virDomainRestoreFlags). Nothing crosses to bench but the file's name: a lab host keeps
//! its own states, and a pool of hosts each theirs.
//!
//! A guest with a disk writes into a qcow2 overlay volume over the uploaded image
//! (`kbench-work-…`; libvirt's `<transient/>` disk refuses to be saved). At the save that
//! overlay becomes part of the saved guest and is never written again: the guest runs on,
//! and every restore starts, on a fresh overlay over it, given to libvirt in the restore's
//! XML. No restore sees another's writes, and the image is never written.
//!
//! A restored domain cannot be created auto-destroy as a booted one is, so everything here
//! carries its owner (this machine, bench's pid, the backend): the backend removes its own
//! volumes when it is dropped, and the next bench that connects destroys the domains and
//! removes the volumes of an owner on this machine whose process is gone (a `kill -9`).

use super::domain_xml::tag_text;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;

/// The namespace of the owner element in a domain's `<metadata>`.
const OWNER_NAMESPACE: &str = "https://kbench.invalid/xmlns/owner/1";
/// The name of the file in the runner's state folder that says where the state is.
const POINTER_FILE: &str = "libvirt-state.json";

/// Who made a domain or a volume: `<machine>-<pid>-<backend>`, the machine's name reduced
/// to letters and digits so that the parts split on '-'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    machine: String,
    pid: u32,
    backend: u32,
}

impl Owner {
    /// A new owner for one backend of this process.
    pub fn new() -> Owner {
        static BACKENDS: AtomicU32 = AtomicU32::new(0);
        Owner { machine: this_machine(), pid: std::process::id(), backend: BACKENDS.fetch_add(1, Ordering::Relaxed) }
    }

    fn tag(&self) -> String {
        format!("{}-{}-{}", self.machine, self.pid, self.backend)
    }

    fn parse(tag: &str) -> Option<Owner> {
        let mut parts = tag.trim().splitn(3, '-');
        let machine = parts.next()?.to_string();
        let pid = parts.next()?.parse().ok()?;
        let backend = parts.next()?.parse().ok()?;
        Some(Owner { machine, pid, backend })
    }

    /// Made on this machine by a bench that no longer runs.
    fn is_orphan(&self) -> bool {
        self.machine == this_machine() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    /// The `<metadata>` element a domain carries.
    pub fn metadata_xml(&self) -> String {
        format!("<kbench:owner xmlns:kbench='{OWNER_NAMESPACE}'>{}</kbench:owner>", self.tag())
    }

    fn state_volume(&self, slot: &str) -> String {
        format!("{STATE_PREFIX}{}-{slot}.save", self.tag())
    }

    pub fn work_volume(&self, boot: u32) -> String {
        format!("{WORK_PREFIX}{}-{boot}.qcow2", self.tag())
    }
}

const STATE_PREFIX: &str = "kbench-state-";
const WORK_PREFIX: &str = "kbench-work-";

/// This machine's name, letters and digits only ("lab-1.example" → "lab1example").
fn this_machine() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let kept: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    if kept.is_empty() {
        "unnamed".into()
    } else {
        kept
    }
}

/// The owner of a volume named by [`Owner::state_volume`] and the like.
fn volume_owner(name: &str) -> Option<Owner> {
    let rest = name.strip_prefix(STATE_PREFIX).or_else(|| name.strip_prefix(WORK_PREFIX))?;
    let mut parts = rest.splitn(4, '-');
    let tag = format!("{}-{}-{}", parts.next()?, parts.next()?, parts.next()?);
    Owner::parse(&tag)
}

/// Where a saved guest is, on its host: what the runner's state folder holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    /// The domain's name, which a restore keeps (libvirt refuses another).
    pub domain: String,
    /// The state file, a volume of the pool.
    pub state_path: String,
    /// The disk's overlay the guest was saved with (a volume of the pool, never written
    /// again): a restored guest runs on an overlay over it.
    pub disk_path: Option<String>,
}

impl Pointer {
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(POINTER_FILE);
        std::fs::write(&path, serde_json::to_vec(self)?).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn read(dir: &Path) -> Result<Pointer> {
        let path = dir.join(POINTER_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| format!("the saved state {} is missing", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a saved libvirt state", path.display()))
    }
}

/// The folder of the pool on its host, where the daemon writes a state file.
fn pool_folder(pool: &StoragePool) -> Result<String> {
    let xml = pool.xml_desc(0).context("cannot read the storage pool's definition")?;
    tag_text(&xml, "path").ok_or_else(|| anyhow!("the storage pool's definition names no folder"))
}

/// A qcow2 overlay volume `name` over the volume at `base` (of `format`, `capacity`
/// bytes): the disk of a guest that may be saved. Its path.
pub fn create_overlay(pool: &StoragePool, name: &str, base: &str, format: &str, capacity: u64) -> Result<String> {
    delete_volume(pool, name);
    let xml = format!(
        "<volume><name>{}</name><capacity unit='bytes'>{capacity}</capacity><target><format type='qcow2'/></target>\
         <backingStore><path>{}</path><format type='{}'/></backingStore></volume>",
        crate::xml::escape(name),
        crate::xml::escape(base),
        crate::xml::escape(format)
    );
    let volume = StorageVol::create_xml(pool, &xml, 0).map_err(|e| anyhow!("cannot create the disk overlay {name}: {e}"))?;
    volume.path().map_err(|e| anyhow!("the disk overlay {name} has no path: {e}"))
}

/// Saves `domain` (which stops it: libvirt has no save that lets a guest run on) into a
/// state volume for `slot`; `disk` is the overlay volume it ran on, from now on the saved
/// disk. The pointer and the bytes the state takes.
pub fn save(domain: &Domain, pool: &StoragePool, owner: &Owner, slot: &str, disk: Option<&str>) -> Result<(Pointer, u64)> {
    let domain_name = domain.name().context("the guest's domain has no name")?;
    let state_volume = owner.state_volume(slot);
    delete_volume(pool, &state_volume);
    let state_path = format!("{}/{state_volume}", pool_folder(pool)?.trim_end_matches('/'));
    let path = CString::new(state_path.clone())?;
    let saving = domain.clone();
    bounded("save the guest", move || {
        // SAFETY: the domain pointer is valid while `saving` lives, which is to the end of
        // this closure; the path is a NUL-ended string that outlives the call; a null dxml
        // is allowed (the domain's own XML).
        let result = unsafe { virt::sys::virDomainSaveFlags(saving.as_ptr(), path.as_ptr(), std::ptr::null(), 0) };
        if result < 0 {
            bail!("{}", virt::error::Error::last_error());
        }
        Ok(())
    })
    .with_context(|| format!("libvirt could not save the guest into {state_path}"))?;
    let _ = pool.refresh(0);
    let mut bytes = volume_bytes(pool, &state_volume)?;
    let disk_path = match disk {
        Some(name) => {
            bytes += volume_bytes(pool, name)?;
            Some(pool.lookup_storage_vol_by_name(name).and_then(|v| v.path()).map_err(|e| anyhow!("the disk overlay {name}: {e}"))?)
        }
        None => None,
    };
    Ok((Pointer { domain: domain_name, state_path, disk_path }, bytes))
}

/// Starts the guest `pointer` names, paused, on the disk overlay `fresh` (an
/// [`create_overlay`] over the saved disk) when it has a disk.
pub fn restore(conn: &Connect, pointer: &Pointer, fresh: Option<&str>) -> Result<Domain> {
    let dxml = match (&pointer.disk_path, fresh) {
        (Some(saved), Some(fresh)) => {
            let xml = conn
                .save_image_xml_desc(&pointer.state_path, 0)
                .map_err(|e| anyhow!("cannot read the guest's definition in {}: {e}", pointer.state_path))?;
            Some(with_disk(&xml, saved, fresh)?)
        }
        (None, None) => None,
        _ => bail!("internal: a restore of {} without its disk", pointer.state_path),
    };
    let (restoring, path) = (conn.clone(), pointer.state_path.clone());
    bounded("restore the guest", move || {
        restoring.restore_domain_flags(&path, dxml.as_deref(), virt::sys::VIR_DOMAIN_SAVE_PAUSED).map_err(|e| anyhow!("{e}"))
    })
    .with_context(|| format!("libvirt could not restore the guest from {}", pointer.state_path))?;
    conn.lookup_domain_by_name(&pointer.domain).map_err(|e| anyhow!("the restored guest {} is not there: {e}", pointer.domain))
}

/// Runs `call` (a libvirt call that may block) within [`crate::backend::STATE_TIMEOUT`]. A
/// call past it is left to end on its own thread; the guest it was for is destroyed with
/// its handle, which ends it.
fn bounded<T: Send + 'static>(what: &str, call: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    let timeout = crate::backend::STATE_TIMEOUT;
    receiver.recv_timeout(timeout).map_err(|_| anyhow!("libvirt did not {what} within {} s", timeout.as_secs()))?
}

/// The saved domain's XML with its disk `saved` swapped for the overlay `fresh` (libvirt
/// lets a restore change where a disk's file is).
fn with_disk(xml: &str, saved: &str, fresh: &str) -> Result<String> {
    let (from, to) = (format!("file='{}'", crate::xml::escape(saved)), format!("file='{}'", crate::xml::escape(fresh)));
    if !xml.contains(&from) {
        bail!("the saved guest's definition does not name its disk {saved}");
    }
    Ok(xml.replace(&from, &to))
}

fn volume_bytes(pool: &StoragePool, name: &str) -> Result<u64> {
    let volume = pool.lookup_storage_vol_by_name(name).map_err(|e| anyhow!("the saved state {name} is not in the pool: {e}"))?;
    Ok(volume.info().map_err(|e| anyhow!("cannot read the size of {name}: {e}"))?.allocation)
}

pub fn delete_volume(pool: &StoragePool, name: &str) {
    if let Ok(volume) = pool.lookup_storage_vol_by_name(name) {
        let _ = volume.delete(0);
    }
}

/// Removes the volumes `owner` made (the backend's end: the study is over).
pub fn remove_volumes_of(pool: &StoragePool, owner: &Owner) {
    remove_volumes(pool, |o| o == owner);
}

/// Destroys the domains and removes the volumes a killed bench of this machine left.
/// What it removed, for the terminal.
pub fn remove_orphans(conn: &Connect, pool: &StoragePool) -> Vec<String> {
    let mut removed = Vec::new();
    for domain in conn.list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE).unwrap_or_default() {
        let Ok(name) = domain.name() else { continue };
        if !name.starts_with("kbench-") {
            continue;
        }
        let owner = domain
            .metadata(virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32, Some(OWNER_NAMESPACE), 0)
            .ok()
            .and_then(|xml| Owner::parse(element_text(&xml)?));
        if owner.is_some_and(|o| o.is_orphan()) && domain.destroy().is_ok() {
            removed.push(format!("domain {name}"));
        }
    }
    removed.extend(remove_volumes(pool, Owner::is_orphan).into_iter().map(|name| format!("volume {name}")));
    removed
}

/// The text of a one-element document (`<p:owner xmlns:p="…">text</p:owner>`), however
/// libvirt prefixes it.
fn element_text(xml: &str) -> Option<&str> {
    let start = xml.find('>')? + 1;
    let end = xml.rfind('<')?;
    (start <= end).then(|| &xml[start..end])
}

fn remove_volumes(pool: &StoragePool, whose: impl Fn(&Owner) -> bool) -> Vec<String> {
    let _ = pool.refresh(0);
    let mut removed = Vec::new();
    for volume in pool.list_all_volumes(0).unwrap_or_default() {
        let Ok(name) = volume.name() else { continue };
        if volume_owner(&name).is_some_and(|o| whose(&o)) && volume.delete(0).is_ok() {
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_reads_back_from_its_tag_and_from_its_volumes_names() {
        let owner = Owner { machine: "lab1example".into(), pid: 4242, backend: 3 };
        assert_eq!(Owner::parse(&owner.tag()), Some(owner.clone()));
        assert_eq!(volume_owner(&owner.state_volume("base.0")), Some(owner.clone()));
        assert_eq!(volume_owner(&owner.state_volume("my-variant.1")), Some(owner.clone()));
        assert_eq!(volume_owner(&owner.work_volume(7)), Some(owner));
        // kbench's uploads and anything else in the pool belong to no owner.
        assert_eq!(volume_owner("vmlinuz-0123456789abcdef"), None);
        assert_eq!(volume_owner("kbench-state-x"), None);
    }

    #[test]
    fn a_restore_swaps_the_saved_disk_for_its_fresh_overlay_and_nothing_else() {
        let xml =
            "<domain><disk><source file='/p/kbench-work-m-1-0-3.qcow2'/></disk><kernel>/p/kbench-work-m-1-0-3.qcow2x</kernel></domain>";
        let swapped = with_disk(xml, "/p/kbench-work-m-1-0-3.qcow2", "/p/kbench-work-m-1-0-9.qcow2").unwrap();
        assert!(swapped.contains("<source file='/p/kbench-work-m-1-0-9.qcow2'/>"), "{swapped}");
        assert!(swapped.contains("<kernel>/p/kbench-work-m-1-0-3.qcow2x</kernel>"), "{swapped}");
        assert!(with_disk(xml, "/p/other.qcow2", "/p/x").is_err(), "a definition without the disk is not restored on another");
    }

    #[test]
    fn only_a_gone_process_of_this_machine_leaves_orphans() {
        let alive = Owner::new();
        assert!(!alive.is_orphan(), "this process runs");
        let gone = Owner { pid: u32::MAX - 1, ..alive.clone() };
        assert!(gone.is_orphan());
        let elsewhere = Owner { machine: format!("{}x", alive.machine), ..gone };
        assert!(!elsewhere.is_orphan(), "another machine's bench is not ours to judge");
    }
}
