//! The "Time budget" of report.md and report.html, worded once: how much of the study's
//! wall time the timed runs had, where the rest went, bench's own CPU share, and each
//! boot's times and pinning.

use crate::model::{BootTimes, TimeBudget};
use crate::report::format::number;

/// The section's text, for either format to lay out.
pub struct BudgetText {
    pub headline: String,
    /// The parts besides the timed runs: name, seconds, share of the wall time.
    pub parts: Vec<[String; 3]>,
    pub cpu: String,
    /// Said only of a resumed study.
    pub resumed: Option<String>,
    /// Said only of a study that saved and restored guests (`reuse = "snapshot"`).
    pub snapshots: Option<String>,
}

pub const BOOT_COLUMNS: [&str; 9] =
    ["variant", "boot", "boot (s)", "prepare (s)", "warm-ups (s)", "cleans (s)", "timed runs (s)", "shut-down (s)", "pinning"];

pub fn budget_text(budget: &TimeBudget) -> BudgetText {
    let share = |seconds: f64| format!("{:.1} %", budget.share_percent(seconds));
    BudgetText {
        headline: format!(
            "Of the study's {} s of wall time, {} went into the timed runs ({} s). The rest:",
            number(budget.wall_s),
            share(budget.timed_runs_s),
            number(budget.timed_runs_s)
        ),
        parts: budget.overheads().into_iter().map(|(name, seconds)| [name.to_string(), number(seconds), share(seconds)]).collect(),
        cpu: format!(
            "bench's own CPU time: {} s, {:.2} % of one core over the study (the QEMUs are the guests, not counted). Before its first boot (checksums of the files booted, the host's facts) the study spent {} s, counted in other.",
            number(budget.bench_cpu_s),
            budget.bench_cpu_percent(),
            number(budget.before_first_boot_s)
        ),
        resumed: (budget.invocations > 1).then(|| {
            format!(
                "The study ran in {} invocations of bench run (it was resumed): the budget adds them up; the time between them is in none.",
                budget.invocations
            )
        }),
        snapshots: (budget.restores > 0 || budget.save_s > 0.0).then(|| {
            let each = if budget.restores > 0 { budget.restore_s / f64::from(budget.restores) } else { 0.0 };
            format!(
                "reuse = \"snapshot\": {} guests restored ({} s each on average) instead of booted, prepared and warmed up; saving them took {} s, into state files of {:.1} MB in all.",
                budget.restores,
                number(each),
                number(budget.save_s),
                budget.state_bytes as f64 / 1e6
            )
        }),
    }
}

/// One row per boot, in [`BOOT_COLUMNS`] order.
pub fn boot_rows(boots: &[BootTimes]) -> Vec<[String; 9]> {
    boots
        .iter()
        .map(|b| {
            [
                b.variant.clone(),
                b.boot.to_string(),
                b.restore_s.map_or_else(|| number(b.boot_s), |r| format!("restored in {}", number(r))),
                b.prepare_s.map_or_else(|| "—".to_string(), number),
                number(b.warmup_s),
                number(b.clean_s),
                number(b.timed_s),
                number(b.shutdown_s),
                b.pinning.as_ref().map_or_else(|| "not pinned".to_string(), |p| p.describe()),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PinnedVcpu, PinningFacts};

    #[test]
    fn the_budget_says_the_timed_share_the_rest_and_the_cpu_share() {
        let boots = [BootTimes { boot_s: 10.0, prepare_s: Some(6.0), timed_s: 60.0, shutdown_s: 1.0, ..BootTimes::new("a", 1) }];
        let budget = TimeBudget { before_first_boot_s: 1.5, ..TimeBudget::of(&boots, 80.0, 0.2) };
        let text = budget_text(&budget);
        assert_eq!(text.headline, "Of the study's 80.00 s of wall time, 75.0 % went into the timed runs (60.00 s). The rest:");
        assert_eq!(text.parts[0], ["boot".to_string(), "10.00".into(), "12.5 %".into()]);
        assert_eq!(text.parts[1], ["prepare".to_string(), "6.000".into(), "7.5 %".into()]);
        assert_eq!(text.parts[2], ["other".to_string(), "3.000".into(), "3.8 %".into()], "80 - (60 + 10 + 6 + 1)");
        assert_eq!(
            text.parts.iter().map(|p| p[0].as_str()).collect::<Vec<_>>()[3..],
            ["shut-down", "warm-up", "clean"],
            "zeros last, in their listed order"
        );
        assert!(text.cpu.contains("0.2000 s, 0.25 % of one core"), "{}", text.cpu);
        let before = "Before its first boot (checksums of the files booted, the host's facts) the study spent 1.500 s";
        assert!(text.cpu.contains(before), "{}", text.cpu);
        assert!(text.resumed.is_none() && text.snapshots.is_none());
        let restored = BootTimes { boot_s: 0.0, restore_s: Some(0.4), ..BootTimes::new("a", 2) };
        let saved = BootTimes { save_s: Some(0.6), state_bytes: Some(88_000_000), ..boots[0].clone() };
        let snapshots = budget_text(&TimeBudget::of(&[saved, restored.clone()], 80.0, 0.2)).snapshots.unwrap();
        assert!(snapshots.contains("1 guests restored (0.4000 s each on average)") && snapshots.contains("88.0 MB"), "{snapshots}");
        assert_eq!(boot_rows(&[restored])[0][2], "restored in 0.4000");
        assert!(budget_text(&budget.plus(&budget)).resumed.unwrap().contains("2 invocations"));
    }

    #[test]
    fn each_boot_is_a_row_with_its_pinning() {
        let pinned = BootTimes {
            pinning: Some(PinningFacts { vcpus: vec![PinnedVcpu { cpu_index: 0, thread_id: 5, host_cpu: 1 }], shared_cpus: vec![0] }),
            ..BootTimes::new("b", 2)
        };
        let rows = boot_rows(&[BootTimes::new("a", 1), pinned]);
        assert_eq!(rows[0][3], "—", "no prepare");
        assert_eq!(rows[0][8], "not pinned");
        assert_eq!(rows[1][..2], ["b".to_string(), "2".into()]);
        assert_eq!(rows[1][8], "vCPU 0 → CPU 1; QEMU and bench on CPU 0");
    }
}
