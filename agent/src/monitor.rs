//! In-guest monitors of a timed step, as mmtests keeps them: a thread that reads
//! /proc/meminfo, /proc/vmstat and /proc/stat once per interval while the command runs
//! (three small reads per sample), summarised as peaks, ends and changes over the step.

use kbench_protocol::MonitorSummary;
use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The raw samples sent back per step; a day-long step at 1 s would be ~6 MB.
pub const SAMPLES_CAP_BYTES: usize = 256 * 1024;

const HEADER: &str = "t_s,mem_free_kib,slab_kib,sunreclaim_kib,sreclaimable_kib,pgalloc,pgfree,pgfault,pgmajfault,\
cpu_user,cpu_nice,cpu_system,cpu_idle,cpu_iowait,cpu_irq,cpu_softirq,cpu_steal";

/// One reading of the three files. Counters are the kernel's cumulative values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub t_s: f64,
    pub mem: Meminfo,
    pub vm: Vmstat,
    pub cpu: CpuTicks,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Meminfo {
    pub mem_free_kib: u64,
    pub slab_kib: u64,
    pub sunreclaim_kib: u64,
    pub sreclaimable_kib: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Vmstat {
    /// Every `pgalloc_<zone>` summed.
    pub pgalloc: u64,
    pub pgfree: u64,
    pub pgfault: u64,
    pub pgmajfault: u64,
}

/// The aggregate `cpu` line of /proc/stat, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTicks {
    fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }
}

pub fn parse_meminfo(text: &str) -> Meminfo {
    let mut mem = Meminfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let value = rest.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
        match key {
            "MemFree" => mem.mem_free_kib = value,
            "Slab" => mem.slab_kib = value,
            "SUnreclaim" => mem.sunreclaim_kib = value,
            "SReclaimable" => mem.sreclaimable_kib = value,
            _ => {}
        }
    }
    mem
}

pub fn parse_vmstat(text: &str) -> Vmstat {
    let mut vm = Vmstat::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        match key {
            "pgfree" => vm.pgfree = value,
            "pgfault" => vm.pgfault = value,
            "pgmajfault" => vm.pgmajfault = value,
            _ if key.starts_with("pgalloc_") => vm.pgalloc += value,
            _ => {}
        }
    }
    vm
}

pub fn parse_stat(text: &str) -> CpuTicks {
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else { return CpuTicks::default() };
    let v: Vec<u64> = line.split_whitespace().skip(1).map(|w| w.parse().unwrap_or(0)).collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    CpuTicks { user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4), irq: at(5), softirq: at(6), steal: at(7) }
}

/// Reads the three files once.
pub fn sample(t_s: f64) -> Sample {
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    Sample {
        t_s,
        mem: parse_meminfo(&read("/proc/meminfo")),
        vm: parse_vmstat(&read("/proc/vmstat")),
        cpu: parse_stat(&read("/proc/stat")),
    }
}

/// What a monitor keeps of its samples as they come, in bounded memory whatever the
/// interval and the step's length (at 0.01 s a six-hour step takes 2 million samples):
/// the first and last sample and the running peaks, which the summary needs exactly, and
/// the CSV text up to its cap, built row by row.
#[derive(Debug)]
pub struct Recorder {
    first: Option<Sample>,
    last: Option<Sample>,
    count: usize,
    slab_peak_kib: u64,
    sunreclaim_peak_kib: u64,
    sreclaimable_peak_kib: u64,
    csv: String,
    cap: usize,
    /// Rows in `csv`; once one did not fit, no later one is added.
    shown: usize,
    full: bool,
}

impl Recorder {
    pub fn new(cap: usize) -> Recorder {
        // Reserved at once: grown by doubling, the text could hold twice the cap.
        let mut csv = String::with_capacity(cap.min(SAMPLES_CAP_BYTES));
        csv.push_str(HEADER);
        csv.push('\n');
        Recorder {
            first: None,
            last: None,
            count: 0,
            slab_peak_kib: 0,
            sunreclaim_peak_kib: 0,
            sreclaimable_peak_kib: 0,
            csv,
            cap,
            shown: 0,
            full: false,
        }
    }

    pub fn push(&mut self, sample: Sample) {
        self.first.get_or_insert(sample);
        self.last = Some(sample);
        self.count += 1;
        self.slab_peak_kib = self.slab_peak_kib.max(sample.mem.slab_kib);
        self.sunreclaim_peak_kib = self.sunreclaim_peak_kib.max(sample.mem.sunreclaim_kib);
        self.sreclaimable_peak_kib = self.sreclaimable_peak_kib.max(sample.mem.sreclaimable_kib);
        if !self.full {
            let row = csv_row(&sample);
            if self.csv.len() + row.len() > self.cap {
                self.full = true;
            } else {
                self.csv.push_str(&row);
                self.shown += 1;
            }
        }
    }

