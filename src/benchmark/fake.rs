//! A scripted guest behind the real `Backend`/`Guest` traits, for unit tests of the
//! runner and the session: it answers like the agent (signed, in order) unless its
//! script tells it to crash, hang, fall silent or forge at some step.

use super::job::StepInfo;
use super::limits::{Limit, Limits, RunLimit};
use super::listener::Listener;
use super::noise_guard::{HostProbe, HostWindow};
use crate::backend::{Accel, Backend, Guest, GuestEvent, GuestSpec};
use crate::host::noise::HostNoise;
use crate::model::{BootTimes, ConsoleFinding, Leftovers, RunRecord};
use crate::scenario::order::{BootOrder, OrderChoice};
use crate::scenario::plan::{GuestPlan, JobsLevel, Plan, Variant};
use crate::scenario::Workload;
use anyhow::Result;
use kbench_protocol::auth::{from_hex, Signer};
use kbench_protocol::{
    encode, AgentMessage, BootFacts, HostMessage, KernelView, Measurement, MemAutoInit, MonitorSummary, Outcome, Step, StepKind, StepResult,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A plan of one `command` workload with a prepare, two variants `a` and `b`, one level.
pub fn plan(runs: u32, warmup: u32, rounds: u32) -> Plan {
    let variant = |name: &str| Variant {
        name: name.into(),
        kernel: "k".into(),
        initrd: None,
        cmdline: format!("console=ttyS0 v={name}"),
        own_options: vec![format!("v={name}")],
    };
    Plan {
        name: "t".into(),
        scenario_path: "t.toml".into(),
        guest: GuestPlan {
            disk: None,
            root: None,
            cpus: 2,
            memory_mib: 512,
            accel: Default::default(),
            boot_timeout: Duration::from_secs(10),
            run_timeout: Some(Duration::from_secs(100)),
            prepare_timeout: None,
            study_timeout: None,
            retries: 1,
            qemu: None,
            pin: false,
            backend: Default::default(),
            uri: None,
            uri_key: "`guest.uri` or --uri".into(),
            remote_files: Vec::new(),
        },
        variants: vec![variant("a"), variant("b")],
        baseline: 0,
        levels: vec![JobsLevel { label: "half".into(), jobs: 1 }],
        runs,
        warmup,
        monitor_interval_s: 0.0,
        rounds,
        // Alternate keeps the boots' order known to the tests: a b, b a, ...
        order: BootOrder { choice: OrderChoice::Alternate, seed: 0, seed_from_clock: false },
        reuse: Default::default(),
        snapshots: 1,
        adaptive: None,
        quiet_host: None,
        hosts: Vec::new(),
        workload: Workload::Command { command: "make -j{jobs}".into(), prepare: Some("configure".into()), clean: None },
    }
}

/// The plan's limits shrunk to milliseconds, so that every timeout fires at once.
pub fn quick_limits(plan: &Plan) -> Limits {
    let ms = Duration::from_millis;
    let mut limits = Limits::for_plan(plan);
    limits.hello = ms(500);
    limits.boot_facts = ms(500);
    limits.heartbeat = ms(5);
    limits.silence = ms(150);
    limits.margin = ms(20);
    limits.power_off = Duration::ZERO;
    limits.quiet_check = ms(10);
    limits.quiet_poll = ms(20);
    limits.prepare = Limit { duration: ms(40), source: "test prepare".into() };
    limits.warmup = Limit { duration: ms(40), source: "test warm-up".into() };
    if let RunLimit::Fixed(limit) = &mut limits.run {
        *limit = Limit { duration: ms(40), source: "test run".into() };
    }
    limits
}

/// What the fake agent does at one step of a boot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Starts the step, then the channel closes (a kernel panic, a vanished guest).
    Crash,
    /// Starts the step and heartbeats forever without a result (an agent that does not
    /// enforce the limit, a step stuck in the kernel).
    Hang,
    /// Starts the step, then says nothing more (a dead guest).
    Silent,
    /// The agent enforces the limit: the step ends as timed out.
    TimesOut,
    /// A workload writes an unsigned `step_finished` and `done` to the port.
    Forge,
    /// A workload writes 300 MB without a newline to the port.
    TooLong,
    /// A signed line is sent again.
    Replay,
    /// A signed Done before the host said Finish.
    EarlyDone,
    /// The result names another step.
    WrongId,
    /// A kernel log arrives during the step.
    KernelLog,
    /// The step leaves two processes running, which the agent kills.
    LeavesProcesses,
    /// The agent gives up (a signed Fatal).
    Fatal,
    /// The boot facts never come (whatever the step index).
    NoFacts,
    /// The agent speaks an older protocol (whatever the step index).
    OldAgent,
    /// The kernel view, due after Finish, comes during the step.
    EarlyKernelView,
    /// bench itself is stopped (SIGSTOP, a starved host) for [`HOST_STOP`] while a healthy
    /// step runs: the wait under way returns that late, with nothing, and meanwhile the
    /// agent's heartbeats and its result came and wait in the channel.
    HostStopped,
    /// The guest takes no message: the backend's send fails after its write timeout.
    TakesNothing,
    /// A restored guest answers the restore with what the saved guest would have said: a
    /// line signed with the saved boot's key (a replay of the saved conversation).
    ReplaysSavedKey,
    /// A restored guest says it runs another command line (the state of another variant).
    WrongState,
}

