//! Plans: what a tenant sells, a Stripe product on its connected account.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Whether the plan's current state is on Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Changed locally; a `catalog.sync` job will push it.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Stripe has the plan and its prices as stored.
    #[sea_orm(string_value = "synced")]
    Synced,
    /// The last attempt failed (`sync_error` says why); the job retries.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// One plan of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    /// `plan_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Shown to customers (the Stripe product name).
    pub name: String,
    /// Archived plans keep subscribers but take no new ones (never deleted).
    pub archived: bool,
    /// Free days before the first charge, if any.
    pub trial_days: Option<i32>,
    /// The Stripe product, once synced.
    pub stripe_product_id: Option<String>,
    /// Whether Stripe matches this row.
    pub sync_status: SyncStatus,
    /// Why the last sync failed, shown to the merchant.
    pub sync_error: Option<String>,
    /// Bumped on every change, so each change gets its own sync job.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
