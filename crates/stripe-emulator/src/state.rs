//! The emulator's whole state: objects, clock, scheduled work, idempotency
//! records and the outbox of events awaiting webhook delivery.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::store::{Scope, Store, new_id, template};

/// The API version the emulator renders (the one Billforge and the official clients pin).
pub const API_VERSION: &str = "2026-10-28.endive";

/// Events older than this are no longer listed or retrievable, as on Stripe.
pub const EVENT_RETENTION_SECS: i64 = 30 * 86_400;

/// What happens to a subscription once every retry of a renewal invoice failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FinalAction {
    /// Cancel the subscription (Stripe's default).
    #[default]
    Cancel,
    /// Mark it `unpaid` and stop invoicing.
    MarkUnpaid,
    /// Leave it `past_due`.
    LeavePastDue,
}

/// Dunning settings (the account's "retries for failed payments").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dunning {
    /// Delays after each failed attempt before the next one, in seconds; its
    /// length is the number of retries.
    pub retry_delays_secs: Vec<i64>,
    /// What to do with the subscription when the last retry fails.
    pub final_action: FinalAction,
}

impl Default for Dunning {
    fn default() -> Self {
        Dunning {
            retry_delays_secs: vec![3 * 86_400, 5 * 86_400, 7 * 86_400],
            final_action: FinalAction::Cancel,
        }
    }
}

/// Work due at a point in emulated time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Action {
    /// A subscription's period (or trial) ends: renew, or cancel at period end.
    PeriodEnd { subscription: String },
    /// A few days before a period ends: `invoice.upcoming`.
    InvoiceUpcoming { subscription: String },
    /// Three days before a trial ends.
    TrialWillEnd { subscription: String },
    /// Retry an open renewal invoice.
    RetryInvoice { invoice: String },
    /// A still-open checkout session expires.
    ExpireCheckout { session: String },
    /// An `incomplete` subscription was never paid: it expires after 23 hours.
    ExpireIncomplete { subscription: String },
}

/// A scheduled action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Account the objects live on.
    pub scope: Scope,
    /// What to do.
    pub action: Action,
}

/// A stored `Idempotency-Key` outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replay {
    /// Method and path of the first request: a key names one operation.
    pub operation: String,
    /// Parameters of the first request, compared on reuse.
    pub params: Value,
    /// Status of the first response.
    pub status: u16,
    /// Body of the first response, replayed byte for byte.
    pub body: String,
    /// When it was stored (keys are kept 24 hours).
    pub stored_at: i64,
}

/// How a test card behaves when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardBehavior {
    /// 4242…: always succeeds.
    Succeeds,
    /// 0002: declined with `generic_decline`.
    Declined,
    /// 9995: declined with `insufficient_funds`.
    InsufficientFunds,
    /// 3155: on-session charges need 3-D Secure before succeeding.
    RequiresAuthentication,
    /// 0341: attaches fine, every charge fails.
    AttachesButFails,
    /// 0259: charges succeed, then the cardholder disputes them.
    Disputed,
}

/// A pending account link (onboarding page) by its secret token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountLinkTarget {
    /// Account being onboarded.
    pub account: String,
    /// Where to go after completing onboarding.
    pub return_url: String,
    /// Where to go when the link is expired or already used.
    pub refresh_url: String,
    /// Links are short-lived.
    pub expires_at: i64,
    /// Links are single-use.
    pub used: bool,
}

/// A secret string (webhook signing secret) that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[redacted]")
    }
}

/// Everything the emulator knows, guarded by one lock.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// All Stripe objects.
    pub store: Store,
    /// Seconds added to the wall clock by `/_emulator/clock/advance`.
    pub clock_offset: i64,
    /// While jobs run (or a test-clock customer's request is served), the time they run at.
    #[serde(skip)]
    pub time_override: Option<i64>,
    /// Scheduled work per clock (`""` = the global clock, else a test clock id), in time order.
    #[serde(with = "jobs_format")]
    pub jobs: BTreeMap<String, BTreeMap<(i64, u64), Job>>,
    /// Tie-breaker keeping jobs at the same second in scheduling order.
    pub job_seq: u64,
    /// Idempotency records by `scope:key`.
    pub idempotency: HashMap<String, Replay>,
    /// Test-card behaviour of each card payment method (not part of Stripe's JSON).
    pub cards: HashMap<String, CardBehavior>,
    /// Webhook endpoint secrets by endpoint id (Stripe shows them only on creation).
    pub endpoint_secrets: HashMap<String, Redacted>,
    /// Ids of `connect=true` webhook endpoints (they receive connected accounts'
    /// events); kept here because Stripe's endpoint object has no `connect` field.
    #[serde(default)]
    pub connect_endpoints: HashSet<String>,
    /// Account links by the token in their URL.
    pub account_links: HashMap<String, AccountLinkTarget>,
    /// Checkout sessions waiting on a 3-D Secure decision: session id → card form
    /// (not persisted: card numbers stay in memory).
    #[serde(skip)]
    pub pending_authentication: HashMap<String, String>,
    /// Creation parameters of checkout sessions that completion needs
    /// (`subscription_data`, `payment_intent_data`), by session id.
    pub checkout_options: HashMap<String, Value>,
    /// Retry schedule and final action for failed renewals.
    pub dunning: Dunning,
    /// `{"id", "idempotency_key"}` of the API request being served, for events'
    /// `request` (null for hosted pages and scheduled work).
    #[serde(skip)]
    pub request: Option<Value>,
    /// Ids of the events created during the current request, to hand to the
    /// webhook sender (ids, not copies: a clock advance renewing thousands of
    /// subscriptions emits tens of thousands of events in one request).
    #[serde(skip)]
    pub outbox: Vec<String>,
}