/// How long [`Fault::HostStopped`] stops bench: beyond `quick_limits`' silence (150 ms)
/// and its steps' guard (40 ms + 20 ms).
pub const HOST_STOP: Duration = Duration::from_millis(400);

/// The faults of one boot: (index of the step in this boot, what happens).
#[derive(Debug, Clone, Default)]
pub struct Script(pub Vec<(usize, Fault)>);

impl Script {
    pub fn at(step: usize, fault: Fault) -> Script {
        Script(vec![(step, fault)])
    }
}

/// Every step the host sent, per boot: (variant, steps).
type SentSteps = Rc<RefCell<Vec<(String, Vec<Step>)>>>;

/// Boots fake guests, each with the next script (clean once the scripts run out).
#[derive(Default)]
pub struct FakeBackend {
    scripts: RefCell<VecDeque<Script>>,
    /// Every step the host sent, per boot: (variant, step).
    pub sent: SentSteps,
    /// Seconds a warm-up's clean and command each take.
    pub warmup_s: f64,
    /// The guests run on another host: their host's noise cannot be sampled.
    pub remote: bool,
    /// A timed run's elapsed seconds from (variant, command, its 1-based count among the
    /// variant's timed runs of that command); else about 1 s, always the same.
    pub elapsed_of: Option<ElapsedOf>,
    /// Guests saved (`save_state`) and restored (`restore`) so far.
    pub saves: Rc<RefCell<usize>>,
    pub restores: RefCell<usize>,
}

pub type ElapsedOf = fn(&str, &str, usize) -> f64;

impl FakeBackend {
    pub fn new(scripts: Vec<Script>) -> FakeBackend {
        FakeBackend { scripts: RefCell::new(scripts.into()), warmup_s: 1.0, ..FakeBackend::default() }
    }

    /// Guests on another host, whose noise cannot be sampled.
    pub fn remote() -> FakeBackend {
        FakeBackend { remote: true, ..FakeBackend::new(vec![]) }
    }

    pub fn boots(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|(variant, _)| variant.clone()).collect()
    }

    pub fn steps(&self, boot: usize) -> Vec<Step> {
        self.sent.borrow()[boot].1.clone()
    }
}

impl Backend for FakeBackend {
    fn accel(&self) -> Accel {
        Accel::Tcg
    }

    fn version(&self) -> String {
        "fake".into()
    }

    fn restore(&self, spec: &GuestSpec, state: &Path) -> Result<Box<dyn Guest>> {
        anyhow::ensure!(state.join("guest.state").is_file(), "the saved state {} is missing", state.display());
        *self.restores.borrow_mut() += 1;
        let mut guest = self.guest(spec);
        // A restored agent says nothing before the host's Resume.
        guest.queue.clear();
        Ok(Box::new(guest))
    }

    fn boot(&self, spec: &GuestSpec) -> Result<Box<dyn Guest>> {
        Ok(Box::new(self.guest(spec)))
    }
}

