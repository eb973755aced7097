//! The facts of meta.json: what a result depends on besides the kernel under test (host, hypervisor,
//! accelerator, checksums of every file booted), so two results can be told comparable.
//! `benchmark::facts` gathers them, `export::meta_json` reads and writes them.

use kbench_protocol::BootFacts;
use super::findings::ConsoleFinding;
use serde::{Deserialize, Serialize};

pub const META_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub schema_version: u32,
    pub kbench_version: String,
    pub scenario: String,
    /// The scenario file as given, made absolute: `bench run --resume` reads it again.
    #[serde(default)]
    pub scenario_file: String,
    /// sha256 of the scenario file: a resumed study must run the same one.
    #[serde(default)]
    pub scenario_sha256: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub host: HostFacts,
    pub hypervisor: HypervisorFacts,
    pub guest: GuestFacts,
    pub workload: WorkloadFacts,
    pub runs: u32,
    pub warmup: u32,
    pub levels: Vec<LevelFacts>,
    pub baseline: String,
    pub variants: Vec<VariantFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFacts {
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_mib: u64,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HypervisorFacts {
    pub backend: String,
    pub version: String,
    pub accel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestFacts {
    pub cpus: u32,
    pub memory_mib: u64,
    pub disk: Option<FileFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadFacts {
    pub kind: String,
    pub command: String,
    pub prepare: Option<String>,
    pub clean: Option<String>,
    /// The kernel-build keys as validated; the compiler and the compiled Linux version
    /// are what each guest reported, in `variants[].boot.probes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_build: Option<KernelBuildFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelBuildFacts {
    pub source: String,
    pub config: String,
    pub target: String,
    pub make_args: String,
    pub build_dir: String,
    pub clean: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LevelFacts {
    pub label: String,
    pub jobs: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantFacts {
    pub name: String,
    pub cmdline: String,
    pub kernel: FileFacts,
    pub initrd: Option<FileFacts>,
    /// What the guest reported about itself once booted.
    pub boot: Option<BootFacts>,
    /// Kernel trouble (panics, oopses, SLUB/KASAN/KFENCE reports, lockups, stalls, hung
    /// tasks, warnings) in the console or the kernel log, per boot. Called
    /// `console_findings` before the kernel log was read.
    #[serde(default, alias = "console_findings")]
    pub kernel_findings: Vec<BootFinding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootFinding {
    pub boot: u32,
    #[serde(flatten)]
    pub finding: ConsoleFinding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    pub sha256: String,
}

impl Meta {
    /// What a guest's probe reported (`compiler`, `linux_version`), from the first variant
    /// that booted: the guest image is shared by all variants.
    pub fn probe(&self, name: &str) -> Option<&str> {
        self.variants.iter().find_map(|v| v.boot.as_ref()?.probes.get(name).map(String::as_str))
    }

    pub fn record_findings(&mut self, variant: &str, boot: u32, findings: Vec<ConsoleFinding>) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.kernel_findings.extend(findings.into_iter().map(|finding| BootFinding { boot, finding }));
        }
    }

    pub fn record_boot(&mut self, variant: &str, facts: &BootFacts) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.boot = Some(facts.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FindingKind, KernelLog};

    #[test]
    fn a_meta_json_written_before_the_kernel_log_was_read_is_still_read() {
        let old = r#"{"name": "poison", "cmdline": "slub_debug=P", "kernel": {"path": "/k", "sha256": "00"}, "initrd": null, "boot": null,
            "console_findings": [
                {"boot": 1, "marker": "Kernel panic", "line": "Kernel panic - not syncing: sysrq", "excerpt": "[ 2.6] Kernel panic - not syncing: sysrq"},
                {"boot": 2, "marker": "BUG:", "line": "BUG: unable to handle page fault", "excerpt": ""},
                {"boot": 2, "marker": "Oops", "line": "Oops: 0002 [#1]", "excerpt": ""},
                {"boot": 2, "marker": "WARNING:", "line": "WARNING: CPU: 0", "excerpt": ""}]}"#;
        let variant: VariantFacts = serde_json::from_str(old).unwrap();
        let read: Vec<(u32, FindingKind, u32, KernelLog)> =
            variant.kernel_findings.iter().map(|f| (f.boot, f.finding.kind, f.finding.count, f.finding.log)).collect();
        assert_eq!(
            read,
            [
                (1, FindingKind::Panic, 1, KernelLog::Console),
                (2, FindingKind::Bug, 1, KernelLog::Console),
                (2, FindingKind::Oops, 1, KernelLog::Console),
                (2, FindingKind::Warning, 1, KernelLog::Console)
            ]
        );
        let written = serde_json::to_value(&variant).unwrap();
        assert_eq!(written["kernel_findings"][0]["kind"], "panic", "{written}");
        assert_eq!(written["kernel_findings"][0]["log"], "console", "{written}");
        let again: VariantFacts = serde_json::from_value(written).unwrap();
        assert_eq!(again.kernel_findings[3].finding, variant.kernel_findings[3].finding);
    }
}
