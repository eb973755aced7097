//! Which rows `bench run --resume --retry-failed` measures again. Whether the rows a
//! resumed study finds fit its plan at all is `stats::inconsistencies`' business, as for
//! every other reader of runs.csv.

use crate::model::RunRecord;

/// The rows to keep and the failed ones to measure again.
pub fn split_failed(records: Vec<RunRecord>) -> (Vec<RunRecord>, Vec<RunRecord>) {
    records.into_iter().partition(RunRecord::is_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunStatus};

    #[test]
    fn failed_rows_are_split_off() {
        let failed = RunRecord { status: RunStatus::Failed, ..test_record() };
        let (kept, retried) = split_failed(vec![test_record(), failed.clone()]);
        assert_eq!((kept, retried), (vec![test_record()], vec![failed]));
    }
}
