//! `bench check SCENARIO`: validates the scenario and this host without booting anything.
//! It runs every check it can (an invalid scenario still leaves the host, the agent and
//! the results folder to check), prints one line per check, and ends with one summary line.

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::backend;
use crate::backend::agent_binary;
use crate::benchmark::limits::{seconds, Limits};
use crate::commands::cli::CheckArgs;
use crate::host::noise as host_noise;
use crate::results::folder::room_for_results;
use crate::scenario::{self, Plan};
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// One check: what was checked, and what was found or the problem with it.
type Check = (String, Result<String>);

pub fn check(args: &CheckArgs) -> Result<u8> {
    let mut checks: Vec<Check> = Vec::new();
    let loaded = scenario::load_with(&args.scenario, &args.backend.overrides());
    match &loaded {
        Ok(plan) => {
            describe_plan(plan, &args.scenario);
            describe_time(plan, &args.results);
            if let Some(like) = &args.like {
                match super::check_like::planned_detection(plan, like, &args.thresholds()) {
                    Ok(lines) => {
                        println!("what the planned runs can detect (80 % power, at the spread of an earlier study):");
                        for line in lines {
                            println!("  {line}");
                        }
                    }
                    Err(error) => checks.push(("--like".into(), Err(error))),
                }
            }
            checks.push(("scenario".into(), Ok(format!("{} is valid", args.scenario.display()))));
            checks.extend(host_checks(plan));
        }
        Err(error) => {
            checks.push(("scenario".into(), Err(anyhow::anyhow!("{error:#}"))));
            checks.extend(host_checks_without_plan(&args.scenario, &args.backend.overrides()));
        }
    }
    checks.push(("agent".into(), agent_binary::locate(args.agent.as_deref()).map(|p| p.display().to_string())));
    let saved_mib = loaded.as_ref().map_or(0, Plan::saved_state_mib_on_results_disk);
    checks.push(("results".into(), free_space(&args.results, saved_mib)));
    println!("host now: {}", host_state());
    println!("checks:");
    for line in check_lines(&checks) {
        println!("  {line}");
    }
    println!("{}", summary(&checks));
    Ok(if checks.iter().all(|(_, r)| r.is_ok()) { EXIT_OK } else { EXIT_BAD_INPUT })
}

/// "1 round", "3 rounds".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn describe_plan(plan: &Plan, path: &Path) {
    let (variants, levels) = (count(plan.variants.len(), "variant", "variants"), count(plan.levels.len(), "jobs level", "jobs levels"));
    let runs = plan.variants.len() * plan.levels.len() * plan.runs as usize;
    match plan.adaptive {
        None => println!(
            "scenario {}: {variants} × {levels} × {} = {}",
            path.display(),
            count(plan.runs as usize, "run", "runs"),
            count(runs, "timed run", "timed runs")
        ),
        Some(adaptive) => println!(
            "scenario {}: {variants} × {levels} × {} to {} runs (runs = \"auto\": {}) = at most {}",
            path.display(),
            adaptive.min_runs,
            adaptive.max_runs,
            match adaptive.decide_threshold_percent {
                Some(threshold) => format!("until each comparison with the baseline is changed or the same within ± {threshold} %"),
                None => format!("until the mean elapsed time is within ± {} %", adaptive.precision_percent),
            },
            count(runs, "timed run", "timed runs")
        ),
    }
    for variant in &plan.variants {
        println!("  variant {}: {} · {}", variant.name, variant.kernel.display(), variant.cmdline);
    }
    let levels: Vec<String> = plan.levels.iter().map(|l| format!("{} (-j {})", l.label, l.substitution())).collect();
    println!("  jobs levels: {}", levels.join(", "));
    let seed = match (plan.order.choice, plan.order.seed_from_clock) {
        (scenario::order::OrderChoice::Alternate, _) => String::new(),
        (_, true) => format!(" (seed {}, from the clock: `bench run` takes a new one)", plan.order.seed),
        (_, false) => format!(" (seed {})", plan.order.seed),
    };
    match crate::benchmark::runner::adaptive_target(plan) {
        None => {
            println!("  boots: {} per variant, order {}{seed}", count(plan.rounds as usize, "round", "rounds"), plan.order.choice.name())
        }
        Some(target) => println!(
            "  boots: up to {} per variant of {} per level each, order {}{seed}; a variant and level stops once precise",
            count(target.max_runs.div_ceil(target.runs_per_round()) as usize, "round", "rounds"),
            count(target.runs_per_round() as usize, "run", "runs"),
            plan.order.choice.name()
        ),
    }
    if plan.reuse == scenario::file::Reuse::Snapshot {
        println!(
            "  reuse = \"snapshot\": {} per variant, prepared, warmed up and saved; every round's runs on a restore of it",
            count(plan.snapshots as usize, "boot", "boots")
        );
    }
}

