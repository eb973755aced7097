//! `bench bisect SCENARIO --kernels K0 … Kn`: K0 is good, Kn bad; which kernel first
//! made it slower? Each step is a bump (`bump::prepare` + `bump::measure`): the midpoint
//! against the good end in one interleaved study, judged by `bench compare`'s gate. A
//! *same* step moves the good end, a *changed* one the bad end, an *inconclusive* one is
//! measured again with twice the runs (up to --max-runs), then called undecidable.
//!
//! `--options "a=1 b=2 c=3"` bisects over boot options instead: point k is the
//! scenario's kernel with the first k options, so the search names the option that
//! carries the cost.
//!
//! bisect.log records each step as it ends (like `git bisect log`): a resumed bisect
//! replays it and repeats no step.

use super::bump::{self, pair::Side, Measured, Tools};
use super::{compare, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK};
use crate::commands::cli::BisectArgs;
use crate::compare::CompareReport;
use crate::report::format::{percent, percent_bounds};
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use toml::{Table, Value};

const LOG: &str = "bisect.log";

/// One point of the search: a kernel (or the scenario's), and the options it adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Changed,
    Inconclusive,
}

/// What one measured step found.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub outcome: Outcome,
    /// The change that decided it, for the log: "elapsed base -j 1 +12.3 % [+10.1, +14.5]".
    pub change: String,
}

/// Where the search stands: replayed from bisect.log, advanced by each step.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub good: usize,
    pub bad: usize,
    /// The endpoints were checked and differ.
    pub endpoints_differ: bool,
    /// How it ended, once it did.
    pub end: Option<End>,
    /// Runs a side of the last inconclusive measurement of `pending`.
    pub retry: Option<(usize, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The endpoints do not differ (or cannot be told apart).
    Endpoints(Outcome),
    /// The first bad point is `bad`.
    Found,
    /// This point stayed inconclusive at the most runs.
    Undecidable(usize),
}

impl State {
    pub fn new(points: usize) -> State {
        State { good: 0, bad: points - 1, endpoints_differ: false, end: None, retry: None }
    }

    /// The point to measure against `good` next, if the search goes on.
    pub fn next(&self) -> Option<usize> {
        match (self.end, self.endpoints_differ) {
            (Some(_), _) => None,
            (None, false) => Some(self.bad),
            (None, true) => Some((self.good + self.bad) / 2),
        }
    }

    /// The state after measuring `tested` against `good` with `runs` a side.
    pub fn advance(&mut self, tested: usize, outcome: Outcome, runs: u32, max_runs: u32) -> LogLine {
        let line = match (self.endpoints_differ, outcome) {
            (false, Outcome::Changed) => LogLine::Bad(tested),
            (false, Outcome::Same) => LogLine::Same(tested),
            (_, Outcome::Inconclusive) if runs < max_runs => LogLine::Inconclusive(tested, runs),
            (_, Outcome::Inconclusive) => LogLine::Undecidable(tested),
            (true, Outcome::Changed) => LogLine::Bad(tested),
            (true, Outcome::Same) => LogLine::Good(tested),
        };
        self.apply(&line);
        line
    }

    fn apply(&mut self, line: &LogLine) {
        self.retry = None;
        match *line {
            LogLine::Bad(i) => {
                self.bad = i;
                self.endpoints_differ = true;
            }
            LogLine::Good(i) => self.good = i,
            LogLine::Same(_) => self.end = Some(End::Endpoints(Outcome::Same)),
            LogLine::Inconclusive(i, runs) => self.retry = Some((i, runs)),
            LogLine::Undecidable(_) if !self.endpoints_differ => self.end = Some(End::Endpoints(Outcome::Inconclusive)),
            LogLine::Undecidable(i) => self.end = Some(End::Undecidable(i)),
        }
        if self.end.is_none() && self.endpoints_differ && self.bad - self.good <= 1 {
            self.end = Some(End::Found);
        }
    }
}

/// A line of bisect.log that moves the search (comments aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLine {
    Good(usize),
    Bad(usize),
    /// The endpoints do not differ.
    Same(usize),
    /// Inconclusive with this many runs a side: measured again with more.
    Inconclusive(usize, u32),
    Undecidable(usize),
}

