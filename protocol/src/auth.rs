//! Signed agent lines: `<seq> <hex HMAC-SHA256(key, "<seq> <json>")> <json>`.
//!
//! The host draws a fresh key for every boot and hands it over in [`crate::Setup`],
//! before any workload runs. Everything the agent says afterwards carries a sequence
//! number, strictly increasing from 1, and a MAC over number and message: a workload
//! that writes to the serial port can neither forge a message nor replay an old one.

use crate::{decode, AgentMessage};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of a key the host draws for one boot.
pub const KEY_BYTES: usize = 32;

/// Why a line on the agent's channel is not a message from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    Unsigned,
    BadSignature,
    OutOfSequence {
        expected: u64,
        got: u64,
    },
    /// Signed correctly, but not a message this host understands.
    Unreadable(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Violation::Unsigned => {
                f.write_str("the agent's channel carried a line the agent did not sign: something in the guest wrote to /dev/ttyS1")
            }
            Violation::BadSignature => {
                f.write_str("the agent's channel carried a line with a wrong signature: something in the guest wrote to /dev/ttyS1")
            }
            Violation::OutOfSequence { expected, got } => {
                write!(f, "the agent's channel carried message number {got} where {expected} was due: a replayed or lost message")
            }
            Violation::Unreadable(error) => write!(f, "the agent sent a signed message this kbench cannot read: {error}"),
        }
    }
}

impl std::error::Error for Violation {}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{:?} is not a hex string", text.chars().take(80).collect::<String>()));
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

/// Overwrites `bytes` with zeros in a way the compiler may not drop as a dead store: for
/// a key (or its text) about to be freed.
pub fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: `byte` is a valid, aligned, exclusive reference into the slice.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Wipes a string's bytes and empties it (its allocation stays, zeroed).
pub fn wipe_string(text: &mut String) {
    let mut bytes = std::mem::take(text).into_bytes();
    wipe(&mut bytes);
}

fn mac(key: &[u8], seq: u64, json: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{seq} ").as_bytes());
    mac.update(json.as_bytes());
    mac
}

/// The agent's side: numbers and signs each message it sends.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Vec<u8>,
    last_seq: u64,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Signer {
        Signer { key, last_seq: 0 }
    }

    /// One message as one signed line, newline included.
    pub fn sign(&mut self, message: &AgentMessage) -> String {
        self.last_seq += 1;
        let json = serde_json::to_string(message).expect("protocol messages always serialize");
        let tag = to_hex(&mac(&self.key, self.last_seq, &json).finalize().into_bytes());
        format!("{} {tag} {json}\n", self.last_seq)
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        wipe(&mut self.key);
    }
}

/// The host's side: accepts only lines signed with the boot's key, in sequence.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: Vec<u8>,
    last_seq: u64,
}

impl Verifier {
    pub fn new(key: Vec<u8>) -> Verifier {
        Verifier { key, last_seq: 0 }
    }

    pub fn verify(&mut self, line: &str) -> Result<AgentMessage, Violation> {
        let line = line.trim_end_matches(['\n', '\r']);
        let mut parts = line.splitn(3, ' ');
        let (Some(seq), Some(tag), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Violation::Unsigned);
        };
        let (Ok(seq), Ok(tag)) = (seq.parse::<u64>(), from_hex(tag)) else {
            return Err(Violation::Unsigned);
        };
        mac(&self.key, seq, json).verify_slice(&tag).map_err(|_| Violation::BadSignature)?;
        let expected = self.last_seq + 1;
        if seq != expected {
            return Err(Violation::OutOfSequence { expected, got: seq });
        }
        self.last_seq = seq;
        decode(json).map_err(|e| Violation::Unreadable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    fn key() -> Vec<u8> {
        (0..KEY_BYTES as u8).collect()
    }

    #[test]
    fn signed_lines_verify_in_order_and_carry_the_message() {
        let mut signer = Signer::new(key());
        let mut verifier = Verifier::new(key());
        for id in 0..3 {
            let line = signer.sign(&AgentMessage::StepStarted { id });
            assert!(line.starts_with(&format!("{} ", id + 1)) && line.ends_with("}\n"), "{line}");
            assert_eq!(verifier.verify(&line), Ok(AgentMessage::StepStarted { id }));
        }
    }

    #[test]
    fn unsigned_forged_replayed_and_tampered_lines_are_refused() {
        let mut signer = Signer::new(key());
        let mut verifier = Verifier::new(key());
        assert_eq!(verifier.verify(&encode(&AgentMessage::Done)), Err(Violation::Unsigned));
        assert_eq!(verifier.verify("garbage without spaces"), Err(Violation::Unsigned));
        let mut forger = Signer::new(vec![7; KEY_BYTES]);
        assert_eq!(verifier.verify(&forger.sign(&AgentMessage::Done)), Err(Violation::BadSignature));
        let first = signer.sign(&AgentMessage::StepStarted { id: 0 });
        let tampered = first.replace("\"id\":0", "\"id\":5");
        assert_eq!(verifier.verify(&tampered), Err(Violation::BadSignature));
        verifier.verify(&first).unwrap();
        assert_eq!(verifier.verify(&first), Err(Violation::OutOfSequence { expected: 2, got: 1 }));
        let _skipped = signer.sign(&AgentMessage::Done);
        let third = signer.sign(&AgentMessage::Done);
        assert_eq!(verifier.verify(&third), Err(Violation::OutOfSequence { expected: 2, got: 3 }));
        assert!(Violation::Unsigned.to_string().contains("did not sign"));
    }

    #[test]
    fn a_wiped_string_is_empty_and_its_bytes_zero() {
        let mut bytes = b"00112233".to_vec();
        wipe(&mut bytes);
        assert_eq!(bytes, [0; 8]);
        let mut text = to_hex(&key());
        wipe_string(&mut text);
        assert!(text.is_empty());
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        assert_eq!(from_hex(&to_hex(&key())).unwrap(), key());
        assert!(from_hex("abc").is_err() && from_hex("zz").is_err());
    }
}
