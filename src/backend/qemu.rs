//! The default backend: qemu-system-x86_64 spawned directly, with direct kernel boot.
//! The console goes to a file; the agent talks on the second serial port, which QEMU
//! gets as one end of a socket pair (`-chardev socket,fd=3`), and so does the QMP monitor
//! of a pinned guest (fd 4): no socket file, so no path to keep under the 108-byte limit
//! of unix socket names and nothing left behind.

use super::qmp::{qmp_arguments, Qmp, QMP_TIMEOUT};
use super::{initrd, pin, qemu_state, Accel, Backend, Guest, GuestEvent, GuestSpec};
use crate::model::PinningFacts;
use anyhow::{bail, Context, Result};
use kbench_protocol::lines::{Line, LineReader};
use kbench_protocol::{encode, HostMessage, MAX_LINE_BYTES};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The descriptor QEMU finds its end of the agent's socket pair on...
const AGENT_FD: i32 = 3;
/// ...and its end of the QMP socket pair (pinned guests).
const QMP_FD: i32 = 4;
/// Where our copies of QEMU's ends live until the fork: above every descriptor QEMU is
/// handed, so that handing one cannot close another.
const HANDED_FROM: i32 = 10;
/// How long the agent may take no byte of a message before the guest counts as hung
/// (the agent reads its channel at all times; only a dead guest stops).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// What `qemu-system-* --version` prints first; anything else is not QEMU.
const VERSION_PREFIX: &str = "QEMU emulator version";
/// How long a QEMU whose guest channel closed may take to exit before its status is read.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// QEMU's own error output quoted in a message.
const STDERR_EXCERPT: usize = 2000;

pub struct QemuBackend {
    binary: PathBuf,
    version: String,
    accel: Accel,
    /// The CPUs bench may use, taken before any pinning moves bench itself onto the
    /// shared ones: every boot's vCPUs are pinned within these.
    host_cpus: std::result::Result<Vec<usize>, String>,
}

impl QemuBackend {
    pub fn new(binary: Option<&Path>, accel: Accel) -> Result<QemuBackend> {
        let binary = binary.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"));
        let output = Command::new(&binary).arg("--version").output().with_context(|| {
            format!(
                "cannot run {}: is QEMU installed? (Debian: apt-get install qemu-system-x86, or scripts/install-deps.sh)",
                binary.display()
            )
        })?;
        let version = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").trim().to_string();
        if !output.status.success() || !version.starts_with(VERSION_PREFIX) {
            bail!(
                "{} is not QEMU: `{} --version` printed {version:?} ({}), not \"{VERSION_PREFIX} ...\"; set `guest.qemu` in the scenario to a qemu-system-x86_64",
                binary.display(),
                binary.display(),
                output.status
            );
        }
        let host_cpus = pin::allowed_cpus().map_err(|e| format!("{e:#}"));
        Ok(QemuBackend { binary, version, accel, host_cpus })
    }

    fn arguments(&self, spec: &GuestSpec, initrd: &Path) -> Vec<String> {
        let mut args: Vec<String> = vec!["-nodefaults".into(), "-no-user-config".into(), "-display".into(), "none".into()];
        match self.accel {
            Accel::Kvm => args.extend(["-accel".into(), "kvm".into(), "-cpu".into(), "host".into()]),
            Accel::Tcg => args.extend(["-accel".into(), "tcg,thread=multi".into(), "-cpu".into(), "max".into()]),
        }
        args.extend([
            "-smp".into(),
            spec.cpus.to_string(),
            "-m".into(),
            format!("{}M", spec.memory_mib),
            "-kernel".into(),
            spec.kernel.display().to_string(),
            "-initrd".into(),
            initrd.display().to_string(),
            "-append".into(),
            spec.cmdline.clone(),
            "-no-reboot".into(),
            "-chardev".into(),
            format!("file,id=console,path={}", escape(&spec.console_log)),
            "-serial".into(),
            "chardev:console".into(),
            "-chardev".into(),
            format!("socket,id=agent,fd={AGENT_FD}"),
            "-serial".into(),
            "chardev:agent".into(),
        ]);
        args
    }
}

