//! Pure rules of the reports: periods and roll-up reads, decoding events into facts,
//! content analysis, spike detection, discipline ranking, reference data. No I/O.

pub mod discipline;
pub mod event;
pub mod period;
pub mod reference;
pub mod rollup;
pub mod spike;
pub mod text;
