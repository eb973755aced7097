//! The conversation with one booted guest's agent, and its rules. The session reads the
//! channel, checks that every line is the agent's (signed, in sequence, not too long)
//! and that the agent says what the protocol lets it say next, and hands the runner
//! plain events. Any breach, silence or hang ends the boot with a [`GuestTrouble`].

use super::job::PlannedStep;
use super::limits::Limit;
use crate::backend::{Guest, GuestEvent};
use anyhow::{anyhow, bail, Result};
use kbench_protocol::auth::{to_hex, Verifier, Violation, KEY_BYTES};
use kbench_protocol::{
    decode, AgentMessage, BootFacts, HostMessage, KernelView, Resume, ResumedFacts, Setup, StepResult, MAX_LINE_BYTES, PROTOCOL_VERSION,
};
use std::io::Read;
use std::time::{Duration, Instant};

/// The longest single wait on the channel: Ctrl-C and the study timeout are noticed
/// within it, and past a deadline the host listens this long more before it judges.
const LISTEN: Duration = Duration::from_millis(200);
/// A wait that returns this much later than asked was not a wait: bench was stopped or
/// starved, and the guest's messages piled up unread meanwhile.
const LATE: Duration = Duration::from_millis(200);

/// The guest failed (crash, hang, lost channel, a breach of the protocol): worth another boot.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GuestTrouble(pub String);

/// The hypervisor itself failed (QEMU ended with an error of its own): a guest trouble
/// whose cause is the hypervisor's message, not the console.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HypervisorFailed(pub String);

/// What the agent said, once the session made sure it was the agent and in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    StepStarted {
        id: u32,
    },
    Heartbeat {
        id: u32,
        elapsed_s: f64,
    },
    StepFinished(StepResult),
    KernelLog(String),
    /// The kernel's view of its memory hardening, after Finish and before Done.
    KernelView(KernelView),
    /// The answer to Sync: the agent said all it had to and waits.
    Synced,
    Done,
}

/// How long the session waits for each thing; see `limits` for where they come from.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub hello: Duration,
    pub boot_facts: Duration,
    /// No word this long while a step runs (heartbeats) or an answer is due: a dead guest.
    pub silence: Duration,
    /// Beyond a step's own limit, counted from its StepStarted.
    pub margin: Duration,
    /// How long a closed guest gets to exit by itself.
    pub closed_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Nothing asked of the agent.
    Idle,
    /// Run sent; StepStarted due.
    Starting {
        id: u32,
        limit: Duration,
    },
    Running {
        id: u32,
        limit: Duration,
        started: Instant,
    },
    /// Sync sent; Synced due.
    Syncing,
    /// Finish sent; Done due.
    Finishing,
    Over,
}

pub struct Session<'g> {
    guest: &'g mut dyn Guest,
    stop: &'g dyn Fn() -> Result<()>,
    timing: Timing,
    verifier: Verifier,
    state: State,
    last_word: Instant,
}

/// A fresh key for one boot, from the kernel's random source.
pub fn boot_key() -> Result<String> {
    let mut key = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| anyhow!("cannot read /dev/urandom for the boot's key: {e}"))?;
    Ok(to_hex(&key))
}

impl<'g> Session<'g> {
    /// Waits for the agent's hello, hands it the setup (and with it the boot's key), and
    /// returns the boot facts. `stop` is asked between two waits (Ctrl-C, study timeout).
    pub fn open(
        guest: &'g mut dyn Guest,
        timing: Timing,
        stop: &'g dyn Fn() -> Result<()>,
        setup: Setup,
    ) -> Result<(Session<'g>, BootFacts)> {
        let key = kbench_protocol::auth::from_hex(&setup.key).map_err(|e| anyhow!("the boot's key: {e}"))?;
        let mut session = Session { guest, stop, timing, verifier: Verifier::new(key), state: State::Idle, last_word: Instant::now() };
        session.hello()?;
        session.send(&HostMessage::Setup(setup))?;
        let deadline = Instant::now() + timing.boot_facts;
        let what = "the boot facts";
        let facts = match session.signed(deadline, what, &|| {
            format!(
                "the guest hung: no boot facts within {} s (the limit follows guest.root.wait, the modules and the probes)",
                timing.boot_facts.as_secs_f64()
            )
        })? {
            AgentMessage::BootFacts(facts) => facts,
            AgentMessage::Fatal { message } => bail!("the agent gave up: {message}"),
            other => return Err(breach(&format!("the agent sent {} where the boot facts were due", name(&other)))),
        };
        Ok((session, facts))
    }

