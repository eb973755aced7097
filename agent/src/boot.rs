//! What PID 1 must do before anything runs, what it reports about the guest, and how it ends.

use kbench_protocol::{BootFacts, SlabPoison};
use std::ffi::CString;
use std::fs;

/// Mounts the pseudo filesystems the steps need. Already mounted is fine: a Debian
/// initramfs moves /proc, /sys and /dev onto the real root before it starts us.
pub fn mount_basics() {
    for (source, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        ("tmpfs", "/run", "tmpfs"),
    ] {
        let _ = fs::create_dir_all(target);
        mount(source, target, fstype);
    }
    std::env::set_var("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::set_var("HOME", "/root");
}

fn mount(source: &str, target: &str, fstype: &str) {
    let (Ok(c_source), Ok(c_target), Ok(c_fstype)) = (CString::new(source), CString::new(target), CString::new(fstype)) else {
        return;
    };
    // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe { libc::mount(c_source.as_ptr(), c_target.as_ptr(), c_fstype.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EBUSY) {
            crate::console(&format!("mount {target}: {error}"));
        }
    }
}

pub fn facts() -> BootFacts {
    BootFacts {
        cmdline: read_trimmed("/proc/cmdline"),
        kernel_release: read_trimmed("/proc/sys/kernel/osrelease"),
        cpus: online_cpus(),
        mem_total_kib: mem_total_kib(),
        slab: slab_poison(),
    }
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn online_cpus() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).unwrap_or(0)
}

fn mem_total_kib() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn slab_poison() -> SlabPoison {
    let mut facts = SlabPoison::default();
    let Ok(entries) = fs::read_dir("/sys/kernel/slab") else {
        return facts;
    };
    for entry in entries.flatten() {
        let Ok(value) = fs::read_to_string(entry.path().join("poison")) else {
            continue;
        };
        let on = value.trim() == "1";
        facts.caches += 1;
        facts.poisoned += u32::from(on);
        if entry.file_name() == "kmalloc-64" {
            facts.kmalloc_64 = Some(on);
        }
    }
    facts
}

pub fn power_off() -> ! {
    // SAFETY: sync and reboot take no pointers; as PID 1 we are allowed to reboot.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached if the kernel refused: exiting PID 1 panics it, and panic=-1 ends the VM.
    std::process::exit(1)
}
