//! One module per subcommand: each wires the stages together and picks the exit code.

pub mod bisect;
pub mod bump;
pub mod bundle;
pub mod check;
pub mod check_like;
pub mod cli;
pub mod compare;
pub mod history;
pub mod manual;
pub mod pool;
pub mod report;
pub mod run;
pub mod split;

pub const EXIT_OK: u8 = 0;
/// A run failed, a guest misbehaved, or a comparison found a regression.
pub const EXIT_FAILED: u8 = 1;
/// The input cannot be used: nothing was measured.
pub const EXIT_BAD_INPUT: u8 = 2;
/// A gate (`bench compare`, `bench history`, `bench run --gate`) cannot tell: a gated
/// metric is inconclusive (or has too few runs) and nothing regressed.
pub const EXIT_INCONCLUSIVE: u8 = 3;
/// `bench run`: the study broke after measuring started (the backend or the disk failed
/// mid-study); every run measured is kept. Never 2, which says nothing was measured.
pub const EXIT_BROKEN: u8 = 4;

/// The gate's exit code, decided in one place for `compare`, `history` and `run --gate`:
/// 1 on any regression, else 3 when a gated metric cannot tell (0 with `--inconclusive
/// pass`, 1 with `--inconclusive fail`), else 0.
pub fn gate_exit(regressions: usize, inconclusive: usize, policy: cli::Inconclusive) -> u8 {
    match (regressions, inconclusive, policy) {
        (r, _, _) if r > 0 => EXIT_FAILED,
        (_, 0, _) => EXIT_OK,
        (_, _, cli::Inconclusive::Exit3) => EXIT_INCONCLUSIVE,
        (_, _, cli::Inconclusive::Pass) => EXIT_OK,
        (_, _, cli::Inconclusive::Fail) => EXIT_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::cli::Inconclusive;
    use super::*;

    #[test]
    fn the_gate_fails_a_regression_and_says_when_it_cannot_tell() {
        assert_eq!(gate_exit(0, 0, Inconclusive::Exit3), EXIT_OK);
        assert_eq!(gate_exit(1, 3, Inconclusive::Pass), EXIT_FAILED, "a regression always fails");
        assert_eq!(gate_exit(0, 2, Inconclusive::Exit3), EXIT_INCONCLUSIVE);
        assert_eq!(gate_exit(0, 2, Inconclusive::Pass), EXIT_OK);
        assert_eq!(gate_exit(0, 2, Inconclusive::Fail), EXIT_FAILED);
        assert_eq!((EXIT_INCONCLUSIVE, EXIT_BROKEN), (3, 4));
    }
}
