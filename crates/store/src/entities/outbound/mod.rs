//! Outbound webhook tables (issue #9).

pub mod attempt;
pub mod delivery;
pub mod endpoint;
