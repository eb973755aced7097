//! What a report states about the machine and the guests besides the numbers: from
//! meta.json when the results folder has one, else only what runs.csv says.

use crate::model::{BootKernelView, BootTimes, ConsoleFinding, LevelStopping, Meta, RunRecord, StopRule, TimeBudget};
use crate::stats::{Analysis, Decide, Target};
use kbench_protocol::KernelView;
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
    /// How the study ordered its boots and sized its runs (`DesignFacts::describe`).
    pub design: Option<String>,
    /// `gcc --version` in the guest, for kernel-build workloads.
    pub compiler: Option<String>,
    /// The version of the Linux tree compiled, for kernel-build workloads.
    pub linux_version: Option<String>,
    pub variants: Vec<VariantFacts>,
    /// Kernel trouble the consoles and kernel logs showed, per variant and boot.
    pub kernel_trouble: Vec<KernelTrouble>,
    /// Steps that left processes running (killed by the agent), one line each.
    pub leftovers: Vec<String>,
    /// With `runs = "auto"`: what stopped each variant and level's runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopping: Vec<LevelStopping>,
    /// Where the study's time went (meta.json); none for older studies.
    pub time_budget: Option<TimeBudget>,
    /// Each boot's times and pinning (meta.json).
    pub boots: Vec<BootTimes>,
}

/// The reports of one kind in one boot of one variant.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTrouble {
    /// The `[[host]]` the boot ran on; empty on one host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
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
        self.finding.warning(&self.host, &self.variant, self.boot)
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
    /// The kernel's view of its memory hardening, per boot (meta.json).
    pub kernel_views: Vec<BootKernelView>,
}

impl VariantFacts {
    /// Where the kernel's own view contradicts what the command line asks for.
    pub fn hardening_mismatches(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for boot in &self.kernel_views {
            for problem in hardening_mismatches(&self.cmdline_in_guest, &boot.view) {
                let line = format!("{}: {problem}", self.name);
                if !found.contains(&line) {
                    found.push(line);
                }
            }
        }
        found
    }
}

