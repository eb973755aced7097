//! Progress over the timed runs. On a terminal a bar (variant, level, run, ETA); elsewhere
//! (a file, a CI log) the bar is hidden and each finished run is one plain line with the
//! study's elapsed time and ETA, so that a long study is not silent in a log.

use crate::model::RunRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Progress {
    bar: ProgressBar,
    /// When counting started and the runs already done then (a resumed study starts
    /// with some): the ETA extrapolates only from the runs measured since.
    start: Arc<Mutex<(Instant, u64)>>,
    /// `runs = "auto"`: the total is the most the study may still ask for.
    at_most: Arc<AtomicBool>,
}

impl Progress {
    pub fn new(total_runs: u64) -> Progress {
        let bar = ProgressBar::new(total_runs);
        if !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal()) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let start = Arc::new(Mutex::new((Instant::now(), 0)));
        let at_most = Arc::new(AtomicBool::new(false));
        // indicatif's own {eta} reads "0s" until the first run: ours says "…" until a run
        // has been measured, as the lines of a log do.
        let (bar_start, bar_at_most) = (Arc::clone(&start), Arc::clone(&at_most));
        let study_eta = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&bar_eta(&bar_start, &bar_at_most, state.pos(), state.len().unwrap_or(0)));
        };
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {study_eta}  {msg}")
            .map(|style| style.with_key("study_eta", study_eta))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        // The spinner's ticker wakes 4 times a second: only for a terminal that shows it.
        if !bar.is_hidden() {
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
        }
        Progress { bar, start, at_most }
    }

    /// `runs = "auto"`: the runs the study now asks for in all, the cap of every variant
    /// and level not stopped yet. Never below the runs already counted, so the bar neither
    /// passes its end nor reaches it before the study does.
    pub fn set_planned(&self, total_runs: u64) {
        self.at_most.store(true, Ordering::Relaxed);
        self.bar.set_length(total_runs.max(self.bar.position()));
    }

    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    /// A state worth a line in a log too (waiting for a quiet host): the bar's message on a
    /// terminal, a line on stderr without one.
    pub fn status(&self, message: &str) {
        if self.bar.is_hidden() {
            eprintln!("{message}");
        } else {
            self.set_message(message);
        }
    }

    pub fn set_position(&self, runs_done: u64) {
        self.bar.set_position(runs_done);
        self.bar.reset_eta();
        if let Ok(mut start) = self.start.lock() {
            *start = (Instant::now(), runs_done);
        }
    }

    /// Counts a run without a line; [`Progress::finished_run`] is what filing a run calls.
    #[allow(dead_code)]
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// A timed run is on record: the bar moves on, or, without a terminal, one line says
    /// which run finished and how far the study is.
    pub fn finished_run(&self, record: &RunRecord, runs_per_level: u32) {
        self.bar.inc(1);
        if !self.bar.is_hidden() {
            return;
        }
        let (started, first) = self.start.lock().map(|s| *s).unwrap_or((Instant::now(), 0));
        let (done, total) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let elapsed = started.elapsed();
        let at_most = self.at_most.load(Ordering::Relaxed);
        let eta = eta(elapsed, done - first.min(done), total - done.min(total));
        eprintln!("{}", finished_line(record, (runs_per_level, at_most), (done, total), elapsed, eta));
    }

    /// A line above the bar (or on stderr when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The time left if the remaining runs take as long as those measured so far (boots
/// included); `None` before the first run.
fn eta(elapsed: Duration, measured: u64, remaining: u64) -> Option<Duration> {
    (measured > 0).then(|| elapsed.mul_f64(remaining as f64 / measured as f64))
}

/// The bar's ETA with `done` of `total` runs on record: extrapolated from the runs
/// measured since counting started, like the log's lines.
fn bar_eta(start: &Mutex<(Instant, u64)>, at_most: &AtomicBool, done: u64, total: u64) -> String {
    let (started, first) = start.lock().map(|s| *s).unwrap_or((Instant::now(), done));
    let eta = eta(started.elapsed(), done - first.min(done), total - done.min(total));
    eta_text(eta, at_most.load(Ordering::Relaxed))
}

