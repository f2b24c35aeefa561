//! Outbox and SMTP delivery tests (issue #7).
