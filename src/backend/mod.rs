//! The hypervisor, behind a trait: the runner boots guests and talks to their agent
//! without knowing which backend does it.

pub mod accel;
pub mod agent_binary;
pub mod console;
pub mod initrd;
#[cfg(feature = "libvirt")]
pub mod libvirt;
pub mod pin;
pub mod qemu;
pub mod qemu_state;
pub mod qmp;

use crate::scenario::file::BackendKind;
use crate::scenario::Plan;
use anyhow::Result;
use kbench_protocol::HostMessage;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use accel::Accel;

/// How long saving or restoring a guest (`reuse = "snapshot"`) may take, in any backend:
/// far more than the seconds a few GiB take.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything needed to boot one guest.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    pub name: String,
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub disk: Option<PathBuf>,
    pub cmdline: String,
    pub cpus: u32,
    pub memory_mib: u64,
    /// The static agent binary, delivered to the guest as its /init.
    pub agent: PathBuf,
    /// Where the guest's serial console is saved; the runner reads it to explain failures.
    pub console_log: PathBuf,
    /// A folder the backend may keep files in while the guest runs (the initrd with the
    /// agent); inside the results folder, which removes it at the end.
    pub scratch: PathBuf,
    /// `guest.pin`: each vCPU on a host CPU of its own (QEMU backend only; the plan refuses
    /// it elsewhere).
    pub pin: bool,
    /// `reuse = "snapshot"`: the guest may be saved ([`Guest::save_state`]) and restored
    /// ([`Backend::restore`]) later, so its disk's writes must be kept apart from the image.
    pub saveable: bool,
}

pub trait Backend {
    /// What the runs are measured under, for meta.json and the warnings.
    fn accel(&self) -> Accel;
    /// A line naming the hypervisor and its version ("QEMU emulator version 7.2.x").
    fn version(&self) -> String;
    fn boot(&self, spec: &GuestSpec) -> Result<Box<dyn Guest>>;
    /// Starts a guest of `spec` from the state a [`Guest::save_state`] wrote into `state`:
    /// it runs on from where it was saved, its agent waiting for the host's word.
    fn restore(&self, _spec: &GuestSpec, _state: &Path) -> Result<Box<dyn Guest>> {
        anyhow::bail!("this backend cannot restore a saved guest (reuse = \"snapshot\" needs the QEMU or libvirt backend)")
    }
}

/// What came over the agent's channel. The backend only frames lines; what they say,
/// and whether the agent really said it, is the session's business.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestEvent {
    /// One line, without its newline.
    Line(String),
    /// A line grew longer than `kbench_protocol::MAX_LINE_BYTES`; the rest of it is skipped unread.
    TooLong { bytes: usize },
    /// The channel closed: the guest powered off, crashed, or the agent died; or the
    /// hypervisor failed, and then `hypervisor_error` holds its own message.
    Closed { hypervisor_error: Option<String> },
}

/// A running guest. Dropping it kills it: no guest outlives its handle.
pub trait Guest {
    fn send(&mut self, message: &HostMessage) -> Result<()>;
    /// The next event, or `None` when nothing came within `timeout`.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<GuestEvent>>;
    /// Waits up to `timeout` for the guest to power itself off, then kills it.
    fn shut_down(&mut self, timeout: Duration);
    /// The host processes that run this guest (its QEMU), for the host-noise guard to
    /// leave out of "other processes"; `None` when the guest runs on another host, whose
    /// noise cannot be sampled from here.
    fn host_pids(&self) -> Option<Vec<u32>>;
    /// Where the guest's threads were pinned (`GuestSpec::pin`), for meta.json.
    fn pinning(&self) -> Option<crate::model::PinningFacts> {
        None
    }
    /// Saves the whole guest (memory, devices, its disk's writes) into the folder `dir`
    /// and lets it run on; the bytes written. Only between two steps, once the agent has
    /// said all it had to (the session's Sync): nothing is on its way.
    fn save_state(&mut self, _dir: &Path) -> Result<u64> {
        anyhow::bail!("this backend cannot save a guest (reuse = \"snapshot\" needs the QEMU or libvirt backend)")
    }
}

