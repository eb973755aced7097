//! How busy the host was while a run was measured, besides the study itself: CPU time of
//! other processes, steal, iowait, the load average, and the CPU frequency policy.
//!
//! Other processes' CPU time is the host's busy time from /proc/stat minus the time of
//! the study's own processes (its QEMU) from /proc/<pid>/stat, over the same window.
//! Both count in clock ticks, and the window's length comes from /proc/stat too (its
//! total over all CPUs, divided by their number), so no clock needs to agree with another.
//! Parsers are pure and take the files' text; `NoiseSample` is the thin reader.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Time the CPUs spent, summed over all CPUs, in clock ticks: the `cpu` line of /proc/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Time processes ran (guest time is already inside user and nice).
    fn process_busy(&self) -> u64 {
        self.user + self.nice + self.system
    }

    fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }

    fn since(&self, start: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(start.user),
            nice: self.nice.saturating_sub(start.nice),
            system: self.system.saturating_sub(start.system),
            idle: self.idle.saturating_sub(start.idle),
            iowait: self.iowait.saturating_sub(start.iowait),
            irq: self.irq.saturating_sub(start.irq),
            softirq: self.softirq.saturating_sub(start.softirq),
            steal: self.steal.saturating_sub(start.steal),
        }
    }
}

/// The host during one window.
#[derive(Debug, Clone, PartialEq)]
pub struct HostNoise {
    /// CPU time of processes other than the study's, in % of one CPU (200 = two CPUs busy).
    pub other_cpu_percent: f64,
    /// Time the hypervisor below this host ran something else, in % of all CPUs' time.
    pub steal_percent: f64,
    /// Idle time with I/O outstanding, in % of all CPUs' time.
    pub iowait_percent: f64,
    /// The 1-minute load average at the end of the window (the study's threads included).
    pub load1: f64,
    /// The CPUs' cpufreq governor ("performance", "mixed: ...", or "unknown").
    pub governor: String,
    /// Turbo/boost: "on", "off" or "unknown".
    pub boost: String,
}

/// When a run counts as noisy. Defaults: other processes did more than a tenth of the
/// guest's CPUs' worth of work (10 % of one CPU per vCPU), or the hypervisor stole over
/// 2 % of the time (a cloud neighbour).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseThresholds {
    pub other_cpu_percent: f64,
    pub steal_percent: f64,
}

impl NoiseThresholds {
    pub fn for_guest(guest_cpus: u32) -> NoiseThresholds {
        NoiseThresholds { other_cpu_percent: 10.0 * f64::from(guest_cpus.max(1)), steal_percent: 2.0 }
    }
}

impl HostNoise {
    /// Why this window was noisy, one phrase per reason; empty when quiet.
    pub fn noise_reasons(&self, limits: &NoiseThresholds) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.other_cpu_percent > limits.other_cpu_percent {
            reasons
                .push(format!("other processes used {:.0} % of a CPU (limit {:.0} %)", self.other_cpu_percent, limits.other_cpu_percent));
        }
        if self.steal_percent > limits.steal_percent {
            reasons.push(format!("steal {:.1} % (limit {:.1} %)", self.steal_percent, limits.steal_percent));
        }
        reasons
    }

    #[cfg(test)]
    pub fn is_noisy(&self, limits: &NoiseThresholds) -> bool {
        !self.noise_reasons(limits).is_empty()
    }
}

/// A window being sampled: `start` before a run, `finish` after it.
#[derive(Debug)]
pub struct NoiseSample {
    proc_root: PathBuf,
    sys_root: PathBuf,
    pids: Vec<u32>,
    cpu: CpuTimes,
    ours: u64,
}

impl NoiseSample {
    /// Starts a window on this host; `ours` are the study's processes (its QEMU).
    pub fn start(ours: &[u32]) -> Result<NoiseSample> {
        NoiseSample::start_at(Path::new("/proc"), Path::new("/sys"), ours)
    }

