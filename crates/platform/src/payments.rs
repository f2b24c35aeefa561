//! Money beside subscriptions: the tenant's invoices (read from the mirror,
//! which the webhooks keep current), refunds (made on the tenant's connected
//! account, then mirrored at once so the caller reads its own write), a
//! customer's saved payment methods, and one-time payment and setup intents
//! for the merchant's own card form, billing portal sessions, and disputes
//! (mirrored from webhooks; evidence sent to Stripe). Every Stripe call is on the tenant's
//! connected account, so another tenant's object is simply not found there.
//!
//! A refund is checked against what is still refundable before Stripe is
//! asked, so an over-large partial refund is a clear validation error
//! naming the amount left rather than Stripe's error relayed as a 502; so
//! is Stripe's own refusal when a concurrent refund took the rest first.

use billing::catalog::PriceType;
use billing::ids::{CustomerId, PlanId, PriceId, SubscriptionId, TenantId};
use billing::money::{Currency, Money};
use futures::{StreamExt, TryStreamExt};
use store::AuditContext;
use store::mirror::{DisputeRow, InvoiceRow, ObservedWhen, Page, RefundRow};
use stripe::{
    ApiErrorKind, AutomaticPaymentMethods, CheckoutLineItem, CheckoutMode,
    CheckoutPaymentIntentData, CreateBillingPortalSession, CreateCheckoutSession,
    CreatePaymentIntent, CreatePrice, CreateRefund, CreateSetupIntent, Expand, InlineProduct,
    ListParams, ListPaymentMethods, ListRefunds, Metadata, PaymentIntent, PaymentIntentStatus,
    RefundReason as StripeRefundReason, RefundStatus, RequestOptions, SetupIntent, UpdateDispute,
};

/// The evidence a merchant sends about a dispute (Stripe's text fields).
pub use stripe::DisputeEvidence;

use crate::catalog::domain_price;
use crate::mirror::{dispute_state, refund_state};
use crate::subscriptions::{
    CheckoutLink, absolute_url, on_offer, optional_email, optional_text, quantity_for,
};
use crate::tokens::sha256_hex;
use crate::{Platform, PlatformError, PlatformResult};

/// The part of a Stripe idempotency key that names one API request: the
/// client's `Idempotency-Key` when it sent one (hashed, so any key fits
/// Stripe's 255 characters), so that a retry after a failure on our side
/// gets Stripe's first answer instead of acting twice; else the request id.
pub fn request_key(idempotency_key: Option<&str>, request_id: &str) -> String {
    match idempotency_key {
        Some(key) => format!("idem-{}", &sha256_hex(key)[..32]),
        None => request_id.to_owned(),
    }
}

/// What is refunded: a paid invoice's payment or a payment intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundTarget {
    /// A paid invoice (`in_…`) of the tenant.
    Invoice(String),
    /// A succeeded payment intent (`pi_…`) on the tenant's account.
    PaymentIntent(String),
}

/// Why a refund is made (Stripe's reasons a merchant may give).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    /// Charged twice.
    Duplicate,
    /// Fraudulent.
    Fraudulent,
    /// The customer asked.
    RequestedByCustomer,
}

/// A refund to make.
#[derive(Debug, Clone)]
pub struct RefundInput {
    /// What is refunded.
    pub target: RefundTarget,
    /// Minor units; everything still refundable when `None`.
    pub amount: Option<i64>,
    /// Why, when given.
    pub reason: Option<RefundReason>,
}

impl RefundReason {
    fn stripe(self) -> StripeRefundReason {
        match self {
            RefundReason::Duplicate => StripeRefundReason::Duplicate,
            RefundReason::Fraudulent => StripeRefundReason::Fraudulent,
            RefundReason::RequestedByCustomer => StripeRefundReason::RequestedByCustomer,
        }
    }
}

/// A card (or other method) saved on a customer, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPaymentMethod {
    /// Stripe's `pm_…` id.
    pub id: String,
    /// `card`, `sepa_debit`, …
    pub method_type: String,
    /// The card's brand, for cards.
    pub brand: Option<String>,
    /// The card's last four digits, for cards.
    pub last4: Option<String>,
    /// The card's expiry month, for cards.
    pub exp_month: Option<u32>,
    /// The card's expiry year, for cards.
    pub exp_year: Option<u32>,
    /// Whether invoices and subscriptions charge it when they name none.
    pub is_default: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
}

impl SavedPaymentMethod {
    fn new(method: stripe::PaymentMethod, default: Option<&str>) -> Self {
        let card = method.card.as_ref();
        Self {
            is_default: default == Some(method.id.as_str()),
            brand: card.map(|card| card.brand.clone()),
            last4: card.map(|card| card.last4.clone()),
            exp_month: card.map(|card| card.exp_month),
            exp_year: card.map(|card| card.exp_year),
            id: method.id,
            method_type: method.method_type,
            created: method.created,
        }
    }
}

