//! Dunning policies, runs and steps (issue #6).
