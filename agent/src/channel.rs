//! The serial line to the host, in raw mode: no echo, no line editing, no CR/LF mangling.
//! Sending is shared (the step loop and its heartbeat thread both speak) and signed once
//! the host's key is known; receiving drops over-long lines unread.

use kbench_protocol::auth::{from_hex, wipe_string, Signer};
use kbench_protocol::lines::{Line, LineReader};
use kbench_protocol::{decode, encode, AgentMessage, HostMessage, MAX_LINE_BYTES};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

/// Opens the port once and splits it into the shared sending half and the receiving half.
pub fn open(path: &str) -> Result<(Sender, Receiver), String> {
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    make_raw(&file).map_err(|e| format!("cannot set {path} to raw mode: {e}"))?;
    let writer = file.try_clone().map_err(|e| format!("cannot duplicate {path}: {e}"))?;
    Ok((Sender::new(Box::new(writer)), Receiver::new(Box::new(file))))
}

/// Everything the agent says goes through one of these, clones of the same line.
#[derive(Clone)]
pub struct Sender {
    out: Arc<Mutex<Outgoing>>,
}

struct Outgoing {
    writer: Box<dyn Write + Send>,
    signer: Option<Signer>,
}

impl Sender {
    pub fn new(writer: Box<dyn Write + Send>) -> Sender {
        Sender { out: Arc::new(Mutex::new(Outgoing { writer, signer: None })) }
    }

    /// From now on every message is signed with the host's key (hex, from Setup). The
    /// text is wiped, right or wrong: only the decoded bytes stay in memory.
    pub fn set_key(&self, mut key_hex: String) -> Result<(), String> {
        let key = from_hex(&key_hex);
        wipe_string(&mut key_hex);
        // The error would quote the text: the key must not reach the console.
        let key = key.map_err(|_| "the host's key is not a hex string".to_string())?;
        self.lock().signer = Some(Signer::new(key));
        Ok(())
    }

    pub fn send(&self, message: &AgentMessage) -> Result<(), String> {
        let mut out = self.lock();
        let line = match out.signer.as_mut() {
            Some(signer) => signer.sign(message),
            None => encode(message),
        };
        out.writer.write_all(line.as_bytes()).and_then(|_| out.writer.flush()).map_err(|e| format!("cannot write to the host: {e}"))
    }

    /// A thread that panicked while sending leaves the line usable: a message is one write.
    fn lock(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Receiver {
    lines: LineReader<Box<dyn Read + Send>>,
}

impl Receiver {
    pub fn new(reader: Box<dyn Read + Send>) -> Receiver {
        Receiver { lines: LineReader::new(reader, MAX_LINE_BYTES) }
    }

    pub fn receive(&mut self) -> Result<HostMessage, String> {
        loop {
            match self.lines.next_line().map_err(|e| format!("cannot read from the host: {e}"))? {
                None => return Err("the host closed the channel".into()),
                Some(Line::TooLong { bytes }) => {
                    crate::console(&format!("dropped a {bytes}-byte line from the host: longer than {MAX_LINE_BYTES}"))
                }
                Some(Line::Text(text)) if text.trim().is_empty() => {}
                Some(Line::Text(mut text)) => {
                    // The setup carries the key: neither its line nor the bytes read stay.
                    let message = decode(&text).map_err(|e| format!("bad message from the host: {e}"));
                    wipe_string(&mut text);
                    self.lines.wipe_consumed();
                    return message;
                }
            }
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

#[cfg(test)]
pub mod tests {
    use super::*;
    use kbench_protocol::auth::{to_hex, Verifier};

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_string).collect()
        }
    }

    #[test]
    fn hello_goes_unsigned_and_everything_after_the_key_is_signed_in_sequence() {
        let captured = Captured::default();
        let sender = Sender::new(Box::new(captured.clone()));
        sender.send(&AgentMessage::Hello { protocol: 3, agent_version: "t".into() }).unwrap();
        sender.set_key(to_hex(&[9; 32])).unwrap();
        sender.clone().send(&AgentMessage::StepStarted { id: 0 }).unwrap();
        sender.send(&AgentMessage::Done).unwrap();
        let lines = captured.lines();
        assert!(lines[0].starts_with("{\"msg\":\"hello\""), "{}", lines[0]);
        let mut verifier = Verifier::new(vec![9; 32]);
        assert_eq!(verifier.verify(&lines[1]), Ok(AgentMessage::StepStarted { id: 0 }));
        assert_eq!(verifier.verify(&lines[2]), Ok(AgentMessage::Done));
        assert_eq!(sender.set_key("not hex".into()), Err("the host's key is not a hex string".into()));
    }

    #[test]
    fn an_over_long_line_from_the_host_is_dropped_and_the_next_message_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n\n{\"msg\":\"finish\"}\n");
        let mut receiver = Receiver::new(Box::new(std::io::Cursor::new(input)));
        assert_eq!(receiver.receive(), Ok(HostMessage::Finish));
        assert_eq!(receiver.receive(), Err("the host closed the channel".to_string()));
    }
}
