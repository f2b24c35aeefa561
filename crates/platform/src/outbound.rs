//! Outbound webhooks to merchants (issue #9): signed per Standard Webhooks, delivered in order per customer.
//!
//! Each domain event becomes one delivery per matching enabled endpoint; a
//! `outbound.deliver` job POSTs `{id, type, created, data}` with the
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers. Failed
//! attempts are retried with exponential backoff for three days; a delivery
//! waits while an earlier one of the same endpoint and customer is
//! unfinished; an endpoint that fails without a break is disabled and a
//! `webhook_endpoint.disabled` domain event tells the merchant.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use billing::events::DomainEvent;
use billing::ids::{OutboundDeliveryId, OutboundEndpointId, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::domain_events::NewDomainEvent;
use store::outbound::{
    AttemptRecord, DELIVER_JOB, DeliverPayload, EndpointChanges, NewEndpoint, OutboundEvent,
};
use store::{Actor, Job};

pub use store::outbound::{
    DeliveryStatus, EndpointStatus, OutboundAttempt, OutboundDelivery, OutboundEndpoint,
};

use crate::domain_events::RecordedEvent;
use crate::jobs::{JobError, JobFuture, JobHandlers};
use crate::{Platform, PlatformError, PlatformResult, RequestId, Secret};

/// The type of the event "send test event" sends (not a domain event).
pub const TEST_EVENT_TYPE: &str = "webhook_endpoint.test";
/// How long one POST may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry delay; it doubles with every failed attempt.
const FIRST_RETRY: TimeDelta = TimeDelta::seconds(30);
/// How long a delivery is retried (from creation or its last replay).
const RETRY_WINDOW: TimeDelta = TimeDelta::days(3);
/// An endpoint failing every attempt for this long is disabled.
const DISABLE_AFTER: TimeDelta = TimeDelta::days(3);
/// How long a rotated-out secret still signs.
const SECRET_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// A waiting delivery re-checks this long after its blocker's next attempt
/// (the blocker's completion wakes it sooner).
const RECHECK_SLACK: TimeDelta = TimeDelta::minutes(1);
/// How much of a response body the log keeps.
const EXCERPT_CHARS: usize = 500;
/// The longest accepted endpoint URL.
const MAX_URL_CHARS: usize = 2048;
/// The longest accepted description.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// The largest page of deliveries.
pub const MAX_PAGE: u64 = 100;

/// A just-created (or rotated) endpoint: the only time its secret is shown
/// without an audited reveal.
pub struct CreatedEndpoint {
    /// The stored endpoint.
    pub record: OutboundEndpoint,
    /// Its signing secret, `whsec_…`.
    pub secret: Secret,
}

/// What a merchant gives to create an endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    /// Where to POST (http or https).
    pub url: String,
    /// A label.
    pub description: Option<String>,
    /// Event types to send; empty sends all.
    pub event_types: Vec<String>,
}

/// What a merchant may change on an endpoint; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// A new URL.
    pub url: Option<String>,
    /// A new label (`Some(None)` or an empty string clears it).
    pub description: Option<Option<String>>,
    /// A new filter.
    pub event_types: Option<Vec<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A page of deliveries, newest first.
pub struct DeliveryPage {
    /// The deliveries.
    pub data: Vec<OutboundDelivery>,
    /// Whether older ones follow (pass the last id as `starting_after`).
    pub has_more: bool,
}

/// One delivery with its attempts, for the log.
pub struct DeliveryLog {
    /// The delivery.
    pub delivery: OutboundDelivery,
    /// Its HTTP attempts, oldest first.
    pub attempts: Vec<OutboundAttempt>,
}

/// `whsec_` and 24 random bytes in base64, the Standard Webhooks secret form.
fn new_secret() -> String {
    format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 24]>()))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `secret`.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> PlatformResult<String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|err| PlatformError::Internal(format!("stored webhook secret: {err}")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|err| PlatformError::Internal(format!("webhook secret: {err}")))?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The secrets an endpoint signs with at `now`: the current one, plus the
/// previous one during a rotation overlap.
fn signing_secrets(endpoint: &OutboundEndpoint, now: DateTime<Utc>) -> Vec<&str> {
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) = (
        endpoint.previous_secret.as_deref(),
        endpoint.previous_secret_expires_at,
    ) && until > now
    {
        secrets.push(previous);
    }
    secrets
}

