//! The serial line to the host, in raw mode: no echo, no line editing, no CR/LF mangling.

use kbench_protocol::{decode, encode, AgentMessage, HostMessage};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

pub struct Port {
    file: File,
    pending: Vec<u8>,
}

impl Port {
    pub fn open(path: &str) -> Result<Port, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {path}: {e}"))?;
        make_raw(&file).map_err(|e| format!("cannot set {path} to raw mode: {e}"))?;
        Ok(Port { file, pending: Vec::new() })
    }

    pub fn send(&mut self, message: &AgentMessage) -> Result<(), String> {
        self.file
            .write_all(encode(message).as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| format!("cannot write to the host: {e}"))
    }

    pub fn receive(&mut self) -> Result<HostMessage, String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                if text.trim().is_empty() {
                    continue;
                }
                return decode(&text).map_err(|e| format!("bad message from the host: {e}"));
            }
            let mut buffer = [0u8; 4096];
            let n = self.file.read(&mut buffer).map_err(|e| format!("cannot read from the host: {e}"))?;
            if n == 0 {
                return Err("the host closed the channel".into());
            }
            self.pending.extend_from_slice(&buffer[..n]);
        }
    }
}

fn make_raw(file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: termios is plain data; fd is open for the duration of these calls.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut tio) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut tio);
        tio.c_cflag &= !libc::CRTSCTS;
        tio.c_cflag |= libc::CLOCAL | libc::CREAD;
        tio.c_cc[libc::VMIN] = 1;
        tio.c_cc[libc::VTIME] = 0;
        if libc::tcsetattr(fd, libc::TCSANOW, &tio) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
