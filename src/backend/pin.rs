//! `pin = true`: each vCPU thread of a QEMU guest on a host CPU of its own, QEMU's other
//! threads (main loop, I/O, RCU) and bench on the remaining CPUs, so that nothing the host
//! does on behalf of the guest competes with the guest's own CPUs, and a vCPU does not
//! wander between caches.
//!
//! QEMU names its vCPU threads over QMP (`query-cpus-fast` gives each vCPU's thread id):
//! [`pin_guest`] asks its monitor (`super::qmp`). The reply is parsed by a pure function,
//! tested on canned replies.

use super::qmp::Qmp;
use crate::model::{PinnedVcpu, PinningFacts};
use anyhow::{bail, Context, Result};
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use serde::Serialize;
use serde_json::Value;

/// A vCPU and the host thread that runs it, as `query-cpus-fast` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VcpuThread {
    pub cpu_index: u32,
    pub thread_id: i32,
}

/// Where a guest's threads were pinned: for meta.json, and to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pinning {
    /// Each vCPU and the host CPU it alone runs on.
    pub vcpus: Vec<PinnedVcpu>,
    /// The host CPUs left to QEMU's other threads and bench.
    pub shared_cpus: Vec<usize>,
    /// QEMU's other threads moved there (thread ids at the time of pinning; threads QEMU
    /// starts later inherit the main thread's CPUs).
    pub qemu_threads: Vec<i32>,
    /// bench's own threads moved there.
    pub bench_threads: Vec<i32>,
}

impl Pinning {
    /// What meta.json keeps of it.
    pub fn facts(&self) -> PinningFacts {
        PinningFacts { vcpus: self.vcpus.clone(), shared_cpus: self.shared_cpus.clone() }
    }
}

/// The CPUs this process may run on now (take it before pinning anything: bench runs on
/// the shared CPUs afterwards, and QEMUs it starts inherit that).
pub fn allowed_cpus() -> Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity of bench")?;
    Ok(cpus_of(&set))
}

/// Pins the vCPU threads of the QEMU `qemu_pid`, whose QMP monitor `qmp` is, one to a CPU
/// of `host_cpus` each; QEMU's other threads and bench go to the CPUs left over.
pub fn pin_guest(qmp: &mut Qmp, qemu_pid: u32, host_cpus: &[usize]) -> Result<Pinning> {
    let vcpus = parse_vcpus(&qmp.execute("query-cpus-fast", None)?)?;
    let (assigned, shared_cpus) = assign(&vcpus, host_cpus)?;
    for vcpu in &assigned {
        set_affinity(vcpu.thread_id, &[vcpu.host_cpu])
            .with_context(|| format!("pinning vCPU {} (thread {}) to CPU {}", vcpu.cpu_index, vcpu.thread_id, vcpu.host_cpu))?;
    }
    let vcpu_threads: Vec<i32> = assigned.iter().map(|v| v.thread_id).collect();
    let qemu_threads = move_threads(&format!("/proc/{qemu_pid}/task"), &vcpu_threads, &shared_cpus)?;
    let bench_threads = move_threads("/proc/self/task", &[], &shared_cpus)?;
    Ok(Pinning { vcpus: assigned, shared_cpus, qemu_threads, bench_threads })
}

/// Each vCPU gets a CPU of its own, the highest-numbered ones (CPU 0 tends to take more of
/// the host's interrupts and housekeeping); the rest are shared. Refused when fewer than
/// one CPU would be left over, or when vCPUs share a thread (single-threaded TCG).
pub fn assign(vcpus: &[VcpuThread], host_cpus: &[usize]) -> Result<(Vec<PinnedVcpu>, Vec<usize>)> {
    let mut cpus = host_cpus.to_vec();
    cpus.sort_unstable();
    cpus.dedup();
    if vcpus.len() + 1 > cpus.len() {
        bail!(
            "pinning {} vCPUs needs {} host CPUs (one per vCPU, one for QEMU's other threads and bench), bench may use {}: lower guest.cpus or remove guest.pin",
            vcpus.len(),
            vcpus.len() + 1,
            cpus.len()
        );
    }
    let mut threads: Vec<i32> = vcpus.iter().map(|v| v.thread_id).collect();
    threads.sort_unstable();
    threads.dedup();
    if threads.len() != vcpus.len() {
        bail!(
            "QEMU runs several vCPUs on one thread (single-threaded TCG?): they cannot each have a CPU; use -accel tcg,thread=multi or KVM"
        );
    }
    let shared = cpus.len() - vcpus.len();
    let assigned = vcpus
        .iter()
        .zip(&cpus[shared..])
        .map(|(vcpu, &host_cpu)| PinnedVcpu { cpu_index: vcpu.cpu_index, thread_id: vcpu.thread_id, host_cpu })
        .collect();
    Ok((assigned, cpus[..shared].to_vec()))
}

