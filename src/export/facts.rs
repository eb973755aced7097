//! What a report states about the machine and the guests besides the numbers: from
//! meta.json when the results folder has one, else only what runs.csv says.

use crate::model::{ConsoleFinding, Meta};
use crate::stats::Analysis;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub scenario: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub host_cpu: Option<String>,
    pub host_cpus: Option<usize>,
    pub host_memory_mib: Option<u64>,
    pub host_kernel: Option<String>,
    pub hypervisor: Option<String>,
    pub accel: Option<String>,
    pub guest_cpus: Option<u32>,
    pub guest_memory_mib: Option<u64>,
    pub workload: Option<String>,
    /// `gcc --version` in the guest, for kernel-build workloads.
    pub compiler: Option<String>,
    /// The version of the Linux tree compiled, for kernel-build workloads.
    pub linux_version: Option<String>,
    pub variants: Vec<VariantFacts>,
    /// Kernel trouble the consoles and kernel logs showed, per variant and boot.
    pub kernel_trouble: Vec<KernelTrouble>,
    /// Steps that left processes running (killed by the agent), one line each.
    pub leftovers: Vec<String>,
}

/// The reports of one kind in one boot of one variant.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTrouble {
    pub variant: String,
    pub boot: u32,
    #[serde(flatten)]
    pub finding: ConsoleFinding,
    /// The log quoted, relative to the results folder.
    pub log_file: String,
}

impl KernelTrouble {
    /// One line for the warnings.
    pub fn warning(&self) -> String {
        self.finding.warning(&self.variant, self.boot)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantFacts {
    pub name: String,
    /// The kernel command line as /proc/cmdline showed it in the guest.
    pub cmdline_in_guest: String,
    pub kernel_release: String,
    pub kernel: Option<String>,
    pub kernel_sha256: Option<String>,
    /// Slab poisoning as /sys/kernel/slab reported it at boot.
    pub slab_poisoning: Option<bool>,
}

impl Facts {
    pub fn gather(meta: Option<&Meta>, analysis: &Analysis) -> Facts {
        let variants = analysis.variants.iter().map(|seen| variant_facts(meta, seen)).collect();
        let Some(meta) = meta else {
            return Facts { variants, ..Facts::default() };
        };
        Facts {
            scenario: Some(meta.scenario.clone()),
            started_at: Some(meta.started_at.clone()),
            finished_at: meta.finished_at.clone(),
            host_cpu: Some(meta.host.cpu_model.clone()),
            host_cpus: Some(meta.host.cpus),
            host_memory_mib: Some(meta.host.memory_mib),
            host_kernel: Some(meta.host.kernel.clone()),
            // The version string names the program already ("QEMU emulator version 7.2").
            hypervisor: Some(if meta.hypervisor.version.is_empty() { meta.hypervisor.backend.clone() } else { meta.hypervisor.version.clone() }),
            accel: Some(meta.hypervisor.accel.clone()),
            guest_cpus: Some(meta.guest.cpus),
            guest_memory_mib: Some(meta.guest.memory_mib),
            workload: Some(meta.workload.command.clone()),
            compiler: meta.probe("compiler").map(str::to_string),
            linux_version: meta.probe("linux_version").map(str::to_string),
            variants,
            kernel_trouble: kernel_trouble(meta),
            leftovers: meta
                .variants
                .iter()
                .flat_map(|v| v.leftover_processes.iter().map(|l| l.describe(&v.name)))
                .collect(),
        }
    }

    /// Times measured under TCG are emulated: comparable with each other only.
    pub fn is_emulated(&self) -> bool {
        self.accel.as_deref() == Some("tcg")
    }

    /// Warnings about the machine, before those about the runs.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.is_emulated() {
            warnings.push(
                "measured under TCG (software emulation, no KVM): times are many times slower than on hardware; compare them only with other TCG results".to_string(),
            );
        }
        warnings.extend(self.kernel_trouble.iter().map(KernelTrouble::warning));
        warnings.extend(self.leftovers.iter().cloned());
        if self.accel.is_none() {
            warnings.push("no meta.json in the results folder: host, hypervisor and accelerator are unknown".to_string());
        }
        warnings
    }
}

fn kernel_trouble(meta: &Meta) -> Vec<KernelTrouble> {
    meta.variants
        .iter()
        .flat_map(|v| {
            v.kernel_findings.iter().map(move |f| KernelTrouble {
                variant: v.name.clone(),
                boot: f.boot,
                finding: f.finding.clone(),
                log_file: f.finding.log_file(&v.name, f.boot),
            })
        })
        .collect()
}

fn variant_facts(meta: Option<&Meta>, seen: &crate::stats::VariantSeen) -> VariantFacts {
    let recorded = meta.and_then(|m| m.variants.iter().find(|v| v.name == seen.name));
    let boot = recorded.and_then(|v| v.boot.as_ref());
    VariantFacts {
        name: seen.name.clone(),
        cmdline_in_guest: boot.map(|b| b.cmdline.clone()).unwrap_or_else(|| seen.cmdline.clone()),
        kernel_release: boot.map(|b| b.kernel_release.clone()).unwrap_or_else(|| seen.kernel_release.clone()),
        kernel: recorded.map(|v| v.kernel.path.clone()),
        kernel_sha256: recorded.map(|v| v.kernel.sha256.clone()),
        slab_poisoning: boot.map(|b| b.slab.is_on()),
    }
}