impl FakeBackend {
    fn guest(&self, spec: &GuestSpec) -> FakeGuest {
        let script = self.scripts.borrow_mut().pop_front().unwrap_or_default();
        self.sent.borrow_mut().push((spec.name.clone(), Vec::new()));
        let old = script.0.iter().any(|(_, fault)| *fault == Fault::OldAgent);
        let protocol = kbench_protocol::PROTOCOL_VERSION - u32::from(old);
        let hello = encode(&AgentMessage::Hello { protocol, agent_version: "fake".into() });
        FakeGuest {
            variant: spec.name.clone(),
            elapsed_of: self.elapsed_of,
            cmdline: spec.cmdline.clone(),
            script,
            sent: Rc::clone(&self.sent),
            warmup_s: self.warmup_s,
            queue: VecDeque::from([line(noise()), line(hello)]),
            signer: None,
            steps: 0,
            heartbeat: Duration::from_millis(5),
            mode: Mode::Waiting,
            last_signed: None,
            host_pids: (!self.remote).then(Vec::new),
            saves: Rc::clone(&self.saves),
        }
    }
}

/// What the Debian kernel says with `slub_debug=P`: init_on_alloc on, every cache poisoned.
pub fn kernel_view() -> KernelView {
    let init = MemAutoInit { stack: "all(zero)".into(), heap_alloc: "on".into(), heap_free: "off".into() };
    KernelView { mem_auto_init: Some(init), caches: 120, poisoned: 120, red_zoned: 0, largest_caches: Vec::new() }
}

fn noise() -> String {
    "\u{1b}[0m garbage before the agent".into()
}

fn line(text: String) -> GuestEvent {
    GuestEvent::Line(text.trim_end_matches('\n').to_string())
}

enum Mode {
    Waiting,
    Beating {
        id: u32,
        started: Instant,
    },
    /// The step runs well and ends while bench is stopped.
    HostStopped(Step),
}

struct FakeGuest {
    variant: String,
    elapsed_of: Option<ElapsedOf>,
    cmdline: String,
    script: Script,
    sent: SentSteps,
    warmup_s: f64,
    queue: VecDeque<GuestEvent>,
    signer: Option<Signer>,
    /// Steps received in this boot.
    steps: usize,
    heartbeat: Duration,
    mode: Mode,
    last_signed: Option<String>,
    host_pids: Option<Vec<u32>>,
    saves: Rc<RefCell<usize>>,
}

impl FakeGuest {
    fn say(&mut self, message: AgentMessage) {
        let signed = self.signer.as_mut().expect("the setup came first").sign(&message);
        self.last_signed = Some(signed.clone());
        self.queue.push_back(line(signed));
    }

    fn result(&self, step: &Step, outcome: Outcome) -> StepResult {
        let warmup = step.kind == StepKind::Warmup;
        let timed = step.kind == StepKind::Timed;
        let elapsed_s = match self.elapsed_of {
            _ if warmup => self.warmup_s,
            Some(elapsed_of) if timed => elapsed_of(&self.variant, &step.command, self.timed_runs_so_far(&step.command)),
            _ => 1.0 + f64::from(step.id) / 1000.0,
        };
        StepResult {
            id: step.id,
            outcome,
            measurement: Measurement { elapsed_s, user_s: elapsed_s, minor_faults: 100, major_faults: 1, ..Default::default() },
            clean_s: if warmup { self.warmup_s } else { 0.5 },
            output_tail: format!("output of step {}", step.id),
            missing_files: vec![],
            leftover_processes: 0,
            // The monitors watch timed steps only, as the agent's do.
            monitors: timed
                .then(|| Box::new(MonitorSummary { samples: 2, slab_peak_kib: 1000 + u64::from(step.id), ..Default::default() })),
            monitor_samples: if timed { format!("t_s,slab_kib\n0.0,{}\n", 1000 + step.id) } else { String::new() },
        }
    }

