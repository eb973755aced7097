//! The command line: `bench run`, `bench report`, `bench compare`, `bench check`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0    everything ran and every run succeeded
  1    a run failed, a guest did not boot as asked, or (compare) a significant regression
  2    unusable input: a bad scenario, a missing file, a host that cannot run it
  130  interrupted by Ctrl-C (143: by SIGTERM); what was measured is kept and reported";

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    version,
    about = "kbench: what does this kernel configuration or boot option cost?",
    long_about = "kbench boots a QEMU guest for each variant of a scenario (a kernel and a kernel \
command line), runs a workload such as a kernel compile inside it at several -j levels, measures \
every run from inside the guest (elapsed, user, system, percent CPU, context switches, sleeps), \
and writes each run to runs.csv the moment it finishes.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot every variant of a scenario, measure its runs, and report.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Validate a scenario and this host (QEMU, KVM, agent, disk space) without booting.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The scenario file (TOML) to validate.
    pub scenario: PathBuf,
    /// Where `bench run` would create its results folder.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The static in-guest agent; found beside `bench` or in target/ by default.
    #[arg(long, env = "KBENCH_AGENT")]
    pub agent: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML); see docs/scenario.md. With --resume it may be left out:
    /// the file the study started from is read again.
    #[arg(required_unless_present = "resume")]
    pub scenario: Option<PathBuf>,
    /// Finish an interrupted study in its results folder: only the runs missing from its
    /// runs.csv are run. Refused when the scenario or any kernel, initrd or disk changed.
    #[arg(long, value_name = "RESULTS_DIR")]
    pub resume: Option<PathBuf>,
    /// Where results folders are created: RESULTS/<scenario name>/<timestamp>/.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The static in-guest agent; found beside `bench` or in target/ by default.
    #[arg(long, env = "KBENCH_AGENT")]
    pub agent: Option<PathBuf>,
}
