//! Refunds: the mirror of a tenant's Stripe refunds.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One refund.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Stripe's `re_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe_refund_id: String,
    /// The payment refunded.
    pub stripe_payment_intent_id: Option<String>,
    /// Billforge's customer refunded, when known.
    pub customer_id: Option<String>,
    /// Stripe's status.
    pub status: String,
    /// Lower-case ISO currency.
    pub currency: String,
    /// Amount refunded, minor units.
    pub amount: i64,
    /// Why it was refunded.
    pub reason: Option<String>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// When the mirrored state was true.
    pub observed_at: DateTimeUtc,
    /// JSON of the `billing::payment::RefundState` last applied.
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
