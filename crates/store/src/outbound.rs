//! Outbound webhook endpoints, deliveries and their log (issue #9).
//!
//! Every state change of a delivery and the job that continues it are written
//! in one transaction, so a delivery is never left without its next step:
//! a created delivery has its first job, a failed one its retry, a finished
//! one wakes the next delivery of the same endpoint and customer.

use billing::ids::{JobId, OutboundAttemptId, OutboundDeliveryId, OutboundEndpointId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain_events::{NewDomainEvent, insert_domain_event};
use crate::entities::outbound::{attempt, delivery, endpoint};
use crate::jobs::insert_job;
use crate::{AuditContext, NewJob, Store, StoreResult, TenantScope, audit};

pub use attempt::Model as OutboundAttempt;
pub use delivery::{DeliveryStatus, Model as OutboundDelivery};
pub use endpoint::{EndpointStatus, Model as OutboundEndpoint};

crate::scope::tenant_owned!(endpoint, delivery, attempt);

/// The job kind that attempts (or re-checks) one delivery.
pub const DELIVER_JOB: &str = "outbound.deliver";
/// Attempts of a deliver job before the queue gives up; the job only fails
/// on database errors (HTTP failures are the delivery's own retries).
const DELIVER_JOB_ATTEMPTS: i32 = 8;

/// The payload of a [`DELIVER_JOB`] job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DeliverPayload {
    /// The delivery to attempt.
    pub delivery_id: OutboundDeliveryId,
}

/// A new endpoint, validated by the caller.
#[derive(Clone)]
pub struct NewEndpoint {
    /// Where to POST.
    pub url: String,
    /// The merchant's label.
    pub description: Option<String>,
    /// The event types to send; empty means all.
    pub event_types: Vec<String>,
    /// The generated signing secret.
    pub secret: String,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    /// A new URL.
    pub url: Option<String>,
    /// A new label (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// A new filter.
    pub event_types: Option<Vec<String>>,
    /// Enable (clearing the failure record) or disable it.
    pub enabled: Option<bool>,
}

/// A domain event to fan out to the tenant's endpoints.
#[derive(Debug, Clone)]
pub struct OutboundEvent {
    /// The domain event id: the `webhook-id` and the dedupe key.
    pub event_id: String,
    /// Its type, matched against each endpoint's filter.
    pub event_type: String,
    /// The customer it is about (the ordering key).
    pub customer_id: Option<String>,
    /// When it happened (the ordering position).
    pub occurred_at: DateTime<Utc>,
    /// The JSON body to send.
    pub payload: String,
}

/// What one HTTP attempt gave and what follows from it, decided by the caller.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The HTTP status, if a response came.
    pub response_status: Option<i32>,
    /// The start of the response body.
    pub response_excerpt: Option<String>,
    /// The transport error, if no response came.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// `Succeeded`, `Failed` (retry at `next_attempt_at`) or `Dead`.
    pub status: DeliveryStatus,
    /// When to retry, for `Failed`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The endpoint's failure run after this attempt (`None` after a success).
    pub endpoint_failing_since: Option<DateTime<Utc>>,
    /// Set when this attempt makes the endpoint disabled: the reason and the
    /// domain event telling the merchant.
    pub disable: Option<(String, NewDomainEvent)>,
}

/// The store error for JSON that cannot be (de)serialised.
fn json_error(err: serde_json::Error) -> DbErr {
    DbErr::Custom(format!("outbound JSON: {err}"))
}