/// The backend the plan asks for (`guest.backend`), connected and ready to boot, and a
/// warning to show (TCG for want of KVM). The one place that knows which backends exist.
pub fn open(plan: &Plan, agent: &Path) -> Result<(Box<dyn Backend>, Option<String>)> {
    match plan.guest.backend {
        BackendKind::Qemu => {
            let (accel, warning) = accel::choose(plan.guest.accel)?;
            Ok((Box::new(qemu::QemuBackend::new(plan.guest.qemu.as_deref(), accel)?), warning))
        }
        BackendKind::Libvirt => open_libvirt(plan, agent),
    }
}

/// What a lab host is, as its libvirt daemon tells it (meta.json's `hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMachine {
    pub libvirt_version: String,
    pub accel: Accel,
    pub cpus: u32,
    pub memory_mib: u64,
}

/// The connection to a host could not be opened (as opposed to a host that answered and
/// cannot run the study: no KVM, too small, a wrong volume).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// One `[[host]]`, connected, its files uploaded: ready to run its block of the study
/// on a thread of its own.
pub struct OpenedHost {
    pub backend: Box<dyn Backend + Send>,
    pub warning: Option<String>,
    pub machine: HostMachine,
}

/// Connects to the libvirt daemon of a host's plan (`Plan::for_host`).
#[cfg(feature = "libvirt")]
pub fn open_host(plan: &Plan, agent: &Path) -> Result<OpenedHost> {
    let (backend, warning) = libvirt::LibvirtBackend::new(plan, agent)?;
    let machine = backend.machine().clone();
    Ok(OpenedHost { backend: Box::new(backend), warning, machine })
}

#[cfg(not(feature = "libvirt"))]
pub fn open_host(plan: &Plan, _agent: &Path) -> Result<OpenedHost> {
    anyhow::bail!("{NOT_COMPILED_IN} (the scenario's [[host]] entries need it, here {})", plan.guest.uri.as_deref().unwrap_or_default())
}

#[cfg(feature = "libvirt")]
fn open_libvirt(plan: &Plan, agent: &Path) -> Result<(Box<dyn Backend>, Option<String>)> {
    let (backend, warning) = libvirt::LibvirtBackend::new(plan, agent)?;
    Ok((Box::new(backend), warning))
}

#[cfg(not(feature = "libvirt"))]
fn open_libvirt(plan: &Plan, _agent: &Path) -> Result<(Box<dyn Backend>, Option<String>)> {
    anyhow::bail!("{NOT_COMPILED_IN} (the scenario asks for libvirt at {})", plan.guest.uri.as_deref().unwrap_or_default())
}

/// What a build without the `libvirt` feature says when a scenario asks for it.
#[cfg(not(feature = "libvirt"))]
pub const NOT_COMPILED_IN: &str = "key `guest.backend`: the libvirt backend is not compiled into this bench; \
rebuild with the default features (cargo build --features libvirt, which needs libvirt-dev and pkg-config) or use backend = \"qemu\"";

/// What `bench check` reports of the host that will run the guests: one line per fact,
/// or the problem with it.
pub fn check_host(plan: &Plan) -> Vec<(String, Result<String>)> {
    match plan.guest.backend {
        BackendKind::Qemu => check_qemu_host(plan.guest.accel, plan.guest.qemu.as_deref()),
        #[cfg(feature = "libvirt")]
        BackendKind::Libvirt => libvirt::check_host(plan),
        #[cfg(not(feature = "libvirt"))]
        BackendKind::Libvirt => vec![("libvirt".into(), Err(anyhow::anyhow!("{NOT_COMPILED_IN}")))],
    }
}

/// The QEMU backend's lines of [`check_host`]: they need only the scenario's `accel` and
/// `qemu`, so `bench check` runs them even for a scenario that does not validate.
pub fn check_qemu_host(accel: crate::scenario::file::AccelChoice, qemu: Option<&Path>) -> Vec<(String, Result<String>)> {
    vec![("accel".into(), qemu_accel_line(accel)), ("qemu".into(), qemu::QemuBackend::new(qemu, Accel::Tcg).map(|b| b.version()))]
}

fn qemu_accel_line(choice: crate::scenario::file::AccelChoice) -> Result<String> {
    let (accel, warning) = accel::choose(choice)?;
    Ok(match (accel::kvm_unusable_reason(), warning) {
        (_, Some(warning)) => format!("{accel}: {warning}"),
        (None, None) => format!("{accel}: KVM works here"),
        (Some(reason), None) => format!("{accel} as asked (KVM would not work: {reason})"),
    })
}
