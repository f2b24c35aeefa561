//! Stripe webhooks: verification, the inbox, and applying events exactly once.
//!
//! Ingestion ([`Platform::receive_webhook`]) verifies the signature on the raw
//! body, then stores the event in the inbox as `received` (one commit shared
//! by concurrent deliveries: see `ingest`); the HTTP handler answers 2xx only
//! after that commit, and does nothing else. A repeated delivery finds its
//! event id taken and changes nothing. Workers enqueue the apply jobs of
//! received events before each claim
//! ([`Platform::enqueue_received_events`]).
//!
//! Ingestion parses only the event's envelope (id, type, account, created):
//! an event whose object our types cannot read is still stored, and its
//! apply job records why (`ignored` for types Billforge does not act on,
//! `dead` with the parse error for types it does).
//!
//! The `webhook.apply` job ([`APPLY_JOB`]) dispatches the stored event by
//! type through [`Platform::apply_inbox_event`] and moves the row's status
//! with a conditional update, so an event that was applied (or ignored) is
//! never applied again. Billing-mirror events write the mirror, their domain
//! events and that status change in one transaction (a run that finds the
//! row already settled rolls its writes back), so they are applied exactly
//! once; the mirror's newer-state-wins rule makes any order converge.
//! Account events read the account's current state from Stripe instead.

use std::sync::RwLock;

use billing::ids::TenantId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::webhooks::{InboxDelivery, ReceivedEvent, Settlement};
use store::{Actor, AuditContext, Job, NewJob};
use stripe::webhook::{WebhookError, WebhookVerifier};
use stripe::{
    ApiErrorKind, CreateWebhookEndpoint, Event, EventEnvelope, EventObject, EventType,
    RequestOptions,
};

use crate::jobs::{JobError, JobFuture, JobHandlers};
use crate::{Platform, PlatformError, PlatformResult, Secret, Settings};

pub use store::webhooks::{InboxEvent, InboxStatus, WebhookSource};

/// Largest delivery accepted, in bytes; the HTTP layer stops reading there.
pub const MAX_BODY_BYTES: usize = stripe::webhook::DEFAULT_MAX_BODY_BYTES;

/// The job kind that applies one inbox event.
pub const APPLY_JOB: &str = "webhook.apply";

/// Attempts before an event whose handler keeps failing goes `dead`. With the
/// queue's back-off (30 s doubling, capped at 1 h) that is about an hour of
/// retries: long enough to ride out a Stripe or database blip, short enough
/// for an admin to notice the same day.
const APPLY_ATTEMPTS: i32 = 8;

/// The `platform_settings` key under which an endpoint Billforge registered
/// itself is remembered (id, URL and signing secret).
fn endpoint_setting_key(source: WebhookSource) -> String {
    format!("stripe_webhook_endpoint.{}", source.as_str())
}

/// Registers this module's kinds of background work.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        APPLY_JOB,
        std::sync::Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_apply_job(&job).await })
        }),
    );
}

/// The apply job's input, as [`apply_job`] writes it.
#[derive(Debug, Deserialize)]
struct ApplyPayload {
    /// The inbox row to apply (Stripe's event id).
    event_id: String,
}

/// The signing secrets each endpoint accepts right now. Configured secrets
/// are set at start; registered ones once [`Platform::ensure_webhook_endpoints`]
/// has run, hence the lock.
#[derive(Debug, Default)]
pub(crate) struct WebhookSecrets {
    /// Verifier of `POST /webhooks/stripe`, once its secrets are known.
    platform: RwLock<Option<WebhookVerifier>>,
    /// Verifier of `POST /webhooks/stripe/connect`, once its secrets are known.
    connect: RwLock<Option<WebhookVerifier>>,
}

