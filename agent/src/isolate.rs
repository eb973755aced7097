//! Keeps the measured workload to what it was given, so that it can neither forge the
//! agent's messages, drown them or hide kernel trouble, nor change what later steps
//! measure.
//!
//! The guest is locked down once, before the first probe (`lockdown`): the helper routes
//! out of a step are pinned shut, and the serial ports, /dev/console and /dev/kmsg are
//! /dev/null, /proc/sys, /proc/sysrq-trigger and /sys read-only in the agent's own view.
//! Each step (and each probe) then runs in a copy of that view, its own mount namespace,
//! and its own IPC namespace (a SysV shared-memory segment it leaves goes with it instead
//! of holding memory through later runs), with its resource limits reset to those the
//! agent had at boot (a step may lower the agent's through prlimit: same uid, no
//! capability needed). Then it loses the capabilities that would undo that or reach the
//! agent, the kernel or later steps another way ([`DROPPED_CAPABILITIES`]):
//!
//! - CAP_SYS_ADMIN: mount and umount (uncover a port), and most other kernel-wide switches.
//! - CAP_MKNOD: a new node for the real port.
//! - CAP_DAC_READ_SEARCH: open_by_handle_at, which opens a file by inode, past any mount
//!   that covers it. CAP_DAC_OVERRIDE, which root keeps, grants every ordinary read.
//! - CAP_SYS_PTRACE: /proc/1/fd, /proc/1/mem and attaching to the agent. Without it the
//!   kernel also refuses /proc/<pid> of any task with capabilities the step lacks (the
//!   agent, kernel threads).
//! - CAP_SYS_RAWIO: port I/O to the UART, /dev/mem, /proc/kcore.
//! - CAP_SYS_MODULE, CAP_SYS_BOOT: modules, kexec and reboot.
//! - CAP_SYS_CHROOT: a chroot back to the initramfs's /dev.
//! - CAP_BPF, CAP_PERFMON: programs and probes in the kernel.
//! - CAP_SYS_TIME: settimeofday and adjtimex slew the clock the agent measures with (a
//!   frequency offset made runs ~10 % faster, issue 19).
//! - CAP_SYS_NICE: renice, real-time priority, CPU affinity and I/O priority of tasks with
//!   more capabilities than the step's own (the agent, kernel threads), which lasts past
//!   the step; and a real-time busy loop that starves the agent. A build may still lower
//!   its own priority (`nice make`): that needs no capability.
//! - CAP_SYSLOG: the console's log level (`dmesg -n`, `-D` silences it: a later panic
//!   would never reach the host) and clearing the ring buffer.
//! - CAP_SYS_PACCT: process accounting, a record written at every later process exit.
//! - CAP_AUDIT_WRITE, CAP_AUDIT_CONTROL: with no audit daemon, user audit messages are
//!   printed into the kernel log as the kernel's own records.
//!
//! Kept, on purpose: CAP_SYS_RESOURCE (a build may raise its own limits; nothing it allows
//! outlives the step now that /proc/sys is read-only and IPC is per step), CAP_NET_ADMIN
//! (there is no network), CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER, CAP_KILL (signals
//! cannot hurt init or kernel threads, and every other process is the step's). A kernel
//! build needs none of those dropped. The agent itself is not dumpable, so that a
//! process of the same uid cannot open its files through /proc/1. What a step can still
//! do is in docs/threat-model.md.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_CHROOT: u32 = 18;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_PACCT: u32 = 20;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_BOOT: u32 = 22;
const CAP_SYS_NICE: u32 = 23;
const CAP_SYS_TIME: u32 = 25;
const CAP_MKNOD: u32 = 27;
const CAP_AUDIT_WRITE: u32 = 29;
const CAP_AUDIT_CONTROL: u32 = 30;
const CAP_SYSLOG: u32 = 34;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
pub const DROPPED_CAPABILITIES: [u32; 16] = [
    CAP_DAC_READ_SEARCH,
    CAP_SYS_MODULE,
    CAP_SYS_RAWIO,
    CAP_SYS_CHROOT,
    CAP_SYS_PTRACE,
    CAP_SYS_PACCT,
    CAP_SYS_ADMIN,
    CAP_SYS_BOOT,
    CAP_SYS_NICE,
    CAP_SYS_TIME,
    CAP_MKNOD,
    CAP_AUDIT_WRITE,
    CAP_AUDIT_CONTROL,
    CAP_SYSLOG,
    CAP_PERFMON,
    CAP_BPF,
];

