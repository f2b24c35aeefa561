//! Typed events, as webhooks deliver them and as `GET /v1/events` lists them
//! (for reconciliation after downtime).
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use futures::TryStreamExt;
//! use stripe::{EventObject, EventType, ListEvents, RequestOptions};
//! let mut events = client.events().list(
//!     &ListEvents { types: vec!["invoice.*".into()], ..ListEvents::default() },
//!     RequestOptions::new().on_account("acct_123"),
//! );
//! while let Some(event) = events.try_next().await? {
//!     if let (EventType::InvoicePaid, EventObject::Invoice(invoice)) = (&event.event_type, &event.data.object) {
//!         println!("{} paid for {:?}", invoice.id, invoice.subscription_id());
//!     }
//! }
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Account, Charge, CheckoutSession, Client, Customer, Dispute, Error, Invoice, List, ListParams,
    PaymentIntent, PaymentMethod, Price, Product, Refund, RequestOptions, SetupIntent,
    Subscription, TestClock, json,
};

stripe_enum! {
    /// The event types a billing platform handles; others parse as `Unknown`.
    pub enum EventType {
        /// Checkout finished: link customer and subscription to the tenant's records.
        CheckoutSessionCompleted = "checkout.session.completed",
        /// Checkout expired unpaid.
        CheckoutSessionExpired = "checkout.session.expired",
        /// A delayed Checkout payment succeeded.
        CheckoutSessionAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded",
        /// A delayed Checkout payment failed.
        CheckoutSessionAsyncPaymentFailed = "checkout.session.async_payment_failed",
        /// Subscription created.
        CustomerSubscriptionCreated = "customer.subscription.created",
        /// Subscription changed (status, items, cancellation...).
        CustomerSubscriptionUpdated = "customer.subscription.updated",
        /// Subscription ended.
        CustomerSubscriptionDeleted = "customer.subscription.deleted",
        /// Trial ends in three days.
        CustomerSubscriptionTrialWillEnd = "customer.subscription.trial_will_end",
        /// Subscription paused.
        CustomerSubscriptionPaused = "customer.subscription.paused",
        /// Subscription resumed.
        CustomerSubscriptionResumed = "customer.subscription.resumed",
        /// Invoice created (draft).
        InvoiceCreated = "invoice.created",
        /// Invoice finalized.
        InvoiceFinalized = "invoice.finalized",
        /// Invoice paid (including out of band).
        InvoicePaid = "invoice.paid",
        /// Invoice payment succeeded.
        InvoicePaymentSucceeded = "invoice.payment_succeeded",
        /// Invoice payment failed (`attempt_count`, `next_payment_attempt`).
        InvoicePaymentFailed = "invoice.payment_failed",
        /// Invoice payment needs the customer (3-D Secure).
        InvoicePaymentActionRequired = "invoice.payment_action_required",
        /// An invoice is coming up.
        InvoiceUpcoming = "invoice.upcoming",
        /// Invoice written off.
        InvoiceMarkedUncollectible = "invoice.marked_uncollectible",
        /// Invoice voided.
        InvoiceVoided = "invoice.voided",
        /// Payment intent succeeded.
        PaymentIntentSucceeded = "payment_intent.succeeded",
        /// Payment intent attempt failed.
        PaymentIntentPaymentFailed = "payment_intent.payment_failed",
        /// Charge refunded (fully or partly).
        ChargeRefunded = "charge.refunded",
        /// Dispute opened.
        ChargeDisputeCreated = "charge.dispute.created",
        /// Dispute changed.
        ChargeDisputeUpdated = "charge.dispute.updated",
        /// Dispute decided.
        ChargeDisputeClosed = "charge.dispute.closed",
        /// Refund created.
        RefundCreated = "refund.created",
        /// Refund changed.
        RefundUpdated = "refund.updated",
        /// Refund failed.
        RefundFailed = "refund.failed",
        /// Customer created.
        CustomerCreated = "customer.created",
        /// Customer changed.
        CustomerUpdated = "customer.updated",
        /// Customer deleted.
        CustomerDeleted = "customer.deleted",
        /// Payment method attached to a customer.
        PaymentMethodAttached = "payment_method.attached",
        /// Payment method detached.
        PaymentMethodDetached = "payment_method.detached",
        /// Setup intent succeeded (card saved).
        SetupIntentSucceeded = "setup_intent.succeeded",
        /// Connected account changed (capabilities, requirements).
        AccountUpdated = "account.updated",
        /// A tenant disconnected the platform.
        AccountApplicationDeauthorized = "account.application.deauthorized",
        /// Application fee collected.
        ApplicationFeeCreated = "application_fee.created",
        /// Application fee refunded.
        ApplicationFeeRefunded = "application_fee.refunded",
        /// Product created.
        ProductCreated = "product.created",
        /// Product changed.
        ProductUpdated = "product.updated",
        /// Product deleted.
        ProductDeleted = "product.deleted",
        /// Price created.
        PriceCreated = "price.created",
        /// Price changed.
        PriceUpdated = "price.updated",
        /// Price deleted.
        PriceDeleted = "price.deleted",
        /// Customer entitlements changed.
        EntitlementsActiveEntitlementSummaryUpdated = "entitlements.active_entitlement_summary.updated",
        /// A test clock finished advancing.
        TestClockReady = "test_helpers.test_clock.ready",
    }
}

