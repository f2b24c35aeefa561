//! The merchant dashboard: tenant overview, API keys, audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, CsrfProtected, MerchantUser, TokenOnly};
use crate::error::WebError;
use crate::views::{AuditPage, DashboardPage};

type PageResult = Result<HttpResponse, WebError>;

/// The "create API key" form.
#[derive(Deserialize)]
pub(crate) struct CreateKeyForm {
    /// Checked by [`CsrfForm`] before the handler runs.
    #[serde(default)]
    csrf_token: String,
    /// Label of the new key.
    name: String,
}

impl CsrfProtected for CreateKeyForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
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
    browser.page(
        status,
        &DashboardPage {
            layout: browser.layout(),
            tenant,
            api_keys,
            new_key,
            error,
        },
    )
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
