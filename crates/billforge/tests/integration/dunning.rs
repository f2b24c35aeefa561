//! Dunning engine and clock tests (issue #6).
