//! Charges (as events carry them), refunds (full, partial, with a reason) and
//! disputes (submitting evidence).
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{CreateRefund, DisputeEvidence, RefundReason, RequestOptions, UpdateDispute};
//! let on_tenant = || RequestOptions::new().on_account("acct_123");
//! // A partial refund of 5.00; leave `amount` out to refund everything.
//! client
//!     .refunds()
//!     .create(
//!         &CreateRefund {
//!             payment_intent: Some("pi_123".into()),
//!             amount: Some(500),
//!             reason: Some(RefundReason::RequestedByCustomer),
//!             ..CreateRefund::default()
//!         },
//!         on_tenant().idempotency_key("refund:rf_01J..."),
//!     )
//!     .await?;
//! client
//!     .disputes()
//!     .update(
//!         "dp_123",
//!         &UpdateDispute {
//!             evidence: Some(DisputeEvidence {
//!                 customer_email_address: Some("ann@example.com".into()),
//!                 uncategorized_text: Some("Service used daily since signup.".into()),
//!                 ..DisputeEvidence::default()
//!             }),
//!             submit: Some(true),
//!             ..UpdateDispute::default()
//!         },
//!         on_tenant(),
//!     )
//!     .await?;
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Client, Customer, Error, Expand, Expandable, ListParams, Metadata, PaymentIntent,
    RequestOptions,
};

/// A charge (`ch_...`): what `charge.*` events carry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Charge {
    /// Stripe's id.
    pub id: String,
    /// Amount charged, minor units.
    pub amount: i64,
    /// Amount refunded so far, minor units.
    pub amount_refunded: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// Who paid.
    pub customer: Option<Expandable<Customer>>,
    /// The payment intent it belongs to.
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// `succeeded`, `pending` or `failed`.
    pub status: Option<String>,
    /// Whether it succeeded (or was authorized).
    pub paid: bool,
    /// Whether it was fully refunded.
    pub refunded: bool,
    /// Whether it was disputed.
    pub disputed: bool,
    /// Failure code, when it failed.
    pub failure_code: Option<String>,
    /// Failure explanation, when it failed.
    pub failure_message: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

stripe_enum! {
    /// Why a refund was made.
    pub enum RefundReason {
        /// Charged twice.
        Duplicate = "duplicate",
        /// Fraudulent (also reported to Radar).
        Fraudulent = "fraudulent",
        /// The customer asked.
        RequestedByCustomer = "requested_by_customer",
        /// Set by Stripe for expired uncaptured charges.
        ExpiredUncapturedCharge = "expired_uncaptured_charge",
    }
}

stripe_enum! {
    /// Where a refund stands.
    pub enum RefundStatus {
        /// In progress.
        Pending = "pending",
        /// Needs the customer (some methods).
        RequiresAction = "requires_action",
        /// Done.
        Succeeded = "succeeded",
        /// Failed (see `failure_reason`).
        Failed = "failed",
        /// Cancelled.
        Canceled = "canceled",
    }
}

/// A refund (`re_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Refund {
    /// Stripe's id.
    pub id: String,
    /// Amount refunded, minor units.
    pub amount: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// The refunded charge.
    pub charge: Option<Expandable<Charge>>,
    /// The refunded payment intent.
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// Why.
    pub reason: Option<RefundReason>,
    /// Where it stands.
    pub status: Option<RefundStatus>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// `POST /v1/refunds`: give a charge or a payment intent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateRefund {
    /// The charge to refund.
    pub charge: Option<String>,
    /// Or the payment intent to refund.
    pub payment_intent: Option<String>,
    /// Partial amount, minor units; absent refunds what is left.
    pub amount: Option<i64>,
    /// Why.
    pub reason: Option<RefundReason>,
    /// Also refund the platform's application fee (direct charges).
    pub refund_application_fee: Option<bool>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `GET /v1/refunds` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListRefunds {
    /// Only this charge's.
    pub charge: Option<String>,
    /// Only this payment intent's.
    pub payment_intent: Option<String>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

stripe_enum! {
    /// Where a dispute stands.
    pub enum DisputeStatus {
        /// Inquiry: evidence needed.
        WarningNeedsResponse = "warning_needs_response",
        /// Inquiry: evidence submitted.
        WarningUnderReview = "warning_under_review",
        /// Inquiry closed without becoming a dispute.
        WarningClosed = "warning_closed",
        /// Evidence needed.
        NeedsResponse = "needs_response",
        /// Evidence submitted.
        UnderReview = "under_review",
        /// Decided for the merchant.
        Won = "won",
        /// Decided for the cardholder.
        Lost = "lost",
        /// Funds being returned to the merchant.
        Prevented = "prevented",
    }
}

/// A dispute (`dp_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Dispute {
    /// Stripe's id.
    pub id: String,
    /// Disputed amount, minor units.
    pub amount: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// The disputed charge.
    pub charge: Option<Expandable<Charge>>,
    /// The disputed payment intent.
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// The cardholder's reason (`fraudulent`, `general`, ...).
    pub reason: Option<String>,
    /// Where it stands.
    pub status: Option<DisputeStatus>,
    /// Deadlines and submission state.
    pub evidence_details: Option<EvidenceDetails>,
    /// Whether the charge can still be refunded instead of fighting.
    pub is_charge_refundable: bool,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// When evidence is due and whether it was sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EvidenceDetails {
    /// Deadline, Unix seconds.
    pub due_by: Option<i64>,
    /// Whether evidence was saved.
    pub has_evidence: bool,
    /// Whether the deadline passed.
    pub past_due: bool,
    /// How many times evidence was submitted.
    pub submission_count: u32,
}

