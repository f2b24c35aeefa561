//! The billing domain: ids, money, plans, entitlements, subscription state,
//! dunning and the clock. Pure: no I/O, no HTTP, SQL, Stripe or mail, so the
//! persistence, Stripe sync and webhook layers around it stay thin and every
//! rule here is unit- and property-tested without a database.

pub mod catalog;
pub mod clock;
pub mod dunning;
pub mod entitlements;
pub mod ids;
pub mod invoice;
pub mod mirror;
pub mod money;
pub mod subscription;
