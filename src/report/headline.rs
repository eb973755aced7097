//! The answer a reader wants first, in every output of a study (the end of `bench run`,
//! `bench report`, report.md, report.html): per variant against the baseline, the elapsed
//! time at each level with its interval and verdict; then what else changed; then one line
//! on how far to trust it. And the study's warnings with the noisy runs summed up in one.

use super::compare::cells;
use super::format::{change_bounds, change_percent, percent, percent_bounds, NOISY_MARK};
use super::model::{verdict_tone, verdict_words, Headline, Tone};
use crate::compare::{CompareReport, Entry};
use crate::stats::{Analysis, HostsAnalysis, LevelAnalysis, Metric, NoisyRun, NOISE_ADVICE};

/// "-j 4", or "half -j 4" when two levels share a `-j`; "max -j" for kernbench's maximal load.
pub fn level_short(levels: &[LevelAnalysis], level: &LevelAnalysis) -> String {
    if level.jobs_label == "max" {
        return "max -j".into();
    }
    let shared = levels.iter().filter(|l| l.jobs == level.jobs).count() > 1;
    if shared {
        format!("{} -j {}", level.jobs_label, level.jobs)
    } else {
        format!("-j {}", level.jobs)
    }
}

/// "+9.8 % [+5.5, +14.0] slower", or what stands in for it.
fn change_words(analysis_metric: Metric, m: &crate::stats::MetricAnalysis) -> (String, Tone) {
    let Some(c) = &m.comparison else {
        return ("not compared (no successful run on a side)".into(), Tone::Plain);
    };
    let change = change_percent(c);
    let bounds = change_bounds(c).map(|b| format!(" {b}")).unwrap_or_default();
    (format!("{change}{bounds} {}", verdict_words(analysis_metric, c.verdict)), verdict_tone(analysis_metric, c.verdict))
}

/// The worst tone of several: a costly change outweighs a better one.
fn worst(tones: impl IntoIterator<Item = Tone>) -> Tone {
    tones.into_iter().fold(Tone::Plain, |acc, t| match (acc, t) {
        (Tone::Worse, _) | (_, Tone::Worse) => Tone::Worse,
        (Tone::Better, _) | (_, Tone::Better) => Tone::Better,
        _ => Tone::Plain,
    })
}

/// The headline of one study: `accel` is meta.json's accelerator, `kernel_trouble` how
/// many kernel reports (oops, SLUB, …) the consoles showed.
pub fn study(analysis: &Analysis, accel: Option<&str>, kernel_trouble: usize) -> Headline {
    let mut headline = Headline::default();
    let levels = &analysis.levels;
    if analysis.variants.len() < 2 {
        let means: Vec<String> = levels
            .iter()
            .filter_map(|l| {
                let s = l.variants.first()?.metric(Metric::Elapsed).summary.as_ref()?;
                Some(format!("{} s at {}", super::format::number(s.mean), level_short(levels, l)))
            })
            .collect();
        headline.push(&analysis.baseline, format!("elapsed {} (one variant: nothing to compare)", means.join(", ")), Tone::Plain);
    }
    for variant in analysis.variants.iter().skip(1) {
        let mut parts = Vec::new();
        let mut tones = Vec::new();
        let mut ratios = Vec::new();
        for level in levels {
            let Some(v) = level.variant(&variant.name) else {
                parts.push(format!("no runs at {}", level_short(levels, level)));
                continue;
            };
            let m = v.metric(Metric::Elapsed);
            let (words, tone) = change_words(Metric::Elapsed, m);
            parts.push(format!("{words} at {}", level_short(levels, level)));
            tones.push(tone);
            if let Some(c) = &m.comparison {
                if c.base.mean > 0.0 && c.new.mean > 0.0 {
                    ratios.push(c.new.mean / c.base.mean);
                }
            }
        }
        let mut text = format!("elapsed {}", parts.join(", "));
        if levels.len() > 1 && ratios.len() == levels.len() {
            let log_mean = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
            text += &format!("; across levels {} (geometric mean of the levels' ratios)", percent(100.0 * log_mean.exp_m1()));
        }
        headline.push(format!("{} vs {}", variant.name, analysis.baseline), text, worst(tones));
    }
    if analysis.variants.len() >= 2 {
        let (changed, tone) = also_changed(analysis);
        headline.push("also changed", changed, tone);
    }
    let (trust, tone) = trust(analysis, accel, kernel_trouble);
    headline.push("trust", trust, tone);
    headline
}

