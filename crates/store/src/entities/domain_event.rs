//! One recorded domain event (see `billing::events`).

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A domain event row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "domain_events")]
pub struct Model {
    /// `ev_…`, a ULID, so ids sort in creation order (cursor pagination).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant whose customer it is about.
    pub tenant_id: String,
    /// `DomainEvent::kind()`, e.g. `invoice.paid`, for filtering.
    pub kind: String,
    /// Billforge's customer id, when the event is about a customer.
    pub customer_id: Option<String>,
    /// What produced it plus its kind; unique per tenant, so a cause yields
    /// one event.
    pub cause: String,
    /// The `billing::events::DomainEvent`, JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// When it happened (the clock's time, or the Stripe event's).
    pub occurred_at: DateTimeUtc,
    /// When it was recorded.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
