//! The merchant dashboard: tenant overview, API keys, audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use billing::ids::TenantId;
use platform::connect::OnboardingUrls;
use platform::records::{ApiKey, ApiKeyMode, Tenant};
use platform::tenants::ProfileForm;
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, MerchantUser, TokenOnly};
use crate::error::WebError;
use crate::views::{AuditPage, Checklist, DashboardPage, SettingsPage};

type PageResult = Result<HttpResponse, WebError>;

/// The "create API key" form.
#[derive(Deserialize)]
pub(crate) struct CreateKeyForm {
    /// Label of the new key.
    /// Missing: empty, refused by the service after the login check.
    #[serde(default)]
    name: String,
}

/// Renders the dashboard, optionally with a just-created key or an error.
async fn render(
    browser: &Browser,
    status: StatusCode,
    new_key: Option<String>,
    error: Option<String>,
) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let tenant = signed_in
        .tenant
        .clone()
        .ok_or_else(|| PlatformError::Internal("merchant user without tenant".into()))?;
    let api_keys = browser.platform().api_keys(&tenant_id).await?;
    let charts = crate::charts::overview_charts(&browser.platform().overview(&tenant_id).await?);
    let checklist = checklist(browser, &tenant_id, &tenant, &api_keys).await?;
    browser.page(
        status,
        &DashboardPage {
            layout: browser.layout(),
            tenant,
            api_keys,
            new_key,
            error,
            charts,
            checklist,
        },
    )
}

/// Works out the onboarding checklist from the tenant's stored state.
async fn checklist(
    browser: &Browser,
    tenant_id: &TenantId,
    tenant: &Tenant,
    api_keys: &[ApiKey],
) -> Result<Checklist, WebError> {
    let platform = browser.platform();
    let usable = |key: &&ApiKey| key.revoked_at.is_none();
    Ok(Checklist {
        stripe: platform.stripe_connect_status(tenant_id).await?,
        has_plan: !platform.plans(tenant_id).await?.is_empty(),
        has_branding: tenant.brand_color.is_some() || tenant.logo_url.is_some(),
        has_api_key: api_keys.iter().any(|key| usable(&key)),
        platform_is_live: platform.settings().api_key_mode() == ApiKeyMode::Live,
        has_live_key: api_keys
            .iter()
            .filter(usable)
            .any(|key| key.mode == ApiKeyMode::Live),
    })
}

/// `POST /dashboard/connect`: starts (or resumes) Stripe Connect onboarding
/// and sends the merchant to Stripe's hosted onboarding page.
pub(crate) async fn connect_stripe(CsrfForm { browser, .. }: CsrfForm<TokenOnly>) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let platform = browser.platform();
    let ctx = platform.audit_context(signed_in.actor()?, &RequestId::current_or_new());
    let base = &platform.settings().public_url;
    let urls = OnboardingUrls {
        return_url: format!("{base}/dashboard/connect/return"),
        // An expired or reused link: the dashboard's button makes a new one.
        refresh_url: format!("{base}/dashboard"),
    };
    let link = platform
        .connect_stripe(&tenant_id, &ctx, &urls)
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", link))
        .finish())
}

/// `GET /dashboard/connect/return`: back from onboarding. Coming back proves
/// nothing, so the account is read from Stripe before the dashboard shows
/// its status; if Stripe cannot be reached, the `account.updated` webhook
/// still brings the status up to date later.
pub(crate) async fn connect_return(user: MerchantUser) -> PageResult {
    let browser = &user.browser;
    let (signed_in, _) = browser.require_merchant()?;
    let platform = browser.platform();
    let ctx = platform.audit_context(signed_in.actor()?, &RequestId::current_or_new());
    if let Err(err) = platform
        .refresh_stripe_connection(&user.tenant_id, &ctx)
        .await
    {
        tracing::warn!(error = %err, "could not refresh the Stripe connection on return");
    }
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/dashboard"))
        .finish())
}

/// `GET /dashboard`.
pub(crate) async fn overview(user: MerchantUser) -> PageResult {
    render(&user.browser, StatusCode::OK, None, None)
        .await
        .map_err(|err| err.with_browser(&user.browser))
}