/// The `webhook-signature` header: one `v1,…` per secret, space-separated.
fn signature_header(
    endpoint: &OutboundEndpoint,
    msg_id: &str,
    timestamp: DateTime<Utc>,
    body: &str,
) -> PlatformResult<String> {
    let signatures = signing_secrets(endpoint, timestamp)
        .into_iter()
        .map(|secret| sign(secret, msg_id, timestamp.timestamp(), body))
        .collect::<PlatformResult<Vec<_>>>()?;
    Ok(signatures.join(" "))
}

/// The body sent to merchants: `{id, type, created, data}`.
fn event_body(
    id: &str,
    kind: &str,
    created: DateTime<Utc>,
    data: serde_json::Value,
) -> PlatformResult<String> {
    serde_json::to_string(&serde_json::json!({
        "id": id,
        "type": kind,
        "created": created.timestamp(),
        "data": data,
    }))
    .map_err(|err| PlatformError::Internal(format!("encoding a webhook body: {err}")))
}

/// Checks a URL: absolute http(s) with a host, of a sane length.
fn valid_url(raw: &str) -> PlatformResult<String> {
    let raw = raw.trim();
    let bad = || PlatformError::invalid("url", "give an absolute http:// or https:// URL");
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(PlatformError::invalid(
            "url",
            format!("the URL is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let parsed = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(bad());
    }
    Ok(parsed.to_string())
}

/// Checks event types against the domain events' kinds, without duplicates.
fn valid_event_types(types: &[String]) -> PlatformResult<Vec<String>> {
    let mut checked: Vec<String> = Vec::new();
    for kind in types.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if !DomainEvent::KINDS.contains(&kind) {
            return Err(PlatformError::invalid(
                "event_types",
                format!(
                    "unknown event type `{kind}`; use one of: {}",
                    DomainEvent::KINDS.join(", ")
                ),
            ));
        }
        if !checked.iter().any(|k| k == kind) {
            checked.push(kind.to_owned());
        }
    }
    Ok(checked)
}

/// Checks a description; empty means none.
fn valid_description(raw: Option<String>) -> PlatformResult<Option<String>> {
    let description = raw.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(PlatformError::invalid(
            "description",
            format!("keep the description under {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(description)
}

/// Ids come from URLs: a malformed one is simply not found.
fn endpoint_id(raw: &str) -> PlatformResult<OutboundEndpointId> {
    OutboundEndpointId::parse(raw).map_err(|_| PlatformError::NotFound("webhook endpoint"))
}

/// Ids come from URLs: a malformed one is simply not found.
fn delivery_id(raw: &str) -> PlatformResult<OutboundDeliveryId> {
    OutboundDeliveryId::parse(raw).map_err(|_| PlatformError::NotFound("webhook delivery"))
}

/// The HTTP client of deliveries: a timeout, and no redirects (a 3xx is a
/// failure the merchant should fix, not something to follow blindly).
fn http_client() -> PlatformResult<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Billforge-Webhooks/1")
        .build()
        .map_err(|err| PlatformError::Internal(format!("webhook HTTP client: {err}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// The start of a response body, on a character boundary.
fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_CHARS).collect()
}

/// Registers the deliver job.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        DELIVER_JOB,
        Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_deliver_job(&job).await })
        }),
    );
}

/// A storage failure inside a job: worth retrying.
fn retry(what: &str) -> impl Fn(store::StoreError) -> JobError + '_ {
    move |err| JobError::Retry(format!("{what}: {err}"))
}

/// What one POST gave.
struct Response {
    /// The status, if a response came.
    status: Option<u16>,
    /// The start of its body.
    excerpt: Option<String>,
    /// The transport error, if none came.
    error: Option<String>,
    /// How long it took.
    duration_ms: i64,
}

impl Platform {
    /// Consumes one domain event; idempotent (a retried dispatch calls it again).
    pub(crate) async fn outbound_on_domain_event(
        &self,
        recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        let kind = recorded.event.kind();
        let value = serde_json::to_value(&recorded.event)
            .map_err(|err| JobError::Permanent(format!("encoding {}: {err}", recorded.id)))?;
        let data = value.get("data").cloned().unwrap_or_default();
        let payload = event_body(recorded.id.as_str(), kind, recorded.occurred_at, data)
            .map_err(|err| JobError::Permanent(err.to_string()))?;
        let event = OutboundEvent {
            event_id: recorded.id.to_string(),
            event_type: kind.to_owned(),
            customer_id: recorded.event.customer().map(|c| c.customer_id.to_string()),
            occurred_at: recorded.occurred_at,
            payload,
        };
        self.store()
            .scoped(&recorded.tenant_id)
            .create_outbound_deliveries(&event, self.now())
            .await
            .map_err(retry("creating outbound deliveries"))?;
        Ok(())
    }

