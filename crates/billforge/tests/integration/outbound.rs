//! Outbound webhook delivery tests (issue #9).
