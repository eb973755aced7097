//! What this host has, read the same way wherever it is needed: the plan checks a guest
//! against it, meta.json records it; how busy it is besides the study ([`noise`]); and
//! the checksums of its large files, remembered ([`checksum_cache`]).

pub mod checksum_cache;
pub mod noise;

/// CPUs this process may run on.
pub fn cpus() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}

/// MemTotal of /proc/meminfo, in MiB.
pub fn memory_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib / 1024)
}

/// This process's own CPU time so far, user + system, in seconds (getrusage RUSAGE_SELF:
/// its waited-for children, the QEMUs, are not in it).
pub fn own_cpu_s() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |usage| seconds(usage.user_time()) + seconds(usage.system_time()))
}
