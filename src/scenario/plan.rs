//! Turns a scenario file into a validated plan: paths resolved against the scenario's
//! folder and checked, jobs levels resolved, command lines composed. Every error names
//! the file and the key, and comes before anything boots.

use super::file::{
    AccelChoice, BackendKind, HostSection, JobsSpec, QuietHostSection, Reuse, RootSection, RunsSpec, ScenarioFile, WorkloadSection,
};
use super::kernel_build::{self, KernelBuild};
use super::limits::{self, MAX_HOSTS, MAX_RETRIES, MAX_RUNS, MAX_WARMUP};
use super::order::{self, BootOrder, OrderChoice};
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Linux's x86 COMMAND_LINE_SIZE, including the terminating NUL.
const MAX_CMDLINE: usize = 2047;
/// What every guest gets: kbench reads the console on ttyS0, a panic must end the VM, and
/// the agent the backend appends to the initrd is PID 1 (`backend::initrd::AGENT_PATH`).
pub const KBENCH_CMDLINE: &str = "console=ttyS0 panic=-1 rdinit=/kbench/agent";

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub scenario_path: PathBuf,
    pub guest: GuestPlan,
    pub variants: Vec<Variant>,
    /// Index into `variants` of the one the others are compared against.
    pub baseline: usize,
    pub levels: Vec<JobsLevel>,
    /// Timed runs per variant and level; with `adaptive`, the most there may be.
    pub runs: u32,
    pub warmup: u32,
    /// Seconds between two samples of the in-guest monitors; 0 = off.
    pub monitor_interval_s: f64,
    /// Boots per variant that share the runs; see `Plan::round_of`.
    pub rounds: u32,
    pub workload: Workload,
    /// The variants' order in each round, and its seed.
    pub order: BootOrder,
    /// `reuse`: boot every round, or restore the first round's saved guest.
    pub reuse: Reuse,
    /// With `reuse = "snapshot"`: rounds 0..snapshots boot and save, round r restores the
    /// guest of round r mod snapshots.
    pub snapshots: u32,
    /// `runs = "auto"`: each variant and level stops once precise (`stats::Target`).
    pub adaptive: Option<AdaptiveRuns>,
    /// Wait for a quiet host before each run.
    #[allow(dead_code)] // issue 11: the runner reads it once wired
    pub quiet_host: Option<QuietHost>,
    /// `[[host]]`: each runs the whole study through libvirt; empty on one host.
    pub hosts: Vec<LabHost>,
}

/// One `[[host]]` as validated: the guest it boots may be sized for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// `host[<index>]`, as errors name the entry.
    pub key: String,
    pub name: String,
    pub uri: String,
    pub cpus: Option<u32>,
    pub memory_mib: Option<u64>,
}

/// `runs = "auto"`'s target: stop when the 95 % interval of the mean elapsed time is
/// within ± `precision_percent` % of the mean, after `min_runs` and by `max_runs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveRuns {
    pub precision_percent: f64,
    pub min_runs: u32,
    pub max_runs: u32,
    /// `decide = true`: the threshold in percent each comparison with the baseline is
    /// decided at (`decide_threshold`); `None`: stop on precision.
    pub decide_threshold_percent: Option<f64>,
}

/// `quiet_host`: before each run, wait (at most `wait`) until other processes keep at
/// most `max_load` CPUs busy (`host::noise::wait_for_quiet`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietHost {
    pub max_load: f64,
    pub wait: Duration,
}

const DEFAULT_PRECISION_PERCENT: f64 = 2.0;
/// `decide_threshold`'s default: the verdicts' default noise threshold (`--threshold`).
const DEFAULT_DECIDE_THRESHOLD_PERCENT: f64 = 1.0;
/// A comparison needs 3 runs a side (`stats::MIN_RUNS`), and an sd from fewer than 5 is
/// too rough to trust a narrow interval: 5 is kernbench's default number of runs.
const DEFAULT_MIN_RUNS: u32 = 5;
const DEFAULT_MAX_RUNS: u32 = 20;
const MAX_RUNS_LIMIT: u32 = 1000;
const DEFAULT_QUIET_LOAD: f64 = 0.5;
const DEFAULT_QUIET_WAIT_S: u64 = 300;
const MAX_QUIET_WAIT_S: u64 = 3600;

#[derive(Debug, Clone)]
pub struct GuestPlan {
    pub disk: Option<PathBuf>,
    /// How the agent enters `disk`; set exactly when there is a disk.
    pub root: Option<kbench_protocol::RootDisk>,
    pub cpus: u32,
    pub memory_mib: u64,
    pub accel: AccelChoice,
    pub boot_timeout: Duration,
    pub run_timeout: Option<Duration>,
    pub prepare_timeout: Option<Duration>,
    pub study_timeout: Option<Duration>,
    pub retries: u32,
    pub qemu: Option<PathBuf>,
    /// Pin each vCPU to a host CPU of its own (`backend::pin`).
    #[allow(dead_code)] // issue 11: the runner reads it once wired
    pub pin: bool,
    pub backend: BackendKind,
    /// The libvirt connection URI; set exactly when `backend` is libvirt.
    pub uri: Option<String>,
    /// Where `uri` came from, as errors name it: "`guest.uri` or --uri", "`host[1].uri`".
    pub uri_key: String,
    /// `[guest.remote]`: files the libvirt host holds, each with its local reference.
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))] // only the libvirt backend reads it
    pub remote_files: Vec<RemoteFile>,
}

