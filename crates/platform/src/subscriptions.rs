//! TODO(issue #5): subscriptions.
