//! The webhook inbox: received Stripe events, stored before they are acknowledged.
//!
//! Ingestion is one insert-or-ignore of the event on its id, as `received`,
//! so a repeated delivery changes nothing and the acknowledgement waits for
//! one row's writes only. A worker then enqueues the apply jobs of received
//! events and marks them `pending` in one transaction
//! ([`Store::enqueue_received_webhook_events`]), so every stored event gets
//! exactly one job, even when the receiving process died right after its
//! commit. The apply job then moves the row's status with conditional
//! updates, so an event that reached a final state is never applied again.

use std::collections::HashSet;

use billing::ids::{JobId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use crate::entities::job::{self, JobStatus};
use crate::entities::platform_setting;
use crate::entities::webhooks::webhook_event;
use crate::jobs::{insert_job, insert_jobs, skip_locked};
use crate::{NewJob, Store, StoreResult};

pub use crate::entities::webhooks::webhook_event::{
    InboxStatus, Model as InboxEvent, WebhookSource,
};

/// A verified delivery, ready to be stored.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// Stripe's event id (`evt_…`), the inbox key.
    pub id: String,
    /// The endpoint that received it.
    pub source: WebhookSource,
    /// The connected account it happened on, for Connect events.
    pub account_id: Option<String>,
    /// Stripe's event type, as sent (unknown types included).
    pub event_type: String,
    /// When Stripe created the event.
    pub created: DateTime<Utc>,
    /// The verified body, byte for byte.
    pub payload: String,
}

/// One delivery of a group commit: the event and when it arrived.
#[derive(Debug, Clone)]
pub struct InboxDelivery {
    /// The verified event.
    pub event: ReceivedEvent,
    /// When the delivery arrived (the row's `received_at`).
    pub received_at: DateTime<Utc>,
}

/// The most payload bytes one insert statement carries on PostgreSQL: half
/// of Linux's initial 16 KiB socket send buffer, so a statement leaves in one
/// write and one segment, with room for the other columns.
const STATEMENT_BYTES: usize = 8 * 1024;

/// The payload bytes one multi-row insert may carry on `backend`. On
/// PostgreSQL, [`STATEMENT_BYTES`]: a message that leaves in more than one
/// segment has its tail held by Nagle's algorithm until the server's delayed
/// ACK, ~40 ms later (sqlx does not set TCP_NODELAY), which costs far more
/// than the extra round trips. SQLite is in-process: one statement each.
fn statement_bound(backend: sea_orm::DbBackend) -> usize {
    match backend {
        sea_orm::DbBackend::Postgres => STATEMENT_BYTES,
        _ => usize::MAX,
    }
}

/// What a job row holds besides its payload, roughly, for sizing statements.
const JOB_ROW_BYTES: usize = 256;

/// Splits `items` in order into runs whose `size` adds up to at most
/// `bound`; an item larger than that makes a run of its own.
fn size_bounded_chunks<T>(items: Vec<T>, bound: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut current_bytes = 0;
    for item in items {
        let bytes = size(&item);
        match chunks.last_mut() {
            Some(current) if current_bytes + bytes <= bound => {
                current_bytes += bytes;
                current.push(item);
            }
            _ => {
                current_bytes = bytes;
                chunks.push(vec![item]);
            }
        }
    }
    chunks
}

/// A new inbox row, received, for `event`.
fn inbox_row(event: ReceivedEvent, now: DateTime<Utc>) -> webhook_event::ActiveModel {
    webhook_event::ActiveModel {
        id: Set(event.id),
        source: Set(event.source),
        account_id: Set(event.account_id),
        tenant_id: Set(None),
        event_type: Set(event.event_type),
        created: Set(event.created),
        payload: Set(event.payload),
        status: Set(InboxStatus::Received),
        attempts: Set(0),
        last_error: Set(None),
        received_at: Set(now),
        applied_at: Set(None),
        updated_at: Set(now),
    }
}

/// The ids of events waiting for their apply job to be enqueued.
fn received_ids() -> sea_orm::Select<webhook_event::Entity> {
    webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .filter(webhook_event::Column::Status.eq(InboxStatus::Received))
}

/// What an apply attempt concluded, to record on the inbox row.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// The row's new status.
    pub status: InboxStatus,
    /// The tenant the event was found to belong to, if any.
    pub tenant_id: Option<TenantId>,
    /// Why it failed or waits; `None` clears an earlier one.
    pub note: Option<String>,
}

/// The statuses from which an event may still be (re)applied.
const OPEN: [InboxStatus; 4] = [
    InboxStatus::Received,
    InboxStatus::Pending,
    InboxStatus::Failed,
    InboxStatus::Dead,
];

