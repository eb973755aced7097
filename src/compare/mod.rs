//! Two results of the same study set side by side (typically the old and the new kernel):
//! which rows match, whether the two were measured alike, and per metric whether the new
//! one is significantly worse. No printing here; `output` and `export` render the result.
//!
//! Data flows one way: [`side::load`] → [`matching::pair_levels`] → [`report::build`].

pub mod facts;
pub mod matching;
pub mod report;
pub mod side;

pub use matching::VariantMap;
pub use report::{build, CompareOptions, CompareReport, Entry};
pub use side::load;
