//! The first word to an agent whose guest was restored from a saved state
//! (`reuse = "snapshot"`): every restore of one state would otherwise share the saved
//! key, clock and random state. The key is replaced (the sequence starts again at 1), the
//! clock set to the host's, the random generator fed the host's bytes, and the facts that
//! tell which boot this is are read again for the host to check.

use crate::channel::Sender;
use kbench_protocol::auth::{from_hex, wipe, wipe_string};
use kbench_protocol::{AgentMessage, Resume, ResumedFacts};

/// `_IOW('R', 0x03, int[2])`: add entropy to the input pool and credit it (CAP_SYS_ADMIN).
const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;

pub fn resume(sender: &Sender, mut resume: Resume) -> Result<(), String> {
    sender.set_key(std::mem::take(&mut resume.key))?;
    let clock_set = set_clock(resume.unix_time_ns);
    let entropy = from_hex(&resume.entropy);
    wipe_string(&mut resume.entropy);
    let entropy_credited = match entropy {
        Ok(mut bytes) => {
            let credited = add_entropy(&bytes);
            wipe(&mut bytes);
            credited
        }
        Err(_) => false,
    };
    crate::console(&format!(
        "restored: new key, clock {}, entropy {}",
        if clock_set { "set" } else { "NOT set" },
        if entropy_credited { "credited" } else { "mixed in" }
    ));
    sender.send(&AgentMessage::Resumed(ResumedFacts {
        cmdline: crate::boot::read_trimmed("/proc/cmdline"),
        kernel_release: crate::boot::read_trimmed("/proc/sys/kernel/osrelease"),
        slab: crate::boot::slab_poison(),
        clock_set,
        entropy_credited,
    }))
}

/// Only as the guest's init: an agent run anywhere else (its tests) must not set its host's clock.
fn set_clock(unix_time_ns: u64) -> bool {
    if std::process::id() != 1 {
        return false;
    }
    let time =
        libc::timespec { tv_sec: (unix_time_ns / 1_000_000_000) as libc::time_t, tv_nsec: (unix_time_ns % 1_000_000_000) as libc::c_long };
    // SAFETY: `time` is a valid timespec that lives across the call.
    unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &time) == 0 }
}

/// Mixes `bytes` into the kernel's pool and credits them; failing the credit (no
/// CAP_SYS_ADMIN), at least mixes them in through /dev/urandom.
fn add_entropy(bytes: &[u8]) -> bool {
    use std::io::Write;
    #[repr(C)]
    struct PoolInfo {
        entropy_count: libc::c_int,
        buf_size: libc::c_int,
        buf: [u8; 64],
    }
    let take = bytes.len().min(64);
    let mut info = PoolInfo { entropy_count: (take * 8) as libc::c_int, buf_size: take as libc::c_int, buf: [0; 64] };
    info.buf[..take].copy_from_slice(&bytes[..take]);
    let credited = match std::fs::OpenOptions::new().write(true).open("/dev/urandom") {
        Ok(file) => {
            use std::os::fd::AsRawFd;
            // SAFETY: `info` is a rand_pool_info whose buf holds buf_size bytes, valid
            // for the call; the descriptor is open.
            let credited = unsafe { libc::ioctl(file.as_raw_fd(), RNDADDENTROPY as _, &info as *const PoolInfo) } == 0;
            if !credited {
                let _ = (&file).write_all(&bytes[..take]);
            }
            credited
        }
        Err(_) => false,
    };
    wipe(&mut info.buf);
    credited
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::tests::Captured;
    use kbench_protocol::auth::{to_hex, Verifier, Violation};

    /// After a restore the agent signs with the fresh key from number 1: the saved key's
    /// verifier refuses its answer, and the saved conversation goes on nowhere.
    #[test]
    fn a_resume_replaces_the_key_and_starts_the_sequence_again() {
        let captured = Captured::default();
        let sender = Sender::new(Box::new(captured.clone()));
        sender.set_key(to_hex(&[1; 32])).unwrap();
        for _ in 0..3 {
            sender.send(&AgentMessage::Done).unwrap();
        }
        let message = Resume { key: to_hex(&[2; 32]), unix_time_ns: 0, entropy: "zz".into() };
        // Not the guest's init: the clock is left alone (and bad hex credits nothing); the
        // answer still comes.
        resume(&sender, message).unwrap();
        let lines = captured.lines();
        let answer = lines.last().unwrap();
        assert!(answer.starts_with("1 "), "numbered from 1 again: {answer}");
        let Ok(AgentMessage::Resumed(facts)) = Verifier::new(vec![2; 32]).verify(answer) else { panic!("{answer}") };
        assert!(!facts.clock_set && !facts.entropy_credited, "{facts:?}");
        let mut saved = Verifier::new(vec![1; 32]);
        for line in &lines[..3] {
            saved.verify(line).unwrap();
        }
        assert_eq!(saved.verify(answer), Err(Violation::BadSignature), "the saved key does not verify the answer");
    }
}
