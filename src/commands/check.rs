//! `bench check SCENARIO`: validates the scenario and this host without booting anything.

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::backend;
use crate::benchmark::limits::Limits;
use crate::commands::cli::CheckArgs;
use crate::backend::agent_binary;
use crate::host::noise as host_noise;
use crate::scenario;
use anyhow::Result;
use std::path::Path;

/// Below this, a long study may fill the disk with consoles and logs.
const MIN_FREE_MIB: u64 = 100;

pub fn check(args: &CheckArgs) -> Result<u8> {
    let plan = scenario::load_with(&args.scenario, &args.backend.overrides())?;
    let runs = plan.variants.len() * plan.levels.len() * plan.runs as usize;
    match plan.adaptive {
        None => println!(
            "scenario {}: ok: {} variants × {} jobs levels × {} runs = {runs} timed runs",
            args.scenario.display(),
            plan.variants.len(),
            plan.levels.len(),
            plan.runs
        ),
        Some(adaptive) => println!(
            "scenario {}: ok: {} variants × {} jobs levels × {} to {} runs (runs = \"auto\": {}) = at most {runs} timed runs",
            args.scenario.display(),
            plan.variants.len(),
            plan.levels.len(),
            adaptive.min_runs,
            adaptive.max_runs,
            match adaptive.decide_threshold_percent {
                Some(threshold) => format!("until each comparison with the baseline is changed or the same within ± {threshold} %"),
                None => format!("until the mean elapsed time is within ± {} %", adaptive.precision_percent),
            }
        ),
    }
    for variant in &plan.variants {
        println!("  variant {}: {} · {}", variant.name, variant.kernel.display(), variant.cmdline);
    }
    let levels: Vec<String> = plan.levels.iter().map(|l| format!("{} (-j {})", l.label, l.substitution())).collect();
    println!("  jobs levels: {}", levels.join(", "));
    if let Some(like) = &args.like {
        println!("what the planned runs can detect (80 % power, at the spread of an earlier study):");
        for line in super::check_like::planned_detection(&plan, like, &args.thresholds())? {
            println!("  {line}");
        }
    }
    let seed = match (plan.order.choice, plan.order.seed_from_clock) {
        (scenario::order::OrderChoice::Alternate, _) => String::new(),
        (_, true) => format!(" (seed {}, from the clock: `bench run` takes a new one)", plan.order.seed),
        (_, false) => format!(" (seed {})", plan.order.seed),
    };
    match crate::benchmark::runner::adaptive_target(&plan) {
        None => println!("  boots: {} rounds per variant, order {}{seed}", plan.rounds, plan.order.choice.name()),
        Some(target) => println!(
            "  boots: up to {} rounds per variant of {} runs per level each, order {}{seed}; a variant and level stops once precise",
            target.max_runs.div_ceil(target.runs_per_round()),
            target.runs_per_round(),
            plan.order.choice.name()
        ),
    }
    println!("time limits:");
    for line in Limits::for_plan(&plan).describe(&plan) {
        println!("  {line}");
    }

    let mut problems = 0;
    let mut verdict = |what: &str, result: Result<String>| match result {
        Ok(text) => println!("{what}: {text}"),
        Err(error) => {
            problems += 1;
            println!("{what}: PROBLEM: {error:#}");
        }
    };
    if plan.hosts.is_empty() {
        for (what, result) in backend::check_host(&plan) {
            verdict(&what, result);
        }
    }
    // Every host at once: each connection is bounded, so is the whole check.
    let hosts: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> =
            plan.hosts.iter().map(|host| (host, scope.spawn(|| backend::check_host(&plan.for_host(host))))).collect();
        threads.into_iter().map(|(host, t)| (host, t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))).collect()
    });
    for (host, lines) in hosts {
        println!("host {} ({}):", host.name, host.uri);
        for (what, result) in lines {
            verdict(&format!("  {what}"), result);
        }
    }
    verdict("agent", agent_binary::locate(args.agent.as_deref()).map(|p| p.display().to_string()));
    verdict("results", free_space(&args.results));
    println!("host: {}", host_state());
    Ok(if problems == 0 { EXIT_OK } else { EXIT_BAD_INPUT })
}

/// What the host is doing besides kbench, over one second: informative, never a problem
/// (the host may well be quiet by the time the study runs).
fn host_state() -> String {
    let sample = host_noise::NoiseSample::start(&[std::process::id()])
        .and_then(|sample| {
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

/// Free space where the results folder will be (or its nearest existing parent).
fn free_space(results: &Path) -> Result<String> {
    let mut dir = results.to_path_buf();
    while !dir.exists() {
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => dir = parent.to_path_buf(),
            _ => dir = std::path::PathBuf::from("."),
        }
    }
    let stat = nix::sys::statvfs::statvfs(&dir)?;
    let free_mib = stat.blocks_available() as u64 * stat.fragment_size() as u64 / (1024 * 1024);
    if nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_err() {
        anyhow::bail!("{} is not writable: choose another folder with --results", dir.display());
    }
    if free_mib < MIN_FREE_MIB {
        anyhow::bail!("only {free_mib} MiB free in {}", dir.display());
    }
    Ok(format!("{} ({free_mib} MiB free)", results.display()))
}
