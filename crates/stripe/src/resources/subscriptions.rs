//! Subscriptions: create, change price or quantity (with proration), cancel at
//! period end or now, resume.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{ProrationBehavior, RequestOptions, SubscriptionItemParams, UpdateSubscription};
//! let on_tenant = || RequestOptions::new().on_account("acct_123");
//! let subscription = client.subscriptions().retrieve("sub_123", &Default::default(), on_tenant()).await?;
//! let item = &subscription.items.data[0];
//! println!("paid until {}", item.current_period_end);
//! client
//!     .subscriptions()
//!     .update(
//!         &subscription.id,
//!         &UpdateSubscription {
//!             items: vec![SubscriptionItemParams {
//!                 id: Some(item.id.clone()),
//!                 price: Some("price_pro".into()),
//!                 ..SubscriptionItemParams::default()
//!             }],
//!             proration_behavior: Some(ProrationBehavior::AlwaysInvoice),
//!             ..UpdateSubscription::default()
//!         },
//!         on_tenant().idempotency_key("plan-change:chg_01J..."),
//!     )
//!     .await?;
//! client.subscriptions().cancel_at_period_end(&subscription.id, true, on_tenant()).await?;
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize, Serializer};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Client, Customer, Error, Expand, Expandable, Invoice, List, ListParams, Metadata,
    PaymentMethod, Percent, Price, RequestOptions,
};

stripe_enum! {
    /// Where a subscription stands (see the shared README's billing semantics).
    pub enum SubscriptionStatus {
        /// First payment not made yet.
        Incomplete = "incomplete",
        /// First payment never made within 23 h.
        IncompleteExpired = "incomplete_expired",
        /// In a free trial.
        Trialing = "trialing",
        /// Paid up.
        Active = "active",
        /// A renewal failed; retries pending.
        PastDue = "past_due",
        /// Retries exhausted; invoices stay open.
        Unpaid = "unpaid",
        /// Ended.
        Canceled = "canceled",
        /// Trial ended without a payment method.
        Paused = "paused",
    }
}

stripe_enum! {
    /// How a plan change is billed.
    pub enum ProrationBehavior {
        /// Prorations are added to the next invoice (Stripe's default).
        CreateProrations = "create_prorations",
        /// Prorations are invoiced immediately.
        AlwaysInvoice = "always_invoice",
        /// No proration.
        None = "none",
    }
}

stripe_enum! {
    /// What happens when the first payment needs action or fails.
    pub enum PaymentBehavior {
        /// Create the subscription `incomplete` and let the customer pay (Checkout/Elements).
        DefaultIncomplete = "default_incomplete",
        /// Create it `incomplete` when payment fails.
        AllowIncomplete = "allow_incomplete",
        /// Fail the request when payment fails.
        ErrorIfIncomplete = "error_if_incomplete",
        /// Apply the update only once paid.
        PendingIfIncomplete = "pending_if_incomplete",
    }
}

/// A subscription (`sub_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Subscription {
    /// Stripe's id.
    pub id: String,
    /// Who pays.
    pub customer: Option<Expandable<Customer>>,
    /// Where it stands.
    pub status: Option<SubscriptionStatus>,
    /// What is subscribed to; each item carries its own current period.
    pub items: List<SubscriptionItem>,
    /// Whether it ends at the end of the current period.
    pub cancel_at_period_end: bool,
    /// When it is scheduled to end, Unix seconds.
    pub cancel_at: Option<i64>,
    /// When cancellation was requested, Unix seconds.
    pub canceled_at: Option<i64>,
    /// When it ended, Unix seconds.
    pub ended_at: Option<i64>,
    /// Trial start, Unix seconds.
    pub trial_start: Option<i64>,
    /// Trial end, Unix seconds.
    pub trial_end: Option<i64>,
    /// When billing started (or starts), Unix seconds.
    pub start_date: i64,
    /// Anchor of the billing periods, Unix seconds.
    pub billing_cycle_anchor: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// The most recent invoice (expand it to read its status and amounts).
    pub latest_invoice: Option<Expandable<Invoice>>,
    /// Payment method for renewals, overriding the customer's default.
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
    /// The platform's cut of each invoice.
    pub application_fee_percent: Option<Percent>,
    /// `charge_automatically` or `send_invoice`.
    pub collection_method: Option<String>,
    /// Set when collection is paused.
    pub pause_collection: Option<PauseCollection>,
    /// Why it was cancelled.
    pub cancellation_details: Option<CancellationDetails>,
    /// Our own keys.
    pub metadata: Metadata,
    /// The test clock driving it (test mode).
    pub test_clock: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

impl Subscription {
    /// The earliest period end among the items: when the subscription renews.
    pub fn current_period_end(&self) -> Option<i64> {
        self.items
            .data
            .iter()
            .map(|item| item.current_period_end)
            .min()
    }
}

/// One price on a subscription (`si_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SubscriptionItem {
    /// Stripe's id, needed to change this item's price or quantity.
    pub id: String,
    /// The price.
    pub price: Price,
    /// Quantity (seats).
    pub quantity: Option<u64>,
    /// Start of the paid period, Unix seconds (moved here from the subscription).
    pub current_period_start: i64,
    /// End of the paid period, Unix seconds.
    pub current_period_end: i64,
    /// The subscription it belongs to.
    pub subscription: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// Paused collection.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PauseCollection {
    /// `keep_as_draft`, `mark_uncollectible` or `void`.
    pub behavior: Option<String>,
    /// When collection resumes, Unix seconds.
    pub resumes_at: Option<i64>,
}