impl LogLine {
    fn text(&self, points: &[Point]) -> String {
        let label = |i: usize| points.get(i).map_or("?", |p| p.label.as_str()).to_string();
        match *self {
            LogLine::Good(i) => format!("good {i} {}", label(i)),
            LogLine::Bad(i) => format!("bad {i} {}", label(i)),
            LogLine::Same(i) => format!("same {i} {}", label(i)),
            LogLine::Inconclusive(i, runs) => format!("inconclusive {i} {runs} {}", label(i)),
            LogLine::Undecidable(i) => format!("undecidable {i} {}", label(i)),
        }
    }

    fn parse(line: &str) -> Option<LogLine> {
        let mut words = line.split_whitespace();
        let verb = words.next()?;
        let index: usize = words.next()?.parse().ok()?;
        Some(match verb {
            "good" => LogLine::Good(index),
            "bad" => LogLine::Bad(index),
            "same" => LogLine::Same(index),
            "inconclusive" => LogLine::Inconclusive(index, words.next()?.parse().ok()?),
            "undecidable" => LogLine::Undecidable(index),
            _ => return None,
        })
    }
}

/// The state bisect.log leads to, and how many steps it records.
pub fn replay(log: &str, points: usize) -> Result<(State, usize)> {
    let mut state = State::new(points);
    let mut steps = 0;
    for (number, line) in log.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = LogLine::parse(line).with_context(|| format!("{LOG} line {}: cannot read {line:?}", number + 1))?;
        let (LogLine::Good(i) | LogLine::Bad(i) | LogLine::Same(i) | LogLine::Inconclusive(i, _) | LogLine::Undecidable(i)) = parsed;
        if i >= points {
            bail!("{LOG} line {}: point {i} does not exist (there are {points}); was the bisect started over other kernels?", number + 1);
        }
        state.apply(&parsed);
        steps += 1;
    }
    Ok((state, steps))
}

pub fn bisect(args: &BisectArgs) -> Result<u8> {
    let mut points = points(args)?;
    if points.len() < 2 {
        bail!("a bisect needs a good and a bad point: give at least two kernels (or one option)");
    }
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("bisect-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"))));
    let log_path = dir.join(LOG);
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let (mut state, mut steps) = replay(&log, points.len())?;
    let (scenario, runs) = scenario_runs(&args.scenario)?;
    let max_runs = args.max_runs.max(runs);
    if args.dry_run {
        print!("{}", plan(&points, &state, runs, max_runs, &log));
        return Ok(EXIT_OK);
    }
    std::fs::create_dir_all(dir.join("steps")).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    let mut append = |text: &str| -> Result<()> {
        log_file
            .write_all(text.as_bytes())
            .and_then(|()| log_file.sync_data())
            .with_context(|| format!("cannot write {}", log_path.display()))
    };
    if steps == 0 {
        append(&format!(
            "# bench bisect {}: {} points, good 0 ({}), bad {} ({}); threshold {} %, alpha {}\n",
            args.scenario.display(),
            points.len(),
            points[0].label,
            points.len() - 1,
            points[points.len() - 1].label,
            args.judge.threshold,
            args.judge.alpha
        ))?;
    } else {
        eprintln!("resuming: {steps} steps already in {}", log_path.display());
    }
    let started = Instant::now();
    let tools = Tools { judge: &args.judge, agent: args.agent.clone(), backend: &args.backend };
    while let Some(tested) = state.next() {
        let step_runs = match state.retry {
            Some((i, last)) if i == tested => (last * 2).min(max_runs),
            _ => runs,
        };
        steps += 1;
        let good = state.good;
        let folder = dir.join("steps").join(format!("{steps:02}-{good}-vs-{tested}-r{step_runs}"));
        eprintln!("== step {steps}: {} (good) against {} with {step_runs} runs a side", points[good].label, points[tested].label);
        let step_started = Instant::now();
        if let Some(command) = &args.build {
            for i in [good, tested] {
                if points[i].kernel.is_none() {
                    points[i] = built(&dir.join("kernels"), command, &points[i], Duration::from_secs(args.build_timeout * 60))?;
                }
            }
        }
        let result = match measure_step(&folder, &scenario, &dir, &points[good], &points[tested], step_runs, runs, &tools)? {
            Ok(result) => result,
            Err(code) => return Ok(code),
        };
        let line = state.advance(tested, result.outcome, step_runs, max_runs);
        let word = match result.outcome {
            Outcome::Same => "same",
            Outcome::Changed => "changed",
            Outcome::Inconclusive => "inconclusive",
        };
        append(&format!(
            "# step {steps}: {} vs {}: {word}, {}, {step_runs} runs a side, {:.0} s, {}\n{}\n",
            points[good].label,
            points[tested].label,
            result.change,
            step_started.elapsed().as_secs_f64(),
            folder.display(),
            line.text(&points)
        ))?;
    }
    let (summary, code) = conclusion(&state, &points);
    append(&format!("# {summary} ({steps} steps; this session {:.0} s)\n", started.elapsed().as_secs_f64()))?;
    let report_path = dir.join("report.txt");
    let report = format!("{summary}\n\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
    std::fs::write(&report_path, &report).with_context(|| format!("cannot write {}", report_path.display()))?;
    println!("{summary}");
    println!("bisect: {} ({LOG}, report.txt)", dir.display());
    Ok(code)
}

