//! The facts of meta.json: what a result depends on besides the kernel under test (host, hypervisor,
//! accelerator, checksums of every file booted), so two results can be told comparable.
//! `benchmark::study_meta` gathers them, `results::meta_json` reads them back.

use super::findings::ConsoleFinding;
use super::overhead::{BootTimes, TimeBudget};
use super::stopping::LevelStopping;
use kbench_protocol::{BootFacts, KernelView};
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
    /// How the study ordered its boots and sized its runs; absent in older meta.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design: Option<DesignFacts>,
    /// With `runs = "auto"`: per variant and level, what stopped its runs (the target, the
    /// cap, or the end of the study), as of the end of `bench run`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopping: Vec<LevelStopping>,
    /// The lab hosts of a `[[host]]` study and how each fared; empty on one host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<LabHostFacts>,
    /// Where each boot's time went, in the order the boots ran; absent in older meta.json.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boots: Vec<BootTimes>,
    /// Where the study's time went; absent in older meta.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<TimeBudget>,
}

/// One `[[host]]` of a study spread over several hosts: where it is, what it is, and
/// whether it ran its block of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabHostFacts {
    /// The `[[host]]` name, as runs.csv's `host` column holds it.
    pub name: String,
    pub uri: String,
    pub status: LabHostStatus,
    /// Why the host did not complete its block; empty when it did.
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub libvirt_version: String,
    /// "kvm" or "tcg", as the host's domain capabilities allowed.
    #[serde(default)]
    pub accel: String,
    #[serde(default)]
    pub cpus: u32,
    #[serde(default)]
    pub memory_mib: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabHostStatus {
    /// Planned or under way.
    Running,
    /// Every run of its block is on record.
    Done,
    /// Its connection could not be opened.
    Unreachable,
    /// It answered but cannot run the study (no KVM for accel = "kvm", too small), or it
    /// began and stopped short (lost connection, guest failures, interrupt).
    Failed,
}

/// The study's design against noise: its boot order (and seed, to boot in that order
/// again), adaptive runs, the quiet-host wait and pinning, as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignFacts {
    pub rounds: u32,
    /// "random" or "alternate".
    pub order: String,
    /// The seed of a random order; `seed = N` in the scenario boots the same order again.
    pub seed: Option<u64>,
    /// The scenario gave no seed: it came from the clock.
    pub seed_from_clock: bool,
    pub adaptive: Option<AdaptiveFacts>,
    pub quiet_host: Option<QuietHostFacts>,
    pub pin: bool,
    /// `reuse = "snapshot"`: the rounds after each variant's first restored the guest it
    /// saved once prepared and warmed up; false (also in older meta.json): every round booted.
    #[serde(default)]
    pub restored: bool,
    /// With `restored`: how many boots per variant were saved and restored in turn.
    #[serde(default = "one")]
    pub snapshots: u32,
}

fn one() -> u32 {
    1
}

