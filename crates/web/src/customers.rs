//! The merchant's customers: search, and a customer's page with its
//! subscriptions (cancel now or at period end, resume), invoices (refund in
//! full or in part), entitlements with their source, and the overrides
//! editor. Every action goes through the same platform services as the API,
//! on the signed-in merchant's tenant only: another tenant's customer is a 404.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use billing::entitlements::{GrantValue, OverrideAction, Source};
use billing::ids::{CustomerId, FeatureId, SubscriptionId, TenantId};
use billing::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use platform::payments::{RefundInput, RefundReason, RefundTarget};
use platform::records::{AuditContext, CustomerRow};
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, MerchantUser, TokenOnly};
use crate::error::WebError;
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Merchant get "/dashboard/customers" => list,
    Merchant get "/dashboard/customers/{id}" => detail,
    Merchant post "/dashboard/customers/{id}/overrides" => set_override,
    Merchant post "/dashboard/customers/{id}/overrides/{feature}/remove" => remove_override,
    Merchant post "/dashboard/customers/{id}/refunds" => refund,
    Merchant post "/dashboard/customers/{id}/subscriptions/{subscription}/cancel" => cancel_subscription,
    Merchant post "/dashboard/customers/{id}/subscriptions/{subscription}/resume" => resume_subscription,
];

/// `?q=` of the list.
#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    /// Email, name or external id (a part of it), or a customer id.
    #[serde(default)]
    q: String,
    /// The last customer id of the previous page.
    #[serde(default)]
    after: Option<String>,
}

/// `GET /dashboard/customers`.
async fn list(user: MerchantUser, query: web::Query<SearchQuery>) -> PageResult {
    let browser = &user.browser;
    let (customers, more) = browser
        .platform()
        .search_customers(&user.tenant_id, &query.q, query.after.as_deref())
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        StatusCode::OK,
        &CustomersPage {
            layout: browser.layout(),
            query: query.q.trim().to_owned(),
            next_after: more
                .then(|| customers.last().map(|last| last.id.clone()))
                .flatten(),
            customers,
        },
    )
}

/// What the page says after an action succeeded (`?done=`): a fixed set,
/// so nothing from the URL is echoed.
#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "override" => Some("Override saved; entitlements recomputed."),
        "override_removed" => Some("Override removed; entitlements recomputed."),
        "refund" => Some("Refund made on Stripe."),
        "canceled" => Some("Subscription canceled."),
        "resumed" => Some("Subscription resumed: it renews again."),
        _ => None,
    }
}

