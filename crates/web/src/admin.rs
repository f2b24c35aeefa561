//! The platform admin console: tenants (suspend / reactivate), audit log
//! and, on the Stripe emulator, the button that advances the one clock.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use platform::RequestId;
use platform::jobs::JobHandlers;
use platform::records::TenantStatus;

use crate::browser::{AdminUser, Browser, CsrfForm, TokenOnly};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::{AdminTenantsPage, AuditPage};

type PageResult = Result<HttpResponse, WebError>;

/// `?q=` of the tenants list.
#[derive(serde::Deserialize)]
pub(crate) struct TenantSearch {
    /// Part of a name, URL name or id; empty for all.
    #[serde(default)]
    q: String,
}

/// `GET /admin`.
pub(crate) async fn tenants(admin: AdminUser, search: web::Query<TenantSearch>) -> PageResult {
    render_tenants(
        &admin.browser,
        StatusCode::OK,
        &search.q,
        ClockForm::default(),
    )
    .await
    .map_err(|err| err.with_browser(&admin.browser))
}

/// The clock's advance form: the default step, or as typed when refused.
struct ClockForm {
    /// How far to advance.
    duration: String,
    /// Why it was refused.
    errors: FieldErrors,
}

impl Default for ClockForm {
    fn default() -> Self {
        Self {
            duration: "1d".to_owned(),
            errors: FieldErrors::none(),
        }
    }
}

/// The tenants list matching `query`, with the clock's form.
async fn render_tenants(
    browser: &Browser,
    status: StatusCode,
    query: &str,
    clock_form: ClockForm,
) -> PageResult {
    let signed_in = browser.require_admin()?;
    let tenants = browser
        .platform()
        .admin_search_tenants(signed_in, query)
        .await?;
    browser.page(
        status,
        &AdminTenantsPage {
            layout: browser.layout(),
            tenants,
            query: query.trim().to_owned(),
            clock: browser.platform().admin_clock(),
            duration: clock_form.duration,
            errors: clock_form.errors,
        },
    )
}

async fn set_status(
    form: CsrfForm<TokenOnly>,
    tenant_id: &str,
    status: TenantStatus,
) -> PageResult {
    let browser = &form.browser;
    let signed_in = browser.require_admin()?;
    browser
        .platform()
        .admin_set_tenant_status(signed_in, tenant_id, status, &RequestId::current_or_new())
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/admin"))
        .finish())
}

/// `POST /admin/tenants/{id}/suspend`: the tenant's API keys start getting 403.
pub(crate) async fn suspend_tenant(form: CsrfForm<TokenOnly>, id: web::Path<String>) -> PageResult {
    set_status(form, &id, TenantStatus::Suspended).await
}

/// `POST /admin/tenants/{id}/reactivate`.
pub(crate) async fn reactivate_tenant(
    form: CsrfForm<TokenOnly>,
    id: web::Path<String>,
) -> PageResult {
    set_status(form, &id, TenantStatus::Active).await
}

/// The platform-fee form of the tenants page and of a tenant's page.
#[derive(serde::Deserialize)]
pub(crate) struct FeeForm {
    /// The new fee, a percentage such as `2.5`.
    #[serde(default)]
    pub(crate) fee_percent: String,
}

/// `POST /admin/tenants/{id}/fee`: the tenant's platform fee, applied to the
/// subscriptions it sells from now on.
/// A refused fee is shown on the tenant's page, typed and beside its
/// input (422): the list has no room for the message.
pub(crate) async fn set_fee(form: CsrfForm<FeeForm>, id: web::Path<String>) -> PageResult {
    let browser = &form.browser;
    let signed_in = browser.require_admin()?;
    let saved = browser
        .platform()
        .admin_set_platform_fee(
            signed_in,
            &id,
            &form.form.fee_percent,
            &RequestId::current_or_new(),
        )
        .await;
    match saved {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("location", "/admin"))
            .finish()),
        Err(err) => match FieldErrors::placed(err, |_| "fee_percent") {
            Ok(errors) => {
                let typed = Some(form.form.fee_percent.clone());
                crate::console::render_tenant(browser, &id, REFUSED, typed, errors).await
            }
            Err(err) => Err(WebError::from(err).with_browser(browser)),
        },
    }
}

/// The advance form.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct AdvanceForm {
    /// How far: `30d`, `12h`...
    #[serde(default)]
    duration: String,
}

/// `POST /admin/clock/advance`: moves Billforge and the emulator forward
/// together, running what falls due (as `billforge clock advance` does),
/// then back to the console, which shows the new time.
pub(crate) async fn advance_clock(
    form: CsrfForm<AdvanceForm>,
    handlers: web::Data<JobHandlers>,
) -> PageResult {
    let browser = &form.browser;
    let signed_in = browser.require_admin()?;
    let advanced = browser
        .platform()
        .admin_advance_clock(
            signed_in,
            &form.form.duration,
            &handlers,
            &RequestId::current_or_new(),
        )
        .await;
    match advanced {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("location", "/admin"))
            .finish()),
        Err(err) => match FieldErrors::placed(err, |_| "duration") {
            Ok(errors) => {
                let typed = ClockForm {
                    duration: form.form.duration.clone(),
                    errors,
                };
                render_tenants(browser, REFUSED, "", typed)
                    .await
                    .map_err(|err| err.with_browser(browser))
            }
            Err(err) => Err(WebError::from(err).with_browser(browser)),
        },
    }
}

/// `GET /admin/audit`: every tenant's entries.
pub(crate) async fn audit_log(admin: AdminUser) -> PageResult {
    let browser = &admin.browser;
    let signed_in = browser.require_admin()?;
    let events = browser
        .platform()
        .admin_audit_events(signed_in)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        StatusCode::OK,
        &AuditPage {
            layout: browser.layout(),
            events,
            show_tenant: true,
        },
    )
}
