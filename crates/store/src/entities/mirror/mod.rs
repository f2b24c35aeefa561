//! Mirror tables (issue #5): Billforge's copy of each tenant's Stripe
//! customers, subscriptions (and their items), invoices, payments, refunds
//! and disputes. `observed_at` + `mirror_state` hold the newest observation
//! (see `billing::mirror`); the other columns are that state, queryable.

pub mod customer;
pub mod dispute;
pub mod invoice;
pub mod payment;
pub mod refund;
pub mod subscription;
pub mod subscription_change;
pub mod subscription_item;