    /// Peaks and ends over all samples, counters from the first sample to the last.
    pub fn summary(&self) -> Option<MonitorSummary> {
        let (first, last) = (self.first.as_ref()?, self.last.as_ref()?);
        let cpu_total = last.cpu.total().saturating_sub(first.cpu.total());
        let share = |f: fn(&CpuTicks) -> u64| {
            let ticks = f(&last.cpu).saturating_sub(f(&first.cpu));
            if cpu_total == 0 {
                0.0
            } else {
                ticks as f64 / cpu_total as f64 * 100.0
            }
        };
        Some(MonitorSummary {
            samples: u32::try_from(self.count).unwrap_or(u32::MAX),
            slab_peak_kib: self.slab_peak_kib,
            slab_end_kib: last.mem.slab_kib,
            sunreclaim_peak_kib: self.sunreclaim_peak_kib,
            sunreclaim_end_kib: last.mem.sunreclaim_kib,
            sreclaimable_peak_kib: self.sreclaimable_peak_kib,
            sreclaimable_end_kib: last.mem.sreclaimable_kib,
            pgalloc: last.vm.pgalloc.saturating_sub(first.vm.pgalloc),
            pgfree: last.vm.pgfree.saturating_sub(first.vm.pgfree),
            pgfault: last.vm.pgfault.saturating_sub(first.vm.pgfault),
            pgmajfault: last.vm.pgmajfault.saturating_sub(first.vm.pgmajfault),
            guest_user_percent: share(|c| c.user + c.nice),
            guest_sys_percent: share(|c| c.system),
            guest_softirq_percent: share(|c| c.softirq),
            guest_steal_percent: share(|c| c.steal),
        })
    }

    /// The samples as CSV text, at most the cap: rows past it are dropped, and a last
    /// `# truncated` line says so.
    pub fn csv(mut self) -> String {
        if self.full {
            let _ = writeln!(self.csv, "# truncated: {} of {} samples shown", self.shown, self.count);
        }
        self.csv
    }

    /// Bytes held, whatever the number of samples.
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        std::mem::size_of::<Recorder>() + self.csv.capacity()
    }
}

fn csv_row(s: &Sample) -> String {
    let (m, v, c) = (&s.mem, &s.vm, &s.cpu);
    format!(
        "{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        s.t_s,
        m.mem_free_kib,
        m.slab_kib,
        m.sunreclaim_kib,
        m.sreclaimable_kib,
        v.pgalloc,
        v.pgfree,
        v.pgfault,
        v.pgmajfault,
        c.user,
        c.nice,
        c.system,
        c.idle,
        c.iowait,
        c.irq,
        c.softirq,
        c.steal
    )
}

/// Peaks and ends over all samples, counters from the first sample to the last.
#[cfg(test)]
pub fn summarize(samples: &[Sample]) -> Option<MonitorSummary> {
    record(samples, usize::MAX).summary()
}

/// The samples as CSV text, at most `cap` bytes (see [`Recorder::csv`]).
#[cfg(test)]
pub fn samples_csv(samples: &[Sample], cap: usize) -> String {
    record(samples, cap).csv()
}

#[cfg(test)]
fn record(samples: &[Sample], cap: usize) -> Recorder {
    let mut recorder = Recorder::new(cap);
    for sample in samples {
        recorder.push(*sample);
    }
    recorder
}

/// The sampler thread of one step: a first sample at once, one per interval, a last one
/// when stopped.
pub struct Monitor {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Recorder>,
}

