//! Disputes: the mirror of a tenant's Stripe disputes.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One dispute.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "disputes")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Stripe's `dp_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe_dispute_id: String,
    /// The payment disputed.
    pub stripe_payment_intent_id: Option<String>,
    /// Billforge's customer, when known.
    pub customer_id: Option<String>,
    /// Stripe's status.
    pub status: String,
    /// Lower-case ISO currency.
    pub currency: String,
    /// Amount disputed, minor units.
    pub amount: i64,
    /// The customer's stated reason.
    pub reason: String,
    /// Deadline for the merchant's evidence.
    pub evidence_due_by: Option<DateTimeUtc>,
    /// When the mirrored state was true.
    pub observed_at: DateTimeUtc,
    /// JSON of the `billing::payment::DisputeState` last applied.
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