impl Store {
    /// Group commit: stores a batch of deliveries as received, in one
    /// transaction of a few multi-row inserts, so a burst costs one durable
    /// commit instead of one per event. Answers, in order, whether each
    /// delivery was new (`false`: its id was already in the inbox, or earlier
    /// in the same batch). Nothing of the batch is stored unless all of it is.
    /// Their apply jobs are not written here but by a worker
    /// ([`Store::enqueue_received_webhook_events`]): the acknowledgement waits
    /// for the inbox rows only, half the writes of row and job together.
    pub async fn receive_webhook_events(
        &self,
        deliveries: Vec<InboxDelivery>,
    ) -> StoreResult<Vec<bool>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        // Only the first delivery of an id in the batch is offered to the
        // database; `ON CONFLICT DO NOTHING RETURNING id` then says which of
        // those were new, in the same round trip as the insert, whether the
        // id was stored before or by a concurrent process.
        let mut first_in_batch = HashSet::with_capacity(deliveries.len());
        let offered: Vec<bool> = deliveries
            .iter()
            .map(|delivery| first_in_batch.insert(delivery.event.id.clone()))
            .collect();
        let mut candidates = Vec::with_capacity(deliveries.len());
        let mut order = Vec::with_capacity(deliveries.len());
        for (delivery, offered) in deliveries.into_iter().zip(&offered) {
            order.push(delivery.event.id.clone());
            if *offered {
                candidates.push(delivery);
            }
        }
        let backend = self.db.get_database_backend();
        let txn = crate::begin_write(&self.db).await?;
        let mut inserted = HashSet::with_capacity(candidates.len());
        for chunk in size_bounded_chunks(candidates, statement_bound(backend), |d| {
            d.event.payload.len()
        }) {
            let rows = chunk
                .into_iter()
                .map(|delivery| inbox_row(delivery.event, delivery.received_at))
                .collect::<Vec<_>>();
            let mut insert = webhook_event::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(webhook_event::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .into_query();
            insert.returning_col(webhook_event::Column::Id);
            for row in txn.query_all_raw(backend.build(&insert)).await? {
                inserted.insert(row.try_get::<String>("", "id")?);
            }
        }
        let stored = order
            .iter()
            .zip(offered)
            .map(|(id, offered)| offered && inserted.contains(id))
            .collect();
        txn.commit().await?;
        Ok(stored)
    }

    /// Enqueues the apply jobs (`apply_job` builds one from an event id and
    /// when it was received, the job's run time, so jobs keep the events'
    /// arrival order) of up to `limit` received events, oldest first, and
    /// marks them
    /// `pending`, in one transaction; how many. Workers call it before
    /// claiming jobs. Concurrent callers take disjoint events on PostgreSQL
    /// (`FOR UPDATE SKIP LOCKED`) and take turns on SQLite; either way the
    /// jobs' dedupe keys and the conditional status change enqueue each
    /// event's job once.
    pub async fn enqueue_received_webhook_events(
        &self,
        limit: u64,
        apply_job: impl Fn(&str, DateTime<Utc>) -> NewJob,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        // Most calls find nothing: a read first, so they do not take
        // SQLite's one write lock.
        if !self.webhook_events_received().await? {
            return Ok(0);
        }
        let backend = self.db.get_database_backend();
        let oldest = skip_locked(
            received_ids()
                .column(webhook_event::Column::ReceivedAt)
                .order_by_asc(webhook_event::Column::ReceivedAt)
                .limit(limit),
            backend,
        );
        let txn = crate::begin_write(&self.db).await?;
        let events: Vec<(String, DateTime<Utc>)> = oldest.into_tuple().all(&txn).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let jobs = events
            .iter()
            .map(|(id, received_at)| (JobId::generate(), apply_job(id, *received_at), now))
            .collect();
        for chunk in size_bounded_chunks(jobs, statement_bound(backend), |(_, job, _)| {
            job.payload.len() + JOB_ROW_BYTES
        }) {
            insert_jobs(&txn, chunk).await?;
        }
        // By id alone: the rows are this transaction's (locked on
        // PostgreSQL, under the one write lock on SQLite), still received.
        // A status condition here made SQLite's planner walk the status
        // index through every received row instead of looking up the ids.
        webhook_event::Entity::update_many()
            .col_expr(
                webhook_event::Column::Status,
                Expr::value(InboxStatus::Pending),
            )
            .col_expr(webhook_event::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_event::Column::Id.is_in(events.iter().map(|(id, _)| id.clone())))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(events.len())
    }

