//! A tenant's dunning policy (absent: the default policy applies).

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A `dunning_policies` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "dunning_policies")]
pub struct Model {
    /// The tenant; one policy each.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The validated `billing::dunning::DunningPolicySpec`, JSON.
    #[sea_orm(column_type = "Text")]
    pub spec: String,
    /// Whether Stripe's own retries stay on (also in `spec`; a column so
    /// operators can query it).
    pub stripe_retries: bool,
    /// When the merchant last changed it.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
