//! One side of a comparison: the runs of a results folder or of a bare runs.csv, and the
//! meta.json beside them when there is one (`results::side::read_side` reads them).

use crate::model::{Meta, RunRecord};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// (host, variant, jobs level) of a row of the comparison.
type RowKey = (String, String, String);

pub struct Side {
    /// As given on the command line, for messages.
    pub path: PathBuf,
    pub records: Vec<RunRecord>,
    pub meta: Option<Meta>,
    /// Why there is no meta (absent, unreadable); `None` when it was read.
    pub meta_missing: Option<String>,
    /// Each row's runs by position in `records`, made on first use: a comparison looks up
    /// every row once per metric, which a scan of a million runs each time would make slow.
    rows: OnceLock<HashMap<RowKey, Vec<usize>>>,
}

impl Side {
    pub fn new(path: PathBuf, records: Vec<RunRecord>, meta: Option<Meta>, meta_missing: Option<String>) -> Side {
        Side { path, records, meta, meta_missing, rows: OnceLock::new() }
    }

    /// The runs of one row (host, variant, jobs level), in file order.
    pub fn row(&self, host: &str, variant: &str, label: &str) -> Vec<&RunRecord> {
        let rows = self.rows.get_or_init(|| {
            let mut rows: HashMap<RowKey, Vec<usize>> = HashMap::new();
            for (at, r) in self.records.iter().enumerate() {
                rows.entry((r.host.clone(), r.variant.clone(), r.jobs_label.clone())).or_default().push(at);
            }
            rows
        });
        let key = (host.to_string(), variant.to_string(), label.to_string());
        rows.get(&key).map(|at| at.iter().map(|&i| &self.records[i]).collect()).unwrap_or_default()
    }

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