    /// Whether any stored event still waits for its apply job to be
    /// enqueued (work for the next [`Store::enqueue_received_webhook_events`]).
    pub async fn webhook_events_received(&self) -> StoreResult<bool> {
        let any: Option<String> = received_ids().into_tuple().one(&self.db).await?;
        Ok(any.is_some())
    }

    /// An inbox event by its Stripe id.
    pub async fn webhook_event(&self, id: &str) -> StoreResult<Option<InboxEvent>> {
        Ok(webhook_event::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Inbox events in `status`, oldest first (the admin's dead-letter view).
    pub async fn webhook_events_with_status(
        &self,
        status: InboxStatus,
        limit: u64,
    ) -> StoreResult<Vec<InboxEvent>> {
        Ok(webhook_event::Entity::find()
            .filter(webhook_event::Column::Status.eq(status))
            .order_by_asc(webhook_event::Column::ReceivedAt)
            .order_by_asc(webhook_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Records an apply attempt's outcome and counts the attempt, unless the
    /// event already reached a final state (applied or ignored): then nothing
    /// changes and `false` says another run got there first.
    pub async fn settle_webhook_event(
        &self,
        id: &str,
        settlement: Settlement,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(settle(&self.db, id, settlement, now).await?)
    }

    /// Puts a dead event back to `pending` and its apply job back in the
    /// queue with fresh attempts, in one transaction. `None` when there is no
    /// dead event with this id.
    pub async fn retry_dead_webhook_event(
        &self,
        id: &str,
        apply_job: NewJob,
        ctx: &crate::AuditContext,
    ) -> StoreResult<Option<InboxEvent>> {
        let now = ctx.now;
        let txn = crate::begin_write(&self.db).await?;
        let reopened = webhook_event::Entity::update_many()
            .col_expr(
                webhook_event::Column::Status,
                Expr::value(InboxStatus::Pending),
            )
            .col_expr(webhook_event::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_event::Column::Id.eq(id))
            .filter(webhook_event::Column::Status.eq(InboxStatus::Dead))
            .exec(&txn)
            .await?
            .rows_affected;
        if reopened == 0 {
            return Ok(None);
        }
        requeue_job(&txn, apply_job, now).await?;
        let event = webhook_event::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?;
        let tenant = event
            .as_ref()
            .and_then(|event| event.tenant_id.as_deref())
            .and_then(|id| billing::ids::TenantId::parse(id).ok());
        crate::audit::record(
            &txn,
            ctx,
            tenant.as_ref(),
            "webhook_event.retried",
            "webhook_event",
            id,
        )
        .await?;
        txn.commit().await?;
        Ok(event)
    }

    /// Re-runs the apply jobs of the events kept `pending` for `account_id`
    /// (they arrived before any tenant had that account). `apply_job` builds
    /// an event's job from its id. Returns how many were requeued.
    pub async fn requeue_pending_webhook_events_for_account(
        &self,
        account_id: &str,
        apply_job: impl Fn(&str) -> NewJob,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let txn = crate::begin_write(&self.db).await?;
        let waiting: Vec<String> = webhook_event::Entity::find()
            .select_only()
            .column(webhook_event::Column::Id)
            .filter(webhook_event::Column::AccountId.eq(account_id))
            .filter(webhook_event::Column::Status.eq(InboxStatus::Pending))
            .into_tuple()
            .all(&txn)
            .await?;
        for id in &waiting {
            requeue_job(&txn, apply_job(id), now).await?;
        }
        txn.commit().await?;
        Ok(waiting.len())
    }

    /// A platform setting's value, if set.
    pub async fn platform_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(platform_setting::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
            .map(|setting| setting.value))
    }

    /// Moves the integer platform setting `key` up to `value` unless it
    /// already holds at least that, recording `audit` (action, target) in
    /// the same transaction when given; returns the value in force. Never
    /// lowers it, so two processes moving it concurrently end on the larger.
    pub async fn raise_platform_setting(
        &self,
        key: &str,
        value: i64,
        audit: Option<(&crate::AuditContext, &str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let txn = crate::begin_write(&self.db).await?;
        // Write first: on SQLite a transaction that read before writing
        // fails at once ("database is locked") when another connection
        // wrote in between, whereas a first write waits for the lock.
        insert_setting_if_absent(&txn, key, &value.to_string(), now).await?;
        let stored = platform_setting::Entity::find_by_id(key.to_owned())
            .one(&txn)
            .await?
            .and_then(|setting| setting.value.parse::<i64>().ok());
        let in_force = match stored {
            Some(stored) if stored >= value => stored,
            _ => {
                platform_setting::Entity::update_many()
                    .col_expr(
                        platform_setting::Column::Value,
                        Expr::value(value.to_string()),
                    )
                    .filter(platform_setting::Column::Key.eq(key))
                    .exec(&txn)
                    .await?;
                value
            }
        };
        if let Some((ctx, action, target)) = audit {
            crate::audit::record(&txn, ctx, None, action, "clock", target).await?;
        }
        txn.commit().await?;
        Ok(in_force)
    }

    /// Sets a platform setting to `value` only if it still holds `expected`
    /// (`None`: only if unset), so concurrent starters cannot overwrite each
    /// other. Returns whether this call's value was written.
    pub async fn swap_platform_setting(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let written = match expected {
            None => insert_setting_if_absent(&self.db, key, value, now).await?,
            Some(expected) => {
                platform_setting::Entity::update_many()
                    .col_expr(platform_setting::Column::Value, Expr::value(value))
                    .filter(platform_setting::Column::Key.eq(key))
                    .filter(platform_setting::Column::Value.eq(expected))
                    .exec(&self.db)
                    .await?
                    .rows_affected
            }
        };
        Ok(written == 1)
    }
}

/// Inserts the platform setting `key` = `value` unless `key` is set;
/// returns the rows inserted (0 or 1).
async fn insert_setting_if_absent(
    conn: &impl ConnectionTrait,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    platform_setting::Entity::insert(platform_setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(platform_setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await
}

impl crate::mirror::StoreTxn {
    /// [`Store::settle_webhook_event`] inside this transaction, so the
    /// event's domain writes and its settlement commit together; `false`
    /// (another run settled it first) tells the caller to roll back.
    pub async fn settle_webhook_event(
        &self,
        id: &str,
        settlement: Settlement,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(settle(&self.txn, id, settlement, now).await?)
    }
}

/// Moves an open inbox row to `settlement`'s status; whether it was open.
async fn settle(
    conn: &impl ConnectionTrait,
    id: &str,
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let applied_at = settlement.status.is_final().then_some(now);
    let mut update = webhook_event::Entity::update_many()
        .col_expr(
            webhook_event::Column::Status,
            Expr::value(settlement.status),
        )
        .col_expr(
            webhook_event::Column::Attempts,
            Expr::col(webhook_event::Column::Attempts).add(1),
        )
        .col_expr(
            webhook_event::Column::LastError,
            Expr::value(settlement.note),
        )
        .col_expr(webhook_event::Column::AppliedAt, Expr::value(applied_at))
        .col_expr(webhook_event::Column::UpdatedAt, Expr::value(now));
    if let Some(tenant_id) = settlement.tenant_id {
        update = update.col_expr(
            webhook_event::Column::TenantId,
            Expr::value(tenant_id.to_string()),
        );
    }
    let changed = update
        .filter(webhook_event::Column::Id.eq(id))
        .filter(webhook_event::Column::Status.is_in(OPEN))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(changed == 1)
}

/// Makes `apply_job` due now with fresh attempts: resets the finished job
/// holding its dedupe key, or enqueues it if there is none. A job already
/// queued or running is left alone; it will see the reopened event.
async fn requeue_job(
    conn: &impl ConnectionTrait,
    apply_job: NewJob,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let Some(dedupe_key) = apply_job.dedupe_key.clone() else {
        insert_job(conn, &JobId::generate(), apply_job, now).await?;
        return Ok(());
    };
    let reset = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::RunAt, Expr::value(now))
        .col_expr(
            job::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::DedupeKey.eq(dedupe_key))
        .filter(job::Column::Status.is_in([JobStatus::Succeeded, JobStatus::Failed]))
        .exec(conn)
        .await?
        .rows_affected;
    if reset == 0 {
        insert_job(conn, &JobId::generate(), apply_job, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{STATEMENT_BYTES, size_bounded_chunks};

    #[test]
    fn chunks_keep_order_stay_under_the_bound_and_isolate_oversized_items() {
        let third = STATEMENT_BYTES / 3;
        let sizes = vec![
            third,
            third,
            third,
            third,
            9 * STATEMENT_BYTES,
            1,
            STATEMENT_BYTES,
        ];
        let chunks = size_bounded_chunks(sizes.clone(), STATEMENT_BYTES, |size| *size);
        assert_eq!(
            chunks,
            vec![
                vec![third, third, third],
                vec![third],
                vec![9 * STATEMENT_BYTES],
                vec![1],
                vec![STATEMENT_BYTES],
            ]
        );
        assert_eq!(chunks.concat(), sizes);
        assert!(size_bounded_chunks(Vec::<usize>::new(), STATEMENT_BYTES, |size| *size).is_empty());
    }
}
