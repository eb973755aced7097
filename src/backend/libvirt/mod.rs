//! The libvirt backend: each guest is a transient domain of a libvirt daemon, this host's
//! (`qemu:///system`) or a lab host's (`qemu+ssh://root@lab1/system`). Nothing is shared
//! with that host but the connection: the files go into a storage pool through streams,
//! the console and the agent's channel come back as streams.
//!
//! No domain outlives bench: each is created with VIR_DOMAIN_START_AUTODESTROY (the daemon
//! destroys it when the connection that made it closes, also when bench is killed) and
//! destroyed when its handle is dropped.

pub mod domain_xml;
pub mod prune;
pub mod remote_files;
pub mod saved;
pub mod streams;
pub mod volumes;

use super::{initrd, Accel, Backend, Guest, GuestEvent, GuestSpec, HostMachine, Unreachable};
use crate::scenario::file::AccelChoice;
use crate::scenario::Plan;
use anyhow::{anyhow, Context, Result};
use domain_xml::{Disk, DomainSpec};
use kbench_protocol::{encode, HostMessage};
use saved::{Owner, Pointer};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use streams::Framed;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::stream::Stream;

/// How long opening the connection may take (an ssh that hangs, a host that is down).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Keepalive: a probe after 5 s of silence, the connection given up after 6 unanswered
/// ones, so a network blip shorter than about 30 s costs nothing.
const KEEPALIVE_INTERVAL_S: i32 = 5;
const KEEPALIVE_COUNT: u32 = 6;

pub struct LibvirtBackend {
    /// Replaced when it was lost (a host rebooted, a network cut longer than keepalive
    /// allows): the guest it ran died with it, the retry boots on a fresh one.
    conn: Mutex<Connect>,
    uri: String,
    uri_key: String,
    accel: Accel,
    maximum_cpu: bool,
    version: String,
    machine: HostMachine,
    /// Local file (or an initrd and agent pair, `initrd_key`) → its path on the host,
    /// uploaded once.
    remote: Mutex<HashMap<PathBuf, String>>,
    /// What this backend's domains and volumes are marked with (`reuse = "snapshot"`).
    owner: Owner,
    /// `reuse = "snapshot"`: the backend leaves volumes to remove at its end.
    saves: bool,
}

/// The key of a composed initrd in the upload table: no file has this name.
fn initrd_key(initrd: Option<&Path>, agent: &Path) -> PathBuf {
    PathBuf::from(format!("initrd {} + agent {}", initrd.map_or_else(String::new, |p| p.display().to_string()), agent.display()))
}

/// The initrd with the agent appended, in an anonymous in-memory file (memfd): read by its
/// /proc path for the checksum and the upload, its volume named like an upload of a file
/// `<initrd>-agent`, and gone with bench however bench ends: nothing in the temporary
/// folder for a `kill -9` to leave behind.
struct Composed {
    /// Holds the memfd open: the path reads it only while this lives.
    _file: std::fs::File,
    path: PathBuf,
    name: String,
    shown: String,
}

impl Composed {
    fn new(initrd: Option<&Path>, agent: &Path) -> Result<Composed> {
        let image = initrd::compose(initrd, agent)?;
        let memfd = nix::sys::memfd::memfd_create("kbench-initrd", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .context("cannot create an in-memory file for the initrd with the agent")?;
        let mut file = std::fs::File::from(memfd);
        file.write_all(&image).context("cannot write the initrd with the agent into memory")?;
        let base = initrd.and_then(Path::file_name).map_or_else(|| "initrd".into(), |n| n.to_string_lossy().into_owned());
        let shown = match initrd {
            Some(initrd) => format!("{} with the agent appended", initrd.display()),
            None => "an initrd holding only the agent".to_string(),
        };
        Ok(Composed {
            path: PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())),
            _file: file,
            name: format!("{base}-agent"),
            shown,
        })
    }

    fn local(&self) -> volumes::Local<'_> {
        volumes::Local { path: &self.path, name: self.name.clone(), shown: self.shown.clone() }
    }
}