/// The headline of a study over several lab hosts: per variant, the elapsed change pooled
/// across the hosts at each level; then each host's trust line in one.
pub fn hosts(hosts: &HostsAnalysis) -> Headline {
    let mut headline = Headline::default();
    let mut variants: Vec<&str> = Vec::new();
    for v in hosts.pooled.iter().flat_map(|l| &l.variants) {
        if !variants.contains(&v.variant.as_str()) {
            variants.push(&v.variant);
        }
    }
    for variant in variants {
        let mut parts = Vec::new();
        let mut tones = Vec::new();
        for level in &hosts.pooled {
            let Some(m) =
                level.variants.iter().find(|v| v.variant == variant).and_then(|v| v.metrics.iter().find(|m| m.metric == Metric::Elapsed))
            else {
                continue;
            };
            let p = &m.pooled;
            let change = p.change_percent.map(percent).unwrap_or_else(|| "n/a".into());
            let bounds = p.change_ci95.map(|i| format!(" {}", percent_bounds(i))).unwrap_or_default();
            parts.push(format!(
                "{change}{bounds} {} at {} ({} of {} hosts)",
                verdict_words(Metric::Elapsed, p.verdict),
                level.jobs_label,
                p.hosts.len(),
                p.hosts.len() + p.left_out.len()
            ));
            tones.push(verdict_tone(Metric::Elapsed, p.verdict));
        }
        headline.push(format!("{variant} vs {} across hosts", hosts.baseline), format!("elapsed {}", parts.join(", ")), worst(tones));
    }
    let with_runs = hosts.hosts.iter().filter(|h| h.analysis.is_some()).count();
    let mut trust = vec![format!("{with_runs} of {} hosts have runs to report", hosts.hosts.len())];
    let mut tone = if with_runs < hosts.hosts.len() { Tone::Worse } else { Tone::Plain };
    for h in &hosts.hosts {
        let Some(analysis) = &h.analysis else { continue };
        let (line, t) = self::trust(analysis, None, 0);
        if t != Tone::Plain {
            tone = Tone::Worse;
            trust.push(format!("host {}: {line}", h.host));
        }
    }
    headline.push("trust", trust.join("; "), tone);
    headline
}

/// The headline of `bench compare`: per row of elapsed times (variant, and host on several
/// hosts), new against base at each level with its interval and verdict, one line each;
/// the outcome the exit code follows is the renderers' last line.
pub fn compare(report: &CompareReport) -> Headline {
    let mut headline = Headline::default();
    let mut rows: Vec<(String, Vec<&Entry>)> = Vec::new();
    for e in report.entries_of(Metric::Elapsed) {
        let on = if e.pairing.host.is_empty() { String::new() } else { format!(" on {}", e.pairing.host) };
        let subject = format!("{}{on}, new vs base", cells::variant(e));
        match rows.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, entries)) => entries.push(e),
            None => rows.push((subject, vec![e])),
        }
    }
    for (subject, entries) in rows {
        let parts: Vec<String> = entries
            .iter()
            .map(|e| {
                let change = e.comparison.as_ref().map(change_percent).unwrap_or_else(|| "n/a".into());
                let bounds = e.comparison.as_ref().and_then(change_bounds).map(|b| format!(" {b}")).unwrap_or_default();
                format!("{change}{bounds} {} at {}", cells::verdict(e), cells::level(e))
            })
            .collect();
        let tones = entries.iter().map(|e| match &e.comparison {
            _ if e.regression => Tone::Worse,
            Some(c) => verdict_tone(e.metric, c.verdict),
            None => Tone::Plain,
        });
        headline.push(subject, format!("elapsed {}", parts.join(", ")), worst(tones));
    }
    headline
}

/// `bench compare`'s warnings, each kind once: the rows with runs measured on a noisy
/// host become one warning that names them and gives the advice once.
pub fn compare_warnings(warnings: &[String]) -> Vec<String> {
    const PREFIX: &str = "noisy host: ";
    const MIDDLE: &str = " were measured on a noisy host;";
    let noisy = |w: &String| w.starts_with(PREFIX) && w.contains(MIDDLE) && w.ends_with(NOISE_ADVICE);
    let rows: Vec<&str> = warnings.iter().filter(|w| noisy(w)).filter_map(|w| w[PREFIX.len()..].split(MIDDLE).next()).collect();
    if rows.len() < 2 {
        return warnings.to_vec();
    }
    let mut out: Vec<String> = warnings.iter().filter(|w| !noisy(w)).cloned().collect();
    out.push(format!(
        "noisy host: {} rows have runs measured on a noisy host: {}; their verdicts may be off either way, and the gate does not count that: {NOISE_ADVICE}",
        rows.len(),
        rows.join("; ")
    ));
    out
}

