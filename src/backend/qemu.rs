//! The default backend: qemu-system-x86_64 spawned directly, with direct kernel boot.
//! The console goes to a file; the agent talks on the second serial port, which QEMU
//! gets as one end of a socket pair (`-chardev socket,fd=3`): no socket file, so no path
//! to keep under the 108-byte limit of unix socket names and nothing left behind.

use super::{initrd, pin, Accel, Backend, Guest, GuestEvent, GuestSpec};
use crate::model::PinningFacts;
use anyhow::{bail, Context, Result};
use kbench_protocol::lines::{Line, LineReader};
use kbench_protocol::{encode, HostMessage, MAX_LINE_BYTES};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The descriptor QEMU finds its end of the agent's socket pair on.
const AGENT_FD: i32 = 3;
/// What `qemu-system-* --version` prints first; anything else is not QEMU.
const VERSION_PREFIX: &str = "QEMU emulator version";
/// How long a QEMU whose guest channel closed may take to exit before its status is read.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// QEMU's own error output quoted in a message.
const STDERR_EXCERPT: usize = 2000;
/// The longest path a unix socket may have (sun_path, with its terminating zero).
const SOCKET_PATH_MAX: usize = 107;

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
            format!("cannot run {}: is QEMU installed? (Debian: apt-get install qemu-system-x86, or scripts/install-deps.sh)", binary.display())
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
        if let Some(disk) = &spec.disk {
            let format = if is_qcow2(disk) { "qcow2" } else { "raw" };
            args.extend(["-drive".into(), format!("file={},if=virtio,format={format},snapshot=on", escape(disk))]);
        }
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
        let initrd_path = spec.scratch.join(format!("{}.initrd", spec.name));
        initrd::with_agent(spec.initrd.as_deref(), &spec.agent, &initrd_path)?;
        let stderr_path = spec.console_log.with_extension("qemu.log");
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let (stream, qemu_end) = UnixStream::pair().context("cannot create the agent's socket pair")?;
        let qemu_fd = qemu_end.as_raw_fd();
        let mut command = Command::new(&self.binary);
        command.args(self.arguments(spec, &initrd_path)).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        let qmp_socket = spec.pin.then(|| qmp_socket(spec));
        if let Some(socket) = &qmp_socket {
            let _ = std::fs::remove_file(socket);
            command.args(pin::qmp_arguments(socket));
        }
        // Own process group: a terminal's Ctrl-C reaches us, and we stop the guest in order.
        command.process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec: prctl makes the
        // kernel kill QEMU when we die; dup2/fcntl hand QEMU its end of the socket pair
        // as AGENT_FD, open across exec (dup2 clears close-on-exec on the copy).
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
                let handed = if qemu_fd == AGENT_FD {
                    nix::libc::fcntl(AGENT_FD, nix::libc::F_SETFD, 0)
                } else {
                    nix::libc::dup2(qemu_fd, AGENT_FD)
                };
                if handed < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().with_context(|| format!("cannot start {}", self.binary.display()))?;
        // QEMU holds the only other end now: when it exits, our reads end.
        drop(qemu_end);
        let events = spawn_reader(stream.try_clone().context("cannot clone the agent socket")?);
        let mut guest =
            QemuGuest { child, stream, events, stderr_path, initrd: Some(initrd_path), qmp_socket: qmp_socket.clone(), pinning: None };
        if let Some(socket) = &qmp_socket {
            // Dropping the guest on an error stops QEMU: no unpinned guest measures anything.
            let host_cpus = self.host_cpus.as_ref().map_err(|e| anyhow::anyhow!("key `guest.pin`: cannot read the CPUs bench may use: {e}"))?;
            let pinning = pin::pin_guest(socket, guest.child.id(), host_cpus).context("key `guest.pin`: cannot pin the guest")?;
            guest.pinning = Some(pinning.facts());
        }
        Ok(Box::new(guest))
    }
}

/// The QMP socket of a pinned guest: in the scratch folder, unless that path is too long
/// for a unix socket; then in the temporary folder, named after this bench.
fn qmp_socket(spec: &GuestSpec) -> PathBuf {
    let socket = spec.scratch.join(format!("{}.qmp", spec.name));
    if socket.as_os_str().len() <= SOCKET_PATH_MAX {
        return socket;
    }
    std::env::temp_dir().join(format!("kbench-{}-{}.qmp", std::process::id(), spec.name))
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
    stream: UnixStream,
    events: mpsc::Receiver<GuestEvent>,
    /// QEMU's own messages ("initrd is too large"), quoted when it ends in failure.
    stderr_path: PathBuf,
    /// The composed initrd, until QEMU has surely read it: QEMU loads it before the guest
    /// runs, so it goes at the agent's first word, and a `kill -9` of bench later leaves
    /// nothing of it behind.
    initrd: Option<PathBuf>,
    /// QEMU's QMP socket, when pinned; removed with the guest.
    qmp_socket: Option<PathBuf>,
    pinning: Option<PinningFacts>,
}

impl QemuGuest {
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
        self.stream.write_all(encode(message).as_bytes()).context("cannot send to the guest agent")
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
        if let Some(socket) = self.qmp_socket.take() {
            let _ = std::fs::remove_file(socket);
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