/// An event (`evt_...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawEvent")]
pub struct Event {
    /// Stripe's id: deliveries repeat, de-duplicate on it.
    pub id: String,
    /// What happened.
    pub event_type: EventType,
    /// When it happened, Unix seconds (not delivery order: compare object state).
    pub created: i64,
    /// The version `data` is rendered at.
    pub api_version: Option<String>,
    /// Live or test mode.
    pub livemode: bool,
    /// The connected account it happened on (Connect endpoints only).
    pub account: Option<String>,
    /// Deliveries not yet acknowledged.
    pub pending_webhooks: i64,
    /// The API request that caused it, if any.
    pub request: Option<EventRequest>,
    /// The object and what changed.
    pub data: EventData,
}

/// An event's envelope only: what ingestion needs to store and route an
/// event without typing its object (which a newer API version may change).
#[derive(Debug, Clone, Deserialize)]
pub struct EventEnvelope {
    /// Stripe's id.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When it happened, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: bool,
    /// The connected account it happened on (Connect endpoints only).
    #[serde(default)]
    pub account: Option<String>,
}

/// The request behind an event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventRequest {
    /// Its request id; `None` for automatic changes (renewals, retries).
    pub id: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
}

/// An event's payload.
#[derive(Debug, Clone)]
pub struct EventData {
    /// The object as it was when the event happened.
    pub object: EventObject,
    /// For `*.updated`: the changed fields' previous values.
    pub previous_attributes: Option<Value>,
}

/// `data.object`, typed by its `object` kind (which the event type implies),
/// or kept raw for kinds this crate does not model.
#[derive(Debug, Clone)]
pub enum EventObject {
    /// `checkout.session`.
    CheckoutSession(Box<CheckoutSession>),
    /// `subscription`.
    Subscription(Box<Subscription>),
    /// `invoice`.
    Invoice(Box<Invoice>),
    /// `payment_intent`.
    PaymentIntent(Box<PaymentIntent>),
    /// `setup_intent`.
    SetupIntent(Box<SetupIntent>),
    /// `charge`.
    Charge(Box<Charge>),
    /// `refund`.
    Refund(Box<Refund>),
    /// `dispute`.
    Dispute(Box<Dispute>),
    /// `customer`.
    Customer(Box<Customer>),
    /// `payment_method`.
    PaymentMethod(Box<PaymentMethod>),
    /// `account`.
    Account(Box<Account>),
    /// `product`.
    Product(Box<Product>),
    /// `price`.
    Price(Box<Price>),
    /// `test_helpers.test_clock`.
    TestClock(Box<TestClock>),
    /// Any other kind, untouched.
    Other(Value),
}

impl EventObject {
    /// Types `object` by its `object` field. A modelled kind that does not
    /// parse is an error, not a silent fallback.
    fn from_value(object: Value) -> Result<Self, serde_json::Error> {
        fn typed<T: serde::de::DeserializeOwned>(
            object: Value,
            wrap: fn(Box<T>) -> EventObject,
        ) -> Result<EventObject, serde_json::Error> {
            json::from_value(object).map(|typed| wrap(Box::new(typed)))
        }
        let kind = object
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "checkout.session" => typed(object, EventObject::CheckoutSession),
            "subscription" => typed(object, EventObject::Subscription),
            "invoice" => typed(object, EventObject::Invoice),
            "payment_intent" => typed(object, EventObject::PaymentIntent),
            "setup_intent" => typed(object, EventObject::SetupIntent),
            "charge" => typed(object, EventObject::Charge),
            "refund" => typed(object, EventObject::Refund),
            "dispute" => typed(object, EventObject::Dispute),
            "customer" => typed(object, EventObject::Customer),
            "payment_method" => typed(object, EventObject::PaymentMethod),
            "account" => typed(object, EventObject::Account),
            "product" => typed(object, EventObject::Product),
            "price" => typed(object, EventObject::Price),
            "test_helpers.test_clock" => typed(object, EventObject::TestClock),
            _ => Ok(EventObject::Other(object)),
        }
    }
}

