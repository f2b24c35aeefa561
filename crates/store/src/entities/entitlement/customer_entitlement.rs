//! One feature of a customer's stored effective entitlements.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// What a customer may use of one feature, as last computed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "customer_entitlements")]
pub struct Model {
    /// Owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// Billforge's customer id (`cus_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    /// The feature's lookup key: what a check asks for.
    #[sea_orm(primary_key, auto_increment = false)]
    pub lookup_key: String,
    /// Whether the customer may use it (false only when revoked by an override).
    pub allowed: bool,
    /// The cap of a limit feature; `None` for flags and unlimited grants.
    pub limit_value: Option<i64>,
    /// JSON of `billing::entitlements::Source`: why the customer has it.
    #[sea_orm(column_type = "Text")]
    pub source: String,
    /// When this row was last written.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
