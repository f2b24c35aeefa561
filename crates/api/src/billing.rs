//! `/v1/customers`, `/v1/subscriptions`, `/v1/checkout_sessions` and the
//! entitlement routes: thin translations to `platform::subscriptions` and
//! `platform::entitlements`, which validate, call Stripe and scope by tenant.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use billing::entitlements::OverrideAction;
use billing::ids::{CustomerId, FeatureId, PlanId, PriceId, SubscriptionId, TenantId};
use chrono::{DateTime, Utc};
use platform::entitlements::EntitlementCheck;
use platform::payments::{OneTimePurchase, PaymentCheckoutInput};
use platform::records::{AuditContext, CustomerRow, Page, SubscriptionRow};
use platform::subscriptions::{
    CheckoutInput, CheckoutLink, CustomerInput, CustomerUpdate, Proration, SubscriptionChange,
};
use platform::{Platform, PlatformError, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::docs::ErrorResponse;
use crate::extract::{Json, OptionalJson};
use crate::guard::IDEMPOTENCY_HEADER;
use crate::list::{List, ListParams};
use crate::{ApiResult, Caller};

/// A customer of the merchant.
#[derive(Serialize, ToSchema)]
pub(crate) struct CustomerView {
    /// Billforge's `cus_…` id.
    id: String,
    /// Always `customer`.
    object: &'static str,
    /// The merchant's own id for the customer (unique per merchant); usable
    /// wherever a customer id is asked for.
    external_id: Option<String>,
    /// Where receipts and notices go.
    email: Option<String>,
    /// Display name.
    name: Option<String>,
    /// The Stripe customer on the merchant's account.
    stripe_customer_id: Option<String>,
    /// Your own keys and values.
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
    /// Creation time.
    created_at: DateTime<Utc>,
}

impl From<CustomerRow> for CustomerView {
    fn from(row: CustomerRow) -> Self {
        Self {
            id: row.id,
            object: "customer",
            external_id: row.external_id,
            email: row.email,
            name: row.name,
            stripe_customer_id: row.stripe_customer_id,
            metadata: row
                .metadata
                .as_deref()
                .and_then(|raw| serde_json::from_str(raw).ok())
                .unwrap_or_else(|| serde_json::json!({})),
            created_at: row.created_at,
        }
    }
}

/// A subscription, as last mirrored from Stripe.
#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionView {
    /// Billforge's `sub_…` id.
    id: String,
    /// Always `subscription`.
    object: &'static str,
    /// The subscriber (`cus_…`).
    customer: String,
    /// Stripe's status: `trialing`, `active`, `past_due`, `canceled`, `unpaid`…
    status: String,
    /// The plan of its first item, when the price is one of the merchant's plans.
    plan: Option<String>,
    /// Billforge's price of its first item.
    price: Option<String>,
    /// Seats or units of its first item.
    quantity: i64,
    /// Start of the current period.
    current_period_start: Option<DateTime<Utc>>,
    /// End of the current period: the renewal, or the end of access.
    current_period_end: Option<DateTime<Utc>>,
    /// Whether it ends at the period's end.
    cancel_at_period_end: bool,
    /// The Stripe subscription on the merchant's account.
    stripe_subscription_id: String,
}

impl From<SubscriptionRow> for SubscriptionView {
    fn from(row: SubscriptionRow) -> Self {
        Self {
            id: row.id,
            object: "subscription",
            customer: row.customer_id,
            status: row.status,
            plan: row.plan_id,
            price: row.price_id,
            quantity: row.quantity,
            current_period_start: row.current_period_start,
            current_period_end: row.current_period_end,
            cancel_at_period_end: row.cancel_at_period_end,
            stripe_subscription_id: row.stripe_subscription_id,
        }
    }
}

/// `POST /v1/customers` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCustomer {
    /// Your own id for the customer (unique); lets you skip storing ours.
    external_id: Option<String>,
    /// Where receipts and notices go.
    email: Option<String>,
    /// Display name.
    name: Option<String>,
}

/// `POST /v1/customers/{id}` body: only the fields given change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateCustomer {
    /// New email for receipts and notices.
    email: Option<String>,
    /// New display name.
    name: Option<String>,
    /// Keys to set (at most 50 in all, keys up to 40 and values up to 500
    /// characters); an empty value removes its key.
    metadata: Option<BTreeMap<String, String>>,
}

/// `GET /v1/subscriptions` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SubscriptionQuery {
    /// Only this customer's (`cus_…` or your external id).
    customer: Option<String>,
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The last id of the previous page.
    starting_after: Option<String>,
}

