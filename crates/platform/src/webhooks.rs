//! Stripe webhooks: verification, the inbox, and applying events exactly once.

use crate::jobs::JobHandlers;

/// Registers this module's kinds of background work.
pub fn register_jobs(_handlers: &mut JobHandlers) {}
