//! The scenario file as the user writes it (TOML). Unknown keys are errors.
//! Validation and path resolution happen in `scenario::plan`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    /// Timed runs per variant and level: a number, or "auto" (see `precision`).
    #[serde(default = "default_runs")]
    pub runs: RunsSpec,
    /// With `runs = "auto"`: stop once the 95 % interval of the mean elapsed time is
    /// within ± this many percent of the mean.
    pub precision: Option<f64>,
    /// With `runs = "auto"`: runs before the precision is looked at.
    pub min_runs: Option<u32>,
    /// With `runs = "auto"`: runs at most, precise or not.
    pub max_runs: Option<u32>,
    /// With `runs = "auto"`: stop each variant and level once its comparison with the
    /// baseline is known (changed or the same), instead of once its mean is precise.
    pub decide: Option<bool>,
    /// With `decide = true`: the noise threshold in percent the comparison decides at.
    pub decide_threshold: Option<f64>,
    #[serde(default = "default_warmup")]
    pub warmup: u32,
    /// Seconds between two samples of the in-guest monitors (/proc/meminfo, /proc/vmstat,
    /// /proc/stat) during each timed run; 0 turns them off.
    #[serde(default = "default_monitor_interval")]
    pub monitor_interval: f64,
    /// Split the runs over this many boots of each variant, each round booting every
    /// variant once (see `order`), so that host drift does not fall on one variant.
    /// Unset: one round per run.
    pub rounds: Option<u32>,
    /// The variants' order within each round.
    #[serde(default)]
    pub order: super::order::OrderChoice,
    /// How each round after a variant's first gets its guest: booted and prepared again,
    /// or restored from the state saved after the first boot's prepare and warm-ups.
    #[serde(default)]
    pub reuse: Reuse,
    /// With `reuse = "snapshot"`: this many independent boots (and saved guests) per
    /// variant, restored in turn; 1 when unset.
    pub snapshots: Option<u32>,
    /// The seed of `order = "random"`; taken from the clock (and recorded) when unset.
    pub seed: Option<u64>,
    /// Wait before each run until the host is quiet, for at most `wait` seconds.
    pub quiet_host: Option<QuietHostSection>,
    #[serde(default = "default_jobs")]
    pub jobs: Vec<JobsSpec>,
    /// Name of the variant the others are compared against; the first one by default.
    pub baseline: Option<String>,
    pub guest: GuestSection,
    #[serde(rename = "variant", default)]
    pub variants: Vec<VariantSection>,
    pub workload: WorkloadSection,
    /// Lab hosts that each run the whole study through libvirt; none: one host, as
    /// `[guest]` says.
    #[serde(rename = "host", default)]
    pub hosts: Vec<HostSection>,
}

/// `reuse`: what a round after a variant's first starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reuse {
    /// Every round boots, prepares and warms up again.
    #[default]
    Boot,
    /// The first round of each variant saves its guest after prepare and warm-ups; later
    /// rounds restore that state.
    Snapshot,
}

/// One `[[host]]`: a libvirt daemon that runs the whole study as one block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    /// Names the host's rows (runs.csv's `host`) and its folders (`console/<name>/`).
    pub name: String,
    /// The libvirt connection URI (`qemu+ssh://root@lab1/system`).
    pub uri: String,
    /// The guest's vCPUs on this host, instead of `guest.cpus`.
    pub cpus: Option<u32>,
    /// The guest's memory on this host, instead of `guest.memory`.
    pub memory: Option<MemorySize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestSection {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// A root disk image; opened in snapshot mode so it never changes. The agent mounts
    /// it (see `root`) and runs every step chrooted into it.
    pub disk: Option<PathBuf>,
    /// How the agent mounts `disk`; the defaults fit vm-images/debian.
    #[serde(default)]
    pub root: RootSection,
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// MiB as a number, or a string with a K, M, G suffix ("2G").
    #[serde(default = "default_memory")]
    pub memory: MemorySize,
    /// Appended to kbench's own `console=ttyS0 panic=-1`.
    #[serde(default)]
    pub cmdline: String,
    #[serde(default)]
    pub accel: AccelChoice,
    /// Seconds from QEMU's start until the agent must have said hello.
    #[serde(default = "default_boot_timeout")]
    pub boot_timeout: u64,
    /// Seconds one warm-up or timed run (clean and command together) may take before it
    /// is killed. Unset: see `benchmark::limits` (docs/scenario.md, "Time limits").
    pub run_timeout: Option<u64>,
    /// Seconds the prepare step may take. Unset: a generous fixed ceiling.
    pub prepare_timeout: Option<u64>,
    /// Seconds the whole study may take; what is measured by then is kept and reported.
    pub study_timeout: Option<u64>,
    /// How many times a guest that crashed, hung or vanished is booted again to finish
    /// the variant's remaining runs.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Path of the QEMU binary; found on PATH by default (backend "qemu" only).
    pub qemu: Option<PathBuf>,
    /// Pin each vCPU thread to a host CPU of its own, QEMU's other threads and bench
    /// to the remaining ones.
    #[serde(default)]
    pub pin: bool,
    /// Who boots the guests: "qemu" (a QEMU child of bench) or "libvirt" (a libvirt
    /// daemon at `uri`, this host's or a lab host's).
    /// Unset: "qemu", or "libvirt" when the scenario lists `[[host]]` entries.
    pub backend: Option<BackendKind>,
    /// The libvirt connection URI (backend "libvirt" only); `qemu:///system` by default.
    pub uri: Option<String>,
    /// Files the libvirt host already holds, used in place of uploading the local ones
    /// after their sha256 matched (backend "libvirt" only).
    #[serde(default)]
    pub remote: RemoteSection,
}

