//! What other programs reuse from the `bakylau` command: the inbound contract as a
//! government system speaks it (`bakylau inbound send|watch`, and the end-to-end test).

pub mod inbound;
