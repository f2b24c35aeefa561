//! Hands each recorded domain event to its consumers: the mailer, the dunning
//! engine and outbound webhooks (`billing::events` says what the events are;
//! `store::domain_events` how they are recorded).
//!
//! One `domain_event.dispatch` job per event calls every consumer in turn.
//! A consumer that fails makes the job retry, which calls every consumer
//! again, so consumers must be idempotent (each keys its own work on the
//! event id, e.g. the outbox's dedupe key).

use billing::events::DomainEvent;
use billing::ids::{DomainEventId, TenantId};
use store::Job;
use store::domain_events::{DISPATCH_JOB, DispatchPayload, StoredDomainEvent};

use crate::Platform;
use crate::jobs::{JobError, JobFuture, JobHandlers};

/// A recorded event, parsed, as consumers receive it.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    /// The event's id: the key consumers dedupe their work on.
    pub id: DomainEventId,
    /// Whose it is.
    pub tenant_id: TenantId,
    /// When it happened.
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// The event.
    pub event: DomainEvent,
}

impl RecordedEvent {
    fn from_row(row: &StoredDomainEvent) -> Result<Self, JobError> {
        let bad = |what: &str, err: &dyn std::fmt::Display| {
            JobError::Permanent(format!("stored domain event {}: {what}: {err}", row.id))
        };
        Ok(Self {
            id: DomainEventId::parse(&row.id).map_err(|err| bad("id", &err))?,
            tenant_id: TenantId::parse(&row.tenant_id).map_err(|err| bad("tenant", &err))?,
            occurred_at: row.occurred_at,
            event: row.event().map_err(|err| bad("payload", &err))?,
        })
    }
}

/// Registers the dispatch job.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        DISPATCH_JOB,
        std::sync::Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_dispatch_job(&job).await })
        }),
    );
}

impl Platform {
    async fn run_dispatch_job(&self, job: &Job) -> Result<(), JobError> {
        let payload: DispatchPayload = serde_json::from_str(&job.payload)
            .map_err(|err| JobError::Permanent(format!("bad {DISPATCH_JOB} payload: {err}")))?;
        let row = self
            .store()
            .domain_event(&payload.domain_event_id)
            .await
            .map_err(|err| JobError::Retry(format!("loading the domain event: {err}")))?
            .ok_or_else(|| {
                JobError::Permanent(format!("no domain event {}", payload.domain_event_id))
            })?;
        let recorded = RecordedEvent::from_row(&row)?;
        self.dispatch_domain_event(&recorded).await
    }

    /// Calls every consumer of `recorded`; each is idempotent. Entitlements
    /// come first, so their own event is recorded before mail goes out.
    pub async fn dispatch_domain_event(&self, recorded: &RecordedEvent) -> Result<(), JobError> {
        self.entitlements_on_domain_event(recorded).await?;
        self.dunning_on_domain_event(recorded).await?;
        self.mail_on_domain_event(recorded).await?;
        self.outbound_on_domain_event(recorded).await?;
        Ok(())
    }
}