/// A file the libvirt host already holds, used in place of uploading `local` once its
/// sha256 matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The scenario key, e.g. `guest.remote.disk`.
    pub key: &'static str,
    /// An absolute path on the host.
    pub remote: String,
    /// The local file it must equal.
    pub local: PathBuf,
}

/// The default libvirt connection: this host's system daemon.
pub const DEFAULT_LIBVIRT_URI: &str = "qemu:///system";

/// What the command line may change in a scenario (`bench run --backend --uri`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub backend: Option<BackendKind>,
    pub uri: Option<String>,
}

/// One kernel + command line under test.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// The whole command line the guest boots with.
    pub cmdline: String,
    /// The options this variant adds; each must show up in the guest's /proc/cmdline.
    pub own_options: Vec<String>,
}

/// One `-j` level: its label as the user wrote it and the value it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsLevel {
    pub label: String,
    /// 0 stands for `max`: make -j without a number.
    pub jobs: u32,
}

impl JobsLevel {
    pub fn resolve(spec: JobsSpec, cpus: u32) -> JobsLevel {
        match spec {
            JobsSpec::Half => JobsLevel { label: "half".into(), jobs: (cpus / 2).max(1) },
            JobsSpec::Optimal => JobsLevel { label: "optimal".into(), jobs: cpus.max(1) },
            JobsSpec::Max => JobsLevel { label: "max".into(), jobs: 0 },
            JobsSpec::Fixed(n) => JobsLevel { label: n.to_string(), jobs: n },
        }
    }

    /// What `{jobs}` becomes in a command: the number, or nothing for `max`.
    pub fn substitution(&self) -> String {
        if self.jobs == 0 {
            String::new()
        } else {
            self.jobs.to_string()
        }
    }
}

#[derive(Debug, Clone)]
pub enum Workload {
    Command { command: String, prepare: Option<String>, clean: Option<String> },
    KernelBuild(KernelBuild),
}

impl Plan {
    /// `reuse = "snapshot"`: the space its saved guests take at most, in MiB, where they
    /// are kept (the results folder's disk, or each libvirt host's pool): a memory image
    /// per saved guest, which migration writes without its zero pages, so at most the
    /// guest's memory. The disk's writes up to the save come on top.
    pub fn saved_state_mib(&self) -> Option<u64> {
        (self.reuse == Reuse::Snapshot).then(|| self.variants.len() as u64 * u64::from(self.snapshots) * self.guest.memory_mib)
    }

    /// What of [`Self::saved_state_mib`] the results folder's disk holds: the QEMU
    /// backend's states (libvirt keeps them on each host).
    pub fn saved_state_mib_on_results_disk(&self) -> u64 {
        match self.guest.backend {
            BackendKind::Qemu => self.saved_state_mib().unwrap_or(0),
            BackendKind::Libvirt => 0,
        }
    }

    /// The round (0-based) that measures run `index` (1-based): runs are dealt out in
    /// turn, so every round gets early and late runs alike.
    pub fn round_of(&self, index: u32) -> u32 {
        (index - 1) % self.rounds
    }

    /// The plan one `[[host]]` runs: its URI, its guest size, and no other host. The jobs
    /// levels stay as `guest.cpus` resolved them, so that every host runs the same `-j`.
    pub fn for_host(&self, host: &LabHost) -> Plan {
        let mut plan = self.clone();
        plan.hosts = Vec::new();
        plan.guest.backend = BackendKind::Libvirt;
        plan.guest.uri = Some(host.uri.clone());
        plan.guest.uri_key = format!("`{}.uri`", host.key);
        plan.guest.cpus = host.cpus.unwrap_or(self.guest.cpus);
        plan.guest.memory_mib = host.memory_mib.unwrap_or(self.guest.memory_mib);
        plan
    }

    /// The variants in the order round `round` boots them (`scenario::order`).
    pub fn variant_order(&self, round: u32) -> Vec<&Variant> {
        self.order.round(self.variants.len(), round).into_iter().map(|i| &self.variants[i]).collect()
    }
}

impl Workload {
    pub fn kind(&self) -> &'static str {
        match self {
            Workload::Command { .. } => "command",
            Workload::KernelBuild(_) => "kernel-build",
        }
    }
}

/// Reads, parses and validates a scenario file, with what the command line overrides
/// applied before the checks.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read scenario file {}", path.display()))?;
    let mut file: ScenarioFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Some(backend) = overrides.backend {
        file.guest.backend = Some(backend);
    }
    if overrides.uri.is_some() && !file.hosts.is_empty() {
        bail!(
            "scenario file {}: --uri names one host, but the scenario lists [[host]] entries, each with its own uri; drop --uri, or edit the entries",
            path.display()
        );
    }
    if let Some(uri) = &overrides.uri {
        file.guest.uri = Some(uri.clone());
    }
    validate(file, path).with_context(|| format!("scenario file {}", path.display()))
}

