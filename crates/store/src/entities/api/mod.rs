//! API idempotency tables (issue #9).