/// The wire shape, before `data.object` is typed.
#[derive(Deserialize)]
struct RawEvent {
    /// See [`Event::id`].
    id: String,
    /// See [`Event::event_type`].
    #[serde(rename = "type")]
    event_type: EventType,
    /// See [`Event::created`].
    created: i64,
    /// See [`Event::api_version`].
    #[serde(default)]
    api_version: Option<String>,
    /// See [`Event::livemode`].
    #[serde(default)]
    livemode: bool,
    /// See [`Event::account`].
    #[serde(default)]
    account: Option<String>,
    /// See [`Event::pending_webhooks`].
    #[serde(default)]
    pending_webhooks: i64,
    /// See [`Event::request`].
    #[serde(default)]
    request: Option<EventRequest>,
    /// See [`Event::data`].
    data: RawEventData,
}

/// The wire shape of `data`.
#[derive(Deserialize)]
struct RawEventData {
    /// See [`EventData::object`].
    object: Value,
    /// See [`EventData::previous_attributes`].
    #[serde(default)]
    previous_attributes: Option<Value>,
}

impl TryFrom<RawEvent> for Event {
    type Error = serde_json::Error;

    fn try_from(raw: RawEvent) -> Result<Self, Self::Error> {
        Ok(Event {
            data: EventData {
                object: EventObject::from_value(raw.data.object)?,
                previous_attributes: raw.data.previous_attributes,
            },
            id: raw.id,
            event_type: raw.event_type,
            created: raw.created,
            api_version: raw.api_version,
            livemode: raw.livemode,
            account: raw.account,
            pending_webhooks: raw.pending_webhooks,
            request: raw.request,
        })
    }
}

impl_object!(Event);

/// An event as Stripe rendered it, untyped: what [`Events::list_json`] yields,
/// to be kept verbatim and typed later with [`crate::json::from_slice`].
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct EventJson(
    /// The event object, as Stripe sent it.
    pub Value,
);

impl crate::list::Object for EventJson {
    fn id(&self) -> &str {
        self.0.get("id").and_then(Value::as_str).unwrap_or_default()
    }
}

impl EventJson {
    /// The event as a webhook body, naming `account` when it was listed on a
    /// connected account and does not say so itself (as a Connect delivery would).
    pub fn into_body(mut self, account: Option<&str>) -> String {
        if let (Some(account), Value::Object(fields)) = (account, &mut self.0) {
            fields
                .entry("account")
                .or_insert_with(|| Value::String(account.to_owned()));
        }
        self.0.to_string()
    }
}

/// `GET /v1/events` filters (events are kept 30 days).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListEvents {
    /// One type, or a wildcard such as `invoice.*`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Up to 20 types (instead of `type`).
    pub types: Vec<String>,
    /// Only events whose webhooks were (not) all delivered.
    pub delivery_success: Option<bool>,
    /// Pagination and the `created` range.
    #[serde(flatten)]
    pub page: ListParams,
}

/// `client.events()`.
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Event operations.
    pub fn events(&self) -> Events<'_> {
        Events { client: self }
    }
}

impl Events<'_> {
    /// Retrieves an event (e.g. to re-fetch a webhook's event from the source).
    pub async fn retrieve(&self, id: &str, options: RequestOptions) -> Result<Event, Error> {
        self.client.get(&["events", id], &(), options).await
    }

    /// Every event matching `params`, newest first, each as Stripe's JSON
    /// (reconciliation stores it in the inbox as a delivery's body would be).
    pub fn list_json(
        &self,
        params: &ListEvents,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<EventJson, Error>> {
        self.client.paginate(&["events"], params, options)
    }

    /// One page of events as Stripe's JSON, newest first. With
    /// `page.ending_before` set to the newest event seen, it is the next
    /// events after it: how reconciliation walks forward from its cursor.
    pub async fn page_json(
        &self,
        params: &ListEvents,
        options: RequestOptions,
    ) -> Result<List<EventJson>, Error> {
        self.client.get(&["events"], params, options).await
    }

    /// Every event matching `params`, newest first.
    pub fn list(
        &self,
        params: &ListEvents,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Event, Error>> {
        self.client.paginate(&["events"], params, options)
    }
}
