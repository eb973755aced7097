//! The guest's serial ports as libvirt streams: the console copied to the console log,
//! the agent's channel framed into lines. Streams are non-blocking and each is used by one
//! thread only; libvirt's event loop (one thread per process) moves their bytes, and runs
//! the keepalive that notices a lost connection.

use anyhow::{anyhow, Result};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use virt::connect::Connect;
use virt::stream::Stream;

use kbench_protocol::MAX_LINE_BYTES;
/// How long a poll of an idle stream waits: IDLE at first, twice as long after each poll
/// that found nothing, up to IDLE_MAX; any byte in or out starts over. A guest at work
/// writes a heartbeat every few seconds, so bench wakes a few times a second, not a
/// hundred. The agent's messages are not timed by the host; what the session sends wakes
/// the pump at once.
const IDLE: Duration = Duration::from_millis(10);
const IDLE_MAX: Duration = Duration::from_millis(250);
/// How often an idle agent channel asks whether its connection is still there.
const ALIVE_CHECK: Duration = Duration::from_secs(1);
/// A guest that takes no byte of a message for this long is treated as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts libvirt's default event loop once per process, before the first connection:
/// without it non-blocking streams get no data and keepalive cannot run.
pub fn ensure_event_loop() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        // libvirt prints every error to stderr by default; kbench reports them itself.
        virt::error::clear_error_callback();
        if virt::event::event_register_default_impl().is_ok() {
            std::thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| loop {
                    let _ = virt::event::event_run_default_impl();
                })
                .expect("cannot start libvirt's event thread");
        }
    });
}

/// One piece of the agent's channel, framed as `kbench_protocol::lines::LineReader` frames
/// a blocking reader (same limit, same reports); a non-blocking stream needs a framer
/// that takes bytes as they come.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// A line without its newline (invalid UTF-8 replaced).
    Line(String),
    /// A line grew past the limit: reported at once with the bytes seen so far (a writer
    /// need never end it); the rest of it is skipped.
    TooLong { bytes: usize },
}

/// Cuts the bytes a non-blocking stream hands over, in whatever pieces, into lines, never
/// holding more than `limit` bytes of one line.
#[derive(Debug)]
pub struct LineFramer {
    limit: usize,
    pending: Vec<u8>,
    /// An over-long line is being skipped up to its newline.
    discarding: bool,
}

impl LineFramer {
    pub fn new(limit: usize) -> LineFramer {
        LineFramer { limit, pending: Vec::new(), discarding: false }
    }

    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Framed>) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let taken = end.unwrap_or(bytes.len());
            if self.discarding {
                self.discarding = end.is_none();
            } else if self.pending.len() + taken > self.limit {
                out.push(Framed::TooLong { bytes: self.pending.len() + taken });
                self.pending = Vec::new();
                self.discarding = end.is_none();
            } else {
                self.pending.extend_from_slice(&bytes[..taken]);
                if end.is_some() {
                    let line = std::mem::take(&mut self.pending);
                    out.push(Framed::Line(String::from_utf8_lossy(&line).into_owned()));
                }
            }
            bytes = &bytes[end.map_or(taken, |end| end + 1)..];
        }
    }
}

/// The waits of a poll that keeps finding nothing: IDLE, doubling up to IDLE_MAX.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(IDLE)
    }

    fn reset(&mut self) {
        self.0 = IDLE;
    }

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(IDLE_MAX);
        wait
    }
}

/// What a pump saw last: more bytes, nothing yet, or the end of the stream.
enum Received {
    Bytes(usize),
    Nothing,
    End,
}

fn receive(stream: &Stream, buffer: &mut [u8]) -> Received {
    match stream.recv(buffer) {
        Ok(n) if n > 0 => Received::Bytes(n as usize),
        Ok(-2) => Received::Nothing,
        // 0: the guest is gone; an error: so is the connection.
        _ => Received::End,
    }
}

/// Copies the console stream to `log` until it ends or `stop` is set.
pub fn spawn_console_copy(stream: Stream, mut log: std::fs::File, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut idle = Backoff::new();
        while !stop.load(Ordering::Relaxed) {
            match receive(&stream, &mut buffer) {
                Received::Bytes(n) => {
                    idle.reset();
                    if log.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
                Received::Nothing => std::thread::sleep(idle.next()),
                Received::End => break,
            }
        }
        let _ = stream.abort();
    })
}