/// How a change is billed.
#[derive(Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProrationChoice {
    /// Prorate and invoice the difference now (the default; upgrades).
    #[default]
    InvoiceNow,
    /// Prorate onto the next invoice.
    NextInvoice,
    /// No proration: the new price applies from the next period.
    None,
}

impl From<ProrationChoice> for Proration {
    fn from(choice: ProrationChoice) -> Self {
        match choice {
            ProrationChoice::InvoiceNow => Proration::InvoiceNow,
            ProrationChoice::NextInvoice => Proration::NextInvoice,
            ProrationChoice::None => Proration::None,
        }
    }
}

/// `POST /v1/subscriptions/{id}` and `…/preview` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeSubscription {
    /// The new price (`price_…` of any live plan); unchanged when omitted.
    price: Option<String>,
    /// The new quantity; unchanged when omitted.
    quantity: Option<u64>,
    /// `invoice_now` (default), `next_invoice` or `none`.
    #[serde(default)]
    proration: ProrationChoice,
}

/// `POST /v1/subscriptions/{id}/cancel` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelSubscription {
    /// `true` (default): access until the period ends; `false`: now.
    at_period_end: Option<bool>,
}

/// What a change would bill now.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangePreview {
    /// Always `subscription_change_preview`.
    object: &'static str,
    /// Minor units (cents) invoiced now; negative for a credit.
    amount_due_now: i64,
    /// Lower-case ISO currency.
    currency: String,
}

/// `POST /v1/checkout_sessions` body: a `plan` to subscribe to; or, to
/// pay once, a one-time `price` of the catalog or an `amount` and
/// `currency`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCheckout {
    /// The plan subscribed to (`plan_…`): a subscription checkout.
    plan: Option<String>,
    /// Or a one-time amount in minor units (50 to 99,999,999): a payment
    /// checkout.
    amount: Option<i64>,
    /// The one-time amount's ISO currency.
    currency: Option<String>,
    /// What the one-time payment is for, shown on the page.
    description: Option<String>,
    /// With `plan`: one of its recurring prices (its first on offer when
    /// omitted); a one-time price is refused with `price_not_recurring`.
    /// Without `plan`: a one-time price to buy (a payment checkout).
    price: Option<String>,
    /// Seats or units (per-seat and tiered prices; per-unit one-time prices).
    quantity: Option<u64>,
    /// An existing customer (`cus_…` or your external id).
    customer: Option<String>,
    /// Prefilled email for a new customer.
    customer_email: Option<String>,
    /// Free days; the plan's trial when omitted (subscriptions only).
    trial_days: Option<u16>,
    /// Where the customer lands after paying.
    success_url: String,
    /// Where the customer lands after giving up.
    cancel_url: String,
}

/// A hosted checkout to send the customer to.
#[derive(Serialize, ToSchema)]
pub(crate) struct CheckoutView {
    /// Stripe's `cs_…` id.
    id: String,
    /// Always `checkout_session`.
    object: &'static str,
    /// Redirect the customer here.
    url: String,
}

impl CheckoutView {
    fn new(link: CheckoutLink) -> Self {
        Self {
            id: link.id,
            object: "checkout_session",
            url: link.url,
        }
    }
}

/// One feature a customer may (or may not) use.
#[derive(Serialize, ToSchema)]
pub(crate) struct EntitlementView {
    /// Always `entitlement`.
    object: &'static str,
    /// The customer asked about.
    customer: String,
    /// The feature's lookup key.
    feature: String,
    /// Whether the customer may use it.
    allowed: bool,
    /// The cap of a limit feature; null for flags, unlimited grants and
    /// features the customer lacks.
    limit: Option<i64>,
    /// Why: `{"kind":"plan","plan_id":"plan_…"}`, `{"kind":"override"}` or
    /// `{"kind":"dunning","plan_id":…}` (reduced during dunning); null when
    /// nothing grants it.
    #[schema(value_type = Option<Object>)]
    source: serde_json::Value,
}

impl EntitlementView {
    fn new(customer: &str, check: EntitlementCheck) -> Self {
        Self {
            object: "entitlement",
            customer: customer.to_owned(),
            feature: check.lookup_key.to_string(),
            allowed: check.allowed,
            limit: check.limit,
            source: serde_json::to_value(check.source).unwrap_or_default(),
        }
    }
}

/// `GET /v1/entitlements/check` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckQuery {
    /// `cus_…` or your external id.
    customer: String,
    /// The feature's lookup key.
    feature: String,
}

