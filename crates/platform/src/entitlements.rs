//! TODO(issue #5): entitlements.