    /// Opens the conversation with a restored guest's agent: hands it `resume` (a fresh
    /// key, the clock, entropy) and returns what it says it is, signed with the fresh key
    /// from number 1: a line of the saved conversation, signed with the old key, is a breach.
    pub fn resume(
        guest: &'g mut dyn Guest,
        timing: Timing,
        stop: &'g dyn Fn() -> Result<()>,
        resume: Resume,
    ) -> Result<(Session<'g>, ResumedFacts)> {
        let key = kbench_protocol::auth::from_hex(&resume.key).map_err(|e| anyhow!("the restore's key: {e}"))?;
        let mut session = Session { guest, stop, timing, verifier: Verifier::new(key), state: State::Idle, last_word: Instant::now() };
        session.send(&HostMessage::Resume(resume))?;
        let deadline = Instant::now() + timing.hello;
        let facts = match session.signed(deadline, "the restored agent", &|| {
            format!("the restored guest hung: no answer within {} s", timing.hello.as_secs_f64())
        })? {
            AgentMessage::Resumed(facts) => facts,
            AgentMessage::Fatal { message } => bail!("the agent gave up: {message}"),
            other => return Err(breach(&format!("the agent sent {} where its answer to the restore was due", name(&other)))),
        };
        Ok((session, facts))
    }

    /// The first words are unsigned: the agent has no key before the setup. Noise before
    /// them (a port that wakes up) is skipped.
    fn hello(&mut self) -> Result<()> {
        let started = Instant::now();
        let deadline = started + self.timing.hello;
        loop {
            let line = match self.line(deadline, "the agent to start")? {
                Some(line) => line,
                None => {
                    return Err(trouble(format!(
                        "the guest hung: no word for {} s while waiting for the agent to start (guest.boot_timeout)",
                        started.elapsed().as_secs()
                    )))
                }
            };
            match decode::<AgentMessage>(&line) {
                Ok(AgentMessage::Hello { protocol, .. }) if protocol == PROTOCOL_VERSION => return Ok(()),
                Ok(AgentMessage::Hello { protocol, agent_version }) => bail!(
                    "the guest's agent {agent_version} speaks protocol {protocol}, this kbench speaks {PROTOCOL_VERSION}: rebuild the agent (scripts/build-agent.sh)"
                ),
                Ok(AgentMessage::Fatal { message }) => bail!("the agent gave up: {message}"),
                _ => continue,
            }
        }
    }

    /// Sends one step with its limit; its StepStarted is due at once. The limit the host
    /// guards is the very one the step carries (`PlannedStep::with_limit`).
    pub fn start(&mut self, planned: &PlannedStep, limit: &Limit) -> Result<()> {
        if self.state != State::Idle {
            bail!("internal: a step was sent while {:?}", self.state);
        }
        let step = planned.with_limit(limit);
        self.state = State::Starting { id: step.id, limit: limit.duration };
        self.last_word = Instant::now();
        self.send(&HostMessage::Run(step))
    }

    /// Saves the whole guest between two steps (the agent waits for the next one); the
    /// bytes written. Only the backend can fail it: the guest runs on either way.
    pub fn save_state(&mut self, dir: &std::path::Path, kernel_log: &mut dyn FnMut(String) -> Result<()>) -> Result<u64> {
        if self.state != State::Idle {
            bail!("internal: a save while {:?}", self.state);
        }
        // What the agent said last (a step's kernel log follows its result) may still be on
        // its way, and what is on its way at the save arrives after a restore, signed with
        // the saved key: a breach there. Its answer to Sync is its last word before the save.
        self.state = State::Syncing;
        self.last_word = Instant::now();
        self.send(&HostMessage::Sync)?;
        loop {
            match self.next()? {
                Event::Synced => break,
                Event::KernelLog(text) => kernel_log(text)?,
                other => bail!("internal: {other:?} before Synced"),
            }
        }
        let bytes = self.guest.save_state(dir)?;
        self.last_word = Instant::now();
        Ok(bytes)
    }