    async fn run_deliver_job(&self, job: &Job) -> Result<(), JobError> {
        let payload: DeliverPayload = serde_json::from_str(&job.payload)
            .map_err(|err| JobError::Permanent(format!("bad {DELIVER_JOB} payload: {err}")))?;
        let Some((delivery, endpoint)) = self
            .store()
            .outbound_delivery_for_job(&payload.delivery_id)
            .await
            .map_err(retry("loading the delivery"))?
        else {
            // The endpoint was deleted with its deliveries.
            return Ok(());
        };
        let now = self.now();
        // Finished, or not due: a redundant wake-up (its own job is queued).
        if delivery.status.is_finished() || delivery.next_attempt_at.is_none_or(|at| at > now) {
            return Ok(());
        }
        if endpoint.status == EndpointStatus::Disabled {
            return self
                .store()
                .skip_outbound_delivery(&delivery, now)
                .await
                .map_err(retry("skipping the delivery"));
        }
        if let Some(blocker) = self
            .store()
            .outbound_blocker(&delivery)
            .await
            .map_err(retry("ordering the delivery"))?
        {
            let at = blocker.next_attempt_at.unwrap_or(now).max(now) + RECHECK_SLACK;
            return self
                .store()
                .recheck_outbound_delivery(&delivery, at, now)
                .await
                .map_err(retry("scheduling a re-check"));
        }
        let response = self
            .post_delivery(&delivery, &endpoint, now)
            .await
            .map_err(|err| JobError::Retry(err.to_string()))?;
        let tenant_id = TenantId::parse(&delivery.tenant_id)
            .map_err(|err| JobError::Permanent(format!("stored tenant id: {err}")))?;
        let record = decide(&tenant_id, &delivery, &endpoint, response, self.now());
        if record.disable.is_some() {
            tracing::warn!(endpoint_id = %endpoint.id, tenant_id = %endpoint.tenant_id, "outbound endpoint disabled after sustained failure");
        }
        self.store()
            .record_outbound_attempt(&delivery, record, self.now())
            .await
            .map_err(retry("recording the attempt"))?;
        Ok(())
    }