    /// As `start`, reading /proc and /sys from other folders (tests).
    pub fn start_at(proc_root: &Path, sys_root: &Path, ours: &[u32]) -> Result<NoiseSample> {
        let (cpu, _) = read_proc_stat(proc_root)?;
        let ours_ticks = process_ticks(proc_root, ours)?;
        Ok(NoiseSample { proc_root: proc_root.into(), sys_root: sys_root.into(), pids: ours.to_vec(), cpu, ours: ours_ticks })
    }

    /// Ends the window. Call it before the study's processes exit: a process that is
    /// gone took its CPU time along, which would then count as another's.
    pub fn finish(self) -> Result<HostNoise> {
        let (cpu, cpus) = read_proc_stat(&self.proc_root)?;
        let ours = process_ticks(&self.proc_root, &self.pids)?;
        let loadavg = read(&self.proc_root.join("loadavg"))?;
        let delta = cpu.since(&self.cpu);
        let mut noise = noise_of(&delta, cpus, ours.saturating_sub(self.ours))?;
        noise.load1 = parse_loadavg(&loadavg)?;
        noise.governor = governor(&self.sys_root);
        noise.boost = boost(&self.sys_root);
        Ok(noise)
    }
}

/// The figures of a window from its /proc/stat delta and the study's own ticks.
fn noise_of(delta: &CpuTimes, cpus: usize, ours: u64) -> Result<HostNoise> {
    let total = delta.total();
    if total == 0 || cpus == 0 {
        bail!("/proc/stat did not advance: the window is shorter than a clock tick");
    }
    let ticks_per_cpu = total as f64 / cpus as f64;
    let other = delta.process_busy().saturating_sub(ours);
    Ok(HostNoise {
        other_cpu_percent: 100.0 * other as f64 / ticks_per_cpu,
        steal_percent: 100.0 * delta.steal as f64 / total as f64,
        iowait_percent: 100.0 * delta.iowait as f64 / total as f64,
        load1: 0.0,
        governor: String::new(),
        boost: String::new(),
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_proc_stat(proc_root: &Path) -> Result<(CpuTimes, usize)> {
    let path = proc_root.join("stat");
    parse_proc_stat(&read(&path)?).with_context(|| format!("{}", path.display()))
}

/// The `cpu` line of /proc/stat and the number of `cpuN` lines (online CPUs).
pub fn parse_proc_stat(text: &str) -> Result<(CpuTimes, usize)> {
    let line = text.lines().find(|l| l.starts_with("cpu ")).context("no `cpu` line")?;
    let fields: Vec<u64> =
        line.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>().context("a `cpu` field is not a number")?;
    if fields.len() < 8 {
        bail!("the `cpu` line has {} fields, expected at least 8 (Linux 2.6.11 and later)", fields.len());
    }
    let cpus = text.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    let times = CpuTimes {
        user: fields[0],
        nice: fields[1],
        system: fields[2],
        idle: fields[3],
        iowait: fields[4],
        irq: fields[5],
        softirq: fields[6],
        steal: fields[7],
    };
    Ok((times, cpus))
}

/// utime + stime of a /proc/<pid>/stat line, in clock ticks. The process's own line
/// (not task/*/stat) also counts its threads that have exited.
pub fn parse_process_ticks(line: &str) -> Result<u64> {
    // The command name may hold spaces and parentheses: fields restart after the last ')'.
    let rest = line.rsplit_once(')').map(|(_, rest)| rest).context("no `)` after the command name")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (proc(5)).
    let field = |n: usize| -> Result<u64> {
        fields.get(n - 3).with_context(|| format!("no field {n}"))?.parse().with_context(|| format!("field {n} is not a number"))
    };
    Ok(field(14)? + field(15)?)
}

fn process_ticks(proc_root: &Path, pids: &[u32]) -> Result<u64> {
    let mut ticks = 0;
    for pid in pids {
        let path = proc_root.join(pid.to_string()).join("stat");
        let text = read(&path).with_context(|| format!("process {pid} is gone"))?;
        ticks += parse_process_ticks(&text).with_context(|| format!("{}", path.display()))?;
    }
    Ok(ticks)
}

/// The 1-minute load average: the first field of /proc/loadavg.
pub fn parse_loadavg(text: &str) -> Result<f64> {
    text.split_whitespace().next().and_then(|f| f.parse().ok()).context("/proc/loadavg: no load average")
}

/// The cpufreq governor of every CPU: one name when they agree, "mixed: a, b" when not,
/// "unknown" without cpufreq (many VMs).
pub fn governor(sys_root: &Path) -> String {
    let cpu_dir = sys_root.join("devices/system/cpu");
    let mut governors: Vec<String> = std::fs::read_dir(&cpu_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.strip_prefix("cpu").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("cpufreq/scaling_governor")).ok())
        .map(|g| g.trim().to_string())
        .collect();
    governors.sort();
    governors.dedup();
    match governors.len() {
        0 => "unknown".into(),
        1 => governors.remove(0),
        _ => format!("mixed: {}", governors.join(", ")),
    }
}

/// Turbo/boost: intel_pstate's no_turbo (1 = off), else cpufreq's boost (1 = on).
pub fn boost(sys_root: &Path) -> String {
    let cpu_dir = sys_root.join("devices/system/cpu");
    let flag = |file: &str| std::fs::read_to_string(cpu_dir.join(file)).ok().map(|t| t.trim() == "1");
    let on = flag("intel_pstate/no_turbo").map(|no_turbo| !no_turbo).or_else(|| flag("cpufreq/boost"));
    match on {
        Some(true) => "on".into(),
        Some(false) => "off".into(),
        None => "unknown".into(),
    }
}

/// How a wait for a quiet host ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quiet {
    /// The load was at most `max_load` after this much sleeping.
    After(Duration),
    /// `wait` was spent and the last load read was still above `max_load`: the run goes
    /// ahead and is flagged.
    StillBusy { load: f64, waited: Duration },
}

/// Checks the load until it is at most `max_load`, sleeping `poll` between checks, for at
/// most `wait` of sleep (plus the checks' own time). A sleep
/// that fails (Ctrl-C) ends the wait with its error.
pub fn wait_for_quiet(
    mut read_load: impl FnMut() -> Result<f64>,
    mut sleep: impl FnMut(Duration) -> Result<()>,
    max_load: f64,
    wait: Duration,
    poll: Duration,
) -> Result<Quiet> {
    let mut waited = Duration::ZERO;
    loop {
        let load = read_load()?;
        if load <= max_load {
            return Ok(Quiet::After(waited));
        }
        if waited >= wait || poll.is_zero() {
            return Ok(Quiet::StillBusy { load, waited });
        }
        let step = poll.min(wait - waited);
        sleep(step)?;
        waited += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_START: &str = "cpu  1000 100 500 8000 50 10 20 30 0 0\ncpu0 500 50 250 4000 25 5 10 15 0 0\ncpu1 500 50 250 4000 25 5 10 15 0 0\nintr 1 2 3\nprocs_running 3\n";
    // 2 CPUs, 1 s at 100 Hz: 400 ticks in all; processes ran 200 of them.
    const STAT_END: &str =
        "cpu  1150 100 550 8190 54 10 20 36 0 0\ncpu0 575 50 275 4090 27 5 10 18 0 0\ncpu1 575 50 275 4090 27 5 10 18 0 0\n";
    const QEMU_START: &str =
        "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 5000 0 0 0 700 300 0 0 20 0 5 0 100 1000000 5000 18446744073709551615";
    const QEMU_END: &str =
        "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 5000 0 0 0 820 330 0 0 20 0 5 0 100 1000000 5000 18446744073709551615";

    #[test]
    fn proc_stat_parses() {
        let (times, cpus) = parse_proc_stat(STAT_START).unwrap();
        assert_eq!(cpus, 2);
        assert_eq!(times, CpuTimes { user: 1000, nice: 100, system: 500, idle: 8000, iowait: 50, irq: 10, softirq: 20, steal: 30 });
        assert!(parse_proc_stat("cpu  1 2 3\n").is_err());
        assert!(parse_proc_stat("intr 1\n").is_err());
    }

    #[test]
    fn process_ticks_survive_odd_command_names() {
        assert_eq!(parse_process_ticks(QEMU_START).unwrap(), 1000);
        let odd = "77 (a b) (c)) R 1 77 77 0 -1 0 0 0 0 0 12 34 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_process_ticks(odd).unwrap(), 46);
        assert!(parse_process_ticks("77 (short) R 1").is_err());
    }

    #[test]
    fn loadavg_and_cpufreq_parse() {
        assert_eq!(parse_loadavg("7.45 7.33 5.66 8/168 6572\n").unwrap(), 7.45);
        assert!(parse_loadavg("").is_err());
        let sys = tempfile::tempdir().unwrap();
        assert_eq!(governor(sys.path()), "unknown");
        assert_eq!(boost(sys.path()), "unknown");
        let cpu = sys.path().join("devices/system/cpu");
        for (n, governor) in [(0, "performance"), (1, "performance")] {
            std::fs::create_dir_all(cpu.join(format!("cpu{n}/cpufreq"))).unwrap();
            std::fs::write(cpu.join(format!("cpu{n}/cpufreq/scaling_governor")), format!("{governor}\n")).unwrap();
        }
        std::fs::create_dir_all(cpu.join("cpufreq")).unwrap();
        std::fs::write(cpu.join("cpufreq/boost"), "1\n").unwrap();
        assert_eq!(governor(sys.path()), "performance");
        assert_eq!(boost(sys.path()), "on");
        std::fs::write(cpu.join("cpu1/cpufreq/scaling_governor"), "powersave\n").unwrap();
        assert_eq!(governor(sys.path()), "mixed: performance, powersave");
        // intel_pstate's switch wins, and says the opposite.
        std::fs::create_dir_all(cpu.join("intel_pstate")).unwrap();
        std::fs::write(cpu.join("intel_pstate/no_turbo"), "1\n").unwrap();
        assert_eq!(boost(sys.path()), "off");
    }

    #[test]
    fn a_window_subtracts_the_study_s_own_time() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        std::fs::create_dir_all(proc.join("4242")).unwrap();
        std::fs::write(proc.join("stat"), STAT_START).unwrap();
        std::fs::write(proc.join("4242/stat"), QEMU_START).unwrap();
        let sample = NoiseSample::start_at(&proc, root.path(), &[4242]).unwrap();
        std::fs::write(proc.join("stat"), STAT_END).unwrap();
        std::fs::write(proc.join("4242/stat"), QEMU_END).unwrap();
        std::fs::write(proc.join("loadavg"), "2.50 1.00 0.50 3/100 99\n").unwrap();
        let noise = sample.finish().unwrap();
        // Processes: 150 + 0 + 50 = 200 ticks, QEMU 150 of them: 50 ticks of 200 per CPU.
        assert_eq!(noise.other_cpu_percent, 25.0);
        assert_eq!(noise.steal_percent, 100.0 * 6.0 / 400.0);
        assert_eq!(noise.iowait_percent, 1.0);
        assert_eq!(noise.load1, 2.5);
        assert_eq!((noise.governor.as_str(), noise.boost.as_str()), ("unknown", "unknown"));
        assert!(noise.is_noisy(&NoiseThresholds::for_guest(2)), "25 % of a CPU is over 20 %");
        assert!(!noise.is_noisy(&NoiseThresholds::for_guest(3)), "but under 30 %");
        // A study process that vanished is an error, not other processes' time.
        let sample = NoiseSample::start_at(&proc, root.path(), &[4242]).unwrap();
        std::fs::remove_file(proc.join("4242/stat")).unwrap();
        assert!(format!("{:#}", sample.finish().unwrap_err()).contains("process 4242 is gone"));
    }

    #[test]
    fn steal_makes_a_window_noisy() {
        let delta = CpuTimes { user: 100, idle: 270, steal: 30, ..CpuTimes::default() };
        let noise = noise_of(&delta, 2, 100).unwrap();
        assert_eq!(noise.other_cpu_percent, 0.0);
        assert_eq!(noise.steal_percent, 7.5);
        let reasons = noise.noise_reasons(&NoiseThresholds::for_guest(2));
        assert_eq!(reasons, ["steal 7.5 % (limit 2.0 %)"]);
        assert!(noise_of(&CpuTimes::default(), 2, 0).is_err());
    }

    #[test]
    fn waiting_for_quiet_stops_when_the_load_drops_or_the_time_is_up() {
        let mut loads = [3.0, 2.0, 0.4, 9.0].into_iter();
        let mut slept = Vec::new();
        let quiet = wait_for_quiet(
            || Ok(loads.next().unwrap()),
            |d| {
                slept.push(d);
                Ok(())
            },
            0.5,
            Duration::from_secs(60),
            Duration::from_secs(5),
        );
        assert_eq!(quiet.unwrap(), Quiet::After(Duration::from_secs(10)));
        assert_eq!(slept, [Duration::from_secs(5); 2]);

        let mut slept = Duration::ZERO;
        let busy = wait_for_quiet(
            || Ok(4.0),
            |d| {
                slept += d;
                Ok(())
            },
            0.5,
            Duration::from_secs(12),
            Duration::from_secs(5),
        );
        assert_eq!(busy.unwrap(), Quiet::StillBusy { load: 4.0, waited: Duration::from_secs(12) });
        assert_eq!(slept, Duration::from_secs(12), "the last sleep is cut to the wait");

        let failing = wait_for_quiet(|| bail!("no /proc"), |_| Ok(()), 0.5, Duration::from_secs(1), Duration::from_secs(1));
        assert!(failing.is_err());
        let interrupted = wait_for_quiet(|| Ok(4.0), |_| bail!("interrupted"), 0.5, Duration::from_secs(60), Duration::from_secs(5));
        assert_eq!(interrupted.unwrap_err().to_string(), "interrupted");
    }

    /// Kills the hog however the test ends.
    struct Hog(std::process::Child);
    impl Drop for Hog {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// On this host's real /proc: a CPU hog this test starts is counted as another
    /// process's time. The machine may be busy with other work too, so the check is
    /// against the hog's own CPU time, not an absolute figure.
    #[test]
    fn a_cpu_hog_counts_as_other_processes() {
        let hog = Hog(std::process::Command::new("yes").stdout(std::process::Stdio::null()).spawn().expect("start `yes`"));
        let hog_pid = hog.0.id();
        let hog_stat = PathBuf::from(format!("/proc/{hog_pid}/stat"));
        let proc = Path::new("/proc");
        let (cpu_start, cpus) = read_proc_stat(proc).unwrap();
        let hog_start = parse_process_ticks(&read(&hog_stat).unwrap()).unwrap();
        let sample = NoiseSample::start(&[std::process::id()]).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let noise = sample.finish().unwrap();
        let hog_ticks = parse_process_ticks(&read(&hog_stat).unwrap()).unwrap() - hog_start;
        let (cpu_end, _) = read_proc_stat(proc).unwrap();
        drop(hog);
        let hog_percent = 100.0 * hog_ticks as f64 / (cpu_end.since(&cpu_start).total() as f64 / cpus as f64);
        assert!(hog_ticks >= 5, "the hog ran {hog_ticks} ticks in 2 s");
        // /proc/stat counts by ticks, the process by its exact runtime: allow some slack.
        assert!(noise.other_cpu_percent >= 0.8 * hog_percent - 5.0, "other {noise:?} vs the hog's {hog_percent:.1} %");
        let limits = NoiseThresholds { other_cpu_percent: 0.5 * hog_percent, steal_percent: 100.0 };
        assert!(noise.is_noisy(&limits), "{noise:?} with the hog at {hog_percent:.1} %");
        assert!(noise.load1 >= 0.0 && !noise.governor.is_empty() && !noise.boost.is_empty());
    }
}
