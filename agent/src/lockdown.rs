//! What PID 1 does once, before the first command it did not write (a probe or a step):
//! pin the kernel's knobs that would run a program of the workload's choosing with more
//! rights than the workload has, and lock the agent's own view of the guest.
//!
//! The agent's own view matters because it is where the kernel runs its usermode
//! helpers: a core-dump pipe, modprobe, `/sbin/request-key` are children of kthreadd, in
//! the first mount namespace and the root PID 1 chose, with the capabilities of the
//! usermode-helper bounding set (all of them by default). A step that could name such a
//! program (issue 19: `|/tmp/h` in core_pattern, `/tmp/m` in modprobe) had it run there,
//! where /dev/ttyS1 is the real port and PID 1's memory is readable, and read the boot's
//! key from it. Hence, in this order:
//!
//! - **Knobs** ([`PINS`]), written before /proc/sys turns read-only, each read back:
//!   * `kernel.core_pattern = core`: a core file, never a pipe to a program.
//!   * `kernel.modprobe` empty: module autoloading off, the kernel runs nothing for it (a
//!     path, even a harmless one, could be created by the step on a writable root).
//!   * `kernel.usermodehelper.bset` and `.inheritable` = 0: what the kernel still starts
//!     (request-key's path is fixed, no knob names it) runs without any capability. It
//!     cannot read the agent's memory (ptrace needs a superset of the agent's
//!     capabilities), load a module, mount, make a device node or raise these sets again
//!     (that needs CAP_SETPCAP and CAP_SYS_MODULE, and the sets only ever shrink).
//!   * `kernel.modules_disabled = 1` (one-way): the root disk's modules are loaded by now
//!     (`root::enter`), and with autoloading off nothing else would load one; only a
//!     process with CAP_SYS_MODULE could, which no probe, step or helper has. A workload
//!     that needs a module names it in the root disk's module list.
//!   * `kernel.kexec_load_disabled = 1` (one-way): no other kernel under the agent.
//!   * `kernel.sysrq = 0`: no magic SysRq from a break on the console port either (the
//!     trigger file is read-only below).
//!   * `debug.exception-trace = 0`: the kernel's record of a segfault starts with the
//!     task's name, which the workload chooses: "BUG: KASAN: x[42]: segfault at 0" would
//!     read as a kernel report.
//!   * `user.max_user_namespaces = 0`: in a user namespace of its own a step would hold
//!     every capability over what it creates there, which reopens much of the kernel
//!     (its own mounts, netfilter) that dropping capabilities closes. A kernel build
//!     needs none.
//! - **View** ([`lock_view`]): the serial ports (the channel and its aliases),
//!   /dev/console and /dev/kmsg become /dev/null (the agent keeps the files it opened
//!   before), /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus and /sys become
//!   read-only, /sys/fs/cgroup an empty read-only tmpfs. A helper (uid 0, no capability)
//!   sees this view; each step's namespace starts as a copy of it; neither can undo a
//!   mount. The kernel's own console output does not go through these nodes.
//!
//! Nothing here runs when the agent is not the guest's init: it must never change the
//! machine a developer runs it on.

use crate::boot::{mount, MountFlags};
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The knobs and the value each is pinned to, in the order they are written (the one-way
/// ones last, once the others hold).
pub const PINS: [(&str, &str); 9] = [
    ("/proc/sys/kernel/core_pattern", "core"),
    ("/proc/sys/kernel/modprobe", ""),
    ("/proc/sys/kernel/usermodehelper/bset", "0\t0"),
    ("/proc/sys/kernel/usermodehelper/inheritable", "0\t0"),
    ("/proc/sys/kernel/sysrq", "0"),
    ("/proc/sys/debug/exception-trace", "0"),
    ("/proc/sys/user/max_user_namespaces", "0"),
    ("/proc/sys/kernel/kexec_load_disabled", "1"),
    ("/proc/sys/kernel/modules_disabled", "1"),
];

/// The serial ports of a PC: the console, the agent's channel and two spares.
const SERIAL_PORTS: [&str; 4] = ["/dev/ttyS0", "/dev/ttyS1", "/dev/ttyS2", "/dev/ttyS3"];
/// Text that would reach the console or the kernel log as if the kernel had printed it.
const LOG_DEVICES: [&str; 2] = ["/dev/console", "/dev/kmsg"];
/// Read-only from now on, in the order they are bound (/sys after its cgroup folder).
const READ_ONLY: [&str; 5] = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/sys"];
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Pins the knobs and locks the view; what could not be done is said on the console
/// (a kernel without a knob, such as one without modules, is no failure).
pub fn lock_down(channel: &str) {
    for (path, value) in PINS {
        match pin(path, value) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => crate::console(&format!("cannot pin {path} to {value:?}: {error}")),
        }
    }
    let problems = lock_view(channel);
    if problems.is_empty() {
        crate::console("kernel knobs pinned; serial ports, console and kernel log covered; /proc/sys and /sys read-only");
    }
    for problem in problems {
        crate::console(&problem);
    }
}