/// What the search found, and its exit code: 0 the endpoints are the same, 1 the first
/// bad point found, 3 the endpoints or a step could not be told apart.
fn conclusion(state: &State, points: &[Point]) -> (String, u8) {
    match state.end {
        Some(End::Found) => (
            format!("first bad: {} ({}); last good: {} ({})", state.bad, points[state.bad].label, state.good, points[state.good].label),
            EXIT_FAILED,
        ),
        Some(End::Endpoints(Outcome::Inconclusive)) => (
            format!(
                "cannot tell whether {} differs from {}: inconclusive at the most runs; nothing to bisect",
                points[points.len() - 1].label,
                points[0].label
            ),
            EXIT_INCONCLUSIVE,
        ),
        Some(End::Endpoints(_)) => {
            (format!("{} does not differ from {}: nothing to bisect", points[points.len() - 1].label, points[0].label), EXIT_OK)
        }
        Some(End::Undecidable(i)) => (
            format!(
                "undecidable: {} ({i}) is inconclusive against {} at the most runs; the first bad lies between {} and {}",
                points[i].label, points[state.good].label, points[state.good].label, points[state.bad].label
            ),
            EXIT_INCONCLUSIVE,
        ),
        None => ("the bisect did not end".into(), EXIT_BAD_INPUT),
    }
}

/// One step: `tested` against `good` as a bump in `folder` (resumed when it holds one).
/// Err(code): the study stopped (interrupted, broken) with that code.
#[allow(clippy::too_many_arguments)]
fn measure_step(
    folder: &Path,
    scenario: &Table,
    dir: &Path,
    good: &Point,
    tested: &Point,
    runs: u32,
    default_runs: u32,
    tools: &Tools,
) -> Result<Result<StepResult, u8>> {
    if !folder.join(bump::SCENARIO).is_file() {
        let source = dir.join(format!("scenario-r{runs}.toml"));
        let mut table = scenario.clone();
        if runs != default_runs {
            set_runs(&mut table, runs);
        }
        std::fs::write(&source, toml::to_string(&table).context("cannot write the step's scenario")?)
            .with_context(|| format!("cannot write {}", source.display()))?;
        let side = |prefix: &str, point: &Point| Side {
            prefix: prefix.into(),
            kernel: point.kernel.clone(),
            initrd: point.initrd.clone(),
            cmdline: point.cmdline.clone(),
        };
        bump::prepare(folder, &source, &[side("old.", good), side("new.", tested)], &tools.backend.overrides())?;
    }
    let report = match bump::measure(folder, tools)? {
        Measured::Stopped(code) => {
            eprintln!("the step stopped; `bench bisect` with the same arguments resumes it");
            return Ok(Err(code));
        }
        Measured::Compared { report, .. } => report,
    };
    let outcome = match compare::exit_code(&report, tools.judge) {
        EXIT_OK => Outcome::Same,
        EXIT_FAILED => Outcome::Changed,
        _ => Outcome::Inconclusive,
    };
    Ok(Ok(StepResult { outcome, change: change_line(&report) }))
}

/// The comparison that decided a step: a regression, else one that cannot tell, else the
/// first entry.
fn change_line(report: &CompareReport) -> String {
    let entry = report.entries.iter().find(|e| e.regression).or(report.entries.iter().find(|e| e.inconclusive)).or(report.entries.first());
    let Some(entry) = entry else { return "no comparison".into() };
    let p = &entry.pairing;
    let numbers = entry.comparison.as_ref().map_or("n/a".to_string(), |c| {
        let change = c.change_percent.map_or("n/a".into(), percent);
        let interval = c.change_ci95.map_or("n/a".into(), percent_bounds);
        format!("{change} {interval}")
    });
    format!("{} {} -j {}: {numbers}", entry.metric.name(), p.base_variant, p.jobs)
}

