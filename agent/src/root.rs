//! Entering a root disk from the initramfs, as initramfs-tools' /init would, but without
//! handing PID 1 over: load the drivers, wait for the device, mount it, chroot into it.
//!
//! The agent replaces initramfs-tools' /init (it is started with `rdinit=`), so nothing
//! else has set the root up. The pseudo filesystems are mounted afresh inside the new
//! root; the build directory is the new root's /tmp, a tmpfs, so the disk (the kernel
//! tree) can stay read-only.

use crate::boot::{mount, MountFlags};
use kbench_protocol::RootDisk;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NEW_ROOT: &str = "/kbench/root";

pub fn enter(root: &RootDisk) -> Result<(), String> {
    for module in &root.modules {
        load_module(module);
    }
    wait_for(&root.device, Duration::from_secs(u64::from(root.wait_s)))?;
    std::fs::create_dir_all(NEW_ROOT).map_err(|e| format!("cannot create {NEW_ROOT}: {e}"))?;
    let (flags, data) = split_options(&root.options);
    mount(&root.device, NEW_ROOT, &root.fstype, flags, &data)
        .map_err(|e| format!("cannot mount {} ({}, {}) on {NEW_ROOT}: {e}", root.device, root.fstype, root.options))?;
    for (source, target, fstype) in [
        ("proc", "proc", "proc"),
        ("sysfs", "sys", "sysfs"),
        ("devtmpfs", "dev", "devtmpfs"),
        ("tmpfs", "tmp", "tmpfs"),
        ("tmpfs", "run", "tmpfs"),
    ] {
        let target = format!("{NEW_ROOT}/{target}");
        mount(source, &target, fstype, MountFlags::default(), "")
            .map_err(|e| format!("cannot mount {fstype} on {target} (the root needs a /{target} folder): {e}"))?;
    }
    let c_root = std::ffi::CString::new(NEW_ROOT).map_err(|e| e.to_string())?;
    // SAFETY: a valid NUL-terminated path; as PID 1 we hold CAP_SYS_CHROOT.
    if unsafe { libc::chroot(c_root.as_ptr()) } != 0 {
        return Err(format!("chroot {NEW_ROOT}: {}", std::io::Error::last_os_error()));
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir / in the new root: {e}"))?;
    crate::console(&format!("entered root {} ({})", root.device, root.options));
    Ok(())
}

/// Modules are not fatal: a kernel with the driver built in has no module to load.
fn load_module(module: &str) {
    match Command::new("modprobe").arg(module).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => crate::console(&format!("modprobe {module}: {} {}", out.status, String::from_utf8_lossy(&out.stderr).trim())),
        Err(error) => crate::console(&format!("modprobe {module}: {error}")),
    }
}

/// devtmpfs creates the node as soon as the driver has probed the disk.
fn wait_for(device: &str, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while !Path::new(device).exists() {
        if started.elapsed() >= limit {
            let disks = std::fs::read_dir("/sys/block")
                .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            return Err(format!(
                "{device} did not appear within {} s (block devices: [{disks}]); does the kernel have the disk driver, built in or in its initrd?",
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn split_options(options: &str) -> (MountFlags, String) {
    let mut flags = MountFlags::default();
    let mut data = Vec::new();
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match option {
            "ro" => flags.read_only = true,
            "rw" => flags.read_only = false,
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}
