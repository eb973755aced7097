//! The step loop: the host sends one step at a time, each with its own limit; the agent
//! runs it within that limit, says it is alive while it runs, and reports it.

use crate::channel::{Receiver, Sender};
use crate::measure::Runner;
use kbench_protocol::{AgentMessage, HostMessage, Resume, Step};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When a step's time is up: its limit counted from StepStarted, clean and command alike.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub started: Instant,
    pub limit: Duration,
}

impl Deadline {
    /// A limit that is not a finite number of seconds (which the host never sends) is none at all;
    /// one too large for a `Duration` is the largest there is.
    pub fn new(started: Instant, timeout_s: f64) -> Deadline {
        let limit = match Duration::try_from_secs_f64(timeout_s) {
            _ if !timeout_s.is_finite() || timeout_s <= 0.0 => Duration::ZERO,
            Ok(limit) => limit,
            Err(_) => Duration::MAX,
        };
        Deadline { started, limit }
    }

    /// What is left of the limit at `now`; zero once it passed.
    pub fn remaining(&self, now: Instant) -> Duration {
        match self.started.checked_add(self.limit) {
            Some(end) => end.saturating_duration_since(now),
            None => Duration::MAX,
        }
    }
}

/// What the agent does with one message from the host once the boot is set up.
#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Step),
    Finish,
    /// The guest was restored: a fresh key, clock and entropy (`crate::resume`).
    Resume(Resume),
    /// The host is about to save the guest: say Synced, the last word before it.
    Sync,
}

pub fn action(message: HostMessage) -> Result<Action, String> {
    match message {
        HostMessage::Run(step) => Ok(Action::Run(step)),
        HostMessage::Finish => Ok(Action::Finish),
        HostMessage::Resume(resume) => Ok(Action::Resume(resume)),
        HostMessage::Sync => Ok(Action::Sync),
        HostMessage::Setup(_) => Err("the host sent a second setup in the same boot".into()),
    }
}

/// Runs the steps as they come until the host says Finish (the caller says Done). `after_step`
/// is told after each step's result is sent (the kernel log goes then).
pub fn serve(
    sender: &Sender,
    receiver: &mut Receiver,
    runner: &Runner,
    heartbeat: Duration,
    after_step: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(), String> {
    loop {
        match action(receiver.receive()?)? {
            Action::Run(step) => {
                run_step(sender, runner, &step, heartbeat)?;
                after_step()?;
            }
            Action::Finish => return Ok(()),
            Action::Resume(resume) => crate::resume::resume(sender, resume)?,
            Action::Sync => sender.send(&AgentMessage::Synced)?,
        }
    }
}

fn run_step(sender: &Sender, runner: &Runner, step: &Step, heartbeat: Duration) -> Result<(), String> {
    // Escaped: a line of the command must not start a line of the console, where the host
    // looks for kernel reports.
    crate::console(&format!("step {} ({:?}, limit {} s): {}", step.id, step.kind, step.timeout_s, one_line(&step.command)));
    let deadline = Deadline::new(Instant::now(), step.timeout_s);
    sender.send(&AgentMessage::StepStarted { id: step.id })?;
    let beating = Heartbeat::start(sender.clone(), step.id, deadline.started, heartbeat);
    let result = runner.run(step, &deadline);
    beating.stop();
    sender.send(&AgentMessage::StepFinished(result))
}

/// `text` with its control characters (newlines among them) escaped as `\n`, `\u{1b}`.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Says Heartbeat every `interval` from its own thread until stopped.
pub struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Heartbeat {
    pub fn start(sender: Sender, id: u32, started: Instant, interval: Duration) -> Heartbeat {
        let (stop, stopped) = mpsc::channel::<()>();
        let interval = interval.max(Duration::from_millis(10));
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let beat = AgentMessage::Heartbeat { id, elapsed_s: started.elapsed().as_secs_f64() };
                if sender.send(&beat).is_err() {
                    return;
                }
            }
        });
        Heartbeat { stop, thread }
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::Captured;
    use kbench_protocol::auth::{to_hex, Verifier};
    use kbench_protocol::{decode, StepKind};

    #[test]
    fn the_deadline_counts_from_the_start_and_never_goes_negative() {
        let start = Instant::now();
        let huge = Deadline::new(start, 1e300);
        assert_eq!((huge.limit, huge.remaining(start)), (Duration::MAX, Duration::MAX));
        assert_eq!(Deadline::new(start, f64::INFINITY).limit, Duration::ZERO);
        let deadline = Deadline::new(start, 2.5);
        assert_eq!(deadline.remaining(start), Duration::from_millis(2500));
        assert_eq!(deadline.remaining(start + Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(deadline.remaining(start + Duration::from_secs(9)), Duration::ZERO);
        assert_eq!(Deadline::new(start, f64::NAN).remaining(start), Duration::ZERO);
        assert_eq!(Deadline::new(start, -1.0).remaining(start), Duration::ZERO);
    }

    #[test]
    fn a_command_is_echoed_on_one_line() {
        assert_eq!(one_line("make 'x'\nBUG: KASAN: y\r\t\u{1b}[0m"), "make 'x'\\nBUG: KASAN: y\\r\\t\\u{1b}[0m");
    }

    #[test]
    fn run_and_finish_are_actions_and_a_second_setup_is_refused() {
        let step = Step { id: 4, kind: StepKind::Timed, clean: None, command: "true".into(), timeout_s: 5.0, expect_files: vec![] };
        assert_eq!(action(HostMessage::Run(step.clone())), Ok(Action::Run(step)));
        assert_eq!(action(HostMessage::Finish), Ok(Action::Finish));
        let setup =
            decode::<HostMessage>(r#"{"msg":"setup","key":"00","output_tail_bytes":1,"heartbeat_s":1.0,"probe_timeout_s":1.0}"#).unwrap();
        assert!(action(setup).unwrap_err().contains("second setup"));
    }

    #[test]
    fn a_heartbeat_beats_signed_while_the_step_runs_and_stops_when_told() {
        let captured = Captured::default();
        let sender = Sender::new(Box::new(captured.clone()));
        sender.set_key(to_hex(&[1; 32])).unwrap();
        let beating = Heartbeat::start(sender, 7, Instant::now(), Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(110));
        beating.stop();
        let lines = captured.lines();
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(captured.lines().len(), lines.len(), "no beat after stop");
        assert!(lines.len() >= 3, "{lines:?}");
        let mut verifier = Verifier::new(vec![1; 32]);
        let mut last = 0.0;
        for line in &lines {
            let AgentMessage::Heartbeat { id, elapsed_s } = verifier.verify(line).unwrap() else { panic!("{line}") };
            assert!(id == 7 && elapsed_s > last, "{line}");
            last = elapsed_s;
        }
    }
}
