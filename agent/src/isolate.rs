//! Keeps the measured workload away from the agent's channel to the host, so that it can
//! neither forge the agent's messages nor drown them.
//!
//! Each step runs in its own mount namespace in which the serial ports (and the channel's
//! device, whatever it is) are /dev/null and the cgroup tree is an empty tmpfs. It then
//! loses the capabilities that would undo that or reach the agent another way: mount and
//! umount (CAP_SYS_ADMIN), a new device node (CAP_MKNOD), /proc/1/fd and /proc/1/mem
//! (CAP_SYS_PTRACE), port I/O to the UART (CAP_SYS_RAWIO), modules, kexec and reboot
//! (CAP_SYS_MODULE, CAP_SYS_BOOT), a chroot escape to the initramfs's /dev
//! (CAP_SYS_CHROOT), and kernel-side programs (CAP_BPF, CAP_PERFMON). A kernel build
//! needs none of them. The agent itself is not dumpable, so that a process of the same
//! uid cannot open its files through /proc/1.

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The serial ports of a PC: the console, the agent's channel and two spares.
const SERIAL_PORTS: [&str; 4] = ["/dev/ttyS0", "/dev/ttyS1", "/dev/ttyS2", "/dev/ttyS3"];
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_CHROOT: u32 = 18;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_BOOT: u32 = 22;
const CAP_MKNOD: u32 = 27;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
pub const DROPPED_CAPABILITIES: [u32; 9] =
    [CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_MKNOD, CAP_PERFMON, CAP_BPF];

/// How the steps are kept from the channel on this guest.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// A mount namespace per step: the agent's own view is untouched.
    PerStep,
    /// The kernel refused a mount namespace: the devices are covered once, for everyone
    /// (the agent's channel is an open file and stays usable).
    Shared,
    /// Neither is possible (not init, not root): the steps run as they are.
    Off,
}

/// Everything a step's child does before exec, prepared beforehand: between fork and
/// exec only async-signal-safe system calls are allowed (no allocation, no locks).
#[derive(Debug, Clone)]
pub struct Isolation {
    mode: Mode,
    devices: Vec<CString>,
    cgroup_root: Option<CString>,
    null: CString,
    root: CString,
    tmpfs: CString,
}

impl Isolation {
    /// Decides how the steps are isolated here and says so on the console. `channel` is
    /// the device the agent talks to the host on.
    pub fn prepare(channel: &str) -> Isolation {
        let mut isolation = Isolation {
            mode: Mode::Off,
            devices: devices_to_cover(channel).iter().filter_map(|p| CString::new(p.as_str()).ok()).collect(),
            cgroup_root: Path::new(CGROUP_ROOT).is_dir().then(|| CString::new(CGROUP_ROOT).expect("no NUL")),
            null: CString::new("/dev/null").expect("no NUL"),
            root: CString::new("/").expect("no NUL"),
            tmpfs: CString::new("tmpfs").expect("no NUL"),
        };
        let devices: Vec<String> = isolation.devices.iter().map(|d| d.to_string_lossy().into_owned()).collect();
        let namespace = mount_namespace_works();
        if namespace.is_ok() {
            isolation.mode = Mode::PerStep;
            crate::console(&format!(
                "each step runs in its own mount namespace without {} and without {} capabilities",
                devices.join(" "),
                DROPPED_CAPABILITIES.len()
            ));
        } else if std::process::id() == 1 {
            let covered = isolation.cover_devices();
            isolation.mode = Mode::Shared;
            crate::console(&format!(
                "no mount namespace for the steps ({}); {} covered for the whole guest instead",
                namespace.err().unwrap_or_default(),
                if covered.is_ok() { devices.join(" ") } else { "no device could be".into() },
            ));
        } else {
            crate::console("not running as the guest's init: the steps are not isolated from the agent's channel");
        }
        isolation
    }

    /// Makes `command` run isolated.
    pub fn apply(&self, command: &mut Command) {
        if self.mode == Mode::Off {
            return;
        }
        let isolation = self.clone();
        // SAFETY: the closure makes only system calls (unshare, mount, prctl, capget,
        // capset) on data prepared before the fork: async-signal-safe.
        unsafe { command.pre_exec(move || isolation.in_child()) };
    }

    /// Runs in the forked child, before exec.
    fn in_child(&self) -> std::io::Result<()> {
        if self.mode == Mode::PerStep {
            check(unsafe { libc::unshare(libc::CLONE_NEWNS) })?;
            // Mounts made here must not propagate back to the agent's namespace.
            check(unsafe {
                libc::mount(std::ptr::null(), self.root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())
            })?;
            self.cover_devices()?;
            if let Some(cgroup) = &self.cgroup_root {
                let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                check(unsafe { libc::mount(self.tmpfs.as_ptr(), cgroup.as_ptr(), self.tmpfs.as_ptr(), flags, std::ptr::null()) })?;
            }
        }
        drop_capabilities()
    }

    /// Binds /dev/null over every device that leads to the host.
    fn cover_devices(&self) -> std::io::Result<()> {
        for device in &self.devices {
            check(unsafe { libc::mount(self.null.as_ptr(), device.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) })?;
        }
        Ok(())
    }
}

/// The serial ports and the channel, plus any other node in /dev (one level down too)
/// for the same devices, such as a /dev/serial alias.
fn devices_to_cover(channel: &str) -> Vec<String> {
    let mut paths: Vec<String> = SERIAL_PORTS.iter().map(|p| p.to_string()).collect();
    if !paths.iter().any(|p| p == channel) {
        paths.push(channel.to_string());
    }
    let rdev = |path: &Path| std::fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_char_device()).map(|m| m.rdev());
    let numbers: Vec<u64> = paths.iter().filter_map(|p| rdev(Path::new(p))).collect();
    let mut dirs = vec![std::path::PathBuf::from("/dev")];
    if let Ok(entries) = std::fs::read_dir("/dev") {
        dirs.extend(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
    }
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if rdev(&path).is_some_and(|n| numbers.contains(&n)) {
                let text = path.to_string_lossy().into_owned();
                if !paths.contains(&text) {
                    paths.push(text);
                }
            }
        }
    }
    paths.retain(|p| Path::new(p).exists());
    paths
}

/// Tries a mount namespace in a throwaway child; the error says why not.
fn mount_namespace_works() -> Result<(), String> {
    let mut probe = Command::new("/bin/sh");
    probe.args(["-c", "exit 0"]).stdin(std::process::Stdio::null());
    // SAFETY: unshare is a plain system call.
    unsafe { probe.pre_exec(|| check(libc::unshare(libc::CLONE_NEWNS))) };
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
        // SAFETY: prctl with integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        // EINVAL: a capability this kernel does not know (CAP_BPF before 5.8).
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data words, as capget/capset version 3 expects.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) } as libc::c_int)?;
    for cap in DROPPED_CAPABILITIES {
        let (word, bit) = ((cap / 32) as usize, 1u32 << (cap % 32));
        data[word].effective &= !bit;
        data[word].permitted &= !bit;
        data[word].inheritable &= !bit;
    }
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
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        crate::console(&format!("cannot make the agent undumpable: {}", std::io::Error::last_os_error()));
    }
}