/// `POST /dashboard/api_keys`: shows the new key once, on the response page.
pub(crate) async fn create_api_key(
    CsrfForm { form, browser }: CsrfForm<CreateKeyForm>,
) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let user_id = signed_in.user.id.parse().ok();
    let actor = signed_in.actor()?;
    let created = browser
        .platform()
        .create_api_key(
            &tenant_id,
            &form.name,
            user_id.as_ref(),
            actor,
            &RequestId::current_or_new(),
        )
        .await;
    let outcome = match created {
        Ok(created) => {
            render(
                &browser,
                StatusCode::CREATED,
                Some(created.secret.expose().to_owned()),
                None,
            )
            .await
        }
        Err(err @ PlatformError::Invalid { .. }) => {
            render(
                &browser,
                StatusCode::BAD_REQUEST,
                None,
                Some(err.to_string()),
            )
            .await
        }
        Err(err) => Err(err.into()),
    };
    outcome.map_err(|err| err.with_browser(&browser))
}

/// `POST /dashboard/api_keys/{id}/revoke`.
pub(crate) async fn revoke_api_key(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    id: web::Path<String>,
) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let actor = signed_in.actor()?;
    browser
        .platform()
        .revoke_api_key(&tenant_id, &id, actor, &RequestId::current_or_new())
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/dashboard"))
        .finish())
}

/// `GET /dashboard/audit`.
pub(crate) async fn audit_log(user: MerchantUser) -> PageResult {
    let events = user
        .browser
        .platform()
        .audit_events(&user.tenant_id)
        .await
        .map_err(|err| WebError::from(err).with_browser(&user.browser))?;
    user.browser.page(
        StatusCode::OK,
        &AuditPage {
            layout: user.browser.layout(),
            events,
            show_tenant: false,
        },
    )
}

/// The settings form.
#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    /// Business name.
    /// Missing: empty, refused by the service after the login check.
    #[serde(default)]
    name: String,
    /// Brand colour, may be empty.
    #[serde(default)]
    brand_color: String,
    /// Logo URL, may be empty.
    #[serde(default)]
    logo_url: String,
    /// Support email, may be empty.
    #[serde(default)]
    support_email: String,
}

impl SettingsForm {
    fn into_profile(self) -> ProfileForm {
        ProfileForm {
            name: self.name,
            brand_color: self.brand_color,
            logo_url: self.logo_url,
            support_email: self.support_email,
        }
    }
}

/// The settings page filled from `form`.
fn settings_view(
    browser: &Browser,
    form: ProfileForm,
    error: Option<String>,
    saved: bool,
) -> SettingsPage {
    SettingsPage {
        layout: browser.layout(),
        name: form.name,
        brand_color: form.brand_color,
        logo_url: form.logo_url,
        support_email: form.support_email,
        error,
        saved,
    }
}

/// The stored profile as form values.
fn profile_of(tenant: Tenant) -> ProfileForm {
    ProfileForm {
        name: tenant.name,
        brand_color: tenant.brand_color.unwrap_or_default(),
        logo_url: tenant.logo_url.unwrap_or_default(),
        support_email: tenant.support_email.unwrap_or_default(),
    }
}

/// `GET /dashboard/settings`.
pub(crate) async fn settings_page(user: MerchantUser) -> PageResult {
    let browser = &user.browser;
    let (signed_in, _) = browser.require_merchant()?;
    let tenant = signed_in.tenant.clone().ok_or_else(|| {
        WebError::from(PlatformError::Internal(
            "merchant user without tenant".into(),
        ))
    })?;
    browser.page(
        StatusCode::OK,
        &settings_view(browser, profile_of(tenant), None, false),
    )
}

/// `POST /dashboard/settings`: saves, or shows the problem with the typed values.
pub(crate) async fn save_settings(
    CsrfForm { form, browser }: CsrfForm<SettingsForm>,
) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let actor = signed_in.actor()?;
    let typed = form.into_profile();
    let saved = browser
        .platform()
        .update_tenant_profile(&tenant_id, &typed, actor, &RequestId::current_or_new())
        .await;
    match saved {
        Ok(tenant) => browser.page(
            StatusCode::OK,
            &settings_view(&browser, profile_of(tenant), None, true),
        ),
        Err(err @ PlatformError::Invalid { .. }) => browser.page(
            StatusCode::BAD_REQUEST,
            &settings_view(&browser, typed, Some(err.to_string()), false),
        ),
        Err(err) => Err(WebError::from(err).with_browser(&browser)),
    }
}