/// `GET /dashboard/customers/{id}`.
async fn detail(
    user: MerchantUser,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> PageResult {
    let browser = &user.browser;
    let customer = customer_of(browser, &user.tenant_id, &id)
        .await
        .map_err(|err| err.with_browser(browser))?;
    let view = Problems {
        notice: done_message(&query.done),
        ..Problems::default()
    };
    render(browser, &user.tenant_id, customer, StatusCode::OK, view).await
}

/// What a re-shown page says about the form that failed, with its values.
#[derive(Default)]
struct Problems {
    notice: Option<&'static str>,
    override_form: OverrideForm,
    override_error: Option<String>,
    refund_form: RefundForm,
    refund_error: Option<String>,
    subscription_error: Option<String>,
}

/// The customer `raw` of the merchant's tenant (404 otherwise).
async fn customer_of(
    browser: &Browser,
    tenant: &TenantId,
    raw: &str,
) -> Result<(CustomerId, CustomerRow), WebError> {
    let id = CustomerId::parse(raw).map_err(|_| WebError::NotFound)?;
    let row = browser.platform().customer(tenant, &id).await?;
    Ok((id, row))
}

async fn render(
    browser: &Browser,
    tenant: &TenantId,
    (id, customer): (CustomerId, CustomerRow),
    status: StatusCode,
    problems: Problems,
) -> PageResult {
    let page = customer_page(browser, tenant, &id, customer, problems)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(status, &page)
}

async fn customer_page(
    browser: &Browser,
    tenant: &TenantId,
    id: &CustomerId,
    customer: CustomerRow,
    problems: Problems,
) -> Result<CustomerPage, PlatformError> {
    let platform = browser.platform();
    let plans = platform.plans(tenant).await?;
    let plan_name = |plan_id: &str| {
        plans
            .iter()
            .find(|plan| plan.id == plan_id)
            .map_or_else(|| plan_id.to_owned(), |plan| plan.name.clone())
    };
    let subscriptions = platform
        .customer_subscriptions(tenant, id)
        .await?
        .into_iter()
        .map(|row| SubscriptionLine {
            plan: row
                .plan_id
                .as_deref()
                .map_or_else(|| "a price outside your catalog".to_owned(), plan_name),
            live: !matches!(
                row.status.as_str(),
                "canceled" | "incomplete_expired" | "incomplete"
            ),
            resumable: row.cancel_at_period_end && row.status != "canceled",
            renews: row.current_period_end.map(day),
            id: row.id,
            status: row.status,
            quantity: row.quantity,
            cancel_at_period_end: row.cancel_at_period_end,
        })
        .collect();
    let invoices = platform
        .customer_invoices(tenant, id)
        .await?
        .into_iter()
        .map(|row| {
            let money = |minor| money_text(minor, &row.currency);
            InvoiceLine {
                amount_due: money(row.amount_due),
                amount_paid: money(row.amount_paid),
                created: day(row.created_at),
                refundable: row.status == "paid" && row.amount_paid > 0,
                number: row.number.unwrap_or_default(),
                status: row.status,
                id: row.stripe_invoice_id,
                hosted_url: row.hosted_invoice_url,
            }
        })
        .collect();
    let entitlements = platform
        .customer_entitlements(tenant, id)
        .await?
        .into_iter()
        .map(|(key, entitlement)| EntitlementLine {
            feature: key.to_string(),
            allowed: entitlement.allowed,
            limit: entitlement.limit,
            source: match &entitlement.source {
                Source::Plan(plan) => format!("plan {}", plan_name(plan.as_str())),
                Source::Override => "override".to_owned(),
                Source::Dunning(plan) => {
                    format!("dunning (reduced from plan {})", plan_name(plan.as_str()))
                }
            },
        })
        .collect();
    let overrides = platform
        .entitlement_overrides(tenant, id)
        .await?
        .into_iter()
        .map(|row| OverrideLine {
            action: override_text(&row.action),
            until: row.until.map(day),
            expired: row.until.is_some_and(|until| until <= platform.now()),
            feature_id: row.feature_id,
            feature: row.lookup_key,
        })
        .collect();
    let features = platform
        .features(tenant)
        .await?
        .into_iter()
        .filter(|feature| !feature.archived)
        .map(|feature| FeatureChoice {
            id: feature.id,
            label: format!("{} ({})", feature.name, feature.lookup_key),
        })
        .collect();
    Ok(CustomerPage {
        layout: browser.layout(),
        customer,
        subscriptions,
        invoices,
        entitlements,
        overrides,
        features,
        notice: problems.notice,
        override_form: problems.override_form,
        override_error: problems.override_error,
        refund_key: platform::tokens::random_token(),
        refund_form: problems.refund_form,
        refund_error: problems.refund_error,
        subscription_error: problems.subscription_error,
    })
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn money_text(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => Money::new(minor, currency).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// A stored override action in words.
fn override_text(stored: &str) -> String {
    match serde_json::from_str::<OverrideAction>(stored) {
        Ok(OverrideAction::Revoke) => "revoked".to_owned(),
        Ok(OverrideAction::Grant(GrantValue::Enabled)) => "granted".to_owned(),
        Ok(OverrideAction::Grant(GrantValue::Unlimited)) => "unlimited".to_owned(),
        Ok(OverrideAction::Grant(GrantValue::Limit(limit))) => format!("limit {limit}"),
        Err(_) => stored.to_owned(),
    }
}

fn redirect_to(customer: &str, done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            "location",
            format!("/dashboard/customers/{customer}?done={done}"),
        ))
        .finish()
}

/// The merchant behind a form, its tenant, and an audit context for the action.
fn acting(browser: &Browser) -> Result<(TenantId, AuditContext), WebError> {
    let (signed_in, tenant) = browser.require_merchant()?;
    let ctx = browser
        .platform()
        .audit_context(signed_in.actor()?, &RequestId::current_or_new());
    Ok((tenant, ctx))
}

/// An invalid input re-shows the page with the message by its form (422);
/// anything else is an error page.
async fn outcome(
    browser: &Browser,
    tenant: &TenantId,
    customer: (CustomerId, CustomerRow),
    result: Result<&'static str, PlatformError>,
    on_invalid: impl FnOnce(String) -> Problems,
) -> PageResult {
    match result {
        Ok(done) => Ok(redirect_to(customer.0.as_str(), done)),
        Err(PlatformError::Invalid { message, .. }) => {
            render(
                browser,
                tenant,
                customer,
                StatusCode::UNPROCESSABLE_ENTITY,
                on_invalid(message),
            )
            .await
        }
        Err(err) => Err(WebError::from(err).with_browser(browser)),
    }
}

/// The override as the domain's action and end, or what is wrong.
fn parse_override(
    form: &OverrideForm,
) -> Result<(FeatureId, OverrideAction, Option<DateTime<Utc>>), PlatformError> {
    let feature = FeatureId::parse(form.feature.trim())
        .map_err(|_| PlatformError::invalid("feature", "choose a feature"))?;
    let action = match form.action.as_str() {
        "enable" => OverrideAction::Grant(GrantValue::Enabled),
        "unlimited" => OverrideAction::Grant(GrantValue::Unlimited),
        "revoke" => OverrideAction::Revoke,
        "limit" => {
            let limit = form
                .limit
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|l| *l >= 0)
                .ok_or_else(|| {
                    PlatformError::invalid("limit", "a limit is a whole number, 0 or more")
                })?;
            OverrideAction::Grant(GrantValue::Limit(limit))
        }
        _ => {
            return Err(PlatformError::invalid(
                "action",
                "choose what the override does: enable, set a limit, unlimited or revoke",
            ));
        }
    };
    let until = match form.until.trim() {
        "" => None,
        raw => Some(
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc())
                .ok_or_else(|| {
                    PlatformError::invalid("until", "the end date reads like 2026-12-31")
                })?,
        ),
    };
    Ok((feature, action, until))
}