    /// Tells the agent there is nothing more; its Done is due.
    pub fn finish(&mut self) -> Result<()> {
        if self.state != State::Idle {
            bail!("internal: finish while {:?}", self.state);
        }
        self.state = State::Finishing;
        self.last_word = Instant::now();
        self.send(&HostMessage::Finish)
    }

    /// A message the guest cannot take (its channel broke, or it took nothing within the
    /// backend's write timeout) is the guest's trouble: the boot is retried.
    fn send(&mut self, message: &HostMessage) -> Result<()> {
        self.guest.send(message).map_err(|error| trouble(format!("{error:#}")))
    }

    /// The next event the protocol allows now.
    pub fn next(&mut self) -> Result<Event> {
        let (deadline, hang) = self.wait_for();
        let message = self.signed(deadline, "the agent", &|| hang.clone())?;
        self.last_word = Instant::now();
        let event = match (self.state, message) {
            (_, AgentMessage::KernelLog { text }) => Event::KernelLog(text),
            (_, AgentMessage::Fatal { message }) => bail!("the agent gave up: {message}"),
            (State::Starting { id, limit }, AgentMessage::StepStarted { id: started }) if started == id => {
                self.state = State::Running { id, limit, started: Instant::now() };
                Event::StepStarted { id }
            }
            (State::Running { id, limit, .. }, AgentMessage::Heartbeat { id: beat, elapsed_s }) if beat == id => {
                // By the agent's own clock the step outlived its guard: what was queued
                // is read past a deadline, but a step that never ends must still end.
                if elapsed_s > (limit + self.timing.margin).as_secs_f64() {
                    return Err(trouble(self.overrun(id, limit)));
                }
                Event::Heartbeat { id, elapsed_s }
            }
            (State::Running { id, .. }, AgentMessage::StepFinished(result)) if result.id == id => {
                self.state = State::Idle;
                Event::StepFinished(result)
            }
            (State::Syncing, AgentMessage::Synced) => {
                self.state = State::Idle;
                Event::Synced
            }
            (State::Finishing, AgentMessage::KernelView(view)) => Event::KernelView(view),
            (State::Finishing, AgentMessage::Done) => {
                self.state = State::Over;
                Event::Done
            }
            (state, message) => return Err(breach(&out_of_order(state, &message))),
        };
        Ok(event)
    }

    /// Until when the current wait may last, and what to say when it ends in silence.
    fn wait_for(&self) -> (Instant, String) {
        let silence = self.timing.silence;
        let dead = self.last_word + silence;
        let dead_text =
            |what: &str| format!("the guest stopped answering: no word from the agent for {} s while {what}", silence.as_secs_f64());
        match self.state {
            State::Running { id, limit, started } => {
                let guard = started.checked_add(limit + self.timing.margin).unwrap_or(dead);
                if guard <= dead {
                    (guard, self.overrun(id, limit))
                } else {
                    (dead, dead_text(&format!("step {id} ran (no heartbeat)")))
                }
            }
            State::Starting { id, .. } => (dead, dead_text(&format!("waiting for step {id} to start"))),
            State::Syncing => (dead, dead_text("waiting for it to fall quiet before a save")),
            State::Finishing => (dead, dead_text("waiting for it to finish")),
            State::Idle | State::Over => (Instant::now(), "internal: waiting with nothing asked".into()),
        }
    }

    fn overrun(&self, id: u32, limit: Duration) -> String {
        format!(
            "the guest hung: step {id} did not end within its limit of {} s plus {} s; it was killed",
            limit.as_secs_f64(),
            self.timing.margin.as_secs_f64()
        )
    }

    /// The time bench did not listen (stopped, or starved of CPU) is not the guest's
    /// silence: the clocks its deadlines count from move on by it.
    fn not_listened(&mut self, late: Duration) {
        self.last_word += late;
        if let State::Running { id, limit, started } = self.state {
            self.state = State::Running { id, limit, started: started + late };
        }
    }