/// Opens `uri`, bounded by [`CONNECT_TIMEOUT`], with keepalive on. `key` is where the
/// URI came from, for the error (`guest.uri` or --uri, `host[1].uri`).
pub fn connect(uri: &str, key: &str) -> Result<Connect> {
    streams::ensure_event_loop();
    let (sender, receiver) = mpsc::channel();
    let owned = uri.to_string();
    std::thread::spawn(move || {
        let _ = sender.send(Connect::open(Some(&owned)).map_err(|e| e.to_string()));
    });
    let conn = match receiver.recv_timeout(CONNECT_TIMEOUT) {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => {
            return Err(Unreachable(format!(
                "cannot connect to libvirt at {uri}: {error} (key {key}; is libvirtd running there? see docs/libvirt.md)"
            ))
            .into())
        }
        Err(_) => {
            return Err(Unreachable(format!(
                "cannot connect to libvirt at {uri}: no answer within {} s (key {key}; is the host up and reachable?)",
                CONNECT_TIMEOUT.as_secs()
            ))
            .into())
        }
    };
    // 1: the daemon does not do keepalive; the connection still works.
    conn.set_keep_alive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
        .map_err(|e| anyhow!("cannot set keepalive on the connection to {uri}: {e}"))?;
    Ok(conn)
}