impl WebhookSecrets {
    /// The verifiers for the secrets given in the configuration, if any.
    pub(crate) fn from_settings(settings: &Settings) -> PlatformResult<Self> {
        let verifier = |secrets: &[Secret], name: &str| {
            if secrets.is_empty() {
                return Ok(None);
            }
            WebhookVerifier::new(secrets.iter().map(Secret::expose))
                .map(Some)
                .map_err(|err| PlatformError::Internal(format!("{name}: {err}")))
        };
        Ok(Self {
            platform: RwLock::new(verifier(
                &settings.stripe_webhook_secrets,
                "STRIPE_WEBHOOK_SECRETS",
            )?),
            connect: RwLock::new(verifier(
                &settings.stripe_connect_webhook_secrets,
                "STRIPE_CONNECT_WEBHOOK_SECRETS",
            )?),
        })
    }

    fn slot(&self, source: WebhookSource) -> &RwLock<Option<WebhookVerifier>> {
        match source {
            WebhookSource::Platform => &self.platform,
            WebhookSource::Connect => &self.connect,
        }
    }

    /// Verifies a delivery to `source` as of `now` (Unix seconds) and reads
    /// its envelope.
    fn verify(
        &self,
        source: WebhookSource,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> PlatformResult<EventEnvelope> {
        let guard = self
            .slot(source)
            .read()
            .map_err(|_| PlatformError::Internal("webhook secrets lock poisoned".into()))?;
        let verifier = guard.as_ref().ok_or(PlatformError::WebhookNotConfigured)?;
        verifier
            .construct_envelope_at(signature, body, now)
            .map_err(PlatformError::WebhookRejected)
    }

    fn install(&self, source: WebhookSource, verifier: WebhookVerifier) -> PlatformResult<()> {
        *self
            .slot(source)
            .write()
            .map_err(|_| PlatformError::Internal("webhook secrets lock poisoned".into()))? =
            Some(verifier);
        Ok(())
    }
}

/// What became of a verified delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// First delivery: stored; a worker enqueues its apply job.
    Stored,
    /// The event id was already in the inbox: nothing changed.
    Duplicate,
}

/// An endpoint Billforge registered on Stripe itself. The signing secret is
/// only ever returned on creation, so it is kept with the endpoint's id.
#[derive(Serialize, Deserialize)]
struct RegisteredEndpoint {
    /// Stripe's endpoint id (`we_…`).
    id: String,
    /// The URL it delivers to, to notice a changed `PUBLIC_URL`.
    url: String,
    /// Its signing secret (`whsec_…`).
    secret: String,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The domain acted on it (for this tenant, if it concerns one).
    Applied(Option<TenantId>),
    /// Billforge does not act on this type (yet).
    Ignored,
    /// It concerns a connected account no tenant has (yet): kept pending.
    NoTenant(String),
    /// The handler settled the inbox row itself, in the transaction of its
    /// domain writes.
    Settled,
}

impl Platform {
    /// Verifies a delivery to the `source` endpoint against all its live
    /// secrets, on the raw `body`, then stores it in the inbox with its apply
    /// job in one transaction. Returns only once the event is durable.
    pub async fn receive_webhook(
        &self,
        source: WebhookSource,
        signature: Option<&str>,
        body: &[u8],
    ) -> PlatformResult<Receipt> {
        let mut now = self.now();
        let mut verified = self
            .inner
            .webhooks
            .verify(source, signature, body, now.timestamp());
        if matches!(
            &verified,
            Err(PlatformError::WebhookRejected(WebhookError::TooNew { .. }))
        ) && self.clock_is_adjustable()
        {
            // On the emulator a delivery dated ahead of this process may
            // come from an advance another process (`billforge clock
            // advance`) made a moment ago: catch up with the shared clock
            // and look again, rather than wait for the workers' refresh.
            self.refresh_clock().await?;
            now = self.now();
            verified = self
                .inner
                .webhooks
                .verify(source, signature, body, now.timestamp());
        }
        let event = verified?;
        let invalid = |reason: &str| {
            PlatformError::WebhookRejected(WebhookError::InvalidPayload(reason.to_owned()))
        };
        // Valid JSON is valid UTF-8, so this keeps the body byte for byte.
        let payload = std::str::from_utf8(body).map_err(|_| invalid("the body is not UTF-8"))?;
        let created = DateTime::<Utc>::from_timestamp(event.created, 0)
            .ok_or_else(|| invalid("`created` is not a valid time"))?;
        let received = ReceivedEvent {
            id: event.id.clone(),
            source,
            account_id: event.account.clone(),
            event_type: event.event_type.as_str().to_owned(),
            created,
            payload: payload.to_owned(),
        };
        let stored = self
            .inner
            .inbox_writer
            .store(InboxDelivery {
                event: received,
                received_at: now,
            })
            .await?;
        Ok(if stored {
            Receipt::Stored
        } else {
            Receipt::Duplicate
        })
    }

