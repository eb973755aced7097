//! What is measured per run: kernbench's six numbers and the largest resident set.

use super::compare::Verdict;
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
}

impl Metric {
    /// Every metric, in kernbench's order, max RSS last.
    pub const ALL: [Metric; 7] = [
        Metric::Elapsed,
        Metric::User,
        Metric::Sys,
        Metric::PercentCpu,
        Metric::CtxSwitches,
        Metric::Sleeps,
        Metric::MaxRss,
    ];

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
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Elapsed | Metric::User | Metric::Sys => "s",
            Metric::PercentCpu => "%",
            Metric::CtxSwitches | Metric::Sleeps => "count",
            Metric::MaxRss => "KiB",
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
        }
    }

    pub fn value(self, run: &RunRecord) -> f64 {
        match self {
            Metric::Elapsed => run.elapsed_s,
            Metric::User => run.user_s,
            Metric::Sys => run.sys_s,
            Metric::PercentCpu => run.percent_cpu,
            Metric::CtxSwitches => run.ctx_switches as f64,
            Metric::Sleeps => run.sleeps as f64,
            Metric::MaxRss => run.max_rss_kib as f64,
        }
    }

    /// Times read as slower/faster, everything else as higher/lower.
    pub fn is_time(self) -> bool {
        matches!(self, Metric::Elapsed | Metric::User | Metric::Sys)
    }

    /// The verdict in this metric's words: "slower", "higher", "no significant change".
    pub fn verdict_word(self, verdict: Verdict) -> &'static str {
        match (verdict, self.is_time()) {
            (Verdict::Higher, true) => "slower",
            (Verdict::Lower, true) => "faster",
            (Verdict::Higher, false) => "higher",
            (Verdict::Lower, false) => "lower",
            (Verdict::NoSignificantChange, _) => "no significant change",
            (Verdict::TooFewRuns, _) => "too few runs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    #[test]
    fn every_metric_reads_its_own_column_and_round_trips_its_name() {
        let run = test_record();
        let values: Vec<f64> = Metric::ALL.iter().map(|m| m.value(&run)).collect();
        assert_eq!(values, [1.5, 1.0, 0.25, 83.3, 10.0, 20.0, 1000.0]);
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
        assert_eq!(Metric::MaxRss.verdict_word(Verdict::NoSignificantChange), "no significant change");
    }
}