/// `not_found` for Stripe's 404 (another account's object looks missing
/// too), Stripe's error otherwise.
fn missing_as(what: &'static str) -> impl FnOnce(stripe::Error) -> PlatformError {
    move |err| match err.as_api().map(|api| api.kind) {
        Some(ApiErrorKind::NotFound) => PlatformError::NotFound(what),
        _ => err.into(),
    }
}

impl Platform {
    /// A customer's Stripe customer and the tenant's account, or `None`
    /// when the customer has no Stripe customer yet (nothing saved).
    async fn stripe_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Option<(String, String)>> {
        let row = self.customer(tenant, customer).await?;
        let Some(stripe_customer) = row.stripe_customer_id else {
            return Ok(None);
        };
        let (account, _) = self.selling_account(tenant).await?;
        Ok(Some((stripe_customer, account)))
    }

    /// The customer's default payment method on Stripe, if any.
    async fn default_payment_method(
        &self,
        stripe_customer: &str,
        account: &str,
    ) -> PlatformResult<Option<String>> {
        let customer = self
            .stripe()
            .customers()
            .retrieve(
                stripe_customer,
                &Expand::default(),
                RequestOptions::new().on_account(account),
            )
            .await?;
        Ok(customer
            .invoice_settings
            .and_then(|settings| settings.default_payment_method)
            .map(|method| method.id().to_owned()))
    }

    /// The payment method `id` when it is saved on `stripe_customer`
    /// (`not_found` otherwise: another customer's looks missing).
    async fn saved_payment_method(
        &self,
        stripe_customer: &str,
        account: &str,
        id: &str,
    ) -> PlatformResult<stripe::PaymentMethod> {
        if !id.starts_with("pm_") {
            return Err(PlatformError::NotFound("payment_method"));
        }
        let method = self
            .stripe()
            .payment_methods()
            .retrieve(id, RequestOptions::new().on_account(account))
            .await
            .map_err(missing_as("payment_method"))?;
        if method.customer.as_ref().map(|c| c.id()) != Some(stripe_customer) {
            return Err(PlatformError::NotFound("payment_method"));
        }
        Ok(method)
    }

    /// Up to `limit` of a customer's saved cards after `starting_after`
    /// (one of them), newest first as Stripe lists them.
    pub async fn customer_payment_methods(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        starting_after: Option<&str>,
        limit: u64,
    ) -> PlatformResult<Vec<SavedPaymentMethod>> {
        let Some((stripe_customer, account)) = self.stripe_customer(tenant, customer).await? else {
            return match starting_after {
                Some(cursor) => Err(PlatformError::invalid(
                    "starting_after",
                    format!("no such payment method: `{cursor}`"),
                )),
                None => Ok(Vec::new()),
            };
        };
        if let Some(cursor) = starting_after {
            self.saved_payment_method(&stripe_customer, &account, cursor)
                .await
                .map_err(|_| {
                    PlatformError::invalid(
                        "starting_after",
                        format!("no such payment method: `{cursor}`"),
                    )
                })?;
        }
        let default = self
            .default_payment_method(&stripe_customer, &account)
            .await?;
        let page = u8::try_from(limit.min(100)).unwrap_or(100);
        let methods: Vec<stripe::PaymentMethod> = self
            .stripe()
            .payment_methods()
            .list(
                &ListPaymentMethods {
                    customer: stripe_customer,
                    method_type: Some("card".to_owned()),
                    page: ListParams {
                        limit: Some(page),
                        starting_after: starting_after.map(str::to_owned),
                        ..ListParams::default()
                    },
                },
                RequestOptions::new().on_account(account),
            )
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .try_collect()
            .await?;
        Ok(methods
            .into_iter()
            .map(|method| SavedPaymentMethod::new(method, default.as_deref()))
            .collect())
    }

