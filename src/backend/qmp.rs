//! QEMU's monitor protocol (QMP) on one end of a socket pair QEMU holds as a descriptor:
//! no socket file, so no path to keep under the 108-byte limit of socket names and nothing
//! a `kill -9` leaves behind. Used to pin vCPUs (`pin`) and to save and restore a guest
//! (`qemu_state`). The reply text is handled by a pure function, tested on canned replies.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long QEMU may take to greet on its QMP socket and to answer one command.
pub const QMP_TIMEOUT: Duration = Duration::from_secs(10);

/// QEMU's arguments for a QMP monitor on the connected socket it holds as `fd`.
pub fn qmp_arguments(fd: i32) -> [String; 4] {
    ["-chardev".into(), format!("socket,id=qmp,fd={fd}"), "-mon".into(), "chardev=qmp,mode=control".into()]
}

/// A QMP session past its greeting, in command mode.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Reads QEMU's greeting and enters command mode; each read and write waits at most
    /// `timeout`.
    pub fn connect(stream: UnixStream, timeout: Duration) -> Result<Qmp> {
        stream.set_read_timeout(Some(timeout)).context("QMP: cannot set a read timeout")?;
        stream.set_write_timeout(Some(timeout)).context("QMP: cannot set a write timeout")?;
        let mut qmp = Qmp { reader: BufReader::new(stream.try_clone().context("QMP: cannot clone the socket")?), writer: stream };
        let greeting = qmp.next_message().with_context(|| format!("QMP: no greeting within {timeout:?}"))?;
        if greeting.get("QMP").is_none() {
            bail!("QMP: the socket's first message is not QEMU's greeting: {greeting}");
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn next_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("QMP: QEMU closed the socket");
        }
        serde_json::from_str(line.trim()).with_context(|| format!("QMP: not JSON: {}", line.trim()))
    }

    /// Runs one command and returns its `return`; QEMU's refusal is an error.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let message = match arguments {
            Some(arguments) => serde_json::json!({ "execute": command, "arguments": arguments }),
            None => serde_json::json!({ "execute": command }),
        };
        writeln!(self.writer, "{message}").with_context(|| format!("QMP: sending {command}"))?;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).with_context(|| format!("QMP: waiting for the reply to {command}"))? == 0 {
                bail!("QMP: QEMU closed the socket before answering {command}");
            }
            if let Some(value) = parse_reply(&line).with_context(|| format!("QMP {command}"))? {
                return Ok(value);
            }
        }
    }
}

/// The outcome of one QMP command in a reply line: its `return`, or its `error`; `None` for
/// an asynchronous event, which may come at any time and is skipped.
pub fn parse_reply(line: &str) -> Result<Option<Value>> {
    let message: Value = serde_json::from_str(line.trim()).with_context(|| format!("QMP: not JSON: {}", line.trim()))?;
    if let Some(value) = message.get("return") {
        return Ok(Some(value.clone()));
    }
    if let Some(error) = message.get("error") {
        let class = error.get("class").and_then(Value::as_str).unwrap_or("?");
        let desc = error.get("desc").and_then(Value::as_str).unwrap_or("?");
        bail!("QMP: QEMU refused the command: {class}: {desc}");
    }
    if message.get("event").is_some() {
        return Ok(None);
    }
    bail!("QMP: unexpected message: {}", line.trim())
}
