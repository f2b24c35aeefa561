//! Outbound webhook tables (issue #9).
