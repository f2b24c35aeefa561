//! TODO(issue #5): mirror.