impl DesignFacts {
    /// The design in a sentence, as the reports state it.
    pub fn describe(&self) -> String {
        let mut parts = vec![match (self.rounds, self.order.as_str(), self.seed) {
            (1, _, _) => {
                "sequential: one boot per variant, all its runs in a row (drift between variants goes into the verdicts)".to_string()
            }
            (rounds, "random", Some(seed)) => {
                format!("interleaved: {rounds} rounds, each booting every variant in a random order from seed {seed} (`seed = {seed}` boots in this order again)")
            }
            (rounds, order, _) => format!("interleaved: {rounds} rounds, each booting every variant, {order} order"),
        }];
        if let Some(adaptive) = self.adaptive.as_ref().filter(|a| a.decide_threshold_percent.is_some()) {
            parts.push(format!(
                "runs until each comparison with the baseline is known, changed or the same within ± {} % ({} to {} runs, alpha spent over the looks)",
                adaptive.decide_threshold_percent.unwrap_or(0.0),
                adaptive.min_runs,
                adaptive.max_runs
            ));
        } else if let Some(adaptive) = &self.adaptive {
            parts.push(format!(
                "runs until the 95 % interval of the mean elapsed time is within ± {} % ({} to {} runs)",
                adaptive.precision_percent, adaptive.min_runs, adaptive.max_runs
            ));
        }
        if let Some(quiet) = &self.quiet_host {
            parts.push(format!("each run waited up to {} s for other processes to use at most {} CPUs", quiet.wait_s, quiet.max_load));
        }
        if self.pin {
            parts.push("each vCPU pinned to a host CPU of its own".to_string());
        }
        if self.restored && self.rounds > 1 {
            parts.push(match self.snapshots {
                0 | 1 => "each variant booted, prepared and warmed up once, its later rounds restored from the guest saved then (no boot-to-boot variation sampled)".to_string(),
                k => format!("each variant booted, prepared and warmed up {k} times, its later rounds restored from these {k} saved guests in turn (boot-to-boot variation sampled {k} times)"),
            });
        }
        parts.join("; ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveFacts {
    pub precision_percent: f64,
    pub min_runs: u32,
    pub max_runs: u32,
    /// `decide = true`: the threshold each comparison with the baseline was decided at;
    /// absent when the runs stopped on precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide_threshold_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietHostFacts {
    pub max_load: f64,
    pub wait_s: u64,
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
    /// Steps that left processes running, which the agent then killed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftover_processes: Vec<Leftovers>,
    /// The kernel's view of its memory hardening at the end of each boot's runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_views: Vec<BootKernelView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootKernelView {
    /// The `[[host]]` the boot ran on; empty on one host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub boot: u32,
    #[serde(flatten)]
    pub view: KernelView,
}

/// Processes one step left running when its shell ended (a daemon, a background job):
/// the agent killed them, and the run is kept, since they may have competed with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leftovers {
    /// The `[[host]]` the boot ran on; empty on one host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub boot: u32,
    /// The step, as the progress names it (`run half 2`, `warm-up 1`, `prepare`).
    pub step: String,
    pub processes: u32,
}

impl Leftovers {
    pub fn describe(&self, variant: &str) -> String {
        let (what, pronoun) = if self.processes == 1 { ("process", "it") } else { ("processes", "them") };
        let on = if self.host.is_empty() { String::new() } else { format!("host {}: ", self.host) };
        format!(
            "{on}variant {variant} boot {}, {}: the step left {} {what} running; kbench killed {pronoun}",
            self.boot, self.step, self.processes
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootFinding {
    /// The `[[host]]` the boot ran on; empty on one host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
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

    pub fn record_findings(&mut self, host: &str, variant: &str, boot: u32, findings: Vec<ConsoleFinding>) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.kernel_findings.extend(findings.into_iter().map(|finding| BootFinding { host: host.to_string(), boot, finding }));
        }
    }

    pub fn record_leftovers(&mut self, variant: &str, leftovers: Leftovers) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.leftover_processes.push(leftovers);
        }
    }

    pub fn record_kernel_view(&mut self, host: &str, variant: &str, boot: u32, view: KernelView) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.kernel_views.retain(|k| k.boot != boot || k.host != host);
            v.kernel_views.push(BootKernelView { host: host.to_string(), boot, view });
        }
    }

    /// A boot's times, as they grow: the entry of the same boot is replaced.
    pub fn record_boot_times(&mut self, times: &BootTimes) {
        match self.boots.iter_mut().find(|b| b.variant == times.variant && b.boot == times.boot) {
            Some(entry) => *entry = times.clone(),
            None => self.boots.push(times.clone()),
        }
    }

    pub fn record_boot(&mut self, variant: &str, facts: &BootFacts) {
        if let Some(v) = self.variants.iter_mut().find(|v| v.name == variant) {
            v.boot = Some(facts.clone());
        }
    }
}

