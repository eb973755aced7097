//! The command line: `bench run`, `bench report`, `bench compare`, `bench history`,
//! `bench check`, and `bench completions` / `bench man` generated from these definitions.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes (one table for every subcommand):
  0    everything ran and every run succeeded; a gate (compare, history, run --gate):
       every gated metric is the same or better
  1    a run failed, a guest did not boot as asked, or a gate found a regression
  2    unusable input, nothing measured: a bad scenario, a missing file, a host that
       cannot run it, a results folder another bench is writing
  3    a gate cannot tell: a gated metric is inconclusive (or has too few runs) and
       nothing regressed (--inconclusive pass makes it 0, fail makes it 1)
  4    (run) the study broke after measuring started: the backend or the disk failed
       mid-study; every run measured is kept in runs.csv and reported
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
summary.csv, report.md, report.json, report.html and plots/ (PNG and SVG). Use it to re-render old results with \
other thresholds or another baseline, or to report a study that was interrupted. meta.json, when \
the folder has one, supplies the host and guest facts.\n\nA variant is called slower or faster \
than the baseline only when Welch's t-test gives p < ALPHA and the whole 95 % interval of the change \
lies beyond +/- THRESHOLD percent (criterion's rule); \"same\" when the whole 90 % interval (1 - 2 ALPHA) lies \
within +/- THRESHOLD percent (two one-sided tests); otherwise \"inconclusive\": the runs cannot tell, and \
summary.csv says the smallest change they could see (min_detectable_change_percent) and about how many runs a \
side would decide it (runs_needed). With fewer than 3 successful runs on a side there is no verdict, only \
\"too few runs\".",
        after_help = "Exit codes:\n  0    the reports were written\n  2    unusable input: no runs.csv, an unreadable row, a torn last row (`bench run --resume` sets it aside), rows that contradict each other \
or meta.json (named by line), an unknown baseline"
    )]
    Report(ReportArgs),
    /// Compare two results (say the old and the new kernel): fails (exit 1) when the new
    /// one is significantly worse.
    #[command(long_about = COMPARE_ABOUT, after_help = COMPARE_EXIT_CODES)]
    Compare(CompareArgs),
    /// The history of one study over several results (say one per kernel bump): fails
    /// (exit 1) when the last step is significantly worse.
    #[command(long_about = HISTORY_ABOUT, after_help = HISTORY_EXIT_CODES)]
    History(HistoryArgs),
    /// Split one study into a results folder per part, e.g. an old and a new kernel
    /// measured interleaved in one study, to compare them with `bench compare`.
    #[command(long_about = SPLIT_ABOUT, after_help = "Exit codes:\n  0    every part was written\n  2    unusable input: \
an unreadable study, a part with no variants, variants no part claims, a folder that is not empty")]
    Split(SplitArgs),
    /// Measure a kernel bump: every variant with the old and the new kernel, interleaved
    /// in one study, split per kernel and compared; fails (exit 1) when the new kernel is
    /// significantly worse.
    #[command(long_about = BUMP_ABOUT, after_help = BUMP_EXIT_CODES)]
    Bump(BumpArgs),
    /// Find the kernel (or boot option) that made it slower: K0 good, Kn bad, each step
    /// the midpoint against the good end in one interleaved study (a bump).
    #[command(long_about = BISECT_ABOUT, after_help = "Exit codes:\n  0    the endpoints do not differ: nothing to bisect\n  1    the first bad point was found (bisect.log, report.txt)\n  2    unusable input: a bad scenario, kernel or bisect.log\n  3    the endpoints, or a step at the most runs, cannot be told apart\n  130  interrupted by Ctrl-C (143: by SIGTERM); the same command resumes")]
    Bisect(BisectArgs),
    /// Pack what it takes to measure a study again on another machine: its scenario as
    /// run, meta.json, the checksums of its kernels, initrds and disk (the kernels
    /// themselves with --with-kernels), kbench's version and a README with the commands.
    #[command(
        after_help = "Exit codes:\n  0    the bundle was written\n  2    unusable input: not a results folder, a kernel that changed since the study (--with-kernels)"
    )]
    Bundle(BundleArgs),
    /// List kbench's volumes in the `kbench` storage pool of a libvirt host, and with
    /// --prune remove those not used for a while.
    #[command(long_about = POOL_ABOUT, after_help = "Exit codes:\n  0    listed (and pruned)\n  1    a volume could not be removed\n  2    unusable input: a bad scenario, a host that cannot be reached")]
    Pool(PoolArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(long_about = "Print a completion script for SHELL on standard output. For bash: \
`bench completions bash > ~/.local/share/bash-completion/completions/bench`; for zsh: \
`bench completions zsh > \"${fpath[1]}/_bench\"`; for fish: \
`bench completions fish > ~/.config/fish/completions/bench.fish`.")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one per subcommand into a folder.
    #[command(long_about = "Print bench(1) in roff on standard output (`bench man | man -l -`), or with \
--dir write bench.1 and bench-<subcommand>.1 for every subcommand into DIR (say \
/usr/local/share/man/man1).")]
    Man(ManArgs),
}

