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

/// Kernel command-line options that would take the guest away from kbench, with why.
/// kbench's own options (`console=ttyS0 panic=-1 rdinit=/kbench/agent`) come first and a
/// later option wins, so these cannot be allowed after them.
pub fn check_kernel_option(option: &str, key: &str) -> Result<()> {
    let (name, value) = option.split_once('=').unwrap_or((option, ""));
    let why = match name {
        "rdinit" => "kbench starts its agent as the guest's first process with rdinit=/kbench/agent; another rdinit= replaces the agent, and the guest boots without it until boot_timeout",
        "init" => "the agent is the guest's first process and runs every step itself; init= would never run",
        "panic" => "kbench sets panic=-1 so that a kernel panic ends the guest at once and is recorded; another value leaves a panicked guest hanging until a timeout",
        "8250.nr_uarts" if value.parse::<u32>().map_or(true, |n| n < 2) => {
            "the agent talks to kbench on the second serial port (ttyS1); fewer than 2 ports removes it"
        }
        _ if names_agent_port(value) => {
            "ttyS1 is kbench's channel to the agent; kernel output on it would garble the conversation (the console is ttyS0)"
        }
        _ => return Ok(()),
    };
    bail!("key `{key}`: {option:?} is not allowed: {why}")
}

/// `ttyS1` (not `ttyS10`), or its I/O port 0x2f8, as `console=`/`earlycon=` write them.
fn names_agent_port(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let tty = lower.match_indices("ttys1").any(|(at, m)| !lower[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
    tty || lower.contains("0x2f8")
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
        for bad in ["rdinit=/bin/sh", "init=/sbin/init", "panic=0", "console=ttyS1", "console=ttyS1,115200", "earlycon=uart8250,io,0x2f8", "8250.nr_uarts=1"] {
            let error = check_kernel_option(bad, "guest.cmdline").unwrap_err().to_string();
            assert!(error.contains("guest.cmdline") && error.contains("not allowed"), "{bad}: {error}");
        }
        for good in ["quiet", "slub_debug=P", "console=ttyS0", "console=ttyS10", "8250.nr_uarts=4", "init_on_free=1", "panic_on_warn=1"] {
            assert!(check_kernel_option(good, "guest.cmdline").is_ok(), "{good}");
        }
    }
}
