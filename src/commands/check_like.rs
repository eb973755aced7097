//! `bench check SCENARIO --like RESULTS`: before anything boots, what the planned runs can
//! detect, at the spread an earlier study of the same variants and levels measured.

use crate::results::side::read_side;
use crate::scenario::Plan;
use crate::stats::{planned_sensitivity, summarize, Metric, Thresholds, RUNS_NEEDED_CAP};
use anyhow::{Context, Result};
use std::path::Path;

/// One line per variant (but the baseline) and level: "poison half (-j 2) against off:
/// 5 runs a side see ±7.3 %; ±1 % needs about 156 runs a side".
pub fn planned_detection(plan: &Plan, like: &Path, thresholds: &Thresholds) -> Result<Vec<String>> {
    let earlier = read_side(like).with_context(|| format!("--like {}", like.display()))?;
    let runs = plan.adaptive.map_or(plan.runs as usize, |a| a.max_runs as usize);
    let baseline = &plan.variants[plan.baseline].name;
    let metric = Metric::Elapsed;
    let values = |variant: &str, label: &str| -> Vec<f64> {
        earlier
            .records
            .iter()
            .filter(|r| r.is_ok() && r.variant == variant && r.jobs_label == label)
            .filter_map(|r| metric.value(r))
            .collect()
    };
    let mut lines = Vec::new();
    for level in &plan.levels {
        for variant in plan.variants.iter().filter(|v| &v.name != baseline) {
            let what = format!("{} {} (-j {}) against {baseline}", variant.name, level.label, level.substitution());
            let (base, new) = (summarize(&values(baseline, &level.label)), summarize(&values(&variant.name, &level.label)));
            let line = match (base, new) {
                (Some(base), Some(new)) if base.n >= 2 && new.n >= 2 => match planned_sensitivity(&base, &new, runs, thresholds) {
                    Some((seen, needed)) => {
                        let needed = match needed {
                            Some(n) if n > RUNS_NEEDED_CAP => {
                                format!("; ±{} % needs more than {RUNS_NEEDED_CAP} runs a side", thresholds.noise_percent)
                            }
                            Some(n) => format!("; ±{} % needs about {n} runs a side", thresholds.noise_percent),
                            None => String::new(),
                        };
                        format!(
                            "{what}: {runs} runs a side see ±{seen:.1} % of {} (CoV {:.1} % and {:.1} % in {}){needed}",
                            metric.name(),
                            base.cov_percent.unwrap_or(0.0),
                            new.cov_percent.unwrap_or(0.0),
                            earlier.path.display()
                        )
                    }
                    None => format!("{what}: {runs} runs a side are too few for any verdict"),
                },
                _ => format!("{what}: {} has fewer than 2 successful runs of it: no spread to plan with", earlier.path.display()),
            };
            lines.push(line);
        }
    }
    Ok(lines)
}
