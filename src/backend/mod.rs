//! The hypervisor, behind a trait: the runner boots guests and talks to their agent
//! without knowing which backend does it.

pub mod accel;
pub mod console;
pub mod initrd;
pub mod pin;
pub mod qemu;

use anyhow::Result;
use kbench_protocol::HostMessage;
use std::path::PathBuf;
use std::time::Duration;

pub use accel::Accel;

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
}

pub trait Backend {
    /// What the runs are measured under, for meta.json and the warnings.
    fn accel(&self) -> Accel;
    /// A line naming the hypervisor and its version ("QEMU emulator version 7.2.x").
    fn version(&self) -> String;
    fn boot(&self, spec: &GuestSpec) -> Result<Box<dyn Guest>>;
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
}
