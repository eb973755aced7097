//! The bounds a scenario must keep, each one standing for a way `bench run` would
//! otherwise fail later: a file name too long, a timer that overflows, a guest too small
//! for its initrd, a command the guest's shell cannot be given, a kernel option that
//! takes the guest away from kbench. Checked before anything boots; docs/scenario.md
//! lists them.

use anyhow::{bail, Result};

/// Study and variant names become folder and file names (`console/<variant>-boot1.qemu.log`,
/// `logs/<variant>-<level>-run<N>.log`), which must stay well under NAME_MAX (255).
pub const MAX_NAME_BYTES: usize = 64;
/// Any time limit in seconds: a week. Far beyond any study, far below what a timer holds.
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;
/// A workload command (`command`, `prepare`, `clean`). The agent hands each to
/// `/bin/sh -c` as one argument, which Linux caps at 128 KiB (MAX_ARG_STRLEN); half of
/// that leaves room for `{jobs}` and for kbench's own wrapping.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// A `.config` file shipped in the kernel build's prepare command (same 128 KiB cap, less
/// the rest of that command). `make savedefconfig` writes a far smaller equivalent.
pub const MAX_CONFIG_BYTES: usize = 96 * 1024;
/// `make_args`, `source` and `build_dir` of a kernel build: each lands in every command.
pub const MAX_WORKLOAD_FIELD_BYTES: usize = 1024;
/// Timed runs per variant and level, warm-ups and retries: beyond these a study cannot
/// finish in any useful time, and the counts are kept in memory.
pub const MAX_RUNS: u32 = 1000;
pub const MAX_WARMUP: u32 = 100;
pub const MAX_RETRIES: u32 = 100;
/// `[[host]]` entries: each holds a libvirt connection and a thread of bench.
pub const MAX_HOSTS: usize = 64;
/// The guest must hold its kernel, its initrd and the unpacked initramfs: measured with
/// the tiny guest (Debian 6.1 kernel, 3 MB initrd with the agent), which needs 88 MiB.
pub const MIN_MEMORY_BASE_MIB: u64 = 128;
/// ...plus this many times the initrd's size (compressed initramfs unpack to 3-4 times).
pub const MEMORY_PER_INITRD_BYTE: u64 = 4;

/// A name kbench turns into a folder or file name: letters, digits, `.`, `_`, `+`, `-`,
/// starting with a letter or digit (so never `.`, `..` or an option), at most
/// [`MAX_NAME_BYTES`].
pub fn check_name(name: &str, key: &str, names: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
    let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_well || !name.chars().all(allowed) {
        bail!(
            "key `{key}`: {name:?} is not a usable name: use letters, digits, '.', '_', '+' and '-', starting with a letter or digit (it names {names})"
        );
    }
    if name.len() > MAX_NAME_BYTES {
        bail!("key `{key}`: the name is {} bytes long, at most {MAX_NAME_BYTES} (it names {names})", name.len());
    }
    Ok(())
}

/// A time limit in seconds: at least 1, at most [`MAX_SECONDS`].
pub fn check_seconds(value: u64, key: &str) -> Result<()> {
    if value == 0 || value > MAX_SECONDS {
        bail!("key `{key}`: {value} s is out of range: seconds from 1 to {MAX_SECONDS} (7 days)");
    }
    Ok(())
}

/// A count with an upper bound (`runs`, `warmup`, `retries`).
pub fn check_count(value: u32, min: u32, max: u32, key: &str, what: &str) -> Result<()> {
    if value < min || value > max {
        bail!("key `{key}`: {value} is out of range: at least {min} and at most {max} ({what})");
    }
    Ok(())
}

/// A shell command the agent runs with `/bin/sh -c`.
pub fn check_command(command: &str, key: &str) -> Result<()> {
    if command.contains('\0') {
        bail!("key `{key}`: contains a NUL character, which no command can be given (remove the \\u0000)");
    }
    if command.len() > MAX_COMMAND_BYTES {
        bail!(
            "key `{key}`: the command is {} bytes long, at most {MAX_COMMAND_BYTES} (64 KiB): put a long script in a file inside the guest and run that",
            command.len()
        );
    }
    Ok(())
}