const COMPARE_ABOUT: &str = "\
Compare two results of the same scenario, typically the old and the new kernel. Rows are \
matched by variant and jobs level; for each metric asked for, both means ± SD, the change in \
percent, its 95 % interval (Fieller's, for the ratio of the means), Welch's p-value and a \
verdict are printed. Failed runs are excluded from the numbers (and counted).

Every compared metric gets one of three answers:
  changed       slower/faster (higher/lower): p < --alpha AND the whole 95 % interval of the
                change lies beyond ± --threshold (criterion's rule)
  same          the whole 90 % interval (1 − 2·alpha) lies within ± --threshold: equivalence
                shown by two one-sided tests (TOST) at --alpha
  inconclusive  neither: the runs were too few or too noisy to tell. Beside it, what the
                comparison could see (\"sees ±16 %\": the change it would call changed 4 times
                in 5) and about how many runs a side would decide it at the threshold.
With fewer than 3 successful runs on a side there is no test, only \"too few runs\".

Worked example: base 42.0 ± 3.2 s, new 43.0 ± 3.2 s, 5 runs each: +2.4 %, 95 % interval \
[-8.2 %, +14.2 %], p 0.631. Not a change (p is large), not the same (the interval reaches far \
past ± 1 %): \"inconclusive (sees ±16 %; ±1 % needs about 891 runs a side at this spread)\", \
exit 3. This study could only have seen a change of about 16 % or more. \
With a spread of 0.5 % and the same means it would have been \"slower\" (exit 1); with equal \
means, \"same\" (exit 0).

A change is a regression when it goes the worse way: higher \
elapsed, user, sys, context switches, sleeps or max RSS. Percent CPU is reported but never \
fails the comparison. Whatever the numbers, these fail it too: a row (variant and jobs level) \
with successful runs in BASE and none in NEW (all failed, or not run), runs that failed in \
NEW in a row where none failed in BASE, and a NEW whose runs all failed.

`*` (★ in Markdown) marks mmtests' rule: the bands mean ± 1.96 · SD of the two sides do not \
overlap. It is not the verdict.

The two results should differ only in what is studied: a warning names any difference in \
host CPU, accelerator (KVM vs TCG), QEMU version, guest CPUs or memory, guest disk or \
warm-up (read from meta.json; a bare runs.csv has none, and the facts are then unknown).";

const COMPARE_EXIT_CODES: &str = "\
Exit codes:
  0  every gated metric is the same or better (percent CPU and the guest's CPU split never gate)
  1  a significant regression beyond the threshold in at least one compared metric, a row
     of BASE with no successful run in NEW, runs failed only in NEW, or every NEW run failed
  3  a gated metric is inconclusive (or has too few runs) and nothing regressed: the runs
     cannot tell; --inconclusive pass turns it into 0 (kbench's old behaviour), fail into 1
  2  unusable input: an unreadable file, another runs.csv schema, rows that contradict each
     other or meta.json, different workloads, different -j for the same jobs level, no
     variant and jobs level in common, every BASE run failed, --output naming an input or a
     file in a results folder, or a bad option";

const HISTORY_ABOUT: &str = "\
The history of one study over several results folders, typically one per kernel bump: per \
variant, jobs level and metric, the mean ± SD and 95 % interval of each measurement and the \
guest kernel it ran, and each step judged against the measurement before and against the \
first: changed, same or inconclusive, by the rules of `bench compare`.

Give the results folders oldest first, or one folder that holds them all (say \
results/<scenario>/): every results folder under it is used, ordered by meta.json's \
started_at.";

const HISTORY_EXIT_CODES: &str = "\
Exit codes:
  0  the last step (the newest against the one before) is the same or better in every
     gated metric
  1  the last step is a significant regression beyond the threshold in a compared metric
  3  a gated metric of the last step is inconclusive (or has too few runs) and nothing
     regressed; --inconclusive pass turns it into 0, fail into 1
  2  unusable input: fewer than two results folders, an unreadable file, different
     workloads, no variant and jobs level measured in all of them, or a bad option";

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write bench.1 and bench-<subcommand>.1 into this folder instead of printing bench.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// A table per variant, level and metric, for a terminal or a CI log.
    Text,
    /// The same as Markdown tables, for a CI summary.
    Markdown,
    /// The whole history, every number at full precision.
    Json,
    /// One row per variant, level, metric and measurement.
    Csv,
}

/// What `--metric` of `bench compare` and `bench history` accepts: every metric's name
/// (`stats::Metric::name`) and `all`.
const METRIC_CHOICES: [&str; 21] = [
    "elapsed",
    "user",
    "sys",
    "percent_cpu",
    "ctx_switches",
    "sleeps",
    "max_rss",
    "minor_faults",
    "major_faults",
    "slab_peak",
    "slab_end",
    "sunreclaim_peak",
    "sreclaimable_peak",
    "pgalloc",
    "pgfree",
    "pgfault",
    "guest_user_percent",
    "guest_sys_percent",
    "guest_softirq_percent",
    "guest_steal_percent",
    "all",
];

/// What `bench compare` and `bench history` judge, and by which rule.
#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    /// The metrics to judge, separated by commas; `all` for every one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "elapsed",
        value_parser = clap::builder::PossibleValuesParser::new(METRIC_CHOICES)
    )]
    pub metric: Vec<String>,
    /// Noise threshold: a change needs its whole 95 % interval beyond ± this percentage,
    /// "same" needs its whole 90 % interval within it ("2%" or "2").
    #[arg(long, default_value = "1%", value_parser = parse_percent)]
    pub threshold: f64,
    /// Significance level of Welch's t-test (and of the two one-sided tests for "same").
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// What an inconclusive gated metric (or one with too few runs) does when nothing
    /// regressed: exit 3 [default], pass (exit 0, kbench's old behaviour) or fail (exit 1).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = Inconclusive::Exit3)]
    pub inconclusive: Inconclusive,
}