/// `POST /v1/customers/{id}/overrides` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetOverride {
    /// The feature (`feat_…`).
    feature: String,
    /// `{"action":"grant","value":{"kind":"limit","value":50}}` or `{"action":"revoke"}`.
    #[schema(value_type = Object)]
    action: OverrideAction,
    /// When the override ends; forever when omitted.
    until: Option<DateTime<Utc>>,
}

pub(crate) fn customer_id(row: &CustomerRow) -> Result<CustomerId, PlatformError> {
    CustomerId::parse(&row.id)
        .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))
}

/// The customer an optional `customer` filter or field names (our id or the
/// merchant's external id), looked up within `tenant`.
pub(crate) async fn optional_customer(
    platform: &Platform,
    tenant: &TenantId,
    raw: Option<&str>,
) -> Result<Option<CustomerId>, PlatformError> {
    match raw {
        Some(raw) => Ok(Some(customer_id(
            &platform.find_customer(tenant, raw).await?,
        )?)),
        None => Ok(None),
    }
}

pub(crate) fn subscription_id(raw: &str) -> Result<SubscriptionId, PlatformError> {
    SubscriptionId::parse(raw).map_err(|_| PlatformError::NotFound("subscription"))
}

fn price_id(raw: &str) -> Result<PriceId, PlatformError> {
    PriceId::parse(raw).map_err(|_| PlatformError::NotFound("price"))
}

/// A database page of `limit + 1` rows after the cursor.
pub(crate) fn page(limit: u64, starting_after: Option<&str>) -> Page {
    Page {
        starting_after: starting_after.map(str::to_owned),
        limit: limit + 1,
    }
}

/// This request's part of the Stripe idempotency keys it uses: from its
/// `Idempotency-Key` when it has one, so a client's retry after a failure
/// on our side cannot act on Stripe twice.
pub(crate) fn request_key(req: &HttpRequest) -> String {
    let idempotency_key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .and_then(|value| value.to_str().ok());
    platform::payments::request_key(idempotency_key, &RequestId::current_or_new().to_string())
}

pub(crate) fn ctx(platform: &Platform, caller: &platform::api_keys::ApiCaller) -> AuditContext {
    platform.audit_context(caller.actor.clone(), &RequestId::current_or_new())
}

