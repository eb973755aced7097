//! `bench compare`'s renderings of a [`crate::compare::CompareReport`]: text for the
//! terminal, Markdown, JSON and CSV, JUnit XML.

pub mod cells;
pub mod json_csv;
pub mod junit;
pub mod mail;
pub mod markdown;
pub mod text;
