//! Payment intents, setup intents and payment methods.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use futures::TryStreamExt;
//! use stripe::{CreateSetupIntent, ListPaymentMethods, RequestOptions};
//! let on_tenant = || RequestOptions::new().on_account("acct_123");
//! let intent = client
//!     .setup_intents()
//!     .create(&CreateSetupIntent { customer: Some("cus_123".into()), ..Default::default() }, on_tenant())
//!     .await?;
//! // hand `intent.client_secret` to Stripe.js; never log it.
//! client.payment_methods().attach("pm_card_visa", "cus_123", on_tenant()).await?;
//! let cards: Vec<stripe::PaymentMethod> = client
//!     .payment_methods()
//!     .list(&ListPaymentMethods { customer: "cus_123".into(), ..Default::default() }, on_tenant())
//!     .try_collect()
//!     .await?;
//! # let _ = (intent, cards);
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{
    Address, Client, Customer, Error, Expand, Expandable, ListParams, Metadata, RequestOptions,
    Secret,
};

stripe_enum! {
    /// Where a payment intent stands.
    pub enum PaymentIntentStatus {
        /// Needs a (new) payment method, e.g. after a decline.
        RequiresPaymentMethod = "requires_payment_method",
        /// Needs confirming.
        RequiresConfirmation = "requires_confirmation",
        /// Needs the customer (3-D Secure).
        RequiresAction = "requires_action",
        /// Being processed (delayed methods).
        Processing = "processing",
        /// Authorized, awaiting capture.
        RequiresCapture = "requires_capture",
        /// Cancelled.
        Canceled = "canceled",
        /// Paid.
        Succeeded = "succeeded",
    }
}

stripe_enum! {
    /// Where a setup intent stands.
    pub enum SetupIntentStatus {
        /// Needs a payment method.
        RequiresPaymentMethod = "requires_payment_method",
        /// Needs confirming.
        RequiresConfirmation = "requires_confirmation",
        /// Needs the customer (3-D Secure).
        RequiresAction = "requires_action",
        /// Being processed.
        Processing = "processing",
        /// Cancelled.
        Canceled = "canceled",
        /// Saved.
        Succeeded = "succeeded",
    }
}

/// The last failure of a payment or setup attempt.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LastPaymentError {
    /// Stripe's error type (`card_error`, ...).
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    /// Machine-readable code (`card_declined`).
    pub code: Option<String>,
    /// Issuer reason (`insufficient_funds`).
    pub decline_code: Option<String>,
    /// Explanation (safe to show for card errors).
    pub message: Option<String>,
}

/// A payment intent (`pi_...`): one attempt to collect an amount.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentIntent {
    /// Stripe's id.
    pub id: String,
    /// Amount to collect, minor units.
    pub amount: i64,
    /// Amount collected, minor units.
    pub amount_received: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// Where it stands.
    pub status: Option<PaymentIntentStatus>,
    /// Who pays.
    pub customer: Option<Expandable<Customer>>,
    /// The payment method used or to use.
    pub payment_method: Option<Expandable<PaymentMethod>>,
    /// The charge of the latest attempt.
    pub latest_charge: Option<String>,
    /// Lets Stripe.js confirm it; give it to the browser, never log it.
    pub client_secret: Option<Secret>,
    /// Why the last attempt failed.
    pub last_payment_error: Option<LastPaymentError>,
    /// The platform's fee (direct charges), minor units.
    pub application_fee_amount: Option<i64>,
    /// Shown in the Dashboard.
    pub description: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Cancellation time, Unix seconds.
    pub canceled_at: Option<i64>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// `POST /v1/payment_intents`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreatePaymentIntent {
    /// Amount, minor units.
    pub amount: i64,
    /// Three-letter ISO currency.
    pub currency: String,
    /// Who pays.
    pub customer: Option<String>,
    /// Pay with this payment method.
    pub payment_method: Option<String>,
    /// Confirm at once.
    pub confirm: Option<bool>,
    /// The customer is absent (renewals, server-side charges).
    pub off_session: Option<bool>,
    /// Let Stripe pick methods from the Dashboard settings.
    pub automatic_payment_methods: Option<AutomaticPaymentMethods>,
    /// The platform's fee (direct charges), minor units.
    pub application_fee_amount: Option<i64>,
    /// Shown in the Dashboard.
    pub description: Option<String>,
    /// Where Stripe emails the receipt.
    pub receipt_email: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `automatic_payment_methods[enabled]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AutomaticPaymentMethods {
    /// Whether Stripe chooses the methods.
    pub enabled: bool,
}

/// `POST /v1/payment_intents/:id/confirm`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfirmPaymentIntent {
    /// Pay with this payment method.
    pub payment_method: Option<String>,
    /// The customer is absent.
    pub off_session: Option<bool>,
    /// Where to send the customer after 3-D Secure.
    pub return_url: Option<String>,
}

/// A setup intent (`seti_...`): saving a payment method for later charges.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SetupIntent {
    /// Stripe's id.
    pub id: String,
    /// Where it stands.
    pub status: Option<SetupIntentStatus>,
    /// Whose payment method it saves.
    pub customer: Option<Expandable<Customer>>,
    /// The saved payment method.
    pub payment_method: Option<Expandable<PaymentMethod>>,
    /// `off_session` or `on_session`.
    pub usage: Option<String>,
    /// Lets Stripe.js confirm it; give it to the browser, never log it.
    pub client_secret: Option<Secret>,
    /// Why the last attempt failed.
    pub last_setup_error: Option<LastPaymentError>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// `POST /v1/setup_intents`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateSetupIntent {
    /// Whose payment method to save.
    pub customer: Option<String>,
    /// A payment method to save.
    pub payment_method: Option<String>,
    /// Confirm at once.
    pub confirm: Option<bool>,
    /// `off_session` (default) or `on_session`.
    pub usage: Option<String>,
    /// Let Stripe pick methods from the Dashboard settings.
    pub automatic_payment_methods: Option<AutomaticPaymentMethods>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// A payment method (`pm_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentMethod {
    /// Stripe's id.
    pub id: String,
    /// `card`, `sepa_debit`, ...
    #[serde(rename = "type")]
    pub method_type: String,
    /// The customer it is attached to.
    pub customer: Option<Expandable<Customer>>,
    /// Card details, for cards.
    pub card: Option<Card>,
    /// Billing details entered with it.
    pub billing_details: Option<BillingDetails>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// What may be shown of a card.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Card {
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month, 1-12.
    pub exp_month: u32,
    /// Expiry year.
    pub exp_year: u32,
    /// `credit`, `debit`, `prepaid` or `unknown`.
    pub funding: Option<String>,
    /// Issuing country.
    pub country: Option<String>,
}

