//! One study over several `[[host]]`s. Each host runs the whole study (every variant,
//! the rounds in the plan's order) as one block, so that variants are compared on the
//! same machine; the hosts run at once, each on a thread with its own libvirt connection
//! and its own recorder. A host that cannot be reached or fails is reported and the
//! others go on.

use super::limits::Limits;
use super::noise_guard::ProcProbe;
use super::recorder::{Recorder, StudyFiles};
use super::study::{Stops, Study, StudyOutcome, StudyTimedOut};
use super::{job, run_study, runner};
use crate::backend::{self, OpenedHost, Unreachable};
use crate::benchmark::interrupt::Interrupted;
use crate::model::{HypervisorFacts, LabHostFacts, LabHostStatus, RunRecord};
use crate::output::progress::Progress;
use crate::scenario::{LabHost, Plan};
use anyhow::{anyhow, Result};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// A `[[host]]` and its connection, or why there is none.
pub struct HostSlot {
    pub host: LabHost,
    pub opened: Result<OpenedHost>,
}

/// Connects to every host at once; each connection is bounded in time by the backend.
pub fn open_hosts(plan: &Plan, agent: &Path) -> Vec<HostSlot> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = plan
            .hosts
            .iter()
            .map(|host| {
                let host_plan = plan.for_host(host);
                scope.spawn(move || {
                    let opened = backend::open_host(&host_plan, agent);
                    HostSlot { host: host.clone(), opened }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// meta.json's `hosts`, as the connections went: running, or unreachable and why.
pub fn host_facts(slots: &[HostSlot]) -> Vec<LabHostFacts> {
    slots
        .iter()
        .map(|slot| {
            let mut facts = LabHostFacts {
                name: slot.host.name.clone(),
                uri: slot.host.uri.clone(),
                status: LabHostStatus::Running,
                error: String::new(),
                libvirt_version: String::new(),
                accel: String::new(),
                cpus: 0,
                memory_mib: 0,
            };
            match &slot.opened {
                Ok(opened) => {
                    facts.libvirt_version = opened.machine.libvirt_version.clone();
                    facts.accel = opened.machine.accel.to_string();
                    facts.cpus = opened.machine.cpus;
                    facts.memory_mib = opened.machine.memory_mib;
                }
                Err(error) => {
                    facts.status = if error.is::<Unreachable>() { LabHostStatus::Unreachable } else { LabHostStatus::Failed };
                    facts.error = format!("{error:#}");
                }
            }
            facts
        })
        .collect()
}

/// meta.json's `hypervisor` for the study as a whole: libvirt, each reachable host's
/// version, and the accelerator they share (`kvm+tcg` when they do not).
pub fn hypervisor_facts(slots: &[HostSlot]) -> HypervisorFacts {
    let reachable: Vec<(&LabHost, &OpenedHost)> = slots.iter().filter_map(|s| s.opened.as_ref().ok().map(|o| (&s.host, o))).collect();
    let version =
        reachable.iter().map(|(host, opened)| format!("{}: {}", host.name, opened.backend.version())).collect::<Vec<_>>().join("; ");
    let mut accels: Vec<String> = reachable.iter().map(|(_, opened)| opened.backend.accel().to_string()).collect();
    accels.sort();
    accels.dedup();
    HypervisorFacts { backend: "libvirt".into(), version, accel: accels.join("+") }
}

/// What every host's thread shares.
pub struct Fleet<'a> {
    pub agent: &'a Path,
    pub scratch: &'a Path,
    pub files: &'a Mutex<StudyFiles>,
    pub progress: &'a Progress,
    pub stops: Stops<'a>,
    /// When `bench run` started, for meta.json's time budget.
    pub started: Instant,
}

/// Runs every reachable host's block at once. `records` are the rows already on record
/// (a resumed study): each host measures only what is missing for it. The outcome holds
/// every host's rows; its problems name the host.
pub fn run_hosts(fleet: &Fleet, plan: &Plan, slots: Vec<HostSlot>, records: Vec<RunRecord>) -> (Result<()>, StudyOutcome) {
    // Each host that runs says what it plans (`runs = "auto"` plans fewer); one that does
    // not run is counted at the plan's full block.
    let per_host = plan.variants.len() * job::all_runs(plan).len();
    let mut outcome = StudyOutcome::default();
    let mut reachable = Vec::new();
    for HostSlot { host, opened } in slots {
        // The plan as it runs (a resumed study's recorded seed), not as it was opened.
        let plan = plan.for_host(&host);
        match opened {
            Ok(opened) => reachable.push((host, plan, opened)),
            // A resumed study: the host measured its block before, nothing is lost.
            Err(error) if block_on_record(&plan, &host, &records) => {
                fleet.progress.println(&format!("note: host {} is unreachable, but every run of its block is on record", host.name));
                set_status(
                    fleet,
                    &host,
                    LabHostStatus::Done,
                    format!("unreachable when resumed, its block complete: {error:#}"),
                    &mut outcome,
                );
                outcome.planned_runs += records.iter().filter(|r| r.host == host.name).count();
            }
            Err(error) => {
                outcome.planned_runs += per_host;
                let what = if error.is::<Unreachable>() { "is unreachable" } else { "cannot run the study" };
                let line = format!("host {} {what}: {error:#}", host.name);
                fleet.progress.println(&format!("warning: {line}; the other hosts go on"));
                outcome.problems.push(line);
            }
        }
    }
    // An unreachable host's rows from an earlier attempt stay on record.
    let (mut kept, mut to_run): (Vec<RunRecord>, Vec<RunRecord>) =
        records.into_iter().partition(|r| !reachable.iter().any(|(host, _, _)| host.name == r.host));
    outcome.records.append(&mut kept);
    let ended: Vec<(Result<()>, StudyOutcome)> = std::thread::scope(|scope| {
        let threads: Vec<_> = reachable
            .into_iter()
            .map(|(host, plan, opened)| {
                let mine: Vec<RunRecord> = to_run.extract_if(.., |r| r.host == host.name).collect();
                scope.spawn(move || run_host(fleet, (host, plan, opened), mine))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut result = Ok(());
    for (host_ended, host_outcome) in ended {
        outcome.planned_runs += host_outcome.planned_runs;
        outcome.records.extend(host_outcome.records);
        outcome.problems.extend(host_outcome.problems);
        outcome.warnings.extend(host_outcome.warnings);
        match host_ended {
            // The study stops for all: an interrupt first, then the study timeout.
            Err(error) if error.is::<Interrupted>() => result = Err(error),
            Err(error) if error.is::<StudyTimedOut>() && result.is_ok() => result = Err(error),
            _ => {}
        }
    }
    (result, outcome)
}

/// One host's block, on its own thread: its connection closes when it ends, which
/// destroys any domain it left (they are created auto-destroy).
fn run_host(fleet: &Fleet, (host, plan, opened): (LabHost, Plan, OpenedHost), records: Vec<RunRecord>) -> (Result<()>, StudyOutcome) {
    // The full block until the study says what it plans.
    let planned_runs = plan.variants.len() * job::all_runs(&plan).len();
    let mut outcome = StudyOutcome { records, planned_runs, ..StudyOutcome::default() };
    if let Some(warning) = &opened.warning {
        fleet.progress.println(&format!("warning: host {}: {warning}", host.name));
    }
    let limits = Limits::for_plan(&plan);
    let ended = Recorder::new(fleet.files, fleet.progress, &host.name, plan.runs, fleet.started).and_then(|mut recorder| {
        let mut study = Study {
            plan: &plan,
            host: &host.name,
            limits: &limits,
            backend: opened.backend.as_ref(),
            agent: fleet.agent,
            scratch: fleet.scratch,
            listener: &mut recorder,
            stops: fleet.stops,
            probe: &ProcProbe,
        };
        let ended = run_study(&mut study, &mut outcome);
        if let Err(error) = recorder.update_time_budget() {
            outcome.problems.push(format!("cannot record the time budget in meta.json: {error:#}"));
        }
        ended
    });
    drop(opened);
    let (status, error) = match &ended {
        Err(error) => (LabHostStatus::Failed, format!("{error:#}")),
        Ok(()) if outcome.problems.is_empty() && outcome.failed_runs() == 0 && outcome.missing_runs() == 0 => {
            (LabHostStatus::Done, String::new())
        }
        Ok(()) => (LabHostStatus::Failed, incomplete(&outcome)),
    };
    match &ended {
        Err(error) if !(error.is::<Interrupted>() || error.is::<StudyTimedOut>()) => {
            fleet.progress.println(&format!("error: host {}: {error:#}; the other hosts go on", host.name));
        }
        _ => {}
    }
    for problem in &mut outcome.problems {
        *problem = format!("host {}: {problem}", host.name);
    }
    if let Err(error) = &ended {
        if !(error.is::<Interrupted>() || error.is::<StudyTimedOut>()) {
            outcome.problems.push(format!("host {}: {error:#}", host.name));
        }
    }
    set_status(fleet, &host, status, error, &mut outcome);
    (ended, outcome)
}

/// Whether every run of the host's block has a row (ok or failed) already.
fn block_on_record(plan: &Plan, host: &LabHost, records: &[RunRecord]) -> bool {
    let mine: Vec<RunRecord> = records.iter().filter(|r| r.host == host.name).cloned().collect();
    (0..plan.rounds).all(|round| plan.variants.iter().all(|variant| runner::pending_runs(plan, variant, round, &mine).is_empty()))
}

/// The host's status and error in meta.json, written at once.
fn set_status(fleet: &Fleet, host: &LabHost, status: LabHostStatus, error: String, outcome: &mut StudyOutcome) {
    let written = fleet.files.lock().map_err(|_| anyhow!("internal: the results folder's lock is poisoned")).and_then(|mut files| {
        files.update_meta(|meta| {
            if let Some(facts) = meta.hosts.iter_mut().find(|h| h.name == host.name) {
                facts.status = status;
                facts.error = error;
            }
        })
    });
    if let Err(error) = written {
        outcome.problems.push(format!("host {}: cannot record its status in meta.json: {error:#}", host.name));
    }
}

/// Why a block that ran to its end is still not complete.
fn incomplete(outcome: &StudyOutcome) -> String {
    if let Some(problem) = outcome.problems.first() {
        return problem.lines().next().unwrap_or_default().to_string();
    }
    format!("{} failed and {} missing of {} planned runs", outcome.failed_runs(), outcome.missing_runs(), outcome.planned_runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Accel, Backend, Guest, GuestSpec, HostMachine};
    use crate::scenario::file::BackendKind;

    /// A connected host that is never asked to boot.
    struct Connected(Accel);

    impl Backend for Connected {
        fn accel(&self) -> Accel {
            self.0
        }
        fn version(&self) -> String {
            format!("libvirt 9.0.0, {}", self.0)
        }
        fn boot(&self, _spec: &GuestSpec) -> Result<Box<dyn Guest>> {
            anyhow::bail!("not in this test")
        }
    }

    fn slot(name: &str, opened: Result<OpenedHost>) -> HostSlot {
        let host = LabHost {
            key: "host[0]".into(),
            name: name.into(),
            uri: format!("qemu+ssh://root@{name}/system"),
            cpus: None,
            memory_mib: None,
        };
        HostSlot { host, opened }
    }

    fn connected(accel: Accel) -> Result<OpenedHost> {
        let machine = HostMachine { libvirt_version: "9.0.0".into(), accel, cpus: 16, memory_mib: 65536 };
        Ok(OpenedHost { backend: Box::new(Connected(accel)), warning: None, machine })
    }

    #[test]
    fn meta_tells_each_host_as_its_connection_went() {
        let slots = [
            slot("lab1", connected(Accel::Kvm)),
            slot("lab2", Err(Unreachable("cannot connect to libvirt at qemu+ssh://root@lab2/system: refused".into()).into())),
            slot("lab3", Err(anyhow!("key `guest.accel`: \"kvm\" was asked for, but KVM does not work here"))),
            slot("lab4", connected(Accel::Tcg)),
        ];
        let facts = host_facts(&slots);
        let read: Vec<(&str, LabHostStatus, &str, u32)> =
            facts.iter().map(|f| (f.name.as_str(), f.status, f.accel.as_str(), f.cpus)).collect();
        assert_eq!(
            read,
            [
                ("lab1", LabHostStatus::Running, "kvm", 16),
                ("lab2", LabHostStatus::Unreachable, "", 0),
                ("lab3", LabHostStatus::Failed, "", 0),
                ("lab4", LabHostStatus::Running, "tcg", 16)
            ]
        );
        assert!(facts[1].error.contains("refused") && facts[2].error.contains("KVM does not work"), "{facts:?}");
        assert_eq!(facts[0].uri, "qemu+ssh://root@lab1/system");
        let hypervisor = hypervisor_facts(&slots);
        assert_eq!(hypervisor.accel, "kvm+tcg", "hosts that differ say so");
        assert_eq!(hypervisor.version, "lab1: libvirt 9.0.0, kvm; lab4: libvirt 9.0.0, tcg");
    }

    #[test]
    fn a_hosts_plan_is_sized_for_it_and_keeps_the_levels() {
        let mut plan = crate::benchmark::fake::plan(3, 0, 3);
        let host = LabHost {
            key: "host[0]".into(),
            name: "lab1".into(),
            uri: "qemu+ssh://root@lab1/system".into(),
            cpus: Some(8),
            memory_mib: None,
        };
        plan.hosts = vec![host.clone()];
        let on_host = plan.for_host(&host);
        assert_eq!((on_host.guest.cpus, on_host.guest.memory_mib), (8, plan.guest.memory_mib));
        assert_eq!((on_host.guest.backend, on_host.guest.uri.as_deref()), (BackendKind::Libvirt, Some("qemu+ssh://root@lab1/system")));
        assert_eq!(on_host.levels, plan.levels, "every host runs the same -j");
        assert!(on_host.hosts.is_empty());
        assert_eq!(on_host.guest.uri_key, "`host[0].uri`", "a connection error names the entry");
    }
}
