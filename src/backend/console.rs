//! Reads what a guest's kernel printed for signs of trouble, as syzkaller and LKP do: the
//! serial console, and the kernel log the agent forwards from /dev/kmsg. With `quiet` on
//! the command line the console shows only levels 0 to 3, so a WARNING (level 4) or the
//! stack of a SLUB report is in the kernel log alone.
//!
//! Only the kernel's own records count. A /dev/kmsg record says who wrote it: facility 0
//! is the kernel, anything written from user space has another (the kernel forces
//! LOG_USER on a record without one), so such a record is never a report. The console
//! does not say: there the agent keeps user space out instead (no step or probe can
//! write /dev/console, /dev/kmsg or the port, see docs/threat-model.md). A kernel record
//! can still begin with a task's name, which a workload chooses ("BUG: x[42]: segfault
//! at 0"): such a line is no report either.

use crate::model::{ConsoleFinding, FindingKind, KernelLog};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Lines quoted from the start of a report (its header, then what the kernel printed with it).
const EXCERPT_LINES: usize = 48;
const EXCERPT_BYTES: usize = 6 * 1024;

/// The findings of a console alone, most serious first.
pub fn scan(console: &str) -> Vec<ConsoleFinding> {
    scan_logs(console, None)
}

/// The findings of one boot's console and kernel log together, one per kind, most
/// serious first. The kernel log is quoted where it has the report (it holds every
/// level); the console still counts, since a panic may never reach the kernel log's copy.
pub fn scan_logs(console: &str, kmsg: Option<&str>) -> Vec<ConsoleFinding> {
    let on_console = Log::read(console);
    let in_kmsg = Log::read(kmsg.unwrap_or_default());
    let kinds: BTreeSet<FindingKind> = on_console.reports.iter().chain(&in_kmsg.reports).map(|r| r.kind).collect();
    kinds
        .into_iter()
        .filter_map(|kind| {
            let (log, first, source) = match in_kmsg.first(kind) {
                Some(report) => (&in_kmsg, report, KernelLog::Kmsg),
                None => (&on_console, on_console.first(kind)?, KernelLog::Console),
            };
            Some(ConsoleFinding {
                kind,
                line: first.message.to_string(),
                excerpt: log.excerpt(first.at),
                count: distinct_count(kind, &on_console, &in_kmsg),
                log: source,
            })
        })
        .collect()
}

/// A report printed once appears in both logs with the same message: per message, the
/// larger of the two counts (timestamps may differ or be missing on the console).
fn distinct_count(kind: FindingKind, on_console: &Log, in_kmsg: &Log) -> u32 {
    let mut per_message: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for report in on_console.reports.iter().filter(|r| r.kind == kind) {
        per_message.entry(report.message).or_default().0 += 1;
    }
    for report in in_kmsg.reports.iter().filter(|r| r.kind == kind) {
        per_message.entry(report.message).or_default().1 += 1;
    }
    per_message.values().map(|(console, kmsg)| *console.max(kmsg)).sum()
}

/// One log's lines (without levels) and the reports that start in them, in order.
struct Log<'a> {
    lines: Vec<&'a str>,
    reports: Vec<Report<'a>>,
}

struct Report<'a> {
    kind: FindingKind,
    /// The header line without level or timestamp.
    message: &'a str,
    /// Its index in `lines`.
    at: usize,
}

impl<'a> Log<'a> {
    fn read(text: &'a str) -> Log<'a> {
        let records: Vec<(Option<u32>, &str)> = text.lines().map(split_priority).collect();
        let lines: Vec<&str> = records.iter().map(|(_, line)| *line).collect();
        let reports = records
            .iter()
            .enumerate()
            .filter(|(_, (priority, _))| priority.is_none_or(|p| p < 8))
            .filter_map(|(at, (_, line))| {
                let message = without_timestamp(line);
                kind_of(message).map(|kind| Report { kind, message, at })
            })
            .collect();
        Log { lines, reports }
    }

    fn first(&self, kind: FindingKind) -> Option<&Report<'a>> {
        self.reports.iter().find(|r| r.kind == kind)
    }