/// `[guest.remote]`: absolute paths on the libvirt host. The local `guest.kernel` and
/// `guest.disk` stay the reference they are checked against (and that meta.json records).
/// No initrd: the agent is appended to it, so the host never holds the booted one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSection {
    pub kernel: Option<String>,
    pub disk: Option<String>,
}

/// `guest.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// qemu-system-x86_64 started by bench itself.
    #[default]
    Qemu,
    /// A transient domain of a libvirt daemon, local or remote (`guest.uri`).
    Libvirt,
}

impl BackendKind {
    /// As the scenario spells it (and meta.json records it).
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Qemu => "qemu",
            BackendKind::Libvirt => "libvirt",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHostSection {
    /// CPUs' worth of work other processes may do (measured over 1 s, the study's own
    /// QEMU left out) for the host to count as quiet.
    pub max_load: Option<f64>,
    /// Seconds to wait at most before a run; then the run goes ahead, flagged.
    pub wait: Option<u64>,
}

/// `runs = 5` or `runs = "auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsSpec {
    Fixed(u32),
    Auto,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RootSection {
    /// The disk as the guest sees it (QEMU attaches `disk` as the first virtio disk).
    pub device: String,
    pub fstype: String,
    /// Mount options; `ro` keeps the image (and the kernel tree in it) untouched.
    pub options: String,
    /// Loaded from the initrd before mounting; failures are fine when they are built in.
    pub modules: Vec<String>,
    /// Seconds to wait for `device` to appear.
    pub wait: u32,
}

impl Default for RootSection {
    fn default() -> Self {
        RootSection {
            device: "/dev/vda".into(),
            fstype: "ext4".into(),
            options: "ro".into(),
            modules: ["virtio_pci", "virtio_blk", "ext4"].map(String::from).to_vec(),
            wait: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSection {
    pub name: String,
    /// Appended to the guest's command line for this variant only.
    #[serde(default)]
    pub cmdline: String,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WorkloadSection {
    /// A shell command run in the guest, with `{jobs}` replaced by the level's -j value.
    Command {
        command: String,
        /// Run once per boot, untimed, before anything else.
        prepare: Option<String>,
        /// Run untimed before every warm-up and timed run.
        clean: Option<String>,
    },
    /// kcbench/kernbench style: configure once into a fresh `O=` folder, then time
    /// `make -j N target` after each clean.
    KernelBuild {
        /// The kernel tree inside the guest; only read (builds go to `build_dir`).
        source: String,
        /// A make config target (defconfig, tinyconfig, allnoconfig, ...) or a .config
        /// file on the host (relative to the scenario's folder).
        config: String,
        /// What each run builds: `vmlinux`, `bzImage`, or objects such as `kernel/fork.o`.
        #[serde(default = "default_target")]
        target: String,
        /// Added to every make command line, as written (e.g. `CC=clang`).
        #[serde(default)]
        make_args: String,
        /// The `O=` folder inside the guest; on the guest's tmpfs by default.
        #[serde(default = "default_build_dir")]
        build_dir: String,
        #[serde(default)]
        clean: CleanMode,
    },
}

/// What happens before each warm-up and timed run of a kernel build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CleanMode {
    /// `make clean` (kernbench): each run rebuilds everything, build tools included.
    #[default]
    MakeClean,
    /// Delete only the target files: each run recompiles exactly the targets, for
    /// small object-list workloads whose runs `make clean` would swamp. The prepare
    /// step then also runs `make prepare`, kbuild's one-time work.
    Targets,
}

impl CleanMode {
    /// As the scenario spells it.
    pub fn name(self) -> &'static str {
        match self {
            CleanMode::MakeClean => "make-clean",
            CleanMode::Targets => "targets",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelChoice {
    #[default]
    Auto,
    Kvm,
    Tcg,
}

/// One entry of `jobs = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsSpec {
    /// Guest CPUs / 2, at least 1 (kernbench's half load).
    Half,
    /// Guest CPUs (kernbench 0.50's optimal load).
    Optimal,
    /// `make -j` with no limit (kernbench's maximal load).
    Max,
    Fixed(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySize {
    pub mib: u64,
}

fn default_runs() -> RunsSpec {
    RunsSpec::Fixed(5)
}
fn default_warmup() -> u32 {
    1
}
fn default_monitor_interval() -> f64 {
    1.0
}
fn default_jobs() -> Vec<JobsSpec> {
    vec![JobsSpec::Half, JobsSpec::Optimal]
}
fn default_cpus() -> u32 {
    2
}
fn default_memory() -> MemorySize {
    MemorySize { mib: 1024 }
}
fn default_target() -> String {
    "vmlinux".into()
}
fn default_build_dir() -> String {
    "/tmp/kbench-build".into()
}
fn default_boot_timeout() -> u64 {
    300
}
fn default_retries() -> u32 {
    1
}

impl<'de> Deserialize<'de> for JobsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JobsVisitor;
        impl Visitor<'_> for JobsVisitor {
            type Value = JobsSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""half", "optimal", "max" or a positive number of jobs"#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<JobsSpec, E> {
                match value {
                    "half" => Ok(JobsSpec::Half),
                    "optimal" => Ok(JobsSpec::Optimal),
                    "max" => Ok(JobsSpec::Max),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<JobsSpec, E> {
                match u32::try_from(value) {
                    Ok(n) if n > 0 => Ok(JobsSpec::Fixed(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
                }
            }
        }
        deserializer.deserialize_any(JobsVisitor)
    }
}

impl<'de> Deserialize<'de> for RunsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RunsVisitor;
        impl Visitor<'_> for RunsVisitor {
            type Value = RunsSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number of runs (5) or "auto""#)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RunsSpec, E> {
                match value {
                    "auto" => Ok(RunsSpec::Auto),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RunsSpec, E> {
                // 0 passes here so that the plan can say what `runs` must be.
                u32::try_from(value).map(RunsSpec::Fixed).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
            }
        }
        deserializer.deserialize_any(RunsVisitor)
    }
}

impl<'de> Deserialize<'de> for MemorySize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemoryVisitor;
        impl Visitor<'_> for MemoryVisitor {
            type Value = MemorySize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"MiB as a number (1024) or a size such as "512M" or "2G""#)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<MemorySize, E> {
                match u64::try_from(value) {
                    Ok(mib) if mib > 0 => Ok(MemorySize { mib }),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<MemorySize, E> {
                parse_memory(value).ok_or_else(|| E::invalid_value(de::Unexpected::Str(value), &self))
            }
        }
        deserializer.deserialize_any(MemoryVisitor)
    }
}

fn parse_memory(text: &str) -> Option<MemorySize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let mib = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "M" | "MB" | "MIB" => number,
        "G" | "GB" | "GIB" => number.checked_mul(1024)?,
        "K" | "KB" | "KIB" if number.is_multiple_of(1024) => number / 1024,
        _ => return None,
    };
    (mib > 0).then_some(MemorySize { mib })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(parse_memory("2G"), Some(MemorySize { mib: 2048 }));
        assert_eq!(parse_memory("512M"), Some(MemorySize { mib: 512 }));
        assert_eq!(parse_memory("512"), Some(MemorySize { mib: 512 }));
        assert_eq!(parse_memory("1048576K"), Some(MemorySize { mib: 1024 }));
        assert_eq!(parse_memory("0G"), None);
        assert_eq!(parse_memory("lots"), None);
    }

    #[test]
    fn runs_is_a_number_or_auto() {
        let parse = |runs: &str| {
            let text =
                format!("name = \"n\"\nruns = {runs}\n[guest]\nkernel = \"k\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n");
            toml::from_str::<ScenarioFile>(&text).map(|f| f.runs).map_err(|e| e.to_string())
        };
        assert_eq!(parse("7"), Ok(RunsSpec::Fixed(7)));
        assert_eq!(parse("\"auto\""), Ok(RunsSpec::Auto));
        assert!(parse("\"many\"").unwrap_err().contains(r#"a number of runs (5) or "auto""#));
        assert!(parse("-1").is_err());
    }

    /// The shipped scenarios parse (no misspelt key); plan checks need their images.
    #[test]
    fn every_shipped_scenario_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                toml::from_str::<ScenarioFile>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 3, "scenarios/ holds tiny, quick and slub");
    }
}
