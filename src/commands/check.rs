//! `bench check SCENARIO`: validates the scenario and this host without booting anything.

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::backend;
use crate::cli::CheckArgs;
use crate::{agent_binary, scenario};
use anyhow::Result;
use std::path::Path;

/// Below this, a long study may fill the disk with consoles and logs.
const MIN_FREE_MIB: u64 = 100;

pub fn check(args: &CheckArgs) -> Result<u8> {
    let plan = scenario::load_with(&args.scenario, &args.backend.overrides())?;
    let runs = plan.variants.len() * plan.levels.len() * plan.runs as usize;
    println!(
        "scenario {}: ok: {} variants × {} jobs levels × {} runs = {runs} timed runs",
        args.scenario.display(),
        plan.variants.len(),
        plan.levels.len(),
        plan.runs
    );
    for variant in &plan.variants {
        println!("  variant {}: {} · {}", variant.name, variant.kernel.display(), variant.cmdline);
    }
    let levels: Vec<String> = plan.levels.iter().map(|l| format!("{} (-j {})", l.label, l.substitution())).collect();
    println!("  jobs levels: {}", levels.join(", "));

    let mut problems = 0;
    let mut verdict = |what: &str, result: Result<String>| match result {
        Ok(text) => println!("{what}: {text}"),
        Err(error) => {
            problems += 1;
            println!("{what}: PROBLEM: {error:#}");
        }
    };
    for (what, result) in backend::check_host(&plan) {
        verdict(&what, result);
    }
    verdict("agent", agent_binary::locate(args.agent.as_deref()).map(|p| p.display().to_string()));
    verdict("results", free_space(&args.results));
    Ok(if problems == 0 { EXIT_OK } else { EXIT_BAD_INPUT })
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
