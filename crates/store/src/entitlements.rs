//! Customer overrides and stored effective entitlements (issue #5).
