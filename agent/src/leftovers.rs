//! What a step leaves behind must not run into the next measurement. When its shell has
//! ended, every other process in the guest but kernel threads (a daemon that called
//! setsid, a background job, a program the kernel started on the step's behalf) is the
//! step's: the agent is PID 1 and runs nothing else. They are killed, the zombies
//! reaped, and the count reported.

use std::time::{Duration, Instant};

/// Processes stuck in the kernel (state D) may not die at once; after this, give up.
const KILL_LIMIT: Duration = Duration::from_secs(5);
/// A kernel thread (`PF_KTHREAD` in the flags field of /proc/<pid>/stat).
const PF_KTHREAD: u64 = 0x0020_0000;

/// Which processes count as the step's.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every process but the agent and kernel threads: the agent is the guest's init.
    AllButInit,
    /// The step's own process group: the agent runs on a machine with other programs
    /// (development), where it must not touch anything else.
    ProcessGroup(libc::pid_t),
}

impl Scope {
    pub fn for_step(step_pid: libc::pid_t) -> Scope {
        if std::process::id() == 1 {
            Scope::AllButInit
        } else {
            Scope::ProcessGroup(step_pid)
        }
    }
}

/// Kills every process of `scope` until none is left (or [`KILL_LIMIT`] passes) and
/// returns how many there were. Zombies are reaped, not counted: they no longer run.
pub fn kill_all(scope: Scope) -> u32 {
    let started = Instant::now();
    let mut seen: Vec<libc::pid_t> = Vec::new();
    loop {
        reap_zombies();
        let alive = running(scope);
        if alive.is_empty() {
            break;
        }
        for pid in alive {
            // SAFETY: kill has no memory preconditions; a pid gone meanwhile gives ESRCH.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        if started.elapsed() >= KILL_LIMIT {
            crate::console(&format!("some of the {} processes a step left would not die within {} s", seen.len(), KILL_LIMIT.as_secs()));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    reap_zombies();
    u32::try_from(seen.len()).unwrap_or(u32::MAX)
}

/// As PID 1 the agent inherits every orphan; its zombies are its to reap.
fn reap_zombies() {
    let mut status = 0;
    // SAFETY: plain waitpid with WNOHANG.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

fn running(scope: Scope) -> Vec<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| pid != me && pid != 1)
        .filter(|&pid| {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(stat) = Stat::parse(&text) else {
                return false;
            };
            stat.is_running_process()
                && match scope {
                    Scope::AllButInit => true,
                    Scope::ProcessGroup(group) => stat.process_group == group,
                }
        })
        .collect()
}

/// The fields of /proc/<pid>/stat that tell what a process is.
#[derive(Debug, PartialEq)]
pub struct Stat {
    pub pid: libc::pid_t,
    pub state: char,
    pub parent: libc::pid_t,
    pub process_group: libc::pid_t,
    pub flags: u64,
}

impl Stat {
    /// `pid (comm) state ppid pgrp session tty_nr tpgid flags ...`; comm may hold spaces
    /// and parentheses, so the fields are counted from its last `)`.
    pub fn parse(text: &str) -> Option<Stat> {
        let (head, rest) = text.rsplit_once(')')?;
        let pid = head.split_once('(')?.0.trim().parse().ok()?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Stat {
            pid,
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            process_group: fields.get(2)?.parse().ok()?,
            flags: fields.get(6)?.parse().ok()?,
        })
    }

    /// Kernel threads are the kernel's, known by their flag alone; zombies and dead tasks
    /// only wait to be reaped. Not by parent: a usermode helper the kernel started for the
    /// step (a core-dump pipe, request-key) is a child of kthreadd or of a kernel worker,
    /// yet a user process that runs whatever it was given, and must die with the step.
    pub fn is_running_process(&self) -> bool {
        self.flags & PF_KTHREAD == 0 && !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_process_with_a_hostile_name_is_parsed_from_its_last_parenthesis() {
        let text = "812 (a) R 1 (b) R 1 812 812 0 -1 4194560 91 0 0 0 0 0 0 0 20 0 1 0 1234 2920448 87 18446744073709551615\n";
        let stat = Stat::parse(text).unwrap();
        assert_eq!(stat, Stat { pid: 812, state: 'R', parent: 1, process_group: 812, flags: 4194560 });
        assert!(stat.is_running_process());
    }

    #[test]
    fn kernel_threads_and_zombies_are_not_the_steps() {
        let kworker = Stat::parse("57 (kworker/0:2-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 3 0 0 20 0 1 0 40 0 0").unwrap();
        assert_eq!(kworker.flags & PF_KTHREAD, PF_KTHREAD);
        assert!(!kworker.is_running_process());
        let kthreadd = Stat::parse("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0").unwrap();
        assert!(!kthreadd.is_running_process());
        let zombie = Stat::parse("300 (make) Z 1 290 290 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0").unwrap();
        assert!(!zombie.is_running_process());
        let sleeper = Stat::parse("301 (sleep) S 1 301 301 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0").unwrap();
        assert!(sleeper.is_running_process());
    }

    #[test]
    fn a_usermode_helper_is_the_steps_though_its_parent_is_kthreadd() {
        // A core-dump pipe that exec'd a busy loop (issue 19): parent 2, session 0, the
        // flags of a user process.
        let helper =
            Stat::parse("412 (sh) R 2 0 0 0 -1 4194560 35 0 0 0 812 3 0 0 20 0 1 0 2950 2379776 110 18446744073709551615").unwrap();
        assert_eq!((helper.parent, helper.flags & PF_KTHREAD), (2, 0));
        assert!(helper.is_running_process());
        // One a kernel worker started and waits for (request-key, UMH_WAIT_PROC).
        let waited_for = Stat { pid: 413, state: 'S', parent: 57, process_group: 0, flags: 0x0040_0100 };
        assert!(waited_for.is_running_process());
        // A kernel thread is known by its flag whatever its parent.
        let kworker = Stat { pid: 58, state: 'I', parent: 2, process_group: 0, flags: 0x0420_8060 };
        assert!(!kworker.is_running_process());
    }

    #[test]
    fn a_truncated_stat_is_no_process() {
        assert_eq!(Stat::parse("12 (sh) R 1"), None);
        assert_eq!(Stat::parse(""), None);
    }
}
