//! The mail outbox (issue #7).
