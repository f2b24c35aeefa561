//! API and outbound webhook tables (issue #9).