/// "1m32s", "at most 1m32s", or "…" while there is nothing to extrapolate from.
fn eta_text(eta: Option<Duration>, at_most: bool) -> String {
    match eta {
        None => "…".into(),
        Some(eta) if at_most => format!("at most {}", duration(eta)),
        Some(eta) => duration(eta),
    }
}

/// "run 2 of 3 finished: poison half -j 2, 12.4 s, ok; study: 8 of 12 runs, 3m05s elapsed, ETA 1m33s";
/// with `at_most` (`runs = "auto"`), the totals and the ETA are upper bounds and say so.
fn finished_line(
    record: &RunRecord,
    (runs_per_level, at_most): (u32, bool),
    (done, total): (u64, u64),
    elapsed: Duration,
    eta: Option<Duration>,
) -> String {
    let status = if record.is_ok() { "ok" } else { "failed" };
    let bound = if at_most { "at most " } else { "" };
    let eta = eta_text(eta, at_most);
    let on = if record.host.is_empty() { String::new() } else { format!(" on {}", record.host) };
    format!(
        "run {} of {bound}{runs_per_level} finished{on}: {} {} -j {}, {:.1} s, {status}; study: {done} of {bound}{total} runs, {} elapsed, ETA {eta}",
        record.run,
        record.variant,
        record.jobs_label,
        record.jobs,
        record.elapsed_s,
        duration(elapsed)
    )
}

/// "45s", "3m05s", "2h07m".
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;

    #[test]
    fn a_finished_run_line_names_the_run_and_the_study_eta() {
        let record = RunRecord { variant: "poison".into(), jobs_label: "half".into(), jobs: 2, run: 2, elapsed_s: 12.44, ..test_record() };
        let elapsed = Duration::from_secs(185);
        let line = finished_line(&record, (3, false), (8, 12), elapsed, eta(elapsed, 8, 4));
        assert_eq!(line, "run 2 of 3 finished: poison half -j 2, 12.4 s, ok; study: 8 of 12 runs, 3m05s elapsed, ETA 1m32s");
        let adaptive = finished_line(&record, (6, true), (8, 12), elapsed, eta(elapsed, 8, 4));
        assert_eq!(
            adaptive,
            "run 2 of at most 6 finished: poison half -j 2, 12.4 s, ok; study: 8 of at most 12 runs, 3m05s elapsed, ETA at most 1m32s"
        );
        assert_eq!(eta(elapsed, 0, 4), None, "no ETA before a run is measured");
        let on_lab = RunRecord { host: "lab1".into(), ..record };
        assert!(finished_line(&on_lab, (3, false), (8, 12), elapsed, None).starts_with("run 2 of 3 finished on lab1: poison half"));
        assert_eq!(duration(Duration::from_secs(7620)), "2h07m");
    }

    #[test]
    fn the_bar_shows_no_eta_before_a_run_is_measured() {
        assert_eq!(eta_text(eta(Duration::from_secs(40), 0, 12), false), "…", "not \"0s\" before the first run");
        assert_eq!(eta_text(eta(Duration::from_secs(40), 1, 11), false), "7m20s");
        assert_eq!(eta_text(eta(Duration::from_secs(40), 1, 11), true), "at most 7m20s");
        // What the bar's {study_eta} key draws: a resumed study with 4 runs on record
        // has measured none of its own yet.
        let progress = Progress::new(12);
        assert_eq!(bar_eta(&progress.start, &progress.at_most, 0, 12), "…");
        progress.set_position(4);
        assert_eq!(bar_eta(&progress.start, &progress.at_most, 4, 12), "…");
        let after_one = bar_eta(&progress.start, &progress.at_most, 5, 12);
        assert!(after_one.ends_with('s') && after_one != "…", "{after_one}");
    }

    #[test]
    fn an_adaptive_total_never_falls_below_the_runs_counted() {
        let progress = Progress::new(24);
        progress.set_position(5);
        progress.set_planned(10);
        assert_eq!(progress.bar.length(), Some(10));
        progress.set_planned(3);
        assert_eq!(progress.bar.length(), Some(5), "the bar does not pass its end");
        assert!(progress.at_most.load(Ordering::Relaxed));
    }
}
