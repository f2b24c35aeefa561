//! Invoices: the mirror of a tenant's Stripe invoices.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One invoice of a tenant's customer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Stripe's `in_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe_invoice_id: String,
    /// Billforge's customer billed.
    pub customer_id: String,
    /// Billforge's subscription billed, when it is mirrored.
    pub subscription_id: Option<String>,
    /// Stripe's subscription billed, if any.
    pub stripe_subscription_id: Option<String>,
    /// Stripe's status (`draft`, `open`, `paid`, `uncollectible`, `void`).
    pub status: String,
    /// Lower-case ISO currency of the amounts.
    pub currency: String,
    /// Total due, minor units.
    pub amount_due: i64,
    /// Paid so far, minor units.
    pub amount_paid: i64,
    /// Still owed, minor units.
    pub amount_remaining: i64,
    /// Payment attempts so far.
    pub attempt_count: i32,
    /// Stripe's next automatic retry, if scheduled.
    pub next_payment_attempt: Option<DateTimeUtc>,
    /// Where the customer pays.
    #[sea_orm(column_type = "Text", nullable)]
    pub hosted_invoice_url: Option<String>,
    /// Customer-facing number.
    pub number: Option<String>,
    /// Service period billed (start).
    pub period_start: Option<DateTimeUtc>,
    /// Service period billed (end).
    pub period_end: Option<DateTimeUtc>,
    /// When the mirrored state was true.
    pub observed_at: DateTimeUtc,
    /// JSON of the `billing::invoice::InvoiceState` last applied.
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