/// `POST /dashboard/customers/{id}/overrides`: grant, limit or revoke a
/// feature, optionally until a date.
async fn set_override(
    CsrfForm { form, browser }: CsrfForm<OverrideForm>,
    id: web::Path<String>,
) -> PageResult {
    let (tenant, ctx) = acting(&browser)?;
    let customer = customer_of(&browser, &tenant, &id)
        .await
        .map_err(|err| err.with_browser(&browser))?;
    let result = match parse_override(&form) {
        Ok((feature, action, until)) => browser
            .platform()
            .set_entitlement_override(&tenant, &ctx, &customer.0, &feature, action, until)
            .await
            .map(|_| "override"),
        Err(err) => Err(err),
    };
    outcome(&browser, &tenant, customer, result, |message| Problems {
        override_form: form,
        override_error: Some(message),
        ..Problems::default()
    })
    .await
}

/// `POST /dashboard/customers/{id}/overrides/{feature}/remove`.
async fn remove_override(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (id, feature) = path.into_inner();
    let (tenant, ctx) = acting(&browser)?;
    let customer = customer_of(&browser, &tenant, &id)
        .await
        .map_err(|err| err.with_browser(&browser))?;
    let feature =
        FeatureId::parse(&feature).map_err(|_| WebError::NotFound.with_browser(&browser))?;
    browser
        .platform()
        .delete_entitlement_override(&tenant, &ctx, &customer.0, &feature)
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(redirect_to(customer.0.as_str(), "override_removed"))
}