    /// The next signed message before `deadline`; every other line breaks the boot.
    fn signed(&mut self, deadline: Instant, waiting_for: &str, hang: &dyn Fn() -> String) -> Result<AgentMessage> {
        match self.line(deadline, waiting_for)? {
            None => Err(trouble(hang())),
            Some(line) => self.verifier.verify(&line).map_err(|violation| breach(&violation_text(&violation, &line))),
        }
    }

    /// One line, or `None` when nothing came by the deadline. Waits in short slices so
    /// that Ctrl-C is noticed within a fraction of a second. Silence is judged only after
    /// a wait that began past the deadline and found nothing: what arrived while bench
    /// was busy or stopped is read first, and a message that arrived counts. A wait that
    /// returned late means bench was not listening: the deadline moves on by that much.
    fn line(&mut self, mut deadline: Instant, waiting_for: &str) -> Result<Option<String>> {
        loop {
            (self.stop)()?;
            let began = Instant::now();
            let overdue = began >= deadline;
            let asked = if overdue { LISTEN } else { (deadline - began).min(LISTEN) };
            let event = self.guest.next_event(asked)?;
            let late = began.elapsed().saturating_sub(asked);
            if late > LATE {
                deadline += late;
                self.not_listened(late);
            }
            match event {
                None if overdue && late <= LATE => return Ok(None),
                None => continue,
                Some(GuestEvent::Line(line)) => return Ok(Some(line)),
                Some(GuestEvent::TooLong { bytes }) => {
                    return Err(breach(&format!(
                        "the agent's channel carried a line longer than any message ({bytes} bytes and more, the limit is {MAX_LINE_BYTES}): something in the guest wrote to /dev/ttyS1"
                    )))
                }
                Some(GuestEvent::Closed { hypervisor_error }) => {
                    self.guest.shut_down(self.timing.closed_grace);
                    let stopped = format!("the guest stopped while waiting for {waiting_for}");
                    return Err(match hypervisor_error {
                        Some(error) => anyhow!(HypervisorFailed(format!("{stopped}: {error}"))),
                        None => trouble(stopped),
                    });
                }
            }
        }
    }
}

fn trouble(text: String) -> anyhow::Error {
    anyhow!(GuestTrouble(text))
}

fn breach(text: &str) -> anyhow::Error {
    trouble(format!("protocol breach: {text}; the boot was stopped"))
}

fn violation_text(violation: &Violation, line: &str) -> String {
    let excerpt: String = line.chars().take(120).collect();
    format!("{violation} (the line began {excerpt:?})")
}

fn out_of_order(state: State, message: &AgentMessage) -> String {
    let due = match state {
        State::Starting { id, .. } => format!("the start of step {id}"),
        State::Running { id, .. } => format!("a heartbeat or the result of step {id}"),
        State::Syncing => "synced".to_string(),
        State::Finishing => "the kernel view or done".to_string(),
        State::Idle | State::Over => "nothing".to_string(),
    };
    let said = match message {
        AgentMessage::StepStarted { id } => format!("the start of step {id}"),
        AgentMessage::Heartbeat { id, .. } => format!("a heartbeat of step {id}"),
        AgentMessage::StepFinished(result) => format!("the result of step {}", result.id),
        AgentMessage::Done => "done before the host said finish".to_string(),
        other => name(other).to_string(),
    };
    format!("the agent sent {said} where {due} was due")
}

fn name(message: &AgentMessage) -> &'static str {
    match message {
        AgentMessage::Hello { .. } => "hello",
        AgentMessage::BootFacts(_) => "boot facts",
        AgentMessage::Resumed(_) => "resumed",
        AgentMessage::StepStarted { .. } => "step started",
        AgentMessage::Heartbeat { .. } => "heartbeat",
        AgentMessage::StepFinished(_) => "step finished",
        AgentMessage::KernelLog { .. } => "kernel log",
        AgentMessage::KernelView(_) => "kernel view",
        AgentMessage::Done => "done",
        AgentMessage::Synced => "synced",
        AgentMessage::Fatal { .. } => "fatal",
    }
}
