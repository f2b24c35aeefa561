//! A merchant's exception for one customer and one feature.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One override; at most one per customer and feature (the primary key).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "entitlement_overrides")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Billforge's customer id (`cus_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    /// The feature overridden.
    #[sea_orm(primary_key, auto_increment = false)]
    pub feature_id: String,
    /// The feature's lookup key, copied so a recomputation needs no join.
    pub lookup_key: String,
    /// JSON of `billing::entitlements::OverrideAction` (grant a value, or revoke).
    #[sea_orm(column_type = "Text")]
    pub action: String,
    /// The override stops applying at this instant, if set.
    pub until: Option<DateTimeUtc>,
    /// When it was first set.
    pub created_at: DateTimeUtc,
    /// When it was last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
