//! Two results of the same study set side by side (typically the old and the new kernel):
//! which rows match, whether the two were measured alike, and per metric whether the new
//! one is significantly worse. No files and no printing here; `export` reads the sides and renders the result.
//!
//! Data flows one way: the two [`side::Side`]s `export` read → [`matching::pair_levels`]
//! → [`report::build`].

pub mod facts;
pub mod matching;
pub mod report;
pub mod side;

pub use matching::VariantMap;
pub use report::{build, CompareOptions, CompareReport, Entry};
pub use side::Side;
