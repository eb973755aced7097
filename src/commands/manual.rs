//! `bench completions SHELL` and `bench man`: generated from the clap definitions in
//! cli.rs, so that they never disagree with `--help`.

use super::EXIT_OK;
use crate::commands::cli::{Cli, CompletionsArgs, ManArgs};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::Path;

pub fn completions(args: &CompletionsArgs) -> Result<u8> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "bench", &mut std::io::stdout());
    Ok(EXIT_OK)
}

pub fn man(args: &ManArgs) -> Result<u8> {
    let command = Cli::command();
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page).context("cannot render the manual page")?;
            use std::io::Write;
            std::io::stdout().write_all(&page).context("cannot write the manual page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(dir, command)?;
            println!("manual pages written to {}", dir.display());
        }
    }
    Ok(EXIT_OK)
}

/// bench.1, then bench-run.1, bench-compare.1, … (clap_mangen names subcommand pages so).
fn write_pages(dir: &Path, command: clap::Command) -> Result<()> {
    clap_mangen::generate_to(command, dir).with_context(|| format!("cannot write the manual pages into {}", dir.display()))
}
