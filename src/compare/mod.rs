//! Two results of the same study set side by side (typically the old and the new kernel):
//! which rows match, whether the two were measured alike, and per metric whether the new
//! one is significantly worse. No files and no printing here: `export` reads the two
//! sides and renders the report.
//!
//! Data flows one way: two [`Side`]s → [`matching::pair_levels`] → [`report::build`].

pub mod facts;
pub mod matching;
pub mod report;
pub mod side;

pub use matching::VariantMap;
pub use report::{build, CompareOptions, CompareReport, Entry, PooledEntry};
pub use side::Side;
