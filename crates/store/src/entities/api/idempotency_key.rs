//! One `Idempotency-Key` a tenant sent on a POST, and the response it got.

use sea_orm::entity::prelude::*;

/// An idempotency record: in flight while `response_status` is `None`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_idempotency_keys")]
pub struct Model {
    /// The tenant that sent the key: keys are per tenant, never shared.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The merchant's `Idempotency-Key` header value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idem_key: String,
    /// Hex SHA-256 of method, path and body: a reuse with another request
    /// is refused instead of replaying an unrelated response.
    pub fingerprint: String,
    /// The HTTP status answered; `None` while the first request runs.
    pub response_status: Option<i32>,
    /// The JSON body answered, replayed verbatim.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    /// When the key was first seen; replays stop 24 h later.
    pub created_at: DateTimeUtc,
    /// When the response was stored.
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
