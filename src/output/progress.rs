//! A progress bar over the timed runs (variant, level, run, ETA), hidden when the output
//! is not a terminal so that CI logs get plain lines only.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(total_runs: u64) -> Progress {
        let bar = ProgressBar::new(total_runs);
        if !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal()) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        Progress { bar }
    }

    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    pub fn set_position(&self, runs_done: u64) {
        self.bar.set_position(runs_done);
        self.bar.reset_eta();
    }

    pub fn inc(&self) {
        self.bar.inc(1);
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
