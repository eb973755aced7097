//! What should not differ between the two sides besides the kernel: the workload (an
//! error: another workload is another benchmark), and the host, accelerator, QEMU and
//! guest (warnings: the numbers are still comparable, but less so).

use super::side::Side;
use crate::model::Meta;
use anyhow::{bail, Result};

/// Refuses two sides that ran different workloads, when both meta.json say so.
pub fn check_workload(base: &Side, new: &Side) -> Result<()> {
    let (Some(b), Some(n)) = (&base.meta, &new.meta) else { return Ok(()) };
    let fields = [
        ("kind", Some(&b.workload.kind), Some(&n.workload.kind)),
        ("command", Some(&b.workload.command), Some(&n.workload.command)),
        ("prepare", b.workload.prepare.as_ref(), n.workload.prepare.as_ref()),
        ("clean", b.workload.clean.as_ref(), n.workload.clean.as_ref()),
    ];
    for (field, old, new_value) in fields {
        if old != new_value {
            bail!(
                "the two runs measured different workloads: workload.{field} is {} in {} but {} in {}; \
                 compare runs of the same scenario workload",
                shown(old),
                base.path.display(),
                shown(new_value),
                new.path.display()
            );
        }
    }
    Ok(())
}

fn shown(value: Option<&String>) -> String {
    value.map_or("unset".to_string(), |v| format!("{v:?}"))
}

/// One line per fact that differs; what cannot be checked is said by [`unknown_facts`].
pub fn differences(base: &Side, new: &Side) -> Vec<String> {
    let (Some(b), Some(n)) = (&base.meta, &new.meta) else { return Vec::new() };
    let mut warnings = Vec::new();
    let mut differ = |what: &str, why: &str, old: String, new_value: String| {
        if old != new_value {
            warnings.push(format!("{what} differs: {old} (base) vs {new_value} (new): {why}"));
        }
    };
    differ("host CPU", "times depend on it", b.host.cpu_model.clone(), n.host.cpu_model.clone());
    differ("host CPU count", "other load and scheduling", b.host.cpus.to_string(), n.host.cpus.to_string());
    differ("accel", "KVM and TCG (emulation) times are not comparable", b.hypervisor.accel.clone(), n.hypervisor.accel.clone());
    differ("QEMU version", "emulation costs change between versions", b.hypervisor.version.clone(), n.hypervisor.version.clone());
    differ("guest CPUs", "-j levels and parallelism change", b.guest.cpus.to_string(), n.guest.cpus.to_string());
    differ("guest memory", "page cache and reclaim change", format!("{} MiB", b.guest.memory_mib), format!("{} MiB", n.guest.memory_mib));
    differ("guest disk", "it holds the compiler and the sources built", disk(b), disk(n));
    differ("compiler", "code generation and compile speed change", probe(b, "compiler"), probe(n, "compiler"));
    differ("warm-up runs", "a cold first run is slower", b.warmup.to_string(), n.warmup.to_string());
    warnings
}

fn probe(meta: &Meta, name: &str) -> String {
    meta.probe(name).unwrap_or("not recorded").to_string()
}

fn disk(meta: &Meta) -> String {
    meta.guest.disk.as_ref().map_or("none".to_string(), |d| format!("{} (sha256 {:.12})", d.path, d.sha256))
}

/// On several hosts: per host both sides ran on, what meta.json says differs about it
/// (another machine behind the name, KVM on one side and TCG on the other, ...).
pub fn host_differences(base: &Side, new: &Side) -> Vec<String> {
    let (Some(b), Some(n)) = (&base.meta, &new.meta) else { return Vec::new() };
    let mut warnings = Vec::new();
    for old in &b.hosts {
        let Some(now) = n.hosts.iter().find(|h| h.name == old.name) else { continue };
        let fields = [
            ("URI", old.uri.clone(), now.uri.clone(), "another machine may answer to the name"),
            ("accel", old.accel.clone(), now.accel.clone(), "KVM and TCG (emulation) times are not comparable"),
            ("CPUs", old.cpus.to_string(), now.cpus.to_string(), "other load and scheduling"),
            ("memory", format!("{} MiB", old.memory_mib), format!("{} MiB", now.memory_mib), "page cache and reclaim change"),
            ("libvirt version", old.libvirt_version.clone(), now.libvirt_version.clone(), "QEMU and its defaults may have changed"),
        ];
        for (what, was, is, why) in fields {
            // A fact one side did not record (an unreachable host) is not a difference.
            if was != is && !was.is_empty() && !is.is_empty() && was != "0" && is != "0" && was != "0 MiB" && is != "0 MiB" {
                warnings.push(format!("host {}: {what} differs: {was} (base) vs {is} (new): {why}", old.name));
            }
        }
    }
    warnings
}

/// Sides whose facts could not be read, and why.
pub fn unknown_facts(base: &Side, new: &Side) -> Vec<String> {
    [("base", base), ("new", new)]
        .into_iter()
        .filter_map(|(name, side)| {
            side.meta_missing
                .as_ref()
                .map(|why| format!("{name}: no meta.json facts ({why}): host, accel, QEMU, guest and workload cannot be checked"))
        })
        .collect()
}