    /// Makes sure both webhook endpoints exist on Stripe, at `PUBLIC_URL` and
    /// the pinned API version, for every endpoint whose secrets are not
    /// configured: reuses the endpoint registered before (its secret is in
    /// the database), or creates it and stores its secret. `serve` calls this
    /// at start-up, before the first delivery can arrive.
    pub async fn ensure_webhook_endpoints(&self) -> PlatformResult<()> {
        for source in [WebhookSource::Platform, WebhookSource::Connect] {
            let configured = match source {
                WebhookSource::Platform => &self.settings().stripe_webhook_secrets,
                WebhookSource::Connect => &self.settings().stripe_connect_webhook_secrets,
            };
            if !configured.is_empty() {
                continue;
            }
            let secret = self.ensure_webhook_endpoint(source).await?;
            let verifier = WebhookVerifier::new([secret.expose()]).map_err(|err| {
                PlatformError::Internal(format!("Stripe returned an unusable secret: {err}"))
            })?;
            self.inner.webhooks.install(source, verifier)?;
        }
        Ok(())
    }

    /// The URL Stripe delivers `source`'s events to.
    fn webhook_url(&self, source: WebhookSource) -> String {
        let base = self.settings().public_url.trim_end_matches('/');
        match source {
            WebhookSource::Platform => format!("{base}/webhooks/stripe"),
            WebhookSource::Connect => format!("{base}/webhooks/stripe/connect"),
        }
    }

    /// One endpoint of [`Platform::ensure_webhook_endpoints`]; returns its secret.
    async fn ensure_webhook_endpoint(&self, source: WebhookSource) -> PlatformResult<Secret> {
        let key = endpoint_setting_key(source);
        let url = self.webhook_url(source);
        let stored_raw = self.store().platform_setting(&key).await?;
        let stored = stored_raw
            .as_deref()
            .and_then(|raw| serde_json::from_str::<RegisteredEndpoint>(raw).ok());
        if let Some(stored) = &stored
            && stored.url == url
            && self.endpoint_is_current(&stored.id, &url).await?
        {
            return Ok(Secret::new(stored.secret.clone()));
        }
        let params = match source {
            WebhookSource::Platform => CreateWebhookEndpoint::platform(&url, ["*"]),
            WebhookSource::Connect => CreateWebhookEndpoint::connect(&url, ["*"]),
        };
        let created = self
            .stripe()
            .webhook_endpoints()
            .create(&params, RequestOptions::new())
            .await
            .map_err(|err| stripe_failure(&format!("creating the webhook endpoint {url}"), &err))?;
        let secret = created.secret.as_ref().ok_or_else(|| {
            PlatformError::Internal("Stripe returned no secret for a new webhook endpoint".into())
        })?;
        let record = RegisteredEndpoint {
            id: created.id.clone(),
            url: url.clone(),
            secret: secret.expose().to_owned(),
        };
        let value = serde_json::to_string(&record)
            .map_err(|err| PlatformError::Internal(format!("encoding an endpoint: {err}")))?;
        let won = self
            .store()
            .swap_platform_setting(&key, stored_raw.as_deref(), &value, self.now())
            .await?;
        if !won {
            // Another instance registered at the same time and was stored
            // first: drop ours and use theirs.
            self.delete_webhook_endpoint(&created.id).await;
            let winner = self
                .store()
                .platform_setting(&key)
                .await?
                .and_then(|raw| serde_json::from_str::<RegisteredEndpoint>(&raw).ok())
                .ok_or_else(|| {
                    PlatformError::Internal(format!("the stored {key} is unreadable"))
                })?;
            return Ok(Secret::new(winner.secret));
        }
        if let Some(replaced) = stored {
            self.delete_webhook_endpoint(&replaced.id).await;
        }
        tracing::info!(endpoint = %created.id, %url, "registered the Stripe webhook endpoint");
        Ok(Secret::new(record.secret))
    }

