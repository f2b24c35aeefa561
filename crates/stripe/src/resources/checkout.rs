//! Checkout sessions: Stripe-hosted pages where end customers pay, subscribe
//! or save a card.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{CheckoutLineItem, CheckoutMode, CheckoutSubscriptionData, CreateCheckoutSession, Percent, RequestOptions};
//! let session = client
//!     .checkout_sessions()
//!     .create(
//!         &CreateCheckoutSession {
//!             mode: CheckoutMode::Subscription,
//!             line_items: vec![CheckoutLineItem { price: "price_123".into(), quantity: Some(1) }],
//!             success_url: Some("https://shop.example/ok?session={CHECKOUT_SESSION_ID}".into()),
//!             cancel_url: Some("https://shop.example/cancel".into()),
//!             client_reference_id: Some("cus_01J...".into()),
//!             subscription_data: Some(CheckoutSubscriptionData {
//!                 application_fee_percent: Percent::from_hundredths(250),
//!                 trial_period_days: Some(14),
//!                 ..CheckoutSubscriptionData::default()
//!             }),
//!             ..CreateCheckoutSession::default()
//!         },
//!         RequestOptions::new().on_account("acct_123").idempotency_key("checkout:order_42"),
//!     )
//!     .await?;
//! println!("redirect to {:?}", session.url);
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Client, Customer, Error, Expand, Expandable, Metadata, PaymentIntent, Percent, RequestOptions,
    SetupIntent, Subscription,
};

stripe_enum! {
    /// What a Checkout session does.
    pub enum CheckoutMode {
        /// One-time payment.
        Payment = "payment",
        /// Start a subscription.
        Subscription = "subscription",
        /// Save a payment method for later.
        Setup = "setup",
    }
}

/// Payment mode, Stripe's own default, so `CreateCheckoutSession` can derive `Default`.
#[allow(
    clippy::derivable_impls,
    reason = "stripe_enum! derives no Default for enums without a natural one"
)]
impl Default for CheckoutMode {
    fn default() -> Self {
        CheckoutMode::Payment
    }
}

stripe_enum! {
    /// Whether the session is still usable.
    pub enum CheckoutStatus {
        /// Waiting for the customer.
        Open = "open",
        /// Paid or set up.
        Complete = "complete",
        /// Expired or expired by us.
        Expired = "expired",
    }
}

stripe_enum! {
    /// Whether money moved.
    pub enum CheckoutPaymentStatus {
        /// Paid (or nothing to pay now).
        Paid = "paid",
        /// Not paid (yet: delayed methods settle later).
        Unpaid = "unpaid",
        /// Nothing was due (setup mode, free trial).
        NoPaymentRequired = "no_payment_required",
    }
}