    /// The report at `at`: the rule above it, its header, and what follows up to the next
    /// report or `====` rule, bounded.
    fn excerpt(&self, at: usize) -> String {
        let lines = &self.lines;
        let start = if at > 0 && is_separator(without_timestamp(lines[at - 1])) { at - 1 } else { at };
        let mut excerpt = lines[start..=at].join("\n");
        for (quoted, next) in (at + 1 - start..).zip(&lines[at + 1..]) {
            let next_message = without_timestamp(next);
            // A `====` rule closes a KASAN report and opens the next SLUB one.
            let closes = is_separator(next_message) && next_message.starts_with('=');
            if closes || kind_of(next_message).is_some() || quoted >= EXCERPT_LINES || excerpt.len() + next.len() >= EXCERPT_BYTES {
                break;
            }
            excerpt.push('\n');
            excerpt.push_str(next);
        }
        excerpt
    }
}

/// What a message reports, if it starts a report.
fn kind_of(message: &str) -> Option<FindingKind> {
    use FindingKind::*;
    if starts_with_task_name(message) || message.starts_with(AGENT_PREFIX) {
        return None;
    }
    let kind = if message.starts_with("Kernel panic - not syncing") {
        Panic
    } else if message.starts_with("BUG: KASAN: ") {
        Kasan
    } else if message.starts_with("BUG: KFENCE: ") {
        Kfence
    } else if message.contains("BUG: soft lockup") {
        SoftLockup
    } else if message.contains("Watchdog detected hard LOCKUP") {
        HardLockup
    } else if message.starts_with("INFO: task ") && message.contains(" blocked for more than ") {
        HungTask
    } else if (message.contains("INFO: rcu_") || message.starts_with("rcu: INFO: ")) && message.contains("stall") {
        RcuStall
    } else if is_slub_header(message) {
        Slub
    } else if message.starts_with("BUG: ") || message.starts_with("kernel BUG at ") {
        Bug
    } else if message.starts_with("Oops") || is_die_line(message) {
        Oops
    } else if message.starts_with("WARNING: ") {
        Warning
    } else {
        return None;
    };
    Some(kind)
}

/// mm/slub.c's `slab_bug`: "BUG %s (%s): %pV" (cache, taint, reason); kernels before
/// 2.6.35 printed "BUG %s: %pV". No colon right after BUG, unlike every other BUG.
fn is_slub_header(message: &str) -> bool {
    let Some(rest) = message.strip_prefix("BUG ") else { return false };
    let Some((cache, after)) = rest.split_once([' ', ':']) else { return false };
    let cache_like = !cache.is_empty() && cache.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let reason = match rest.as_bytes().get(cache.len()) {
        Some(b' ') => after.strip_prefix('(').and_then(|taint| taint.split_once("): ")).map(|(_, reason)| reason),
        Some(b':') => after.strip_prefix(' '),
        _ => None,
    };
    cache_like && reason.is_some_and(|r| !r.trim().is_empty())
}

/// arch/x86's `__die_header`: "<what>: <4 hex digits> [#<n>] ...", the line of an oops
/// whatever its cause (general protection fault, invalid opcode, ...).
fn is_die_line(message: &str) -> bool {
    let Some(at) = message.find(" [#") else { return false };
    let before = &message.as_bytes()[..at];
    before.len() > 6 && before[before.len() - 6..before.len() - 4] == *b": " && before[before.len() - 4..].iter().all(u8::is_ascii_hexdigit)
}

/// Kernel lines that begin with a task's name (at most 15 bytes, chosen by whoever named
/// the task): `comm[pid]: segfault at ...`, `comm (pid): VmData ... exceed data ulimit`,
/// `comm: page allocation failure: ...`. No report header has a bracketed or
/// parenthesised number there.
fn starts_with_task_name(message: &str) -> bool {
    let number_then = |text: &str, close: char| {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && text[digits..].starts_with(close)
    };
    (1..=TASK_NAME_BYTES.min(message.len())).filter(|&end| message.is_char_boundary(end)).any(|end| {
        let rest = &message[end..];
        rest.strip_prefix('[').is_some_and(|r| number_then(r, ']'))
            || rest.strip_prefix(" (").is_some_and(|r| number_then(r, ')'))
            || rest.starts_with(": page allocation failure")
    })
}

/// The agent's own console lines (what it runs, quoted): never the kernel's.
const AGENT_PREFIX: &str = "kbench-agent: ";

