//! Turns a scenario file into a validated plan: paths resolved against the scenario's
//! folder and checked, jobs levels resolved, command lines composed. Every error names
//! the file and the key, and comes before anything boots.

use super::file::{AccelChoice, BackendKind, JobsSpec, RootSection, ScenarioFile, WorkloadSection};
use super::kernel_build::{self, KernelBuild};
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
    pub runs: u32,
    pub warmup: u32,
    /// Boots per variant that share the runs; see `Plan::round_of`.
    pub rounds: u32,
    pub workload: Workload,
}

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
    pub study_timeout: Option<Duration>,
    pub retries: u32,
    pub qemu: Option<PathBuf>,
    pub backend: BackendKind,
    /// The libvirt connection URI; set exactly when `backend` is libvirt.
    pub uri: Option<String>,
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
    /// The round (0-based) that measures run `index` (1-based): runs are dealt out in
    /// turn, so every round gets early and late runs alike.
    pub fn round_of(&self, index: u32) -> u32 {
        (index - 1) % self.rounds
    }

    /// The variants in the order round `round` boots them: reversed every other round.
    pub fn variant_order(&self, round: u32) -> Vec<&Variant> {
        let mut order: Vec<&Variant> = self.variants.iter().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        order
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
        file.guest.backend = backend;
    }
    if let Some(uri) = &overrides.uri {
        file.guest.uri = Some(uri.clone());
    }
    validate(file, path).with_context(|| format!("scenario file {}", path.display()))
}

fn validate(file: ScenarioFile, path: &Path) -> Result<Plan> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let guest = &file.guest;
    if file.name.trim().is_empty() || file.name.contains(['/', '\0']) {
        bail!("key `name`: give the study a non-empty name without '/' (it names the results folder)");
    }
    if file.runs == 0 {
        bail!("key `runs`: must be at least 1 (the number of timed runs per variant and jobs level)");
    }
    if file.rounds == 0 || file.rounds > file.runs {
        bail!("key `rounds`: must be between 1 and `runs` ({}): each round measures at least one run per level", file.runs);
    }
    if file.jobs.is_empty() {
        bail!("key `jobs`: list at least one level, for example [\"half\", \"optimal\"]");
    }
    if guest.cpus == 0 {
        bail!("key `guest.cpus`: must be at least 1");
    }
    for (key, value) in [("boot_timeout", Some(guest.boot_timeout)), ("run_timeout", guest.run_timeout), ("study_timeout", guest.study_timeout)] {
        if value == Some(0) {
            bail!("key `guest.{key}`: seconds, at least 1");
        }
    }
    let uri = match (guest.backend, &guest.uri) {
        (BackendKind::Qemu, Some(_)) => {
            bail!("key `guest.uri`: only the libvirt backend connects to a URI; add backend = \"libvirt\" or remove uri")
        }
        (BackendKind::Qemu, None) => None,
        (BackendKind::Libvirt, Some(uri)) if uri.trim().is_empty() || uri.contains(char::is_whitespace) => {
            bail!("key `guest.uri`: {uri:?} is not a libvirt URI such as qemu:///system or qemu+ssh://root@lab1/system")
        }
        (BackendKind::Libvirt, uri) => Some(uri.clone().unwrap_or_else(|| DEFAULT_LIBVIRT_URI.to_string())),
    };
    if guest.backend == BackendKind::Libvirt && guest.qemu.is_some() {
        bail!("key `guest.qemu`: the libvirt backend runs the QEMU its daemon is configured with; remove qemu");
    }
    // A libvirt host's size is checked against that host when the backend connects.
    if guest.backend == BackendKind::Qemu {
        check_host_size(guest.cpus, guest.memory.mib)?;
    }
    let variants = variants(&file, &base)?;
    let baseline = match &file.baseline {
        None => 0,
        Some(name) => variants.iter().position(|v| &v.name == name).with_context(|| {
            format!("key `baseline`: no variant is named {name:?} (variants: {})", names(&variants))
        })?,
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
            study_timeout: guest.study_timeout.map(Duration::from_secs),
            retries: guest.retries,
            qemu: guest.qemu.clone(),
            backend: guest.backend,
            uri,
        },
        variants,
        baseline,
        levels,
        runs: file.runs,
        rounds: file.rounds,
        warmup: file.warmup,
        workload: workload(&file.workload, &base)?,
    })
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
        if section.name.trim().is_empty() || section.name.contains(['/', ',', '\n', '\0']) {
            bail!("key `{key}.name`: give each variant a non-empty name without '/', ',' or newlines");
        }
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
        variants.push(Variant {
            name: section.name.clone(),
            kernel,
            initrd: initrd.map(|p| existing_file(base, p, &initrd_key)).transpose()?,
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
/// `$` pass exactly; but a newline or control character would not survive the boot.
fn checked_cmdline(cmdline: &str, key: &str) -> Result<String> {
    if let Some(c) = cmdline.chars().find(|c| c.is_control()) {
        bail!("key `{key}`: contains the control character {c:?}; put the options on one line separated by spaces");
    }
    Ok(cmdline.trim().to_string())
}

fn existing_file(base: &Path, path: &Path, key: &str) -> Result<PathBuf> {
    let resolved = base.join(path);
    let meta = std::fs::metadata(&resolved).with_context(|| {
        format!("key `{key}`: cannot read {} (relative paths start at the scenario's folder)", resolved.display())
    })?;
    if !meta.is_file() {
        bail!("key `{key}`: {} is not a file", resolved.display());
    }
    std::fs::File::open(&resolved).with_context(|| format!("key `{key}`: cannot open {}", resolved.display()))?;
    Ok(resolved)
}

/// An x86 bzImage carries "HdrS" at offset 0x202 (Documentation/arch/x86/boot.rst).
fn check_bzimage(path: &Path, key: &str) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).with_context(|| format!("key `{key}`: cannot open {}", path.display()))?;
    let mut magic = [0u8; 4];
    let ok = file.seek(SeekFrom::Start(0x202)).is_ok() && file.read_exact(&mut magic).is_ok() && &magic == b"HdrS";
    if !ok {
        bail!("key `{key}`: {} is not an x86 kernel image (bzImage/vmlinuz); point it at arch/x86/boot/bzImage or /boot/vmlinuz-*", path.display());
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
            Ok(Workload::Command { command: command.clone(), prepare: prepare.clone(), clean: clean.clone() })
        }
    }
}
