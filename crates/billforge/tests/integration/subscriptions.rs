//! Subscribe, change plan, cancel: the full flow with entitlements (issue #5).
