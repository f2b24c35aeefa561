//! Features a tenant sells: flags and limits, found by `lookup_key`.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// One feature of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "features")]
pub struct Model {
    /// `feat_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// What merchants' code checks; unique per tenant, never changes.
    pub lookup_key: String,
    /// Display name.
    pub name: String,
    /// JSON of `billing::entitlements::FeatureKind` (flag, or limit and its reset).
    pub kind: String,
    /// Archived features are no longer offered to new grants.
    pub archived: bool,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
