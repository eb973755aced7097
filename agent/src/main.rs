//! kbench's in-guest agent. It runs as the guest's init (PID 1): it mounts what it
//! needs, asks the host for its job over the second serial port, reports the boot facts,
//! runs and measures each step, streams one message per finished step, and powers the
//! guest off. No systemd, no network, no ssh: this must work in a busybox initramfs.

mod boot;
mod channel;
mod kernel_view;
mod measure;
mod monitor;
mod root;

use kbench_protocol::{AgentMessage, HostMessage, Job, StepKind, AGENT_PORT, PROTOCOL_VERSION};
use std::io::Write;

fn main() {
    let is_init = std::process::id() == 1;
    if is_init {
        boot::mount_basics();
    }
    // A panic must still end in a message and a powered-off guest, not a hung VM.
    let outcome = std::panic::catch_unwind(serve);
    let message = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error),
        Err(_) => Some("the agent panicked".to_string()),
    };
    if let Some(message) = message {
        console(&format!("fatal: {message}"));
        if let Ok(mut port) = channel::Port::open(AGENT_PORT) {
            let _ = port.send(&AgentMessage::Fatal { message });
        }
    }
    if is_init {
        boot::power_off();
    }
}

fn serve() -> Result<(), String> {
    let port_path = std::env::args().nth(1).unwrap_or_else(|| AGENT_PORT.to_string());
    let mut port = channel::Port::open(&port_path)?;
    port.send(&AgentMessage::Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
    })?;
    let HostMessage::Job(job) = port.receive()?;
    // Read before the root disk is entered: /dev/kmsg is the initramfs's.
    let mem_auto_init = kernel_view::mem_auto_init();
    if let Some(root) = &job.root {
        // The serial port stays open across the chroot: it is already an open file.
        root::enter(root)?;
    }
    port.send(&AgentMessage::BootFacts(boot::facts(&job.probes)))?;
    run_job(&mut port, &job)?;
    port.send(&AgentMessage::KernelView(kernel_view::now(mem_auto_init)))?;
    port.send(&AgentMessage::Done)
}

fn run_job(port: &mut channel::Port, job: &Job) -> Result<(), String> {
    let runner = measure::Runner::new(job);
    let mut longest_warmup: Option<f64> = None;
    for step in &job.steps {
        let mut step = step.clone();
        if step.kind == StepKind::Timed && step.timeout_s.is_none() {
            step.timeout_s = job.derived_timeout.zip(longest_warmup).map(|(rule, warmup)| rule.limit(warmup));
        }
        console(&format!("step {} ({:?}): {}", step.id, step.kind, step.command));
        port.send(&AgentMessage::StepStarted { id: step.id, timeout_s: step.timeout_s })?;
        let result = runner.run(&step);
        if step.kind == StepKind::Warmup {
            let elapsed = result.measurement.elapsed_s;
            longest_warmup = Some(longest_warmup.map_or(elapsed, |l: f64| l.max(elapsed)));
        }
        let prepare_failed = step.kind == StepKind::Prepare && !result.outcome.is_success();
        port.send(&AgentMessage::StepFinished(result))?;
        if prepare_failed {
            // Nothing after a failed prepare would measure what the scenario meant.
            break;
        }
    }
    Ok(())
}

/// A line on the kernel console, so that the saved console log tells what the agent did.
pub fn console(line: &str) {
    if let Ok(mut console) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = writeln!(console, "kbench-agent: {line}");
    }
}
