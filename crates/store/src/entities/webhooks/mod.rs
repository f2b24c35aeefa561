//! Webhook tables: the inbox of received Stripe events.