impl Backend for QemuBackend {
    fn accel(&self) -> Accel {
        self.accel
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn boot(&self, spec: &GuestSpec) -> Result<Box<dyn Guest>> {
        let overlay = match (&spec.disk, spec.saveable) {
            (Some(disk), true) => Some(qemu_state::create_overlay(disk, &spec.scratch.join(format!("{}.disk.qcow2", spec.name)))?),
            _ => None,
        };
        let drive = match (&spec.disk, &overlay) {
            (_, Some(overlay)) => Some(format!("file={},if=virtio,format=qcow2", escape(overlay))),
            (Some(disk), None) => {
                let format = if is_qcow2(disk) { "qcow2" } else { "raw" };
                Some(format!("file={},if=virtio,format={format},snapshot=on", escape(disk)))
            }
            (None, None) => None,
        };
        let mut guest = self.start(spec, drive, &[])?;
        guest.overlay = overlay;
        Ok(Box::new(guest))
    }

    fn restore(&self, spec: &GuestSpec, state: &Path) -> Result<Box<dyn Guest>> {
        let files = qemu_state::StateFiles::in_dir(state);
        // The saved disk's writes under a throw-away layer: every restore starts from them.
        let drive = spec.disk.as_ref().map(|_| format!("file={},if=virtio,format=qcow2,snapshot=on", escape(&files.disk)));
        let mut guest = self.start(spec, drive, &["-S", "-incoming", "defer"])?;
        qemu_state::restore(guest.qmp()?, &files, super::STATE_TIMEOUT)?;
        Ok(Box::new(guest))
    }
}

impl QemuBackend {
    /// Starts QEMU for `spec` with its disk as `drive` and `extra` arguments; its agent
    /// channel (and QMP monitor, when pinned or saveable) on socket pairs.
    fn start(&self, spec: &GuestSpec, drive: Option<String>, extra: &[&str]) -> Result<QemuGuest> {
        let initrd_path = spec.scratch.join(format!("{}.initrd", spec.name));
        initrd::with_agent(spec.initrd.as_deref(), &spec.agent, &initrd_path)?;
        let stderr_path = spec.console_log.with_extension("qemu.log");
        let stderr = std::fs::File::create(&stderr_path).with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let (stream, qemu_end) = UnixStream::pair().context("cannot create the agent's socket pair")?;
        let mut handed = vec![(above_handed(qemu_end.into())?, AGENT_FD)];
        let mut command = Command::new(&self.binary);
        command.args(self.arguments(spec, &initrd_path)).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        if let Some(drive) = drive {
            command.args(["-drive", &drive]);
        }
        command.args(extra);
        let qmp = match spec.pin || spec.saveable || !extra.is_empty() {
            true => {
                let (ours, qemu_end) = UnixStream::pair().context("cannot create the QMP socket pair")?;
                handed.push((above_handed(qemu_end.into())?, QMP_FD));
                command.args(qmp_arguments(QMP_FD));
                Some(ours)
            }
            false => None,
        };
        let moves: Vec<(i32, i32)> = handed.iter().map(|(fd, to)| (fd.as_raw_fd(), *to)).collect();
        // Own process group: a terminal's Ctrl-C reaches us, and we stop the guest in order.
        command.process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec (`moves` was built
        // before): prctl makes the kernel kill QEMU when we die; dup2 hands QEMU each of
        // its socket ends under the number its arguments name, open across exec (dup2
        // clears close-on-exec on the copy; every source is above every target).
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
                for &(from, to) in &moves {
                    if nix::libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn().with_context(|| format!("cannot start {}", self.binary.display()))?;
        // QEMU holds the only other ends now: when it exits, our reads end.
        drop(handed);
        let mut guest = QemuGuest::new(child, stream, stderr_path, initrd_path, SEND_TIMEOUT)?;
        guest.qmp_stream = qmp;
        if spec.pin {
            // Dropping the guest on an error stops QEMU: no unpinned guest measures anything.
            let host_cpus =
                self.host_cpus.as_ref().map_err(|e| anyhow::anyhow!("key `guest.pin`: cannot read the CPUs bench may use: {e}"))?;
            let pid = guest.child.id();
            let pinning = pin::pin_guest(guest.qmp()?, pid, host_cpus).context("key `guest.pin`: cannot pin the guest")?;
            guest.pinning = Some(pinning.facts());
        }
        Ok(guest)
    }
}

/// A copy of `fd` numbered at least [`HANDED_FROM`], closed on exec; `fd` is closed.
fn above_handed(fd: OwnedFd) -> Result<OwnedFd> {
    let copy = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(HANDED_FROM)).context("cannot copy a socket for QEMU")?;
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) just returned this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Frames the agent's lines on a thread of its own; never holds more than one line of
/// at most MAX_LINE_BYTES (a longer one is reported, not kept), and a bounded queue.
fn spawn_reader(stream: UnixStream) -> mpsc::Receiver<GuestEvent> {
    let (sender, receiver) = mpsc::sync_channel(64);
    std::thread::spawn(move || {
        let mut lines = LineReader::new(stream, MAX_LINE_BYTES);
        while let Ok(Some(line)) = lines.next_line() {
            let event = match line {
                Line::Text(text) => GuestEvent::Line(text),
                Line::TooLong { bytes } => GuestEvent::TooLong { bytes },
            };
            if sender.send(event).is_err() {
                return;
            }
        }
        let _ = sender.send(GuestEvent::Closed { hypervisor_error: None });
    });
    receiver
}

struct QemuGuest {
    child: Child,
    /// What `send` writes to: bounded by a write timeout.
    stream: UnixStream,
    events: mpsc::Receiver<GuestEvent>,
    /// QEMU's own messages ("initrd is too large"), quoted when it ends in failure.
    stderr_path: PathBuf,
    /// The composed initrd, until QEMU has surely read it: QEMU loads it before the guest
    /// runs, so it goes at the agent's first word, and a `kill -9` of bench later leaves
    /// nothing of it behind.
    initrd: Option<PathBuf>,
    pinning: Option<PinningFacts>,
    send_timeout: Duration,
    /// Our end of QEMU's QMP monitor, until the first command connects it...
    qmp_stream: Option<UnixStream>,
    /// ...and the monitor then.
    qmp: Option<Qmp>,
    /// A saveable guest's disk: its writes over the read-only image, in the scratch space.
    overlay: Option<PathBuf>,
}

impl QemuGuest {
    /// A started QEMU and our end of its agent channel; a message the agent does not take
    /// within `send_timeout` is an error, not a bench that waits for ever.
    fn new(child: Child, stream: UnixStream, stderr_path: PathBuf, initrd: PathBuf, send_timeout: Duration) -> Result<QemuGuest> {
        stream.set_write_timeout(Some(send_timeout)).context("cannot set a write timeout on the agent socket")?;
        let events = spawn_reader(stream.try_clone().context("cannot clone the agent socket")?);
        Ok(QemuGuest {
            child,
            stream,
            events,
            stderr_path,
            initrd: Some(initrd),
            pinning: None,
            send_timeout,
            qmp_stream: None,
            qmp: None,
            overlay: None,
        })
    }

