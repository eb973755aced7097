//! The libvirt daemon these tests use (this host's qemu:///system, started by
//! scripts/start-libvirtd.sh) and an sshd of their own on loopback, to reach it through
//! a real remote transport. Needs root.

use super::repo;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const SYSTEM: &str = "qemu:///system";

pub fn libvirtd() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let out = Command::new(repo().join("scripts/start-libvirtd.sh")).output().expect("run start-libvirtd.sh");
        assert!(out.status.success(), "start-libvirtd.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
    });
}

/// The domains of the daemon, running or not, whose name starts with `prefix`.
pub fn domains(prefix: &str) -> Vec<String> {
    let out = Command::new("virsh").args(["-c", SYSTEM, "list", "--all", "--name"]).output().expect("run virsh");
    assert!(out.status.success(), "virsh list failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|n| n.starts_with(prefix)).map(String::from).collect()
}

/// The volumes of the kbench pool (libvirt 9.0's `vol-list` has no --name).
pub fn pool_volumes() -> Vec<String> {
    let _ = Command::new("virsh").args(["-c", SYSTEM, "pool-refresh", "kbench"]).output();
    let out = Command::new("virsh").args(["-c", SYSTEM, "vol-list", "kbench"]).output().expect("run virsh");
    // A header line, a rule, then one volume a line: its name first.
    String::from_utf8_lossy(&out.stdout).lines().skip(2).filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

/// bench names its domains kbench-<its pid>-...
pub fn domains_of(bench_pid: u32) -> Vec<String> {
    domains(&format!("kbench-{bench_pid}-"))
}

/// The keys and config of an sshd on a free loopback port; `start` runs it.
pub struct SshdConfig {
    pub port: u16,
    pub user_key: PathBuf,
    dir: tempfile::TempDir,
}

/// An sshd of the test's own on loopback, killed when dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub user_key: PathBuf,
    dir: tempfile::TempDir,
}

impl SshdConfig {
    pub fn new() -> SshdConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        for key in ["host_key", "user_key"] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path.join(key))
                .output()
                .expect("ssh-keygen is installed (openssh-client)");
            assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::copy(path.join("user_key.pub"), path.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n",
            dir = path.display()
        );
        std::fs::write(path.join("sshd_config"), config).unwrap();
        SshdConfig { port, user_key: path.join("user_key"), dir }
    }

    /// libvirt's URI of this host's system daemon through this sshd.
    pub fn uri(&self) -> String {
        format!("qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&no_verify=1&no_tty=1", self.port, self.user_key.display())
    }

    pub fn start(self) -> Sshd {
        let path = self.dir.path();
        // sshd's privilege separation needs this folder; Debian creates it only at boot.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd is installed (openssh-server)");
        let sshd = Sshd { child, port: self.port, user_key: self.user_key, dir: self.dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", sshd.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on port {} within 20 s", sshd.port);
            std::thread::sleep(Duration::from_millis(100));
        }
        sshd
    }
}

impl Sshd {
    pub fn start() -> Sshd {
        SshdConfig::new().start()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // libvirt's no_verify=1 lets ssh add this throwaway host key to root's known_hosts.
        let _ = Command::new("ssh-keygen").args(["-R", &format!("[127.0.0.1]:{}", self.port)]).output();
    }
}
