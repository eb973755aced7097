//! The records every stage passes on: a timed run (a row of runs.csv) and the facts of a
//! study (meta.json). At the bottom of the crate: the model imports no other module of
//! kbench, and every other module may import it.

mod findings;
mod meta;
mod overhead;
mod part;
mod run;
mod stopping;

pub use findings::{ConsoleFinding, FindingKind, KernelLog};
#[cfg(test)]
pub use meta::test_meta;
pub use meta::{
    AdaptiveFacts, BootKernelView, DesignFacts, FileFacts, GuestFacts, HostFacts, HypervisorFacts, KernelBuildFacts, LabHostFacts,
    LabHostStatus, Leftovers, LevelFacts, Meta, QuietHostFacts, VariantFacts, WorkloadFacts, META_SCHEMA_VERSION,
};
pub use overhead::{BootTimes, PinnedVcpu, PinningFacts, TimeBudget};
pub use part::{study_part, unclaimed};
#[cfg(test)]
pub use run::test_record;
pub use run::{GuestStart, RunRecord, RunStatus, RUNS_SCHEMA_VERSION};
pub use stopping::{LevelStopping, StopRule};

/// Now, as every timestamp in the records is written: RFC 3339, UTC, whole seconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