/// The scenario with its paths made absolute (the steps' scenarios live in the bisect's
/// folder), and its runs a side.
fn scenario_runs(path: &Path) -> Result<(Table, u32)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read scenario file {}", path.display()))?;
    let mut table: Table = text.parse().with_context(|| format!("{}: not TOML", path.display()))?;
    super::bump::pair::absolutize_paths(&mut table, path.parent().unwrap_or(Path::new(".")))?;
    let runs = match (table.get("runs"), table.get("max_runs")) {
        (Some(Value::Integer(runs)), _) => *runs,
        (Some(_), Some(Value::Integer(max))) => *max,
        (Some(_), _) => 20,
        (None, _) => 5,
    };
    Ok((table, u32::try_from(runs).unwrap_or(5).max(1)))
}

/// More runs a side for an inconclusive step: `runs`, or `max_runs` of `runs = "auto"`.
fn set_runs(table: &mut Table, runs: u32) {
    let key = if matches!(table.get("runs"), Some(Value::String(_))) { "max_runs" } else { "runs" };
    table.insert(key.into(), Value::Integer(i64::from(runs)));
    if let Some(Value::Integer(rounds)) = table.get("rounds") {
        if *rounds > i64::from(runs) {
            table.insert("rounds".into(), Value::Integer(i64::from(runs)));
        }
    }
}

/// `--kernels K0 … Kn` (each KERNEL[,INITRD], or one folder whose files sort in order), or
/// `--options "a b c"`: the scenario's kernel with none, the first, the first two, … options.
fn points(args: &BisectArgs) -> Result<Vec<Point>> {
    if let Some(revs) = &args.revs {
        return Ok(commits(revs)?
            .into_iter()
            .map(|rev| Point { label: rev, kernel: None, initrd: None, cmdline: String::new() })
            .collect());
    }
    if let Some(options) = &args.options {
        let words: Vec<&str> = options.split_whitespace().collect();
        return Ok((0..=words.len())
            .map(|k| Point {
                label: if k == 0 { "(no option)".into() } else { format!("+{}", words[k - 1]) },
                kernel: None,
                initrd: None,
                cmdline: words[..k].join(" "),
            })
            .collect());
    }
    let mut entries: Vec<String> = args.kernels.clone();
    if let [folder] = entries.as_slice() {
        if Path::new(folder).is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(folder)
                .with_context(|| format!("cannot read {folder}"))?
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.path().display().to_string())
                .collect();
            files.sort();
            entries = files;
        }
    }
    entries
        .iter()
        .map(|entry| {
            let side = bump::side("", "--kernels", entry, "")?;
            Ok(Point { label: entry.clone(), kernel: side.kernel, initrd: side.initrd, cmdline: String::new() })
        })
        .collect()
}

