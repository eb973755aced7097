//! The default backend: qemu-system-x86_64 spawned directly, with direct kernel boot.
//! The console goes to a file; the agent talks on the second serial port, which QEMU
//! exposes as a unix socket that we connect to before the guest starts (wait=on).

use super::{initrd, Accel, Backend, Guest, GuestEvent, GuestSpec};
use anyhow::{bail, Context, Result};
use kbench_protocol::{decode, encode, AgentMessage, HostMessage};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct QemuBackend {
    binary: PathBuf,
    version: String,
    accel: Accel,
    /// Sockets and composed initrds; removed with the backend.
    scratch: tempfile::TempDir,
}

impl QemuBackend {
    pub fn new(binary: Option<&Path>, accel: Accel) -> Result<QemuBackend> {
        let binary = binary.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"));
        let output = Command::new(&binary).arg("--version").output().with_context(|| {
            format!("cannot run {}: is QEMU installed? (Debian: apt-get install qemu-system-x86, or scripts/install-deps.sh)", binary.display())
        })?;
        let version = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("unknown").trim().to_string();
        let scratch = tempfile::Builder::new().prefix("kbench-").tempdir().context("cannot create a scratch folder")?;
        Ok(QemuBackend { binary, version, accel, scratch })
    }

    fn arguments(&self, spec: &GuestSpec, initrd: &Path, socket: &Path) -> Vec<String> {
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
            format!("socket,id=agent,path={},server=on,wait=on", escape(socket)),
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
        let initrd_path = self.scratch.path().join(format!("{}.initrd", spec.name));
        initrd::with_agent(spec.initrd.as_deref(), &spec.agent, &initrd_path)?;
        let socket = self.scratch.path().join(format!("{}.sock", spec.name));
        let _ = std::fs::remove_file(&socket);
        let stderr_path = spec.console_log.with_extension("qemu.log");
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let mut command = Command::new(&self.binary);
        command.args(self.arguments(spec, &initrd_path, &socket)).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        // Own process group: a terminal's Ctrl-C reaches us, and we stop the guest in order.
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only makes the kernel kill QEMU when we die.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let mut child = command.spawn().with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stream = match connect(&socket, &mut child, &stderr_path) {
            Ok(stream) => stream,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        let events = spawn_reader(stream.try_clone().context("cannot clone the agent socket")?);
        Ok(Box::new(QemuGuest { child, stream, events }))
    }
}

/// QEMU creates the socket, then waits for us before it starts the guest.
fn connect(socket: &Path, child: &mut Child, stderr_path: &Path) -> Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
            bail!("QEMU exited before the guest started ({status}): {}", stderr.trim());
        }
        if let Ok(stream) = UnixStream::connect(socket) {
            return Ok(stream);
        }
        if Instant::now() > deadline {
            bail!("QEMU did not open its agent socket {} within 30 s", socket.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_reader(stream: UnixStream) -> mpsc::Receiver<GuestEvent> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        for line in reader.split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line);
            // Anything that is not a message (line noise before the agent starts) is skipped.
            if let Ok(message) = decode::<AgentMessage>(&text) {
                if sender.send(GuestEvent::Message(message)).is_err() {
                    return;
                }
            }
        }
        let _ = sender.send(GuestEvent::Closed);
    });
    receiver
}

struct QemuGuest {
    child: Child,
    stream: UnixStream,
    events: mpsc::Receiver<GuestEvent>,
}

impl Guest for QemuGuest {
    fn send(&mut self, message: &HostMessage) -> Result<()> {
        self.stream.write_all(encode(message).as_bytes()).context("cannot send to the guest agent")
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<GuestEvent>> {
        match self.events.recv_timeout(timeout) {
            Ok(event) => Ok(Some(event)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(Some(GuestEvent::Closed)),
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
}

impl Drop for QemuGuest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// QEMU option values separate on ','; a literal comma is written twice.
fn escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

pub(crate) fn is_qcow2(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"QFI\xfb"
}