/// The resource limits a step starts with: the agent's at boot.
const LIMITS: [libc::__rlimit_resource_t; 16] = [
    libc::RLIMIT_CPU,
    libc::RLIMIT_FSIZE,
    libc::RLIMIT_DATA,
    libc::RLIMIT_STACK,
    libc::RLIMIT_CORE,
    libc::RLIMIT_RSS,
    libc::RLIMIT_NPROC,
    libc::RLIMIT_NOFILE,
    libc::RLIMIT_MEMLOCK,
    libc::RLIMIT_AS,
    libc::RLIMIT_LOCKS,
    libc::RLIMIT_SIGPENDING,
    libc::RLIMIT_MSGQUEUE,
    libc::RLIMIT_NICE,
    libc::RLIMIT_RTPRIO,
    libc::RLIMIT_RTTIME,
];

/// How the steps are kept apart on this guest.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Mount and IPC namespaces per step, then the capability drop: the agent's own view
    /// (already locked down) is untouched by anything a step does.
    PerStep,
    /// The kernel refused the namespaces: the steps share the agent's locked-down view
    /// and still lose the capabilities.
    SharedView,
    /// Not the guest's init: the steps run as they are (a development machine).
    Off,
}

/// Everything a step's child does before exec, prepared beforehand: between fork and
/// exec only async-signal-safe system calls are allowed (no allocation, no locks).
#[derive(Debug, Clone)]
pub struct Isolation {
    mode: Mode,
    root: CString,
    /// The agent's limits when it prepared this, one per [`LIMITS`] entry.
    limits: Vec<libc::rlimit>,
}

impl Isolation {
    /// Decides how the steps are isolated here and says so on the console. Call it after
    /// `lockdown::lock_down`, whose view the steps inherit.
    pub fn prepare() -> Isolation {
        let mut isolation = Isolation { mode: Mode::Off, root: CString::new("/").expect("no NUL"), limits: current_limits() };
        if std::process::id() != 1 {
            crate::console("not running as the guest's init: the steps are not isolated from the agent's channel");
            return isolation;
        }
        match namespaces_work() {
            Ok(()) => {
                isolation.mode = Mode::PerStep;
                crate::console(&format!(
                    "each step runs in its own mount and IPC namespaces without {} capabilities",
                    DROPPED_CAPABILITIES.len()
                ));
            }
            Err(error) => {
                isolation.mode = Mode::SharedView;
                crate::console(&format!(
                    "no namespaces for the steps ({error}): they share the agent's locked-down view, without {} capabilities",
                    DROPPED_CAPABILITIES.len()
                ));
            }
        }
        isolation
    }

    /// Makes `command` run isolated.
    pub fn apply(&self, command: &mut Command) {
        if self.mode == Mode::Off {
            return;
        }
        let isolation = self.clone();
        // SAFETY: the closure makes only system calls (unshare, mount, setrlimit, prctl,
        // capget, capset) on data prepared before the fork, allocates nothing and takes
        // no lock: async-signal-safe, as pre_exec requires.
        unsafe { command.pre_exec(move || isolation.in_child()) };
    }

    /// Runs in the forked child, before exec.
    fn in_child(&self) -> std::io::Result<()> {
        if self.mode == Mode::PerStep {
            // SAFETY: unshare takes flags only and affects this child alone.
            check(unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWIPC) })?;
            // Mounts made here must not propagate back to the agent's namespace.
            // SAFETY: a valid NUL-terminated path; null source, type and data, which a
            // propagation change ignores.
            check(unsafe {
                libc::mount(std::ptr::null(), self.root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())
            })?;
        }
        self.reset_limits()?;
        drop_capabilities()
    }

    /// Sets this process's limits to the agent's at boot; async-signal-safe.
    fn reset_limits(&self) -> std::io::Result<()> {
        for (resource, limit) in LIMITS.iter().zip(&self.limits) {
            // SAFETY: a pointer to a limit that lives in `self` for the whole call. Raising
            // a hard limit back needs CAP_SYS_RESOURCE, which the child still holds.
            check(unsafe { libc::setrlimit(*resource, limit) })?;
        }
        Ok(())
    }

    /// Puts the agent's own limits back to those at boot, if a step changed them; says
    /// which it found changed. The steps after it inherit the agent's limits.
    pub fn restore_agent_limits(&self) -> Vec<String> {
        if self.mode == Mode::Off {
            return Vec::new();
        }
        let mut changed = Vec::new();
        for ((resource, now), boot) in LIMITS.iter().zip(current_limits()).zip(&self.limits) {
            if (now.rlim_cur, now.rlim_max) != (boot.rlim_cur, boot.rlim_max) {
                // SAFETY: a pointer to a limit that outlives the call; the agent holds
                // CAP_SYS_RESOURCE to raise a lowered hard limit.
                let restored = unsafe { libc::setrlimit(*resource, boot) } == 0;
                changed.push(format!(
                    "resource {resource}: {}/{}{}",
                    now.rlim_cur,
                    now.rlim_max,
                    if restored { "" } else { " (not restored)" }
                ));
            }
        }
        changed
    }
}