fn validate(file: ScenarioFile, path: &Path) -> Result<Plan> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let guest = &file.guest;
    limits::check_name(&file.name, "name", "the results folder <results>/<name>/")?;
    let adaptive = adaptive_runs(&file)?;
    let runs = match (file.runs, adaptive) {
        (RunsSpec::Fixed(runs), _) => runs,
        (RunsSpec::Auto, adaptive) => adaptive.map_or(DEFAULT_MAX_RUNS, |a| a.max_runs),
    };
    limits::check_count(runs, 1, MAX_RUNS, "runs", "timed runs per variant and jobs level")?;
    limits::check_count(file.warmup, 0, MAX_WARMUP, "warmup", "untimed runs per boot")?;
    limits::check_count(guest.retries, 0, MAX_RETRIES, "guest.retries", "boots again after a guest failed")?;
    if !(file.monitor_interval.is_finite() && (file.monitor_interval == 0.0 || (0.01..=3600.0).contains(&file.monitor_interval))) {
        bail!(
            "key `monitor_interval`: {} is not a number of seconds between 0.01 and 3600; 0 turns the monitors off",
            file.monitor_interval
        );
    }
    let rounds = file.rounds.unwrap_or(runs);
    if rounds == 0 || rounds > runs {
        bail!("key `rounds`: must be between 1 and `runs` ({runs}): each round measures at least one run per level");
    }
    if file.seed.is_some() && file.order != OrderChoice::Random {
        bail!("key `seed`: only `order = \"random\"` uses a seed; remove it or set order = \"random\"");
    }
    let boot_order =
        BootOrder { choice: file.order, seed: file.seed.unwrap_or_else(order::seed_from_clock), seed_from_clock: file.seed.is_none() };
    let quiet_host = file.quiet_host.as_ref().map(quiet_host).transpose()?;
    if file.jobs.is_empty() {
        bail!("key `jobs`: list at least one level, for example [\"half\", \"optimal\"]");
    }
    if guest.cpus == 0 {
        bail!("key `guest.cpus`: must be at least 1");
    }
    for (key, value) in [
        ("boot_timeout", Some(guest.boot_timeout)),
        ("run_timeout", guest.run_timeout),
        ("prepare_timeout", guest.prepare_timeout),
        ("study_timeout", guest.study_timeout),
    ] {
        if let Some(seconds) = value {
            limits::check_seconds(seconds, &format!("guest.{key}"))?;
        }
    }
    let hosts = hosts(&file)?;
    let backend = guest.backend.unwrap_or(if hosts.is_empty() { BackendKind::Qemu } else { BackendKind::Libvirt });
    let uri = match (backend, &guest.uri) {
        (_, Some(_)) if !hosts.is_empty() => {
            bail!("key `guest.uri`: with [[host]] entries each host gives its own uri; remove guest.uri")
        }
        (_, None) if !hosts.is_empty() => None,
        (BackendKind::Qemu, Some(_)) => {
            bail!("key `guest.uri`: only the libvirt backend connects to a URI; add backend = \"libvirt\" or remove uri")
        }
        (BackendKind::Qemu, None) => None,
        (BackendKind::Libvirt, Some(uri)) if uri.trim().is_empty() || uri.contains(char::is_whitespace) => {
            bail!("key `guest.uri`: {uri:?} is not a libvirt URI such as qemu:///system or qemu+ssh://root@lab1/system")
        }
        (BackendKind::Libvirt, uri) => Some(uri.clone().unwrap_or_else(|| DEFAULT_LIBVIRT_URI.to_string())),
    };
    if backend == BackendKind::Qemu && !hosts.is_empty() {
        bail!("key `guest.backend` (or --backend): [[host]] entries run the study through libvirt on each host; remove backend = \"qemu\" or the [[host]] entries");
    }
    if backend == BackendKind::Libvirt && guest.qemu.is_some() {
        bail!("key `guest.qemu`: the libvirt backend runs the QEMU its daemon is configured with; remove qemu");
    }
    // A libvirt host's size is checked against that host when the backend connects.
    if backend == BackendKind::Qemu {
        check_host_size(guest.cpus, guest.memory.mib)?;
    }
    if guest.pin {
        if backend != BackendKind::Qemu {
            bail!(
                "key `guest.pin`: pinning is done by the QEMU backend only; with libvirt, pin in the host's domain defaults or remove pin"
            );
        }
        check_pinnable(guest.cpus)?;
    }
    let snapshots = file.snapshots.unwrap_or(1);
    if file.snapshots.is_some() && file.reuse != Reuse::Snapshot {
        bail!("key `snapshots`: only `reuse = \"snapshot\"` saves guests; remove it or set reuse = \"snapshot\"");
    }
    if snapshots == 0 || (snapshots > 1 && snapshots >= rounds) {
        let most = rounds.saturating_sub(1).max(1);
        bail!("key `snapshots`: must be between 1 and `rounds` - 1 ({most}): with as many snapshots as rounds every round boots");
    }
    let variants = variants(&file, &base)?;
    let baseline = match &file.baseline {
        None => 0,
        Some(name) => variants
            .iter()
            .position(|v| &v.name == name)
            .with_context(|| format!("key `baseline`: no variant is named {name:?} (variants: {})", names(&variants)))?,
    };
    let mut levels: Vec<JobsLevel> = Vec::new();
    for spec in &file.jobs {
        let level = JobsLevel::resolve(*spec, guest.cpus);
        if levels.iter().any(|l| l.label == level.label) {
            bail!("key `jobs`: {:?} is listed twice", level.label);
        }
        levels.push(level);
    }
    Ok(Plan {
        name: file.name.clone(),
        scenario_path: path.to_path_buf(),
        guest: GuestPlan {
            disk: guest.disk.as_ref().map(|p| existing_file(&base, p, "guest.disk")).transpose()?,
            root: guest.disk.as_ref().map(|_| root_disk(&guest.root)).transpose()?,
            cpus: guest.cpus,
            memory_mib: guest.memory.mib,
            accel: guest.accel,
            boot_timeout: Duration::from_secs(guest.boot_timeout),
            run_timeout: guest.run_timeout.map(Duration::from_secs),
            prepare_timeout: guest.prepare_timeout.map(Duration::from_secs),
            study_timeout: guest.study_timeout.map(Duration::from_secs),
            retries: guest.retries,
            qemu: guest.qemu.clone(),
            pin: guest.pin,
            backend,
            remote_files: remote_files(guest, backend, &base)?,
            uri,
            uri_key: "`guest.uri` or --uri".into(),
        },
        variants,
        baseline,
        levels,
        runs,
        rounds,
        warmup: file.warmup,
        monitor_interval_s: file.monitor_interval,
        workload: workload(&file.workload, &base)?,
        order: boot_order,
        reuse: file.reuse,
        snapshots,
        adaptive,
        quiet_host,
        hosts,
    })
}