impl LibvirtBackend {
    /// Connects, picks the accelerator from what the host offers, checks the guest fits
    /// the host, and uploads every file the plan boots, so that a wrong volume is an error
    /// before anything boots.
    pub fn new(plan: &Plan, agent: &Path) -> Result<(LibvirtBackend, Option<String>)> {
        let uri = plan.guest.uri.clone().unwrap_or_else(|| crate::scenario::plan::DEFAULT_LIBVIRT_URI.into());
        let conn = connect(&uri, &plan.guest.uri_key)?;
        let (accel, warning) = choose_accel(&conn, &uri, plan.guest.accel)?;
        let node = conn.node_info().with_context(|| format!("cannot read the CPUs and memory of {uri}"))?;
        crate::scenario::plan::check_guest_fits(plan.guest.cpus, plan.guest.memory_mib, node.cpus, Some(node.memory / 1024), &uri)?;
        let maximum_cpu = conn
            .domain_capabilities(None, Some("x86_64"), None, Some(accel_type(accel)), 0)
            .map(|caps| caps.contains("<mode name='maximum' supported='yes'>"))
            .unwrap_or(false);
        let libvirt_version = version_text(conn.lib_version().unwrap_or(0));
        let version = format!("libvirt {libvirt_version} at {uri}, QEMU {}", version_text(conn.hyp_version().unwrap_or(0)));
        let machine = HostMachine { libvirt_version, accel, cpus: node.cpus, memory_mib: node.memory / 1024 };
        let pool = volumes::pool(&conn).with_context(|| format!("on {uri}"))?;
        let orphans = saved::remove_orphans(&conn, &pool);
        let warning = match (warning, orphans.is_empty()) {
            (warning, true) => warning,
            (warning, false) => Some(
                warning
                    .into_iter()
                    .chain([format!("removed what a killed bench left on {uri}: {}", orphans.join(", "))])
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        // `[guest.remote]`: checked here, before anything boots, then used in place.
        let mut remote = HashMap::new();
        for file in &plan.guest.remote_files {
            let check = remote_files::RemoteCheck { key: file.key, remote: &file.remote, local: &file.local };
            remote_files::verify(&conn, &uri, &check)?;
            remote.insert(file.local.clone(), file.remote.clone());
        }
        let backend = LibvirtBackend {
            conn: Mutex::new(conn),
            uri,
            uri_key: plan.guest.uri_key.clone(),
            accel,
            maximum_cpu,
            version,
            machine,
            remote: Mutex::new(remote),
            owner: Owner::new(),
            saves: plan.reuse == crate::scenario::file::Reuse::Snapshot,
        };
        for variant in &plan.variants {
            backend.upload(&pool, &variant.kernel)?;
            backend.upload_initrd(&pool, variant.initrd.as_deref(), agent)?;
        }
        if let Some(disk) = &plan.guest.disk {
            backend.upload(&pool, disk)?;
        }
        Ok((backend, warning))
    }

    /// The host's libvirt, accelerator, CPUs and memory.
    pub fn machine(&self) -> &HostMachine {
        &self.machine
    }

    fn upload(&self, pool: &virt::storage_pool::StoragePool, local: &Path) -> Result<String> {
        self.upload_as(pool, local.to_path_buf(), &volumes::Local::file(local))
    }

    /// Uploads `local` once, remembered under `key`.
    fn upload_as(&self, pool: &virt::storage_pool::StoragePool, key: PathBuf, local: &volumes::Local) -> Result<String> {
        if let Some(path) = self.remote.lock().map_err(|_| anyhow!("upload table poisoned"))?.get(&key) {
            return Ok(path.clone());
        }
        let sha256 = volumes::sha256_file(local.path).with_context(|| format!("the checksum of {}", local.shown))?;
        let path = volumes::ensure(pool, local, &sha256).with_context(|| format!("on {}", self.uri))?;
        self.remote.lock().map_err(|_| anyhow!("upload table poisoned"))?.insert(key, path.clone());
        Ok(path)
    }

    /// The initrd with the agent appended, uploaded once per (initrd, agent) pair.
    fn upload_initrd(&self, pool: &virt::storage_pool::StoragePool, initrd: Option<&Path>, agent: &Path) -> Result<String> {
        let key = initrd_key(initrd, agent);
        if let Some(path) = self.remote.lock().map_err(|_| anyhow!("upload table poisoned"))?.get(&key) {
            return Ok(path.clone());
        }
        let composed = Composed::new(initrd, agent)?;
        self.upload_as(pool, key, &composed.local())
    }

    /// The connection, opened again if it was lost.
    fn connection(&self) -> Result<Connect> {
        let mut conn = self.conn.lock().map_err(|_| anyhow!("the libvirt connection is poisoned"))?;
        if !conn.is_alive().unwrap_or(false) {
            *conn = connect(&self.uri, &self.uri_key).context("the connection was lost and cannot be opened again")?;
        }
        Ok(conn.clone())
    }

    fn remote_path(&self, local: &Path) -> Result<String> {
        if let Some(path) = self.remote.lock().map_err(|_| anyhow!("upload table poisoned"))?.get(local) {
            return Ok(path.clone());
        }
        let pool = volumes::pool(&self.connection()?)?;
        self.upload(&pool, local)
    }
}

impl Backend for LibvirtBackend {
    fn accel(&self) -> Accel {
        self.accel
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn boot(&self, spec: &GuestSpec) -> Result<Box<dyn Guest>> {
        let initrd =
            match self.remote.lock().map_err(|_| anyhow!("upload table poisoned"))?.get(&initrd_key(spec.initrd.as_deref(), &spec.agent)) {
                Some(path) => path.clone(),
                None => self.upload_initrd(&volumes::pool(&self.connection()?)?, spec.initrd.as_deref(), &spec.agent)?,
            };
        let boot = next_number();
        let mut work_volume = None;
        let disk = match &spec.disk {
            Some(disk) => {
                let format = if super::qemu::is_qcow2(disk) { "qcow2" } else { "raw" };
                let image = self.remote_path(disk)?;
                if spec.saveable {
                    let name = self.owner.work_volume(boot);
                    let pool = volumes::pool(&self.connection()?)?;
                    let path = saved::create_overlay(&pool, &name, &image, format, disk_capacity(disk)?)
                        .with_context(|| format!("on {}", self.uri))?;
                    work_volume = Some(name);
                    Some(Disk { path, format: "qcow2", transient: false })
                } else {
                    Some(Disk { path: image, format, transient: true })
                }
            }
            None => None,
        };
        let safe_name: String =
            spec.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let domain_spec = DomainSpec {
            name: format!("kbench-{}-{boot}-{safe_name}", std::process::id()),
            accel: self.accel,
            maximum_cpu: self.maximum_cpu,
            cpus: spec.cpus,
            memory_mib: spec.memory_mib,
            kernel: self.remote_path(&spec.kernel)?,
            initrd,
            cmdline: spec.cmdline.clone(),
            disk,
            owner_metadata: self.owner.metadata_xml(),
        };
        let xml = domain_xml::domain_xml(&domain_spec);
        // Paused until both serial ports are open: a pty drops what the guest writes
        // while nobody reads it.
        let flags = virt::sys::VIR_DOMAIN_START_AUTODESTROY | virt::sys::VIR_DOMAIN_START_PAUSED;
        let conn = self.connection()?;
        let domain = conn.create_domain_xml(&xml, flags).map_err(|e| anyhow!("libvirt at {} refused to start the guest: {e}", self.uri))?;
        let mut guest = LibvirtGuest::new(domain, conn.clone(), &spec.console_log);
        if spec.saveable {
            let disk = match (&spec.disk, &work_volume) {
                (Some(disk), Some(_)) => Some(disk_capacity(disk)?),
                _ => None,
            };
            guest.saving = Some(Saving { owner: self.owner.clone(), disk_capacity: disk });
        }
        guest.work_volume = work_volume;
        guest.attach(&conn, false)?;
        guest.domain.resume().map_err(|e| anyhow!("cannot start the guest on {}: {e}", self.uri))?;
        guest.host_pids = local_qemu_pid(&self.uri, &domain_spec.name).map(|pid| vec![pid]);
        Ok(Box::new(guest))
    }

    fn restore(&self, spec: &GuestSpec, state: &Path) -> Result<Box<dyn Guest>> {
        let pointer = Pointer::read(state)?;
        let conn = self.connection()?;
        let pool = volumes::pool(&conn)?;
        let fresh = match (&pointer.disk_path, &spec.disk) {
            (Some(saved), Some(disk)) => Some(fresh_overlay(&pool, &self.owner, saved, disk_capacity(disk)?)?),
            _ => None,
        };
        let domain = saved::restore(&conn, &pointer, fresh.as_ref().map(|(_, path)| path.as_str()));
        let mut guest = LibvirtGuest::new(domain.with_context(|| format!("on {}", self.uri))?, conn.clone(), &spec.console_log);
        guest.work_volume = fresh.map(|(name, _)| name);
        guest.attach(&conn, false)?;
        guest.domain.resume().map_err(|e| anyhow!("cannot start the restored guest on {}: {e}", self.uri))?;
        guest.host_pids = local_qemu_pid(&self.uri, &pointer.domain).map(|pid| vec![pid]);
        Ok(Box::new(guest))
    }
}

impl Drop for LibvirtBackend {
    /// The study is over: its saved guests and disk overlays go (the domains went with
    /// their handles).
    fn drop(&mut self) {
        // Not over a connection opened anew (a host gone would cost its timeout): what a
        // lost connection leaves, the next run removes.
        let Ok(conn) = self.conn.lock() else { return };
        if self.saves && conn.is_alive().unwrap_or(false) {
            if let Ok(pool) = volumes::pool(&conn) {
                saved::remove_volumes_of(&pool, &self.owner);
            }
        }
    }
}

/// A number for a domain's and an overlay's name, unique in this process.
fn next_number() -> u32 {
    static NUMBERS: AtomicU32 = AtomicU32::new(0);
    NUMBERS.fetch_add(1, Ordering::Relaxed)
}

/// A new overlay volume over the saved disk at `saved`: (its name, its path).
fn fresh_overlay(pool: &virt::storage_pool::StoragePool, owner: &Owner, saved: &str, capacity: u64) -> Result<(String, String)> {
    let name = owner.work_volume(next_number());
    let path = saved::create_overlay(pool, &name, saved, "qcow2", capacity)?;
    Ok((name, path))
}

/// The size a disk image shows its guest: a qcow2's virtual size, a raw file's length.
fn disk_capacity(disk: &Path) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(disk).with_context(|| format!("cannot read {}", disk.display()))?;
    if super::qemu::is_qcow2(disk) {
        let mut size = [0u8; 8];
        file.seek(SeekFrom::Start(24))
            .and_then(|_| file.read_exact(&mut size))
            .with_context(|| format!("cannot read {}", disk.display()))?;
        return Ok(u64::from_be_bytes(size));
    }
    Ok(file.metadata().with_context(|| format!("cannot read {}", disk.display()))?.len())
}

/// What a guest that may be saved needs to save itself.
#[derive(Clone)]
struct Saving {
    owner: Owner,
    /// The size of its disk, for the overlay it runs on after the save.
    disk_capacity: Option<u64>,
}

/// A running domain and the threads that pump its serial ports.
struct LibvirtGuest {
    domain: Domain,
    conn: Connect,
    console_log: PathBuf,
    /// Set on a guest booted to be saved (`GuestSpec::saveable`).
    saving: Option<Saving>,
    /// The disk overlay volume the domain runs on, removed with it.
    work_volume: Option<String>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    agent_pump: Option<JoinHandle<streams::LineFramer>>,
    /// What the last agent pump had framed of a line not yet ended (a save stopped it).
    framer: Option<streams::LineFramer>,
    outgoing: Option<mpsc::Sender<Vec<u8>>>,
    /// One channel for the guest's life: the pumps after a save feed the same one, so
    /// nothing the session has not read yet is lost.
    events_sender: Option<mpsc::Sender<GuestEvent>>,
    events: Option<mpsc::Receiver<GuestEvent>>,
    /// The domain's QEMU when it runs on this host.
    host_pids: Option<Vec<u32>>,
}

impl LibvirtGuest {
    fn new(domain: Domain, conn: Connect, console_log: &Path) -> LibvirtGuest {
        LibvirtGuest {
            domain,
            conn,
            console_log: console_log.to_path_buf(),
            saving: None,
            work_volume: None,
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            agent_pump: None,
            framer: None,
            outgoing: None,
            events_sender: None,
            events: None,
            host_pids: None,
        }
    }

    /// Opens the serial ports' streams; `again` after a save, the console log continued.
    fn attach(&mut self, conn: &Connect, again: bool) -> Result<()> {
        let console_log = &self.console_log;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(again)
            .truncate(!again)
            .open(console_log)
            .with_context(|| format!("cannot create {}", console_log.display()))?;
        let console = open_serial(conn, &self.domain, "serial0")?;
        self.threads.push(streams::spawn_console_copy(console, log, self.stop.clone()));
        let channel = open_serial(conn, &self.domain, "serial1")?;
        let (outgoing, to_send) = mpsc::channel();
        let events = match &self.events_sender {
            Some(events) => events.clone(),
            None => {
                let (events, received) = mpsc::channel();
                self.events = Some(received);
                self.events_sender = Some(events.clone());
                events
            }
        };
        let closed = events.clone();
        let lost = conn.clone();
        let uri = conn.uri().unwrap_or_default();
        self.agent_pump = Some(streams::spawn_agent_pump(
            conn.clone(),
            channel,
            to_send,
            move |framed| events.send(to_event(framed)).is_ok(),
            move || {
                // The hypervisor's side of a lost connection, for the failed run's row.
                let hypervisor_error = (!lost.is_alive().unwrap_or(false)).then(|| format!("the connection to libvirt at {uri} was lost"));
                let _ = closed.send(GuestEvent::Closed { hypervisor_error });
            },
            self.stop.clone(),
            self.framer.take(),
        ));
        self.outgoing = Some(outgoing);
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.domain.is_active().unwrap_or(false)
    }
}

/// A framed piece of the agent's channel as the session takes it: what the lines say is
/// the session's business.
fn to_event(framed: Framed) -> GuestEvent {
    match framed {
        Framed::Line(text) => GuestEvent::Line(text),
        Framed::TooLong { bytes } => GuestEvent::TooLong { bytes },
    }
}

fn open_serial(conn: &Connect, domain: &Domain, device: &str) -> Result<Stream> {
    let stream = Stream::new(conn, virt::sys::VIR_STREAM_NONBLOCK).context("cannot create a libvirt stream")?;
    domain.open_console(Some(device), &stream, 0).map_err(|e| anyhow!("cannot open the guest's {device}: {e}"))?;
    Ok(stream)
}

impl Guest for LibvirtGuest {
    fn send(&mut self, message: &HostMessage) -> Result<()> {
        let sender = self.outgoing.as_ref().ok_or_else(|| anyhow!("the guest agent's channel is not open"))?;
        sender.send(encode(message).into_bytes()).map_err(|_| anyhow!("cannot send to the guest agent: its channel closed"))
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<GuestEvent>> {
        let Some(events) = &self.events else { return Ok(Some(GuestEvent::Closed { hypervisor_error: None })) };
        match events.recv_timeout(timeout) {
            Ok(event) => Ok(Some(event)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(Some(GuestEvent::Closed { hypervisor_error: None })),
        }
    }

    fn shut_down(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.is_running() {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop_everything();
    }

    fn host_pids(&self) -> Option<Vec<u32>> {
        self.host_pids.clone()
    }

    /// libvirt's save stops the guest: it is restored at once to run on (to its
    /// Finish), its serial ports opened again.
    fn save_state(&mut self, dir: &Path) -> Result<u64> {
        let Some(Saving { owner, disk_capacity }) = self.saving.clone() else { anyhow::bail!("this guest was not booted to be saved") };
        let slot = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state".into());
        let conn = self.conn.clone();
        let pool = volumes::pool(&conn)?;
        // The session had the agent's last word (Synced) before asking for the save: nothing
        // is on its way. Paused first all the same, so that nothing can start.
        self.domain.suspend().map_err(|e| anyhow!("cannot pause the guest to save it: {e}"))?;
        self.stop_pumps();
        let saved = saved::save(&self.domain, &pool, &owner, &slot, self.work_volume.as_deref());
        let (pointer, bytes) = match saved {
            Ok(saved) => saved,
            Err(error) => {
                // Not saved: the guest runs on as it was, if it still runs.
                if self.is_running() {
                    self.attach(&conn, true)?;
                    let _ = self.domain.resume();
                }
                return Err(error);
            }
        };
        // Its overlay is the saved disk now: the guest runs on over a fresh one.
        let fresh = match (&pointer.disk_path, disk_capacity) {
            (Some(saved), Some(capacity)) => Some(fresh_overlay(&pool, &owner, saved, capacity)?),
            _ => None,
        };
        self.work_volume = fresh.as_ref().map(|(name, _)| name.clone());
        self.domain = saved::restore(&conn, &pointer, fresh.as_ref().map(|(_, path)| path.as_str()))
            .context("the guest was saved but could not run on")?;
        self.attach(&conn, true)?;
        self.domain.resume().map_err(|e| anyhow!("the saved guest does not run on: {e}"))?;
        if self.host_pids.is_some() {
            self.host_pids = local_qemu_pid(&conn.uri().unwrap_or_default(), &pointer.domain).map(|pid| vec![pid]);
        }
        pointer.write(dir)?;
        Ok(bytes)
    }
}

/// Whether `uri` reaches the libvirt of this host (`qemu:///system`, `qemu+unix:///session`):
/// no host between `//` and the path.
fn is_local(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(_, rest)| rest.starts_with('/'))
}

/// The pid of the QEMU that runs domain `name`, from the pid file libvirt keeps for it;
/// `None` on another host, or when the file cannot be read (then this host's noise
/// cannot be told from the guest's own work).
fn local_qemu_pid(uri: &str, name: &str) -> Option<u32> {
    if !is_local(uri) {
        return None;
    }
    let file = if uri.ends_with("/session") {
        PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?).join(format!("libvirt/qemu/run/{name}.pid"))
    } else {
        PathBuf::from(format!("/run/libvirt/qemu/{name}.pid"))
    };
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

impl LibvirtGuest {
    fn stop_everything(&mut self) {
        if self.is_running() {
            let _ = self.domain.destroy();
        }
        self.stop_pumps();
        // The session's next wait ends at once: the guest is gone.
        self.events_sender = None;
        if let Some(name) = self.work_volume.take() {
            if let Ok(pool) = volumes::pool(&self.conn) {
                saved::delete_volume(&pool, &name);
            }
        }
    }

    /// Ends the threads that pump the serial ports; what they framed stays for the
    /// session, a line begun stays in [`Self::framer`].
    fn stop_pumps(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(pump) = self.agent_pump.take() {
            self.framer = pump.join().ok();
        }
        self.stop = Arc::new(AtomicBool::new(false));
        self.outgoing = None;
    }
}

impl Drop for LibvirtGuest {
    fn drop(&mut self) {
        self.stop_everything();
    }
}

fn accel_type(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "qemu",
    }
}

/// KVM when the host's libvirt offers the kvm domain type and the host's CPU shows
/// hardware virtualization: libvirt offers kvm wherever /dev/kvm opens, also on hosts
/// where it cannot run a stock kernel (a PVM guest), which the CPU flags tell apart.
fn choose_accel(conn: &Connect, uri: &str, choice: AccelChoice) -> Result<(Accel, Option<String>)> {
    let domain_caps = conn.domain_capabilities(None, Some("x86_64"), None, None, 0).unwrap_or_default();
    let host_caps = conn.capabilities().unwrap_or_default();
    super::accel::resolve(choice, kvm_unusable(uri, &domain_caps, &host_caps)).map_err(|e| anyhow!("{e} (host {uri})"))
}

fn kvm_unusable(uri: &str, domain_caps: &str, host_caps: &str) -> Option<String> {
    if !domain_caps.contains("<domain>kvm</domain>") {
        return Some(format!("libvirt at {uri} offers no kvm domain for x86_64"));
    }
    let has_flag = ["vmx", "svm"].iter().any(|f| host_caps.contains(&format!("<feature name='{f}'/>")));
    if !has_flag {
        return Some(format!("the CPU of {uri} shows no vmx or svm flag: no hardware virtualization is exposed to that host"));
    }
    None
}

/// libvirt's versions: major * 1,000,000 + minor * 1,000 + release.
fn version_text(version: u32) -> String {
    format!("{}.{}.{}", version / 1_000_000, version / 1_000 % 1_000, version % 1_000)
}

/// The names of the volumes the plan boots from (`bench pool` keeps them): its kernels,
/// its disk, and its initrds with `agent` appended.
pub fn plan_volume_names(plan: &Plan, agent: Option<&Path>) -> Result<std::collections::HashSet<String>> {
    let mut files: Vec<PathBuf> = plan.variants.iter().map(|v| v.kernel.clone()).collect();
    files.extend(plan.guest.disk.clone());
    let mut names = std::collections::HashSet::new();
    for file in files {
        names.insert(volumes::volume_name(&volumes::Local::file(&file), &volumes::sha256_file(&file)?));
    }
    if let Some(agent) = agent {
        let mut initrds: Vec<Option<&Path>> = plan.variants.iter().map(|v| v.initrd.as_deref()).collect();
        initrds.dedup();
        for initrd in initrds {
            // Composed as an upload's, so the same volume name.
            let composed = Composed::new(initrd, agent)?;
            names.insert(volumes::volume_name(&composed.local(), &volumes::sha256_file(&composed.path)?));
        }
    }
    Ok(names)
}

/// What `bench check` reports of the host at the plan's URI, and for each file the
/// guests boot whether the host's pool already holds it.
pub fn check_host(plan: &Plan) -> Vec<(String, Result<String>)> {
    let uri = plan.guest.uri.clone().unwrap_or_else(|| crate::scenario::plan::DEFAULT_LIBVIRT_URI.into());
    let conn = match connect(&uri, &plan.guest.uri_key) {
        Ok(conn) => conn,
        Err(error) => return vec![("libvirt".into(), Err(error))],
    };
    let mut lines = Vec::new();
    lines.push((
        "libvirt".to_string(),
        Ok(format!(
            "{uri}: libvirt {}, QEMU {}",
            version_text(conn.lib_version().unwrap_or(0)),
            version_text(conn.hyp_version().unwrap_or(0))
        )),
    ));
    lines.push((
        "accel".into(),
        choose_accel(&conn, &uri, plan.guest.accel).map(|(accel, warning)| match warning {
            Some(warning) => format!("{accel}: {warning}"),
            None => format!("{accel} on {uri}"),
        }),
    ));
    lines.push((
        "libvirt host".into(),
        conn.node_info().map_err(|e| anyhow!("cannot read the host's CPUs and memory: {e}")).and_then(|node| {
            crate::scenario::plan::check_guest_fits(plan.guest.cpus, plan.guest.memory_mib, node.cpus, Some(node.memory / 1024), &uri)?;
            Ok(format!("{} CPUs, {} MiB ({})", node.cpus, node.memory / 1024, node.model))
        }),
    ));
    let mut files: Vec<(String, PathBuf)> = plan.variants.iter().map(|v| (format!("kernel of {}", v.name), v.kernel.clone())).collect();
    files.extend(plan.guest.disk.iter().map(|d| ("disk".to_string(), d.clone())));
    let pool = conn.lookup_storage_pool_by_name(volumes::POOL).ok();
    if let Some(saved_mib) = plan.saved_state_mib() {
        lines.push(("saved guests".into(), pool_room(pool.as_ref(), saved_mib)));
    }
    for (what, path) in files {
        if let Some(file) = plan.guest.remote_files.iter().find(|f| f.local == path) {
            let text = format!(
                "{} is {} on the host (key `{}`; bench run checks its sha256, reading all of it)",
                path.display(),
                file.remote,
                file.key
            );
            lines.push((what, Ok(text)));
            continue;
        }
        let state = volumes::sha256_file(&path).and_then(|sha| match &pool {
            None => Ok(format!("{} will be uploaded (no pool {} yet)", path.display(), volumes::POOL)),
            Some(pool) => {
                let _ = pool.refresh(0);
                Ok(match volumes::find(pool, &volumes::Local::file(&path), &sha)? {
                    Some(remote) => format!("{} is there as {remote}", path.display()),
                    None => format!("{} will be uploaded into pool {}", path.display(), volumes::POOL),
                })
            }
        });
        lines.push((what, state));
    }
    lines
}

/// Whether the host's pool has room for the guests `reuse = "snapshot"` saves there.
fn pool_room(pool: Option<&virt::storage_pool::StoragePool>, saved_mib: u64) -> Result<String> {
    let Some(info) = pool.and_then(|p| p.info().ok()) else {
        return Ok(format!("up to {saved_mib} MiB of saved guests in pool {} (not made yet)", volumes::POOL));
    };
    let free_mib = info.available / (1024 * 1024);
    if free_mib < saved_mib {
        anyhow::bail!(
            "reuse = \"snapshot\" keeps saved guests of up to {saved_mib} MiB in pool {} on the host (one per variant and snapshot, each as large as the guest's memory), which has {free_mib} MiB free: free space there or use reuse = \"boot\"",
            volumes::POOL
        );
    }
    Ok(format!("up to {saved_mib} MiB of saved guests in pool {} ({free_mib} MiB free)", volumes::POOL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_needs_the_domain_type_and_the_cpu_flag() {
        let kvm = "<domainCapabilities><domain>kvm</domain></domainCapabilities>";
        let vmx = "<host><cpu><feature name='vme'/><feature name='vmx'/></cpu></host>";
        assert_eq!(kvm_unusable("u", kvm, vmx), None);
        assert!(kvm_unusable("u", kvm, "<host><cpu><feature name='vme'/></cpu></host>").unwrap().contains("no vmx or svm"));
        assert!(kvm_unusable("u", "<domain>qemu</domain>", vmx).unwrap().contains("offers no kvm"));
    }

    #[test]
    fn versions_read_as_libvirt_writes_them() {
        assert_eq!(version_text(9_000_000), "9.0.0");
        assert_eq!(version_text(7_002_022), "7.2.22");
    }

    #[test]
    fn only_a_connection_without_a_host_is_local() {
        assert!(is_local("qemu:///system") && is_local("qemu+unix:///session"));
        assert!(!is_local("qemu+ssh://root@far/system") && !is_local("qemu+tcp://10.0.0.2/system"));
        assert_eq!(local_qemu_pid("qemu+ssh://far/system", "kbench-1"), None);
    }
}
