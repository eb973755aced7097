//! What is measured per run: kernbench's six numbers, the largest resident set, page
//! faults, and what the in-guest monitors saw (slab memory, page-allocator work, the
//! guest's CPU split). The later ones are absent in older runs.csv files and with the
//! monitors off: a metric without values is left out, never shown as 0.

use super::change::Verdict;
use crate::model::RunRecord;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Elapsed,
    User,
    Sys,
    PercentCpu,
    CtxSwitches,
    Sleeps,
    MaxRss,
    MinorFaults,
    MajorFaults,
    SlabPeak,
    SlabEnd,
    SUnreclaimPeak,
    SReclaimablePeak,
    Pgalloc,
    Pgfree,
    Pgfault,
    GuestUser,
    GuestSys,
    GuestSoftirq,
    GuestSteal,
}

impl Metric {
    /// Every metric: kernbench's order, max RSS, then faults and the monitors'.
    pub const ALL: [Metric; 20] = [
        Metric::Elapsed,
        Metric::User,
        Metric::Sys,
        Metric::PercentCpu,
        Metric::CtxSwitches,
        Metric::Sleeps,
        Metric::MaxRss,
        Metric::MinorFaults,
        Metric::MajorFaults,
        Metric::SlabPeak,
        Metric::SlabEnd,
        Metric::SUnreclaimPeak,
        Metric::SReclaimablePeak,
        Metric::Pgalloc,
        Metric::Pgfree,
        Metric::Pgfault,
        Metric::GuestUser,
        Metric::GuestSys,
        Metric::GuestSoftirq,
        Metric::GuestSteal,
    ];

    /// kernbench's six numbers and max RSS: every run has them.
    #[cfg(test)]
    pub const CORE: [Metric; 7] =
        [Metric::Elapsed, Metric::User, Metric::Sys, Metric::PercentCpu, Metric::CtxSwitches, Metric::Sleeps, Metric::MaxRss];

