//! Load for Bakylau: realistic appeals (Kazakh and Russian texts from the routing corpus,
//! valid IINs, the demo region's districts, every kind) sent to intake's `RegisterAppeal`
//! at a fixed rate or as fast as the service takes them. Used by `bakylau load` and by the
//! benchmark; nothing here asserts, it measures.

pub mod appeals;
pub mod runner;

pub use appeals::AppealFactory;
pub use runner::{LoadPlan, LoadReport, OnAccepted, Progress, run};
