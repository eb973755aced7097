//! Runs measured on a noisy host: the host-noise guard filled their `noise` with why.
//! They stay in every statistic (as outliers do); reports and comparisons name them.

use crate::model::RunRecord;
use serde::Serialize;

/// A successful run whose host was busy with other work while it was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoisyRun {
    pub run: u32,
    /// runs.csv's `noise`: the reasons, "; " between them.
    pub why: String,
}

/// What to do about noisy runs, the same words wherever they are flagged.
pub const NOISE_ADVICE: &str = "run on a quiet host, set `quiet_host = { max_load = 0.5, wait = 300 }` to wait for one before each run, and `pin = true` to keep the vCPUs on CPUs of their own";

/// The successful runs among `runs` that were measured on a noisy host, in run order.
pub fn noisy_runs<'r>(runs: impl IntoIterator<Item = &'r RunRecord>) -> Vec<NoisyRun> {
    let mut noisy: Vec<NoisyRun> =
        runs.into_iter().filter(|r| r.is_ok() && r.is_noisy()).map(|r| NoisyRun { run: r.run, why: r.noise.clone() }).collect();
    noisy.sort_by_key(|n| n.run);
    noisy
}

/// "run 2 (other processes used 150 % of a CPU (limit 20 %)), run 4 (...)".
pub fn describe(noisy: &[NoisyRun]) -> String {
    noisy.iter().map(|n| format!("run {} ({})", n.run, n.why)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    #[test]
    fn only_successful_runs_with_a_reason_are_noisy() {
        let run = |run: u32, noise: &str, status: RunStatus| RunRecord { run, noise: noise.into(), status, ..test_record() };
        let records = [
            run(3, "steal 5.0 % (limit 2.0 %)", RunStatus::Ok),
            run(1, "busy", RunStatus::Ok),
            run(2, "", RunStatus::Ok),
            run(4, "busy", RunStatus::Failed),
        ];
        let noisy = noisy_runs(&records);
        assert_eq!(noisy.iter().map(|n| n.run).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(describe(&noisy), "run 1 (busy), run 3 (steal 5.0 % (limit 2.0 %))");
    }
}