    /// The identifier in summary.csv and report.json.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Elapsed => "elapsed",
            Metric::User => "user",
            Metric::Sys => "sys",
            Metric::PercentCpu => "percent_cpu",
            Metric::CtxSwitches => "ctx_switches",
            Metric::Sleeps => "sleeps",
            Metric::MaxRss => "max_rss",
            Metric::MinorFaults => "minor_faults",
            Metric::MajorFaults => "major_faults",
            Metric::SlabPeak => "slab_peak",
            Metric::SlabEnd => "slab_end",
            Metric::SUnreclaimPeak => "sunreclaim_peak",
            Metric::SReclaimablePeak => "sreclaimable_peak",
            Metric::Pgalloc => "pgalloc",
            Metric::Pgfree => "pgfree",
            Metric::Pgfault => "pgfault",
            Metric::GuestUser => "guest_user_percent",
            Metric::GuestSys => "guest_sys_percent",
            Metric::GuestSoftirq => "guest_softirq_percent",
            Metric::GuestSteal => "guest_steal_percent",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// As kernbench prints it ("Elapsed Time"); max RSS is kbench's own.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Elapsed => "Elapsed Time",
            Metric::User => "User Time",
            Metric::Sys => "System Time",
            Metric::PercentCpu => "Percent CPU",
            Metric::CtxSwitches => "Context Switches",
            Metric::Sleeps => "Sleeps",
            Metric::MaxRss => "Max RSS",
            Metric::MinorFaults => "Minor Faults",
            Metric::MajorFaults => "Major Faults",
            Metric::SlabPeak => "Slab Peak",
            Metric::SlabEnd => "Slab at End",
            Metric::SUnreclaimPeak => "SUnreclaim Peak",
            Metric::SReclaimablePeak => "SReclaimable Peak",
            Metric::Pgalloc => "Page Allocations",
            Metric::Pgfree => "Page Frees",
            Metric::Pgfault => "Guest Page Faults",
            Metric::GuestUser => "Guest User CPU",
            Metric::GuestSys => "Guest System CPU",
            Metric::GuestSoftirq => "Guest Softirq CPU",
            Metric::GuestSteal => "Guest Steal",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Elapsed | Metric::User | Metric::Sys => "s",
            Metric::PercentCpu | Metric::GuestUser | Metric::GuestSys | Metric::GuestSoftirq | Metric::GuestSteal => "%",
            Metric::CtxSwitches | Metric::Sleeps | Metric::MinorFaults | Metric::MajorFaults => "count",
            Metric::Pgalloc | Metric::Pgfree | Metric::Pgfault => "count",
            Metric::MaxRss | Metric::SlabPeak | Metric::SlabEnd | Metric::SUnreclaimPeak | Metric::SReclaimablePeak => "KiB",
        }
    }

    /// What a higher value means.
    pub fn reading(self) -> &'static str {
        match self {
            Metric::Elapsed => "wall-clock time of the run; higher is slower",
            Metric::User => "CPU time in user mode, all processes; higher costs more CPU",
            Metric::Sys => "CPU time in the kernel, all processes; higher costs more CPU",
            Metric::PercentCpu => "(user + sys) / elapsed; higher keeps more CPUs busy",
            Metric::CtxSwitches => "involuntary context switches (preemptions, ru_nivcsw)",
            Metric::Sleeps => "voluntary context switches (waits, ru_nvcsw)",
            Metric::MaxRss => "largest resident set of any one process",
            Metric::MinorFaults => "page faults served without I/O, all processes (ru_minflt)",
            Metric::MajorFaults => "page faults that needed I/O, all processes (ru_majflt)",
            Metric::SlabPeak => "the guest's slab memory (/proc/meminfo Slab), highest sample during the run",
            Metric::SlabEnd => "the guest's slab memory when the run ended",
            Metric::SUnreclaimPeak => "unreclaimable slab memory (SUnreclaim), highest sample during the run",
            Metric::SReclaimablePeak => "reclaimable slab memory (SReclaimable: dentries, inodes), highest sample",
            Metric::Pgalloc => "pages the guest's page allocator handed out during the run (/proc/vmstat pgalloc_*)",
            Metric::Pgfree => "pages freed during the run (/proc/vmstat pgfree)",
            Metric::Pgfault => "page faults in the whole guest during the run (/proc/vmstat pgfault)",
            Metric::GuestUser => "share of the guest's CPU time in user mode (user + nice) during the run",
            Metric::GuestSys => "share of the guest's CPU time in the kernel during the run",
            Metric::GuestSoftirq => "share of the guest's CPU time in softirqs during the run",
            Metric::GuestSteal => "share of the guest's CPU time the host took (steal)",
        }
    }

    /// The run's value; `None` for a column the run does not have (older runs.csv,
    /// monitors off).
    pub fn value(self, run: &RunRecord) -> Option<f64> {
        let count = |v: Option<u64>| v.map(|v| v as f64);
        match self {
            Metric::Elapsed => Some(run.elapsed_s),
            Metric::User => Some(run.user_s),
            Metric::Sys => Some(run.sys_s),
            Metric::PercentCpu => Some(run.percent_cpu),
            Metric::CtxSwitches => Some(run.ctx_switches as f64),
            Metric::Sleeps => Some(run.sleeps as f64),
            Metric::MaxRss => Some(run.max_rss_kib as f64),
            Metric::MinorFaults => count(run.minor_faults),
            Metric::MajorFaults => count(run.major_faults),
            Metric::SlabPeak => count(run.slab_peak_kib),
            Metric::SlabEnd => count(run.slab_end_kib),
            Metric::SUnreclaimPeak => count(run.sunreclaim_peak_kib),
            Metric::SReclaimablePeak => count(run.sreclaimable_peak_kib),
            Metric::Pgalloc => count(run.pgalloc),
            Metric::Pgfree => count(run.pgfree),
            Metric::Pgfault => count(run.pgfault),
            Metric::GuestUser => run.guest_user_percent,
            Metric::GuestSys => run.guest_sys_percent,
            Metric::GuestSoftirq => run.guest_softirq_percent,
            Metric::GuestSteal => run.guest_steal_percent,
        }
    }

    /// The metrics any of `runs` has a value for, in [`Metric::ALL`]'s order.
    pub fn measured(runs: &[RunRecord]) -> Vec<Metric> {
        Metric::ALL.into_iter().filter(|m| runs.iter().any(|r| m.value(r).is_some())).collect()
    }

    /// Times read as slower/faster, everything else as higher/lower.
    pub fn is_time(self) -> bool {
        matches!(self, Metric::Elapsed | Metric::User | Metric::Sys)
    }

    /// The verdict in this metric's words: "slower", "higher", "same", "inconclusive". The
    /// one place every report, table and the gate's messages take a verdict's words from.
    pub fn verdict_word(self, verdict: Verdict) -> &'static str {
        match (verdict, self.is_time()) {
            (Verdict::Higher, true) => "slower",
            (Verdict::Lower, true) => "faster",
            (Verdict::Higher, false) => "higher",
            (Verdict::Lower, false) => "lower",
            (Verdict::Same, _) => "same",
            (Verdict::Inconclusive, _) => "inconclusive",
            (Verdict::TooFewRuns, _) => "too few runs",
            (Verdict::TooFewHosts, _) => "too few hosts",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    #[test]
    fn every_metric_reads_its_own_column_and_round_trips_its_name() {
        let mut run = test_record();
        let values: Vec<Option<f64>> = Metric::CORE.iter().map(|m| m.value(&run)).collect();
        assert_eq!(values, [1.5, 1.0, 0.25, 83.3, 10.0, 20.0, 1000.0].map(Some));
        assert_eq!(Metric::measured(std::slice::from_ref(&run)), Metric::CORE, "no memory column, no memory metric");
        run.minor_faults = Some(1);
        run.major_faults = Some(2);
        run.slab_peak_kib = Some(3);
        run.slab_end_kib = Some(4);
        run.sunreclaim_peak_kib = Some(5);
        run.sreclaimable_peak_kib = Some(6);
        run.pgalloc = Some(7);
        run.pgfree = Some(8);
        run.pgfault = Some(9);
        run.guest_user_percent = Some(10.0);
        run.guest_sys_percent = Some(11.0);
        run.guest_softirq_percent = Some(12.0);
        run.guest_steal_percent = Some(13.0);
        let memory: Vec<Option<f64>> = Metric::ALL[7..].iter().map(|m| m.value(&run)).collect();
        assert_eq!(memory, (1..=13).map(|v| Some(v as f64)).collect::<Vec<_>>());
        assert_eq!(Metric::measured(&[run]), Metric::ALL);
        for metric in Metric::ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::from_name("bogus"), None);
    }

    #[test]
    fn verdicts_read_as_slower_for_times_and_higher_otherwise() {
        assert_eq!(Metric::Elapsed.verdict_word(Verdict::Higher), "slower");
        assert_eq!(Metric::Sys.verdict_word(Verdict::Lower), "faster");
        assert_eq!(Metric::Sleeps.verdict_word(Verdict::Higher), "higher");
        assert_eq!(Metric::MaxRss.verdict_word(Verdict::Same), "same");
        assert_eq!(Metric::Elapsed.verdict_word(Verdict::Inconclusive), "inconclusive");
    }
}