/// `--revs GOOD..BAD`: GOOD and the commits after it up to BAD, oldest first, as full
/// hashes (git in the current folder).
fn commits(revs: &str) -> Result<Vec<String>> {
    let Some((good, _)) = revs.split_once("..").filter(|(g, b)| !g.is_empty() && !b.is_empty()) else {
        bail!("--revs {revs}: expected GOOD..BAD, e.g. v6.1..v6.2");
    };
    let git = |args: &[&str]| -> Result<Vec<String>> {
        let out = Command::new("git").args(args).stdin(Stdio::null()).output().context("cannot run git (--revs needs a git tree)")?;
        if !out.status.success() {
            bail!("--revs {revs}: git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
    };
    let mut commits = git(&["rev-parse", "--verify", &format!("{good}^{{commit}}")])?;
    commits.extend(git(&["rev-list", "--reverse", revs])?);
    if commits.len() < 2 {
        bail!("--revs {revs}: no commit lies after {good}: nothing to bisect");
    }
    Ok(commits)
}

/// The point of commit `point.label` with its kernel built: `command` ({rev} replaced) run
/// by sh, its output in `<kernels>/<rev>/build.log`, the KERNEL[,INITRD] its last line names
/// copied beside it (the build tree moves on to other commits). Built once: a resumed
/// bisect finds the copies.
fn built(kernels: &Path, command: &str, point: &Point, limit: Duration) -> Result<Point> {
    let rev = &point.label;
    let folder = kernels.join(rev);
    let (kernel, initrd) = (folder.join("kernel"), folder.join("initrd"));
    let with = |kernel: PathBuf, initrd: Option<PathBuf>| Point { kernel: Some(kernel), initrd, ..point.clone() };
    if kernel.is_file() {
        return Ok(with(kernel, initrd.is_file().then_some(initrd)));
    }
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let log_path = folder.join("build.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?;
    let shell = command.replace("{rev}", rev);
    eprintln!("building {rev}: {shell} (output in {})", log_path.display());
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .args(["-c", &shell])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run sh -c {shell:?}"))?
    };
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for the build")? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            bail!("building {rev} took more than {} min (--build-timeout); see {}", limit.as_secs() / 60, log_path.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let printed = reader.join().unwrap_or_default();
    let _ = std::fs::OpenOptions::new().append(true).open(&log_path).and_then(|mut f| f.write_all(printed.as_bytes()));
    if !status.success() {
        bail!("building {rev} failed ({status}): see {}", log_path.display());
    }
    let Some(last) = printed.lines().map(str::trim).rfind(|l| !l.is_empty()) else {
        bail!("building {rev}: the command printed nothing; its last line must be KERNEL[,INITRD] (see {})", log_path.display());
    };
    let side = bump::side("", &format!("--build (commit {rev})"), last, "")?;
    let copy =
        |from: &Path, to: &Path| std::fs::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()));
    if let Some(from) = &side.initrd {
        copy(from, &initrd)?;
    }
    // The kernel last: its copy is what says the point is built.
    copy(side.kernel.as_deref().expect("bump::side gives a kernel"), &kernel)?;
    Ok(with(kernel, side.initrd.is_some().then_some(initrd)))
}

