//! `bench`: kbench's command-line entry point.

use clap::Parser;
use kbench::{cli, commands, interrupt};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if !matches!(cli.command, cli::Command::Run(_) | cli::Command::Bump(_) | cli::Command::Bisect(_)) {
        interrupt::restore_default_sigpipe();
    }
    let result = match cli.command {
        cli::Command::Run(args) => commands::run::run(&args),
        cli::Command::Check(args) => commands::check::check(&args),
        cli::Command::Report(args) => commands::report::report(&args),
        cli::Command::Compare(args) => commands::compare::compare(&args),
        cli::Command::History(args) => commands::history::history(&args),
        cli::Command::Split(args) => commands::split::split(&args),
        cli::Command::Bump(args) => commands::bump::bump(&args),
        cli::Command::Bundle(args) => commands::bundle::bundle(&args),
        cli::Command::Bisect(args) => commands::bisect::bisect(&args),
        cli::Command::Pool(args) => commands::pool::pool(&args),
        cli::Command::Completions(args) => commands::manual::completions(&args),
        cli::Command::Man(args) => commands::manual::man(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(commands::EXIT_BAD_INPUT)
        }
    }
}