/// The metrics besides elapsed whose verdict is a change, per variant and level.
fn also_changed(analysis: &Analysis) -> (String, Tone) {
    let mut parts = Vec::new();
    let mut tones = Vec::new();
    for variant in analysis.variants.iter().skip(1) {
        for level in &analysis.levels {
            let Some(v) = level.variant(&variant.name) else { continue };
            for m in v.metrics.iter().filter(|m| m.metric != Metric::Elapsed) {
                if !m.comparison.as_ref().is_some_and(|c| c.verdict.is_change()) {
                    continue;
                }
                let (words, tone) = change_words(m.metric, m);
                let who = if analysis.variants.len() > 2 { format!("{} ", variant.name) } else { String::new() };
                parts.push(format!("{who}{} {words} at {}", m.metric.title(), level_short(&analysis.levels, level)));
                tones.push(tone);
            }
        }
    }
    if parts.is_empty() {
        return ("nothing else: no other metric changed significantly".into(), Tone::Plain);
    }
    // A line, not a table: the first few, and how many more the tables have.
    const SHOWN: usize = 4;
    let more = parts.len().saturating_sub(SHOWN);
    parts.truncate(SHOWN);
    if more > 0 {
        parts.push(format!("and {more} more (see the tables)"));
    }
    (parts.join("; "), worst(tones))
}

/// One line on how far the numbers can be trusted: noisy runs, failures, the accelerator,
/// kernel reports.
fn trust(analysis: &Analysis, accel: Option<&str>, kernel_trouble: usize) -> (String, Tone) {
    let all = analysis.levels.iter().flat_map(|l| &l.variants);
    let (ok, failed, noisy) =
        all.fold((0, 0, 0), |(ok, failed, noisy), v| (ok + v.ok_runs, failed + v.failed_runs, noisy + v.noisy_runs.len()));
    let mut parts = Vec::new();
    let mut doubt = false;
    if noisy > 0 {
        doubt = true;
        parts.push(format!("{NOISY_MARK} {noisy} of {ok} runs measured on a noisy host"));
    } else {
        parts.push(format!("{ok} runs, none on a noisy host"));
    }
    if failed > 0 {
        doubt = true;
        parts.push(format!("{failed} failed (excluded)"));
    }
    if accel.is_some_and(|a| a.contains("tcg")) {
        doubt = true;
        parts.push("guests emulated (TCG): times are not those of KVM or hardware".into());
    }
    if kernel_trouble > 0 {
        doubt = true;
        parts.push(format!("{kernel_trouble} kernel report(s) in the consoles (see Kernel trouble)"));
    }
    (parts.join("; "), if doubt { Tone::Worse } else { Tone::Plain })
}

/// The study's warnings as text, each kind once: the noisy runs of every variant and level
/// become one warning (how many, the worst cause, the advice once); their per-run detail
/// is in the report's run list and runs.csv's `noise` column.
pub fn warnings(analysis: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The first of equally bad runs is named (`max_by` keeps the last, hence `rev`).
    // A noisy-runs warning is the same fact as a level's `noisy_runs`, gathered below.
    out.extend(analysis.warnings.iter().filter(|w| !is_noisy_runs(w)).map(|w| w.to_string()));
    let mut noisy: Vec<(String, &NoisyRun)> = Vec::new();
    let mut ok_runs = 0;
    for level in &analysis.levels {
        for v in &level.variants {
            ok_runs += v.ok_runs;
            noisy.extend(v.noisy_runs.iter().map(|r| (format!("{} {}", v.variant, level.jobs_label), r)));
        }
    }
    if let Some((place, run)) = noisy.iter().rev().max_by(|a, b| first_number(&a.1.why).total_cmp(&first_number(&b.1.why))) {
        out.push(format!(
            "noisy host: {} of {ok_runs} successful runs were measured while the host was busy with other work (the worst: {place} run {}: {}); \
they are kept in the statistics, which they may skew; each one is marked {NOISY_MARK} in the report's run list and runs.csv's `noise` column says why. \
To avoid it: {NOISE_ADVICE}",
            noisy.len(),
            run.run,
            run.why
        ));
    }
    out
}