/// `--dry-run`: the points, the steps the search takes at most, and what each measures.
fn plan(points: &[Point], state: &State, runs: u32, max_runs: u32, log: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "points (0 good, {} bad):", points.len() - 1);
    for (i, point) in points.iter().enumerate() {
        let _ = writeln!(text, "  {i}: {}", point.label);
    }
    let span = state.bad.saturating_sub(state.good).max(1);
    let remaining =
        if state.end.is_some() { 0 } else { usize::from(!state.endpoints_differ) + (usize::BITS - (span - 1).leading_zeros()) as usize };
    let done = log.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
    let _ = writeln!(
        text,
        "steps: {done} done, at most {remaining} to go (the endpoints first, then halving {span} points), each one interleaved study of the scenario's variants with both points at {runs} runs a side (inconclusive: again with up to {max_runs})"
    );
    let times: Vec<f64> = log.lines().filter_map(|l| l.split(" runs a side, ").nth(1)?.split(" s,").next()?.trim().parse().ok()).collect();
    if times.is_empty() {
        let _ = writeln!(text, "time: a step takes what `bench run` of the scenario takes twice over (both points); no step measured yet");
    } else {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let _ =
            writeln!(text, "time: about {:.0} s a step from the {} measured, {:.0} s to go", mean, times.len(), mean * remaining as f64);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search over `n` points whose cost jumps at `first_bad`, with a fake measurement.
    fn search(n: usize, first_bad: Option<usize>, inconclusive_at: Option<usize>) -> (State, Vec<LogLine>) {
        let mut state = State::new(n);
        let mut lines = Vec::new();
        let mut runs = 5;
        while let Some(tested) = state.next() {
            let outcome = if Some(tested) == inconclusive_at {
                Outcome::Inconclusive
            } else if first_bad.is_some_and(|b| tested >= b) {
                Outcome::Changed
            } else {
                Outcome::Same
            };
            let line = state.advance(tested, outcome, runs, 20);
            runs = if let LogLine::Inconclusive(_, r) = line { r * 2 } else { 5 };
            lines.push(line);
            assert!(lines.len() < 50, "the search does not end");
        }
        (state, lines)
    }

    #[test]
    fn the_search_finds_the_first_bad_point_in_log2_steps() {
        for n in 2..=17 {
            for bad in 1..n {
                let (state, lines) = search(n, Some(bad), None);
                assert_eq!(state.end, Some(End::Found), "{n} {bad}");
                assert_eq!((state.good, state.bad), (bad - 1, bad), "{n} points, first bad {bad}: {lines:?}");
                let most = 1 + (usize::BITS - (n - 2).leading_zeros()) as usize;
                assert!(lines.len() <= most.max(1), "{n} {bad}: {} steps > {most}", lines.len());
            }
        }
    }

    #[test]
    fn equal_endpoints_stop_and_an_inconclusive_step_gets_more_runs_then_is_undecidable() {
        let (state, lines) = search(5, None, None);
        assert_eq!((state.end, lines), (Some(End::Endpoints(Outcome::Same)), vec![LogLine::Same(4)]));
        let (state, lines) = search(9, Some(6), Some(4));
        assert_eq!(state.end, Some(End::Undecidable(4)));
        let retries: Vec<u32> = lines.iter().filter_map(|l| if let LogLine::Inconclusive(4, r) = l { Some(*r) } else { None }).collect();
        assert_eq!(retries, [5, 10], "5 runs, then 10, then 20 (the cap): undecidable");
        let (state, _) = search(5, Some(1), Some(4));
        assert_eq!(state.end, Some(End::Endpoints(Outcome::Inconclusive)));
    }

    #[test]
    fn commits_are_built_once_by_the_command_and_copied() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let script = dir.path().join("build.sh");
        // Writes a kernel named after the commit, counts its builds, and prints the path last.
        std::fs::write(
            &script,
            "echo building >&2\nprintf \"kernel $1\" > \"$2/bzImage-$1\"\necho $1 >> \"$2/builds\"\necho noise\necho \"$2/bzImage-$1\"\n",
        )
        .unwrap();
        let command = format!("sh {} {{rev}} {}", script.display(), tree.display());
        let point = Point { label: "abc123".into(), kernel: None, initrd: None, cmdline: String::new() };
        let kernels = dir.path().join("kernels");
        let once = built(&kernels, &command, &point, Duration::from_secs(60)).unwrap();
        let kernel = once.kernel.clone().unwrap();
        assert_eq!((kernel.clone(), once.initrd.clone()), (kernels.join("abc123/kernel"), None));
        assert_eq!(std::fs::read_to_string(&kernel).unwrap(), "kernel abc123");
        assert!(std::fs::read_to_string(kernels.join("abc123/build.log")).unwrap().contains("building"));
        let again = built(&kernels, &command, &point, Duration::from_secs(60)).unwrap();
        assert_eq!(again, once);
        assert_eq!(std::fs::read_to_string(tree.join("builds")).unwrap(), "abc123\n", "built once");

        let failing = Point { label: "bad".into(), ..point.clone() };
        let error = built(&kernels, "echo oops; exit 3", &failing, Duration::from_secs(60)).unwrap_err().to_string();
        assert!(error.contains("building bad failed") && error.contains("build.log"), "{error}");
        let slow = Point { label: "slow".into(), ..point.clone() };
        let error = built(&kernels, "sleep 30", &slow, Duration::from_millis(300)).unwrap_err().to_string();
        assert!(error.contains("--build-timeout"), "{error}");
        let nothing = Point { label: "none".into(), ..point };
        let error = built(&kernels, "echo /no/such/kernel", &nothing, Duration::from_secs(60)).unwrap_err().to_string();
        assert!(error.contains("/no/such/kernel is not a file"), "{error}");
    }

    #[test]
    fn a_replayed_log_resumes_where_it_stopped() {
        let points: Vec<Point> =
            (0..9).map(|i| Point { label: format!("k{i}"), kernel: None, initrd: None, cmdline: String::new() }).collect();
        let (finished, lines) = search(9, Some(6), None);
        let log: String = lines.iter().map(|l| format!("# a step\n{}\n", l.text(&points))).collect();
        assert_eq!(replay(&log, 9).unwrap(), (finished, lines.len()));
        // Half the log: the search goes on from there, not from the start.
        let half: String = lines[..2].iter().map(|l| l.text(&points) + "\n").collect();
        let (state, steps) = replay(&half, 9).unwrap();
        assert_eq!((steps, state.end), (2, None));
        assert!(state.bad - state.good < 8 && state.next().is_some());
        assert!(replay("bad 12 k12\n", 9).is_err(), "a point the bisect does not have");
        assert!(replay("maybe 1\n", 9).is_err());
    }
}