/// The least memory a guest with an initrd of `initrd_bytes` boots the agent in.
pub fn memory_floor_mib(initrd_bytes: u64) -> u64 {
    MIN_MEMORY_BASE_MIB + (initrd_bytes * MEMORY_PER_INITRD_BYTE).div_ceil(1024 * 1024)
}

/// The words of a kernel command line as the kernel splits them: on spaces, except
/// inside double quotes (`dyndbg="file x +p"` is one option).
pub fn kernel_words(cmdline: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (at, c) in cmdline.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        match (c.is_whitespace() && !quoted, start) {
            (true, Some(from)) => {
                words.push(&cmdline[from..at]);
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    words.extend(start.map(|from| &cmdline[from..]));
    words
}

/// Bare words (no `=`) the kernel takes for itself: flags of its own, so they never reach
/// the guest's first process. Any other bare word without a `.` does, as an argument of
/// the agent: see [`check_kernel_option`].
pub const KERNEL_FLAGS: &str = "quiet debug ro rw rootwait nokaslr nosmp noapic nolapic nolapic_timer noapictimer nopti nosmt \
nosmap nosmep nopcid noinvpcid nopku nox2apic noxsave noxsaves nofsgsbase nopat notsc nohpet nomce noefi nomodeset nowatchdog \
nosoftlockup noirqdebug irqpoll irqfixup norandmaps nohugeiomap nohugevmalloc noreplace-smp nospectre_v1 nospectre_v2 \
nospec_store_bypass_disable noresume no_console_suspend ignore_loglevel initcall_debug panic_on_warn keep_bootcon earlycon \
slub_debug slab_nomerge slub_nomerge delayacct noautogroup";

/// Kernel command-line options that would take the guest away from kbench, with why.
/// kbench's own options (`console=ttyS0 panic=-1 rdinit=/kbench/agent`) come first and a
/// later option wins, so these cannot be allowed after them.
pub fn check_kernel_option(option: &str, key: &str) -> Result<()> {
    // The kernel drops the quotes around a value (`console="ttyS1"`).
    let unquoted = option.replace('"', "");
    let (name, value) = unquoted.split_once('=').unwrap_or((&unquoted, ""));
    let why = match name {
        "rdinit" => "kbench starts its agent as the guest's first process with rdinit=/kbench/agent; another rdinit= replaces the agent, and the guest boots without it until boot_timeout",
        "init" => "the agent is the guest's first process and runs every step itself; init= would never run",
        "panic" => "kbench sets panic=-1 so that a kernel panic ends the guest at once and is recorded; another value leaves a panicked guest hanging until a timeout",
        "8250.nr_uarts" if value.parse::<u32>().map_or(true, |n| n < 2) => {
            "the agent talks to kbench on the second serial port (ttyS1); fewer than 2 ports removes it"
        }
        "noinitrd" => "kbench delivers its agent in the initrd; without it the guest boots without the agent until boot_timeout",
        "--" => "the kernel hands everything after `--` to the guest's first process, kbench's agent, as its arguments: the agent takes the first for its channel and the boot hangs until boot_timeout",
        _ if names_agent_port(name, value) => {
            "ttyS1 is kbench's channel to the agent (I/O port 0x2f8, 760 in decimal, early serial port 1); kernel output on it would garble the conversation (the console is ttyS0)"
        }
        _ if goes_to_init(&unquoted) => {
            bail!(
                "key `{key}`: {option:?} is not allowed: the kernel hands a word without `=` that is not one of its own flags to the guest's first process, kbench's agent, which takes it for its channel and stops (\"fatal: cannot open {unquoted}\"); write a kernel parameter as name=value and a module's as module.name=value. Bare kernel flags kbench lets through: {} (KERNEL_FLAGS in src/scenario/limits.rs)",
                KERNEL_FLAGS.split_whitespace().collect::<Vec<_>>().join(", ")
            )
        }
        _ => return Ok(()),
    };
    bail!("key `{key}`: {option:?} is not allowed: {why}")
}

/// A word the kernel passes to init as an argument: no `=`, no `.` (a module's parameter,
/// which the kernel keeps), and not a flag of its own.
fn goes_to_init(word: &str) -> bool {
    !word.contains('=') && !word.contains('.') && !KERNEL_FLAGS.split_whitespace().any(|flag| flag == word)
}

/// The agent's port, ttyS1, at I/O port 0x2f8 (760), in any spelling the kernel reads:
/// `ttyS1` (or `ttyS01`) anywhere in a value (`console=`, `earlyprintk=`, `kgdboc=`), the
/// port's address in hex anywhere (`earlyprintk=serial,0x2f8`), or in any of C's bases
/// as the address of a `uart`/`uart8250` (`console=uart8250,io,760`, `earlycon=uart,io,0x2f8`),
/// and x86's early serial console's port number 1 (`earlyprintk=serial,1`).
fn names_agent_port(name: &str, value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let tty = lower.match_indices("ttys").any(|(at, m)| leading_decimal(&lower[at + m.len()..]) == Some(1));
    let fields: Vec<&str> = lower.split(',').collect();
    let hex = fields.iter().any(|f| f.starts_with("0x") && c_number(f) == Some(AGENT_PORT)) || lower.contains("0x2f8");
    let uart =
        matches!(fields.first(), Some(&"uart" | &"uart8250")) && fields.iter().skip(1).take(2).any(|f| c_number(f) == Some(AGENT_PORT));
    let early_serial = name == "earlyprintk"
        && lower.match_indices("serial").any(|(at, m)| {
            let port = lower[at + m.len()..].trim_start_matches(',');
            let port = port.strip_prefix("ttys").unwrap_or(port);
            !port.starts_with("0x") && leading_decimal(port) == Some(1)
        });
    tty || hex || uart || early_serial
}

/// ttyS1's I/O port.
const AGENT_PORT: u64 = 0x2f8;

/// The decimal number `text` starts with, as the kernel's simple_strtoul reads it.
fn leading_decimal(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A number as the kernel's kstrtoull(…, 0) reads it: `0x` hex, a leading `0` octal,
/// else decimal; the whole field or nothing.
fn c_number(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        for good in ["baseline", "slub-poison", "v1.2_x+y", "A"] {
            assert!(check_name(good, "name", "x").is_ok(), "{good}");
        }
        for bad in ["", ".", "..", ".hidden", "-j", "a/b", "a b", "a,b", "a=b", "tab\there", "é"] {
            assert!(check_name(bad, "name", "x").is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(MAX_NAME_BYTES), "name", "x").is_ok());
        let error = check_name(&"a".repeat(MAX_NAME_BYTES + 1), "variant[0].name", "x").unwrap_err().to_string();
        assert!(error.contains("variant[0].name") && error.contains("at most 64"), "{error}");
    }

    #[test]
    fn time_limits_are_bounded_on_both_sides() {
        assert!(check_seconds(1, "k").is_ok());
        assert!(check_seconds(MAX_SECONDS, "k").is_ok());
        assert!(check_seconds(0, "k").is_err());
        let error = check_seconds(u64::MAX, "guest.run_timeout").unwrap_err().to_string();
        assert!(error.contains("guest.run_timeout") && error.contains("604800"), "{error}");
        // Whatever passes must fit a timer: the overflow the bound exists for.
        assert!(std::time::Instant::now().checked_add(std::time::Duration::from_secs(MAX_SECONDS)).is_some());
    }

    #[test]
    fn commands_without_nul_and_within_the_argument_limit() {
        assert!(check_command("make -j{jobs}\necho done", "workload.command").is_ok());
        assert!(check_command("echo a\0b", "workload.command").unwrap_err().to_string().contains("NUL"));
        assert!(check_command(&"x".repeat(MAX_COMMAND_BYTES), "k").is_ok());
        let error = check_command(&"x".repeat(MAX_COMMAND_BYTES + 1), "workload.prepare").unwrap_err().to_string();
        assert!(error.contains("workload.prepare") && error.contains("at most 65536"), "{error}");
    }

    #[test]
    fn the_memory_floor_grows_with_the_initrd() {
        assert_eq!(memory_floor_mib(0), 128);
        assert_eq!(memory_floor_mib(1024 * 1024), 132);
        assert_eq!(memory_floor_mib(1), 129);
    }

    #[test]
    fn options_that_take_the_guest_away_are_refused() {
        for bad in [
            "rdinit=/bin/sh",
            "init=/sbin/init",
            "panic=0",
            "console=ttyS1",
            "console=ttyS1,115200",
            "earlycon=uart8250,io,0x2f8",
            "8250.nr_uarts=1",
        ] {
            let error = check_kernel_option(bad, "guest.cmdline").unwrap_err().to_string();
            assert!(error.contains("guest.cmdline") && error.contains("not allowed"), "{bad}: {error}");
        }
        for good in ["quiet", "slub_debug=P", "console=ttyS0", "console=ttyS10", "8250.nr_uarts=4", "init_on_free=1", "panic_on_warn=1"] {
            assert!(check_kernel_option(good, "guest.cmdline").is_ok(), "{good}");
        }
        assert!(check_kernel_option("noinitrd", "k").unwrap_err().to_string().contains("delivers its agent in the initrd"));
    }

    /// Issue 19 item 7: ttyS1 in every spelling the kernel reads puts kernel output on
    /// the agent's port.
    #[test]
    fn the_agents_port_is_refused_in_any_spelling() {
        let spellings = [
            "console=uart8250,io,760,115200",
            "console=uart,io,0x2f8",
            "console=uart8250,io,01370",
            "console=uart8250,0x2f8",
            "console=uart8250,mmio32,0x02F8",
            "console=ttyS01",
            "console=\"ttyS1\"",
            "earlyprintk=serial,1,115200,keep",
            "earlyprintk=serial,ttyS1",
            "earlyprintk=ttyS1",
            "earlyprintk=serial,0x2f8,115200",
            "earlyprintk=vga,serial,1",
            "earlycon=uart8250,io,760",
            "earlycon=uart,mmio,0x2f8",
            "kgdboc=ttyS1,115200",
        ];
        for bad in spellings {
            let error = check_kernel_option(bad, "variant[0].cmdline").unwrap_err().to_string();
            assert!(
                error.contains("variant[0].cmdline") && error.contains("ttyS1 is kbench's channel to the agent (I/O port 0x2f8"),
                "{bad}: {error}"
            );
        }
        let fine = [
            "console=uart8250,io,0x3f8,115200",
            "console=uart8250,io,1016",
            "earlyprintk=serial,115200",
            "earlyprintk=serial,0,115200,keep",
            "earlyprintk=serial,ttyS0",
            "earlyprintk=serial,10",
            "console=ttyS11",
            "mem=760M",
            "foo=760",
            "earlycon",
            "keep_bootcon",
        ];
        for good in fine {
            assert!(check_kernel_option(good, "k").is_ok(), "{good}: {:?}", check_kernel_option(good, "k"));
        }
    }

    /// Issue 19 item 7: a bare word the kernel does not know, and everything after `--`,
    /// become the agent's arguments, which it takes for its channel.
    #[test]
    fn words_the_kernel_hands_to_the_agent_are_refused() {
        for bad in ["single", "S", "splash", "emergency", "1", "foo", "\"single\""] {
            let error = check_kernel_option(bad, "guest.cmdline").unwrap_err().to_string();
            assert!(error.contains("guest.cmdline") && error.contains("kbench's agent, which takes it for its channel"), "{bad}: {error}");
            assert!(error.contains("quiet, debug, ro, rw"), "{error}");
        }
        let error = check_kernel_option("--", "variant[1].cmdline").unwrap_err().to_string();
        assert!(error.contains("variant[1].cmdline") && error.contains("everything after `--`"), "{error}");
        let flags = ["quiet", "debug", "ro", "rw", "nokaslr", "nosmp", "noapic", "nolapic", "nopti", "nosmt", "slub_debug"];
        for good in flags.into_iter().chain(["printk.time", "x=y", "usbcore.nousb"]) {
            assert!(check_kernel_option(good, "k").is_ok(), "{good}: {:?}", check_kernel_option(good, "k"));
        }
    }

    #[test]
    fn the_command_line_splits_as_the_kernel_splits_it() {
        assert_eq!(kernel_words("  quiet dyndbg=\"file x +p\"  slub_debug=P "), ["quiet", "dyndbg=\"file x +p\"", "slub_debug=P"]);
        assert_eq!(kernel_words(""), Vec::<&str>::new());
        assert_eq!(kernel_words("-- /dev/ttyS0"), ["--", "/dev/ttyS0"]);
    }
}
