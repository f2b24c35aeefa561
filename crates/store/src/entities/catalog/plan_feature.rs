//! What a plan grants: a feature and how much of it.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One grant of a plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "plan_features")]
pub struct Model {
    /// The granting plan.
    #[sea_orm(primary_key, auto_increment = false)]
    pub plan_id: String,
    /// The granted feature.
    #[sea_orm(primary_key, auto_increment = false)]
    pub feature_id: String,
    /// Owning tenant (scoping without a join).
    pub tenant_id: String,
    /// JSON of `billing::entitlements::GrantValue` (enabled, a limit, unlimited).
    pub value: String,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
