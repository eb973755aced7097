//! Why `runs = "auto"` stopped measuring a variant and level (meta.json `stopping`, the
//! reports, the terminal): the precision target was met, the cap was reached, or the
//! study ended before either.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopRule {
    /// The 95 % interval of the mean elapsed time is within the target.
    Precise,
    /// `max_runs` runs were measured (failed ones included) without meeting the target.
    Cap,
    /// Neither: the study was interrupted, or a guest failed before the runs were done.
    Unfinished,
    /// `decide = true`: the comparison with the baseline is known (changed or the same).
    Decided,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelStopping {
    pub variant: String,
    pub level: String,
    pub rule: StopRule,
    /// Successful runs the decision rests on.
    pub runs: u32,
    /// Failed runs: they count toward the cap, not toward the precision.
    pub failed: u32,
    /// Half-width of the 95 % interval of the mean elapsed time, in % of the mean.
    pub half_width_percent: Option<f64>,
    pub precision_percent: f64,
    pub max_runs: u32,
    /// Decide mode: the verdict that stopped the runs ("slower", "same"; the baseline's
    /// "every comparison known").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<String>,
    /// Decide mode: the threshold the comparisons were decided at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide_threshold_percent: Option<f64>,
}

impl LevelStopping {
    /// "precise after 5 runs (± 0.4 %)", "cap of 6 runs reached (± 12.3 %, target ± 2 %)".
    pub fn describe(&self) -> String {
        let half = self.half_width_percent.map_or("n/a".to_string(), |h| format!("{h:.1} %"));
        let target = self.precision_percent;
        let failed = match self.failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        if let Some(threshold) = self.decide_threshold_percent {
            let verdict = self.decided.as_deref().unwrap_or("inconclusive");
            return match self.rule {
                StopRule::Decided => format!("decided after {} runs: {verdict} (at ± {threshold} %{failed})", self.runs),
                StopRule::Cap => format!("cap of {} runs reached: inconclusive at ± {threshold} %{failed}", self.max_runs),
                _ => format!("unfinished after {} runs (decide mode, ± {threshold} %{failed})", self.runs),
            };
        }
        match self.rule {
            StopRule::Decided => format!("decided after {} runs{failed}", self.runs),
            StopRule::Precise => format!("precise after {} runs (± {half}{failed})", self.runs),
            StopRule::Cap => format!("cap of {} runs reached (± {half}, target ± {target} %{failed})", self.max_runs),
            StopRule::Unfinished => {
                format!("unfinished after {} runs (± {half}, target ± {target} %{failed})", self.runs)
            }
        }
    }

    /// The rule the study's runs followed, in one sentence for every report (no markup):
    /// "each variant and level was measured until …, or until 20 runs. …".
    pub fn rule_sentence(&self) -> String {
        match self.decide_threshold_percent {
            Some(threshold) => format!(
                "each variant and level was measured until its comparison with the baseline was known, changed or the same within ± {threshold} % (decide = true: alpha spent over the looks, see docs/scenario.md), or until {} runs (then inconclusive). The baseline goes on until every other variant at the level has stopped.",
                self.max_runs
            ),
            None => format!(
                "each variant and level was measured until the 95 % interval of its mean elapsed time was within ± {} % of the mean, or until {} runs. The rule looks at each side's own precision, never at a comparison.",
                self.precision_percent, self.max_runs
            ),
        }
    }

    /// "poison half: precise after 5 runs (± 0.4 %)".
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.variant, self.level, self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_says_what_stopped_the_runs() {
        let precise = LevelStopping {
            variant: "poison".into(),
            level: "half".into(),
            rule: StopRule::Precise,
            runs: 5,
            failed: 0,
            half_width_percent: Some(0.44),
            precision_percent: 2.0,
            max_runs: 20,
            decided: None,
            decide_threshold_percent: None,
        };
        assert_eq!(precise.line(), "poison half: precise after 5 runs (± 0.4 %)");
        let cap = LevelStopping { rule: StopRule::Cap, runs: 5, failed: 1, half_width_percent: Some(12.34), ..precise.clone() };
        assert_eq!(cap.describe(), "cap of 20 runs reached (± 12.3 %, target ± 2 %, 1 failed)");
        let unfinished = LevelStopping { rule: StopRule::Unfinished, runs: 1, half_width_percent: None, ..precise };
        assert_eq!(unfinished.describe(), "unfinished after 1 runs (± n/a, target ± 2 %)");
        assert_eq!(serde_json::to_value(StopRule::Cap).unwrap(), "cap");
        let decided = LevelStopping {
            rule: StopRule::Decided,
            runs: 8,
            decided: Some("slower".into()),
            decide_threshold_percent: Some(1.0),
            ..cap.clone()
        };
        assert_eq!(decided.describe(), "decided after 8 runs: slower (at ± 1 %, 1 failed)");
        let aa = LevelStopping { rule: StopRule::Cap, decided: None, decide_threshold_percent: Some(1.0), ..cap };
        assert_eq!(aa.describe(), "cap of 20 runs reached: inconclusive at ± 1 %, 1 failed");
    }
}
