//! The facts of a study (meta.json) gathered before its first boot: what the result
//! depends on besides the kernel under test. The guests add what they report as they boot.

use super::workload::commands;
use crate::backend::Backend;
use crate::model::{
    now, AdaptiveFacts, DesignFacts, FileFacts, GuestFacts, HostFacts, HypervisorFacts, KernelBuildFacts, LevelFacts, Meta, QuietHostFacts,
    VariantFacts, WorkloadFacts, META_SCHEMA_VERSION,
};
use crate::scenario::order::OrderChoice;
use crate::scenario::{Plan, Workload};
use anyhow::Result;
use std::path::Path;

/// What meta.json says of the one backend that runs a study on one host.
pub fn hypervisor_facts(backend: &dyn Backend, backend_name: &str) -> HypervisorFacts {
    HypervisorFacts { backend: backend_name.to_string(), version: backend.version(), accel: backend.accel().to_string() }
}

/// The facts of a study about to start: the plan, the hypervisor, the host and the
/// checksum of every file the guests boot.
pub fn collect_meta(plan: &Plan, hypervisor: HypervisorFacts) -> Result<Meta> {
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
                kernel_findings: Vec::new(),
                leftover_processes: Vec::new(),
                kernel_views: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Meta {
        schema_version: META_SCHEMA_VERSION,
        kbench_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: plan.name.clone(),
        scenario_file: std::path::absolute(&plan.scenario_path).unwrap_or_else(|_| plan.scenario_path.clone()).display().to_string(),
        scenario_sha256: file_facts(&plan.scenario_path)?.sha256,
        started_at: now(),
        finished_at: None,
        host: host_facts(),
        hypervisor,
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
        design: Some(design_facts(plan)),
        stopping: Vec::new(),
        hosts: Vec::new(),
        boots: Vec::new(),
        time_budget: None,
    })
}

pub fn design_facts(plan: &Plan) -> DesignFacts {
    let random = plan.order.choice == OrderChoice::Random;
    DesignFacts {
        rounds: plan.rounds,
        order: plan.order.choice.name().to_string(),
        seed: random.then_some(plan.order.seed),
        seed_from_clock: random && plan.order.seed_from_clock,
        adaptive: plan.adaptive.map(|a| AdaptiveFacts {
            precision_percent: a.precision_percent,
            min_runs: a.min_runs,
            max_runs: a.max_runs,
            decide_threshold_percent: a.decide_threshold_percent,
        }),
        quiet_host: plan.quiet_host.map(|q| QuietHostFacts { max_load: q.max_load, wait_s: q.wait.as_secs() }),
        pin: plan.guest.pin,
        restored: plan.reuse == crate::scenario::file::Reuse::Snapshot,
        snapshots: plan.snapshots,
    }
}

/// A file and its sha256, to tell later whether it changed (cached by the file's state).
pub fn file_facts(path: &Path) -> Result<FileFacts> {
    Ok(FileFacts { path: path.display().to_string(), sha256: crate::host::checksum_cache::sha256_of(path)? })
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
