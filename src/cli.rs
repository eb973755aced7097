//! The command line: `bench run`, `bench report`, `bench compare`, `bench check`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0    everything ran and every run succeeded
  1    a run failed, a guest did not boot as asked, or (compare) a significant regression
  2    unusable input: a bad scenario, a missing file, a host that cannot run it, a
       results folder another bench is writing
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
        after_help = "Exit codes:\n  0    the reports were written\n  2    unusable input: no runs.csv, an unreadable row, a torn last row (`bench run --resume` sets it aside), an unknown baseline"
    )]
    Report(ReportArgs),
    /// Compare two results (say the old and the new kernel): fails (exit 1) when the new
    /// one is significantly worse.
    #[command(long_about = COMPARE_ABOUT, after_help = COMPARE_EXIT_CODES)]
    Compare(CompareArgs),
}

const COMPARE_ABOUT: &str = "\
Compare two results of the same scenario, typically the old and the new kernel. Rows are \
matched by variant and jobs level; for each metric asked for, both means ± SD, the change in \
percent, its 95 % interval, Welch's p-value and a verdict are printed. Failed runs are \
excluded (and counted).

A change is significant when p < --alpha AND the whole 95 % interval of the change lies \
beyond ± --threshold (criterion's rule). It is a regression when it goes the worse way: \
higher elapsed, user, sys, context switches, sleeps or max RSS. Percent CPU is reported but \
never fails the comparison.

The two results should differ only in what is studied: a warning names any difference in \
host CPU, accelerator (KVM vs TCG), QEMU version, guest CPUs or memory, guest disk or \
warm-up (read from meta.json; a bare runs.csv has none, and the facts are then unknown).";

const COMPARE_EXIT_CODES: &str = "\
Exit codes:
  0  no significant regression in any compared metric
  1  a significant regression beyond the threshold in at least one compared metric
  2  unusable input: an unreadable file, another runs.csv schema, different workloads,
     different -j for the same jobs level, no variant and jobs level in common, no
     successful runs to compare, or a bad option";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Aligned tables for a terminal or a CI log.
    Text,
    /// mmtests-style tables for a CI summary or a mailing-list reply.
    Markdown,
    /// The whole comparison, every number at full precision.
    Json,
    /// One row per matched row and metric.
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline (old kernel): a results folder of `bench run`, or its runs.csv.
    pub base: PathBuf,
    /// The candidate (new kernel): a results folder of `bench run`, or its runs.csv.
    pub new: PathBuf,
    /// Pair variants whose names differ: a base variant, `=`, its name in NEW. Repeat
    /// the option or separate pairs with commas.
    #[arg(long, value_name = "OLD=NEW", value_delimiter = ',')]
    pub map: Vec<String>,
    /// The metrics to compare, separated by commas; `all` for every one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "elapsed",
        value_parser = clap::builder::PossibleValuesParser::new(
            ["elapsed", "user", "sys", "percent_cpu", "ctx_switches", "sleeps", "max_rss", "all"]
        )
    )]
    pub metric: Vec<String>,
    /// Noise threshold: a change whose 95 % interval reaches within ± this percentage
    /// is no significant change ("2%" or "2").
    #[arg(long, default_value = "1%", value_parser = parse_percent)]
    pub threshold: f64,
    /// Significance level of Welch's t-test.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// How to print the comparison.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
    /// Write the comparison to FILE instead of standard output (the outcome line is
    /// still printed).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a percentage such as 2% or 0.5")),
    }
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value < 1.0 => Ok(value),
        _ => Err(format!("{text:?} is not a significance level between 0 and 1 such as 0.05")),
    }
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
    /// runs.csv are run. Refused when the scenario or any kernel, initrd or disk changed,
    /// when runs.csv holds a row the scenario does not plan, or while another bench runs
    /// in the folder. A torn last row is moved to runs.csv.torn-<time> and run again.
    #[arg(long, value_name = "RESULTS_DIR")]
    pub resume: Option<PathBuf>,
    /// With --resume: measure the failed runs again too. Their rows move from runs.csv
    /// to runs-failed.csv (kept for the record; statistics read runs.csv only).
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,
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
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0, value_parser = parse_percent)]
    pub threshold: f64,
    /// The variant the others are compared with [default: the scenario's baseline, else
    /// the first variant].
    #[arg(long, value_name = "VARIANT")]
    pub baseline: Option<String>,
}