/// `--inconclusive`: what the gate does when it cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Inconclusive {
    /// Exit 3: the gate cannot tell.
    #[value(name = "exit3")]
    Exit3,
    /// Exit 0, as if the metric were the same.
    Pass,
    /// Exit 1, as a regression.
    Fail,
}

impl JudgeArgs {
    pub fn thresholds(&self) -> crate::stats::Thresholds {
        crate::stats::Thresholds { alpha: self.alpha, noise_percent: self.threshold }
    }
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Results folders of `bench run` (or their runs.csv), oldest first; or one folder
    /// holding results folders, ordered by when they were measured.
    #[arg(required = true, value_name = "RESULTS")]
    pub results: Vec<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// How to print the history.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
    /// Write the history to FILE instead of standard output (the outcome line is still
    /// printed).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also draw the trend: a panel per metric, a line per variant and level (FILE.svg
    /// or FILE.png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Also write the history as one self-contained page (tables and the trend inline),
    /// like each results folder's report.html.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

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
    /// JUnit XML for CI test reports: a test case per variant, level and metric, a
    /// regression a failed test.
    Junit,
}

const SPLIT_ABOUT: &str = "Split one study into a results folder per part: the variants whose names start \
with PREFIX, renamed without it, with their runs.csv rows and meta.json facts, and every report of \
`bench report`. A kernel bump measured as one \
interleaved study (variants old.off, old.poison, new.off, new.poison, as `bench bump` measures them) becomes \
two studies, old/ and new/, that `bench compare old new` gates like any two results, and `bench history` \
can keep. The baseline of each part is the study's baseline without its prefix.\n\nExample: bench split \
results/slub/20261129-100000 old.=results/ci/old new.=results/ci/new";