/// The `return` of `query-cpus-fast`: one object per vCPU with `cpu-index` and `thread-id`.
pub fn parse_vcpus(reply: &Value) -> Result<Vec<VcpuThread>> {
    let list = reply.as_array().context("QMP query-cpus-fast: the reply is not a list")?;
    let mut vcpus = Vec::new();
    for entry in list {
        let field =
            |name: &str| entry.get(name).and_then(Value::as_i64).with_context(|| format!("QMP query-cpus-fast: no `{name}` in {entry}"));
        vcpus.push(VcpuThread {
            cpu_index: u32::try_from(field("cpu-index")?).context("QMP: cpu-index out of range")?,
            thread_id: i32::try_from(field("thread-id")?).context("QMP: thread-id out of range")?,
        });
    }
    if vcpus.is_empty() {
        bail!("QMP query-cpus-fast: QEMU reports no vCPUs");
    }
    Ok(vcpus)
}

fn cpu_set(cpus: &[usize]) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).with_context(|| format!("CPU {cpu} is beyond what a CPU set holds"))?;
    }
    Ok(set)
}

fn cpus_of(set: &CpuSet) -> Vec<usize> {
    (0..CpuSet::count()).filter(|&cpu| set.is_set(cpu).unwrap_or(false)).collect()
}

fn set_affinity(thread_id: i32, cpus: &[usize]) -> Result<()> {
    sched_setaffinity(Pid::from_raw(thread_id), &cpu_set(cpus)?)?;
    Ok(())
}

/// The CPUs a thread may run on.
#[cfg(test)]
pub fn thread_cpus(thread_id: i32) -> Result<Vec<usize>> {
    Ok(cpus_of(&sched_getaffinity(Pid::from_raw(thread_id)).with_context(|| format!("sched_getaffinity of thread {thread_id}"))?))
}

