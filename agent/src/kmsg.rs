//! The guest's kernel log, read from /dev/kmsg as it grows: every record at every level,
//! which the console misses (`quiet` keeps all but errors off it). The host keeps it per
//! boot and looks there for SLUB reports, KASAN, lockups and hung tasks.

use kbench_protocol::MemAutoInit;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

const DEVICE: &str = "/dev/kmsg";
/// Text per message: a boot log is some 50 KiB; more means a flood, whose first part
/// (the first report) is what matters.
pub const MESSAGE_CAP: usize = 256 * 1024;
/// A record is at most about 1 KiB of text plus its dictionary; a smaller buffer gets EINVAL.
const RECORD_BUFFER: usize = 16 * 1024;

pub struct KernelLog {
    file: Option<File>,
    /// The sequence number of the next record expected, to count those overwritten unread.
    next_seq: Option<u64>,
    /// The boot's "mem auto-init" line, once a batch held it.
    mem_auto_init: Option<MemAutoInit>,
}

impl KernelLog {
    /// A kernel without /dev/kmsg (or a non-root agent) gives an empty log, not an error.
    pub fn open() -> KernelLog {
        let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(DEVICE);
        if let Err(error) = &file {
            crate::console(&format!("cannot read the kernel log from {DEVICE}: {error}"));
        }
        KernelLog { file: file.ok(), next_seq: None, mem_auto_init: None }
    }

    /// Every record logged since the last call, formatted, capped at [`MESSAGE_CAP`];
    /// `None` when there is nothing new.
    pub fn take_new(&mut self) -> Option<String> {
        let file = self.file.as_mut()?;
        let mut batch = Batch::new(MESSAGE_CAP);
        let mut buffer = vec![0u8; RECORD_BUFFER];
        loop {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let Some(record) = Record::parse(&String::from_utf8_lossy(&buffer[..n])) else {
                        continue;
                    };
                    if let Some(expected) = self.next_seq {
                        batch.lost += record.seq.saturating_sub(expected);
                    }
                    self.next_seq = Some(record.seq + 1);
                    if self.mem_auto_init.is_none() {
                        self.mem_auto_init = crate::kernel_view::parse_mem_auto_init(&record.text);
                    }
                    batch.push(&record.format());
                }
                // Records overwritten before they were read: the next read resumes after them,
                // and the gap in sequence numbers counts them.
                Err(error) if error.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(error) if error.raw_os_error() == Some(libc::EINTR) => continue,
                // EAGAIN: nothing more for now. Anything else: give up on this batch.
                Err(_) => break,
            }
        }
        batch.finish()
    }

    /// What the kernel's "mem auto-init" line said, if a record read so far held it (not
    /// when the ring buffer overwrote it before the first read).
    pub fn mem_auto_init(&self) -> Option<MemAutoInit> {
        self.mem_auto_init.clone()
    }
}

/// One /dev/kmsg record: `<prio>,<seq>,<usec>,<flags>[,...];<text>` then dictionary lines
/// that start with a space. The text has non-printable bytes (newlines too) escaped as `\xNN`.
#[derive(Debug, PartialEq)]
pub struct Record {
    pub priority: u32,
    pub seq: u64,
    pub usec: u64,
    pub text: String,
}

impl Record {
    pub fn parse(raw: &str) -> Option<Record> {
        let (prefix, rest) = raw.split_once(';')?;
        let text = rest.split('\n').next().unwrap_or("").to_string();
        let mut fields = prefix.split(',');
        let priority = fields.next()?.trim().parse().ok()?;
        let seq = fields.next()?.trim().parse().ok()?;
        let usec = fields.next()?.trim().parse().ok()?;
        Some(Record { priority, seq, usec, text })
    }

    /// As `dmesg -r` prints it.
    pub fn format(&self) -> String {
        format!("<{}>[{:5}.{:06}] {}", self.priority, self.usec / 1_000_000, self.usec % 1_000_000, self.text)
    }
}

/// The lines of one message, up to a cap, and what did not fit.
struct Batch {
    text: String,
    cap: usize,
    dropped: u64,
    lost: u64,
}

impl Batch {
    fn new(cap: usize) -> Batch {
        Batch { text: String::new(), cap, dropped: 0, lost: 0 }
    }

    fn push(&mut self, line: &str) {
        if self.dropped > 0 || self.text.len() + line.len() + 1 > self.cap {
            self.dropped += 1;
        } else {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    fn finish(mut self) -> Option<String> {
        if self.lost > 0 {
            self.text
                .push_str(&format!("… {} records lost (overwritten in the kernel's log buffer before the agent read them)\n", self.lost));
        }
        if self.dropped > 0 {
            self.text.push_str(&format!("… {} records dropped (over {} KiB in one message)\n", self.dropped, self.cap / 1024));
        }
        (!self.text.is_empty()).then_some(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slub_report_reads_as_dmesg_prints_it() {
        let raw = "3,1042,12345678,-;BUG kmalloc-64 (Not tainted): Poison overwritten\n SUBSYSTEM=slab\n";
        let record = Record::parse(raw).unwrap();
        assert_eq!(
            record,
            Record { priority: 3, seq: 1042, usec: 12_345_678, text: "BUG kmalloc-64 (Not tainted): Poison overwritten".into() }
        );
        assert_eq!(record.format(), "<3>[   12.345678] BUG kmalloc-64 (Not tainted): Poison overwritten");
    }

    #[test]
    fn extra_prefix_fields_escapes_and_user_space_priorities_are_kept() {
        let record = Record::parse("14,7,0,-,caller=T1;kbench: a\\x0ab; c\n").unwrap();
        assert_eq!(record.format(), "<14>[    0.000000] kbench: a\\x0ab; c");
        let late = Record::parse("4,9,123456789012,c;x").unwrap();
        assert_eq!(late.format(), "<4>[123456.789012] x");
        assert_eq!(Record::parse("no separator"), None);
        assert_eq!(Record::parse("x,1,2,-;text"), None);
    }

    #[test]
    fn a_batch_keeps_the_first_records_and_counts_the_rest() {
        let mut batch = Batch::new(20);
        for line in ["0123456789", "abcdefgh", "too long now", "short"] {
            batch.push(line);
        }
        batch.lost = 3;
        let text = batch.finish().unwrap();
        assert_eq!(
            text,
            "0123456789\nabcdefgh\n… 3 records lost (overwritten in the kernel's log buffer before the agent read them)\n… 2 records dropped (over 0 KiB in one message)\n"
        );
        assert_eq!(Batch::new(10).finish(), None);
    }
}