/// `[[host]]` entries: named like variants, once each, with a URI; a size override must
/// still hold the initrd (checked with the variants, against `guest.memory` otherwise).
fn hosts(file: &ScenarioFile) -> Result<Vec<LabHost>> {
    if file.hosts.len() > MAX_HOSTS {
        bail!("key `host`: {} [[host]] entries, at most {MAX_HOSTS} (each is a connection and a thread of bench)", file.hosts.len());
    }
    let mut seen = HashSet::new();
    let mut hosts = Vec::new();
    for (index, section) in file.hosts.iter().enumerate() {
        let HostSection { name, uri, cpus, memory } = section;
        let key = format!("host[{index}]");
        limits::check_name(name, &format!("{key}.name"), "the host's rows and its folders console/<host>/, logs/<host>/")?;
        if !seen.insert(name.clone()) {
            bail!("key `{key}.name`: the host name {name:?} is used twice");
        }
        if uri.trim().is_empty() || uri.contains(char::is_whitespace) {
            bail!("key `{key}.uri`: {uri:?} is not a libvirt URI such as qemu:///system or qemu+ssh://root@lab1/system");
        }
        if *cpus == Some(0) {
            bail!("key `{key}.cpus`: must be at least 1");
        }
        hosts.push(LabHost { key, name: name.clone(), uri: uri.clone(), cpus: *cpus, memory_mib: memory.map(|m| m.mib) });
    }
    Ok(hosts)
}

/// `[guest.remote]`, each entry with the local file it is checked against.
fn remote_files(guest: &super::file::GuestSection, backend: BackendKind, base: &Path) -> Result<Vec<RemoteFile>> {
    let entries = [
        ("guest.remote.kernel", &guest.remote.kernel, Some(&guest.kernel), "guest.kernel"),
        ("guest.remote.disk", &guest.remote.disk, guest.disk.as_ref(), "guest.disk"),
    ];
    let mut files = Vec::new();
    for (key, remote, local, local_key) in entries {
        let Some(remote) = remote else { continue };
        if backend != BackendKind::Libvirt {
            bail!("key `{key}`: only the libvirt backend boots from files on its host; add backend = \"libvirt\" or remove it");
        }
        let file_name = remote.rsplit('/').next().unwrap_or("");
        if !remote.starts_with('/') || matches!(file_name, "" | "." | "..") || remote.contains(char::is_control) {
            bail!("key `{key}`: {remote:?} is not an absolute path of a file on the libvirt host, such as /srv/images/root.ext4");
        }
        let Some(local) = local else {
            bail!("key `{key}`: needs `{local_key}`, the local copy the host's file is checked against and meta.json records")
        };
        files.push(RemoteFile { key, remote: remote.clone(), local: existing_file(base, local, local_key)? });
    }
    Ok(files)
}

/// `runs = "auto"` with its keys, which mean nothing with a fixed number of runs.
fn adaptive_runs(file: &ScenarioFile) -> Result<Option<AdaptiveRuns>> {
    if file.runs != RunsSpec::Auto {
        for (key, given) in [
            ("precision", file.precision.is_some()),
            ("min_runs", file.min_runs.is_some()),
            ("max_runs", file.max_runs.is_some()),
            ("decide", file.decide.is_some()),
            ("decide_threshold", file.decide_threshold.is_some()),
        ] {
            if given {
                bail!("key `{key}`: only used with runs = \"auto\"; remove it, or set runs = \"auto\" to measure until precise");
            }
        }
        return Ok(None);
    }
    let precision_percent = file.precision.unwrap_or(DEFAULT_PRECISION_PERCENT);
    if !(precision_percent > 0.0 && precision_percent < 100.0) {
        bail!("key `precision`: {precision_percent} is not a percentage above 0 and below 100 (the 95 % interval's half-width, in % of the mean)");
    }
    let min_runs = file.min_runs.unwrap_or(DEFAULT_MIN_RUNS);
    let max_runs = file.max_runs.unwrap_or(DEFAULT_MAX_RUNS.max(min_runs));
    if min_runs < 3 {
        bail!("key `min_runs`: at least 3 (a comparison needs 3 runs a side, and an interval from 2 runs says little)");
    }
    if max_runs < min_runs || max_runs > MAX_RUNS_LIMIT {
        bail!("key `max_runs`: must be between `min_runs` ({min_runs}) and {MAX_RUNS_LIMIT}");
    }
    let decide_threshold_percent = match (file.decide.unwrap_or(false), file.decide_threshold) {
        (false, Some(_)) => bail!("key `decide_threshold`: only used with decide = true"),
        (false, None) => None,
        (true, threshold) => {
            if file.precision.is_some() {
                bail!("key `precision`: decide = true stops on the comparison with the baseline, not on precision; remove one of them");
            }
            let threshold = threshold.unwrap_or(DEFAULT_DECIDE_THRESHOLD_PERCENT);
            if !(threshold > 0.0 && threshold < 100.0) {
                bail!("key `decide_threshold`: {threshold} is not a percentage above 0 and below 100");
            }
            Some(threshold)
        }
    };
    Ok(Some(AdaptiveRuns { precision_percent, min_runs, max_runs, decide_threshold_percent }))
}

