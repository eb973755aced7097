//! `bench run --gate`: the gate of `bench compare` applied to a study's own comparisons,
//! each variant against the baseline at each level. A variant worse than the baseline in
//! a gated metric is a regression, one that cannot tell ([`cannot_tell`]) is inconclusive;
//! on several lab hosts the change pooled across hosts is the one judged, as in compare.

use super::comparison::{cannot_tell, worse};
use crate::stats::{Analysis, HostsAnalysis, Metric, Verdict};

/// What the gate found, each named ("poison half -j 2 elapsed: slower").
#[derive(Debug, Default, PartialEq)]
pub struct StudyGate {
    pub regressions: Vec<String>,
    pub inconclusive: Vec<String>,
}

impl StudyGate {
    fn judge(&mut self, name: String, metric: Metric, verdict: Verdict) {
        let named = format!("{name} {}: {}", metric.name(), metric.verdict_word(verdict));
        if Some(verdict) == worse(metric) {
            self.regressions.push(named);
        } else if cannot_tell(metric, verdict) {
            self.inconclusive.push(named);
        }
    }

    /// "REGRESSION against the baseline: …", "INCONCLUSIVE: …" or "gate: every gated metric
    /// is the same or better", one line for the terminal.
    pub fn outcome_line(&self) -> String {
        if !self.regressions.is_empty() {
            format!("gate: REGRESSION against the baseline: {}", self.regressions.join("; "))
        } else if !self.inconclusive.is_empty() {
            format!("gate: INCONCLUSIVE: no regression against the baseline, but these cannot tell: {}", self.inconclusive.join("; "))
        } else {
            "gate: every gated metric is the same as the baseline or better".to_string()
        }
    }
}

/// Judges every variant but the baseline, at every level, on `metrics`.
pub fn gate_study(analysis: &Analysis, metrics: &[Metric]) -> StudyGate {
    let mut gate = StudyGate::default();
    for level in &analysis.levels {
        for variant in level.variants.iter().filter(|v| v.variant != analysis.baseline) {
            for m in variant.metrics.iter().filter(|m| metrics.contains(&m.metric)) {
                let name = format!("{} {} -j {}", variant.variant, level.jobs_label, level.jobs);
                match &m.comparison {
                    Some(c) => gate.judge(name, m.metric, c.verdict),
                    // A variant with no successful run of a gated metric cannot be judged.
                    None => gate.judge(name, m.metric, Verdict::TooFewRuns),
                }
            }
        }
    }
    gate
}

/// The same over several lab hosts: the pooled change of each variant, level and metric.
pub fn gate_hosts(hosts: &HostsAnalysis, metrics: &[Metric]) -> StudyGate {
    let mut gate = StudyGate::default();
    for level in &hosts.pooled {
        for variant in &level.variants {
            for m in variant.metrics.iter().filter(|m| metrics.contains(&m.metric)) {
                gate.judge(format!("{} {} across hosts", variant.variant, level.jobs_label), m.metric, m.pooled.verdict);
            }
        }
    }
    gate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord};
    use crate::stats::{analyze, Thresholds};

    fn study(poison: &[f64]) -> Vec<RunRecord> {
        let base = [40.61, 40.32, 40.95, 40.48, 40.71];
        let mut records: Vec<RunRecord> =
            base.iter().enumerate().map(|(i, &e)| RunRecord { run: i as u32 + 1, elapsed_s: e, ..test_record() }).collect();
        records.extend(poison.iter().enumerate().map(|(i, &e)| RunRecord {
            run: i as u32 + 1,
            variant: "poison".into(),
            elapsed_s: e,
            ..test_record()
        }));
        records
    }

    #[test]
    fn a_study_gate_names_regressions_and_what_cannot_tell() {
        let gate = |poison: &[f64]| gate_study(&analyze(&study(poison), None, &Thresholds::default()).unwrap(), &[Metric::Elapsed]);
        let slower = gate(&[44.20, 43.10, 46.90, 44.50, 44.23]);
        assert_eq!(slower.regressions, ["poison half -j 1 elapsed: slower"]);
        assert!(slower.outcome_line().starts_with("gate: REGRESSION"), "{}", slower.outcome_line());
        let noisy = gate(&[36.0, 46.0, 40.0, 44.0, 38.0]);
        assert_eq!(
            (noisy.regressions.len(), noisy.inconclusive.as_slice()),
            (0, ["poison half -j 1 elapsed: inconclusive".to_string()].as_slice())
        );
        let same = gate(&[40.50, 40.90, 40.41, 40.66, 40.58]);
        assert_eq!(same, StudyGate::default());
        let faster = gate(&[36.0, 36.1, 35.9, 36.2, 36.0]);
        assert_eq!(faster, StudyGate::default(), "better is not a regression");
        // Sys is not gated unless asked for.
        let sys_only = gate_study(&analyze(&study(&[44.20, 43.10, 46.90, 44.50, 44.23]), None, &Thresholds::default()).unwrap(), &[]);
        assert_eq!(sys_only, StudyGate::default());
    }
}
