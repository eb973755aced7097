//! Reads a guest's saved console for signs of kernel trouble, as syzkaller and LKP do.

use crate::model::ConsoleFinding;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the kernel prints when it is in trouble, most serious first.
const MARKERS: [&str; 4] = ["Kernel panic", "BUG:", "Oops", "WARNING:"];
/// Console lines quoted after the line that matched.
const EXCERPT_LINES: usize = 12;

/// The first finding of each marker, most serious first.
pub fn scan(console: &str) -> Vec<ConsoleFinding> {
    let lines: Vec<&str> = console.lines().collect();
    MARKERS
        .iter()
        .filter_map(|marker| {
            let at = lines.iter().position(|l| l.contains(marker))?;
            let end = (at + EXCERPT_LINES).min(lines.len());
            Some(ConsoleFinding {
                marker: marker.to_string(),
                line: strip_timestamp(lines[at]).to_string(),
                excerpt: lines[at..end].join("\n"),
            })
        })
        .collect()
}

fn strip_timestamp(line: &str) -> &str {
    match line.trim_start().strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((_, rest)) => rest.trim_start(),
        None => line.trim(),
    }
}

/// The last `max_bytes` of a file, lossily decoded.
pub fn tail(path: &Path, max_bytes: usize) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(max_bytes as u64)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_found_with_its_context() {
        let console = "[    1.0] booting\n[    2.5] sysrq: Trigger a crash\n[    2.6] Kernel panic - not syncing: sysrq triggered crash\n[    2.7] CPU: 0 PID: 42\n";
        let findings = scan(console);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].marker, "Kernel panic");
        assert_eq!(findings[0].line, "Kernel panic - not syncing: sysrq triggered crash");
        assert!(findings[0].excerpt.ends_with("CPU: 0 PID: 42"));
    }

    #[test]
    fn a_clean_console_has_no_findings() {
        assert!(scan("[    0.0] Linux version 6.1\nkbench-agent: step 0\n").is_empty());
    }
}