    /// Makes a saved payment method the customer's default (invoices and
    /// renewals charge it).
    pub async fn set_default_payment_method(
        &self,
        tenant: &TenantId,
        request_key: &str,
        customer: &CustomerId,
        id: &str,
    ) -> PlatformResult<SavedPaymentMethod> {
        let (stripe_customer, account) = self
            .stripe_customer(tenant, customer)
            .await?
            .ok_or(PlatformError::NotFound("payment_method"))?;
        let method = self
            .saved_payment_method(&stripe_customer, &account, id)
            .await?;
        self.stripe()
            .customers()
            .set_default_payment_method(
                &stripe_customer,
                id,
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("pm-default:{customer}:{request_key}")),
            )
            .await?;
        Ok(SavedPaymentMethod::new(method, Some(id)))
    }

    /// Removes a saved payment method from the customer; it can no longer
    /// be charged.
    pub async fn detach_payment_method(
        &self,
        tenant: &TenantId,
        request_key: &str,
        customer: &CustomerId,
        id: &str,
    ) -> PlatformResult<SavedPaymentMethod> {
        let (stripe_customer, account) = self
            .stripe_customer(tenant, customer)
            .await?
            .ok_or(PlatformError::NotFound("payment_method"))?;
        self.saved_payment_method(&stripe_customer, &account, id)
            .await?;
        let detached = self
            .stripe()
            .payment_methods()
            .detach(
                id,
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("pm-detach:{customer}:{request_key}")),
            )
            .await?;
        Ok(SavedPaymentMethod::new(detached, None))
    }

    /// A page of the tenant's invoices in Stripe id order, only one
    /// customer's and/or one subscription's when given.
    pub async fn invoices_page(
        &self,
        tenant: &TenantId,
        customer: Option<&CustomerId>,
        subscription: Option<&SubscriptionId>,
        page: &Page,
    ) -> PlatformResult<Vec<InvoiceRow>> {
        let stripe_subscription = match subscription {
            Some(id) => Some(self.subscription(tenant, id).await?.stripe_subscription_id),
            None => None,
        };
        Ok(self
            .store()
            .scoped(tenant)
            .invoices(customer, stripe_subscription.as_deref(), page)
            .await?)
    }

    /// One of the tenant's invoices by Stripe id (`not_found` otherwise).
    pub async fn invoice(&self, tenant: &TenantId, id: &str) -> PlatformResult<InvoiceRow> {
        self.store()
            .scoped(tenant)
            .invoice_by_stripe_id(id)
            .await?
            .ok_or(PlatformError::NotFound("invoice"))
    }

    /// A page of the tenant's refunds in Stripe id order.
    pub async fn refunds_page(
        &self,
        tenant: &TenantId,
        page: &Page,
    ) -> PlatformResult<Vec<RefundRow>> {
        Ok(self.store().scoped(tenant).refunds_page(page).await?)
    }

    /// One of the tenant's refunds by Stripe id (`not_found` otherwise).
    pub async fn refund(&self, tenant: &TenantId, id: &str) -> PlatformResult<RefundRow> {
        self.store()
            .scoped(tenant)
            .refund_by_stripe_id(id)
            .await?
            .ok_or(PlatformError::NotFound("refund"))
    }

    /// Refunds all or part of a payment on the tenant's account, under a
    /// Stripe idempotency key of this request; mirrors and audits the refund.
    pub async fn create_refund(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        request_key: &str,
        input: RefundInput,
    ) -> PlatformResult<RefundRow> {
        if input.amount.is_some_and(|amount| amount <= 0) {
            return Err(PlatformError::invalid(
                "amount",
                "a refund's amount is a positive number of minor units (cents)",
            ));
        }
        let (account, _) = self.selling_account(tenant).await?;
        let on_account = || RequestOptions::new().on_account(account.clone());
        let (intent_id, invoice) = match &input.target {
            RefundTarget::Invoice(id) => {
                let row = self.invoice(tenant, id).await?;
                if row.status != "paid" {
                    return Err(PlatformError::invalid(
                        "invoice",
                        format!(
                            "invoice `{id}` is {}: only a paid invoice can be refunded",
                            row.status
                        ),
                    ));
                }
                let invoice = self
                    .stripe()
                    .invoices()
                    .retrieve(id, &Expand::paths(["payments"]), on_account())
                    .await
                    .map_err(missing_as("invoice"))?;
                let intent = invoice.paying_intent().map(str::to_owned).ok_or_else(|| {
                    PlatformError::invalid(
                        "invoice",
                        format!("invoice `{id}` was not paid by card on Stripe: nothing to refund"),
                    )
                })?;
                (intent, Some(row.stripe_invoice_id))
            }
            RefundTarget::PaymentIntent(id) => (id.clone(), None),
        };
        if !intent_id.starts_with("pi_") {
            return Err(PlatformError::NotFound("payment_intent"));
        }
        let intent = self
            .stripe()
            .payment_intents()
            .retrieve(&intent_id, &Expand::default(), on_account())
            .await
            .map_err(missing_as("payment_intent"))?;
        let refunds = self.refunds_of(&intent, on_account()).await?;
        // A retry of a request whose refund Stripe made (our answer was lost
        // to a failure on our side) gets that refund, not a "nothing left".
        let made = refunds.iter().find(|refund| {
            refund.metadata.get(REQUEST_KEY).map(String::as_str) == Some(request_key)
        });
        let refund = match made {
            Some(made) => made.clone(),
            None => {
                let remaining = refundable(&intent, &refunds);
                let amount = input.amount.unwrap_or(remaining);
                if remaining == 0 {
                    return Err(PlatformError::invalid(
                        "amount",
                        format!("payment `{intent_id}` is refunded in full already"),
                    ));
                }
                if amount > remaining {
                    return Err(PlatformError::invalid(
                        "amount",
                        format!(
                            "the refund of {amount} is more than the {remaining} ({}, minor units) still refundable on payment `{intent_id}`",
                            intent.currency
                        ),
                    ));
                }
                let mut metadata = Metadata::from([
                    ("tenant_id".to_owned(), tenant.to_string()),
                    (REQUEST_KEY.to_owned(), request_key.to_owned()),
                ]);
                if let Some(invoice) = invoice {
                    metadata.insert("invoice".to_owned(), invoice);
                }
                self.stripe()
                    .refunds()
                    .create(
                        &CreateRefund {
                            payment_intent: Some(intent_id),
                            amount: Some(amount),
                            reason: input.reason.map(RefundReason::stripe),
                            metadata,
                            ..CreateRefund::default()
                        },
                        on_account().idempotency_key(format!("refund:{tenant}:{request_key}")),
                    )
                    .await
                    .map_err(refused_as_over_refund(&intent.id))?
            }
        };
        let state = refund_state(&refund)
            .map_err(|err| PlatformError::Internal(format!("mirroring a refund: {err}")))?;
        let txn = self.store().begin().await?;
        let mirror = txn.mirror(tenant);
        let written = mirror
            .upsert_refund(
                state,
                intent.customer.as_ref().map(|c| c.id()),
                ObservedWhen::Fetched(ctx.now),
                ctx.now,
            )
            .await?;
        mirror
            .audit(
                ctx,
                "refund.created",
                "refund",
                &written.row.stripe_refund_id,
            )
            .await?;
        txn.commit().await?;
        Ok(written.row)
    }

    /// The refunds of a payment that succeeded (one that did not has
    /// nothing to refund).
    async fn refunds_of(
        &self,
        intent: &PaymentIntent,
        options: RequestOptions,
    ) -> PlatformResult<Vec<stripe::Refund>> {
        if intent.status != Some(PaymentIntentStatus::Succeeded) {
            return Err(PlatformError::invalid(
                "payment_intent",
                format!(
                    "payment `{}` has not succeeded: there is nothing to refund",
                    intent.id
                ),
            ));
        }
        Ok(self
            .stripe()
            .refunds()
            .list(
                &ListRefunds {
                    payment_intent: Some(intent.id.clone()),
                    ..ListRefunds::default()
                },
                options,
            )
            .try_collect()
            .await?)
    }
}