/// What `cmdline` asks of the kernel's memory hardening and `view` says it did not do.
/// The last occurrence of an option counts, as in the kernel's own parsing.
pub fn hardening_mismatches(cmdline: &str, view: &KernelView) -> Vec<String> {
    let value = |key: &str| -> Option<Option<&str>> {
        cmdline.split_whitespace().rev().find_map(|word| match word.split_once('=') {
            Some((k, v)) if k == key => Some(Some(v)),
            None if word == key => Some(None),
            _ => None,
        })
    };
    let on = |key: &str| matches!(value(key), Some(Some(v)) if matches!(v.to_ascii_lowercase().as_str(), "1" | "y" | "yes" | "on"));
    let mut problems = Vec::new();
    // `slub_debug` alone turns every debug option on; `slub_debug=FZP,cache` names flags.
    let slub = value("slub_debug").or_else(|| value("slab_debug"));
    let flags = |letter: char| match slub {
        Some(None) => true,
        Some(Some(v)) => v.split(',').next().unwrap_or("").chars().any(|c| c.eq_ignore_ascii_case(&letter)),
        None => false,
    };
    if let Some(init) = &view.mem_auto_init {
        // The kernel's slab code skips zeroing in poisoned caches (slab_want_init_on_alloc
        // / _free): the global line can say "on" while those caches get poison instead.
        let poisoned = format!("{} of {} slab caches are poisoned and skip it (poisoning takes its place)", view.poisoned, view.caches);
        for (option, part, state, requested) in [
            ("init_on_free", "heap free", &init.heap_free, on("init_on_free")),
            ("init_on_alloc", "heap alloc", &init.heap_alloc, on("init_on_alloc")),
        ] {
            if requested && state != "on" {
                let why = if view.poisoned > 0 { " (slab poisoning is on, which takes precedence)" } else { "" };
                problems.push(format!("{option}=1 is on the command line but the kernel reports \"{part}:{state}\"{why}"));
            } else if state == "on" && view.poisoned > 0 && (requested || flags('p')) {
                let asked = if requested { format!("{option}=1 is on the command line") } else { format!("{option} is on by default") };
                problems.push(format!("{asked} and the kernel reports \"{part}:on\", but {poisoned}"));
            }
        }
    }
    if view.caches > 0 {
        if flags('p') && view.poisoned == 0 {
            problems.push("slub_debug asks for poisoning (P) but no slab cache is poisoned".to_string());
        }
        if flags('z') && view.red_zoned == 0 {
            problems.push("slub_debug asks for red zoning (Z) but no slab cache is red-zoned".to_string());
        }
    }
    problems
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
            hypervisor: Some(if meta.hypervisor.version.is_empty() {
                meta.hypervisor.backend.clone()
            } else {
                meta.hypervisor.version.clone()
            }),
            accel: Some(meta.hypervisor.accel.clone()),
            guest_cpus: Some(meta.guest.cpus),
            guest_memory_mib: Some(meta.guest.memory_mib),
            workload: Some(meta.workload.command.clone()),
            design: meta.design.as_ref().map(|d| d.describe()),
            compiler: meta.probe("compiler").map(str::to_string),
            linux_version: meta.probe("linux_version").map(str::to_string),
            variants,
            kernel_trouble: kernel_trouble(meta),
            leftovers: meta.variants.iter().flat_map(|v| v.leftover_processes.iter().map(|l| l.describe(&v.name))).collect(),
            time_budget: meta.time_budget.clone(),
            boots: meta.boots.clone(),
            // `stopping` needs the runs: `reports` fills it in.
            ..Facts::default()
        }
    }

    /// The machine-and-guests table of the reports, row by row (name, value).
    pub fn table_rows(&self) -> Vec<(&'static str, String)> {
        let unknown = || "unknown (no meta.json)".to_string();
        let host = match (&self.host_cpu, self.host_cpus, self.host_memory_mib) {
            (Some(cpu), Some(cpus), Some(mib)) => format!("{cpu}, {cpus} CPUs, {mib} MiB"),
            _ => unknown(),
        };
        let guest = match (self.guest_cpus, self.guest_memory_mib) {
            (Some(cpus), Some(mib)) => format!("{cpus} CPUs, {mib} MiB"),
            _ => unknown(),
        };
        let measured = match (&self.started_at, &self.finished_at) {
            (Some(start), Some(end)) => format!("{start} to {end}"),
            (Some(start), None) => format!("from {start}, unfinished"),
            _ => unknown(),
        };
        vec![
            ("Host", host),
            ("Host kernel", self.host_kernel.clone().unwrap_or_else(unknown)),
            ("Hypervisor", self.hypervisor.clone().unwrap_or_else(unknown)),
            ("Accelerator", self.accel.clone().unwrap_or_else(unknown)),
            ("Guest", guest),
            ("Workload", self.workload.clone().unwrap_or_else(unknown)),
            ("Design", self.design.clone().unwrap_or_else(unknown)),
            ("Compiler", self.compiler.clone().unwrap_or_else(|| "not recorded (the workload does not compile)".into())),
            ("Linux compiled", self.linux_version.clone().unwrap_or_else(|| "none".into())),
            ("Measured", measured),
        ]
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
        warnings.extend(self.variants.iter().flat_map(VariantFacts::hardening_mismatches));
        for stop in &self.stopping {
            match stop.rule {
                StopRule::Precise | StopRule::Decided => {}
                StopRule::Cap => warnings.push(format!(
                    "{}: the mean elapsed time is less precise than the target; more runs (max_runs) or a quieter host would narrow it",
                    stop.line()
                )),
                StopRule::Unfinished => warnings.push(format!(
                    "{}: the study ended before the target or the cap was reached (bench run --resume continues it)",
                    stop.line()
                )),
            }
        }
        if self.accel.is_none() {
            warnings.push("no meta.json in the results folder: host, hypervisor and accelerator are unknown".to_string());
        }
        warnings
    }
}

