//! Webhook delivery: events go to every matching endpoint, signed exactly as
//! Stripe signs them, in creation order, retried with backoff while failing.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::state::{API_VERSION, Redacted, State, wall_clock};

/// One attempt to deliver one event to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Endpoint URL.
    pub url: String,
    /// Endpoint signing secret (redacted in `Debug`).
    pub secret: Redacted,
    /// The exact bytes signed and sent.
    pub body: Vec<u8>,
    /// Event id, for logs.
    pub event: String,
    /// Attempts made so far.
    pub attempt: u32,
    /// The emulator clock's offset from the wall clock when the event was sent:
    /// signatures carry emulated time, so a receiver whose clock advances with
    /// the emulator's (Billforge) accepts them within its tolerance.
    pub clock_offset: i64,
}

/// How failing deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay before the first retry; doubles with each attempt.
    pub first_delay: Duration,
    /// Attempts in total before giving up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_attempts: 8,
        }
    }
}

/// How many deliveries are queued, in flight or waiting for a retry: counted
/// up when an event is handed to the sender (under the state lock, so before
/// the request that caused it answers) and down when it is delivered or given
/// up. Zero means every event so far has reached its endpoints, which is what
/// a receiver stepping time with the emulator waits for
/// (`GET /_emulator/webhooks`).
pub type PendingDeliveries = Arc<AtomicUsize>;

/// Turns the request's new events into deliveries for the matching endpoints.
/// Platform events go to ordinary endpoints; connected accounts' events (they
/// carry `account`) go to `connect=true` endpoints.
pub fn dispatch(
    state: &mut State,
    sender: &UnboundedSender<Delivery>,
    pending: &PendingDeliveries,
) {
    let events = std::mem::take(&mut state.outbox);
    let endpoints: Vec<Value> = state
        .store
        .iter_kind(&None, "webhook_endpoint")
        .filter(|endpoint| endpoint["status"] == "enabled")
        .map(Cow::into_owned)
        .collect();
    if endpoints.is_empty() {
        return;
    }
    for id in &events {
        // One event parsed at a time: the outbox may hold tens of thousands.
        let Some(event) = state.store.get_any(id).map(|stored| stored.value()) else {
            continue;
        };
        let connected = event.get("account").is_some();
        let kind = event["type"].as_str().unwrap_or_default();
        for endpoint in &endpoints {
            let wants = endpoint["enabled_events"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|enabled| enabled == "*" || enabled == kind);
            let id = endpoint["id"].as_str().unwrap_or_default();
            if !wants || state.connect_endpoints.contains(id) != connected {
                continue;
            }
            let Some(secret) = state.endpoint_secrets.get(id) else {
                continue;
            };
            let mut rendered = event.clone().into_owned();
            rendered["api_version"] =
                json!(endpoint["api_version"].as_str().unwrap_or(API_VERSION));
            rendered["pending_webhooks"] = json!(1);
            let delivery = Delivery {
                url: endpoint["url"].as_str().unwrap_or_default().to_owned(),
                secret: secret.clone(),
                body: rendered.to_string().into_bytes(),
                event: event["id"].as_str().unwrap_or_default().to_owned(),
                attempt: 0,
                clock_offset: state.clock_offset,
            };
            if sender.send(delivery).is_ok() {
                pending.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// Sends deliveries, at most `concurrency` at once, and schedules retries of
/// failures with exponential backoff. With one at a time (the default) first
/// attempts arrive in event order; Stripe itself promises no order and sends
/// many at once, which a billing day of thousands of renewals needs.
pub async fn run_sender(
    mut queue: UnboundedReceiver<Delivery>,
    retry_to: UnboundedSender<Delivery>,
    policy: RetryPolicy,
    pending: PendingDeliveries,
    concurrency: usize,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    // Fair: slots are handed out in the order deliveries were taken.
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    while let Some(delivery) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (client, retry_to, pending) = (client.clone(), retry_to.clone(), pending.clone());
        tokio::spawn(async move {
            deliver(&client, delivery, &retry_to, policy, &pending).await;
            drop(slot);
        });
    }
}

/// One attempt of `delivery`; a failure goes back to the queue after its
/// backoff, or is given up after the last attempt.
async fn deliver(
    client: &reqwest::Client,
    mut delivery: Delivery,
    retry_to: &UnboundedSender<Delivery>,
    policy: RetryPolicy,
    pending: &PendingDeliveries,
) {
    let timestamp = wall_clock() + delivery.clock_offset;
    let signature =
        stripe::webhook::signature_header(&[delivery.secret.0.as_str()], timestamp, &delivery.body);
    let result = client
        .post(&delivery.url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", signature)
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(delivery.body.clone())
        .send()
        .await;
    let delivered = matches!(&result, Ok(response) if response.status().is_success());
    delivery.attempt += 1;
    if delivered {
        pending.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tracing::info!(event = %delivery.event, url = %delivery.url, attempt = delivery.attempt, "webhook delivery failed");
    if delivery.attempt >= policy.max_attempts {
        pending.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let delay = policy.first_delay * 2u32.saturating_pow(delivery.attempt - 1);
    let retry_to = retry_to.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = retry_to.send(delivery);
    });
}
