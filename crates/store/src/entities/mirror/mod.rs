//! Mirror tables (issue #5).