#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// The study: a results folder of `bench run`, or its runs.csv.
    pub study: PathBuf,
    /// A part: a variant-name prefix, `=`, a new (or empty) folder for its results.
    #[arg(required = true, value_name = "PREFIX=FOLDER")]
    pub parts: Vec<String>,
    /// Leave out variants no PREFIX claims, instead of refusing.
    #[arg(long)]
    pub allow_unclaimed: bool,
    /// Each part gets the reports `bench report` writes, with these options.
    #[command(flatten)]
    pub report: ReportFlags,
}

const BUMP_ABOUT: &str = "Measure a kernel bump as one study: every variant V of SCENARIO twice, as old.V with the \
--old kernel and new.V with the --new kernel (a variant that names a kernel of its own keeps it on both sides: an \
A/A check), their boots interleaved in one random order from a seed written into the study's scenario. The \
study is then split per kernel (as `bench split`) and the halves compared (as `bench compare`, whose gate sets the \
exit code).\n\nEverything goes into one folder (-o): scenario.toml (the generated study, paths made absolute), \
study/<name>/<timestamp>/ (the interleaved study and its reports), old/ and new/ (its halves), compare.txt, \
compare.md, compare.json, compare.xml (JUnit) and mail.txt (what regressed, by how much, on what machine, how to \
measure it again). An interrupted bump continues with `bench bump --resume FOLDER`.\n\nExample: bench bump \
scenarios/slub.toml --old /boot/vmlinuz-6.1 --new linux/arch/x86/boot/bzImage --threshold 2% -o results/bump-6.2";

const BUMP_EXIT_CODES: &str = "\
Exit codes (those of `bench compare`, once the study ran):
  0    every gated metric the same or better
  1    a significant regression, or runs that failed only with the new kernel
  2    unusable input: a bad scenario or kernel, a folder that is not empty, every old run failed
  3    the comparison cannot tell (a gated metric inconclusive; see --inconclusive)
  4    the study broke after measuring started; `bench bump --resume FOLDER` continues
  130  interrupted by Ctrl-C (143: by SIGTERM); `bench bump --resume FOLDER` continues";

#[derive(Debug, clap::Args)]
pub struct BumpArgs {
    /// The scenario whose variants are measured with both kernels.
    #[arg(required_unless_present = "resume")]
    pub scenario: Option<PathBuf>,
    /// The old kernel (the baseline), and optionally its initrd: KERNEL[,INITRD].
    #[arg(long, value_name = "KERNEL[,INITRD]", required_unless_present = "resume")]
    pub old: Option<String>,
    /// The new kernel, and optionally its initrd: KERNEL[,INITRD].
    #[arg(long, value_name = "KERNEL[,INITRD]", required_unless_present = "resume")]
    pub new: Option<String>,
    /// Kernel options added to every old variant's command line.
    #[arg(long, value_name = "OPTIONS", default_value = "")]
    pub old_cmdline: String,
    /// Kernel options added to every new variant's command line (say the boot option a
    /// bump turns on).
    #[arg(long, value_name = "OPTIONS", default_value = "")]
    pub new_cmdline: String,
    /// The bump's folder; new or empty [default: results/bump-<time>].
    #[arg(long, short, value_name = "DIR", conflicts_with = "resume")]
    pub output: Option<PathBuf>,
    /// Continue an interrupted bump in its folder: the study's missing runs, then the
    /// split and the comparison (give the comparison's options again).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scenario", "old", "new", "old_cmdline", "new_cmdline"])]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// The static in-guest agent; found beside `bench` or in target/ by default.
    #[arg(long, env = "KBENCH_AGENT")]
    pub agent: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendFlags,
}