/// The agent's channel: bytes to send go in on `outgoing`, framed lines come out through
/// `deliver`; `on_end` runs once when the stream ends or the connection is lost, not when
/// `stop` ends the pump. The framer (`framer`, else a new one) comes back at the end,
/// holding a line begun but not ended, for the next pump of the same guest to go on with.
/// A stream of a closed connection only ever says "nothing yet": `conn` is asked.
pub fn spawn_agent_pump(
    conn: Connect,
    stream: Stream,
    outgoing: mpsc::Receiver<Vec<u8>>,
    mut deliver: impl FnMut(Framed) -> bool + Send + 'static,
    on_end: impl FnOnce() + Send + 'static,
    stop: Arc<AtomicBool>,
    framer: Option<LineFramer>,
) -> JoinHandle<LineFramer> {
    std::thread::spawn(move || {
        let mut framer = framer.unwrap_or_else(|| LineFramer::new(MAX_LINE_BYTES));
        let mut buffer = vec![0u8; 64 * 1024];
        let mut framed = Vec::new();
        let mut last_check = Instant::now();
        let mut idle = Backoff::new();
        // What the session sent while the pump waited, sent first thing.
        let mut waiting: Option<Vec<u8>> = None;
        'pump: while !stop.load(Ordering::Relaxed) {
            while let Some(bytes) = waiting.take().or_else(|| outgoing.try_recv().ok()) {
                idle.reset();
                if send_all(&stream, &bytes, &stop).is_err() {
                    break 'pump;
                }
            }
            match receive(&stream, &mut buffer) {
                Received::Bytes(n) => {
                    idle.reset();
                    framer.push(&buffer[..n], &mut framed);
                    for piece in framed.drain(..) {
                        if !deliver(piece) {
                            break 'pump;
                        }
                    }
                }
                Received::Nothing if last_check.elapsed() >= ALIVE_CHECK => {
                    if !conn.is_alive().unwrap_or(false) {
                        break;
                    }
                    last_check = Instant::now();
                }
                // Waits on the session's messages: one to send ends the wait at once.
                Received::Nothing => match outgoing.recv_timeout(idle.next()) {
                    Ok(bytes) => waiting = Some(bytes),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // The guest's handle is gone: nothing more to send, and a wait that
                    // returns at once would spin.
                    Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(idle.next()),
                },
                Received::End => break,
            }
        }
        // Stopped on purpose (a save): the stream's end says nothing of the guest.
        if !stop.load(Ordering::Relaxed) {
            on_end();
        }
        let _ = stream.abort();
        framer
    })
}

fn send_all(stream: &Stream, mut bytes: &[u8], stop: &AtomicBool) -> Result<()> {
    let deadline = Instant::now() + SEND_TIMEOUT;
    while !bytes.is_empty() {
        match stream.send(bytes) {
            Ok(n) if n > 0 => bytes = &bytes[n as usize..],
            Ok(-2) | Ok(0) if Instant::now() < deadline && !stop.load(Ordering::Relaxed) => std::thread::sleep(IDLE),
            Ok(_) => return Err(anyhow!("the guest took no message for {} s", SEND_TIMEOUT.as_secs())),
            Err(error) => return Err(anyhow!("cannot send to the guest agent: {error}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(limit: usize, chunks: &[&[u8]]) -> Vec<Framed> {
        let mut framer = LineFramer::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk, &mut out);
        }
        out
    }

    #[test]
    fn an_idle_poll_waits_longer_each_time_up_to_a_bound_and_starts_over_on_traffic() {
        let mut idle = Backoff::new();
        let waits: Vec<u64> = (0..7).map(|_| idle.next().as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 250, 250]);
        idle.reset();
        assert_eq!(idle.next(), IDLE);
    }

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let out = frame(100, &[b"{\"a\"", b":1}\n{\"b", b"\":2}\n\npart"]);
        assert_eq!(out, vec![Framed::Line("{\"a\":1}".into()), Framed::Line("{\"b\":2}".into()), Framed::Line(String::new())]);
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_and_counted_and_the_next_one_is_whole() {
        let long = [b'x'; 25];
        let out = frame(10, &[&long[..7], &long[7..], b"\nok\n"]);
        assert_eq!(out, vec![Framed::TooLong { bytes: 25 }, Framed::Line("ok".into())]);
        let exact = [b'y'; 10];
        let out = frame(10, &[&exact, b"\n", &[b'z'; 11], b"\n"]);
        assert_eq!(out, vec![Framed::Line("y".repeat(10)), Framed::TooLong { bytes: 11 }]);
    }

    #[test]
    fn the_framer_never_holds_more_than_its_limit() {
        let mut framer = LineFramer::new(1000);
        let mut out = Vec::new();
        framer.push(&[b'q'; 999], &mut out);
        assert!(out.is_empty());
        framer.push(&[b'q'; 999], &mut out);
        // Reported before any newline: a writer need never send one.
        assert_eq!(out, vec![Framed::TooLong { bytes: 1998 }]);
        for _ in 0..100 {
            framer.push(&[b'q'; 999], &mut out);
            assert!(framer.pending.len() <= 1000);
        }
        framer.push(b"\nok\n", &mut out);
        assert_eq!(out, vec![Framed::TooLong { bytes: 1998 }, Framed::Line("ok".into())]);
    }
}