impl Monitor {
    /// `None` when the interval is 0 (monitors off) or not a number.
    pub fn start(interval_s: f64) -> Option<Monitor> {
        if !(interval_s.is_finite() && interval_s > 0.0) {
            return None;
        }
        let interval = Duration::from_secs_f64(interval_s);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut recorder = Recorder::new(SAMPLES_CAP_BYTES);
            recorder.push(sample(0.0));
            loop {
                let stop_now = !matches!(stopped.recv_timeout(interval), Err(mpsc::RecvTimeoutError::Timeout));
                recorder.push(sample(started.elapsed().as_secs_f64()));
                if stop_now {
                    return recorder;
                }
            }
        });
        Some(Monitor { stop, thread })
    }

    /// The summary and the capped raw samples.
    pub fn stop(self) -> (Option<Box<MonitorSummary>>, String) {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(recorder) => (recorder.summary().map(Box::new), recorder.csv()),
            Err(_) => (None, String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:        2014292 kB
MemFree:         1723456 kB
MemAvailable:    1801234 kB
Buffers:           12345 kB
Cached:            98765 kB
Slab:              45678 kB
SReclaimable:      20000 kB
SUnreclaim:        25678 kB
KernelStack:        2048 kB
HugePages_Total:       0
";

    const VMSTAT: &str = "nr_free_pages 430864
pgpgin 123
pgalloc_dma 10
pgalloc_dma32 2000
pgalloc_normal 300
pgalloc_movable 0
allocstall_normal 0
pgfree 2500
pgactivate 7
pgfault 9000
pgmajfault 12
";

    const STAT: &str = "cpu  100 5 40 800 10 2 3 1 0 0
cpu0 50 2 20 400 5 1 2 1 0 0
cpu1 50 3 20 400 5 1 1 0 0 0
intr 12345 0 0
ctxt 6789
";

    #[test]
    fn meminfo_vmstat_and_stat_are_read_from_their_real_formats() {
        let mem = parse_meminfo(MEMINFO);
        assert_eq!(mem, Meminfo { mem_free_kib: 1723456, slab_kib: 45678, sunreclaim_kib: 25678, sreclaimable_kib: 20000 });
        let vm = parse_vmstat(VMSTAT);
        assert_eq!(vm, Vmstat { pgalloc: 2310, pgfree: 2500, pgfault: 9000, pgmajfault: 12 });
        let cpu = parse_stat(STAT);
        assert_eq!((cpu.user, cpu.nice, cpu.system, cpu.idle, cpu.softirq, cpu.steal), (100, 5, 40, 800, 3, 1));
        assert_eq!(cpu.total(), 961);
    }

    #[test]
    fn garbage_reads_as_zeros_not_a_panic() {
        assert_eq!(parse_meminfo("nonsense\nSlab: x kB"), Meminfo::default());
        assert_eq!(parse_vmstat("pgfree\n\n"), Vmstat::default());
        assert_eq!(parse_stat("intr 1 2"), CpuTicks::default());
    }

    fn at(t_s: f64, slab: u64, pgalloc: u64, user: u64, system: u64, idle: u64) -> Sample {
        Sample {
            t_s,
            mem: Meminfo { slab_kib: slab, sunreclaim_kib: slab / 2, sreclaimable_kib: slab / 2, ..Default::default() },
            vm: Vmstat { pgalloc, pgfree: pgalloc / 2, pgfault: pgalloc * 3, pgmajfault: 1 },
            cpu: CpuTicks { user, system, idle, ..Default::default() },
        }
    }

    #[test]
    fn summary_takes_peaks_ends_and_changes_over_the_step() {
        let samples = [at(0.0, 1000, 100, 10, 10, 80), at(1.0, 3000, 500, 40, 30, 110), at(2.0, 2000, 1100, 70, 50, 140)];
        let s = summarize(&samples).unwrap();
        assert_eq!((s.samples, s.slab_peak_kib, s.slab_end_kib), (3, 3000, 2000));
        assert_eq!((s.sunreclaim_peak_kib, s.sreclaimable_end_kib), (1500, 1000));
        assert_eq!((s.pgalloc, s.pgfree, s.pgfault, s.pgmajfault), (1000, 500, 3000, 0));
        // 60 user + 40 system + 60 idle ticks.
        assert!((s.guest_user_percent - 37.5).abs() < 1e-9, "{s:?}");
        assert!((s.guest_sys_percent - 25.0).abs() < 1e-9, "{s:?}");
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn raw_samples_are_capped_and_say_so() {
        let samples: Vec<Sample> = (0..100).map(|i| at(i as f64, 1000, 100, 1, 1, 1)).collect();
        let whole = samples_csv(&samples, usize::MAX);
        assert_eq!(whole.lines().count(), 101);
        assert!(whole.starts_with("t_s,mem_free_kib,slab_kib"));
        let capped = samples_csv(&samples, 1000);
        assert!(capped.len() <= 1000 + 60, "{}", capped.len());
        assert!(capped.lines().last().unwrap().starts_with("# truncated:"), "{capped}");
    }

    #[test]
    fn a_long_step_at_a_short_interval_is_summarised_exactly_in_bounded_memory() {
        // Six hours at 0.01 s would be 2.16 million samples; 200 000 show the bound.
        let n = 200_000;
        let sample_at = |i: usize| {
            let slab = 1000 + (i as u64 * 7919) % 5000;
            at(i as f64 * 0.01, slab, i as u64 * 3, i as u64, i as u64 / 2, i as u64 / 4)
        };
        let mut recorder = Recorder::new(SAMPLES_CAP_BYTES);
        let mut peak_bytes = 0;
        for i in 0..n {
            recorder.push(sample_at(i));
            peak_bytes = peak_bytes.max(recorder.held_bytes());
        }
        assert!(peak_bytes <= SAMPLES_CAP_BYTES + 4096, "{peak_bytes} bytes held");
        // The same numbers as the summary over every sample kept in memory.
        let all: Vec<Sample> = (0..n).map(sample_at).collect();
        let expected = summarize_all(&all);
        let summary = recorder.summary().unwrap();
        assert_eq!(summary, expected);
        assert_eq!((summary.samples, summary.slab_peak_kib), (200_000, 5999));
        let csv = recorder.csv();
        assert!(csv.len() <= SAMPLES_CAP_BYTES + 60, "{}", csv.len());
        let last = csv.lines().last().unwrap();
        assert!(last.starts_with("# truncated: ") && last.ends_with(" of 200000 samples shown"), "{last}");
    }

    /// The summary as it was computed before the recorder, from every sample at once.
    fn summarize_all(samples: &[Sample]) -> MonitorSummary {
        let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
        let peak = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0);
        let cpu_total = last.cpu.total() - first.cpu.total();
        let share = |f: fn(&CpuTicks) -> u64| {
            let ticks = f(&last.cpu) - f(&first.cpu);
            if cpu_total == 0 {
                0.0
            } else {
                ticks as f64 / cpu_total as f64 * 100.0
            }
        };
        MonitorSummary {
            samples: samples.len() as u32,
            slab_peak_kib: peak(|s| s.mem.slab_kib),
            slab_end_kib: last.mem.slab_kib,
            sunreclaim_peak_kib: peak(|s| s.mem.sunreclaim_kib),
            sunreclaim_end_kib: last.mem.sunreclaim_kib,
            sreclaimable_peak_kib: peak(|s| s.mem.sreclaimable_kib),
            sreclaimable_end_kib: last.mem.sreclaimable_kib,
            pgalloc: last.vm.pgalloc - first.vm.pgalloc,
            pgfree: last.vm.pgfree - first.vm.pgfree,
            pgfault: last.vm.pgfault - first.vm.pgfault,
            pgmajfault: last.vm.pgmajfault - first.vm.pgmajfault,
            guest_user_percent: share(|c| c.user + c.nice),
            guest_sys_percent: share(|c| c.system),
            guest_softirq_percent: share(|c| c.softirq),
            guest_steal_percent: share(|c| c.steal),
        }
    }

    #[test]
    fn a_short_step_sends_every_sample_as_before() {
        let samples: Vec<Sample> = (0..50).map(|i| at(i as f64, 1000 + i as u64, 100, 1, 1, 1)).collect();
        let csv = samples_csv(&samples, SAMPLES_CAP_BYTES);
        assert_eq!(csv.lines().count(), 51);
        assert!(!csv.contains("# truncated"));
        assert_eq!(csv.lines().nth(1), Some("0.000,0,1000,500,500,100,50,300,1,1,0,1,1,0,0,0,0"));
        assert_eq!(summarize(&samples).unwrap(), summarize_all(&samples));
    }

    #[test]
    fn a_zero_interval_turns_the_monitors_off() {
        assert!(Monitor::start(0.0).is_none());
        assert!(Monitor::start(f64::NAN).is_none());
    }

    #[test]
    fn a_running_monitor_samples_at_start_and_stop() {
        let monitor = Monitor::start(0.05).unwrap();
        std::thread::sleep(Duration::from_millis(120));
        let (summary, raw) = monitor.stop();
        let summary = summary.unwrap();
        assert!(summary.samples >= 3, "{summary:?}");
        assert_eq!(raw.lines().count() as u32, summary.samples + 1);
    }

    /// The per-sample cost quoted in docs/monitors.md: `scripts/monitor-cost.sh`.
    #[test]
    #[ignore]
    fn per_sample_cost() {
        let n = 2000;
        let started = Instant::now();
        for i in 0..n {
            std::hint::black_box(sample(i as f64));
        }
        let each = started.elapsed() / n;
        println!("one monitor sample (read and parse /proc/meminfo, /proc/vmstat, /proc/stat): {each:?}");
    }
}
