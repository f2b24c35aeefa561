//! Customers: Billforge's `cus_…` record of a tenant's customer, linked to
//! its Stripe customer once there is one.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One customer of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// Billforge's `cus_…` id (a `billing::ids::CustomerId`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The Stripe customer on the tenant's connected account; unique per
    /// tenant; `None` until one is linked.
    pub stripe_customer_id: Option<String>,
    /// The merchant's own id for this customer; unique per tenant.
    pub external_id: Option<String>,
    /// Where mail goes (Stripe's, once mirrored).
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// The merchant's metadata, JSON object, as given at creation.
    #[sea_orm(column_type = "Text", nullable)]
    pub metadata: Option<String>,
    /// Deleted in Stripe (kept for history).
    pub deleted: bool,
    /// When the mirrored Stripe state was true; `None` before any.
    pub observed_at: Option<DateTimeUtc>,
    /// JSON of the `billing::customer::CustomerState` last applied.
    #[sea_orm(column_type = "Text", nullable)]
    pub mirror_state: Option<String>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