fn quiet_host(section: &QuietHostSection) -> Result<QuietHost> {
    let max_load = section.max_load.unwrap_or(DEFAULT_QUIET_LOAD);
    if !(max_load > 0.0 && max_load.is_finite()) {
        bail!("key `quiet_host.max_load`: {max_load} is not a positive number of CPUs");
    }
    let wait = section.wait.unwrap_or(DEFAULT_QUIET_WAIT_S);
    if wait == 0 || wait > MAX_QUIET_WAIT_S {
        bail!("key `quiet_host.wait`: seconds between 1 and {MAX_QUIET_WAIT_S}");
    }
    Ok(QuietHost { max_load, wait: Duration::from_secs(wait) })
}

/// Each vCPU needs a host CPU of its own, and QEMU's other threads and bench one more.
fn check_pinnable(cpus: u32) -> Result<()> {
    let host_cpus = crate::host::cpus().unwrap_or(1) as u32;
    if cpus + 1 > host_cpus {
        bail!(
            "key `guest.pin`: pinning {cpus} vCPUs needs {} host CPUs (one per vCPU, one for QEMU's other threads and bench), this host has {host_cpus}; lower guest.cpus to {} or remove pin",
            cpus + 1,
            host_cpus.saturating_sub(1)
        );
    }
    Ok(())
}

