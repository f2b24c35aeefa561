//! One invoice being dunned.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A `dunning_runs` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "dunning_runs")]
pub struct Model {
    /// `dun_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose.
    pub tenant_id: String,
    /// The chased Stripe invoice (`in_…`); unique per tenant.
    pub stripe_invoice_id: String,
    /// The subscription it bills (`sub_…`), which the final action acts on.
    pub stripe_subscription_id: Option<String>,
    /// The Stripe customer (`cus_…`).
    pub stripe_customer_id: String,
    /// Billforge's customer id.
    pub customer_id: String,
    /// `chasing`, `recovered` or `finalized`, for filtering without parsing `state`.
    pub status: String,
    /// The `billing::dunning::DunningState`, JSON.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    /// The `billing::dunning::DunningPolicy` the run follows, JSON, as it
    /// was when the run started.
    #[sea_orm(column_type = "Text")]
    pub policy: String,
    /// The latest `billing::events::InvoiceFacts` seen, JSON: what step
    /// events tell the mailer and merchants.
    #[sea_orm(column_type = "Text")]
    pub invoice: String,
    /// The first failure: the schedule counts from here.
    pub started_at: DateTimeUtc,
    /// When the engine acts next, while chasing.
    pub next_action_at: Option<DateTimeUtc>,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
