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
    /// Recompute every report of a results folder from its runs.csv alone.
    #[command(
        long_about = "Recompute every report of a results folder from its runs.csv alone: kernbench.txt, \
summary.csv, report.md, report.json and plots/ (PNG and SVG). Use it to re-render old results with \
other thresholds or another baseline, or to report a study that was interrupted. meta.json, when \
the folder has one, supplies the host and guest facts.\n\nA variant is called slower or faster \
than the baseline only when Welch's t-test gives p < ALPHA and the whole 95 % interval of the change \
lies beyond +/- THRESHOLD percent (criterion's rule); otherwise \"no significant change\".",
        after_help = "Exit codes:\n  0    the reports were written\n  2    unusable input: no runs.csv, an unreadable row, an unknown baseline"
    )]
    Report(ReportArgs),
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
    #[command(flatten)]
    pub report: ReportFlags,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A results folder written by `bench run` (it holds runs.csv).
    pub results: PathBuf,
    #[command(flatten)]
    pub report: ReportFlags,
}

/// How verdicts are reached; shared by `bench run` and `bench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportFlags {
    /// Significance level of Welch's t-test: a change needs p below it.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Noise threshold in percent: a change needs its whole 95 % interval beyond +/- this.
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0, value_parser = parse_threshold)]
    pub threshold: f64,
    /// The variant the others are compared with [default: the scenario's baseline, else
    /// the first variant].
    #[arg(long, value_name = "VARIANT")]
    pub baseline: Option<String>,
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(alpha) if alpha > 0.0 && alpha < 1.0 => Ok(alpha),
        _ => Err(format!("{text:?} is not a significance level between 0 and 1, such as 0.05")),
    }
}

fn parse_threshold(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(percent) if percent >= 0.0 && percent.is_finite() => Ok(percent),
        _ => Err(format!("{text:?} is not a threshold in percent of at least 0, such as 1 or 2.5")),
    }
}
