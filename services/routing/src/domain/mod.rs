//! Routing's domain: reference data, district resolution, the classifier, rules and
//! exclusions, duplicates. Pure functions and types, no I/O.

pub mod classifier;
pub mod duplicates;
pub mod edits;
pub mod evaluation;
pub mod locality;
pub mod reference;
pub mod routing;
pub mod text;

pub use routing::{FieldIssue, describe};