/// Stripe's refusal of a refund that no longer fits (another refund of the
/// same payment, made concurrently, took what our check saw as left) is the
/// same validation error as our own check's, not a Stripe failure.
fn refused_as_over_refund(intent_id: &str) -> impl FnOnce(stripe::Error) -> PlatformError + '_ {
    move |err| match err.as_api() {
        Some(api)
            if matches!(
                api.code.as_deref(),
                Some("charge_already_refunded" | "amount_too_large")
            ) =>
        {
            PlatformError::invalid(
                "amount",
                format!(
                    "the refund is more than is still refundable on payment `{intent_id}`: {}",
                    api.message
                        .as_deref()
                        .unwrap_or("it is refunded in full already")
                ),
            )
        }
        _ => err.into(),
    }
}

/// The metadata key of a refund naming the request that made it.
const REQUEST_KEY: &str = "billforge_request";

/// What is left to refund of a payment: received minus its refunds that
/// are not failed or cancelled.
fn refundable(intent: &PaymentIntent, refunds: &[stripe::Refund]) -> i64 {
    let refunded: i64 = refunds
        .iter()
        .filter(|refund| {
            !matches!(
                refund.status,
                Some(RefundStatus::Failed | RefundStatus::Canceled)
            )
        })
        .map(|refund| refund.amount)
        .sum();
    (intent.amount_received - refunded).max(0)
}

/// A one-time payment to collect from a customer.
#[derive(Debug, Clone)]
pub struct PaymentInput {
    /// Who pays.
    pub customer: CustomerId,
    /// Minor units (at least 50, Stripe's minimum for most currencies).
    pub amount: i64,
    /// ISO currency code.
    pub currency: String,
    /// Shown in the merchant's Stripe dashboard and on the receipt.
    pub description: Option<String>,
    /// A card to charge now (`pm_…` saved on the customer, or a test
    /// `pm_card_…`); without it, the merchant's card form confirms the
    /// payment with the `client_secret`.
    pub payment_method: Option<String>,
}