    /// The variant's timed runs of `command` sent so far, in every boot, this one included.
    fn timed_runs_so_far(&self, command: &str) -> usize {
        let sent = self.sent.borrow();
        let steps = sent.iter().filter(|(variant, _)| *variant == self.variant).flat_map(|(_, steps)| steps);
        steps.filter(|s| s.kind == StepKind::Timed && s.command == command).count()
    }

    fn run(&mut self, step: Step) {
        let fault = self.script.0.iter().find(|(at, _)| *at == self.steps).map(|(_, f)| *f);
        self.steps += 1;
        self.say(AgentMessage::StepStarted { id: step.id });
        let ok = || Outcome::Exited { code: 0 };
        match fault {
            None => self.say(AgentMessage::StepFinished(self.result(&step, ok()))),
            Some(Fault::Crash) => self.queue.push_back(GuestEvent::Closed { hypervisor_error: None }),
            Some(Fault::Hang) => self.mode = Mode::Beating { id: step.id, started: Instant::now() },
            Some(Fault::HostStopped) => self.mode = Mode::HostStopped(step),
            Some(Fault::Silent) => {}
            Some(Fault::TimesOut) => {
                let timed_out = Outcome::TimedOut { after_s: step.timeout_s.round() as u64 };
                self.say(AgentMessage::StepFinished(self.result(&step, timed_out)));
            }
            Some(Fault::Forge) => {
                let mut forged = self.result(&step, ok());
                forged.measurement.elapsed_s = 0.001;
                self.queue.push_back(line(encode(&AgentMessage::StepFinished(forged))));
                self.queue.push_back(line(encode(&AgentMessage::Done)));
                self.say(AgentMessage::StepFinished(self.result(&step, ok())));
            }
            Some(Fault::TooLong) => {
                self.queue.push_back(GuestEvent::TooLong { bytes: 300_000_000 });
                self.say(AgentMessage::StepFinished(self.result(&step, ok())));
            }
            Some(Fault::Replay) => {
                let again = self.last_signed.clone().expect("a signed line");
                self.queue.push_back(line(again));
            }
            Some(Fault::EarlyDone) => self.say(AgentMessage::Done),
            Some(Fault::WrongId) => {
                let mut other = self.result(&step, ok());
                other.id += 1;
                self.say(AgentMessage::StepFinished(other));
            }
            Some(Fault::NoFacts | Fault::OldAgent | Fault::TakesNothing | Fault::ReplaysSavedKey | Fault::WrongState) => {}
            Some(Fault::EarlyKernelView) => self.say(AgentMessage::KernelView(kernel_view())),
            Some(Fault::Fatal) => self.say(AgentMessage::Fatal { message: "cannot go on".into() }),
            Some(Fault::LeavesProcesses) => {
                let result = StepResult { leftover_processes: 2, ..self.result(&step, ok()) };
                self.say(AgentMessage::StepFinished(result));
            }
            Some(Fault::KernelLog) => {
                self.say(AgentMessage::KernelLog { text: format!("<6>during step {}\n", step.id) });
                self.say(AgentMessage::StepFinished(self.result(&step, ok())));
            }
        }
    }
}