const BISECT_ABOUT: &str = "Find the first bad kernel between a good K0 and a bad Kn. The endpoints are measured \
first (if they do not differ there is nothing to bisect); then each step measures the midpoint against the good end \
in one interleaved study, as `bench bump` does, and `bench compare`'s gate decides: the same moves the good end, a \
regression the bad end, an inconclusive step is measured again with twice the runs (up to --max-runs), then called \
undecidable. With --options \"a=1 b=2 c=3\" the points are the scenario's kernel with no option, the first, the first \
two, ...: the search names the option that carries the cost.\n\nEverything goes into one folder (-o): bisect.log \
(each step with its change, interval, runs and time, and a good/bad line like `git bisect log`), steps/ (each \
step's bump folder) and report.txt. Run the same command again to resume: steps in bisect.log are not repeated, \
and a step that was interrupted resumes its study. With --build CMD --revs GOOD..BAD the points are the commits of \
`git rev-list GOOD..BAD` (GOOD first), and each one the search visits is built by CMD, {rev} replaced by the commit; \
the last line CMD prints is KERNEL[,INITRD], copied into kernels/<commit>/ (a resumed bisect builds nothing twice).\
\n\nExamples: bench bisect scenarios/quick.toml --kernels builds/ -o results/bisect-6.2\n  \
bench bisect scenarios/quick.toml --revs v6.1..v6.2 --build 'scripts/my-build.sh {rev}' -o results/bisect-6.2";

#[derive(Debug, clap::Args)]
pub struct BisectArgs {
    /// The scenario every step measures.
    pub scenario: PathBuf,
    /// The kernels in order, K0 good and the last bad, each KERNEL[,INITRD]; or one folder
    /// whose files sort in that order.
    #[arg(long, num_args = 1.., value_name = "KERNEL", required_unless_present_any = ["options", "build"], conflicts_with_all = ["options", "build"])]
    pub kernels: Vec<String>,
    /// Build each commit the search visits: CMD with {rev} replaced by the commit, run by
    /// sh in the current folder; the last line it prints is KERNEL[,INITRD].
    #[arg(long, value_name = "CMD", requires = "revs", conflicts_with = "options")]
    pub build: Option<String>,
    /// GOOD..BAD: the points are GOOD and the commits of `git rev-list GOOD..BAD`, oldest first.
    #[arg(long, value_name = "GOOD..BAD", requires = "build")]
    pub revs: Option<String>,
    /// The most one build may take, in minutes; then it is stopped and the bisect with it.
    #[arg(long, value_name = "MINUTES", default_value_t = 240)]
    pub build_timeout: u64,
    /// Bisect over boot options of the scenario's kernel instead: "a=1 b=2 c=3".
    #[arg(long, value_name = "OPTIONS")]
    pub options: Option<String>,
    /// The bisect's folder; the same folder resumes it [default: results/bisect-<time>].
    #[arg(long, short, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Runs a side an inconclusive step may grow to (doubling from the scenario's runs).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_runs: u32,
    /// Print the points, the steps at most and an estimate of the time; measure nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// The static in-guest agent; found beside `bench` or in target/ by default.
    #[arg(long, env = "KBENCH_AGENT")]
    pub agent: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendFlags,
}