/// Why a subscription was cancelled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CancellationDetails {
    /// `cancellation_requested`, `payment_failed`, `payment_disputed`.
    pub reason: Option<String>,
    /// The customer's feedback choice.
    pub feedback: Option<String>,
    /// Free-text comment.
    pub comment: Option<String>,
}

/// A trial end: a time, or `now` to end the trial immediately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialEnd {
    /// End the trial now.
    Now,
    /// End the trial at this Unix time.
    At(i64),
}

impl Serialize for TrialEnd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TrialEnd::Now => serializer.serialize_str("now"),
            TrialEnd::At(at) => serializer.serialize_i64(*at),
        }
    }
}

/// `items[n][...]` when creating or updating a subscription.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionItemParams {
    /// The existing item to change (update only).
    pub id: Option<String>,
    /// The (new) price.
    pub price: Option<String>,
    /// The (new) quantity.
    pub quantity: Option<u64>,
    /// Remove the item (update only).
    pub deleted: Option<bool>,
    /// Our own keys on the item.
    pub metadata: Metadata,
}

/// `POST /v1/subscriptions`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateSubscription {
    /// Who pays.
    pub customer: String,
    /// Prices and quantities.
    pub items: Vec<SubscriptionItemParams>,
    /// Free trial length.
    pub trial_period_days: Option<u32>,
    /// Or an explicit trial end.
    pub trial_end: Option<TrialEnd>,
    /// Payment method for renewals.
    pub default_payment_method: Option<String>,
    /// What to do when the first payment is not immediate.
    pub payment_behavior: Option<PaymentBehavior>,
    /// Proration of the first period.
    pub proration_behavior: Option<ProrationBehavior>,
    /// End at the end of the first period.
    pub cancel_at_period_end: Option<bool>,
    /// The platform's cut of each invoice.
    pub application_fee_percent: Option<Percent>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Fields to expand (e.g. `latest_invoice`).
    pub expand: Vec<String>,
}

/// `POST /v1/subscriptions/:id`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateSubscription {
    /// Items to change, add (no `id`) or remove (`deleted`).
    pub items: Vec<SubscriptionItemParams>,
    /// How the change is billed.
    pub proration_behavior: Option<ProrationBehavior>,
    /// Bill the proration as of this Unix time (use the preview's time).
    pub proration_date: Option<i64>,
    /// Cancel at (`true`) or stop cancelling at (`false`) the period end.
    pub cancel_at_period_end: Option<bool>,
    /// Change or end the trial.
    pub trial_end: Option<TrialEnd>,
    /// Payment method for renewals.
    pub default_payment_method: Option<String>,
    /// What to do when the change needs a payment that is not immediate.
    pub payment_behavior: Option<PaymentBehavior>,
    /// Keys to set (an empty value removes a key).
    pub metadata: Metadata,
    /// Fields to expand.
    pub expand: Vec<String>,
}

/// `DELETE /v1/subscriptions/:id`: cancel now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CancelSubscription {
    /// Invoice outstanding usage and prorations now.
    pub invoice_now: Option<bool>,
    /// Credit the unused time.
    pub prorate: Option<bool>,
}

/// `POST /v1/subscriptions/:id/resume`: resume a paused subscription.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResumeSubscription {
    /// `now` (restart the period) or `unchanged`.
    pub billing_cycle_anchor: Option<String>,
    /// How the resumption is billed.
    pub proration_behavior: Option<ProrationBehavior>,
}

/// `GET /v1/subscriptions` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListSubscriptions {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only with this price.
    pub price: Option<String>,
    /// `all` to include cancelled ones (default: all but cancelled), or one status.
    pub status: Option<String>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

impl_object!(Subscription, SubscriptionItem);

/// `client.subscriptions()`.
#[derive(Debug, Clone, Copy)]
pub struct Subscriptions<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Subscription operations.
    pub fn subscriptions(&self) -> Subscriptions<'_> {
        Subscriptions { client: self }
    }
}

impl Subscriptions<'_> {
    /// Creates a subscription.
    pub async fn create(
        &self,
        params: &CreateSubscription,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        self.client.post(&["subscriptions"], params, options).await
    }

    /// Retrieves a subscription.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        self.client
            .get(&["subscriptions", id], expand, options)
            .await
    }

    /// Changes price, quantity, trial or cancellation.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdateSubscription,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        self.client
            .post(&["subscriptions", id], params, options)
            .await
    }

    /// Schedules (`true`) or withdraws (`false`) cancellation at the period end.
    pub async fn cancel_at_period_end(
        &self,
        id: &str,
        cancel: bool,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        let params = UpdateSubscription {
            cancel_at_period_end: Some(cancel),
            ..UpdateSubscription::default()
        };
        self.update(id, &params, options).await
    }

    /// Cancels now.
    pub async fn cancel(
        &self,
        id: &str,
        params: &CancelSubscription,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        self.client
            .delete(&["subscriptions", id], params, options)
            .await
    }

    /// Resumes a paused subscription.
    pub async fn resume(
        &self,
        id: &str,
        params: &ResumeSubscription,
        options: RequestOptions,
    ) -> Result<Subscription, Error> {
        self.client
            .post(&["subscriptions", id, "resume"], params, options)
            .await
    }

    /// Every subscription matching `params`.
    pub fn list(
        &self,
        params: &ListSubscriptions,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Subscription, Error>> {
        self.client.paginate(&["subscriptions"], params, options)
    }
}
