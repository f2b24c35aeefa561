//! `/v1/invoices`, `/v1/refunds`, a customer's payment methods, and
//! payment and setup intents for the merchant's own card form, billing
//! portal sessions and disputes: thin
//! translations to `platform::payments`. Invoices, refunds and payment
//! methods are Stripe objects without a Billforge id of their own, so their
//! ids are Stripe's (`in_…`, `re_…`, `pm_…`); invoices and refunds are
//! listed from the mirror in that id order, payment methods from Stripe.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::Platform;
use platform::payments::{
    DisputeEvidence, IntentInfo, PaymentInput, RefundInput, RefundReason, RefundTarget,
    SavedPaymentMethod,
};
use platform::records::{DisputeRow, InvoiceRow, RefundRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::billing::{ctx, customer_id, optional_customer, page, request_key, subscription_id};
use crate::docs::ErrorResponse;
use crate::extract::Json;
use crate::list::{List, ListParams};
use crate::{ApiResult, Caller};

/// An invoice of one of the merchant's customers, as last mirrored from Stripe.
#[derive(Serialize, ToSchema)]
pub(crate) struct InvoiceView {
    /// Stripe's `in_…` id.
    id: String,
    /// Always `invoice`.
    object: &'static str,
    /// The customer billed (`cus_…`).
    customer: String,
    /// The subscription billed (`sub_…`), if any.
    subscription: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible` or `void`.
    status: String,
    /// Lower-case ISO currency of the amounts.
    currency: String,
    /// Total due, minor units.
    amount_due: i64,
    /// Paid so far, minor units.
    amount_paid: i64,
    /// Still owed, minor units.
    amount_remaining: i64,
    /// Payment attempts so far.
    attempt_count: i32,
    /// Stripe's next automatic payment attempt, if one is scheduled.
    next_payment_attempt: Option<DateTime<Utc>>,
    /// The page where the customer can see and pay it.
    hosted_invoice_url: Option<String>,
    /// The customer-facing number, once finalized.
    number: Option<String>,
    /// The service period billed (start).
    period_start: Option<DateTime<Utc>>,
    /// The service period billed (end).
    period_end: Option<DateTime<Utc>>,
    /// When Billforge first saw it.
    created_at: DateTime<Utc>,
}

impl From<InvoiceRow> for InvoiceView {
    fn from(row: InvoiceRow) -> Self {
        Self {
            id: row.stripe_invoice_id,
            object: "invoice",
            customer: row.customer_id,
            subscription: row.subscription_id,
            status: row.status,
            currency: row.currency,
            amount_due: row.amount_due,
            amount_paid: row.amount_paid,
            amount_remaining: row.amount_remaining,
            attempt_count: row.attempt_count,
            next_payment_attempt: row.next_payment_attempt,
            hosted_invoice_url: row.hosted_invoice_url,
            number: row.number,
            period_start: row.period_start,
            period_end: row.period_end,
            created_at: row.created_at,
        }
    }
}

/// A refund, as last mirrored from Stripe.
#[derive(Serialize, ToSchema)]
pub(crate) struct RefundView {
    /// Stripe's `re_…` id.
    id: String,
    /// Always `refund`.
    object: &'static str,
    /// The payment refunded (`pi_…`).
    payment_intent: Option<String>,
    /// The customer refunded (`cus_…`), when known.
    customer: Option<String>,
    /// `pending`, `succeeded`, `failed`, `canceled` or `requires_action`.
    status: String,
    /// Lower-case ISO currency.
    currency: String,
    /// Amount refunded, minor units.
    amount: i64,
    /// `duplicate`, `fraudulent` or `requested_by_customer`, when given.
    reason: Option<String>,
    /// Why it failed, when it did.
    failure_reason: Option<String>,
    /// When Billforge first saw it.
    created_at: DateTime<Utc>,
}

impl From<RefundRow> for RefundView {
    fn from(row: RefundRow) -> Self {
        Self {
            id: row.stripe_refund_id,
            object: "refund",
            payment_intent: row.stripe_payment_intent_id,
            customer: row.customer_id,
            status: row.status,
            currency: row.currency,
            amount: row.amount,
            reason: row.reason,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
        }
    }
}

/// `GET /v1/invoices` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InvoiceQuery {
    /// Only this customer's (`cus_…` or your external id).
    customer: Option<String>,
    /// Only this subscription's (`sub_…`).
    subscription: Option<String>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The last id of the previous page.
    starting_after: Option<String>,
}

/// Why a refund is made.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RefundReasonChoice {
    /// Charged twice.
    Duplicate,
    /// Fraudulent.
    Fraudulent,
    /// The customer asked.
    RequestedByCustomer,
}

impl From<RefundReasonChoice> for RefundReason {
    fn from(choice: RefundReasonChoice) -> Self {
        match choice {
            RefundReasonChoice::Duplicate => RefundReason::Duplicate,
            RefundReasonChoice::Fraudulent => RefundReason::Fraudulent,
            RefundReasonChoice::RequestedByCustomer => RefundReason::RequestedByCustomer,
        }
    }
}

/// `POST /v1/refunds` body: exactly one of `invoice` and `payment_intent`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRefund {
    /// A paid invoice (`in_…`): its payment is refunded.
    invoice: Option<String>,
    /// Or a succeeded payment (`pi_…`).
    payment_intent: Option<String>,
    /// Minor units; everything still refundable when omitted. More than
    /// what is left is refused (400, `param: amount`).
    amount: Option<i64>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    reason: Option<RefundReasonChoice>,
}

impl CreateRefund {
    fn target(&self) -> Result<RefundTarget, platform::PlatformError> {
        match (&self.invoice, &self.payment_intent) {
            (Some(invoice), None) => Ok(RefundTarget::Invoice(invoice.clone())),
            (None, Some(intent)) => Ok(RefundTarget::PaymentIntent(intent.clone())),
            _ => Err(platform::PlatformError::invalid(
                "invoice",
                "give exactly one of `invoice` and `payment_intent`",
            )),
        }
    }
}

/// Lists invoices, optionally of one customer or subscription.
#[utoipa::path(get, path = "/v1/invoices", tag = "payments", params(InvoiceQuery),
    responses((status = 200, body = List<InvoiceView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_invoices(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    query: web::Query<InvoiceQuery>,
) -> ApiResult {
    let params = ListParams::new(query.limit, query.starting_after.clone());
    let limit = params.limit()?;
    let customer =
        optional_customer(&platform, &caller.tenant_id, query.customer.as_deref()).await?;
    let subscription = query
        .subscription
        .as_deref()
        .map(subscription_id)
        .transpose()?;
    let rows = platform
        .invoices_page(
            &caller.tenant_id,
            customer.as_ref(),
            subscription.as_ref(),
            &page(limit, params.starting_after()),
        )
        .await?;
    let list = List::from_fetched(&req, rows, limit);
    Ok(HttpResponse::Ok().json(list.map(InvoiceView::from)))
}

/// Retrieves an invoice.
#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "payments",
    params(("id" = String, Path, description = "`in_…`")),
    responses((status = 200, body = InvoiceView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_invoice(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.invoice(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(InvoiceView::from(row)))
}

/// Refunds a paid invoice or a payment, in full or in part.
#[utoipa::path(post, path = "/v1/refunds", tag = "payments", request_body = CreateRefund,
    responses((status = 201, body = RefundView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_refund(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    body: Json<CreateRefund>,
) -> ApiResult {
    let row = platform
        .create_refund(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &request_key(&req),
            RefundInput {
                target: body.target()?,
                amount: body.amount,
                reason: body.reason.map(RefundReason::from),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(RefundView::from(row)))
}

/// Lists refunds.
#[utoipa::path(get, path = "/v1/refunds", tag = "payments", params(ListParams),
    responses((status = 200, body = List<RefundView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_refunds(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let limit = params.limit()?;
    let rows = platform
        .refunds_page(&caller.tenant_id, &page(limit, params.starting_after()))
        .await?;
    let list = List::from_fetched(&req, rows, limit);
    Ok(HttpResponse::Ok().json(list.map(RefundView::from)))
}

/// Retrieves a refund.
#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "payments",
    params(("id" = String, Path, description = "`re_…`")),
    responses((status = 200, body = RefundView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_refund(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.refund(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(row)))
}

/// A payment method saved on a customer.
#[derive(Serialize, ToSchema)]
pub(crate) struct PaymentMethodView {
    /// Stripe's `pm_…` id.
    id: String,
    /// Always `payment_method`.
    object: &'static str,
    /// `card`, …
    #[serde(rename = "type")]
    method_type: String,
    /// For cards: `brand`, `last4`, `exp_month`, `exp_year`.
    card: Option<CardView>,
    /// Whether invoices and renewals charge it when they name none.
    default: bool,
    /// Creation time.
    created_at: Option<DateTime<Utc>>,
}

/// What may be shown of a card.
#[derive(Serialize, ToSchema)]
pub(crate) struct CardView {
    /// `visa`, `mastercard`, …
    brand: String,
    /// The last four digits.
    last4: String,
    /// Expiry month, 1–12.
    exp_month: Option<u32>,
    /// Expiry year.
    exp_year: Option<u32>,
}

impl From<SavedPaymentMethod> for PaymentMethodView {
    fn from(method: SavedPaymentMethod) -> Self {
        let card = match (method.brand, method.last4) {
            (Some(brand), Some(last4)) => Some(CardView {
                brand,
                last4,
                exp_month: method.exp_month,
                exp_year: method.exp_year,
            }),
            _ => None,
        };
        Self {
            id: method.id,
            object: "payment_method",
            method_type: method.method_type,
            card,
            default: method.is_default,
            created_at: DateTime::from_timestamp(method.created, 0),
        }
    }
}

/// Lists the cards saved on a customer, newest first (as Stripe lists them).
#[utoipa::path(get, path = "/v1/customers/{id}/payment_methods", tag = "payments",
    params(("id" = String, Path, description = "`cus_…` or your external id"), ListParams),
    responses((status = 200, body = List<PaymentMethodView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_payment_methods(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
    params: web::Query<ListParams>,
) -> ApiResult {
    let limit = params.limit()?;
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let methods = platform
        .customer_payment_methods(
            &caller.tenant_id,
            &customer_id(&row)?,
            params.starting_after(),
            limit + 1,
        )
        .await?;
    let list = List::from_fetched(&req, methods, limit);
    Ok(HttpResponse::Ok().json(list.map(PaymentMethodView::from)))
}

/// Makes a saved payment method the customer's default.
#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods/{pm}/default", tag = "payments",
    params(("id" = String, Path, description = "`cus_…` or your external id"),
        ("pm" = String, Path, description = "`pm_…`")),
    responses((status = 200, body = PaymentMethodView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn set_default_payment_method(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (id, method) = path.into_inner();
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let saved = platform
        .set_default_payment_method(
            &caller.tenant_id,
            &request_key(&req),
            &customer_id(&row)?,
            &method,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PaymentMethodView::from(saved)))
}

/// Removes a saved payment method from the customer.
#[utoipa::path(post, path = "/v1/customers/{id}/payment_methods/{pm}/detach", tag = "payments",
    params(("id" = String, Path, description = "`cus_…` or your external id"),
        ("pm" = String, Path, description = "`pm_…`")),
    responses((status = 200, body = PaymentMethodView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn detach_payment_method(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (id, method) = path.into_inner();
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let detached = platform
        .detach_payment_method(
            &caller.tenant_id,
            &request_key(&req),
            &customer_id(&row)?,
            &method,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PaymentMethodView::from(detached)))
}

/// A payment or setup intent for your own card form.
#[derive(Serialize, ToSchema)]
pub(crate) struct IntentView {
    /// Stripe's `pi_…` or `seti_…` id.
    id: String,
    /// `payment_intent` or `setup_intent`.
    object: &'static str,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`
    /// (3-D Secure: let Stripe.js handle it with the `client_secret`),
    /// `processing`, `succeeded` or `canceled`.
    status: String,
    /// Minor units (payment intents).
    amount: Option<i64>,
    /// Lower-case ISO currency (payment intents).
    currency: Option<String>,
    /// The customer (`cus_…`).
    customer: Option<String>,
    /// Give it to your front end (Stripe.js) to confirm; never log it.
    client_secret: Option<String>,
    /// Why the last attempt failed (a decline code), if it did.
    last_error: Option<String>,
}

impl IntentView {
    fn new(object: &'static str, info: IntentInfo) -> Self {
        Self {
            id: info.id,
            object,
            status: info.status,
            amount: info.amount,
            currency: info.currency,
            customer: info.customer,
            client_secret: info.client_secret,
            last_error: info.last_error,
        }
    }
}

/// `POST /v1/payment_intents` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePaymentIntent {
    /// Who pays (`cus_…` or your external id).
    customer: String,
    /// Minor units, 50 to 99,999,999.
    amount: i64,
    /// ISO currency code.
    currency: String,
    /// Shown on the receipt and in your Stripe dashboard.
    description: Option<String>,
    /// A saved card (`pm_…`) to charge now; omit it to confirm from your
    /// card form with the `client_secret`.
    payment_method: Option<String>,
}