/// Billing details of a payment method.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BillingDetails {
    /// Billing address.
    pub address: Option<Address>,
    /// Email.
    pub email: Option<String>,
    /// Name on the card.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// `POST /v1/payment_methods/:id/attach`.
#[derive(Debug, Clone, Serialize)]
struct AttachPaymentMethod<'a> {
    /// The customer to attach to.
    customer: &'a str,
}

/// `GET /v1/payment_methods` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListPaymentMethods {
    /// Whose payment methods (required).
    pub customer: String,
    /// Only of this type (`card`).
    #[serde(rename = "type")]
    pub method_type: Option<String>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

impl_object!(PaymentIntent, SetupIntent, PaymentMethod);

/// `client.payment_intents()`.
#[derive(Debug, Clone, Copy)]
pub struct PaymentIntents<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.setup_intents()`.
#[derive(Debug, Clone, Copy)]
pub struct SetupIntents<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.payment_methods()`.
#[derive(Debug, Clone, Copy)]
pub struct PaymentMethods<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Payment intent operations.
    pub fn payment_intents(&self) -> PaymentIntents<'_> {
        PaymentIntents { client: self }
    }

    /// Setup intent operations.
    pub fn setup_intents(&self) -> SetupIntents<'_> {
        SetupIntents { client: self }
    }

    /// Payment method operations.
    pub fn payment_methods(&self) -> PaymentMethods<'_> {
        PaymentMethods { client: self }
    }
}

impl PaymentIntents<'_> {
    /// Creates a payment intent.
    pub async fn create(
        &self,
        params: &CreatePaymentIntent,
        options: RequestOptions,
    ) -> Result<PaymentIntent, Error> {
        self.client
            .post(&["payment_intents"], params, options)
            .await
    }

    /// Retrieves a payment intent.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<PaymentIntent, Error> {
        self.client
            .get(&["payment_intents", id], expand, options)
            .await
    }

    /// Confirms a payment intent (charges the payment method).
    pub async fn confirm(
        &self,
        id: &str,
        params: &ConfirmPaymentIntent,
        options: RequestOptions,
    ) -> Result<PaymentIntent, Error> {
        self.client
            .post(&["payment_intents", id, "confirm"], params, options)
            .await
    }

    /// Cancels a payment intent that has not succeeded.
    pub async fn cancel(&self, id: &str, options: RequestOptions) -> Result<PaymentIntent, Error> {
        self.client
            .post(&["payment_intents", id, "cancel"], &(), options)
            .await
    }
}

impl SetupIntents<'_> {
    /// Creates a setup intent.
    pub async fn create(
        &self,
        params: &CreateSetupIntent,
        options: RequestOptions,
    ) -> Result<SetupIntent, Error> {
        self.client.post(&["setup_intents"], params, options).await
    }

    /// Retrieves a setup intent.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<SetupIntent, Error> {
        self.client
            .get(&["setup_intents", id], expand, options)
            .await
    }

    /// Cancels a setup intent.
    pub async fn cancel(&self, id: &str, options: RequestOptions) -> Result<SetupIntent, Error> {
        self.client
            .post(&["setup_intents", id, "cancel"], &(), options)
            .await
    }
}

impl PaymentMethods<'_> {
    /// Retrieves a payment method.
    pub async fn retrieve(
        &self,
        id: &str,
        options: RequestOptions,
    ) -> Result<PaymentMethod, Error> {
        self.client
            .get(&["payment_methods", id], &(), options)
            .await
    }

    /// Attaches a payment method to a customer.
    pub async fn attach(
        &self,
        id: &str,
        customer: &str,
        options: RequestOptions,
    ) -> Result<PaymentMethod, Error> {
        let params = AttachPaymentMethod { customer };
        self.client
            .post(&["payment_methods", id, "attach"], &params, options)
            .await
    }

    /// Detaches a payment method from its customer (it can no longer be used).
    pub async fn detach(&self, id: &str, options: RequestOptions) -> Result<PaymentMethod, Error> {
        self.client
            .post(&["payment_methods", id, "detach"], &(), options)
            .await
    }

    /// A customer's payment methods. To make one the default, see
    /// [`crate::Customers::set_default_payment_method`].
    pub fn list(
        &self,
        params: &ListPaymentMethods,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<PaymentMethod, Error>> {
        self.client.paginate(&["payment_methods"], params, options)
    }
}
