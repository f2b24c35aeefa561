//! The only crate that knows Stripe's wire format: client, resources, webhook
//! verification and events. See `../shared/stripe/README.md` for the contract.

pub mod webhook;