    /// Whether the endpoint `id` still exists on Stripe, delivers to `url`,
    /// at the pinned API version, and is enabled.
    async fn endpoint_is_current(&self, id: &str, url: &str) -> PlatformResult<bool> {
        match self
            .stripe()
            .webhook_endpoints()
            .retrieve(id, RequestOptions::new())
            .await
        {
            Ok(endpoint) => Ok(endpoint.url == url
                && endpoint.api_version.as_deref() == Some(stripe::API_VERSION)
                && endpoint.status != Some(stripe::WebhookEndpointStatus::Disabled)),
            Err(err) if err.as_api().map(|api| api.kind) == Some(ApiErrorKind::NotFound) => {
                Ok(false)
            }
            Err(err) => Err(stripe_failure("checking the webhook endpoint", &err)),
        }
    }

    /// Deletes an endpoint Billforge no longer uses; a failure only costs
    /// deliveries that fail verification, so it is logged, not raised.
    async fn delete_webhook_endpoint(&self, id: &str) {
        if let Err(err) = self
            .stripe()
            .webhook_endpoints()
            .delete(id, RequestOptions::new())
            .await
            && err.as_api().map(|api| api.kind) != Some(ApiErrorKind::NotFound)
        {
            tracing::warn!(endpoint = %id, error = %err, "could not delete a replaced webhook endpoint");
        }
    }

    /// The inbox event `id`, for the admin console and tests.
    pub async fn webhook_event(&self, id: &str) -> PlatformResult<InboxEvent> {
        self.store()
            .webhook_event(id)
            .await?
            .ok_or(PlatformError::NotFound("webhook event"))
    }

    /// Inbox events in `status`, oldest first: the dead-letter view is
    /// `InboxStatus::Dead`.
    pub async fn webhook_events(
        &self,
        status: InboxStatus,
        limit: u64,
    ) -> PlatformResult<Vec<InboxEvent>> {
        Ok(self
            .store()
            .webhook_events_with_status(status, limit)
            .await?)
    }

    /// Gives a dead event a fresh set of attempts (after an admin fixed the
    /// cause): the row goes back to `pending` and its apply job is queued now.
    pub async fn retry_dead_event(
        &self,
        event_id: &str,
        ctx: &AuditContext,
    ) -> PlatformResult<InboxEvent> {
        self.store()
            .retry_dead_webhook_event(event_id, apply_job(event_id, ctx.now), ctx)
            .await?
            .ok_or(PlatformError::NotFound("dead webhook event"))
    }

    /// Enqueues the apply jobs of up to `limit` events stored since the last
    /// call, oldest first (see
    /// [`store::Store::enqueue_received_webhook_events`]); how many. Every
    /// job run calls it first, so a stored event is applied by whichever
    /// worker looks next, whichever process received it.
    pub async fn enqueue_received_events(&self, limit: u64) -> PlatformResult<usize> {
        Ok(self
            .store()
            .enqueue_received_webhook_events(limit, apply_job, self.now())
            .await?)
    }

    /// Re-runs the events kept for `account_id` before a tenant had it; the
    /// Connect onboarding calls it once it links the account to a tenant.
    pub async fn requeue_events_for_account(&self, account_id: &str) -> PlatformResult<usize> {
        let now = self.now();
        Ok(self
            .store()
            .requeue_pending_webhook_events_for_account(
                account_id,
                |event_id: &str| apply_job(event_id, now),
                now,
            )
            .await?)
    }