/// TASK_COMM_LEN less its NUL.
const TASK_NAME_BYTES: usize = 15;

/// The `====` and `----` rules that frame SLUB's and KASAN's reports.
fn is_separator(message: &str) -> bool {
    let message = message.trim_end_matches("\\x0a");
    message.len() >= 20 && (message.bytes().all(|b| b == b'=') || message.bytes().all(|b| b == b'-'))
}

/// A kernel-log line without its level: `<3>[   41.2] msg` as kbench saves /dev/kmsg, or a
/// raw /dev/kmsg record `3,512,41203317,-;msg` (then without its timestamp: it has none).
#[cfg(test)]
fn without_level(line: &str) -> &str {
    split_priority(line).1
}

/// A kernel-log line's syslog priority (facility × 8 + level), when it has one (a console
/// line has not), and the line without it.
fn split_priority(line: &str) -> (Option<u32>, &str) {
    let line = line.trim_end_matches(['\r', '\n']);
    let number = |text: &str| (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse::<u32>().ok()).flatten();
    if let Some((priority, message)) = line.strip_prefix('<').and_then(|rest| rest.split_once('>')) {
        if let Some(priority) = number(priority) {
            return (Some(priority), message);
        }
    }
    if let Some((prefix, message)) = line.split_once(';') {
        let fields: Vec<&str> = prefix.split(',').collect();
        if fields.len() >= 4 && fields[..3].iter().all(|f| number(f).is_some()) {
            return (number(fields[0]), message);
        }
    }
    (None, line)
}

/// A console line without its `[   12.345678]` timestamp (and the `[    T1]` caller id of
/// CONFIG_PRINTK_CALLER kernels).
fn without_timestamp(line: &str) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..2 {
        match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((inside, after)) if is_stamp(inside) => rest = after.trim_start(),
            _ => break,
        }
    }
    rest.trim_end()
}

