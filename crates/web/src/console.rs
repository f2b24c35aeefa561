//! The admin console beyond the tenants list: a tenant's page (figures,
//! suspend/reactivate, platform fee), platform metrics per tenant, and the
//! webhook inbox with its dead letters and their retry button.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use billing::money::Money;
use platform::RequestId;
use platform::console::TenantFigures;
use serde::Deserialize;

use crate::admin::FeeForm;
use crate::browser::{AdminUser, Browser, CsrfForm, TokenOnly};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Admin get "/admin/tenants/{id}" => tenant,
    Admin post "/admin/tenants/{id}" => save_fee,
    Admin get "/admin/metrics" => metrics,
    Admin get "/admin/webhooks" => webhooks,
    Admin post "/admin/webhooks/{id}/retry" => retry_webhook_event,
];

/// A tenant's MRR in words: one amount per currency.
fn mrr_text(mrr: &[Money]) -> String {
    if mrr.is_empty() {
        return "none".to_owned();
    }
    mrr.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A fee in basis points as the form shows it: `2.50`.
fn fee_text(bps: i32) -> String {
    format!("{}.{:02}", bps / 100, bps % 100)
}

/// `GET /admin/tenants/{id}`.
async fn tenant(admin: AdminUser, id: web::Path<String>) -> PageResult {
    render_tenant(
        &admin.browser,
        &id,
        StatusCode::OK,
        None,
        FieldErrors::none(),
    )
    .await
}

/// A tenant's page; after a refused fee (from this page or the tenants
/// list), with the typed fee and the message beside it.
pub(crate) async fn render_tenant(
    browser: &Browser,
    id: &str,
    status: StatusCode,
    typed_fee: Option<String>,
    errors: FieldErrors,
) -> PageResult {
    let signed_in = browser.require_admin()?;
    let figures = browser
        .platform()
        .admin_tenant(signed_in, id)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        status,
        &TenantPage {
            layout: browser.layout(),
            fee: typed_fee.unwrap_or_else(|| fee_text(figures.tenant.platform_fee_bps)),
            mrr: mrr_text(&figures.mrr),
            figures,
            errors,
        },
    )
}

/// `POST /admin/tenants/{id}`: sets the platform fee, or re-shows the page
/// with what is wrong (422).
async fn save_fee(
    CsrfForm { form, browser }: CsrfForm<FeeForm>,
    id: web::Path<String>,
) -> PageResult {
    let signed_in = browser.require_admin()?;
    let saved = browser
        .platform()
        .admin_set_platform_fee(
            signed_in,
            &id,
            form.fee_percent.trim(),
            &RequestId::current_or_new(),
        )
        .await;
    match saved {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("location", format!("/admin/tenants/{id}")))
            .finish()),
        Err(err) => match FieldErrors::placed(err, |_| "fee_percent") {
            Ok(errors) => {
                render_tenant(&browser, &id, REFUSED, Some(form.fee_percent), errors).await
            }
            Err(err) => Err(WebError::from(err).with_browser(&browser)),
        },
    }
}

/// `GET /admin/metrics`.
async fn metrics(admin: AdminUser) -> PageResult {
    let browser = &admin.browser;
    let signed_in = browser.require_admin()?;
    let tenants = browser
        .platform()
        .admin_metrics(signed_in)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    let mut totals: Vec<Money> = Vec::new();
    for amount in tenants.iter().flat_map(|t| t.mrr.iter()) {
        match totals
            .iter_mut()
            .find(|total| total.currency == amount.currency)
        {
            Some(total) => {
                total.amount_minor = total.amount_minor.saturating_add(amount.amount_minor)
            }
            None => totals.push(*amount),
        }
    }
    let rows = tenants
        .into_iter()
        .map(|figures| MetricsRow {
            mrr: mrr_text(&figures.mrr),
            figures,
        })
        .collect::<Vec<_>>();
    browser.page(
        StatusCode::OK,
        &MetricsPage {
            layout: browser.layout(),
            total_mrr: mrr_text(&totals),
            total_subscriptions: rows.iter().map(|r| r.figures.live_subscriptions).sum(),
            total_failed: rows.iter().map(|r| r.figures.failed_payments).sum(),
            rows,
        },
    )
}

/// `?retried=` after a retry.
#[derive(Deserialize)]
pub(crate) struct RetriedQuery {
    #[serde(default)]
    retried: Option<String>,
}

/// `GET /admin/webhooks`.
async fn webhooks(admin: AdminUser, query: web::Query<RetriedQuery>) -> PageResult {
    let browser = &admin.browser;
    let signed_in = browser.require_admin()?;
    let inbox = browser
        .platform()
        .admin_webhook_inbox(signed_in)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        StatusCode::OK,
        &WebhooksPage {
            layout: browser.layout(),
            dead: inbox.dead.into_iter().map(InboxLine::from).collect(),
            failing: inbox.failing.into_iter().map(InboxLine::from).collect(),
            retried: query.retried.is_some(),
        },
    )
}

/// `POST /admin/webhooks/{id}/retry`: a fresh set of attempts for a dead event.
async fn retry_webhook_event(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    id: web::Path<String>,
) -> PageResult {
    let signed_in = browser.require_admin()?;
    browser
        .platform()
        .admin_retry_webhook_event(signed_in, &id, &RequestId::current_or_new())
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/admin/webhooks?retried=1"))
        .finish())
}

/// `/admin/tenants/{id}`.
#[derive(Template)]
#[template(path = "admin_tenant.html")]
struct TenantPage {
    layout: Layout,
    figures: TenantFigures,
    /// MRR in words.
    mrr: String,
    /// The fee field's value: stored, or as typed after a failure.
    fee: String,
    /// Why the fee was refused.
    errors: FieldErrors,
}

/// One tenant's row of the metrics page.
struct MetricsRow {
    figures: TenantFigures,
    mrr: String,
}

/// `/admin/metrics`.
#[derive(Template)]
#[template(path = "admin_metrics.html")]
struct MetricsPage {
    layout: Layout,
    rows: Vec<MetricsRow>,
    /// Every tenant's MRR added up per currency.
    total_mrr: String,
    total_subscriptions: i64,
    total_failed: usize,
}

/// A webhook inbox event as listed (never its payload: it may carry
/// customer data; the admin reads the error and the ids).
struct InboxLine {
    id: String,
    event_type: String,
    account_id: String,
    tenant_id: String,
    attempts: i32,
    last_error: String,
    received_at: String,
}

impl From<platform::console::InboxEvent> for InboxLine {
    fn from(event: platform::console::InboxEvent) -> Self {
        Self {
            id: event.id,
            event_type: event.event_type,
            account_id: event.account_id.unwrap_or_default(),
            tenant_id: event.tenant_id.unwrap_or_default(),
            attempts: event.attempts,
            last_error: event.last_error.unwrap_or_default(),
            received_at: event.received_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// `/admin/webhooks`.
#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    dead: Vec<InboxLine>,
    failing: Vec<InboxLine>,
    /// Whether an event was just retried.
    retried: bool,
}
