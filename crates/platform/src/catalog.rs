//! The tenant's catalog: plans, prices and features, and their sync to Stripe.

use crate::jobs::JobHandlers;

/// Registers this module's kinds of background work.
pub fn register_jobs(_handlers: &mut JobHandlers) {}