fn is_stamp(inside: &str) -> bool {
    let inside = inside.trim();
    let caller = inside.strip_prefix(['T', 'C']).unwrap_or(inside);
    !caller.is_empty() && caller.bytes().all(|b| b.is_ascii_digit() || b == b'.')
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

    const SLUB_CONSOLE: &str = include_str!("../../tests/fixtures/kernel-log/slub-poison.console");
    const KASAN_CONSOLE: &str = include_str!("../../tests/fixtures/kernel-log/kasan.console");
    const QUIET_CONSOLE: &str = include_str!("../../tests/fixtures/kernel-log/quiet.console");
    const QUIET_KMSG: &str = include_str!("../../tests/fixtures/kernel-log/quiet.kmsg");

    fn kinds(findings: &[ConsoleFinding]) -> Vec<FindingKind> {
        findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_panic_is_found_with_its_context() {
        let console = "[    1.0] booting\n[    2.5] sysrq: Trigger a crash\n[    2.6] Kernel panic - not syncing: sysrq triggered crash\n[    2.7] CPU: 0 PID: 42\n";
        let findings = scan(console);
        assert_eq!(kinds(&findings), [FindingKind::Panic]);
        assert_eq!(findings[0].line, "Kernel panic - not syncing: sysrq triggered crash");
        assert!(findings[0].excerpt.ends_with("CPU: 0 PID: 42"));
        assert_eq!((findings[0].count, findings[0].log), (1, KernelLog::Console));
    }

    #[test]
    fn a_clean_console_has_no_findings() {
        assert!(scan("[    0.0] Linux version 6.1\nkbench-agent: step 0\n").is_empty());
    }

    #[test]
    fn slub_reports_are_found_though_their_bug_has_no_colon() {
        let findings = scan(SLUB_CONSOLE);
        assert_eq!(kinds(&findings), [FindingKind::Slub], "{findings:#?}");
        let slub = &findings[0];
        assert_eq!(slub.line, "BUG kmalloc-64 (Not tainted): Poison overwritten");
        assert_eq!(slub.count, 2, "the poison report and the double free");
        let excerpt: Vec<&str> = slub.excerpt.lines().collect();
        assert!(excerpt[0].ends_with("====="), "the rule above the header is quoted: {excerpt:?}");
        assert!(excerpt[1].ends_with("BUG kmalloc-64 (Not tainted): Poison overwritten"));
        for expected in [
            "First byte 0x0 instead of 0x6b",
            "Slab 0xffffea0000127540 objects=56",
            "Object   ffff8880049d5e10: 00 6b",
            "Call Trace:",
            "check_bytes_and_report",
        ] {
            assert!(slub.excerpt.contains(expected), "{expected:?} in {}", slub.excerpt);
        }
        assert!(excerpt.len() <= EXCERPT_LINES, "bounded: {} lines", excerpt.len());
        assert!(!slub.excerpt.contains("Object already free"), "the next report is not part of this one");
    }

    #[test]
    fn every_slub_check_and_the_older_info_format_are_recognised() {
        for header in [
            "BUG kmalloc-64 (Not tainted): Poison overwritten",
            "BUG kmalloc-128 (Tainted: G    B             ): Left Redzone overwritten",
            "BUG kmalloc-128 (Tainted: G    B             ): Right Redzone overwritten",
            "BUG dentry (Not tainted): Redzone overwritten",
            "BUG kmalloc-32 (Not tainted): Object padding overwritten",
            "BUG kmalloc-32 (Not tainted): Alignment padding overwritten",
            "BUG skbuff_head_cache (Tainted: G    B   ): Object already free",
            "BUG kmalloc-96 (Not tainted): Freepointer corrupt",
            "BUG kmalloc-96 (Not tainted): Freechain corrupt",
            "BUG ext4_inode_cache (Not tainted): Padding overwritten. 0xffff888004a3ff68-0xffff888004a3ffff @offset=8040",
            "BUG TestSlub_RZ_alloc (Not tainted): Invalid object pointer 0xffff888003c4ab00",
            "BUG kmalloc-2048: Poison overwritten",
        ] {
            let console = format!(
                "[   12.1] =============================================================================\n[   12.2] {header}\n[   12.3] -----------------------------------------------------------------------------\n[   12.3] \n[   12.4] INFO: 0xffff888004a3c010-0xffff888004a3c017. First byte 0xcc instead of 0xbb\n[   12.5] INFO: Allocated in kbench_alloc+0x1d/0x60 age=12 cpu=1 pid=123\n[   12.6] INFO: Freed in kbench_free+0x3a/0x60 age=12 cpu=1 pid=123\n[   12.7] INFO: Slab 0xffffea0000128f00 objects=21 used=21 fp=0x          (null) flags=0x4080\n[   12.8] INFO: Object 0xffff888004a3c000 @offset=0 fp=0xffff888004a3c0c0\n"
            );
            let findings = scan(&console);
            assert_eq!(kinds(&findings), [FindingKind::Slub], "{header}: {findings:#?}");
            assert_eq!(findings[0].line, header);
            assert!(findings[0].excerpt.ends_with("fp=0xffff888004a3c0c0"), "INFO lines are quoted: {}", findings[0].excerpt);
        }
        for not_slub in [
            "BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "BUG-report: none",
            "BUG kmalloc-64 (Not tainted)",
            "BUG the machine: ",
        ] {
            assert_ne!(scan(&format!("[ 1.0] {not_slub}\n")).first().map(|f| f.kind), Some(FindingKind::Slub), "{not_slub}");
        }
    }

    #[test]
    fn kasan_is_told_apart_from_other_bugs() {
        let findings = scan(KASAN_CONSOLE);
        assert_eq!(kinds(&findings), [FindingKind::Kasan], "{findings:#?}");
        assert_eq!(findings[0].line, "BUG: KASAN: slab-out-of-bounds in seq_buf_putmem_hex+0x1d4/0x230");
        for expected in [
            "Write of size 1 at addr ffff888003c4ab80 by task cat/201",
            "Allocated by task 201:",
            "The buggy address belongs to the object",
        ] {
            assert!(findings[0].excerpt.contains(expected), "{expected:?} in {}", findings[0].excerpt);
        }
        assert!(findings[0].excerpt.lines().count() <= EXCERPT_LINES);
        assert!(
            findings[0].excerpt.ends_with("fa fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb"),
            "the closing rule ends it: {}",
            findings[0].excerpt
        );
    }

    #[test]
    fn lockups_stalls_hung_tasks_oopses_and_warnings_are_recognised() {
        let cases = [
            ("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [make:214]", FindingKind::SoftLockup),
            ("NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", FindingKind::HardLockup),
            ("INFO: task make:214 blocked for more than 120 seconds.", FindingKind::HungTask),
            ("rcu: INFO: rcu_preempt self-detected stall on CPU", FindingKind::RcuStall),
            ("rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", FindingKind::RcuStall),
            ("INFO: rcu_sched detected stalls on CPUs/tasks: { 1} (detected by 0, t=21002 jiffies)", FindingKind::RcuStall),
            ("BUG: KFENCE: use-after-free read in test_use_after_free_read+0x114/0x210", FindingKind::Kfence),
            ("BUG: kernel NULL pointer dereference, address: 0000000000000008", FindingKind::Bug),
            ("kernel BUG at mm/slub.c:432!", FindingKind::Bug),
            ("BUG: sleeping function called from invalid context at mm/slab.h:742", FindingKind::Bug),
            ("Oops: 0002 [#1] PREEMPT SMP NOPTI", FindingKind::Oops),
            (
                "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI",
                FindingKind::Oops,
            ),
            ("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", FindingKind::Oops),
            ("WARNING: CPU: 1 PID: 57 at mm/page_alloc.c:5525 __alloc_pages+0x2a4/0x330", FindingKind::Warning),
            ("Kernel panic - not syncing: softlockup: hung tasks", FindingKind::Panic),
        ];
        for (message, kind) in cases {
            let findings = scan(&format!("[   30.123456] {message}\n[   30.123457] CPU: 0 PID: 214 Comm: make\n"));
            assert_eq!(kinds(&findings), [kind], "{message}");
            assert_eq!(findings[0].line, message);
        }
        for harmless in [
            "INFO: Allocated in kbench_alloc+0x1d/0x60 age=12 cpu=1 pid=123",
            "rcu: Hierarchical RCU implementation.",
            "watchdog: Enabled. Permanently consumes one hw-PMU counter.",
            "ACPI: bus type PCI registered",
            "kbench-agent: step 2: make -j 4 [#1] done: 0000",
            "kbench-agent: step 0 (Timed, limit 60 s): printf \\'<3>BUG: KASAN: x in y+0x0/0x1\\' > /dev/kmsg",
            "kbench-agent: step 1 (Timed, limit 60 s): echo WARNING: CPU: 0 PID: 1 at x",
            "sh (412): Killed process 413 (BUG: KASAN: x)",
        ] {
            assert!(scan(&format!("[ 1.0] {harmless}\n")).is_empty(), "{harmless}");
        }
    }

    #[test]
    fn with_quiet_the_kernel_log_holds_what_the_console_never_showed() {
        let console_only = scan(QUIET_CONSOLE);
        assert_eq!(kinds(&console_only), [FindingKind::Slub], "{console_only:#?}");
        assert!(!console_only[0].excerpt.contains("Call Trace:"), "the stack is level 4: not on a quiet console");

        let findings = scan_logs(QUIET_CONSOLE, Some(QUIET_KMSG));
        assert_eq!(kinds(&findings), [FindingKind::Slub, FindingKind::Warning], "{findings:#?}");
        let (slub, warning) = (&findings[0], &findings[1]);
        assert_eq!(slub.count, 1, "one report in both logs is one report");
        assert_eq!(slub.log, KernelLog::Kmsg);
        assert_eq!(slub.line, "BUG kmalloc-64 (Tainted: G        W          ): Poison overwritten");
        assert!(slub.excerpt.contains("check_bytes_and_report.cold"), "{}", slub.excerpt);
        assert!(!slub.excerpt.contains("<3>") && !slub.excerpt.contains("<4>"), "levels are stripped: {}", slub.excerpt);
        assert_eq!(warning.line, "WARNING: CPU: 1 PID: 57 at mm/page_alloc.c:5525 __alloc_pages+0x2a4/0x330");
        assert_eq!((warning.count, warning.log), (1, KernelLog::Kmsg));
        assert!(warning.excerpt.starts_with("[   12.345702] WARNING"), "{}", warning.excerpt);
        assert!(warning.excerpt.contains("__kmalloc_large_node"), "{}", warning.excerpt);
        assert!(
            warning.excerpt.ends_with("---[ end trace 0000000000000000 ]---"),
            "the SLUB report after it is its own: {}",
            warning.excerpt
        );
    }

    #[test]
    fn a_report_only_the_console_shows_still_counts() {
        let console = format!("{QUIET_CONSOLE}[   90.000001] Kernel panic - not syncing: Fatal exception\n");
        let findings = scan_logs(&console, Some(QUIET_KMSG));
        assert_eq!(kinds(&findings), [FindingKind::Panic, FindingKind::Slub, FindingKind::Warning]);
        assert_eq!(findings[0].log, KernelLog::Console);
        let twice = format!("{QUIET_KMSG}{}", QUIET_KMSG.lines().filter(|l| l.starts_with("<3>")).collect::<Vec<_>>().join("\n"));
        assert_eq!(scan_logs(QUIET_CONSOLE, Some(&twice))[0].count, 2, "a second report the console did not show");
    }

    #[test]
    fn records_written_from_user_space_are_never_reports() {
        // What a workload wrote to /dev/kmsg (issue 19): LOG_USER (8) or any facility but 0.
        let kmsg = "<0>[   10.000001] kbench: step 1\n\
                    <11>[   10.000002] BUG kmalloc-64 (Not tainted): Poison overwritten\n\
                    <8>[   10.000003] Kernel panic - not syncing: forged\n\
                    <131>[   10.000004] BUG: KASAN: slab-out-of-bounds in x+0x0/0x1\n\
                    12,900,10000005,-;WARNING: CPU: 0 PID: 1 at mm/slub.c:1 x+0x0/0x1\n";
        assert!(scan_logs("", Some(kmsg)).is_empty(), "{:#?}", scan_logs("", Some(kmsg)));
        // The same records from the kernel (facility 0, any level) are.
        let kernel = "<3>[   10.000002] BUG kmalloc-64 (Not tainted): Poison overwritten\n\
                      <0>[   10.000003] Kernel panic - not syncing: Fatal exception\n\
                      <3>[   10.000004] BUG: KASAN: slab-out-of-bounds in x+0x0/0x1\n\
                      4,900,10000005,-;WARNING: CPU: 0 PID: 1 at mm/slub.c:1 x+0x0/0x1\n";
        let kinds = kinds(&scan_logs("", Some(kernel)));
        assert_eq!(kinds, [FindingKind::Panic, FindingKind::Kasan, FindingKind::Slub, FindingKind::Warning]);
        assert_eq!(split_priority("<14>[ 1.5] x"), (Some(14), "[ 1.5] x"));
        assert_eq!(split_priority("[ 1.5] x"), (None, "[ 1.5] x"));
        assert_eq!(split_priority("<99999999999>y"), (None, "<99999999999>y"), "no priority overflows into one");
    }

    #[test]
    fn a_kernel_line_that_starts_with_a_task_name_is_no_report() {
        for line in [
            "BUG: KASAN: x[412]: segfault at 0 ip 0000000000401000 sp 00007ffd5c6f1e30 error 4 in x[401000+1000]",
            "WARNING: CPU: 0 (412): VmData 8519680 exceed data ulimit 2048000. Update limits or use boot option ignore_rlimit_data.",
            "BUG x: y (77): drop_caches: 3",
            "WARNING: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null)",
            "Oops[9]: segfault at 0",
        ] {
            assert!(scan(&format!("[   30.1] {line}\n")).is_empty(), "{line}");
        }
        assert!(starts_with_task_name("make[214]: segfault at 8"));
        assert!(!starts_with_task_name("Oops: 0002 [#1] PREEMPT SMP NOPTI"));
        assert!(!starts_with_task_name("BUG kmalloc-64 (Not tainted): Poison overwritten"));
        assert!(!starts_with_task_name("BUG: soft lockup - CPU#0 stuck for 22s! [make:214]"));
    }

    #[test]
    fn raw_kmsg_records_and_caller_ids_are_read() {
        assert_eq!(
            without_level("3,512,41204012,-;BUG kmalloc-64 (Not tainted): Poison overwritten"),
            "BUG kmalloc-64 (Not tainted): Poison overwritten"
        );
        assert_eq!(without_timestamp("[   41.204012][  T214] WARNING: CPU: 1"), "WARNING: CPU: 1");
        assert_eq!(without_level("<12>[    1.5] user message"), "[    1.5] user message");
    }
}
