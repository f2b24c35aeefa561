//! Domain events: recorded with the change they describe, dispatched by a job.
//!
//! Producers call [`insert_domain_event`] inside their own transaction, so an
//! event exists exactly when its change was committed; the same statement
//! group enqueues the `domain_event.dispatch` job, keyed on the event, so a
//! recorded event is always handed to its consumers, once per commit.

use billing::events::DomainEvent;
use billing::ids::{CustomerId, DomainEventId, JobId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::domain_event;
use crate::jobs::insert_job;
use crate::{NewJob, Store, StoreResult, TenantScope};

pub use domain_event::Model as StoredDomainEvent;

crate::scope::tenant_owned!(domain_event);

/// The job kind that hands a recorded event to its consumers.
pub const DISPATCH_JOB: &str = "domain_event.dispatch";
/// Attempts before a dispatch is given up (consumers are idempotent).
const DISPATCH_ATTEMPTS: i32 = 12;

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewDomainEvent {
    /// Whose customer it is about.
    pub tenant_id: TenantId,
    /// What produced it, e.g. a Stripe event id (`evt_…`) or
    /// `dunning:<invoice>:retry:2`. The kind is appended, so one cause may
    /// produce several events of different kinds but never two of one kind.
    pub cause: String,
    /// The event.
    pub event: DomainEvent,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// The payload of a [`DISPATCH_JOB`] job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DispatchPayload {
    /// The event to dispatch.
    pub domain_event_id: DomainEventId,
}

/// Records `new` on `conn` (call it inside the producer's transaction) and
/// enqueues its dispatch job. Returns the new id, or `None` when the same
/// cause and kind were recorded before (nothing is written then).
pub async fn insert_domain_event(
    conn: &impl ConnectionTrait,
    new: NewDomainEvent,
    now: DateTime<Utc>,
) -> Result<Option<DomainEventId>, DbErr> {
    let id = DomainEventId::generate();
    let kind = new.event.kind();
    let payload = serde_json::to_string(&new.event)
        .map_err(|err| DbErr::Custom(format!("serialising a domain event: {err}")))?;
    let inserted = domain_event::Entity::insert(domain_event::ActiveModel {
        id: Set(id.to_string()),
        tenant_id: Set(new.tenant_id.to_string()),
        kind: Set(kind.to_owned()),
        customer_id: Set(new.event.customer().map(|c| c.customer_id.to_string())),
        cause: Set(format!("{}#{kind}", new.cause)),
        payload: Set(payload),
        occurred_at: Set(new.occurred_at),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([domain_event::Column::TenantId, domain_event::Column::Cause])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let payload = serde_json::to_string(&DispatchPayload {
        domain_event_id: id.clone(),
    })
    .map_err(|err| DbErr::Custom(format!("serialising a dispatch payload: {err}")))?;
    insert_job(
        conn,
        &JobId::generate(),
        NewJob {
            kind: DISPATCH_JOB.to_owned(),
            payload,
            tenant_id: Some(new.tenant_id),
            dedupe_key: Some(format!("{DISPATCH_JOB}:{id}")),
            run_at: now,
            max_attempts: DISPATCH_ATTEMPTS,
        },
        now,
    )
    .await?;
    Ok(Some(id))
}

impl StoredDomainEvent {
    /// The event itself.
    pub fn event(&self) -> Result<DomainEvent, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

impl Store {
    /// Records one event on its own (producers with a transaction of their
    /// own call [`insert_domain_event`] in it instead).
    pub async fn record_domain_event(
        &self,
        new: NewDomainEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DomainEventId>> {
        Ok(insert_domain_event(&self.db, new, now).await?)
    }

    /// An event by id, for its dispatch job (which runs without a tenant
    /// scope: the row says whose it is).
    pub async fn domain_event(&self, id: &DomainEventId) -> StoreResult<Option<StoredDomainEvent>> {
        Ok(domain_event::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?)
    }
}

impl TenantScope<'_> {
    /// The tenant's events, oldest first, after `starting_after` (a cursor),
    /// optionally of one customer; at most `limit`.
    pub async fn domain_events(
        &self,
        customer: Option<&CustomerId>,
        starting_after: Option<&DomainEventId>,
        limit: u64,
    ) -> StoreResult<Vec<StoredDomainEvent>> {
        let mut query = self.find::<domain_event::Entity>();
        if let Some(customer) = customer {
            query = query.filter(domain_event::Column::CustomerId.eq(customer.as_str()));
        }
        if let Some(after) = starting_after {
            query = query.filter(domain_event::Column::Id.gt(after.as_str()));
        }
        Ok(query
            .order_by_asc(domain_event::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's events; another tenant's is `None`.
    pub async fn domain_event(&self, id: &DomainEventId) -> StoreResult<Option<StoredDomainEvent>> {
        Ok(self
            .find::<domain_event::Entity>()
            .filter(domain_event::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }
}

impl crate::Store {
    /// Every tenant's `entitlements.updated` events recorded since `since`
    /// (by id, which is time-ordered), for the processes' cache invalidation.
    pub async fn entitlement_changes_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<StoredDomainEvent>> {
        let floor =
            DomainEventId::lower_bound_at(u64::try_from(since.timestamp_millis()).unwrap_or(0));
        Ok(domain_event::Entity::find()
            .filter(domain_event::Column::Kind.eq("entitlements.updated"))
            .filter(domain_event::Column::Id.gt(floor))
            .order_by_asc(domain_event::Column::Id)
            .all(&self.db)
            .await?)
    }
}
