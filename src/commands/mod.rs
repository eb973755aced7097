//! One module per subcommand: each wires the stages together and picks the exit code.

pub mod check;
pub mod bisect;
pub mod bump;
pub mod bundle;
pub mod cli;
pub mod report;
pub mod compare;
pub mod history;
pub mod manual;
pub mod pool;
pub mod run;
pub mod split;

pub const EXIT_OK: u8 = 0;
/// A run failed, a guest misbehaved, or a comparison found a regression.
pub const EXIT_FAILED: u8 = 1;
/// The input cannot be used: nothing was measured.
pub const EXIT_BAD_INPUT: u8 = 2;