    /// The QMP monitor, connected on first use; a guest started without one has none.
    fn qmp(&mut self) -> Result<&mut Qmp> {
        if self.qmp.is_none() {
            let stream = self.qmp_stream.take().context("internal: this QEMU was started without a QMP monitor")?;
            self.qmp = Some(Qmp::connect(stream, QMP_TIMEOUT)?);
        }
        Ok(self.qmp.as_mut().expect("connected just above"))
    }

    /// Once the channel closed: QEMU's exit status and its own message, when it ended in
    /// failure (a guest that powers off, panics or resets ends QEMU with status 0).
    fn failure(&mut self) -> Option<String> {
        let deadline = Instant::now() + EXIT_WAIT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        };
        if status.success() {
            return None;
        }
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let stderr = stderr.trim();
        // (str::floor_char_boundary is newer than the crate's rust-version.)
        let mut start = stderr.len().saturating_sub(STDERR_EXCERPT);
        while !stderr.is_char_boundary(start) {
            start += 1;
        }
        let excerpt = &stderr[start..];
        Some(if excerpt.is_empty() { format!("QEMU ended with {status}") } else { format!("QEMU ended with {status}: {excerpt}") })
    }
}

impl Guest for QemuGuest {
    fn send(&mut self, message: &HostMessage) -> Result<()> {
        match self.stream.write_all(encode(message).as_bytes()) {
            Ok(()) => Ok(()),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(anyhow::anyhow!(
                "cannot send to the guest agent: it took no byte for {} s (the guest hangs, or something else holds its port)",
                self.send_timeout.as_secs_f64()
            )),
            Err(error) => Err(error).context("cannot send to the guest agent"),
        }
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<GuestEvent>> {
        match self.events.recv_timeout(timeout) {
            Ok(GuestEvent::Closed { .. }) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                Ok(Some(GuestEvent::Closed { hypervisor_error: self.failure() }))
            }
            Ok(event) => {
                if let Some(initrd) = self.initrd.take() {
                    let _ = std::fs::remove_file(initrd);
                }
                Ok(Some(event))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        }
    }

    fn shut_down(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn host_pids(&self) -> Option<Vec<u32>> {
        Some(vec![self.child.id()])
    }

    fn pinning(&self) -> Option<PinningFacts> {
        self.pinning.clone()
    }

    fn save_state(&mut self, dir: &Path) -> Result<u64> {
        let overlay = self.overlay.clone();
        qemu_state::save(self.qmp()?, overlay.as_deref(), &qemu_state::StateFiles::in_dir(dir), super::STATE_TIMEOUT)
    }
}

impl Drop for QemuGuest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(initrd) = self.initrd.take() {
            let _ = std::fs::remove_file(initrd);
        }
        if let Some(overlay) = self.overlay.take() {
            let _ = std::fs::remove_file(overlay);
        }
    }
}

/// QEMU option values separate on ','; a literal comma is written twice.
pub(super) fn escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

pub(crate) fn is_qcow2(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"QFI\xfb"
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbench_protocol::{Step, StepKind};

    /// Issue 19 item 13: a guest whose agent takes nothing (a hung guest) made `send`
    /// block for ever; now it fails after the write timeout, saying why.
    #[test]
    fn a_guest_that_takes_no_message_fails_the_send_after_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("sleep").arg("60").spawn().expect("sleep");
        // The far end stays open and is never read: the socket's buffer fills and stays full.
        let (stream, _unread) = UnixStream::pair().unwrap();
        let mut guest =
            QemuGuest::new(child, stream, dir.path().join("qemu.log"), dir.path().join("initrd"), Duration::from_millis(200)).unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let step = Step {
                id: 0,
                kind: StepKind::Timed,
                clean: None,
                command: "x".repeat(64 * 1024),
                timeout_s: 1.0,
                expect_files: Vec::new(),
            };
            // A few MiB: far more than any socket buffer holds.
            let sent = (0..100).map(|_| guest.send(&HostMessage::Run(step.clone()))).find(Result::is_err);
            let _ = sender.send(sent.map(|r| format!("{:#}", r.unwrap_err())));
        });
        let error = receiver.recv_timeout(Duration::from_secs(20)).expect("send returned within 20 s").expect("a send failed");
        assert!(error.contains("it took no byte for 0.2 s"), "{error}");
    }
}
