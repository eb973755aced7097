//! What PID 1 must do before anything runs, what it reports about the guest, and how it ends.

use crate::isolate::Isolation;
use kbench_protocol::{BootFacts, Probe, SlabPoison};
use std::ffi::CString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Mounts the pseudo filesystems the steps (or `root::enter`) need. Already mounted is
/// fine: a kernel with CONFIG_DEVTMPFS_MOUNT mounts /dev itself.
pub fn mount_basics() {
    for (source, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        ("tmpfs", "/run", "tmpfs"),
    ] {
        let _ = fs::create_dir_all(target);
        match mount(source, target, fstype, MountFlags::default(), "") {
            Err(error) if error.raw_os_error() != Some(libc::EBUSY) => crate::console(&format!("mount {target}: {error}")),
            _ => {}
        }
    }
    std::env::set_var("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::set_var("HOME", "/root");
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MountFlags {
    pub read_only: bool,
}

pub fn mount(source: &str, target: &str, fstype: &str, flags: MountFlags, data: &str) -> std::io::Result<()> {
    let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let c_source = CString::new(source).map_err(invalid)?;
    let c_target = CString::new(target).map_err(invalid)?;
    let c_fstype = CString::new(fstype).map_err(invalid)?;
    let c_data = CString::new(data).map_err(invalid)?;
    let mut bits: libc::c_ulong = 0;
    if flags.read_only {
        bits |= libc::MS_RDONLY;
    }
    let data_ptr = if data.is_empty() { std::ptr::null() } else { c_data.as_ptr().cast() };
    // SAFETY: all pointers are valid NUL-terminated strings (or null) for the duration of the call.
    let rc = unsafe { libc::mount(c_source.as_ptr(), c_target.as_ptr(), c_fstype.as_ptr(), bits, data_ptr) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `isolation` is the steps': a probe runs a command from the scenario in the root the
/// steps see, as untrusted as theirs.
pub fn facts(probes: &[Probe], probe_limit: Duration, isolation: &Isolation) -> BootFacts {
    BootFacts {
        cmdline: read_trimmed("/proc/cmdline"),
        kernel_release: read_trimmed("/proc/sys/kernel/osrelease"),
        cpus: online_cpus(),
        mem_total_kib: mem_total_kib(),
        slab: slab_poison(),
        probes: probes.iter().map(|p| (p.name.clone(), probe(&p.command, probe_limit, isolation))).collect(),
    }
}

/// The first line of a command's output, or what went wrong: a fact, never a failure.
/// A probe that outlives `limit` is killed: the boot facts have a deadline on the host.
fn probe(command: &str, limit: Duration, isolation: &Isolation) -> String {
    let output = format!("/tmp/kbench-probe-{}.out", std::process::id());
    let run = || -> std::io::Result<(Option<std::process::ExitStatus>, String)> {
        let out = fs::File::create(&output)?;
        let mut shell = Command::new("/bin/sh");
        isolation.apply(&mut shell);
        let mut child = shell.arg("-c").arg(command).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).process_group(0).spawn()?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if started.elapsed() >= limit {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // SAFETY: kill takes integers only; the group is the probe's own, made above.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.wait();
        Ok((status, fs::read_to_string(&output).unwrap_or_default()))
    };
    let result = run();
    let _ = fs::remove_file(&output);
    match result {
        Ok((Some(status), text)) => {
            let line = text.lines().next().unwrap_or("").trim().to_string();
            if status.success() {
                line
            } else {
                format!("failed ({status}): {line}")
            }
        }
        Ok((None, _)) => format!("failed: no answer within {} s", limit.as_secs_f64()),
        Err(error) => format!("failed: {error}"),
    }
}

pub fn read_trimmed(path: &str) -> String {
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
            text.lines().find_map(|line| line.strip_prefix("MemTotal:")).and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

pub fn slab_poison() -> SlabPoison {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_gives_its_first_line_or_why_not_and_a_hung_one_is_cut_off() {
        // Not the guest's init: isolation is off here, as on a development machine.
        let isolation = Isolation::prepare();
        assert_eq!(probe("echo 'gcc 12'; echo more", Duration::from_secs(10), &isolation), "gcc 12");
        assert_eq!(probe("echo oops >&2; exit 3", Duration::from_secs(10), &isolation), "failed (exit status: 3): oops");
        let started = Instant::now();
        assert_eq!(probe("sleep 30", Duration::from_millis(200), &isolation), "failed: no answer within 0.2 s");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
