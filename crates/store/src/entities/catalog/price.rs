//! Prices of plans: immutable once on Stripe, archived instead of changed.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One price of a plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "prices")]
pub struct Model {
    /// `price_…` id (ours; Stripe's is `stripe_price_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant (so the row is scoped without a join).
    pub tenant_id: String,
    /// The plan it prices.
    pub plan_id: String,
    /// JSON of `billing::catalog::PriceModel` (flat, per seat, tiered).
    pub model: String,
    /// Lower-case ISO currency of every amount in `model`.
    pub currency: String,
    /// `day`, `week`, `month` or `year`; `None` for a one-time price.
    pub interval_unit: Option<String>,
    /// Units per billing period; `None` for a one-time price.
    pub interval_count: Option<i32>,
    /// Archived: keeps billing its subscribers, offered to nobody new.
    pub archived: bool,
    /// Merchant's stable handle for the current price of a plan, if any.
    pub lookup_key: Option<String>,
    /// The Stripe price, once synced.
    pub stripe_price_id: Option<String>,
    /// Whether the Stripe price is active; differs from `!archived` until
    /// an archival is synced.
    pub stripe_active: bool,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
