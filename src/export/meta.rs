//! meta.json: what a result depends on besides the kernel under test (host, hypervisor,
//! accelerator, checksums of every file booted), so two results can be told comparable.

use crate::backend::console::ConsoleFinding;
use crate::backend::Backend;
use crate::benchmark::workload::commands;
use crate::scenario::{Plan, Workload};
use anyhow::{Context, Result};
use kbench_protocol::BootFacts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

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
    /// Kernel trouble (panic, BUG, oops, warning) seen on the console, per boot.
    #[serde(default)]
    pub console_findings: Vec<BootFinding>,
    /// Steps that left processes running, which the agent then killed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftover_processes: Vec<Leftovers>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leftovers {
    pub boot: u32,
    /// The step, as the progress line names it (`half -j 1 run 2`, `prepare`).
    pub step: String,
    pub processes: u32,
}

impl Leftovers {
    pub fn describe(&self, variant: &str) -> String {
        let (what, pronoun) = if self.processes == 1 { ("process", "it") } else { ("processes", "them") };
        format!(
            "variant {variant} boot {}, {}: the step left {} {what} running; kbench killed {pronoun}",
            self.boot, self.step, self.processes
        )
    }
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
    pub fn collect(plan: &Plan, backend: &dyn Backend, backend_name: &str) -> Result<Meta> {
        let work = commands(&plan.workload, true);
        let variants = plan
            .variants
            .iter()
            .map(|v| {
                Ok(VariantFacts {
                    name: v.name.clone(),
                    cmdline: v.cmdline.clone(),
                    kernel: file_facts(&v.kernel)?,
                    initrd: v.initrd.as_deref().map(file_facts).transpose()?,
                    boot: None,
                    console_findings: Vec::new(),
                    leftover_processes: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Meta {
            schema_version: META_SCHEMA_VERSION,
            kbench_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: plan.name.clone(),
            scenario_file: std::path::absolute(&plan.scenario_path)
                .unwrap_or_else(|_| plan.scenario_path.clone())
                .display()
                .to_string(),
            scenario_sha256: file_facts(&plan.scenario_path)?.sha256,
            started_at: now(),
            finished_at: None,
            host: host_facts(),
            hypervisor: HypervisorFacts {
                backend: backend_name.to_string(),
                version: backend.version(),
                accel: backend.accel().to_string(),
            },
            guest: GuestFacts {
                cpus: plan.guest.cpus,
                memory_mib: plan.guest.memory_mib,
                disk: plan.guest.disk.as_deref().map(file_facts).transpose()?,
            },
            workload: WorkloadFacts {
                kind: plan.workload.kind().to_string(),
                command: work.command,
                prepare: work.prepare,
                clean: work.clean,
                kernel_build: match &plan.workload {
                    Workload::KernelBuild(kb) => Some(KernelBuildFacts {
                        source: kb.source.clone(),
                        config: kb.config.describe(),
                        target: kb.target.clone(),
                        make_args: kb.make_args.clone(),
                        build_dir: kb.build_dir.clone(),
                        clean: kb.clean.name().to_string(),
                    }),
                    Workload::Command { .. } => None,
                },
            },
            runs: plan.runs,
            warmup: plan.warmup,
            levels: plan.levels.iter().map(|l| LevelFacts { label: l.label.clone(), jobs: l.jobs }).collect(),
            baseline: plan.variants[plan.baseline].name.clone(),
            variants,
        })
    }

    /// What a guest's probe reported (`compiler`, `linux_version`), from the first variant
    /// that booted: the guest image is shared by all variants.
    pub fn probe(&self, name: &str) -> Option<&str> {
        self.variants.iter().find_map(|v| v.boot.as_ref()?.probes.get(name).map(String::as_str))
    }

    pub fn record_console(&mut self, variant: &str, boot: u32, findings: Vec<ConsoleFinding>) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.console_findings.extend(findings.into_iter().map(|finding| BootFinding { boot, finding }));
        }
    }

    pub fn record_leftovers(&mut self, variant: &str, leftovers: Leftovers) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.leftover_processes.push(leftovers);
        }
    }

    pub fn record_boot(&mut self, variant: &str, facts: &BootFacts) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.boot = Some(facts.clone());
        }
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn read_meta(path: &Path) -> Result<Meta> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a kbench meta.json", path.display()))
}

pub fn file_facts(path: &Path) -> Result<FileFacts> {
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(FileFacts { path: path.display().to_string(), sha256: format!("{:x}", hasher.finalize()) })
}

fn host_facts() -> HostFacts {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    HostFacts {
        cpu_model,
        cpus: crate::host::cpus().unwrap_or(0),
        memory_mib: crate::host::memory_mib().unwrap_or(0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_told_with_the_step_and_the_count() {
        let one = Leftovers { boot: 2, step: "half -j 1 run 3".into(), processes: 1 };
        assert_eq!(one.describe("poison"), "variant poison boot 2, half -j 1 run 3: the step left 1 process running; kbench killed it");
        let many = Leftovers { processes: 4, ..one };
        assert!(many.describe("poison").ends_with("left 4 processes running; kbench killed them"));
    }
}
