//! Dunning tables (issue #6).

pub mod policy;
pub mod run;
pub mod step;
