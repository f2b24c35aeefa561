//! Dunning tables (issue #6).
