//! API idempotency tables (issue #9).

pub mod idempotency_key;