impl State {
    /// Current emulated time (Unix seconds).
    pub fn now(&self) -> i64 {
        self.time_override
            .unwrap_or_else(|| wall_clock() + self.clock_offset)
    }

    /// The global emulator clock, ignoring any test clock in effect.
    pub fn global_now(&self) -> i64 {
        wall_clock() + self.clock_offset
    }

    /// Runs the rest of the request at a test clock's frozen time when the customer has one.
    pub fn enter_customer_time(&mut self, scope: &Scope, customer: &str) {
        if let Some(clock) = self.customer_clock(scope, customer)
            && let Some(frozen) = self
                .store
                .get(scope, &clock)
                .and_then(|clock| clock["frozen_time"].as_i64())
        {
            self.time_override = Some(frozen);
        }
    }

    /// The test clock a customer is attached to.
    pub fn customer_clock(&self, scope: &Scope, customer: &str) -> Option<String> {
        self.store
            .get(scope, customer)
            .and_then(|customer| customer["test_clock"].as_str().map(str::to_owned))
    }

    /// Schedules `action` at `at` on the customer's clock.
    pub fn schedule(&mut self, clock: Option<String>, at: i64, scope: &Scope, action: Action) {
        self.job_seq += 1;
        let seq = self.job_seq;
        self.jobs
            .entry(clock.unwrap_or_default())
            .or_default()
            .insert(
                (at, seq),
                Job {
                    scope: scope.clone(),
                    action,
                },
            );
    }

    /// Takes the earliest job on `clock` due at or before `until`.
    pub fn next_due_job(&mut self, clock: &str, until: i64) -> Option<(i64, Job)> {
        let jobs = self.jobs.get_mut(clock)?;
        let (&key, _) = jobs.iter().next().filter(|((at, _), _)| *at <= until)?;
        jobs.remove(&key).map(|job| (key.0, job))
    }

    /// Records an event (and queues its webhook deliveries).
    pub fn emit(&mut self, scope: &Scope, kind: &str, object: &Value, previous: Option<Value>) {
        let now = self.now();
        let mut event = template("event", &new_id("evt"), now);
        event["type"] = json!(kind);
        event["api_version"] = json!(API_VERSION);
        let mut data = Map::new();
        data.insert("object".into(), object.clone());
        if let Some(previous) = previous {
            data.insert("previous_attributes".into(), previous);
        }
        event["data"] = Value::Object(data);
        event["request"] = self
            .request
            .clone()
            .unwrap_or_else(|| json!({"id": null, "idempotency_key": null}));
        event["pending_webhooks"] = json!(0);
        if let Some(account) = scope {
            event["account"] = json!(account);
        }
        self.outbox
            .push(event["id"].as_str().unwrap_or_default().to_owned());
        self.store.insert(scope, event);
    }

    /// Saves an updated object and emits `<kind>.updated` with the changed top-level
    /// attributes' previous values, if anything changed.
    pub fn save_updated(&mut self, scope: &Scope, event: &str, before: &Value, after: Value) {
        let previous = changed_attributes(before, &after);
        self.store.put(scope, after.clone());
        if !previous.is_empty() {
            self.emit(scope, event, &after, Some(Value::Object(previous)));
        }
    }
}

/// Snapshot form of [`State::jobs`]: `{clock: [[at, seq, job], …]}`. JSON map
/// keys are strings, so the `(at, seq)` keys cannot be written as a map
/// (snapshots with any job scheduled failed to write).
mod jobs_format {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::Job;

    type Jobs = BTreeMap<String, BTreeMap<(i64, u64), Job>>;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Due {
        List(Vec<(i64, u64, Job)>),
        /// Earlier snapshots: only clocks with no job left could be written.
        Empty {},
    }

    pub fn serialize<S: Serializer>(jobs: &Jobs, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(jobs.iter().map(|(clock, due)| {
            let due: Vec<_> = due.iter().map(|(&(at, seq), job)| (at, seq, job)).collect();
            (clock, due)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Jobs, D::Error> {
        let clocks = BTreeMap::<String, Due>::deserialize(deserializer)?;
        Ok(clocks
            .into_iter()
            .map(|(clock, due)| {
                let due = match due {
                    Due::List(due) => due
                        .into_iter()
                        .map(|(at, seq, job)| ((at, seq), job))
                        .collect(),
                    Due::Empty {} => BTreeMap::new(),
                };
                (clock, due)
            })
            .collect())
    }
}

/// Top-level keys whose value differs, mapped to their old values.
pub fn changed_attributes(before: &Value, after: &Value) -> Map<String, Value> {
    let mut previous = Map::new();
    if let (Value::Object(old), Value::Object(new)) = (before, after) {
        for (key, value) in old {
            if new.get(key) != Some(value) {
                previous.insert(key.clone(), value.clone());
            }
        }
    }
    previous
}

/// Wall-clock Unix seconds.
pub fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut state = State::default();
        state
            .endpoint_secrets
            .insert("we_1".into(), Redacted("whsec_topsecret".into()));
        let rendered = format!("{state:?}");
        assert!(!rendered.contains("topsecret"), "{rendered}");
        assert!(rendered.contains("[redacted]"));
    }

    #[test]
    fn changed_attributes_lists_old_values_of_changed_keys_only() {
        let before = json!({"status": "active", "quantity": 1, "id": "sub_1"});
        let after = json!({"status": "past_due", "quantity": 1, "id": "sub_1"});
        assert_eq!(
            Value::Object(changed_attributes(&before, &after)),
            json!({"status": "active"})
        );
    }
}