/// A plausible meta.json of a one-variant study (as a kbench before `design` wrote it), for
/// tests anywhere in the crate.
#[cfg(test)]
pub fn test_meta() -> Meta {
    serde_json::from_str(tests::OLDER_META).expect("a valid meta.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_says_sequential_or_how_it_interleaves_and_how_to_repeat_the_order() {
        let design = DesignFacts {
            rounds: 5,
            order: "random".into(),
            seed: Some(42),
            seed_from_clock: true,
            adaptive: None,
            quiet_host: Some(QuietHostFacts { max_load: 0.5, wait_s: 60 }),
            pin: true,
            restored: false,
            snapshots: 1,
        };
        assert_eq!(
            design.describe(),
            "interleaved: 5 rounds, each booting every variant in a random order from seed 42 (`seed = 42` boots in this \
             order again); each run waited up to 60 s for other processes to use at most 0.5 CPUs; each vCPU pinned to a host CPU of its own"
        );
        let sequential = DesignFacts { rounds: 1, quiet_host: None, pin: false, ..design };
        assert!(sequential.describe().starts_with("sequential: one boot per variant"), "{}", sequential.describe());
    }

    #[test]
    fn leftovers_are_told_with_the_step_and_the_count() {
        let one = Leftovers { host: String::new(), boot: 2, step: "run half 3".into(), processes: 1 };
        assert_eq!(one.describe("poison"), "variant poison boot 2, run half 3: the step left 1 process running; kbench killed it");
        let many = Leftovers { processes: 4, ..one };
        assert!(many.describe("poison").ends_with("left 4 processes running; kbench killed them"));
        let on_a_host = Leftovers { host: "lab1".into(), ..many };
        assert!(on_a_host.describe("poison").starts_with("host lab1: variant poison boot 2"), "{}", on_a_host.describe("poison"));
    }
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

    pub(super) const OLDER_META: &str = r#"{
        "schema_version": 1, "kbench_version": "0.1.0", "scenario": "kbuild",
        "started_at": "2026-11-29T08:00:00Z", "finished_at": null,
        "host": { "cpu_model": "Example CPU", "cpus": 2, "memory_mib": 4096, "kernel": "6.1.0" },
        "hypervisor": { "backend": "qemu", "version": "QEMU emulator version 7.2.0", "accel": "tcg" },
        "guest": { "cpus": 2, "memory_mib": 1024, "disk": null },
        "workload": { "kind": "command", "command": "true", "prepare": null, "clean": null },
        "runs": 5, "warmup": 1, "levels": [{ "label": "half", "jobs": 1 }],
        "baseline": "baseline",
        "variants": [{ "name": "baseline", "cmdline": "", "kernel": { "path": "k", "sha256": "0" }, "initrd": null, "boot": null }]
    }"#;

    #[test]
    fn older_meta_has_no_design_and_a_new_one_keeps_its_seed() {
        let mut meta: Meta = serde_json::from_str(OLDER_META).unwrap();
        assert_eq!(meta.design, None);
        assert!(!serde_json::to_string(&meta).unwrap().contains("design"), "nothing is invented for an older study");
        let design = DesignFacts {
            rounds: 5,
            order: "random".into(),
            // Above 2^53: a seed must survive JSON exactly, not as a rounded float.
            seed: Some(9_007_199_254_740_993),
            seed_from_clock: true,
            adaptive: Some(AdaptiveFacts { precision_percent: 2.0, min_runs: 5, max_runs: 20, decide_threshold_percent: None }),
            quiet_host: Some(QuietHostFacts { max_load: 0.5, wait_s: 300 }),
            pin: false,
            restored: true,
            snapshots: 2,
        };
        meta.design = Some(design.clone());
        let again: Meta = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert_eq!(again.design, Some(design));
    }

    #[test]
    fn a_boots_times_replace_its_earlier_entry_and_older_meta_has_none() {
        let mut meta: Meta = serde_json::from_str(OLDER_META).unwrap();
        assert!(meta.boots.is_empty() && meta.time_budget.is_none());
        let text = serde_json::to_string(&meta).unwrap();
        assert!(!text.contains("boots") && !text.contains("time_budget"), "nothing is invented for an older study");
        let booted = BootTimes { boot_s: 6.0, ..BootTimes::new("baseline", 1) };
        meta.record_boot_times(&booted);
        meta.record_boot_times(&BootTimes { timed_s: 30.0, ..booted.clone() });
        meta.record_boot_times(&BootTimes::new("baseline", 2));
        assert_eq!(meta.boots.iter().map(|b| (b.boot, b.timed_s)).collect::<Vec<_>>(), [(1, 30.0), (2, 0.0)]);
        meta.time_budget = Some(TimeBudget::of(&meta.boots, 60.0, 0.1));
        let again: Meta = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert_eq!((again.boots, again.time_budget), (meta.boots, meta.time_budget));
    }
}
