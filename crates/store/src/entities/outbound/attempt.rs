//! One HTTP attempt of a delivery: the log merchants debug their endpoint with.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// An attempt row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "webhook_delivery_attempts")]
pub struct Model {
    /// `wda_…`, a ULID (log order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning merchant.
    pub tenant_id: String,
    /// The delivery attempted.
    pub delivery_id: String,
    /// The HTTP status answered, if any.
    pub response_status: Option<i32>,
    /// The start of the response body.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_excerpt: Option<String>,
    /// A transport failure (timeout, connection refused), if no response came.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// How long the request took.
    pub duration_ms: i64,
    /// When it was made.
    pub attempted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
