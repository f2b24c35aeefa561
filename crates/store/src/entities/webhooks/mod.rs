//! Webhook tables: the inbox of received Stripe events.

pub mod webhook_event;
