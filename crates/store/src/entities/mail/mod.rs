//! Mail tables (issue #7).
