//! Subscriptions: the mirror of a tenant's Stripe subscriptions.
//!
//! Column contract (other modules, e.g. entitlements, read these; keep them
//! stable): `status` is Stripe's status string; `plan_id`/`price_id` are
//! Billforge's when the first item's Stripe price is one of ours;
//! `quantity` and the current period come from the items.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One subscription of a tenant's customer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    /// Billforge's `sub_…` id (a `billing::ids::SubscriptionId`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Billforge's customer it belongs to.
    pub customer_id: String,
    /// Stripe's `sub_…` id; unique per tenant.
    pub stripe_subscription_id: String,
    /// Stripe's status (`trialing`, `active`, `past_due`, …).
    pub status: String,
    /// Billforge's plan of the first item, when its price is ours.
    pub plan_id: Option<String>,
    /// Billforge's price of the first item, when it is ours.
    pub price_id: Option<String>,
    /// The Stripe price of the first item.
    pub stripe_price_id: Option<String>,
    /// Quantity of the first item (seats).
    pub quantity: i64,
    /// Start of the current period (earliest item start).
    pub current_period_start: Option<DateTimeUtc>,
    /// End of the current period (latest item end): renewal or end of access.
    pub current_period_end: Option<DateTimeUtc>,
    /// When the trial started, if there is one.
    pub trial_start: Option<DateTimeUtc>,
    /// When the trial ends (or ended).
    pub trial_end: Option<DateTimeUtc>,
    /// Ends at period end instead of renewing.
    pub cancel_at_period_end: bool,
    /// A scheduled end.
    pub cancel_at: Option<DateTimeUtc>,
    /// When cancellation was requested.
    pub canceled_at: Option<DateTimeUtc>,
    /// When it actually ended.
    pub ended_at: Option<DateTimeUtc>,
    /// Stripe's `cancellation_details.reason` (`payment_failed`, …).
    pub cancellation_reason: Option<String>,
    /// When the mirrored state was true.
    pub observed_at: DateTimeUtc,
    /// JSON of the `billing::subscription::SubscriptionState` last applied.
    #[sea_orm(column_type = "Text")]
    pub mirror_state: String,
    /// First mirrored.
    pub created_at: DateTimeUtc,
    /// Last written.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