/// `POST /v1/disputes/:id`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateDispute {
    /// Evidence to save (merged with what is there).
    pub evidence: Option<DisputeEvidence>,
    /// Submit now (`false` saves a draft).
    pub submit: Option<bool>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `evidence[...]`: the text fields a subscription business usually has.
/// Also read from JSON (unknown fields refused), so an API can take it as is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeEvidence {
    /// Customer's email.
    pub customer_email_address: Option<String>,
    /// Customer's name.
    pub customer_name: Option<String>,
    /// IP the purchase came from.
    pub customer_purchase_ip: Option<String>,
    /// What was sold.
    pub product_description: Option<String>,
    /// Cancellation policy text.
    pub cancellation_policy_disclosure: Option<String>,
    /// Why the cancellation claim does not hold.
    pub cancellation_rebuttal: Option<String>,
    /// Refund policy text.
    pub refund_policy_disclosure: Option<String>,
    /// Why no refund was given.
    pub refund_refusal_explanation: Option<String>,
    /// When the service was provided.
    pub service_date: Option<String>,
    /// Anything else.
    pub uncategorized_text: Option<String>,
}

impl_object!(Charge, Refund, Dispute);

/// `client.refunds()`.
#[derive(Debug, Clone, Copy)]
pub struct Refunds<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.disputes()`.
#[derive(Debug, Clone, Copy)]
pub struct Disputes<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Refund operations.
    pub fn refunds(&self) -> Refunds<'_> {
        Refunds { client: self }
    }

    /// Dispute operations.
    pub fn disputes(&self) -> Disputes<'_> {
        Disputes { client: self }
    }
}

impl Refunds<'_> {
    /// Refunds a charge or payment intent, fully or partly.
    pub async fn create(
        &self,
        params: &CreateRefund,
        options: RequestOptions,
    ) -> Result<Refund, Error> {
        if params.charge.is_none() == params.payment_intent.is_none() {
            return Err(Error::InvalidArgument(
                "a refund needs exactly one of `charge` and `payment_intent`".into(),
            ));
        }
        self.client.post(&["refunds"], params, options).await
    }

    /// Retrieves a refund.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Refund, Error> {
        self.client.get(&["refunds", id], expand, options).await
    }

    /// Every refund matching `params`.
    pub fn list(
        &self,
        params: &ListRefunds,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Refund, Error>> {
        self.client.paginate(&["refunds"], params, options)
    }
}

impl Disputes<'_> {
    /// Retrieves a dispute.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Dispute, Error> {
        self.client.get(&["disputes", id], expand, options).await
    }

    /// Saves or submits evidence.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdateDispute,
        options: RequestOptions,
    ) -> Result<Dispute, Error> {
        self.client.post(&["disputes", id], params, options).await
    }

    /// Accepts the dispute (gives up; the funds stay with the cardholder).
    pub async fn close(&self, id: &str, options: RequestOptions) -> Result<Dispute, Error> {
        self.client
            .post(&["disputes", id, "close"], &(), options)
            .await
    }

    /// Every dispute.
    pub fn list(
        &self,
        params: &ListParams,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Dispute, Error>> {
        self.client.paginate(&["disputes"], params, options)
    }
}
