//! `bench pool [SCENARIO]`: kbench's volumes on a libvirt host, and their pruning.

use crate::commands::cli::PoolArgs;
use anyhow::Result;

#[cfg(not(feature = "libvirt"))]
pub fn pool(_args: &PoolArgs) -> Result<u8> {
    anyhow::bail!("{}", crate::backend::NOT_COMPILED_IN)
}

#[cfg(feature = "libvirt")]
pub fn pool(args: &PoolArgs) -> Result<u8> {
    use super::{EXIT_FAILED, EXIT_OK};
    use crate::backend::libvirt::{self, prune};
    use crate::scenario::{self, file::BackendKind, Overrides};
    use std::collections::HashSet;

    if !(args.older_than.is_finite() && args.older_than >= 0.0) {
        anyhow::bail!("--older-than: {} is not a number of days (0 or more)", args.older_than);
    }
    let (uri, current) = match &args.scenario {
        Some(path) => {
            let plan = scenario::load_with(path, &Overrides { backend: Some(BackendKind::Libvirt), uri: args.uri.clone() })?;
            let agent = crate::backend::agent_binary::locate(args.agent.as_deref()).ok();
            if agent.is_none() {
                eprintln!("note: no agent binary found: the scenario's initrds (with the agent appended) are not recognised as its own");
            }
            (
                plan.guest.uri.clone().unwrap_or_else(|| scenario::plan::DEFAULT_LIBVIRT_URI.into()),
                libvirt::plan_volume_names(&plan, agent.as_deref())?,
            )
        }
        None => (args.uri.clone().unwrap_or_else(|| scenario::plan::DEFAULT_LIBVIRT_URI.into()), HashSet::new()),
    };
    let conn = libvirt::connect(&uri, "`--uri` or the scenario's `guest.uri`")?;
    let entries = prune::entries(&conn)?;
    let in_use = prune::paths_in_use(&conn)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    println!("storage pool {} at {uri}: {} kbench volumes", libvirt::volumes::POOL, entries.len());
    let mut failed = 0;
    let (mut freed, mut removed) = (0u64, 0);
    for entry in &entries {
        let age_days = (now - entry.last_used).max(0.0) / 86_400.0;
        let state = match prune::keep_reason(entry, now, args.older_than, &current, &in_use) {
            Some(reason) => format!("kept: {reason}"),
            None if !args.prune => format!("unused for {} days or more: --prune removes it", args.older_than),
            None => match prune::remove(&conn, &entry.name) {
                Ok(()) => {
                    freed += entry.allocation;
                    removed += 1;
                    "removed".to_string()
                }
                Err(error) => {
                    failed += 1;
                    format!("NOT removed: {error:#}")
                }
            },
        };
        println!(
            "  {:<48} {:>8.1} MiB on disk of {:.1} MiB · last used {:.1} days ago · {state}",
            entry.name,
            entry.allocation as f64 / 1048576.0,
            entry.capacity as f64 / 1048576.0,
            age_days
        );
    }
    if args.prune {
        println!("removed {removed} volumes with their sidecars, {:.1} MiB freed", freed as f64 / 1048576.0);
    }
    Ok(if failed > 0 { EXIT_FAILED } else { EXIT_OK })
}
