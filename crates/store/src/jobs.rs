//! The durable job queue. Any number of processes may work it. On PostgreSQL a
//! job is claimed with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent workers
//! each lock a different due row without waiting on or retrying against each
//! other; on SQLite (one writer at a time) with a conditional `UPDATE` that only
//! one claimer's statement can match. Either way the job is leased; if its
//! worker dies, the lease runs out and the job is claimed again.
//! Handlers must therefore be idempotent (at-least-once delivery).

use billing::ids::{JobId, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::job::{self, JobStatus};
use crate::{Store, StoreResult};

pub use job::Model as Job;

/// How many times a claim is re-tried when another worker wins the race.
const CLAIM_RACES: usize = 5;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Handler name, e.g. `mail.send`.
    pub kind: String,
    /// The handler's input (JSON text).
    pub payload: String,
    /// The tenant the work is for, if any.
    pub tenant_id: Option<TenantId>,
    /// Producer-chosen key making the enqueue idempotent.
    pub dedupe_key: Option<String>,
    /// Earliest time to run.
    pub run_at: DateTime<Utc>,
    /// Attempts before giving up.
    pub max_attempts: i32,
}

/// Jobs that a worker may take now: queued and due, or running with a lapsed lease.
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(job::Column::Status.eq(JobStatus::Queued))
                .add(job::Column::RunAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(job::Column::Status.eq(JobStatus::Running))
                .add(job::Column::LockedUntil.lt(now)),
        )
}

/// Inserts `new_job` as `id` on `conn`, doing nothing when its dedupe key is
/// taken; returns the rows inserted. Other modules call it inside their own
/// transaction, so a job is enqueued exactly when what it works on is stored.
pub(crate) async fn insert_job(
    conn: &impl ConnectionTrait,
    id: &JobId,
    new_job: NewJob,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    insert_jobs(conn, vec![(id.clone(), new_job, now)]).await
}

/// [`insert_job`] for many jobs in one statement, each `(id, job, created
/// at)`; a job whose dedupe key is taken is skipped.
pub(crate) async fn insert_jobs(
    conn: &impl ConnectionTrait,
    jobs: Vec<(JobId, NewJob, DateTime<Utc>)>,
) -> Result<u64, DbErr> {
    let rows = jobs.into_iter().map(|(id, new_job, now)| job::ActiveModel {
        id: Set(id.to_string()),
        tenant_id: Set(new_job.tenant_id.map(|t| t.to_string())),
        kind: Set(new_job.kind),
        payload: Set(new_job.payload),
        dedupe_key: Set(new_job.dedupe_key),
        status: Set(JobStatus::Queued),
        attempts: Set(0),
        max_attempts: Set(new_job.max_attempts),
        run_at: Set(new_job.run_at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    });
    job::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(job::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
}

impl Store {
    /// Enqueues a job; with a `dedupe_key` already used, returns the existing job.
    pub async fn enqueue_job(&self, new_job: NewJob, now: DateTime<Utc>) -> StoreResult<Job> {
        let id = JobId::generate();
        let dedupe_key = new_job.dedupe_key.clone();
        insert_job(&self.db, &id, new_job, now).await?;
        let stored = match dedupe_key {
            Some(key) => {
                job::Entity::find()
                    .filter(job::Column::DedupeKey.eq(key))
                    .one(&self.db)
                    .await?
            }
            None => {
                job::Entity::find_by_id(id.to_string())
                    .one(&self.db)
                    .await?
            }
        };
        stored.ok_or_else(|| sea_orm::DbErr::RecordNotFound("enqueued job".into()).into())
    }

    /// Claims the most overdue claimable job for `lease`, counting an attempt.
    pub async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Option<Job>> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            return self.claim_job_skip_locked(now, lease).await;
        }
        for _ in 0..CLAIM_RACES {
            let Some(candidate) = job::Entity::find()
                .filter(claimable(now))
                .order_by_asc(job::Column::RunAt)
                .one(&self.db)
                .await?
            else {
                return Ok(None);
            };
            let claimed = job::Entity::update_many()
                .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
                .col_expr(job::Column::LockedUntil, Expr::value(now + lease))
                .col_expr(
                    job::Column::Attempts,
                    Expr::col(job::Column::Attempts).add(1),
                )
                .col_expr(job::Column::UpdatedAt, Expr::value(now))
                .filter(job::Column::Id.eq(candidate.id.clone()))
                .filter(claimable(now))
                .exec(&self.db)
                .await?
                .rows_affected;
            if claimed == 1 {
                return Ok(job::Entity::find_by_id(candidate.id).one(&self.db).await?);
            }
        }
        Ok(None)
    }

    /// PostgreSQL: locks the next due row, skipping rows other workers hold, and
    /// leases it in the same transaction.
    async fn claim_job_skip_locked(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Option<Job>> {
        let txn = crate::begin_write(&self.db).await?;
        let candidate = job::Entity::find()
            .filter(claimable(now))
            .order_by_asc(job::Column::RunAt)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .one(&txn)
            .await?;
        let Some(candidate) = candidate else {
            txn.commit().await?;
            return Ok(None);
        };
        let attempts = candidate.attempts + 1;
        let mut row: job::ActiveModel = candidate.into();
        row.status = Set(JobStatus::Running);
        row.locked_until = Set(Some(now + lease));
        row.attempts = Set(attempts);
        row.updated_at = Set(now);
        let claimed = row.update(&txn).await?;
        txn.commit().await?;
        Ok(Some(claimed))
    }

    /// Marks a claimed job done.
    pub async fn complete_job(&self, claimed: &Job, now: DateTime<Utc>) -> StoreResult<()> {
        let mut row: job::ActiveModel = claimed.clone().into();
        row.status = Set(JobStatus::Succeeded);
        row.locked_until = Set(None);
        row.updated_at = Set(now);
        row.update(&self.db).await?;
        Ok(())
    }

    /// Records a failure: back to the queue at `retry_at`, or failed for good
    /// when `retry_at` is `None`.
    pub async fn fail_job(
        &self,
        claimed: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut row: job::ActiveModel = claimed.clone().into();
        match retry_at {
            Some(at) => {
                row.status = Set(JobStatus::Queued);
                row.run_at = Set(at);
            }
            None => row.status = Set(JobStatus::Failed),
        }
        row.locked_until = Set(None);
        row.last_error = Set(Some(error.to_owned()));
        row.updated_at = Set(now);
        row.update(&self.db).await?;
        Ok(())
    }

    /// When the earliest queued job is due, if any is queued: the next
    /// instant at which something happens in Billforge (`clock advance`
    /// steps to it).
    pub async fn next_queued_job_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(job::Entity::find()
            .filter(job::Column::Status.eq(JobStatus::Queued))
            .order_by_asc(job::Column::RunAt)
            .one(&self.db)
            .await?
            .map(|job| job.run_at))
    }

    /// How many jobs a worker holds a live lease on at `now`: work started
    /// (by this process or another) and not yet finished.
    pub async fn running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(job::Entity::find()
            .filter(job::Column::Status.eq(JobStatus::Running))
            .filter(job::Column::LockedUntil.gte(now))
            .count(&self.db)
            .await?)
    }

    /// A job by id (operators, tests).
    pub async fn job(&self, id: &JobId) -> StoreResult<Option<Job>> {
        Ok(job::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }
}
