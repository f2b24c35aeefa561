//! The billing domain: ids, money, plans, entitlements, subscription state,
//! dunning and the clock. Pure: no I/O, no HTTP, SQL, Stripe or mail.

pub mod ids;