/// A payment or setup intent, as the merchant's card form needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentInfo {
    /// Stripe's `pi_…` or `seti_…` id.
    pub id: String,
    /// Stripe's status: `requires_payment_method`, `requires_action`
    /// (3-D Secure: the card form finishes it), `succeeded`, …
    pub status: String,
    /// Minor units (payment intents only).
    pub amount: Option<i64>,
    /// Lower-case ISO currency (payment intents only).
    pub currency: Option<String>,
    /// Billforge's customer of the intent (`cus_…`), when it is one of the
    /// tenant's.
    pub customer: Option<String>,
    /// What the merchant's front end confirms the intent with.
    pub client_secret: Option<String>,
    /// Why the last attempt failed (Stripe's decline code or error code).
    pub last_error: Option<String>,
}

impl IntentInfo {
    fn of_payment(intent: &PaymentIntent) -> Self {
        Self {
            id: intent.id.clone(),
            status: intent
                .status
                .as_ref()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            amount: Some(intent.amount),
            currency: Some(intent.currency.clone()),
            customer: intent.customer.as_ref().map(|c| c.id().to_owned()),
            client_secret: intent.client_secret.as_ref().map(|s| s.expose().to_owned()),
            last_error: intent
                .last_payment_error
                .as_ref()
                .and_then(|error| error.decline_code.clone().or_else(|| error.code.clone())),
        }
    }

    fn of_setup(intent: &SetupIntent) -> Self {
        Self {
            id: intent.id.clone(),
            status: intent
                .status
                .as_ref()
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            amount: None,
            currency: None,
            customer: intent.customer.as_ref().map(|c| c.id().to_owned()),
            client_secret: intent.client_secret.as_ref().map(|s| s.expose().to_owned()),
            last_error: intent
                .last_setup_error
                .as_ref()
                .and_then(|error| error.decline_code.clone().or_else(|| error.code.clone())),
        }
    }
}

/// A declined card is the customer's problem to fix, not a Stripe outage:
/// a 400 naming the payment method, with Stripe's safe-to-show message. So
/// is a payment method Stripe does not know (the caller's id, not ours).
fn declined(err: stripe::Error) -> PlatformError {
    match err.as_api() {
        Some(api)
            if api.code.as_deref() == Some("resource_missing")
                && api.param.as_deref() == Some("payment_method") =>
        {
            PlatformError::invalid(
                "payment_method",
                "no such payment method on this customer's account",
            )
        }
        Some(api) if api.kind == ApiErrorKind::Card => PlatformError::invalid(
            "payment_method",
            format!(
                "the card was declined ({}): {}",
                api.decline_code
                    .as_deref()
                    .or(api.code.as_deref())
                    .unwrap_or("card_declined"),
                api.message.as_deref().unwrap_or("try another card")
            ),
        ),
        _ => err.into(),
    }
}

/// The largest amount accepted, as Stripe's (99,999,999 minor units).
const MAX_AMOUNT: i64 = 99_999_999;

/// A one-time amount, validated: 50 (Stripe's minimum for most
/// currencies) to [`MAX_AMOUNT`] minor units of a known currency.
fn one_time_amount(amount: i64, currency: &str) -> PlatformResult<Currency> {
    if !(50..=MAX_AMOUNT).contains(&amount) {
        return Err(PlatformError::invalid(
            "amount",
            format!("the amount is 50 to {MAX_AMOUNT} minor units (cents)"),
        ));
    }
    Currency::parse(currency).map_err(|err| PlatformError::invalid("currency", err.to_string()))
}

/// The platform's fee on a one-time `amount` (the tenant's
/// `platform_fee_bps`, rounded down), `None` when there is none.
fn platform_fee(tenant: &store::Tenant, amount: i64) -> Option<i64> {
    Some(amount * i64::from(tenant.platform_fee_bps) / 10_000).filter(|fee| *fee > 0)
}

/// What a payment-mode checkout sells once.
#[derive(Debug, Clone)]
pub enum OneTimePurchase {
    /// An amount with no catalog price behind it (a price is made for it).
    Amount {
        /// Minor units.
        amount: i64,
        /// ISO currency code.
        currency: String,
    },
    /// A one-time price of the tenant's catalog, `quantity` times (per-unit
    /// prices; a flat price is bought once).
    Price {
        /// The catalog price.
        price_id: PriceId,
        /// Units; 1 when `None`.
        quantity: Option<u64>,
    },
}

