//! API idempotency records (issue #9).