/// The warning's kind as report.json names it.
fn is_noisy_runs(warning: &impl serde::Serialize) -> bool {
    serde_json::to_value(warning).is_ok_and(|v| v["kind"] == "noisy_runs")
}

/// The first number in a reason ("other processes used 180 % …" → 180), to rank reasons.
fn first_number(text: &str) -> f64 {
    let start = text.find(|c: char| c.is_ascii_digit());
    start
        .map(|s| text[s..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<String>())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord, RunStatus};
    use crate::stats::{analyze, Thresholds};

    fn two_levels() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (label, jobs, factor) in [("half", 4, 1.0), ("optimal", 8, 0.6)] {
            for (run, (base, poison)) in
                [(40.61, 44.20), (40.32, 43.10), (40.95, 46.90), (40.48, 44.50), (40.71, 44.23)].into_iter().enumerate()
            {
                let run = run as u32 + 1;
                let level = |variant: &str, elapsed: f64| RunRecord {
                    variant: variant.into(),
                    jobs_label: label.into(),
                    jobs,
                    run,
                    elapsed_s: elapsed * factor,
                    ..test_record()
                };
                records.push(level("baseline", base));
                records.push(level("slub-poison", poison));
            }
        }
        records
    }

    #[test]
    fn the_headline_gives_each_level_s_elapsed_change_interval_and_verdict_then_the_rest() {
        let mut records = two_levels();
        records.push(RunRecord {
            variant: "slub-poison".into(),
            jobs_label: "half".into(),
            jobs: 4,
            run: 6,
            status: RunStatus::Failed,
            ..test_record()
        });
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let text = study(&analysis, Some("tcg"), 0).to_text();
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("slub-poison vs baseline: elapsed +9.8 % [+5.5, +14.0] slower at -j 4, +9.8 % [+5.5, +14.0] slower at -j 8"),
            "{text}"
        );
        assert!(first.ends_with("; across levels +9.8 % (geometric mean of the levels' ratios)"), "{text}");
        assert!(text.contains("\nalso changed: nothing else"), "{text}");
        assert!(text.contains("\ntrust: 20 runs, none on a noisy host; 1 failed (excluded); guests emulated (TCG)"), "{text}");
    }

    #[test]
    fn noisy_rows_of_a_comparison_make_one_warning_and_others_stay() {
        let row = |name: &str| {
            format!("noisy host: {name} half (-j 2): 1 of 5 runs in new (run 3 (busy)) were measured on a noisy host; this row's verdicts may be off either way, and the gate does not count that: {NOISE_ADVICE}")
        };
        let warnings = vec![row("a"), "another warning".to_string(), row("b"), row("c"), row("d")];
        let summed = compare_warnings(&warnings);
        assert_eq!(summed.len(), 2, "{summed:#?}");
        assert_eq!(summed[0], "another warning");
        assert!(
            summed[1].starts_with(
                "noisy host: 4 rows have runs measured on a noisy host: a half (-j 2): 1 of 5 runs in new (run 3 (busy)); b half"
            ),
            "{}",
            summed[1]
        );
        assert_eq!(summed[1].matches("quiet_host").count(), 1);
        assert_eq!(compare_warnings(&warnings[..2]), warnings[..2], "one noisy row stays as it is");
    }

    #[test]
    fn noisy_runs_of_every_level_make_one_warning_with_the_worst_cause_and_the_advice_once() {
        let mut records = two_levels();
        for (i, r) in records.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
            r.noise = format!("other processes used {} % of a CPU (limit 20 %)", 30 + i);
        }
        let analysis = analyze(&records, None, &Thresholds::default()).unwrap();
        let noisy = analysis.warnings.iter().filter(|w| is_noisy_runs(*w)).count();
        assert!(noisy >= 3, "the fixture has noisy runs in several rows: {noisy}");
        let warnings = warnings(&analysis);
        let lines: Vec<&String> = warnings.iter().filter(|w| w.contains("noisy host")).collect();
        assert_eq!(lines.len(), 1, "{warnings:#?}");
        assert!(lines[0].starts_with("noisy host: 4 of 20 successful runs"), "{}", lines[0]);
        assert!(lines[0].contains("used 45 % of a CPU"), "the worst reason: {}", lines[0]);
        assert_eq!(lines[0].matches("quiet_host").count(), 1);
    }
}