fn variants(file: &ScenarioFile, base: &Path) -> Result<Vec<Variant>> {
    if file.variants.is_empty() {
        bail!("no [[variant]]: add at least one, for example [[variant]] name = \"baseline\"");
    }
    let guest_options = checked_cmdline(&file.guest.cmdline, "guest.cmdline")?;
    let mut seen = HashSet::new();
    let mut variants = Vec::new();
    for (index, section) in file.variants.iter().enumerate() {
        let key = format!("variant[{index}]");
        limits::check_name(&section.name, &format!("{key}.name"), "the variant's consoles and logs")?;
        if !seen.insert(section.name.clone()) {
            bail!("key `{key}.name`: the variant name {:?} is used twice", section.name);
        }
        let own = checked_cmdline(&section.cmdline, &format!("{key}.cmdline"))?;
        let cmdline = [KBENCH_CMDLINE, guest_options.as_str(), own.as_str()]
            .iter()
            .filter(|part| !part.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        if cmdline.len() > MAX_CMDLINE {
            bail!("key `{key}.cmdline`: the whole kernel command line is {} bytes, Linux takes at most {MAX_CMDLINE}", cmdline.len());
        }
        let kernel = section.kernel.as_ref().unwrap_or(&file.guest.kernel);
        let kernel_key = if section.kernel.is_some() { format!("{key}.kernel") } else { "guest.kernel".into() };
        let initrd = section.initrd.as_ref().or(file.guest.initrd.as_ref());
        let initrd_key = if section.initrd.is_some() { format!("{key}.initrd") } else { "guest.initrd".into() };
        let kernel = existing_file(base, kernel, &kernel_key)?;
        check_bzimage(&kernel, &kernel_key)?;
        let initrd = initrd.map(|p| existing_file(base, p, &initrd_key)).transpose()?;
        check_memory_floor(file.guest.memory.mib, initrd.as_deref(), &section.name, "guest.memory")?;
        for (index, host) in file.hosts.iter().enumerate() {
            if let Some(memory) = host.memory {
                check_memory_floor(memory.mib, initrd.as_deref(), &section.name, &format!("host[{index}].memory"))?;
            }
        }
        variants.push(Variant {
            name: section.name.clone(),
            kernel,
            initrd,
            cmdline,
            own_options: own.split_whitespace().map(str::to_string).collect(),
        });
    }
    Ok(variants)
}

fn names(variants: &[Variant]) -> String {
    variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Kernel command lines go to QEMU as one argument, never through a shell, so quotes and
/// `$` pass exactly; but a newline or control character would not survive the boot, and
/// some options would take the guest away from kbench.
fn checked_cmdline(cmdline: &str, key: &str) -> Result<String> {
    if let Some(c) = cmdline.chars().find(|c| c.is_control()) {
        bail!("key `{key}`: contains the control character {c:?}; put the options on one line separated by spaces");
    }
    for option in limits::kernel_words(cmdline) {
        limits::check_kernel_option(option, key)?;
    }
    Ok(cmdline.trim().to_string())
}

/// QEMU refuses an initrd that does not fit ("initrd is too large"), and a guest barely
/// larger cannot unpack it: both only show after the boot, so they are refused here.
fn check_memory_floor(memory_mib: u64, initrd: Option<&Path>, variant: &str, key: &str) -> Result<()> {
    let initrd_bytes = initrd.and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
    let floor = limits::memory_floor_mib(initrd_bytes);
    if memory_mib < floor {
        bail!(
            "key `{key}`: {memory_mib} MiB is too little for variant {variant}: a guest needs at least {floor} MiB ({} MiB + {} × its initrd of {:.1} MiB) to hold its kernel and unpack its initramfs",
            limits::MIN_MEMORY_BASE_MIB,
            limits::MEMORY_PER_INITRD_BYTE,
            initrd_bytes as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(())
}

fn existing_file(base: &Path, path: &Path, key: &str) -> Result<PathBuf> {
    let resolved = base.join(path);
    let meta = match std::fs::metadata(&resolved) {
        Ok(meta) => meta,
        Err(error) => {
            let build = image_builder(&resolved).map(|script| format!("; build it with {script}")).unwrap_or_default();
            bail!("key `{key}`: cannot read {} (relative paths start at the scenario's folder): {error}{build}", resolved.display())
        }
    };
    if !meta.is_file() {
        bail!("key `{key}`: {} is not a file", resolved.display());
    }
    std::fs::File::open(&resolved).with_context(|| format!("key `{key}`: cannot open {}", resolved.display()))?;
    Ok(resolved)
}

/// The script that builds the guest images the shipped scenarios point at: a missing one
/// is most often a first study before the image was built.
fn image_builder(path: &Path) -> Option<&'static str> {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let image = parts.windows(2).find(|w| w[0] == "vm-images")?[1].as_str();
    match image {
        "tiny" => Some("scripts/build-tiny-guest.sh"),
        "debian" => Some("scripts/build-debian-image.sh"),
        _ => None,
    }
}

/// An x86 bzImage carries "HdrS" at offset 0x202 (Documentation/arch/x86/boot.rst).
fn check_bzimage(path: &Path, key: &str) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).with_context(|| format!("key `{key}`: cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    let ok = file.seek(SeekFrom::Start(0x202)).is_ok() && file.read_exact(&mut magic).is_ok() && &magic == b"HdrS";
    if !ok {
        bail!(
            "key `{key}`: {} is not an x86 kernel image (bzImage/vmlinuz); point it at arch/x86/boot/bzImage or /boot/vmlinuz-*",
            path.display()
        );
    }
    Ok(())
}

fn check_host_size(cpus: u32, memory_mib: u64) -> Result<()> {
    let host_cpus = crate::host::cpus().unwrap_or(1) as u32;
    check_guest_fits(cpus, memory_mib, host_cpus, crate::host::memory_mib(), "this host")
}

/// A guest larger than the host that runs it measures contention, not the kernel.
pub fn check_guest_fits(cpus: u32, memory_mib: u64, host_cpus: u32, host_mib: Option<u64>, host: &str) -> Result<()> {
    if cpus > host_cpus {
        bail!("key `guest.cpus`: {cpus} is more than {host}'s {host_cpus} CPUs; a guest with more vCPUs than CPUs measures contention, not the kernel");
    }
    if let Some(host_mib) = host_mib {
        if memory_mib > host_mib {
            bail!("key `guest.memory`: {memory_mib} MiB is more than {host}'s {host_mib} MiB");
        }
    }
    Ok(())
}

fn root_disk(section: &RootSection) -> Result<kbench_protocol::RootDisk> {
    if !section.device.starts_with("/dev/") {
        bail!("key `guest.root.device`: {:?} must be a device path such as /dev/vda", section.device);
    }
    if section.fstype.trim().is_empty() {
        bail!("key `guest.root.fstype`: name the disk's filesystem type, for example \"ext4\"");
    }
    let fields = [("device", &section.device), ("fstype", &section.fstype), ("options", &section.options)];
    let modules = section.modules.iter().map(|m| ("modules", m));
    if let Some((key, value)) = fields.into_iter().chain(modules).find(|(_, v)| v.chars().any(char::is_control) || v.len() > 4096) {
        bail!("key `guest.root.{key}`: {value:?} must be one line of at most 4096 bytes without control characters");
    }
    limits::check_seconds(u64::from(section.wait.max(1)), "guest.root.wait")?;
    Ok(kbench_protocol::RootDisk {
        device: section.device.clone(),
        fstype: section.fstype.trim().to_string(),
        options: section.options.trim().to_string(),
        modules: section.modules.clone(),
        wait_s: section.wait.max(1),
    })
}

fn workload(section: &WorkloadSection, base: &Path) -> Result<Workload> {
    match section {
        WorkloadSection::KernelBuild { source, config, target, make_args, build_dir, clean } => {
            let fields = kernel_build::Fields { source, config, target, make_args, build_dir, clean: *clean };
            Ok(Workload::KernelBuild(kernel_build::validate(fields, base)?))
        }
        WorkloadSection::Command { command, prepare, clean } => {
            if command.trim().is_empty() {
                bail!("key `workload.command`: give the command to measure");
            }
            limits::check_command(command, "workload.command")?;
            for (key, value) in [("workload.prepare", prepare), ("workload.clean", clean)] {
                if let Some(value) = value {
                    limits::check_command(value, key)?;
                }
            }
            Ok(Workload::Command { command: command.clone(), prepare: prepare.clone(), clean: clean.clone() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(top: &str) -> ScenarioFile {
        let text = format!("name = \"n\"\n{top}\n[guest]\nkernel = \"k\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n");
        toml::from_str(&text).unwrap()
    }

    fn refusal(result: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", result.unwrap_err())
    }

    /// A scenario file with `top` and `guest` lines, beside a kernel that passes the bzImage check.
    fn load_scenario(top: &str, guest: &str) -> Result<Plan> {
        let dir = tempfile::tempdir().unwrap();
        let mut kernel = vec![0u8; 0x210];
        kernel[0x202..0x206].copy_from_slice(b"HdrS");
        std::fs::write(dir.path().join("k"), kernel).unwrap();
        let text = format!("name = \"n\"\n{top}\n[guest]\nkernel = \"k\"\ncpus = 1\nmemory = \"256M\"\n{guest}\n[[variant]]\nname = \"a\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n");
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        load_with(&path, &Overrides::default())
    }

    #[test]
    fn reuse_is_boot_by_default_and_snapshot_with_every_backend() {
        assert_eq!(load_scenario("", "").unwrap().reuse, Reuse::Boot);
        assert_eq!(load_scenario("reuse = \"snapshot\"", "").unwrap().reuse, Reuse::Snapshot);
        assert_eq!(load_scenario("reuse = \"snapshot\"", "backend = \"libvirt\"").unwrap().reuse, Reuse::Snapshot);
        let hosts = load_scenario("reuse = \"snapshot\"\n[[host]]\nname = \"lab1\"\nuri = \"qemu:///system\"", "");
        assert_eq!(hosts.unwrap().reuse, Reuse::Snapshot);
        assert!(load_scenario("reuse = \"restore\"", "").is_err(), "an unknown value is refused");
        let k = |top: &str| load_scenario(&format!("runs = 4\nreuse = \"snapshot\"\n{top}"), "");
        assert_eq!((k("").unwrap().snapshots, k("snapshots = 3").unwrap().snapshots), (1, 3));
        assert!(refusal(k("snapshots = 4")).contains("key `snapshots`: must be between 1 and `rounds` - 1 (3)"));
        assert!(refusal(k("snapshots = 0")).contains("key `snapshots`"));
        assert!(refusal(load_scenario("snapshots = 2", "")).contains("only `reuse = \"snapshot\"` saves guests"));
    }

    #[test]
    fn a_missing_shipped_image_names_the_script_that_builds_it() {
        let dir = tempfile::tempdir().unwrap();
        let tiny = refusal(existing_file(dir.path(), Path::new("../vm-images/tiny/vmlinuz"), "guest.kernel"));
        assert!(tiny.contains("key `guest.kernel`") && tiny.ends_with("; build it with scripts/build-tiny-guest.sh"), "{tiny}");
        let debian = refusal(existing_file(dir.path(), Path::new("vm-images/debian/root.ext4"), "guest.disk"));
        assert!(debian.ends_with("build it with scripts/build-debian-image.sh"), "{debian}");
        let other = refusal(existing_file(dir.path(), Path::new("my/own.img"), "guest.disk"));
        assert!(!other.contains("build it with"), "{other}");
    }

    #[test]
    fn auto_runs_take_defaults_and_check_their_keys() {
        assert_eq!(adaptive_runs(&file("runs = 5")).unwrap(), None);
        assert_eq!(
            adaptive_runs(&file("runs = \"auto\"")).unwrap(),
            Some(AdaptiveRuns { precision_percent: 2.0, min_runs: 5, max_runs: 20, decide_threshold_percent: None })
        );
        assert_eq!(
            adaptive_runs(&file("runs = \"auto\"\nprecision = 0.5\nmin_runs = 3\nmax_runs = 40")).unwrap(),
            Some(AdaptiveRuns { precision_percent: 0.5, min_runs: 3, max_runs: 40, decide_threshold_percent: None })
        );
        assert!(refusal(adaptive_runs(&file("runs = 5\nprecision = 1.0"))).contains("key `precision`: only used with runs = \"auto\""));
        assert!(refusal(adaptive_runs(&file("runs = \"auto\"\nprecision = 0.0"))).contains("key `precision`"));
        assert!(refusal(adaptive_runs(&file("runs = \"auto\"\nmin_runs = 2"))).contains("key `min_runs`: at least 3"));
        assert!(refusal(adaptive_runs(&file("runs = \"auto\"\nmin_runs = 8\nmax_runs = 6")))
            .contains("key `max_runs`: must be between `min_runs` (8)"));
        // A min_runs above the default cap raises the cap with it.
        assert_eq!(adaptive_runs(&file("runs = \"auto\"\nmin_runs = 30")).unwrap().unwrap().max_runs, 30);
        assert_eq!(adaptive_runs(&file("runs = \"auto\"\ndecide = true")).unwrap().unwrap().decide_threshold_percent, Some(1.0));
        assert_eq!(
            adaptive_runs(&file("runs = \"auto\"\ndecide = true\ndecide_threshold = 2.5")).unwrap().unwrap().decide_threshold_percent,
            Some(2.5)
        );
        assert!(refusal(adaptive_runs(&file("runs = 5\ndecide = true"))).contains("key `decide`: only used with runs = \"auto\""));
        assert!(refusal(adaptive_runs(&file("runs = \"auto\"\ndecide_threshold = 2"))).contains("only used with decide = true"));
        assert!(refusal(adaptive_runs(&file("runs = \"auto\"\ndecide = true\nprecision = 1"))).contains("key `precision`: decide = true"));
    }

    #[test]
    fn quiet_host_takes_defaults_and_bounds_its_wait() {
        let quiet = |text: &str| quiet_host(file(text).quiet_host.as_ref().unwrap());
        assert_eq!(quiet("quiet_host = {}").unwrap(), QuietHost { max_load: 0.5, wait: Duration::from_secs(300) });
        assert_eq!(
            quiet("quiet_host = { max_load = 1.5, wait = 60 }").unwrap(),
            QuietHost { max_load: 1.5, wait: Duration::from_secs(60) }
        );
        assert!(refusal(quiet("quiet_host = { wait = 0 }")).contains("key `quiet_host.wait`"));
        assert!(refusal(quiet("quiet_host = { wait = 100000 }")).contains("key `quiet_host.wait`"));
        assert!(refusal(quiet("quiet_host = { max_load = -1.0 }")).contains("key `quiet_host.max_load`"));
        assert!(toml::from_str::<ScenarioFile>("name = \"n\"\nquiet_host = { load = 1 }\n").is_err(), "unknown keys are refused");
    }

    #[test]
    fn hosts_are_named_once_each_with_a_uri() {
        let hosts_of = |entries: &str| hosts(&file(&format!("{entries}\n"))).map_err(|e| format!("{e:#}"));
        // [[host]] tables must come after the top-level keys, as in a real scenario.
        let with = |entries: &str| {
            let text = format!("name = \"n\"\n[guest]\nkernel = \"k\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n{entries}");
            hosts(&toml::from_str(&text).unwrap()).map_err(|e| format!("{e:#}"))
        };
        assert_eq!(hosts_of("").unwrap(), []);
        let two = with("[[host]]\nname = \"lab1\"\nuri = \"qemu+ssh://root@lab1/system\"\ncpus = 8\nmemory = \"4G\"\n[[host]]\nname = \"lab2\"\nuri = \"qemu:///system\"\n").unwrap();
        assert_eq!(
            two,
            [
                LabHost {
                    key: "host[0]".into(),
                    name: "lab1".into(),
                    uri: "qemu+ssh://root@lab1/system".into(),
                    cpus: Some(8),
                    memory_mib: Some(4096)
                },
                LabHost { key: "host[1]".into(), name: "lab2".into(), uri: "qemu:///system".into(), cpus: None, memory_mib: None }
            ]
        );
        let twice =
            with("[[host]]\nname = \"a\"\nuri = \"qemu:///system\"\n[[host]]\nname = \"a\"\nuri = \"qemu:///system\"\n").unwrap_err();
        assert!(twice.contains("key `host[1].name`: the host name \"a\" is used twice"), "{twice}");
        let bad_name = with("[[host]]\nname = \"../x\"\nuri = \"qemu:///system\"\n").unwrap_err();
        assert!(bad_name.contains("key `host[0].name`"), "{bad_name}");
        let bad_uri = with("[[host]]\nname = \"a\"\nuri = \" \"\n").unwrap_err();
        assert!(bad_uri.contains("key `host[0].uri`"), "{bad_uri}");
        let no_cpus = with("[[host]]\nname = \"a\"\nuri = \"qemu:///system\"\ncpus = 0\n").unwrap_err();
        assert!(no_cpus.contains("key `host[0].cpus`: must be at least 1"), "{no_cpus}");
        let text = "name = \"n\"\n[guest]\nkernel = \"k\"\n[workload]\nkind = \"command\"\ncommand = \"true\"\n[[host]]\nname = \"a\"\n";
        assert!(toml::from_str::<ScenarioFile>(text).unwrap_err().to_string().contains("missing field `uri`"));
    }

    #[test]
    fn remote_files_need_libvirt_an_absolute_path_and_their_local_reference() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"kernel").unwrap();
        let guest = |keys: &str| {
            let text = format!("name = \"n\"\n[guest]\nkernel = \"k\"\n{keys}\n[workload]\nkind = \"command\"\ncommand = \"true\"\n");
            toml::from_str::<ScenarioFile>(&text).unwrap().guest
        };
        let remote_of = |g: super::super::file::GuestSection| remote_files(&g, g.backend.unwrap_or(BackendKind::Qemu), dir.path());
        let files = remote_of(guest("backend = \"libvirt\"\nremote = { kernel = \"/srv/vmlinuz\" }")).unwrap();
        assert_eq!(files, vec![RemoteFile { key: "guest.remote.kernel", remote: "/srv/vmlinuz".into(), local: dir.path().join("k") }]);
        let message = refusal(remote_of(guest("remote = { kernel = \"/srv/vmlinuz\" }")));
        assert!(message.contains("key `guest.remote.kernel`: only the libvirt backend"), "{message}");
        let message = refusal(remote_of(guest("backend = \"libvirt\"\nremote = { kernel = \"srv/vmlinuz\" }")));
        assert!(message.contains("not an absolute path"), "{message}");
        let message = refusal(remote_of(guest("backend = \"libvirt\"\nremote = { disk = \"/srv/root.ext4\" }")));
        assert!(message.contains("key `guest.remote.disk`: needs `guest.disk`"), "{message}");
        let text =
            "name = \"n\"\n[guest]\nkernel = \"k\"\nremote = { initrd = \"/i\" }\n[workload]\nkind = \"command\"\ncommand = \"true\"\n";
        assert!(toml::from_str::<ScenarioFile>(text).is_err(), "no remote initrd: the agent is appended to it");
    }

    #[test]
    fn pinning_needs_a_cpu_more_than_the_guest_has() {
        let host = crate::host::cpus().unwrap() as u32;
        assert!(check_pinnable(host.saturating_sub(1).max(1)).is_ok() || host == 1);
        let message = refusal(check_pinnable(host));
        assert!(message.contains("key `guest.pin`") && message.contains(&format!("needs {} host CPUs", host + 1)), "{message}");
    }
}
