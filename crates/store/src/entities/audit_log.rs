//! The audit log: one row per mutation, written in the same transaction.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Who performed a mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A merchant user from the dashboard.
    #[sea_orm(string_value = "user")]
    User,
    /// A merchant's API key.
    #[sea_orm(string_value = "api_key")]
    ApiKey,
    /// A platform admin.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// The platform itself (CLI, background jobs).
    #[sea_orm(string_value = "system")]
    System,
}

/// One recorded mutation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// `aud_…` id; ULIDs sort by time, so this is also the display order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant whose data changed; `None` for platform-level changes.
    pub tenant_id: Option<String>,
    /// What kind of actor acted.
    pub actor_kind: ActorKind,
    /// The actor's id (`usr_…`, `key_…`, or `system`).
    pub actor_id: String,
    /// Stable dotted name, e.g. `api_key.created`.
    pub action: String,
    /// Kind of the changed object, e.g. `api_key`.
    pub target_type: String,
    /// Id of the changed object.
    pub target_id: String,
    /// The request that caused it, to join with logs.
    pub request_id: String,
    /// When it happened.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
