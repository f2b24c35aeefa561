//! The `billforge` binary's library half: CLI, configuration, composition,
//! ops endpoints and background workers. `main.rs` only parses and calls in;
//! the integration tests in `tests/` drive the same functions.

pub mod app;
pub mod cli;
pub mod config;
pub mod ops;
pub mod stripe_backend;
pub mod telemetry;
pub mod tenant_cli;
pub mod worker;