/// With `runs = "auto"` (meta.json's design): what stopped each variant and level, decided
/// from the runs on record by the same rule the runner followed.
pub fn adaptive_stopping(meta: Option<&Meta>, records: &[RunRecord]) -> Vec<LevelStopping> {
    let Some((meta, design)) = meta.and_then(|m| m.design.as_ref().map(|d| (m, d))) else {
        return Vec::new();
    };
    let Some(adaptive) = &design.adaptive else {
        return Vec::new();
    };
    let target = Target {
        precision_percent: adaptive.precision_percent,
        min_runs: adaptive.min_runs,
        max_runs: adaptive.max_runs,
        rounds: design.rounds,
        decide: adaptive.decide_threshold_percent.map(|noise_percent| Decide {
            baseline: meta.baseline.clone(),
            alpha: Decide::ALPHA,
            noise_percent,
            spending: Decide::SPENDING,
        }),
    };
    let variants: Vec<String> = meta.variants.iter().map(|v| v.name.clone()).collect();
    let levels: Vec<String> = meta.levels.iter().map(|l| l.label.clone()).collect();
    target.statements(records, &variants, &levels)
}

fn kernel_trouble(meta: &Meta) -> Vec<KernelTrouble> {
    meta.variants
        .iter()
        .flat_map(|v| {
            v.kernel_findings.iter().map(move |f| KernelTrouble {
                host: f.host.clone(),
                variant: v.name.clone(),
                boot: f.boot,
                finding: f.finding.clone(),
                log_file: f.finding.log_file(&f.host, &v.name, f.boot),
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
        kernel_views: recorded.map(|v| v.kernel_views.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbench_protocol::MemAutoInit;

    fn view(heap_alloc: &str, heap_free: &str, poisoned: u32, red_zoned: u32) -> KernelView {
        KernelView {
            mem_auto_init: Some(MemAutoInit { stack: "all(zero)".into(), heap_alloc: heap_alloc.into(), heap_free: heap_free.into() }),
            caches: 100,
            poisoned,
            red_zoned,
            largest_caches: vec![],
        }
    }

    #[test]
    fn hardening_the_kernel_did_not_apply_is_named() {
        // Debian 6.1: init_on_free=1 with slub_debug=P reports heap free:off.
        let problems = hardening_mismatches("console=ttyS0 init_on_free=1 slub_debug=P", &view("off", "off", 50, 0));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("init_on_free=1") && problems[0].contains("heap free:off") && problems[0].contains("poisoning"),
            "{problems:?}"
        );
        // Debian 6.1 says "heap free:on" with slub_debug=P, but its poisoned caches skip it.
        let problems = hardening_mismatches("init_on_free=1 slub_debug=P", &view("on", "on", 50, 0));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("init_on_free=1 is on the command line") && problems[0].contains("50 of 100"), "{problems:?}");
        assert!(problems[1].contains("init_on_alloc is on by default"), "{problems:?}");
        assert!(hardening_mismatches("init_on_free=1", &view("on", "on", 0, 0)).is_empty());
        assert!(hardening_mismatches("", &view("on", "off", 5, 0)).is_empty(), "poisoned caches alone, nothing asked for");
        assert!(hardening_mismatches("init_on_alloc=1", &view("off", "off", 0, 0))[0].contains("heap alloc:off"));
        let unpoisoned = hardening_mismatches("slub_debug=FZP", &view("off", "off", 0, 0));
        assert_eq!(unpoisoned.len(), 2, "{unpoisoned:?}");
        assert!(hardening_mismatches("slub_debug=fzp", &view("off", "off", 10, 10)).is_empty());
        assert!(hardening_mismatches("slub_debug", &view("off", "off", 10, 10)).is_empty());
        assert!(hardening_mismatches("slub_debug=F", &view("on", "off", 0, 0)).is_empty(), "F alone asks for no poisoning");
        assert!(hardening_mismatches("init_on_free=1 init_on_free=0", &view("on", "off", 0, 0)).is_empty(), "the last one counts");
        assert!(hardening_mismatches("init_on_free=1", &KernelView::default()).is_empty(), "no view, nothing to contradict");
    }
}
