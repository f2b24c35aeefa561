//! Shared by the integration tests: sample messages and a real SMTP server.

pub mod samples;
pub mod smtp_receiver;
