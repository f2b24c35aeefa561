//! One step a dunning run took.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// A `dunning_steps` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "dunning_steps")]
pub struct Model {
    /// `dstep_…`, a ULID, so ids sort in recording order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whose (the run's tenant).
    pub tenant_id: String,
    /// The run.
    pub run_id: String,
    /// What makes the step unique within its run (`retry:2`,
    /// `event:<domain event id>`); a second insert of it does nothing.
    pub step_key: String,
    /// Position within the run (0-based): the order the engine took its
    /// steps in, which ids made in the same millisecond do not keep.
    pub seq: i32,
    /// `payment_failed`, `retry`, `reminder`, `final_notice`,
    /// `authentication_required`, `recovered`, `final_action`.
    pub kind: String,
    /// 1-based number of the attempt or reminder.
    pub attempt: i32,
    /// When it happened (the platform clock).
    pub at: DateTimeUtc,
    /// `succeeded`, `failed`, `sent`, `recorded`.
    pub outcome: String,
    /// Human-readable detail (decline reason, plan moved to, link).
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