    /// The `webhook.apply` job: applies its event, recording the outcome on
    /// the inbox row; on the last failed attempt the row goes `dead`.
    async fn run_apply_job(&self, job: &Job) -> Result<(), JobError> {
        let payload: ApplyPayload = serde_json::from_str(&job.payload)
            .map_err(|err| JobError::Permanent(format!("bad {APPLY_JOB} payload: {err}")))?;
        let last_attempt = job.attempts >= job.max_attempts;
        self.apply_inbox_event(&payload.event_id, last_attempt)
            .await
    }

    /// Applies the inbox event `event_id` unless it already reached a final
    /// state. `last_attempt`: a failure now is final, so the row goes `dead`.
    pub async fn apply_inbox_event(
        &self,
        event_id: &str,
        last_attempt: bool,
    ) -> Result<(), JobError> {
        let row = self
            .store()
            .webhook_event(event_id)
            .await
            .map_err(|err| JobError::Retry(format!("loading the inbox event: {err}")))?
            .ok_or_else(|| JobError::Permanent(format!("no inbox event {event_id}")))?;
        if row.status.is_final() {
            return Ok(());
        }
        let outcome = match stripe::json::from_slice::<Event>(row.payload.as_bytes()) {
            Ok(event) => self.dispatch_event(&event).await,
            Err(err) if handled(&EventType::from(row.event_type.as_str())) => Err(
                JobError::Permanent(format!("the event's object does not parse: {err}")),
            ),
            Err(_) => Ok(Outcome::Ignored),
        };
        let settlement = match &outcome {
            Ok(Outcome::Settled) => return Ok(()),
            Ok(Outcome::Applied(tenant_id)) => Settlement {
                status: InboxStatus::Applied,
                tenant_id: tenant_id.clone(),
                note: None,
            },
            Ok(Outcome::Ignored) => Settlement {
                status: InboxStatus::Ignored,
                tenant_id: None,
                note: None,
            },
            Ok(Outcome::NoTenant(account)) => Settlement {
                status: InboxStatus::Pending,
                tenant_id: None,
                note: Some(format!(
                    "no tenant has the connected account {account} yet; kept until one does"
                )),
            },
            Err(err) => Settlement {
                status: if last_attempt || matches!(err, JobError::Permanent(_)) {
                    InboxStatus::Dead
                } else {
                    InboxStatus::Failed
                },
                tenant_id: None,
                note: Some(err.to_string()),
            },
        };
        let settled = self
            .store()
            .settle_webhook_event(event_id, settlement, self.now())
            .await
            .map_err(|err| JobError::Retry(format!("recording the outcome: {err}")))?;
        if !settled {
            tracing::debug!(event = %event_id, "event was settled by another run");
        }
        outcome.map(|_| ())
    }

    /// The one place an event's type decides what Billforge does with it.
    async fn dispatch_event(&self, event: &Event) -> Result<Outcome, JobError> {
        match &event.event_type {
            EventType::AccountUpdated | EventType::AccountApplicationDeauthorized => {
                self.apply_account_webhook(event).await
            }
            event_type if crate::mirror::handles(event_type) => {
                self.apply_mirror_webhook(event).await
            }
            _ => Ok(Outcome::Ignored),
        }
    }

