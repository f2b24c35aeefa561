//! Catalog tables: each tenant's Stripe connection, features, plans, prices
//! and what plans grant.

pub mod feature;
pub mod plan;
pub mod plan_feature;
pub mod price;
pub mod stripe_connection;
