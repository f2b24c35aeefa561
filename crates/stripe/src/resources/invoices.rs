//! Invoices: list, retrieve, pay, void, mark uncollectible, finalize, and
//! preview the next one (the former "upcoming invoice").
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use futures::TryStreamExt;
//! use stripe::{ListInvoices, RequestOptions};
//! let on_tenant = || RequestOptions::new().on_account("acct_123");
//! let invoices: Vec<stripe::Invoice> = client
//!     .invoices()
//!     .list(&ListInvoices { customer: Some("cus_123".into()), ..ListInvoices::default() }, on_tenant())
//!     .try_collect()
//!     .await?;
//! for invoice in &invoices {
//!     println!("{} for {:?}: {} due", invoice.id, invoice.subscription_id(), invoice.amount_due);
//! }
//! client.invoices().pay("in_123", &Default::default(), on_tenant().idempotency_key("retry-pay:in_123:3")).await?;
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Client, Customer, Error, Expand, Expandable, List, ListParams, Metadata, PaymentIntent,
    ProrationBehavior, RequestOptions, Subscription, SubscriptionItemParams,
};

stripe_enum! {
    /// Where an invoice stands: `draft` → `open` → `paid` | `uncollectible` | `void`.
    pub enum InvoiceStatus {
        /// Editable, not yet sent or charged.
        Draft = "draft",
        /// Finalized and awaiting payment.
        Open = "open",
        /// Paid.
        Paid = "paid",
        /// Written off (still payable).
        Uncollectible = "uncollectible",
        /// Cancelled.
        Void = "void",
    }
}

/// An invoice (`in_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Invoice {
    /// Stripe's id; absent on a preview.
    pub id: String,
    /// Who is billed.
    pub customer: Option<Expandable<Customer>>,
    /// Where it stands.
    pub status: Option<InvoiceStatus>,
    /// What it was created for (and, via `subscription_details`, which subscription).
    pub parent: Option<InvoiceParent>,
    /// Total due, minor units.
    pub amount_due: i64,
    /// Already paid, minor units.
    pub amount_paid: i64,
    /// Still due, minor units.
    pub amount_remaining: i64,
    /// Total after discounts and taxes, minor units.
    pub total: i64,
    /// Total before discounts and taxes, minor units.
    pub subtotal: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// Payment attempts so far (dunning).
    pub attempt_count: u32,
    /// Whether a payment was attempted.
    pub attempted: bool,
    /// Next automatic retry, Unix seconds; `None` when no retry is scheduled.
    pub next_payment_attempt: Option<i64>,
    /// Why it exists: `subscription_create`, `subscription_cycle`, `manual`, ...
    pub billing_reason: Option<String>,
    /// `charge_automatically` or `send_invoice`.
    pub collection_method: Option<String>,
    /// Stripe-hosted page where the customer can pay.
    pub hosted_invoice_url: Option<String>,
    /// PDF download.
    pub invoice_pdf: Option<String>,
    /// Customer-facing number, once finalized.
    pub number: Option<String>,
    /// Customer email at finalization.
    pub customer_email: Option<String>,
    /// Start of the usage period, Unix seconds.
    pub period_start: i64,
    /// End of the usage period, Unix seconds.
    pub period_end: i64,
    /// Due date (`send_invoice`), Unix seconds.
    pub due_date: Option<i64>,
    /// The lines; the first page only (`has_more` tells).
    pub lines: List<InvoiceLine>,
    /// When it changed status, Unix seconds.
    pub status_transitions: InvoiceStatusTransitions,
    /// Our own keys.
    pub metadata: Metadata,
    /// The test clock (test mode).
    pub test_clock: Option<String>,
    /// Its payment attempts, newest first: present only when retrieved with
    /// `expand[]=payments` (current API versions no longer name a
    /// `payment_intent` on the invoice).
    pub payments: Option<List<InvoicePayment>>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// One payment attempt of an invoice (`inpay_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoicePayment {
    /// Stripe's id.
    pub id: String,
    /// `open`, `paid` or `canceled`.
    pub status: Option<String>,
    /// Amount asked, minor units.
    pub amount_requested: i64,
    /// Amount paid, minor units, once paid.
    pub amount_paid: Option<i64>,
    /// Three-letter ISO currency.
    pub currency: String,
    /// What paid (or is paying) it.
    pub payment: InvoicePaymentSource,
}

/// `invoice_payment.payment`: a payment intent (or a charge, on old invoices).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoicePaymentSource {
    /// `payment_intent` or `charge`.
    #[serde(rename = "type")]
    pub source_type: Option<String>,
    /// The payment intent, when `type` is `payment_intent`.
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// The charge, when `type` is `charge`.
    pub charge: Option<String>,
}

impl Invoice {
    /// The payment intent that paid this invoice, from its expanded
    /// `payments` (the paid attempt, else the newest one).
    pub fn paying_intent(&self) -> Option<&str> {
        let payments = &self.payments.as_ref()?.data;
        payments
            .iter()
            .find(|payment| payment.status.as_deref() == Some("paid"))
            .or_else(|| payments.first())
            .and_then(|payment| payment.payment.payment_intent.as_ref())
            .map(Expandable::id)
    }

    /// The subscription this invoice bills, if any (from
    /// `parent.subscription_details`, where current API versions put it).
    pub fn subscription_id(&self) -> Option<&str> {
        let details = self.parent.as_ref()?.subscription_details.as_ref()?;
        details.subscription.as_ref().map(Expandable::id)
    }
}