#[derive(Debug, clap::Args)]
pub struct BundleArgs {
    /// A results folder of `bench run` (or of a bump's study).
    pub results: PathBuf,
    /// The bundle to write (a .tar.gz).
    #[arg(long, short, value_name = "FILE", default_value = "repro.tar.gz")]
    pub output: PathBuf,
    /// Also pack every kernel and initrd the study booted (checked against the sha256 it
    /// measured); without it the other machine needs them at the same paths.
    #[arg(long)]
    pub with_kernels: bool,
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
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// How to print the comparison.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
    /// Write the comparison to FILE instead of standard output (the outcome line is
    /// still printed). FILE may not be an input, nor lie in a results folder (a folder
    /// holding runs.csv or meta.json, or below one).
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

const POOL_ABOUT: &str = "List the volumes kbench uploaded into the `kbench` storage pool of a libvirt host \
(name, size on the host, last used), and with --prune remove the ones no study used for --older-than days. \
Only kbench's own pairs are looked at (`<file>-<sha16>` with its `.sha256` sidecar); a pair a running domain \
has open, or one that the given SCENARIO boots, is always kept. \"Last used\" is when a study last found the \
volume (its sidecar is written again each time).";

#[derive(Debug, clap::Args)]
pub struct PoolArgs {
    /// A scenario whose files are kept, and whose guest.uri is the host [default: none,
    /// and the host is --uri].
    pub scenario: Option<PathBuf>,
    /// The libvirt connection URI [default: the scenario's guest.uri, else qemu:///system].
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// Remove the pairs not used for --older-than days (without it: only list).
    #[arg(long)]
    pub prune: bool,
    /// Days a pair must have gone unused before --prune removes it.
    #[arg(long, value_name = "DAYS", default_value_t = 30.0)]
    pub older_than: f64,
    /// The static in-guest agent (the scenario's initrds are kept with it appended);
    /// found beside `bench` or in target/ by default.
    #[arg(long, env = "KBENCH_AGENT")]
    pub agent: Option<PathBuf>,
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
    #[command(flatten)]
    pub backend: BackendFlags,
    /// An earlier study of these variants and levels (a results folder or its runs.csv):
    /// print, from its spread, the smallest change the planned runs can detect and the runs
    /// a side that would decide each comparison at --threshold.
    #[arg(long, value_name = "RESULTS")]
    pub like: Option<PathBuf>,
    /// With --like: the noise threshold of the verdicts, as `bench compare --threshold`.
    #[arg(long, default_value = "1%", value_parser = parse_percent, requires = "like")]
    pub threshold: f64,
    /// With --like: the significance level, as `bench compare --alpha`.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha, requires = "like")]
    pub alpha: f64,
}

impl CheckArgs {
    pub fn thresholds(&self) -> crate::stats::Thresholds {
        crate::stats::Thresholds { alpha: self.alpha, noise_percent: self.threshold }
    }
}

/// Which hypervisor boots the guests; overrides the scenario's `[guest]` keys.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendFlags {
    /// Who boots the guests [default: the scenario's guest.backend, else qemu]: qemu (a
    /// QEMU child of bench) or libvirt (a libvirt daemon at --uri; see docs/libvirt.md).
    #[arg(long, value_enum)]
    pub backend: Option<crate::scenario::file::BackendKind>,
    /// The libvirt connection URI, e.g. qemu:///system or qemu+ssh://root@lab1/system
    /// [default: the scenario's guest.uri, else qemu:///system].
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
}

impl BackendFlags {
    pub fn overrides(&self) -> crate::scenario::Overrides {
        crate::scenario::Overrides { backend: self.backend, uri: self.uri.clone() }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML); see docs/scenario.md. With --resume it may be left out:
    /// the file the study started from is read again.
    #[arg(required_unless_present_any = ["resume", "from_bundle"])]
    pub scenario: Option<PathBuf>,
    /// Run the study a `bench bundle` packed: unpacked under RESULTS/bundles/, every
    /// kernel, initrd and disk checked against its sha256 first (a changed one is refused).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "resume"])]
    pub from_bundle: Option<PathBuf>,
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
    /// Gate the study on its own comparisons, as `bench compare` gates two studies: exit 1
    /// when a variant is significantly worse than the baseline in a --gate-metric, 3 when
    /// one cannot tell (inconclusive, too few runs), 0 when every one is the same or better.
    /// A run that failed still exits 1, a broken study 4.
    #[arg(long)]
    pub gate: bool,
    /// The metrics --gate judges, separated by commas; `all` for every one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "elapsed",
        requires = "gate",
        value_parser = clap::builder::PossibleValuesParser::new(METRIC_CHOICES)
    )]
    pub gate_metric: Vec<String>,
    /// With --gate: what an inconclusive gated metric does when nothing regressed: exit 3
    /// [default], pass (exit 0) or fail (exit 1).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = Inconclusive::Exit3, requires = "gate")]
    pub inconclusive: Inconclusive,
    #[command(flatten)]
    pub backend: BackendFlags,
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

#[cfg(test)]
mod tests {
    use super::METRIC_CHOICES;
    use crate::stats::Metric;

    #[test]
    fn metric_choices_are_every_metric_and_all() {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).chain(["all"]).collect();
        assert_eq!(METRIC_CHOICES.to_vec(), names);
    }
}