    /// POSTs `delivery` to `endpoint`, signed at `now`.
    async fn post_delivery(
        &self,
        delivery: &OutboundDelivery,
        endpoint: &OutboundEndpoint,
        now: DateTime<Utc>,
    ) -> PlatformResult<Response> {
        let signature = signature_header(endpoint, &delivery.event_id, now, &delivery.payload)?;
        let started = Instant::now();
        let sent = http_client()?
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", now.timestamp().to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                (Some(status), Some(excerpt(&body)), None)
            }
            Err(err) => (None, None, Some(excerpt(&err.without_url().to_string()))),
        };
        Ok(Response {
            status: outcome.0,
            excerpt: outcome.1,
            error: outcome.2,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// Creates an endpoint with a new secret (shown once).
    pub async fn create_outbound_endpoint(
        &self,
        tenant_id: &TenantId,
        input: EndpointInput,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<CreatedEndpoint> {
        let new = NewEndpoint {
            url: valid_url(&input.url)?,
            description: valid_description(input.description)?,
            event_types: valid_event_types(&input.event_types)?,
            secret: new_secret(),
        };
        let secret = Secret::new(new.secret.clone());
        let record = self
            .store()
            .scoped(tenant_id)
            .create_outbound_endpoint(new, &self.audit_context(actor, request_id))
            .await?;
        Ok(CreatedEndpoint { record, secret })
    }

    /// The tenant's endpoints.
    pub async fn outbound_endpoints(
        &self,
        tenant_id: &TenantId,
    ) -> PlatformResult<Vec<OutboundEndpoint>> {
        Ok(self.store().scoped(tenant_id).outbound_endpoints().await?)
    }

    /// One of the tenant's endpoints.
    pub async fn outbound_endpoint(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
    ) -> PlatformResult<OutboundEndpoint> {
        self.store()
            .scoped(tenant_id)
            .outbound_endpoint(&endpoint_id(raw_id)?)
            .await?
            .ok_or(PlatformError::NotFound("webhook endpoint"))
    }

    /// Changes one of the tenant's endpoints.
    pub async fn update_outbound_endpoint(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        patch: EndpointPatch,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<OutboundEndpoint> {
        let id = endpoint_id(raw_id)?;
        let changes = EndpointChanges {
            url: patch.url.as_deref().map(valid_url).transpose()?,
            description: patch.description.map(valid_description).transpose()?,
            event_types: patch
                .event_types
                .as_deref()
                .map(valid_event_types)
                .transpose()?,
            enabled: patch.enabled,
        };
        self.store()
            .scoped(tenant_id)
            .update_outbound_endpoint(&id, changes, &self.audit_context(actor, request_id))
            .await?
            .ok_or(PlatformError::NotFound("webhook endpoint"))
    }

    /// Deletes one of the tenant's endpoints with its delivery log.
    pub async fn delete_outbound_endpoint(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<()> {
        let deleted = self
            .store()
            .scoped(tenant_id)
            .delete_outbound_endpoint(
                &endpoint_id(raw_id)?,
                &self.audit_context(actor, request_id),
            )
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(PlatformError::NotFound("webhook endpoint"))
        }
    }

    /// Gives an endpoint a new secret (shown once); the old one keeps signing
    /// for 24 hours, so the merchant's receiver can switch without a gap.
    pub async fn rotate_outbound_secret(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<CreatedEndpoint> {
        let secret = new_secret();
        let ctx = self.audit_context(actor, request_id);
        let record = self
            .store()
            .scoped(tenant_id)
            .rotate_outbound_secret(
                &endpoint_id(raw_id)?,
                secret.clone(),
                ctx.now + SECRET_OVERLAP,
                &ctx,
            )
            .await?
            .ok_or(PlatformError::NotFound("webhook endpoint"))?;
        Ok(CreatedEndpoint {
            record,
            secret: Secret::new(secret),
        })
    }

    /// An endpoint's current secret; the reveal is audited.
    pub async fn reveal_outbound_secret(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<Secret> {
        let record = self
            .store()
            .scoped(tenant_id)
            .reveal_outbound_secret(
                &endpoint_id(raw_id)?,
                &self.audit_context(actor, request_id),
            )
            .await?
            .ok_or(PlatformError::NotFound("webhook endpoint"))?;
        Ok(Secret::new(record.secret))
    }

    /// The tenant's deliveries, newest first, optionally of one endpoint,
    /// after the `starting_after` cursor; `limit` is 1 to [`MAX_PAGE`].
    pub async fn outbound_deliveries(
        &self,
        tenant_id: &TenantId,
        endpoint: Option<&str>,
        starting_after: Option<&str>,
        limit: u64,
    ) -> PlatformResult<DeliveryPage> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(PlatformError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let scope = self.store().scoped(tenant_id);
        let endpoint = match endpoint {
            Some(raw) => {
                let id = endpoint_id(raw)?;
                scope
                    .outbound_endpoint(&id)
                    .await?
                    .ok_or(PlatformError::NotFound("webhook endpoint"))?;
                Some(id)
            }
            None => None,
        };
        let after = starting_after
            .map(|raw| {
                OutboundDeliveryId::parse(raw).map_err(|_| {
                    PlatformError::invalid("starting_after", "not a webhook delivery id")
                })
            })
            .transpose()?;
        let mut data = scope
            .outbound_deliveries(endpoint.as_ref(), after.as_ref(), limit + 1)
            .await?;
        let has_more = data.len() as u64 > limit;
        data.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(DeliveryPage { data, has_more })
    }

    /// One of the tenant's deliveries with its attempts.
    pub async fn outbound_delivery(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
    ) -> PlatformResult<DeliveryLog> {
        let id = delivery_id(raw_id)?;
        let scope = self.store().scoped(tenant_id);
        let delivery = scope
            .outbound_delivery(&id)
            .await?
            .ok_or(PlatformError::NotFound("webhook delivery"))?;
        let attempts = scope.outbound_attempts(&id).await?;
        Ok(DeliveryLog { delivery, attempts })
    }

    /// Sends one of the tenant's deliveries again, now, with a fresh retry window.
    pub async fn replay_outbound_delivery(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<OutboundDelivery> {
        self.store()
            .scoped(tenant_id)
            .replay_outbound_delivery(
                &delivery_id(raw_id)?,
                &self.audit_context(actor, request_id),
            )
            .await?
            .ok_or(PlatformError::NotFound("webhook delivery"))
    }

    /// Sends a `webhook_endpoint.test` event to one enabled endpoint.
    pub async fn send_outbound_test(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<OutboundDelivery> {
        let endpoint = self.outbound_endpoint(tenant_id, raw_id).await?;
        if endpoint.status == EndpointStatus::Disabled {
            return Err(PlatformError::invalid(
                "endpoint",
                "enable the endpoint before sending a test event",
            ));
        }
        let ctx = self.audit_context(actor, request_id);
        let event_id = format!("evt_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let data = serde_json::json!({
            "endpoint_id": endpoint.id,
            "message": "a test event sent from Billforge",
        });
        let event = OutboundEvent {
            payload: event_body(&event_id, TEST_EVENT_TYPE, ctx.now, data)?,
            event_id,
            event_type: TEST_EVENT_TYPE.to_owned(),
            customer_id: None,
            occurred_at: ctx.now,
        };
        self.store()
            .scoped(tenant_id)
            .create_test_delivery(&endpoint_id(raw_id)?, &event, &ctx)
            .await?
            .ok_or(PlatformError::NotFound("webhook endpoint"))
    }
}

/// What follows from one attempt's `response` at `now`: success, a retry
/// with the doubled delay, or dead at the end of the retry window; and
/// whether the endpoint has now failed long enough to be disabled (every
/// attempt for [`DISABLE_AFTER`], or a whole retry window of this delivery
/// with no success in between).
fn decide(
    tenant_id: &TenantId,
    delivery: &OutboundDelivery,
    endpoint: &OutboundEndpoint,
    response: Response,
    now: DateTime<Utc>,
) -> AttemptRecord {
    let succeeded = response.status.is_some_and(|s| (200..300).contains(&s));
    let mut record = AttemptRecord {
        response_status: response.status.map(i32::from),
        response_excerpt: response.excerpt,
        error: response.error,
        duration_ms: response.duration_ms,
        attempted_at: now,
        status: DeliveryStatus::Succeeded,
        next_attempt_at: None,
        endpoint_failing_since: None,
        disable: None,
    };
    if succeeded {
        return record;
    }
    let attempts = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
    let delay = FIRST_RETRY * 2_i32.saturating_pow(attempts.saturating_sub(1).min(20));
    let next = now + delay;
    let failing_since = endpoint.failing_since.unwrap_or(now).min(now);
    record.endpoint_failing_since = Some(failing_since);
    let dead = next > delivery.retry_window_start + RETRY_WINDOW;
    if dead {
        record.status = DeliveryStatus::Dead;
    } else {
        record.status = DeliveryStatus::Failed;
        record.next_attempt_at = Some(next);
    }
    let sustained = now - failing_since >= DISABLE_AFTER
        || (dead && failing_since <= delivery.retry_window_start);
    if sustained && endpoint.status == EndpointStatus::Enabled {
        let last = match (response.status, &record.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no response".to_owned(),
        };
        let reason = format!(
            "every delivery attempt has failed since {} (last: {last})",
            failing_since.format("%Y-%m-%d %H:%M UTC")
        );
        let event = NewDomainEvent {
            tenant_id: tenant_id.clone(),
            cause: format!(
                "outbound:{}:disabled:{}",
                endpoint.id,
                failing_since.timestamp_millis()
            ),
            event: DomainEvent::WebhookEndpointDisabled {
                endpoint_id: endpoint.id.clone(),
                url: endpoint.url.clone(),
                reason: reason.clone(),
            },
            occurred_at: now,
        };
        record.disable = Some((reason, event));
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_whsec_base64_of_24_bytes() {
        let secret = new_secret();
        let raw = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(raw.len(), 24);
        assert_ne!(secret, new_secret());
    }

    #[test]
    fn rejects_unknown_event_types_and_bad_urls() {
        let twice = ["invoice.paid".to_owned(), "invoice.paid".to_owned()];
        assert_eq!(valid_event_types(&twice).unwrap(), ["invoice.paid"]);
        let unknown = ["invoice.nope".to_owned()];
        assert_eq!(
            valid_event_types(&unknown).unwrap_err().code(),
            "invalid_request"
        );
        assert!(valid_url("ftp://example.com").is_err());
        assert!(valid_url("not a url").is_err());
        assert!(valid_url("https://example.com/hook").is_ok());
    }
}