/// `POST /dashboard/customers/{id}/refunds`: all of a paid invoice, or the
/// amount typed (in major units, e.g. `5.00`), with an optional reason.
async fn refund(
    CsrfForm { form, browser }: CsrfForm<RefundForm>,
    id: web::Path<String>,
) -> PageResult {
    let (tenant, ctx) = acting(&browser)?;
    let customer = customer_of(&browser, &tenant, &id)
        .await
        .map_err(|err| err.with_browser(&browser))?;
    let result = make_refund(&browser, &tenant, &ctx, &customer.0, &form).await;
    outcome(&browser, &tenant, customer, result, |message| Problems {
        refund_form: form,
        refund_error: Some(message),
        ..Problems::default()
    })
    .await
}

async fn make_refund(
    browser: &Browser,
    tenant: &TenantId,
    ctx: &AuditContext,
    customer: &CustomerId,
    form: &RefundForm,
) -> Result<&'static str, PlatformError> {
    let platform = browser.platform();
    let not_theirs =
        || PlatformError::invalid("invoice", "choose one of this customer's paid invoices");
    let invoice = match platform.invoice(tenant, form.invoice.trim()).await {
        Ok(invoice) if invoice.customer_id == customer.as_str() => invoice,
        Ok(_) | Err(PlatformError::NotFound(_)) => return Err(not_theirs()),
        Err(err) => return Err(err),
    };
    let amount = match form.amount.trim() {
        "" => None,
        raw => {
            let currency = Currency::parse(&invoice.currency)
                .map_err(|err| PlatformError::Internal(format!("stored currency: {err}")))?;
            let money = Money::parse_major(raw, currency).map_err(|_| {
                PlatformError::invalid(
                    "amount",
                    format!("the amount reads like 5.00 (in {}), or leave it empty to refund everything", currency.code().to_uppercase()),
                )
            })?;
            Some(money.amount_minor)
        }
    };
    let reason = match form.reason.as_str() {
        "" => None,
        "duplicate" => Some(RefundReason::Duplicate),
        "fraudulent" => Some(RefundReason::Fraudulent),
        "requested_by_customer" => Some(RefundReason::RequestedByCustomer),
        _ => {
            return Err(PlatformError::invalid(
                "reason",
                "choose a reason from the list",
            ));
        }
    };
    // The form's one-time key: a second submit of the same page (a double
    // click, a reload) gets the first refund back instead of a second one.
    let once = Some(form.idempotency_key.trim()).filter(|key| !key.is_empty());
    let key = platform::payments::request_key(once, &ctx.request_id);
    platform
        .create_refund(
            tenant,
            ctx,
            &key,
            RefundInput {
                target: RefundTarget::Invoice(invoice.stripe_invoice_id),
                amount,
                reason,
            },
        )
        .await?;
    Ok("refund")
}

/// The cancel form: `now` or `period_end`.
#[derive(Deserialize)]
pub(crate) struct CancelForm {
    #[serde(default)]
    when: String,
}

/// The customer and one of its subscriptions (404 for anything else).
async fn subscription_of(
    browser: &Browser,
    tenant: &TenantId,
    raw_customer: &str,
    raw_subscription: &str,
) -> Result<((CustomerId, CustomerRow), SubscriptionId), WebError> {
    let customer = customer_of(browser, tenant, raw_customer).await?;
    let id = SubscriptionId::parse(raw_subscription).map_err(|_| WebError::NotFound)?;
    let row = browser.platform().subscription(tenant, &id).await?;
    if row.customer_id != customer.0.as_str() {
        return Err(WebError::NotFound);
    }
    Ok((customer, id))
}

/// `POST /dashboard/customers/{id}/subscriptions/{subscription}/cancel`.
async fn cancel_subscription(
    CsrfForm { form, browser }: CsrfForm<CancelForm>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (tenant, ctx) = acting(&browser)?;
    let (customer, subscription) = subscription_of(&browser, &tenant, &path.0, &path.1)
        .await
        .map_err(|err| err.with_browser(&browser))?;
    let result = match form.when.as_str() {
        "now" | "period_end" => browser
            .platform()
            .cancel_subscription(&tenant, &ctx, &subscription, form.when == "period_end")
            .await
            .map(|_| "canceled"),
        _ => Err(PlatformError::invalid(
            "when",
            "choose whether to cancel now or at the end of the period",
        )),
    };
    outcome(&browser, &tenant, customer, result, |message| Problems {
        subscription_error: Some(message),
        ..Problems::default()
    })
    .await
}