/// The agent's own limits, one per [`LIMITS`] entry (unlimited where unreadable).
fn current_limits() -> Vec<libc::rlimit> {
    LIMITS
        .iter()
        .map(|&resource| {
            let mut limit = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
            // SAFETY: getrlimit fills in the limit it is given a pointer to.
            unsafe { libc::getrlimit(resource, &mut limit) };
            limit
        })
        .collect()
}

/// Tries the namespaces in a throwaway child; the error says why not.
fn namespaces_work() -> Result<(), String> {
    let mut probe = Command::new("/bin/sh");
    probe.args(["-c", "exit 0"]).stdin(std::process::Stdio::null());
    // SAFETY: unshare is a plain system call on flags, async-signal-safe.
    unsafe { probe.pre_exec(|| check(libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWIPC))) };
    match probe.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("/bin/sh {status}")),
        Err(error) => Err(format!("unshare: {error}")),
    }
}

/// Removes [`DROPPED_CAPABILITIES`] from the bounding set (so that exec cannot grant them
/// again, even to root) and from the effective, permitted and inheritable sets.
fn drop_capabilities() -> std::io::Result<()> {
    for cap in DROPPED_CAPABILITIES {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        // EINVAL: a capability this kernel does not know (CAP_BPF before 5.8).
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: a header and the two data words capget version 3 fills in, both live locals.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) } as libc::c_int)?;
    for cap in DROPPED_CAPABILITIES {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        data[word].effective &= !bit;
        data[word].permitted &= !bit;
        data[word].inheritable &= !bit;
    }
    // SAFETY: the same header and two data words, which capset only reads.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) } as libc::c_int)
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Same-uid processes may not open /proc/1/fd/*, /proc/1/mem or attach to the agent.
pub fn protect_agent() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        crate::console(&format!("cannot make the agent undumpable: {}", std::io::Error::last_os_error()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capabilities_of_issue_19_are_dropped_and_each_once() {
        for cap in [CAP_SYS_TIME, CAP_SYS_NICE, CAP_SYSLOG, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, CAP_SYS_PTRACE] {
            assert!(DROPPED_CAPABILITIES.contains(&cap), "{cap}");
        }
        let mut sorted = DROPPED_CAPABILITIES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), DROPPED_CAPABILITIES.len());
        assert!(sorted.iter().all(|&cap| cap < 64), "two capability words");
    }

    #[test]
    fn a_child_starts_with_the_limits_the_agent_had_when_it_prepared() {
        // Off is what a test process gets; the child's limits are what is tested here.
        let isolation = Isolation { mode: Mode::Off, root: CString::new("/").unwrap(), limits: current_limits() };
        let mut lowered = isolation.limits.clone();
        let nofile = LIMITS.iter().position(|&r| r == libc::RLIMIT_NOFILE).unwrap();
        let wanted = lowered[nofile].rlim_cur.min(64);
        lowered[nofile].rlim_cur = wanted;
        let prepared = Isolation { limits: lowered, ..isolation };
        let mut shell = Command::new("/bin/sh");
        shell.args(["-c", "ulimit -n"]);
        let child_side = prepared.clone();
        // SAFETY: reset_limits makes only setrlimit calls on data prepared before the fork.
        unsafe { shell.pre_exec(move || child_side.reset_limits()) };
        let out = shell.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), wanted.to_string());
        assert!(prepared.restore_agent_limits().is_empty(), "nothing to restore when not init");
    }
}