/// A Checkout session (`cs_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckoutSession {
    /// Stripe's id.
    pub id: String,
    /// The hosted page to redirect the customer to (while open).
    pub url: Option<String>,
    /// Payment, subscription or setup.
    pub mode: Option<CheckoutMode>,
    /// Open, complete or expired.
    pub status: Option<CheckoutStatus>,
    /// Whether it was paid.
    pub payment_status: Option<CheckoutPaymentStatus>,
    /// Our reference (e.g. the Billforge customer id), echoed back on completion.
    pub client_reference_id: Option<String>,
    /// The Stripe customer (created or given).
    pub customer: Option<Expandable<Customer>>,
    /// Email the customer entered.
    pub customer_email: Option<String>,
    /// Details the customer entered.
    pub customer_details: Option<CheckoutCustomerDetails>,
    /// The subscription created (subscription mode).
    pub subscription: Option<Expandable<Subscription>>,
    /// The payment intent (payment mode).
    pub payment_intent: Option<Expandable<PaymentIntent>>,
    /// The setup intent (setup mode).
    pub setup_intent: Option<Expandable<SetupIntent>>,
    /// The invoice created, if any.
    pub invoice: Option<String>,
    /// Total in minor units, after discounts and taxes.
    pub amount_total: Option<i64>,
    /// Three-letter ISO currency.
    pub currency: Option<String>,
    /// Where Stripe sends the customer after success.
    pub success_url: Option<String>,
    /// Where Stripe sends the customer when they go back.
    pub cancel_url: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// When the session stops working, Unix seconds.
    pub expires_at: i64,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// What the customer entered on the page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckoutCustomerDetails {
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// `POST /v1/checkout/sessions`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateCheckoutSession {
    /// Payment, subscription or setup.
    pub mode: CheckoutMode,
    /// What is bought (payment and subscription modes).
    pub line_items: Vec<CheckoutLineItem>,
    /// Where to go after success; may contain `{CHECKOUT_SESSION_ID}`.
    pub success_url: Option<String>,
    /// Where to go when the customer backs out.
    pub cancel_url: Option<String>,
    /// Our reference, echoed in `checkout.session.completed`.
    pub client_reference_id: Option<String>,
    /// An existing Stripe customer.
    pub customer: Option<String>,
    /// Prefills the email when no customer is given.
    pub customer_email: Option<String>,
    /// Required in setup mode without a customer's currency.
    pub currency: Option<String>,
    /// Settings of the subscription to create (subscription mode).
    pub subscription_data: Option<CheckoutSubscriptionData>,
    /// Settings of the payment intent to create (payment mode).
    pub payment_intent_data: Option<CheckoutPaymentIntentData>,
    /// Whether promotion codes may be entered.
    pub allow_promotion_codes: Option<bool>,
    /// When the session expires (30 min to 24 h ahead), Unix seconds.
    pub expires_at: Option<i64>,
    /// Our own keys on the session.
    pub metadata: Metadata,
    /// Fields to expand in the answer.
    pub expand: Vec<String>,
}

/// `line_items[n][...]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckoutLineItem {
    /// The price bought.
    pub price: String,
    /// How many (default 1).
    pub quantity: Option<u64>,
}

/// `subscription_data[...]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckoutSubscriptionData {
    /// The platform's cut of each invoice (direct charges on a connected account).
    pub application_fee_percent: Option<Percent>,
    /// Free trial length.
    pub trial_period_days: Option<u32>,
    /// Or an explicit trial end, Unix seconds.
    pub trial_end: Option<i64>,
    /// Shown to the customer.
    pub description: Option<String>,
    /// Our own keys on the created subscription.
    pub metadata: Metadata,
}

/// `payment_intent_data[...]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckoutPaymentIntentData {
    /// The platform's fee in minor units (direct charges on a connected account).
    pub application_fee_amount: Option<i64>,
    /// Shown in the Dashboard.
    pub description: Option<String>,
    /// `off_session` to save the card for later charges.
    pub setup_future_usage: Option<String>,
    /// Our own keys on the created payment intent.
    pub metadata: Metadata,
}

impl_object!(CheckoutSession);

/// `client.checkout_sessions()`.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutSessions<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Checkout session operations.
    pub fn checkout_sessions(&self) -> CheckoutSessions<'_> {
        CheckoutSessions { client: self }
    }
}

impl CheckoutSessions<'_> {
    /// Creates a session; redirect the customer to its `url`.
    pub async fn create(
        &self,
        params: &CreateCheckoutSession,
        options: RequestOptions,
    ) -> Result<CheckoutSession, Error> {
        self.client
            .post(&["checkout", "sessions"], params, options)
            .await
    }

    /// Retrieves a session (e.g. on the success page, with `expand` `subscription`).
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<CheckoutSession, Error> {
        self.client
            .get(&["checkout", "sessions", id], expand, options)
            .await
    }

    /// Expires an open session so it can no longer be paid.
    pub async fn expire(
        &self,
        id: &str,
        options: RequestOptions,
    ) -> Result<CheckoutSession, Error> {
        self.client
            .post(&["checkout", "sessions", id, "expire"], &(), options)
            .await
    }
}
