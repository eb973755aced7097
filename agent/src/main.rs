//! kbench's in-guest agent. It runs as the guest's init (PID 1): it mounts what it
//! needs, says hello over the second serial port, takes the boot's setup (its signing
//! key among it), reports the boot facts, runs each step the host sends within the
//! step's own limit, and powers the guest off when the host says Finish. After the boot
//! facts and after each step it forwards what the kernel logged meanwhile. Before the
//! first command it did not write, it locks the guest down (`lockdown`); each probe and
//! step runs kept from the agent's channel and the kernel's knobs (`isolate`), and what a
//! step leaves running is killed (`leftovers`). No systemd, no network, no ssh: this must
//! work in a busybox initramfs. docs/threat-model.md says what a workload can still do.

mod boot;
mod channel;
mod isolate;
mod kernel_view;
mod kmsg;
mod leftovers;
mod lockdown;
mod measure;
mod monitor;
mod resume;
mod root;
mod steps;

use kbench_protocol::{AgentMessage, HostMessage, AGENT_PORT, PROTOCOL_VERSION};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

fn main() {
    let is_init = std::process::id() == 1;
    if is_init {
        boot::mount_basics();
    }
    // Opened now: the lockdown covers /dev/console, and the agent keeps speaking through this.
    console_file();
    isolate::protect_agent();
    let port_path = std::env::args().nth(1).unwrap_or_else(|| AGENT_PORT.to_string());
    let message = match channel::open(&port_path) {
        Err(error) => Some(error),
        Ok((sender, mut receiver)) => {
            // A panic must still end in a message and a powered-off guest, not a hung VM.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(&port_path, &sender, &mut receiver)));
            let message = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error),
                Err(_) => Some("the agent panicked".to_string()),
            };
            if let Some(message) = &message {
                let _ = sender.send(&AgentMessage::Fatal { message: message.clone() });
            }
            message
        }
    };
    if let Some(message) = message {
        console(&format!("fatal: {message}"));
    }
    if is_init {
        boot::power_off();
    }
}

fn serve(port_path: &str, sender: &channel::Sender, receiver: &mut channel::Receiver) -> Result<(), String> {
    sender.send(&AgentMessage::Hello { protocol: PROTOCOL_VERSION, agent_version: env!("CARGO_PKG_VERSION").to_string() })?;
    let mut setup = match receiver.receive()? {
        HostMessage::Setup(setup) => setup,
        other => return Err(format!("the host began with {other:?} instead of the setup")),
    };
    // Only the decoded key is kept; its hex text is wiped here.
    sender.set_key(std::mem::take(&mut setup.key))?;
    // Opened before the chroot: the root disk's /dev need not have it.
    let mut kernel_log = kmsg::KernelLog::open();
    if let Some(root) = &setup.root {
        // The serial port stays open across the chroot: it is already an open file.
        root::enter(root)?;
    }
    // After the root disk's modules, before the first probe: from here on nothing the
    // agent did not write runs with more rights than a step.
    if std::process::id() == 1 {
        lockdown::lock_down(port_path);
    }
    let isolation = isolate::Isolation::prepare();
    let probe_limit = Duration::from_secs_f64(setup.probe_timeout_s.clamp(0.0, 86_400.0));
    sender.send(&AgentMessage::BootFacts(boot::facts(&setup.probes, probe_limit, &isolation)))?;
    send_kernel_log(sender, &mut kernel_log)?;
    let runner = measure::Runner::new(&setup.env, setup.output_tail_bytes, isolation, setup.monitor_interval_s);
    let heartbeat = Duration::from_secs_f64(setup.heartbeat_s.clamp(0.01, 3600.0));
    steps::serve(sender, receiver, &runner, heartbeat, &mut || send_kernel_log(sender, &mut kernel_log))?;
    // After the last step: its largest caches are those the runs left.
    send_kernel_log(sender, &mut kernel_log)?;
    sender.send(&AgentMessage::KernelView(kernel_view::now(kernel_log.mem_auto_init())))?;
    sender.send(&AgentMessage::Done)
}

/// What the kernel logged since the last time, if anything.
fn send_kernel_log(sender: &channel::Sender, kernel_log: &mut kmsg::KernelLog) -> Result<(), String> {
    match kernel_log.take_new() {
        Some(text) => sender.send(&AgentMessage::KernelLog { text }),
        None => Ok(()),
    }
}

/// A line on the kernel console, so that the saved console log tells what the agent did.
pub fn console(line: &str) {
    if cfg!(test) {
        return;
    }
    if let Some(mut console) = console_file() {
        // One write: a kernel line printed meanwhile then starts a line of its own, not
        // the middle of this one (the host skips the agent's lines when it looks for reports).
        let _ = console.write_all(format!("kbench-agent: {line}\n").as_bytes());
    }
}

/// /dev/console, opened once, before the lockdown covers it.
fn console_file() -> Option<&'static std::fs::File> {
    static CONSOLE: OnceLock<Option<std::fs::File>> = OnceLock::new();
    CONSOLE.get_or_init(|| std::fs::OpenOptions::new().write(true).open("/dev/console").ok()).as_ref()
}
