//! One side of a comparison: the runs of a results folder or of a bare runs.csv, and the
//! meta.json beside them when there is one (`results::side::read_side` reads them).

use crate::model::{Meta, RunRecord};
use std::path::PathBuf;

pub struct Side {
    /// As given on the command line, for messages.
    pub path: PathBuf,
    pub records: Vec<RunRecord>,
    pub meta: Option<Meta>,
    /// Why there is no meta (absent, unreadable); `None` when it was read.
    pub meta_missing: Option<String>,
}

impl Side {
    /// Distinct kernel releases of the runs, in order of appearance.
    pub fn kernels(&self) -> Vec<&str> {
        let mut kernels: Vec<&str> = Vec::new();
        for record in &self.records {
            if !record.kernel_release.is_empty() && !kernels.contains(&record.kernel_release.as_str()) {
                kernels.push(&record.kernel_release);
            }
        }
        kernels
    }

    /// Lab hosts named in runs.csv, in order of appearance; empty for a study on one host.
    pub fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = Vec::new();
        for record in &self.records {
            if !record.host.is_empty() && !hosts.contains(&record.host.as_str()) {
                hosts.push(&record.host);
            }
        }
        hosts
    }

    pub fn variants(&self) -> Vec<&str> {
        let mut variants: Vec<&str> = Vec::new();
        for record in &self.records {
            if !variants.contains(&record.variant.as_str()) {
                variants.push(&record.variant);
            }
        }
        variants
    }
}