/// How long the study should take, from the last finished study of this scenario, and
/// every time limit with where it comes from.
fn describe_time(plan: &Plan, results: &Path) {
    println!("time:");
    let planned = plan.variants.len() * plan.levels.len() * plan.runs as usize;
    match earlier_study(&results.join(&plan.name)) {
        Some(earlier) => println!("  expected: {}", expected_line(&earlier, planned)),
        None => println!(
            "  expected: not known yet: no finished study of {} under {} to go by (scripts/time-scenario.sh times one)",
            plan.name,
            results.display()
        ),
    }
    println!("  limits (each step ends at its limit; the worst case is far above the expected time):");
    for line in Limits::for_plan(plan).describe(plan) {
        println!("    {line}");
    }
}

/// What an earlier finished study of the same scenario took.
struct Earlier {
    folder: String,
    wall: Duration,
    timed_runs: usize,
}

/// The newest folder under `dir` (`<results>/<scenario>/`) whose meta.json says how long
/// its study took; folder names are timestamps, so the newest sorts last.
fn earlier_study(dir: &Path) -> Option<Earlier> {
    let mut folders: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).filter(|p| p.is_dir() && !p.is_symlink()).collect();
    folders.sort();
    folders.iter().rev().find_map(|folder| {
        let meta = crate::results::meta_json::read_meta(&folder.join("meta.json")).ok()?;
        meta.finished_at.as_ref()?;
        let wall = meta.time_budget?.wall_s;
        let timed_runs = meta.runs as usize * meta.levels.len() * meta.variants.len();
        (wall.is_finite() && wall > 0.0 && timed_runs > 0).then(|| Earlier {
            folder: folder.display().to_string(),
            wall: Duration::from_secs_f64(wall),
            timed_runs,
        })
    })
}

/// "about 1.2 min (the last study, results/tiny/20261203-101500, took 1.2 min for 12 timed runs)",
/// scaled to the runs planned now.
fn expected_line(earlier: &Earlier, planned_runs: usize) -> String {
    let expected = earlier.wall.mul_f64(planned_runs as f64 / earlier.timed_runs as f64);
    format!(
        "about {} (the last finished study, {}, took {} for {})",
        human(expected),
        earlier.folder,
        human(earlier.wall),
        count(earlier.timed_runs, "timed run", "timed runs")
    )
}

/// "45 s", "1.9 min", "12 min", "3.5 h": rounded as an estimate should be.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 90.0 {
        format!("{:.0} s", s)
    } else if s < 600.0 {
        format!("{:.1} min", s / 60.0)
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        seconds(Duration::from_secs_f64((s / 360.0).round() * 360.0))
    }
}

fn host_checks(plan: &Plan) -> Vec<Check> {
    if plan.hosts.is_empty() {
        return backend::check_host(plan);
    }
    // Every host at once: each connection is bounded, so is the whole check.
    let hosts: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = plan.hosts.iter().map(|host| (host, scope.spawn(|| backend::check_host(&plan.for_host(host))))).collect();
        threads.into_iter().map(|(host, t)| (host, t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))).collect()
    });
    hosts
        .into_iter()
        .flat_map(|(host, lines)| {
            lines.into_iter().map(move |(what, result)| (format!("host {} ({}): {what}", host.name, host.uri), result))
        })
        .collect()
}

/// A scenario that does not validate still says which QEMU and accelerator it wants (or
/// the defaults): those are checked too, so one run of `bench check` shows every problem.
fn host_checks_without_plan(path: &Path, overrides: &scenario::Overrides) -> Vec<Check> {
    let Some(file) = std::fs::read_to_string(path).ok().and_then(|text| toml::from_str::<scenario::file::ScenarioFile>(&text).ok()) else {
        return Vec::new();
    };
    let backend = overrides.backend.or(file.guest.backend).unwrap_or_default();
    if backend != scenario::file::BackendKind::Qemu || !file.hosts.is_empty() {
        return Vec::new();
    }
    backend::check_qemu_host(file.guest.accel, file.guest.qemu.as_deref())
}

