//! What this host has, read the same way wherever it is needed: the plan checks a guest
//! against it, meta.json records it.

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