    /// A billing-mirror event of a connected account: the tenant's mirror,
    /// the event's domain events and the inbox row's settlement commit in
    /// one transaction. Platform-account events (no `account`) concern no
    /// tenant's customers and are ignored; suspended tenants' events are
    /// applied like any other (the mirror stays true).
    async fn apply_mirror_webhook(&self, event: &Event) -> Result<Outcome, JobError> {
        let Some(account) = event.account.clone() else {
            return Ok(Outcome::Ignored);
        };
        let Some(connection) = self
            .store()
            .stripe_connection_by_account(&account)
            .await
            .map_err(|err| JobError::Retry(format!("finding the tenant: {err:?}")))?
        else {
            return Ok(Outcome::NoTenant(account));
        };
        let tenant_id = TenantId::parse(&connection.tenant_id)
            .map_err(|err| JobError::Permanent(format!("stored tenant id: {err}")))?;
        let prefetched = self.prefetch_for_event(&tenant_id, &account, event).await?;
        let retry = |doing: &'static str| {
            move |err: store::StoreError| JobError::Retry(format!("{doing}: {err}"))
        };
        let txn = self.store().begin().await.map_err(retry("opening"))?;
        let acted = self
            .write_mirror_event(&txn, &tenant_id, event, prefetched)
            .await?;
        let settlement = Settlement {
            status: if acted {
                InboxStatus::Applied
            } else {
                InboxStatus::Ignored
            },
            tenant_id: Some(tenant_id),
            note: None,
        };
        if txn
            .settle_webhook_event(&event.id, settlement, self.now())
            .await
            .map_err(retry("settling"))?
        {
            txn.commit().await.map_err(retry("committing"))?;
        } else {
            tracing::debug!(event = %event.id, "event was settled by another run; rolled back");
        }
        Ok(Outcome::Settled)
    }

    /// `account.updated` / `account.application.deauthorized`: the tenant
    /// with that connected account follows the account's *current* state,
    /// retrieved from Stripe, so stale or reordered events converge
    /// (`Platform::apply_account_state` / `disconnect_stripe` hold the rules).
    async fn apply_account_webhook(&self, event: &Event) -> Result<Outcome, JobError> {
        let account_id = event
            .account
            .clone()
            .or_else(|| match &event.data.object {
                EventObject::Account(account) => Some(account.id.clone()),
                _ => None,
            })
            .ok_or_else(|| JobError::Permanent("an account event without an account".into()))?;
        let Some(connection) = self
            .store()
            .stripe_connection_by_account(&account_id)
            .await
            .map_err(|err| JobError::Retry(format!("finding the tenant: {err:?}")))?
        else {
            return Ok(Outcome::NoTenant(account_id));
        };
        let tenant_id = TenantId::parse(&connection.tenant_id)
            .map_err(|err| JobError::Permanent(format!("stored tenant id: {err}")))?;
        let ctx = AuditContext {
            actor: Actor::system(),
            request_id: format!("webhook:{}", event.id),
            now: self.now(),
        };
        let applied = if event.event_type == EventType::AccountApplicationDeauthorized {
            self.disconnect_stripe(&account_id, &ctx).await
        } else {
            self.apply_current_account_state(&account_id, &ctx).await
        };
        match applied.map_err(|err| JobError::Retry(format!("applying to the tenant: {err:?}")))? {
            Some(_) => Ok(Outcome::Applied(Some(tenant_id))),
            None => Ok(Outcome::NoTenant(account_id)),
        }
    }
}

/// Whether Billforge acts on events of this type (an unreadable one is
/// then an error to look at, not something to ignore).
fn handled(event_type: &EventType) -> bool {
    matches!(
        event_type,
        EventType::AccountUpdated | EventType::AccountApplicationDeauthorized
    ) || crate::mirror::handles(event_type)
}

/// The `webhook.apply` job for `event_id`, keyed on it so enqueueing twice
/// yields one job.
pub(crate) fn apply_job(event_id: &str, now: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: APPLY_JOB.to_owned(),
        payload: serde_json::json!({ "event_id": event_id }).to_string(),
        tenant_id: None,
        dedupe_key: Some(format!("{APPLY_JOB}:{event_id}")),
        run_at: now,
        max_attempts: APPLY_ATTEMPTS,
    }
}

/// A failed Stripe call during set-up, as a platform error with its context.
fn stripe_failure(doing: &str, err: &stripe::Error) -> PlatformError {
    PlatformError::Internal(format!("{doing}: {err}"))
}