/// `POST /dashboard/customers/{id}/subscriptions/{subscription}/resume`.
async fn resume_subscription(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (tenant, ctx) = acting(&browser)?;
    let (customer, subscription) = subscription_of(&browser, &tenant, &path.0, &path.1)
        .await
        .map_err(|err| err.with_browser(&browser))?;
    let result = browser
        .platform()
        .resume_subscription(&tenant, &ctx, &subscription)
        .await
        .map(|_| "resumed");
    outcome(&browser, &tenant, customer, result, |message| Problems {
        subscription_error: Some(message),
        ..Problems::default()
    })
    .await
}

/// `/dashboard/customers`.
#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    layout: Layout,
    /// The search as typed (trimmed), empty for "all".
    query: String,
    customers: Vec<CustomerRow>,
    /// The cursor of the next page, when there is one.
    next_after: Option<String>,
}

/// `/dashboard/customers/{id}`.
#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    layout: Layout,
    customer: CustomerRow,
    subscriptions: Vec<SubscriptionLine>,
    invoices: Vec<InvoiceLine>,
    entitlements: Vec<EntitlementLine>,
    overrides: Vec<OverrideLine>,
    /// Features the overrides editor offers.
    features: Vec<FeatureChoice>,
    /// What the last action did.
    notice: Option<&'static str>,
    /// The overrides editor's values (as typed after a failure).
    override_form: OverrideForm,
    override_error: Option<String>,
    /// The refund form's values (as typed after a failure).
    refund_form: RefundForm,
    /// The refund form's one-time idempotency key.
    refund_key: String,
    refund_error: Option<String>,
    /// Why cancelling or resuming failed.
    subscription_error: Option<String>,
}

/// A subscription as the customer page lists it.
struct SubscriptionLine {
    id: String,
    plan: String,
    status: String,
    quantity: i64,
    /// End of the current period: the renewal, or the end of access.
    renews: Option<String>,
    cancel_at_period_end: bool,
    /// Not ended: it can be cancelled.
    live: bool,
    /// Ends at period end: it can be resumed.
    resumable: bool,
}

/// An invoice as the customer page lists it.
struct InvoiceLine {
    id: String,
    number: String,
    status: String,
    amount_due: String,
    amount_paid: String,
    created: String,
    hosted_url: Option<String>,
    /// Paid: the refund form offers it.
    refundable: bool,
}

/// An effective entitlement and why the customer has it.
struct EntitlementLine {
    feature: String,
    allowed: bool,
    limit: Option<i64>,
    source: String,
}

/// A stored override.
struct OverrideLine {
    feature_id: String,
    feature: String,
    action: String,
    until: Option<String>,
    expired: bool,
}

/// A feature the overrides editor offers.
struct FeatureChoice {
    id: String,
    label: String,
}

/// The overrides editor.
#[derive(Deserialize, Default)]
pub(crate) struct OverrideForm {
    /// `feat_…`.
    #[serde(default)]
    feature: String,
    /// `enable`, `limit`, `unlimited` or `revoke`.
    #[serde(default)]
    action: String,
    /// The limit, for `limit`.
    #[serde(default)]
    limit: String,
    /// `YYYY-MM-DD` (the override ends at 00:00 UTC that day), or empty.
    #[serde(default)]
    until: String,
}

/// The refund form.
#[derive(Deserialize, Default)]
pub(crate) struct RefundForm {
    /// The paid invoice (`in_…`).
    #[serde(default)]
    invoice: String,
    /// Major units; empty for everything still refundable.
    #[serde(default)]
    amount: String,
    /// Empty, `duplicate`, `fraudulent` or `requested_by_customer`.
    #[serde(default)]
    reason: String,
    /// Random per rendered form, so submitting it twice refunds once.
    #[serde(default)]
    idempotency_key: String,
}