/// "ok       accel: …" / "PROBLEM  agent: …", one per check.
fn check_lines(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .map(|(what, result)| match result {
            Ok(text) => format!("ok       {what}: {text}"),
            Err(error) => format!("PROBLEM  {what}: {error:#}"),
        })
        .collect()
}

/// "all 5 checks passed" or "2 problems (scenario, agent); 3 checks passed".
fn summary(checks: &[Check]) -> String {
    let problems: Vec<&str> = checks.iter().filter(|(_, r)| r.is_err()).map(|(what, _)| what.as_str()).collect();
    if problems.is_empty() {
        return format!("all {} passed", count(checks.len(), "check", "checks"));
    }
    format!(
        "{} ({}); {} passed",
        count(problems.len(), "problem", "problems"),
        problems.join(", "),
        count(checks.len() - problems.len(), "check", "checks")
    )
}

/// What the host is doing besides kbench, over one second: informative, never a problem
/// (the host may well be quiet by the time the study runs).
fn host_state() -> String {
    let sample = host_noise::NoiseSample::start(&[std::process::id()]).and_then(|sample| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        sample.finish()
    });
    match sample {
        Ok(noise) => format!(
            "load {:.2}, other processes {:.0} % of a CPU over 1 s, steal {:.1} %, governor {}, boost {}",
            noise.load1, noise.other_cpu_percent, noise.steal_percent, noise.governor, noise.boost
        ),
        Err(error) => format!("cannot sample: {error:#}"),
    }
}

/// Free space where the results folder will be (or its nearest existing parent), for
/// the study and the `saved_mib` its saved guests take there (`reuse = "snapshot"`).
fn free_space(results: &Path, saved_mib: u64) -> Result<String> {
    let free_mib = room_for_results(results, saved_mib)?;
    Ok(match saved_mib {
        0 => format!("{} ({free_mib} MiB free)", results.display()),
        _ => format!("{} ({free_mib} MiB free; saved guests take up to {saved_mib} MiB of it)", results.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(problems: &[&str], ok: usize) -> Vec<Check> {
        let mut checks: Vec<Check> = (0..ok).map(|i| (format!("fine{i}"), Ok("fine".to_string()))).collect();
        checks.extend(problems.iter().map(|p| (p.to_string(), Err(anyhow::anyhow!("broken")))));
        checks
    }

    #[test]
    fn the_summary_counts_problems_and_names_them() {
        assert_eq!(summary(&checks(&[], 5)), "all 5 checks passed");
        assert_eq!(summary(&checks(&[], 1)), "all 1 check passed");
        assert_eq!(summary(&checks(&["scenario", "accel"], 3)), "2 problems (scenario, accel); 3 checks passed");
        assert_eq!(summary(&checks(&["agent"], 1)), "1 problem (agent); 1 check passed");
        let lines = check_lines(&checks(&["agent"], 1));
        assert_eq!(lines, ["ok       fine0: fine", "PROBLEM  agent: broken"]);
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(count(1, "round", "rounds"), "1 round");
        assert_eq!(count(3, "round", "rounds"), "3 rounds");
        assert_eq!(count(0, "run", "runs"), "0 runs");
    }

    #[test]
    fn the_expected_time_scales_the_last_study_to_the_runs_planned() {
        let earlier = Earlier { folder: "results/tiny/20261203-101500".into(), wall: Duration::from_secs(72), timed_runs: 12 };
        assert_eq!(
            expected_line(&earlier, 24),
            "about 2.4 min (the last finished study, results/tiny/20261203-101500, took 72 s for 12 timed runs)"
        );
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(116)), "1.9 min");
        assert_eq!(human(Duration::from_secs(12 * 60 + 10)), "12 min");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 1000)), "3.3 h");
    }

    #[test]
    fn no_earlier_study_means_no_estimate() {
        let dir = tempfile::tempdir().unwrap();
        assert!(earlier_study(&dir.path().join("tiny")).is_none());
        std::fs::create_dir_all(dir.path().join("tiny/20261203-101500")).unwrap();
        std::fs::write(dir.path().join("tiny/20261203-101500/meta.json"), "{}").unwrap();
        assert!(earlier_study(&dir.path().join("tiny")).is_none(), "an unreadable meta.json is no estimate");
    }
}
