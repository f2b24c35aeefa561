//! Stripe webhooks: signature, inbox, exactly-once application.