/// Enqueues a deliver job for `delivery_id` at `run_at`. Each is enqueued in
/// the transaction that makes it necessary (creation, a failed attempt, a
/// replay, the end of an earlier delivery), so no dedupe key is needed; a
/// redundant job finds the delivery finished or not due and does nothing.
async fn enqueue_deliver(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    delivery_id: &str,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let payload = serde_json::to_string(&DeliverPayload {
        delivery_id: OutboundDeliveryId::parse(delivery_id)
            .map_err(|err| DbErr::Custom(format!("delivery id {delivery_id}: {err}")))?,
    })
    .map_err(json_error)?;
    let tenant_id = TenantId::parse(tenant_id)
        .map_err(|err| DbErr::Custom(format!("tenant id {tenant_id}: {err}")))?;
    insert_job(
        conn,
        &JobId::generate(),
        NewJob {
            kind: DELIVER_JOB.to_owned(),
            payload,
            tenant_id: Some(tenant_id),
            dedupe_key: None,
            run_at,
            max_attempts: DELIVER_JOB_ATTEMPTS,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Deliveries of the same endpoint and customer as `of` that are unfinished.
fn unfinished_siblings(of: &OutboundDelivery) -> Condition {
    let customer = match &of.customer_id {
        Some(customer) => delivery::Column::CustomerId.eq(customer.as_str()),
        None => delivery::Column::CustomerId.is_null(),
    };
    Condition::all()
        .add(delivery::Column::EndpointId.eq(of.endpoint_id.as_str()))
        .add(customer)
        .add(delivery::Column::Status.is_in([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .add(delivery::Column::Id.ne(of.id.as_str()))
}

/// Whether a row sorts before (`before`) or after `of` in `(ordering_at, id)`.
fn ordered(of: &OutboundDelivery, before: bool) -> Condition {
    let (at, id) = (of.ordering_at, of.id.as_str());
    let (strictly, tie) = if before {
        (
            delivery::Column::OrderingAt.lt(at),
            delivery::Column::Id.lt(id),
        )
    } else {
        (
            delivery::Column::OrderingAt.gt(at),
            delivery::Column::Id.gt(id),
        )
    };
    Condition::any().add(strictly).add(
        Condition::all()
            .add(delivery::Column::OrderingAt.eq(at))
            .add(tie),
    )
}

/// Wakes the next unfinished delivery of `finished`'s endpoint and customer.
async fn wake_next(
    conn: &impl ConnectionTrait,
    finished: &OutboundDelivery,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if finished.customer_id.is_none() {
        return Ok(());
    }
    let next = delivery::Entity::find()
        .filter(unfinished_siblings(finished))
        .filter(ordered(finished, false))
        .order_by_asc(delivery::Column::OrderingAt)
        .order_by_asc(delivery::Column::Id)
        .one(conn)
        .await?;
    if let Some(next) = next {
        let run_at = next.next_attempt_at.unwrap_or(now).max(now);
        enqueue_deliver(conn, &next.tenant_id, &next.id, run_at, now).await?;
    }
    Ok(())
}

impl TenantScope<'_> {
    /// Stores a new endpoint.
    pub async fn create_outbound_endpoint(
        &self,
        new: NewEndpoint,
        ctx: &AuditContext,
    ) -> StoreResult<OutboundEndpoint> {
        let id = OutboundEndpointId::generate();
        let txn = crate::begin_write(self.db).await?;
        let created = endpoint::ActiveModel {
            id: Set(id.to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            url: Set(new.url),
            description: Set(new.description),
            event_types: Set(serde_json::to_string(&new.event_types).map_err(json_error)?),
            status: Set(EndpointStatus::Enabled),
            disabled_reason: Set(None),
            secret: Set(new.secret),
            previous_secret: Set(None),
            previous_secret_expires_at: Set(None),
            failing_since: Set(None),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "webhook_endpoint.created",
            "webhook_endpoint",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// The tenant's endpoints, oldest first.
    pub async fn outbound_endpoints(&self) -> StoreResult<Vec<OutboundEndpoint>> {
        Ok(self
            .find::<endpoint::Entity>()
            .order_by_asc(endpoint::Column::Id)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's endpoints; another tenant's is `None`.
    pub async fn outbound_endpoint(
        &self,
        id: &OutboundEndpointId,
    ) -> StoreResult<Option<OutboundEndpoint>> {
        Ok(self
            .find::<endpoint::Entity>()
            .filter(endpoint::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// Applies `change` to one of the tenant's endpoints inside one audited
    /// transaction; `None` when it is not this tenant's.
    async fn change_outbound_endpoint(
        &self,
        id: &OutboundEndpointId,
        action: &str,
        ctx: &AuditContext,
        change: impl FnOnce(&mut endpoint::ActiveModel) -> Result<(), DbErr>,
    ) -> StoreResult<Option<OutboundEndpoint>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self
            .find::<endpoint::Entity>()
            .filter(endpoint::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let mut row: endpoint::ActiveModel = found.into();
        change(&mut row)?;
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            action,
            "webhook_endpoint",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// Updates one of the tenant's endpoints. Enabling it forgets its failures.
    pub async fn update_outbound_endpoint(
        &self,
        id: &OutboundEndpointId,
        changes: EndpointChanges,
        ctx: &AuditContext,
    ) -> StoreResult<Option<OutboundEndpoint>> {
        self.change_outbound_endpoint(id, "webhook_endpoint.updated", ctx, |row| {
            if let Some(url) = changes.url {
                row.url = Set(url);
            }
            if let Some(description) = changes.description {
                row.description = Set(description);
            }
            if let Some(types) = changes.event_types {
                row.event_types = Set(serde_json::to_string(&types).map_err(json_error)?);
            }
            match changes.enabled {
                Some(true) => {
                    row.status = Set(EndpointStatus::Enabled);
                    row.disabled_reason = Set(None);
                    row.failing_since = Set(None);
                }
                Some(false) => {
                    row.status = Set(EndpointStatus::Disabled);
                    row.disabled_reason = Set(Some("disabled by the merchant".to_owned()));
                }
                None => {}
            }
            Ok(())
        })
        .await
    }

    /// Makes `new_secret` current; the old one stays valid until `overlap_until`.
    pub async fn rotate_outbound_secret(
        &self,
        id: &OutboundEndpointId,
        new_secret: String,
        overlap_until: DateTime<Utc>,
        ctx: &AuditContext,
    ) -> StoreResult<Option<OutboundEndpoint>> {
        self.change_outbound_endpoint(id, "webhook_endpoint.secret_rotated", ctx, |row| {
            let old = std::mem::replace(&mut row.secret, Set(new_secret));
            row.previous_secret = Set(Some(old.unwrap()));
            row.previous_secret_expires_at = Set(Some(overlap_until));
            Ok(())
        })
        .await
    }

    /// Records that a user looked at an endpoint's secret and returns the
    /// endpoint (the secret is only ever shown through this).
    pub async fn reveal_outbound_secret(
        &self,
        id: &OutboundEndpointId,
        ctx: &AuditContext,
    ) -> StoreResult<Option<OutboundEndpoint>> {
        self.change_outbound_endpoint(id, "webhook_endpoint.secret_revealed", ctx, |_| Ok(()))
            .await
    }

    /// Deletes one of the tenant's endpoints with its deliveries and log.
    pub async fn delete_outbound_endpoint(
        &self,
        id: &OutboundEndpointId,
        ctx: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = crate::begin_write(self.db).await?;
        let found = self
            .find::<endpoint::Entity>()
            .filter(endpoint::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        let deliveries = self
            .find::<delivery::Entity>()
            .filter(delivery::Column::EndpointId.eq(id.as_str()))
            .select_only()
            .column(delivery::Column::Id)
            .into_tuple::<String>()
            .all(&txn)
            .await?;
        for chunk in deliveries.chunks(500) {
            attempt::Entity::delete_many()
                .filter(attempt::Column::TenantId.eq(self.tenant_id.as_str()))
                .filter(attempt::Column::DeliveryId.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await?;
        }
        delivery::Entity::delete_many()
            .filter(delivery::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(delivery::Column::EndpointId.eq(id.as_str()))
            .exec(&txn)
            .await?;
        endpoint::Entity::delete_many()
            .filter(endpoint::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(endpoint::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "webhook_endpoint.deleted",
            "webhook_endpoint",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Creates one delivery per enabled endpoint whose filter matches `event`,
    /// each with its first job; an endpoint that already has this event gets
    /// nothing new. Returns how many were created.
    pub async fn create_outbound_deliveries(
        &self,
        event: &OutboundEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let txn = crate::begin_write(self.db).await?;
        let endpoints = self
            .find::<endpoint::Entity>()
            .filter(endpoint::Column::Status.eq(EndpointStatus::Enabled))
            .all(&txn)
            .await?;
        let mut created = 0;
        for target in endpoints {
            let types: Vec<String> =
                serde_json::from_str(&target.event_types).map_err(json_error)?;
            if !types.is_empty() && !types.contains(&event.event_type) {
                continue;
            }
            let id = OutboundDeliveryId::generate();
            if self
                .insert_delivery(&txn, &id, &target.id, event, now)
                .await?
            {
                created += 1;
            }
        }
        txn.commit().await?;
        Ok(created)
    }

    /// Inserts a pending delivery and its first job unless the endpoint has
    /// the event already; whether it was inserted.
    async fn insert_delivery(
        &self,
        conn: &impl ConnectionTrait,
        id: &OutboundDeliveryId,
        endpoint_id: &str,
        event: &OutboundEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let inserted = delivery::Entity::insert(delivery::ActiveModel {
            id: Set(id.to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            endpoint_id: Set(endpoint_id.to_owned()),
            event_id: Set(event.event_id.clone()),
            event_type: Set(event.event_type.clone()),
            customer_id: Set(event.customer_id.clone()),
            ordering_at: Set(event.occurred_at),
            payload: Set(event.payload.clone()),
            status: Set(DeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            retry_window_start: Set(now),
            last_response_status: Set(None),
            last_response_excerpt: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([delivery::Column::EndpointId, delivery::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if inserted == 0 {
            return Ok(false);
        }
        enqueue_deliver(conn, self.tenant_id.as_str(), id.as_str(), now, now).await?;
        Ok(true)
    }

    /// Creates a test delivery to one endpoint (audited); `None` when the
    /// endpoint is not this tenant's.
    pub async fn create_test_delivery(
        &self,
        endpoint_id: &OutboundEndpointId,
        event: &OutboundEvent,
        ctx: &AuditContext,
    ) -> StoreResult<Option<OutboundDelivery>> {
        let txn = crate::begin_write(self.db).await?;
        let found = self
            .find::<endpoint::Entity>()
            .filter(endpoint::Column::Id.eq(endpoint_id.as_str()))
            .one(&txn)
            .await?;
        if found.is_none() {
            return Ok(None);
        }
        let id = OutboundDeliveryId::generate();
        self.insert_delivery(&txn, &id, endpoint_id.as_str(), event, ctx.now)
            .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "webhook_endpoint.test_sent",
            "webhook_endpoint",
            endpoint_id.as_str(),
        )
        .await?;
        let created = delivery::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// The tenant's deliveries, newest first, optionally of one endpoint,
    /// older than the `starting_after` cursor; at most `limit`.
    pub async fn outbound_deliveries(
        &self,
        endpoint_id: Option<&OutboundEndpointId>,
        starting_after: Option<&OutboundDeliveryId>,
        limit: u64,
    ) -> StoreResult<Vec<OutboundDelivery>> {
        let mut query = self.find::<delivery::Entity>();
        if let Some(endpoint_id) = endpoint_id {
            query = query.filter(delivery::Column::EndpointId.eq(endpoint_id.as_str()));
        }
        if let Some(after) = starting_after {
            query = query.filter(delivery::Column::Id.lt(after.as_str()));
        }
        Ok(query
            .order_by_desc(delivery::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's deliveries; another tenant's is `None`.
    pub async fn outbound_delivery(
        &self,
        id: &OutboundDeliveryId,
    ) -> StoreResult<Option<OutboundDelivery>> {
        Ok(self
            .find::<delivery::Entity>()
            .filter(delivery::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The attempts of one of the tenant's deliveries, oldest first.
    pub async fn outbound_attempts(
        &self,
        delivery_id: &OutboundDeliveryId,
    ) -> StoreResult<Vec<OutboundAttempt>> {
        Ok(self
            .find::<attempt::Entity>()
            .filter(attempt::Column::DeliveryId.eq(delivery_id.as_str()))
            .order_by_asc(attempt::Column::Id)
            .all(self.db)
            .await?)
    }

    /// Sends a delivery again now with a fresh retry window (audited).
    pub async fn replay_outbound_delivery(
        &self,
        id: &OutboundDeliveryId,
        ctx: &AuditContext,
    ) -> StoreResult<Option<OutboundDelivery>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self
            .find::<delivery::Entity>()
            .filter(delivery::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let mut row: delivery::ActiveModel = found.into();
        row.status = Set(DeliveryStatus::Pending);
        row.attempts = Set(0);
        row.next_attempt_at = Set(Some(ctx.now));
        row.retry_window_start = Set(ctx.now);
        row.updated_at = Set(ctx.now);
        let replayed = row.update(&txn).await?;
        enqueue_deliver(&txn, self.tenant_id.as_str(), id.as_str(), ctx.now, ctx.now).await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "webhook_delivery.replayed",
            "webhook_delivery",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(replayed))
    }
}

impl Store {
    /// A delivery and its endpoint, for the deliver job (which runs without a
    /// tenant scope: the row says whose it is).
    pub async fn outbound_delivery_for_job(
        &self,
        id: &OutboundDeliveryId,
    ) -> StoreResult<Option<(OutboundDelivery, OutboundEndpoint)>> {
        let Some(found) = delivery::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let target = endpoint::Entity::find_by_id(found.endpoint_id.clone())
            .filter(endpoint::Column::TenantId.eq(found.tenant_id.as_str()))
            .one(&self.db)
            .await?;
        Ok(target.map(|target| (found, target)))
    }

    /// The earliest unfinished delivery of the same endpoint and customer
    /// that `of` must wait for, if any (deliveries without a customer are
    /// not ordered).
    pub async fn outbound_blocker(
        &self,
        of: &OutboundDelivery,
    ) -> StoreResult<Option<OutboundDelivery>> {
        if of.customer_id.is_none() {
            return Ok(None);
        }
        Ok(delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(of.tenant_id.as_str()))
            .filter(unfinished_siblings(of))
            .filter(ordered(of, true))
            .order_by_asc(delivery::Column::OrderingAt)
            .order_by_asc(delivery::Column::Id)
            .one(&self.db)
            .await?)
    }

    /// Re-checks `of` at `at` (it waits for an earlier delivery).
    pub async fn recheck_outbound_delivery(
        &self,
        of: &OutboundDelivery,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        enqueue_deliver(&self.db, &of.tenant_id, &of.id, at, now).await?;
        Ok(())
    }

    /// Marks `of` skipped (its endpoint is disabled) and wakes the next one.
    pub async fn skip_outbound_delivery(
        &self,
        of: &OutboundDelivery,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let txn = crate::begin_write(&self.db).await?;
        let mut row: delivery::ActiveModel = of.clone().into();
        row.status = Set(DeliveryStatus::Skipped);
        row.next_attempt_at = Set(None);
        row.updated_at = Set(now);
        row.update(&txn).await?;
        wake_next(&txn, of, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records one attempt of `of` and everything that follows from it, in
    /// one transaction: the log entry, the delivery's new state, its retry
    /// job or the wake-up of the next delivery, the endpoint's failure run
    /// and, when it is disabled, the domain event telling the merchant.
    pub async fn record_outbound_attempt(
        &self,
        of: &OutboundDelivery,
        record: AttemptRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<OutboundDelivery> {
        let txn = crate::begin_write(&self.db).await?;
        attempt::ActiveModel {
            id: Set(OutboundAttemptId::generate().to_string()),
            tenant_id: Set(of.tenant_id.clone()),
            delivery_id: Set(of.id.clone()),
            response_status: Set(record.response_status),
            response_excerpt: Set(record.response_excerpt.clone()),
            error: Set(record.error.clone()),
            duration_ms: Set(record.duration_ms),
            attempted_at: Set(record.attempted_at),
        }
        .insert(&txn)
        .await?;
        let attempts = of.attempts + 1;
        let mut row: delivery::ActiveModel = of.clone().into();
        row.status = Set(record.status);
        row.attempts = Set(attempts);
        row.next_attempt_at = Set(record.next_attempt_at);
        row.last_response_status = Set(record.response_status);
        row.last_response_excerpt = Set(record.response_excerpt);
        row.last_error = Set(record.error);
        row.updated_at = Set(now);
        let updated = row.update(&txn).await?;
        match record.next_attempt_at {
            Some(at) if record.status == DeliveryStatus::Failed => {
                enqueue_deliver(&txn, &of.tenant_id, &of.id, at, now).await?;
            }
            _ => wake_next(&txn, &updated, now).await?,
        }
        let mut target = endpoint::ActiveModel {
            id: Set(of.endpoint_id.clone()),
            failing_since: Set(record.endpoint_failing_since),
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some((reason, event)) = record.disable {
            target.status = Set(EndpointStatus::Disabled);
            target.disabled_reason = Set(Some(reason));
            insert_domain_event(&txn, event, now).await?;
        }
        endpoint::Entity::update_many()
            .set(target)
            .filter(endpoint::Column::Id.eq(of.endpoint_id.as_str()))
            .filter(endpoint::Column::TenantId.eq(of.tenant_id.as_str()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(updated)
    }
}
