//! Payments: the mirror of a tenant's Stripe payment intents.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One payment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Stripe's `pi_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe_payment_intent_id: String,
    /// Billforge's customer paying, when known.
    pub customer_id: Option<String>,
    /// Stripe's status.
    pub status: String,
    /// Lower-case ISO currency.
    pub currency: String,
    /// Amount asked, minor units.
    pub amount: i64,
    /// Amount received, minor units.
    pub amount_received: i64,
    /// Stripe's code for the last failure.
    pub last_error_code: Option<String>,
    /// When the mirrored state was true.
    pub observed_at: DateTimeUtc,
    /// JSON of the `billing::payment::PaymentState` last applied.
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
