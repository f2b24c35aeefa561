//! Subscription change locks: the one change of a subscription in flight
//! (see `TenantScope::claim_subscription_change`).

use sea_orm::entity::prelude::*;

/// A change of one subscription being made, and who makes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_changes")]
pub struct Model {
    /// Billforge's `sub_…` id of the subscription being changed.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subscription_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The holder's random token: only it releases the claim.
    pub token: String,
    /// When the claim lapses if its holder never releases it (a crash).
    pub locked_until: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