/// A hosted checkout for a one-time amount or price (Stripe Checkout in
/// payment mode).
#[derive(Debug, Clone)]
pub struct PaymentCheckoutInput {
    /// What is bought.
    pub purchase: OneTimePurchase,
    /// What is paid for, shown on the page ("Payment" when `None`).
    pub description: Option<String>,
    /// An existing customer; otherwise Stripe takes the email on the page.
    pub customer_id: Option<CustomerId>,
    /// Prefilled email when there is no customer.
    pub customer_email: Option<String>,
    /// Where Stripe sends the customer after paying.
    pub success_url: String,
    /// Where Stripe sends the customer who gives up.
    pub cancel_url: String,
}

impl Platform {
    /// The Stripe customer of one of the tenant's customers, and the
    /// tenant's account; a customer without one cannot pay yet.
    async fn paying_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<(String, String)> {
        self.stripe_customer(tenant, customer)
            .await?
            .ok_or_else(|| {
                PlatformError::invalid(
                    "customer",
                    format!("customer `{customer}` has no Stripe customer yet"),
                )
            })
    }

    /// `info` with its Stripe customer replaced by Billforge's.
    async fn our_customer(
        &self,
        tenant: &TenantId,
        mut info: IntentInfo,
    ) -> PlatformResult<IntentInfo> {
        info.customer = match info.customer.take() {
            Some(stripe_id) => self
                .store()
                .scoped(tenant)
                .customer_by_stripe_id(&stripe_id)
                .await?
                .map(|row| row.id),
            None => None,
        };
        Ok(info)
    }

    /// Creates a payment intent for a one-time payment on the tenant's
    /// account, with the platform's fee (`platform_fee_bps` of the amount)
    /// and our ids in its metadata; charged at once when a payment method
    /// is given (an SCA card answers `requires_action`).
    pub async fn create_payment_intent(
        &self,
        tenant: &TenantId,
        request_key: &str,
        input: PaymentInput,
    ) -> PlatformResult<IntentInfo> {
        let currency = one_time_amount(input.amount, &input.currency)?;
        let (stripe_customer, account) = self.paying_customer(tenant, &input.customer).await?;
        let (_, record) = self.selling_account(tenant).await?;
        let confirm = input.payment_method.is_some();
        let intent = self
            .stripe()
            .payment_intents()
            .create(
                &CreatePaymentIntent {
                    amount: input.amount,
                    currency: currency.code().to_owned(),
                    customer: Some(stripe_customer),
                    payment_method: input.payment_method,
                    confirm: confirm.then_some(true),
                    automatic_payment_methods: (!confirm)
                        .then_some(AutomaticPaymentMethods { enabled: true }),
                    application_fee_amount: platform_fee(&record, input.amount),
                    description: input.description,
                    metadata: Metadata::from([
                        ("tenant_id".to_owned(), tenant.to_string()),
                        ("customer_id".to_owned(), input.customer.to_string()),
                    ]),
                    ..CreatePaymentIntent::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("payment-intent:{tenant}:{request_key}")),
            )
            .await
            .map_err(declined)?;
        self.our_customer(tenant, IntentInfo::of_payment(&intent))
            .await
    }

    /// A payment intent on the tenant's account (`not_found` otherwise).
    pub async fn payment_intent(&self, tenant: &TenantId, id: &str) -> PlatformResult<IntentInfo> {
        if !id.starts_with("pi_") {
            return Err(PlatformError::NotFound("payment_intent"));
        }
        let (account, _) = self.selling_account(tenant).await?;
        let intent = self
            .stripe()
            .payment_intents()
            .retrieve(
                id,
                &Expand::default(),
                RequestOptions::new().on_account(account),
            )
            .await
            .map_err(missing_as("payment_intent"))?;
        self.our_customer(tenant, IntentInfo::of_payment(&intent))
            .await
    }

    /// Creates a setup intent that saves a card on the customer for later
    /// (off-session) charges; the card form confirms it with the secret.
    pub async fn create_setup_intent(
        &self,
        tenant: &TenantId,
        request_key: &str,
        customer: &CustomerId,
    ) -> PlatformResult<IntentInfo> {
        let (stripe_customer, account) = self.paying_customer(tenant, customer).await?;
        let intent = self
            .stripe()
            .setup_intents()
            .create(
                &CreateSetupIntent {
                    customer: Some(stripe_customer),
                    usage: Some("off_session".to_owned()),
                    automatic_payment_methods: Some(AutomaticPaymentMethods { enabled: true }),
                    metadata: Metadata::from([
                        ("tenant_id".to_owned(), tenant.to_string()),
                        ("customer_id".to_owned(), customer.to_string()),
                    ]),
                    ..CreateSetupIntent::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("setup-intent:{tenant}:{request_key}")),
            )
            .await?;
        self.our_customer(tenant, IntentInfo::of_setup(&intent))
            .await
    }