/// What an invoice was created for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceParent {
    /// `subscription_details`, `quote_details` or none.
    #[serde(rename = "type")]
    pub parent_type: Option<String>,
    /// Set when a subscription created the invoice.
    pub subscription_details: Option<InvoiceSubscriptionDetails>,
}

/// The subscription behind an invoice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceSubscriptionDetails {
    /// The subscription.
    pub subscription: Option<Expandable<Subscription>>,
    /// The subscription's metadata when the invoice was created.
    pub metadata: Option<Metadata>,
}

/// When an invoice changed status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceStatusTransitions {
    /// Finalized at, Unix seconds.
    pub finalized_at: Option<i64>,
    /// Paid at, Unix seconds.
    pub paid_at: Option<i64>,
    /// Voided at, Unix seconds.
    pub voided_at: Option<i64>,
    /// Marked uncollectible at, Unix seconds.
    pub marked_uncollectible_at: Option<i64>,
}

/// One line of an invoice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceLine {
    /// Stripe's id.
    pub id: String,
    /// Amount, minor units (negative for credits).
    pub amount: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// Shown to the customer.
    pub description: Option<String>,
    /// Quantity.
    pub quantity: Option<u64>,
    /// The period the line covers.
    pub period: Period,
    /// Which price the line bills (current API versions).
    pub pricing: Option<InvoiceLinePricing>,
}

/// A time range, Unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Period {
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds.
    pub end: i64,
}

/// How an invoice line was priced.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceLinePricing {
    /// `price_details` for lines from a price.
    #[serde(rename = "type")]
    pub pricing_type: Option<String>,
    /// The price and product.
    pub price_details: Option<InvoiceLinePriceDetails>,
}

/// The price behind an invoice line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceLinePriceDetails {
    /// The price id.
    pub price: Option<String>,
    /// The product id.
    pub product: Option<String>,
}

/// `GET /v1/invoices` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListInvoices {
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only this subscription's.
    pub subscription: Option<String>,
    /// Only in this status.
    pub status: Option<InvoiceStatus>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

/// `POST /v1/invoices/:id/pay`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PayInvoice {
    /// Pay with this payment method instead of the default.
    pub payment_method: Option<String>,
    /// Whether the customer is absent (no 3-D Secure challenge possible).
    pub off_session: Option<bool>,
    /// Mark paid without charging (paid outside Stripe).
    pub paid_out_of_band: Option<bool>,
}

/// `POST /v1/invoices/create_preview`: what the next invoice (or a plan
/// change) would cost. Replaces the removed "upcoming invoice" endpoint.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PreviewInvoice {
    /// The customer.
    pub customer: Option<String>,
    /// The subscription to preview (its next invoice, or a change to it).
    pub subscription: Option<String>,
    /// The change to preview.
    pub subscription_details: Option<PreviewSubscriptionDetails>,
}

/// `subscription_details[...]` of a preview.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PreviewSubscriptionDetails {
    /// Items as they would be after the change.
    pub items: Vec<SubscriptionItemParams>,
    /// How the change would be billed.
    pub proration_behavior: Option<ProrationBehavior>,
    /// Prorate as of this Unix time (pass the same to the update).
    pub proration_date: Option<i64>,
    /// Preview cancelling at the period end.
    pub cancel_at_period_end: Option<bool>,
}

impl_object!(Invoice, InvoiceLine, InvoicePayment);

/// `client.invoices()`.
#[derive(Debug, Clone, Copy)]
pub struct Invoices<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Invoice operations.
    pub fn invoices(&self) -> Invoices<'_> {
        Invoices { client: self }
    }
}

impl Invoices<'_> {
    /// Retrieves an invoice.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Invoice, Error> {
        self.client.get(&["invoices", id], expand, options).await
    }

    /// Every invoice matching `params`.
    pub fn list(
        &self,
        params: &ListInvoices,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Invoice, Error>> {
        self.client.paginate(&["invoices"], params, options)
    }

    /// Finalizes a draft so it can be paid.
    pub async fn finalize(&self, id: &str, options: RequestOptions) -> Result<Invoice, Error> {
        self.client
            .post(&["invoices", id, "finalize"], &(), options)
            .await
    }

    /// Attempts payment now (outside the automatic retry schedule).
    pub async fn pay(
        &self,
        id: &str,
        params: &PayInvoice,
        options: RequestOptions,
    ) -> Result<Invoice, Error> {
        self.client
            .post(&["invoices", id, "pay"], params, options)
            .await
    }

    /// Voids an open invoice.
    pub async fn void(&self, id: &str, options: RequestOptions) -> Result<Invoice, Error> {
        self.client
            .post(&["invoices", id, "void"], &(), options)
            .await
    }

    /// Writes an open invoice off.
    pub async fn mark_uncollectible(
        &self,
        id: &str,
        options: RequestOptions,
    ) -> Result<Invoice, Error> {
        self.client
            .post(&["invoices", id, "mark_uncollectible"], &(), options)
            .await
    }

    /// Previews the next invoice or the effect of a change (nothing is created).
    pub async fn preview(
        &self,
        params: &PreviewInvoice,
        options: RequestOptions,
    ) -> Result<Invoice, Error> {
        self.client
            .post(&["invoices", "create_preview"], params, options)
            .await
    }
}
