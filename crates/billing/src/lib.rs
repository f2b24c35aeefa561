//! The billing domain: ids, money, plans, entitlements, subscription state,
//! dunning and the clock. Pure: no I/O, no HTTP, SQL, Stripe or mail, so the
//! persistence, Stripe sync and webhook layers around it stay thin and every
//! rule here is unit- and property-tested without a database.
//!
//! How the outer layers use it:
//! - **Catalog**: forms parse amounts with [`money::Money::parse_major`] and
//!   build a [`catalog::Plan`] from a [`catalog::PlanSpec`]; an invalid plan
//!   cannot exist, so the Stripe sync only ever sends valid prices. Changing
//!   an amount is [`catalog::Plan::supersede_price`] (grandfathering).
//! - **Webhooks and API responses**: the Stripe adapter turns an object into
//!   a domain state ([`customer::CustomerState`],
//!   [`subscription::SubscriptionState`], [`invoice::InvoiceState`],
//!   [`payment`] states) wrapped in
//!   [`mirror::Observed`] with its time; [`mirror::apply`] says whether to
//!   store it, so duplicates and any arrival order converge.
//! - **Entitlements**: after anything that can change them (a stored
//!   subscription changed, a plan's grants, an override, a dunning state),
//!   the store resolves the customer's mirrored subscriptions, each with its
//!   [`dunning::DunningState::standing`], to plans with
//!   [`entitlements::CustomerSubscriptions::resolve`], calls
//!   [`entitlements::effective_entitlements`], stores the result, and emits
//!   [`entitlements::EntitlementsChanged::between`] the old and new result
//!   as a domain event when there is one;
//!   [`entitlements::next_expiry`] says when to recompute by itself.
//! - **Dunning**: the engine keeps a [`dunning::DunningState`] per
//!   subscription, feeds it events and carries out the returned
//!   [`dunning::Action`]s; [`dunning::preview`] shows merchants the plan.
//! - **Connect**: `account.*` events move a tenant's
//!   [`connect::ConnectStatus`]; only an active tenant can sell.
//! - **Time**: everything takes a [`clock::SharedClock`].

pub mod catalog;
pub mod clock;
pub mod connect;
pub mod customer;
pub mod dunning;
pub mod entitlements;
pub mod events;
pub mod ids;
pub mod invoice;
pub mod mirror;
pub mod money;
pub mod payment;
pub mod subscription;