    /// Opens a Stripe billing portal session for the customer on the
    /// tenant's account (cards, invoices, cancellation as the account's
    /// portal settings allow); send the customer to its `url`.
    pub async fn create_portal_session(
        &self,
        tenant: &TenantId,
        request_key: &str,
        customer: &CustomerId,
        return_url: String,
    ) -> PlatformResult<PortalLink> {
        absolute_url("return_url", &return_url)?;
        let (stripe_customer, account) = self.paying_customer(tenant, customer).await?;
        let session = self
            .stripe()
            .billing_portal_sessions()
            .create(
                &CreateBillingPortalSession {
                    customer: stripe_customer,
                    return_url: Some(return_url),
                    ..CreateBillingPortalSession::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("portal:{tenant}:{request_key}")),
            )
            .await?;
        Ok(PortalLink {
            id: session.id,
            url: session.url,
        })
    }
}

impl Platform {
    /// Opens a Stripe-hosted checkout in payment mode for a one-time price
    /// of the catalog or a one-time amount (for which a one-time price,
    /// with its product, is made on the tenant's account, since Stripe
    /// Checkout sells prices); the platform's fee and our ids ride on the
    /// payment intent.
    pub async fn create_payment_checkout(
        &self,
        tenant: &TenantId,
        request_key: &str,
        input: PaymentCheckoutInput,
    ) -> PlatformResult<CheckoutLink> {
        let item = self.one_time_item(tenant, &input.purchase).await?;
        let description = optional_text("description", input.description)?;
        absolute_url("success_url", &input.success_url)?;
        absolute_url("cancel_url", &input.cancel_url)?;
        let customer = match &input.customer_id {
            Some(id) => Some(self.customer(tenant, id).await?),
            None => None,
        };
        let customer_email = optional_email(input.customer_email)?;
        let (account, record) = self.selling_account(tenant).await?;
        let on_account = || RequestOptions::new().on_account(account.clone());
        let mut metadata = Metadata::from([("tenant_id".to_owned(), tenant.to_string())]);
        if let Some(customer) = &customer {
            metadata.insert("customer_id".to_owned(), customer.id.clone());
        }
        let (stripe_price, quantity) = match item.stripe_price {
            Some(stripe_price) => {
                if let OneTimePurchase::Price { price_id, .. } = &input.purchase {
                    metadata.insert("price_id".to_owned(), price_id.to_string());
                }
                (stripe_price, item.quantity)
            }
            None => {
                let price = self
                    .stripe()
                    .prices()
                    .create(
                        &CreatePrice {
                            product_data: Some(InlineProduct {
                                name: description.clone().unwrap_or_else(|| "Payment".to_owned()),
                                metadata: metadata.clone(),
                            }),
                            currency: item.total.currency.code().to_owned(),
                            unit_amount: Some(item.total.amount_minor),
                            metadata: metadata.clone(),
                            ..CreatePrice::default()
                        },
                        on_account()
                            .idempotency_key(format!("payment-price:{tenant}:{request_key}")),
                    )
                    .await?;
                (price.id, 1)
            }
        };
        let session = self
            .stripe()
            .checkout_sessions()
            .create(
                &CreateCheckoutSession {
                    mode: CheckoutMode::Payment,
                    line_items: vec![CheckoutLineItem {
                        price: stripe_price,
                        quantity: Some(quantity),
                    }],
                    success_url: Some(input.success_url),
                    cancel_url: Some(input.cancel_url),
                    client_reference_id: customer.as_ref().map(|c| c.id.clone()),
                    customer: customer.as_ref().and_then(|c| c.stripe_customer_id.clone()),
                    customer_email: customer_email.filter(|_| customer.is_none()),
                    payment_intent_data: Some(CheckoutPaymentIntentData {
                        application_fee_amount: platform_fee(&record, item.total.amount_minor),
                        description,
                        metadata: metadata.clone(),
                        ..CheckoutPaymentIntentData::default()
                    }),
                    metadata,
                    ..CreateCheckoutSession::default()
                },
                on_account().idempotency_key(format!("payment-checkout:{tenant}:{request_key}")),
            )
            .await?;
        let url = session
            .url
            .ok_or_else(|| PlatformError::Stripe("the checkout session has no URL".to_owned()))?;
        Ok(CheckoutLink {
            id: session.id,
            url,
        })
    }
}

/// A one-time purchase, checked: what it costs in all, and the Stripe
/// price and quantity to sell (`None` for an amount, whose price is made
/// once everything else is checked).
struct OneTimeItem {
    /// The whole amount, for the platform's fee.
    total: Money,
    /// The catalog price's Stripe id.
    stripe_price: Option<String>,
    /// Units of that price.
    quantity: u64,
}

