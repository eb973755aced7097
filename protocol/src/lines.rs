//! Reading newline-delimited messages with a length limit: a line longer than the limit
//! is dropped as it streams past, never held in memory (a workload writing 300 MB
//! without a newline must not grow anyone's buffer).

use std::io::{self, Read};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// One line without its newline (invalid UTF-8 replaced).
    Text(String),
    /// A line grew past the limit: reported at once, with the bytes seen so far (an
    /// attacker need never end it); the rest of it is skipped unread.
    TooLong { bytes: usize },
}

pub struct LineReader<R> {
    inner: R,
    limit: usize,
    chunk: Box<[u8]>,
    start: usize,
    filled: usize,
    pending: Vec<u8>,
    /// An over-long line is being skipped up to its newline.
    discarding: bool,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R, limit: usize) -> LineReader<R> {
        LineReader { inner, limit, chunk: vec![0; 8192].into_boxed_slice(), start: 0, filled: 0, pending: Vec::new(), discarding: false }
    }

    /// The next line, or `None` once the input ended (an unterminated last line is dropped).
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            if self.start == self.filled {
                let n = match self.inner.read(&mut self.chunk) {
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                };
                if n == 0 {
                    return Ok(None);
                }
                self.start = 0;
                self.filled = n;
            }
            let available = &self.chunk[self.start..self.filled];
            let end = available.iter().position(|&b| b == b'\n');
            let taken = end.unwrap_or(available.len());
            self.start += end.map_or(taken, |end| end + 1);
            if self.discarding {
                self.discarding = end.is_none();
                continue;
            }
            let length = self.pending.len() + taken;
            if length > self.limit {
                self.pending = Vec::new();
                self.discarding = end.is_none();
                return Ok(Some(Line::TooLong { bytes: length }));
            }
            self.pending.extend_from_slice(&available[..taken]);
            if end.is_some() {
                // The bytes move into the text, not copied: no second copy to wipe.
                let text = String::from_utf8(std::mem::take(&mut self.pending)).unwrap_or_else(|invalid| {
                    let mut bytes = invalid.into_bytes();
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    crate::auth::wipe(&mut bytes);
                    text
                });
                return Ok(Some(Line::Text(text)));
            }
        }
    }

    /// Zeroes the bytes already handed out as lines that still sit in the read buffer
    /// (a line with a secret in it); the bytes not yet read stay.
    pub fn wipe_consumed(&mut self) {
        crate::auth::wipe(&mut self.chunk[..self.start]);
    }

    /// Bytes held for the line in progress; never more than the limit.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `x` without a newline, a pause (the next read fails), then a real line:
    /// what an attacker writes.
    struct Flood {
        left: usize,
        paused: bool,
        tail: &'static [u8],
    }

    impl Read for Flood {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left > 0 {
                let n = buf.len().min(self.left);
                buf[..n].fill(b'x');
                self.left -= n;
                return Ok(n);
            }
            if !self.paused {
                self.paused = true;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.tail.len());
            buf[..n].copy_from_slice(&self.tail[..n]);
            self.tail = &self.tail[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_flood_without_newline_is_skipped_unbuffered_and_the_next_line_still_arrives() {
        let flood = Flood { left: 50_000_000, paused: false, tail: b"\n{\"msg\":\"done\"}\n" };
        let mut reader = LineReader::new(flood, 1000);
        assert_eq!(reader.next_line().unwrap(), Some(Line::TooLong { bytes: 8192 }), "reported at once");
        assert!(reader.next_line().is_err(), "the pause after the flood");
        assert_eq!(reader.buffered(), 0, "50 MB went by and nothing of it is held");
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("{\"msg\":\"done\"}".into())));
    }

    #[test]
    fn wiping_clears_the_lines_handed_out_and_keeps_the_next_one() {
        let mut reader = LineReader::new(&b"secret\nnext\n"[..], 100);
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("secret".into())));
        reader.wipe_consumed();
        assert!(!reader.chunk.windows(6).any(|w| w == b"secret"));
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("next".into())));
    }

    #[test]
    fn lines_split_on_newlines_across_reads() {
        let mut reader = LineReader::new(&b"one\ntwo\n\nthree"[..], 10);
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("one".into())));
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("two".into())));
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("".into())));
        assert_eq!(reader.next_line().unwrap(), None);
    }

    #[test]
    fn a_line_exactly_at_the_limit_passes_and_one_byte_more_does_not() {
        let mut reader = LineReader::new(&b"abcd\nabcde\nok\n"[..], 4);
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("abcd".into())));
        assert_eq!(reader.next_line().unwrap(), Some(Line::TooLong { bytes: 5 }));
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("ok".into())));
        let mut reader = LineReader::new(&b"abcdefgh\nok\n"[..], 4);
        assert_eq!(reader.next_line().unwrap(), Some(Line::TooLong { bytes: 8 }));
        assert_eq!(reader.next_line().unwrap(), Some(Line::Text("ok".into())));
    }
}
