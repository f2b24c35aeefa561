//! Subscription items: the lines of a mirrored subscription, rewritten with
//! it whenever a newer state wins.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One item of a subscription.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "subscription_items")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Stripe's `si_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe_item_id: String,
    /// Billforge's subscription it belongs to.
    pub subscription_id: String,
    /// The Stripe price billed.
    pub stripe_price_id: String,
    /// Billforge's price, when the Stripe price is ours.
    pub price_id: Option<String>,
    /// Billforge's plan of that price.
    pub plan_id: Option<String>,
    /// Seats or units.
    pub quantity: i64,
    /// Start of the period the item is billed for.
    pub current_period_start: DateTimeUtc,
    /// End of that period.
    pub current_period_end: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
