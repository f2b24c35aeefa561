//! The webhook inbox: received Stripe events, stored before they are acknowledged.
