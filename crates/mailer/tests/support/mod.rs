//! Shared by the integration tests: sample messages and a real SMTP server
//! (the receiver lives in the crate behind `test-support`, so the
//! application's tests use the same one).

pub mod samples;
pub use mailer::test_support as smtp_receiver;
