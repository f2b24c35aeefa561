//! Background jobs: durable units of work with a lease and retries.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Leased by a worker until `locked_until`; a crashed worker's lease
    /// runs out and another worker takes the job again.
    #[sea_orm(string_value = "running")]
    Running,
    /// Done.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// Gave up after `max_attempts` or a permanent error; kept for inspection.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// `job_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant the work is for, if any (for support and clean-up).
    pub tenant_id: Option<String>,
    /// Which handler runs it, e.g. `mail.send`.
    pub kind: String,
    /// The handler's input, JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// Enqueueing twice with the same key yields one job (e.g. a Stripe
    /// event id), so producers may retry freely.
    #[sea_orm(unique)]
    pub dedupe_key: Option<String>,
    /// Life-cycle state.
    pub status: JobStatus,
    /// How many times a worker has started it.
    pub attempts: i32,
    /// After this many attempts a failing job is marked failed.
    pub max_attempts: i32,
    /// Not run before this time (retry back-off, scheduled work).
    pub run_at: DateTimeUtc,
    /// End of the current worker's lease while running.
    pub locked_until: Option<DateTimeUtc>,
    /// The claim that holds the lease while running: its worker's
    /// heartbeat, completion and failure apply only while it matches.
    pub lease_token: Option<String>,
    /// The last failure's message, for operators.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTimeUtc,
    /// Last state change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
