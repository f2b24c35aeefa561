//! The durable job queue. Any number of processes may work it. Jobs are
//! claimed a batch at a time by one `UPDATE … RETURNING` whose due ids are
//! picked with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers
//! each lock different rows without waiting on or retrying against each
//! other; on SQLite the one statement runs under the one write lock. Either
//! way the job is leased under the claim's token; a live worker extends its
//! leases by that token ([`Store::extend_leases`]), and if it dies, the
//! lease runs out and the job is claimed again. Completion, release and
//! failure apply only under the token that holds the job, so a worker whose
//! lease was taken over never settles the job a second time.
//! Handlers must therefore be idempotent (at-least-once delivery).

use billing::ids::{JobId, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::entities::job::{self, JobStatus};
use crate::{Store, StoreResult};

pub use job::Model as Job;

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
        lease_token: Set(None),
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

/// `select` with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent
/// claimers take disjoint rows without waiting on each other; SQLite has one
/// writer at a time and no row locks, so it stays as it is there.
pub(crate) fn skip_locked<S: QuerySelect>(select: S, backend: DbBackend) -> S {
    if backend == DbBackend::Postgres {
        select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        select
    }
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

    /// Claims up to `limit` claimable jobs for `lease`, counting an attempt
    /// on each: the most overdue queued jobs first, then jobs whose lease
    /// lapsed (their worker died). Each kind is claimed by one `UPDATE …
    /// WHERE id IN (due ids) RETURNING *` whose due ids are read in
    /// `(status, run_at)` index order, so a claim costs the same with a
    /// backlog of millions as with ten (one query with an `OR` of the two
    /// kinds sorted the whole backlog on every claim). On PostgreSQL the due
    /// ids are locked with `FOR UPDATE SKIP LOCKED`, so concurrent workers
    /// take disjoint rows without waiting; on SQLite each statement runs
    /// under the one write lock. Returned in run order, all stamped with one
    /// new `lease_token`: the claim's, which its worker's heartbeat,
    /// completion and release name.
    pub async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: u64,
    ) -> StoreResult<Vec<Job>> {
        let lease = Lease {
            token: ulid::Ulid::new().to_string(),
            until: now + lease,
        };
        let queued = Condition::all()
            .add(job::Column::Status.eq(JobStatus::Queued))
            .add(job::Column::RunAt.lte(now));
        let mut claimed = self
            .claim_where(queued, job::Column::RunAt, now, &lease, limit)
            .await?;
        let missing = limit.saturating_sub(claimed.len() as u64);
        if missing > 0 {
            let lapsed = Condition::all()
                .add(job::Column::Status.eq(JobStatus::Running))
                .add(job::Column::LockedUntil.lt(now));
            claimed.extend(
                self.claim_where(lapsed, job::Column::LockedUntil, now, &lease, missing)
                    .await?,
            );
        }
        claimed.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(claimed)
    }

    /// Leases up to `limit` jobs matching `due`, first in `order`.
    async fn claim_where(
        &self,
        due: Condition,
        order: job::Column,
        now: DateTime<Utc>,
        lease: &Lease,
        limit: u64,
    ) -> StoreResult<Vec<Job>> {
        let backend = self.db.get_database_backend();
        let mut due_ids = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(due)
            .order_by_asc(order)
            .limit(limit);
        due_ids = skip_locked(due_ids, backend);
        let mut claim = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
            .col_expr(job::Column::LockedUntil, Expr::value(lease.until))
            .col_expr(job::Column::LeaseToken, Expr::value(lease.token.clone()))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.in_subquery(due_ids.into_query()))
            .into_query();
        claim.returning_all();
        Ok(job::Entity::find()
            .from_raw_sql(backend.build(&claim))
            .all(&self.db)
            .await?)
    }

    /// Claims the most overdue claimable job, as [`Store::claim_jobs`].
    pub async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> StoreResult<Option<Job>> {
        Ok(self.claim_jobs(now, lease, 1).await?.pop())
    }

    /// Extends to `until` the lease of every job the claim `token` still
    /// holds, in one statement (a worker's heartbeat); how many it holds.
    pub async fn extend_leases(&self, token: &str, until: DateTime<Utc>) -> StoreResult<u64> {
        Ok(job::Entity::update_many()
            .col_expr(job::Column::LockedUntil, Expr::value(until))
            .filter(job::Column::LeaseToken.eq(token))
            .filter(job::Column::Status.eq(JobStatus::Running))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Marks the jobs `ids` of the claim `token` done, in one statement;
    /// a job whose lease lapsed and was claimed again is left to its new
    /// holder. How many were completed.
    pub async fn complete_jobs(
        &self,
        token: &str,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        Ok(job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Succeeded))
            .col_expr(job::Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.is_in(ids.iter().cloned()))
            .filter(held_by(token))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Hands the jobs `ids` of the claim `token` that were not started back
    /// to the queue, as if never claimed (their attempt is not counted).
    pub async fn release_jobs(
        &self,
        token: &str,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
            .col_expr(job::Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(job::Column::LeaseToken, Expr::value(None::<String>))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).sub(1),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.is_in(ids.iter().cloned()))
            .filter(held_by(token))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records a failure of a claimed job: back to the queue at `retry_at`,
    /// or failed for good when `retry_at` is `None`; nothing when its lease
    /// lapsed and another worker holds it now.
    pub async fn fail_job(
        &self,
        claimed: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut failed = job::Entity::update_many()
            .col_expr(job::Column::LockedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(job::Column::LeaseToken, Expr::value(None::<String>))
            .col_expr(job::Column::LastError, Expr::value(error.to_owned()))
            .col_expr(job::Column::UpdatedAt, Expr::value(now));
        failed = match retry_at {
            Some(at) => failed
                .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
                .col_expr(job::Column::RunAt, Expr::value(at)),
            None => failed.col_expr(job::Column::Status, Expr::value(JobStatus::Failed)),
        };
        failed
            .filter(job::Column::Id.eq(&claimed.id))
            .filter(held_by(claimed.lease_token.as_deref().unwrap_or_default()))
            .exec(&self.db)
            .await?;
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

    /// The ids of the jobs [`Self::running_jobs`] counts, in id order: a
    /// set that changes while workers make progress, even when they keep
    /// as many claimed.
    pub async fn running_job_ids(&self, now: DateTime<Utc>) -> StoreResult<Vec<String>> {
        Ok(job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::Status.eq(JobStatus::Running))
            .filter(job::Column::LockedUntil.gte(now))
            .order_by_asc(job::Column::Id)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }

    /// A job by id (operators, tests).
    pub async fn job(&self, id: &JobId) -> StoreResult<Option<Job>> {
        Ok(job::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// The tenant's queued job whose dedupe key starts with `key_prefix`
    /// (work scheduled for one thing, e.g. a subscription's change at
    /// period end), the latest first.
    pub async fn queued_job_keyed(
        &self,
        tenant_id: &TenantId,
        key_prefix: &str,
    ) -> StoreResult<Option<Job>> {
        Ok(queued_keyed(tenant_id, key_prefix)
            .order_by_desc(job::Column::CreatedAt)
            .one(&self.db)
            .await?)
    }

    /// Replaces the tenant's queued jobs keyed `key_prefix…` with `new_job`
    /// (none: withdraws them) and audits it as `action` on `target`, in one
    /// transaction; how many queued jobs were withdrawn.
    pub async fn replace_queued_jobs(
        &self,
        ctx: &crate::AuditContext,
        tenant_id: &TenantId,
        key_prefix: &str,
        new_job: Option<NewJob>,
        (action, target_type, target_id): (&str, &str, &str),
    ) -> StoreResult<u64> {
        use sea_orm::TransactionTrait;
        let txn = self.db.begin().await?;
        let withdrawn = job::Entity::delete_many()
            .filter(job::Column::TenantId.eq(tenant_id.to_string()))
            .filter(job::Column::Status.eq(JobStatus::Queued))
            .filter(job::Column::DedupeKey.starts_with(key_prefix))
            .exec(&txn)
            .await?
            .rows_affected;
        let changed = withdrawn > 0 || new_job.is_some();
        if let Some(new_job) = new_job {
            insert_job(&txn, &JobId::generate(), new_job, ctx.now).await?;
        }
        if changed {
            crate::audit::record(&txn, ctx, Some(tenant_id), action, target_type, target_id)
                .await?;
        }
        txn.commit().await?;
        Ok(withdrawn)
    }
}

/// A claim's lease: its token and when it ends unless extended.
struct Lease {
    token: String,
    until: DateTime<Utc>,
}

/// Running jobs leased under the claim `token`.
fn held_by(token: &str) -> Condition {
    Condition::all()
        .add(job::Column::LeaseToken.eq(token))
        .add(job::Column::Status.eq(JobStatus::Running))
}

/// The tenant's queued jobs keyed `key_prefix…`.
fn queued_keyed(tenant_id: &TenantId, key_prefix: &str) -> sea_orm::Select<job::Entity> {
    job::Entity::find()
        .filter(job::Column::TenantId.eq(tenant_id.to_string()))
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .filter(job::Column::DedupeKey.starts_with(key_prefix))
}