/// Lists customers.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(ListParams),
    responses((status = 200, body = List<CustomerView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_customers(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let limit = params.limit()?;
    let rows = platform
        .customers_page(&caller.tenant_id, &page(limit, params.starting_after()))
        .await?;
    let list = List::from_fetched(&req, rows, limit);
    let data = list.data.iter().cloned().map(CustomerView::from).collect();
    Ok(HttpResponse::Ok().json(list.map_data(data)))
}

/// Creates a customer (and its Stripe customer).
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CreateCustomer,
    responses((status = 201, body = CustomerView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_customer(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<CreateCustomer>,
) -> ApiResult {
    let body = body.into_inner();
    let created = platform
        .create_customer(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            CustomerInput {
                external_id: body.external_id,
                email: body.email,
                name: body.name,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CustomerView::from(created)))
}

/// Retrieves a customer by our id or your external id.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "`cus_…` or your external id")),
    responses((status = 200, body = CustomerView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_customer(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(row)))
}

/// A short-lived link that signs a customer in to their hosted account page.
#[derive(Serialize, ToSchema)]
pub(crate) struct AccountLinkView {
    /// Always `account_link`.
    object: &'static str,
    /// The customer (`cus_…`).
    customer: String,
    /// Send the customer here (a redirect or an email): it signs them in to
    /// their account page, where they see and change their subscription.
    url: String,
    /// When the link stops working, 15 minutes after it was made; the
    /// session it opens lasts an hour.
    expires_at: DateTime<Utc>,
}

/// Creates a link to the customer's hosted account page (plan, status,
/// next payment, entitlements; change plan or seats, cancel, resume).
/// Each call makes a new link; create one when the customer asks for it.
#[utoipa::path(post, path = "/v1/customers/{id}/account_links", tag = "customers",
    params(("id" = String, Path, description = "`cus_…` or your external id")),
    responses((status = 201, body = AccountLinkView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_account_link(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let link = platform
        .customer_account_link(&caller.tenant_id, &customer_id(&row)?)
        .await?;
    Ok(HttpResponse::Created().json(AccountLinkView {
        object: "account_link",
        customer: row.id,
        url: link.url,
        expires_at: link.expires_at,
    }))
}

/// Updates a customer's email, name or metadata (and its Stripe customer's
/// email and name).
#[utoipa::path(post, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "`cus_…` or your external id")), request_body = UpdateCustomer,
    responses((status = 200, body = CustomerView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn update_customer(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<UpdateCustomer>,
) -> ApiResult {
    let body = body.into_inner();
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let updated = platform
        .update_customer(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &request_key(&req),
            &customer_id(&row)?,
            CustomerUpdate {
                email: body.email,
                name: body.name,
                metadata: body.metadata,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(updated)))
}

/// Every feature the customer has, with its limit and source.
#[utoipa::path(get, path = "/v1/customers/{id}/entitlements", tag = "entitlements",
    params(("id" = String, Path, description = "`cus_…` or your external id")),
    responses((status = 200, body = List<EntitlementView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn customer_entitlements(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let entitlements = platform
        .customer_entitlements(&caller.tenant_id, &customer_id(&row)?)
        .await?;
    let data: Vec<EntitlementView> = entitlements
        .into_iter()
        .map(|(key, entitlement)| {
            EntitlementView::new(&row.id, EntitlementCheck::of(key, Some(&entitlement)))
        })
        .collect();
    let limit = u64::try_from(data.len()).unwrap_or(u64::MAX);
    Ok(HttpResponse::Ok().json(List::from_fetched(&req, data, limit)))
}

/// Sets (creates or replaces) the customer's override of a feature.
#[utoipa::path(post, path = "/v1/customers/{id}/overrides", tag = "entitlements",
    params(("id" = String, Path, description = "`cus_…` or your external id")), request_body = SetOverride,
    responses((status = 200, body = List<EntitlementView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn set_override(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<SetOverride>,
) -> ApiResult {
    let body = body.into_inner();
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let feature =
        FeatureId::parse(&body.feature).map_err(|_| PlatformError::NotFound("feature"))?;
    platform
        .set_entitlement_override(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &customer_id(&row)?,
            &feature,
            body.action,
            body.until,
        )
        .await?;
    customer_entitlements(platform, Caller(caller), req, id).await
}

/// Removes the customer's override of a feature.
#[utoipa::path(delete, path = "/v1/customers/{id}/overrides/{feature}", tag = "entitlements",
    params(("id" = String, Path, description = "`cus_…` or your external id"),
        ("feature" = String, Path, description = "`feat_…`")),
    responses((status = 200, body = List<EntitlementView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn delete_override(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let (id, feature) = path.into_inner();
    let row = platform.find_customer(&caller.tenant_id, &id).await?;
    let feature = FeatureId::parse(&feature).map_err(|_| PlatformError::NotFound("feature"))?;
    platform
        .delete_entitlement_override(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &customer_id(&row)?,
            &feature,
        )
        .await?;
    customer_entitlements(platform, Caller(caller), req, web::Path::from(id)).await
}

/// May this customer use this feature? The call your app makes on every
/// request: answered from memory, changes visible within a second.
#[utoipa::path(get, path = "/v1/entitlements/check", tag = "entitlements", params(CheckQuery),
    responses((status = 200, body = EntitlementView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn check_entitlement(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    query: web::Query<CheckQuery>,
) -> ApiResult {
    let (customer, check) = platform
        .check_entitlement_fast(&caller.tenant_id, &query.customer, &query.feature)
        .await?;
    Ok(HttpResponse::Ok().json(EntitlementView::new(customer.as_str(), check)))
}

/// Lists subscriptions, optionally of one customer.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", params(SubscriptionQuery),
    responses((status = 200, body = List<SubscriptionView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_subscriptions(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    query: web::Query<SubscriptionQuery>,
) -> ApiResult {
    let params = ListParams::new(query.limit, query.starting_after.clone());
    let limit = params.limit()?;
    let customer =
        optional_customer(&platform, &caller.tenant_id, query.customer.as_deref()).await?;
    let rows = platform
        .subscriptions_page(
            &caller.tenant_id,
            customer.as_ref(),
            &page(limit, params.starting_after()),
        )
        .await?;
    let list = List::from_fetched(&req, rows, limit);
    let data = list
        .data
        .iter()
        .cloned()
        .map(SubscriptionView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list.map_data(data)))
}

/// Retrieves a subscription.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "`sub_…`")),
    responses((status = 200, body = SubscriptionView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_subscription(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform
        .subscription(&caller.tenant_id, &subscription_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(row)))
}

impl ChangeSubscription {
    fn change(&self) -> Result<SubscriptionChange, PlatformError> {
        Ok(SubscriptionChange {
            price_id: self.price.as_deref().map(price_id).transpose()?,
            quantity: self.quantity,
            proration: self.proration.into(),
        })
    }
}

/// Changes the price and/or quantity, prorated as asked.
#[utoipa::path(post, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "`sub_…`")), request_body = ChangeSubscription,
    responses((status = 200, body = SubscriptionView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn change_subscription(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
    body: Json<ChangeSubscription>,
) -> ApiResult {
    let row = platform
        .change_subscription(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &subscription_id(&id)?,
            body.change()?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(row)))
}

/// What a change would invoice now; nothing is changed.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/preview", tag = "subscriptions",
    params(("id" = String, Path, description = "`sub_…`")), request_body = ChangeSubscription,
    responses((status = 200, body = ChangePreview), (status = "default", body = ErrorResponse)))]
pub(crate) async fn preview_change(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
    body: Json<ChangeSubscription>,
) -> ApiResult {
    let amount = platform
        .preview_subscription_change(&caller.tenant_id, &subscription_id(&id)?, &body.change()?)
        .await?;
    Ok(HttpResponse::Ok().json(ChangePreview {
        object: "subscription_change_preview",
        amount_due_now: amount.amount_minor,
        currency: amount.currency.code().to_owned(),
    }))
}

/// Cancels at the period's end (default) or now.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions",
    params(("id" = String, Path, description = "`sub_…`")), request_body = Option<CancelSubscription>,
    responses((status = 200, body = SubscriptionView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn cancel_subscription(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
    OptionalJson(body): OptionalJson<CancelSubscription>,
) -> ApiResult {
    let at_period_end = body.and_then(|b| b.at_period_end).unwrap_or(true);
    let row = platform
        .cancel_subscription(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &subscription_id(&id)?,
            at_period_end,
        )
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(row)))
}

/// Undoes a cancellation scheduled for the period's end.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions",
    params(("id" = String, Path, description = "`sub_…`")),
    responses((status = 200, body = SubscriptionView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn resume_subscription(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let row = platform
        .resume_subscription(
            &caller.tenant_id,
            &ctx(&platform, &caller),
            &subscription_id(&id)?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(row)))
}

/// Opens a hosted checkout for a plan, a one-time price or a one-time amount;
/// send the customer to its `url`.
#[utoipa::path(post, path = "/v1/checkout_sessions", tag = "subscriptions", request_body = CreateCheckout,
    responses((status = 201, body = CheckoutView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_checkout_session(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    body: Json<CreateCheckout>,
) -> ApiResult {
    let body = body.into_inner();
    let customer =
        optional_customer(&platform, &caller.tenant_id, body.customer.as_deref()).await?;
    let purchase = match (body.plan.as_deref(), body.amount, body.price.as_deref()) {
        (Some(plan), None, price) => {
            let link = platform
                .create_checkout_session(
                    &caller.tenant_id,
                    &ctx(&platform, &caller),
                    CheckoutInput {
                        plan_id: PlanId::parse(plan)
                            .map_err(|_| PlatformError::NotFound("plan"))?,
                        price_id: price.map(price_id).transpose()?,
                        quantity: body.quantity,
                        customer_id: customer,
                        customer_email: body.customer_email,
                        trial_days: body.trial_days,
                        success_url: body.success_url,
                        cancel_url: body.cancel_url,
                    },
                )
                .await?;
            return Ok(HttpResponse::Created().json(CheckoutView::new(link)));
        }
        (None, Some(amount), None) => OneTimePurchase::Amount {
            amount,
            currency: body.currency.ok_or_else(|| {
                PlatformError::invalid("currency", "a one-time `amount` needs a `currency`")
            })?,
        },
        (None, None, Some(price)) if body.currency.is_none() => OneTimePurchase::Price {
            price_id: price_id(price)?,
            quantity: body.quantity,
        },
        (None, None, Some(_)) => {
            return Err(PlatformError::invalid(
                "currency",
                "a price has its own currency: leave out `currency`",
            )
            .into());
        }
        _ => {
            return Err(PlatformError::invalid(
                "plan",
                "give a `plan` (subscription, optionally with one of its recurring prices), a one-time `price`, or an `amount` and `currency` (one-time payment)",
            )
            .into());
        }
    };
    if body.trial_days.is_some() {
        return Err(PlatformError::invalid(
            "trial_days",
            "a one-time purchase has no trial: leave out `trial_days`",
        )
        .into());
    }
    let link = platform
        .create_payment_checkout(
            &caller.tenant_id,
            &request_key(&req),
            PaymentCheckoutInput {
                purchase,
                description: body.description,
                customer_id: customer,
                customer_email: body.customer_email,
                success_url: body.success_url,
                cancel_url: body.cancel_url,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(CheckoutView::new(link)))
}