/// `POST /v1/setup_intents` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSetupIntent {
    /// Whose card is saved (`cus_…` or your external id).
    customer: String,
}

/// Starts a one-time payment; confirm it from your card form with the
/// `client_secret`, or give a saved card to charge it now.
#[utoipa::path(post, path = "/v1/payment_intents", tag = "payments", request_body = CreatePaymentIntent,
    responses((status = 201, body = IntentView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_payment_intent(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    body: Json<CreatePaymentIntent>,
) -> ApiResult {
    let body = body.into_inner();
    let row = platform
        .find_customer(&caller.tenant_id, &body.customer)
        .await?;
    let intent = platform
        .create_payment_intent(
            &caller.tenant_id,
            &request_key(&req),
            PaymentInput {
                customer: customer_id(&row)?,
                amount: body.amount,
                currency: body.currency,
                description: body.description,
                payment_method: body.payment_method,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(IntentView::new("payment_intent", intent)))
}

/// Retrieves a payment intent (its current status, from Stripe).
#[utoipa::path(get, path = "/v1/payment_intents/{id}", tag = "payments",
    params(("id" = String, Path, description = "`pi_…`")),
    responses((status = 200, body = IntentView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_payment_intent(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let intent = platform.payment_intent(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(IntentView::new("payment_intent", intent)))
}

/// Starts saving a card for later charges; confirm it from your card form
/// with the `client_secret`.
#[utoipa::path(post, path = "/v1/setup_intents", tag = "payments", request_body = CreateSetupIntent,
    responses((status = 201, body = IntentView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_setup_intent(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    body: Json<CreateSetupIntent>,
) -> ApiResult {
    let row = platform
        .find_customer(&caller.tenant_id, &body.customer)
        .await?;
    let intent = platform
        .create_setup_intent(&caller.tenant_id, &request_key(&req), &customer_id(&row)?)
        .await?;
    Ok(HttpResponse::Created().json(IntentView::new("setup_intent", intent)))
}

/// `POST /v1/billing_portal_sessions` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePortalSession {
    /// The customer (`cus_…` or your external id).
    customer: String,
    /// Where the portal sends the customer back (absolute URL).
    return_url: String,
}

/// A Stripe billing portal session to send the customer to.
#[derive(Serialize, ToSchema)]
pub(crate) struct PortalSessionView {
    /// Stripe's `bps_…` id.
    id: String,
    /// Always `billing_portal_session`.
    object: &'static str,
    /// Redirect the customer here (short-lived).
    url: String,
}

/// Opens Stripe's billing portal for a customer (cards, invoices,
/// cancellation); send the customer to its `url`.
#[utoipa::path(post, path = "/v1/billing_portal_sessions", tag = "payments", request_body = CreatePortalSession,
    responses((status = 201, body = PortalSessionView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_portal_session(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    body: Json<CreatePortalSession>,
) -> ApiResult {
    let body = body.into_inner();
    let row = platform
        .find_customer(&caller.tenant_id, &body.customer)
        .await?;
    let link = platform
        .create_portal_session(
            &caller.tenant_id,
            &request_key(&req),
            &customer_id(&row)?,
            body.return_url,
        )
        .await?;
    Ok(HttpResponse::Created().json(PortalSessionView {
        id: link.id,
        object: "billing_portal_session",
        url: link.url,
    }))
}

/// A dispute of one of the merchant's payments, as last mirrored from Stripe.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisputeView {
    /// Stripe's `dp_…` id.
    id: String,
    /// Always `dispute`.
    object: &'static str,
    /// The payment disputed (`pi_…`).
    payment_intent: Option<String>,
    /// The customer (`cus_…`), when known.
    customer: Option<String>,
    /// `needs_response` (send evidence), `under_review`, `won`, `lost`, or
    /// the `warning_…` states of an inquiry.
    status: String,
    /// Lower-case ISO currency.
    currency: String,
    /// Amount disputed, minor units.
    amount: i64,
    /// The cardholder's reason (`fraudulent`, `product_not_received`, …).
    reason: String,
    /// The deadline for evidence.
    evidence_due_by: Option<DateTime<Utc>>,
    /// When Billforge first saw it.
    created_at: DateTime<Utc>,
}

impl From<DisputeRow> for DisputeView {
    fn from(row: DisputeRow) -> Self {
        Self {
            id: row.stripe_dispute_id,
            object: "dispute",
            payment_intent: row.stripe_payment_intent_id,
            customer: row.customer_id,
            status: row.status,
            currency: row.currency,
            amount: row.amount,
            reason: row.reason,
            evidence_due_by: row.evidence_due_by,
            created_at: row.created_at,
        }
    }
}

/// `POST /v1/disputes/{id}/evidence` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitEvidence {
    /// Text fields: `customer_email_address`, `customer_name`,
    /// `customer_purchase_ip`, `product_description`,
    /// `cancellation_policy_disclosure`, `cancellation_rebuttal`,
    /// `refund_policy_disclosure`, `refund_refusal_explanation`,
    /// `service_date`, `uncategorized_text` (at least one).
    #[schema(value_type = Object)]
    evidence: DisputeEvidence,
    /// `true` (default): send it to the card network now (no change after
    /// that); `false`: save a draft.
    submit: Option<bool>,
}

/// Lists disputes.
#[utoipa::path(get, path = "/v1/disputes", tag = "payments", params(ListParams),
    responses((status = 200, body = List<DisputeView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_disputes(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let limit = params.limit()?;
    let rows = platform
        .disputes_page(&caller.tenant_id, &page(limit, params.starting_after()))
        .await?;
    let list = List::from_fetched(&req, rows, limit);
    Ok(HttpResponse::Ok().json(list.map(DisputeView::from)))
}

/// Retrieves a dispute.
#[utoipa::path(get, path = "/v1/disputes/{id}", tag = "payments",
    params(("id" = String, Path, description = "`dp_…`")),
    responses((status = 200, body = DisputeView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_dispute(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.dispute(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(DisputeView::from(row)))
}

/// Saves (and by default submits) evidence on an open dispute.
#[utoipa::path(post, path = "/v1/disputes/{id}/evidence", tag = "payments",
    params(("id" = String, Path, description = "`dp_…`")), request_body = SubmitEvidence,
    responses((status = 200, body = DisputeView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn submit_dispute_evidence(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<SubmitEvidence>,
) -> ApiResult {
    let body = body.into_inner();
    let row = platform
        .submit_dispute_evidence(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &request_key(&req),
            &id,
            body.evidence,
            body.submit.unwrap_or(true),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DisputeView::from(row)))
}
