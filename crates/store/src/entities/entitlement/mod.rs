//! Entitlement tables (issue #5).