impl Guest for FakeGuest {
    fn send(&mut self, message: &HostMessage) -> Result<()> {
        match message {
            HostMessage::Setup(setup) => {
                self.signer = Some(Signer::new(from_hex(&setup.key).map_err(anyhow::Error::msg)?));
                self.heartbeat = Duration::from_secs_f64(setup.heartbeat_s);
                let facts = BootFacts {
                    cmdline: self.cmdline.clone(),
                    kernel_release: "6.1.0-fake".into(),
                    cpus: 2,
                    mem_total_kib: 500_000,
                    slab: Default::default(),
                    probes: BTreeMap::new(),
                };
                if self.script.0.iter().any(|(_, fault)| *fault == Fault::NoFacts) {
                    return Ok(());
                }
                self.say(AgentMessage::BootFacts(facts));
                self.say(AgentMessage::KernelLog { text: "<6>booted\n".into() });
            }
            HostMessage::Run(_) if self.script.0.contains(&(self.steps, Fault::TakesNothing)) => {
                anyhow::bail!("cannot send to the guest agent: it took no byte for 30 s")
            }
            HostMessage::Run(step) => {
                self.sent.borrow_mut().last_mut().expect("booted").1.push(step.clone());
                self.run(step.clone());
            }
            HostMessage::Resume(resume) => {
                let faults: Vec<Fault> = self.script.0.iter().map(|(_, f)| *f).collect();
                let facts = |cmdline: String| {
                    AgentMessage::Resumed(kbench_protocol::ResumedFacts {
                        cmdline,
                        kernel_release: "6.1.0-fake".into(),
                        slab: Default::default(),
                        clock_set: true,
                        entropy_credited: true,
                    })
                };
                if faults.contains(&Fault::ReplaysSavedKey) {
                    // Signed as the saved boot signed: with its key, not the restore's.
                    let mut saved = Signer::new(vec![7; 32]);
                    self.queue.push_back(line(saved.sign(&facts(self.cmdline.clone()))));
                    return Ok(());
                }
                self.signer = Some(Signer::new(from_hex(&resume.key).map_err(anyhow::Error::msg)?));
                let cmdline = if faults.contains(&Fault::WrongState) { format!("{} other", self.cmdline) } else { self.cmdline.clone() };
                self.say(facts(cmdline));
            }
            HostMessage::Sync => self.say(AgentMessage::Synced),
            HostMessage::Finish => {
                self.say(AgentMessage::KernelView(kernel_view()));
                self.say(AgentMessage::Done);
                self.queue.push_back(GuestEvent::Closed { hypervisor_error: None });
            }
        }
        Ok(())
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<GuestEvent>> {
        if let Some(event) = self.queue.pop_front() {
            return Ok(Some(event));
        }
        match std::mem::replace(&mut self.mode, Mode::Waiting) {
            Mode::HostStopped(step) => {
                std::thread::sleep(HOST_STOP);
                // Within the step's limit by the agent's clock: the step was healthy.
                for elapsed_s in [0.01, 0.02] {
                    self.say(AgentMessage::Heartbeat { id: step.id, elapsed_s });
                }
                let result = self.result(&step, Outcome::Exited { code: 0 });
                self.say(AgentMessage::StepFinished(result));
                Ok(None)
            }
            Mode::Beating { id, started } => {
                self.mode = Mode::Beating { id, started };
                std::thread::sleep(timeout.min(self.heartbeat));
                self.say(AgentMessage::Heartbeat { id, elapsed_s: started.elapsed().as_secs_f64() });
                Ok(self.queue.pop_front())
            }
            Mode::Waiting => {
                std::thread::sleep(timeout);
                Ok(None)
            }
        }
    }

    fn shut_down(&mut self, _timeout: Duration) {}

    fn save_state(&mut self, dir: &Path) -> Result<u64> {
        std::fs::write(dir.join("guest.state"), b"fake guest state")?;
        *self.saves.borrow_mut() += 1;
        Ok(16)
    }

    fn host_pids(&self) -> Option<Vec<u32>> {
        self.host_pids.clone()
    }
}

/// A host whose other processes use the scripted CPU percentages, one per window (the
/// last one repeats), or whose /proc cannot be read.
#[derive(Default)]
pub struct FakeProbe {
    percents: Vec<f64>,
    started: std::cell::Cell<usize>,
    /// Every `ours` a window was started with.
    pub ours: RefCell<Vec<Vec<u32>>>,
    failing: bool,
}

impl FakeProbe {
    pub fn loads(percents: &[f64]) -> FakeProbe {
        FakeProbe { percents: percents.to_vec(), ..FakeProbe::default() }
    }

    pub fn failing() -> FakeProbe {
        FakeProbe { failing: true, ..FakeProbe::default() }
    }