/// Moves every thread listed in `task_dir` but `except` to `cpus`; threads that end
/// meanwhile (QEMU's worker pool comes and goes) are skipped.
fn move_threads(task_dir: &str, except: &[i32], cpus: &[usize]) -> Result<Vec<i32>> {
    let mut moved = Vec::new();
    for entry in std::fs::read_dir(task_dir).with_context(|| format!("cannot list {task_dir}"))? {
        let Some(tid) = entry?.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if except.contains(&tid) {
            continue;
        }
        match set_affinity(tid, cpus) {
            Ok(()) => moved.push(tid),
            Err(error) if error.downcast_ref::<nix::Error>() == Some(&nix::Error::ESRCH) => {}
            Err(error) => return Err(error.context(format!("moving thread {tid} to CPUs {cpus:?}"))),
        }
    }
    moved.sort_unstable();
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::super::qmp::{parse_reply, qmp_arguments, QMP_TIMEOUT};
    use super::*;
    use std::os::unix::net::UnixStream;

    /// As QEMU 7.2 answers `query-cpus-fast` for `-smp 2` under TCG.
    const QUERY_CPUS_FAST: &str = r#"{"return": [{"thread-id": 81234, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"}, {"thread-id": 81235, "props": {"core-id": 0, "thread-id": 0, "socket-id": 1}, "qom-path": "/machine/unattached/device[1]", "cpu-index": 1, "target": "x86_64"}]}"#;

    #[test]
    fn query_cpus_fast_gives_each_vcpu_its_thread() {
        let reply = parse_reply(QUERY_CPUS_FAST).unwrap().unwrap();
        assert_eq!(
            parse_vcpus(&reply).unwrap(),
            [VcpuThread { cpu_index: 0, thread_id: 81234 }, VcpuThread { cpu_index: 1, thread_id: 81235 }]
        );
        assert!(parse_vcpus(&serde_json::json!([])).is_err());
        assert!(format!("{:#}", parse_vcpus(&serde_json::json!([{"cpu-index": 0}])).unwrap_err()).contains("no `thread-id`"));
    }

    #[test]
    fn replies_errors_and_events_are_told_apart() {
        assert_eq!(parse_reply("{\"return\": {}}\r\n").unwrap(), Some(serde_json::json!({})));
        let event = r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}"#;
        assert_eq!(parse_reply(event).unwrap(), None);
        let error = r#"{"error": {"class": "CommandNotFound", "desc": "The command query-cpus-fast has not been found"}}"#;
        assert!(format!("{:#}", parse_reply(error).unwrap_err()).contains("CommandNotFound: The command query-cpus-fast"));
        assert!(parse_reply("not json").is_err());
        assert!(parse_reply("{\"something\": 1}").is_err());
    }

    #[test]
    fn vcpus_take_the_high_cpus_and_the_rest_is_shared() {
        let vcpus = [VcpuThread { cpu_index: 0, thread_id: 10 }, VcpuThread { cpu_index: 1, thread_id: 11 }];
        let (assigned, shared) = assign(&vcpus, &[3, 0, 2, 1]).unwrap();
        assert_eq!(assigned.iter().map(|v| (v.cpu_index, v.host_cpu)).collect::<Vec<_>>(), [(0, 2), (1, 3)]);
        assert_eq!(shared, [0, 1]);
        let refused = format!("{:#}", assign(&vcpus, &[0, 1]).unwrap_err());
        assert!(refused.contains("needs 3 host CPUs") && refused.contains("bench may use 2"), "{refused}");
        let one_thread = [VcpuThread { cpu_index: 0, thread_id: 10 }, VcpuThread { cpu_index: 1, thread_id: 10 }];
        assert!(format!("{:#}", assign(&one_thread, &[0, 1, 2]).unwrap_err()).contains("several vCPUs on one thread"));
    }

    #[test]
    fn qmp_is_a_monitor_on_a_handed_descriptor() {
        assert_eq!(qmp_arguments(4), ["-chardev", "socket,id=qmp,fd=4", "-mon", "chardev=qmp,mode=control"]);
    }

    /// Kills QEMU however the test ends.
    struct Qemu(std::process::Child);
    impl Drop for Qemu {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A real QEMU (the tiny guest's kernel, paused before it runs, TCG, 1 vCPU): its vCPU
    /// thread ends up on the CPU `Pinning` names, its other threads and bench on the rest.
    /// Needs QEMU and two host CPUs, so it is not part of `cargo test --lib`:
    /// `cargo test --lib -- --ignored pinning_sets_the_affinity_it_reports`.
    #[test]
    #[ignore = "starts QEMU"]
    fn pinning_sets_the_affinity_it_reports() {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        use std::path::Path;
        let (ours, theirs) = UnixStream::pair().unwrap();
        let fd = theirs.as_raw_fd();
        let kernel = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm-images/tiny/vmlinuz");
        assert!(kernel.is_file(), "{} is missing: scripts/build-tiny-guest.sh", kernel.display());
        let mut command = std::process::Command::new("qemu-system-x86_64");
        command
            .args(["-S", "-nodefaults", "-no-user-config", "-display", "none", "-accel", "tcg,thread=multi", "-smp", "1", "-m", "128M"])
            .arg("-kernel")
            .arg(&kernel)
            .args(qmp_arguments(fd))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        // SAFETY: fcntl is async-signal-safe; it keeps QEMU's end open across exec.
        unsafe {
            command.pre_exec(move || match nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
        let qemu = Qemu(command.spawn().expect("start qemu-system-x86_64"));
        drop(theirs);
        let before = allowed_cpus().unwrap();
        assert!(before.len() >= 2, "needs two host CPUs, bench may use {before:?}");

        let pinning = pin_guest(&mut Qmp::connect(ours, QMP_TIMEOUT).unwrap(), qemu.0.id(), &before).unwrap();
        let after_bench = allowed_cpus().unwrap();
        // Put this test process back before asserting anything.
        for tid in &pinning.bench_threads {
            let _ = set_affinity(*tid, &before);
        }

        assert_eq!(pinning.vcpus.len(), 1, "{pinning:?}");
        let vcpu = pinning.vcpus[0];
        assert_eq!(vcpu.host_cpu, *before.iter().max().unwrap());
        assert_eq!(thread_cpus(vcpu.thread_id).unwrap(), [vcpu.host_cpu], "{pinning:?}");
        assert!(!pinning.shared_cpus.contains(&vcpu.host_cpu));
        assert!(!pinning.qemu_threads.is_empty() && !pinning.qemu_threads.contains(&vcpu.thread_id), "{pinning:?}");
        for tid in &pinning.qemu_threads {
            if let Ok(cpus) = thread_cpus(*tid) {
                assert_eq!(cpus, pinning.shared_cpus, "QEMU thread {tid}");
            }
        }
        assert_eq!(after_bench, pinning.shared_cpus, "bench itself moved off the vCPU's CPU");
        // The vCPU thread is QEMU's: listed in its tasks.
        assert!(Path::new(&format!("/proc/{}/task/{}", qemu.0.id(), vcpu.thread_id)).exists());
    }
}