/// Writes `value` and reads it back: a knob that kept another value is an error.
fn pin(path: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{value}\n"))?;
    let now = std::fs::read_to_string(path)?;
    if same_value(&now, value) {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("it reads {:?}", now.trim_end())))
    }
}

/// Sysctls read back with a newline and their own separators ("0\t0").
fn same_value(read: &str, wanted: &str) -> bool {
    read.split_whitespace().eq(wanted.split_whitespace())
}

/// Covers the devices and binds the read-only paths; returns what failed.
fn lock_view(channel: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for device in devices_to_cover(channel) {
        if let Err(error) = bind("/dev/null", &device, false) {
            problems.push(format!("cannot cover {device}: {error}"));
        }
    }
    if Path::new(CGROUP_ROOT).is_dir() {
        let flags = MountFlags { read_only: true };
        if let Err(error) = mount("tmpfs", CGROUP_ROOT, "tmpfs", flags, "mode=0555") {
            problems.push(format!("cannot hide {CGROUP_ROOT}: {error}"));
        }
    }
    for path in READ_ONLY.iter().filter(|p| Path::new(p).exists()) {
        if let Err(error) = bind(path, path, true) {
            problems.push(format!("cannot make {path} read-only: {error}"));
        }
    }
    problems
}

/// Binds `source` on `target`, then, if asked, makes that bind read-only (a bind takes
/// the read-only flag only on a remount).
fn bind(source: &str, target: &str, read_only: bool) -> std::io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput));
    let (source, target) = (c(source)?, c(target)?);
    // SAFETY: valid NUL-terminated paths and null filesystem type and data, which a bind
    // ignores; nothing is retained after the call.
    let rc = unsafe { libc::mount(source.as_ptr(), target.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if read_only {
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: as above; a remount reads only the target path.
        let rc = unsafe { libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The serial ports, the channel, /dev/console and /dev/kmsg, plus any other node in /dev
/// (one level down too) for the same devices, such as a /dev/serial alias.
pub fn devices_to_cover(channel: &str) -> Vec<String> {
    let mut paths: Vec<String> = SERIAL_PORTS.iter().chain(&LOG_DEVICES).map(|p| p.to_string()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_knob_reads_back_with_its_own_separators() {
        assert!(same_value("0\t0\n", "0\t0"));
        assert!(same_value("\n", ""));
        assert!(same_value("core\n", "core"));
        assert!(!same_value("|/tmp/h\n", "core"));
        assert!(!same_value("4294967295\t511\n", "0\t0"));
    }

    #[test]
    fn the_helper_routes_and_the_one_way_knobs_are_pinned_last() {
        let paths: Vec<&str> = PINS.iter().map(|(p, _)| *p).collect();
        for knob in ["core_pattern", "modprobe", "usermodehelper/bset", "usermodehelper/inheritable"] {
            assert!(paths.iter().any(|p| p.ends_with(knob)), "{knob}");
        }
        assert!(paths[PINS.len() - 2..].iter().all(|p| p.ends_with("_disabled")), "{paths:?}");
        assert_eq!(READ_ONLY.last(), Some(&"/sys"), "the cgroup cover is bound with /sys");
    }
}