impl Platform {
    /// Checks a one-time purchase: an amount in range, or a one-time price
    /// of the tenant's catalog still on offer (a recurring one is
    /// subscribed to instead: `plan`), in a quantity its model allows.
    async fn one_time_item(
        &self,
        tenant: &TenantId,
        purchase: &OneTimePurchase,
    ) -> PlatformResult<OneTimeItem> {
        let (price_id, quantity) = match purchase {
            OneTimePurchase::Amount { amount, currency } => {
                let currency = one_time_amount(*amount, currency)?;
                return Ok(OneTimeItem {
                    total: Money::new(*amount, currency),
                    stripe_price: None,
                    quantity: 1,
                });
            }
            OneTimePurchase::Price { price_id, quantity } => (price_id, *quantity),
        };
        let record = self
            .store()
            .scoped(tenant)
            .price(price_id)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        let price = domain_price(&record)?;
        if let PriceType::Recurring { .. } = price.price_type() {
            return Err(PlatformError::invalid(
                "price",
                format!(
                    "price `{price_id}` is recurring: subscribe to it with a subscription checkout (`plan` and `price`)"
                ),
            ));
        }
        let plan = PlanId::parse(&record.plan_id)
            .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
        let stripe_price = on_offer(&self.plan(tenant, &plan).await?, &record)?;
        let quantity = quantity_for(&record, quantity)?;
        let total = price
            .amount_for(quantity)
            .ok()
            .filter(|total| (50..=MAX_AMOUNT).contains(&total.amount_minor))
            .ok_or_else(|| {
                PlatformError::invalid(
                    "quantity",
                    format!(
                        "a payment is 50 to {MAX_AMOUNT} minor units (cents); {quantity} of price `{price_id}` is not"
                    ),
                )
            })?;
        Ok(OneTimeItem {
            total,
            stripe_price: Some(stripe_price),
            quantity,
        })
    }
}

/// A billing portal session to send the customer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalLink {
    /// Stripe's `bps_…` id.
    pub id: String,
    /// The portal page (short-lived).
    pub url: String,
}

impl Platform {
    /// A page of the tenant's disputes in Stripe id order (mirrored from
    /// `charge.dispute.*` webhooks).
    pub async fn disputes_page(
        &self,
        tenant: &TenantId,
        page: &Page,
    ) -> PlatformResult<Vec<DisputeRow>> {
        Ok(self.store().scoped(tenant).disputes_page(page).await?)
    }

    /// One of the tenant's disputes by Stripe id (`not_found` otherwise).
    pub async fn dispute(&self, tenant: &TenantId, id: &str) -> PlatformResult<DisputeRow> {
        self.store()
            .scoped(tenant)
            .dispute_by_stripe_id(id)
            .await?
            .ok_or(PlatformError::NotFound("dispute"))
    }

    /// Saves evidence on an open dispute and, with `submit`, sends it to the
    /// card network (`under_review`; no change after that). The mirror
    /// takes Stripe's answer at once.
    pub async fn submit_dispute_evidence(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        request_key: &str,
        id: &str,
        evidence: DisputeEvidence,
        submit: bool,
    ) -> PlatformResult<DisputeRow> {
        let row = self.dispute(tenant, id).await?;
        if !row.status.ends_with("needs_response") {
            return Err(PlatformError::invalid(
                "dispute",
                format!(
                    "dispute `{id}` is {}: its evidence can no longer be changed",
                    row.status
                ),
            ));
        }
        if evidence == DisputeEvidence::default() {
            return Err(PlatformError::invalid(
                "evidence",
                "give at least one evidence field",
            ));
        }
        let (account, _) = self.selling_account(tenant).await?;
        let dispute = self
            .stripe()
            .disputes()
            .update(
                id,
                &UpdateDispute {
                    evidence: Some(evidence),
                    submit: Some(submit),
                    ..UpdateDispute::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("dispute-evidence:{id}:{request_key}")),
            )
            .await
            .map_err(missing_as("dispute"))?;
        let state = dispute_state(&dispute)
            .map_err(|err| PlatformError::Internal(format!("mirroring a dispute: {err}")))?;
        let txn = self.store().begin().await?;
        let mirror = txn.mirror(tenant);
        let written = mirror
            .upsert_dispute(state, None, ObservedWhen::Fetched(ctx.now), ctx.now)
            .await?;
        let action = if submit {
            "dispute.evidence_submitted"
        } else {
            "dispute.evidence_saved"
        };
        mirror.audit(ctx, action, "dispute", id).await?;
        txn.commit().await?;
        Ok(written.row)
    }
}
