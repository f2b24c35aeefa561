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
use crate::forms::{FieldErrors, REFUSED};
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

/// What the API keys form shows: a just-created key, or a refused name.
#[derive(Default)]
struct KeyFormState {
    /// A key just created: its only appearance.
    new_key: Option<String>,
    /// The name as typed, kept when refused.
    typed_name: String,
    /// Why the name was refused.
    errors: FieldErrors,
}

/// Renders the dashboard.
async fn render(browser: &Browser, status: StatusCode, keys: KeyFormState) -> PageResult {
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
            new_key: keys.new_key,
            key_name: keys.typed_name,
            errors: keys.errors,
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
    render(&user.browser, StatusCode::OK, KeyFormState::default())
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
            let keys = KeyFormState {
                new_key: Some(created.secret.expose().to_owned()),
                ..KeyFormState::default()
            };
            render(&browser, StatusCode::CREATED, keys).await
        }
        Err(err) => match FieldErrors::placed(err, |_| "name") {
            Ok(errors) => {
                let keys = KeyFormState {
                    typed_name: form.name,
                    errors,
                    ..KeyFormState::default()
                };
                render(&browser, REFUSED, keys).await
            }
            Err(err) => Err(err.into()),
        },
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
    /// `preview` shows the sample email without saving; anything else saves.
    #[serde(default)]
    action: String,
    /// The branding as typed.
    #[serde(flatten)]
    branding: BrandingFields,
}

/// The settings form's branding inputs, as typed.
#[derive(Deserialize, Default)]
pub(crate) struct BrandingFields {
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

impl From<BrandingFields> for ProfileForm {
    fn from(fields: BrandingFields) -> Self {
        Self {
            name: fields.name,
            brand_color: fields.brand_color,
            logo_url: fields.logo_url,
            support_email: fields.support_email,
        }
    }
}

/// The preview's query: any branding value given replaces the stored one.
#[derive(Deserialize)]
pub(crate) struct PreviewQuery {
    /// Business name.
    name: Option<String>,
    /// Brand colour (`#rrggbb`, or empty for none).
    brand_color: Option<String>,
    /// Logo URL, or empty for none.
    logo_url: Option<String>,
    /// Support email, or empty for none.
    support_email: Option<String>,
}

/// Where the settings page's frame loads the sample email of `profile`.
fn preview_src(profile: &ProfileForm) -> Result<String, WebError> {
    let query = serde_urlencoded::to_string([
        ("name", &profile.name),
        ("brand_color", &profile.brand_color),
        ("logo_url", &profile.logo_url),
        ("support_email", &profile.support_email),
    ])
    .map_err(|err| PlatformError::Internal(format!("the preview's address: {err}")))?;
    Ok(format!("/dashboard/settings/preview?{query}"))
}

/// What the settings page shows besides the form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SettingsOutcome {
    /// Just opened, or refused.
    Shown,
    /// The sample email shows the typed, unsaved values.
    Previewed,
    /// The values were just saved.
    Saved,
}

/// The settings page: `form` in the inputs, the sample email in
/// `previewed`'s branding.
fn settings_view(
    browser: &Browser,
    form: ProfileForm,
    errors: FieldErrors,
    previewed: &ProfileForm,
    outcome: SettingsOutcome,
) -> Result<SettingsPage, WebError> {
    Ok(SettingsPage {
        layout: browser.layout(),
        preview_src: preview_src(previewed)?,
        name: form.name,
        brand_color: form.brand_color,
        logo_url: form.logo_url,
        support_email: form.support_email,
        errors,
        previewing: outcome == SettingsOutcome::Previewed,
        saved: outcome == SettingsOutcome::Saved,
    })
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

/// The signed-in merchant's stored profile.
fn stored_profile(browser: &Browser) -> Result<ProfileForm, WebError> {
    let (signed_in, _) = browser.require_merchant()?;
    let tenant = signed_in.tenant.clone().ok_or_else(|| {
        WebError::from(PlatformError::Internal(
            "merchant user without tenant".into(),
        ))
    })?;
    Ok(profile_of(tenant))
}

/// `GET /dashboard/settings`.
pub(crate) async fn settings_page(user: MerchantUser) -> PageResult {
    let browser = &user.browser;
    let page = async {
        let stored = stored_profile(browser)?;
        let view = settings_view(
            browser,
            stored.clone(),
            FieldErrors::none(),
            &stored,
            SettingsOutcome::Shown,
        )?;
        browser.page(StatusCode::OK, &view)
    };
    page.await.map_err(|err| err.with_browser(browser))
}

/// `POST /dashboard/settings`: previews the typed branding on the sample
/// email, or saves it; a refused value comes back beside its input (422)
/// and the sample keeps the stored branding.
pub(crate) async fn save_settings(
    CsrfForm { form, browser }: CsrfForm<SettingsForm>,
) -> PageResult {
    let outcome = async {
        let (signed_in, tenant_id) = browser.require_merchant()?;
        let platform = browser.platform();
        let typed = ProfileForm::from(form.branding);
        let applied = if form.action == "preview" {
            platform
                .preview_branding(&tenant_id, &typed)
                .await
                .map(|_| (typed.clone(), SettingsOutcome::Previewed))
        } else {
            platform
                .update_tenant_profile(
                    &tenant_id,
                    &typed,
                    signed_in.actor()?,
                    &RequestId::current_or_new(),
                )
                .await
                .map(|tenant| (profile_of(tenant), SettingsOutcome::Saved))
        };
        match applied {
            Ok((shown, outcome)) => browser.page(
                StatusCode::OK,
                &settings_view(
                    &browser,
                    shown.clone(),
                    FieldErrors::none(),
                    &shown,
                    outcome,
                )?,
            ),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| field)?;
                let stored = stored_profile(&browser)?;
                browser.page(
                    REFUSED,
                    &settings_view(&browser, typed, errors, &stored, SettingsOutcome::Shown)?,
                )
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// `GET /dashboard/settings/preview`: the sample email alone, for the
/// settings page's sandboxed frame, in the stored branding with the
/// query's values in place of the stored ones. A refused value is named in
/// plain text (422).
pub(crate) async fn branding_preview(
    user: MerchantUser,
    query: web::Query<PreviewQuery>,
) -> PageResult {
    let browser = &user.browser;
    let stored = stored_profile(browser)?;
    let PreviewQuery {
        name,
        brand_color,
        logo_url,
        support_email,
    } = query.into_inner();
    let typed = ProfileForm {
        name: name.unwrap_or(stored.name),
        brand_color: brand_color.unwrap_or(stored.brand_color),
        logo_url: logo_url.unwrap_or(stored.logo_url),
        support_email: support_email.unwrap_or(stored.support_email),
    };
    match browser
        .platform()
        .preview_branding(&user.tenant_id, &typed)
        .await
    {
        Ok(email) => Ok(crate::mail::email_html(email.html)),
        Err(PlatformError::Invalid { message, .. }) => Ok(HttpResponse::build(REFUSED)
            .content_type("text/plain; charset=utf-8")
            .body(message)),
        Err(err) => Err(WebError::from(err).with_browser(browser)),
    }
}