    /// How many windows were started.
    pub fn windows(&self) -> usize {
        self.started.get()
    }
}

impl HostProbe for FakeProbe {
    fn start(&self, ours: &[u32]) -> Result<Box<dyn HostWindow>> {
        if self.failing {
            anyhow::bail!("cannot read /proc/stat: no such file");
        }
        let n = self.started.get();
        self.started.set(n + 1);
        self.ours.borrow_mut().push(ours.to_vec());
        let percent = self.percents.get(n).or(self.percents.last()).copied().unwrap_or(0.0);
        Ok(Box::new(HostNoise {
            other_cpu_percent: percent,
            steal_percent: 0.0,
            iowait_percent: 0.5,
            load1: percent / 100.0,
            governor: "performance".into(),
            boost: "on".into(),
        }))
    }
}

impl HostWindow for HostNoise {
    fn finish(self: Box<Self>) -> Result<HostNoise> {
        Ok(*self)
    }
}

/// Keeps everything the runner announces, for the tests to read.
#[derive(Default)]
pub struct MemoryListener {
    pub records: Vec<RunRecord>,
    pub notes: Vec<String>,
    /// (variant, step, limit) for every StepStarted.
    pub started: Vec<(String, String, Limit)>,
    pub kernel_logs: Vec<(String, u32, String)>,
    /// The lines of every step that left processes running.
    pub leftovers: Vec<String>,
    pub heartbeats: usize,
    /// The steps a quiet host was waited for.
    pub quiet_waits: Vec<String>,
    /// (variant, boot, view) for every kernel view.
    pub kernel_views: Vec<(String, u32, KernelView)>,
    /// (variant, step, samples) for every timed run's monitor samples.
    pub monitor_samples: Vec<(String, String, String)>,
    /// Every boot's times as they were reported, once booted and at the end.
    pub boot_times: Vec<BootTimes>,
    boots: BTreeMap<String, u32>,
}

impl Listener for MemoryListener {
    fn next_boot(&mut self, variant: &str) -> Result<(u32, PathBuf)> {
        let boot = self.boots.entry(variant.to_string()).or_insert(0);
        *boot += 1;
        Ok((*boot, PathBuf::from(format!("/nonexistent/kbench-fake/{variant}-boot{boot}.log"))))
    }

    fn booting(&mut self, _variant: &Variant, _boot: u32) {}

    fn boot_facts(&mut self, _variant: &Variant, _facts: &BootFacts) -> Result<()> {
        Ok(())
    }

    fn step_started(&mut self, variant: &Variant, step: &StepInfo, limit: &Limit) {
        self.started.push((variant.name.clone(), step.describe(), limit.clone()));
    }

    fn heartbeat(&mut self, _variant: &Variant, _step: &StepInfo, _elapsed_s: f64) {
        self.heartbeats += 1;
    }

    fn waiting_for_quiet(&mut self, variant: &Variant, step: &StepInfo, _max_load: f64, _wait: Duration) {
        self.quiet_waits.push(format!("{} {}", variant.name, step.describe()));
    }

    fn step_output(&mut self, variant: &Variant, step: &StepInfo, _output: &str) -> Result<String> {
        Ok(format!("logs/{}-{}.log", variant.name, step.describe().replace(' ', "-")))
    }

    fn monitor_samples(&mut self, variant: &Variant, step: &StepInfo, samples: &str) -> Result<()> {
        self.monitor_samples.push((variant.name.clone(), step.describe(), samples.to_string()));
        Ok(())
    }

    fn run_filed(&mut self, record: &RunRecord) -> Result<()> {
        self.records.push(record.clone());
        Ok(())
    }

    fn kernel_log(&mut self, variant: &Variant, boot: u32, text: &str) -> Result<()> {
        self.kernel_logs.push((variant.name.clone(), boot, text.to_string()));
        Ok(())
    }

    fn kernel_view(&mut self, variant: &Variant, boot: u32, view: KernelView) -> Result<()> {
        self.kernel_views.push((variant.name.clone(), boot, view));
        Ok(())
    }

    fn leftovers(&mut self, variant: &Variant, leftovers: Leftovers) -> Result<()> {
        self.leftovers.push(leftovers.describe(&variant.name));
        Ok(())
    }

    fn console_findings(&mut self, _variant: &Variant, _boot: u32, _findings: Vec<ConsoleFinding>) -> Result<()> {
        Ok(())
    }

    fn boot_times(&mut self, times: &BootTimes) -> Result<()> {
        self.boot_times.push(times.clone());
        Ok(())
    }

    fn note(&mut self, line: &str) {
        self.notes.push(line.to_string());
    }
}
