//! Two results of the same study set side by side (typically the old and the new kernel):
//! which rows match, whether the two were measured alike, and per metric whether the new
//! one is significantly worse. No files and no printing here: `results` reads the two
//! sides and `report` renders the comparison.
//!
//! Data flows one way: two [`Side`]s → [`matching::pair_levels`] → [`comparison::build`].

pub mod alike;
pub mod comparison;
pub mod matching;
pub mod side;
pub mod study_gate;

pub use comparison::{build, CompareOptions, CompareReport, Entry, PooledEntry};
pub use matching::VariantMap;
pub use side::Side;
