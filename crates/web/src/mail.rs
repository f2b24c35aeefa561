//! Mail pages: the admin console's outbox (list and each message as its
//! recipient sees it) and the merchant's choice of customer emails.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use platform::RequestId;
use platform::mail::{MailSettings, OutboxMessage};
use serde::Deserialize;

use crate::browser::{AdminUser, CsrfForm, MerchantUser};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// A message's HTML is the sender's markup: shown in a sandboxed frame
/// under a policy that runs no script, loads nothing but images, and may
/// only be framed by the console itself.
const MESSAGE_HTML_POLICY: &str = "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/// `/admin/mail`.
#[derive(Template)]
#[template(path = "admin_mail.html")]
pub struct AdminMailPage {
    /// Shared layout.
    pub layout: Layout,
    /// The most recent messages, newest first.
    pub messages: Vec<OutboxMessage>,
}

/// `/admin/mail/{id}`.
#[derive(Template)]
#[template(path = "admin_mail_message.html")]
pub struct AdminMailMessagePage {
    /// Shared layout.
    pub layout: Layout,
    /// The message, as stored (and sent).
    pub message: OutboxMessage,
}

/// `/dashboard/settings/mail`.
#[derive(Template)]
#[template(path = "mail_settings.html")]
pub struct MailSettingsPage {
    /// Shared layout.
    pub layout: Layout,
    /// Each customer-facing kind and whether it is sent, and the footer:
    /// stored, or as typed when refused.
    pub settings: MailSettings,
    /// Why the form was refused.
    pub errors: FieldErrors,
    /// Whether the choice was just saved.
    pub saved: bool,
}

/// `GET /admin/mail`.
pub(crate) async fn outbox(admin: AdminUser) -> PageResult {
    let browser = &admin.browser;
    let signed_in = browser.require_admin()?;
    let messages = browser
        .platform()
        .admin_outbox(signed_in)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        StatusCode::OK,
        &AdminMailPage {
            layout: browser.layout(),
            messages,
        },
    )
}

/// Any tenant's message `id`, for an admin; a 404 page when there is none.
async fn admin_message(admin: &AdminUser, id: &str) -> Result<OutboxMessage, WebError> {
    let browser = &admin.browser;
    let signed_in = browser.require_admin()?;
    browser
        .platform()
        .admin_outbox_message(signed_in, id)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))
}

/// `GET /admin/mail/{id}`: headers, the HTML part in a sandboxed frame and
/// the text part.
pub(crate) async fn message(admin: AdminUser, id: web::Path<String>) -> PageResult {
    let message = admin_message(&admin, &id).await?;
    let browser = &admin.browser;
    browser.page(
        StatusCode::OK,
        &AdminMailMessagePage {
            layout: browser.layout(),
            message,
        },
    )
}

/// `GET /admin/mail/{id}/html`: the HTML part alone, for the frame.
pub(crate) async fn message_html(admin: AdminUser, id: web::Path<String>) -> PageResult {
    let message = admin_message(&admin, &id).await?;
    Ok(email_html(message.html))
}

/// An email's HTML part alone, to be shown in a sandboxed frame of our
/// own pages under [`MESSAGE_HTML_POLICY`].
pub(crate) fn email_html(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", MESSAGE_HTML_POLICY))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("cache-control", "no-store"))
        .body(html)
}

/// The mail settings form: one checkbox per kind, named by the kind.
#[derive(Deserialize)]
pub(crate) struct MailSettingsForm {
    /// The postal address printed under customer emails.
    #[serde(default)]
    footer_address: String,
    /// The merchant's page where customers manage their account.
    #[serde(default)]
    account_url: String,
    /// The ticked boxes (unticked ones are not submitted).
    #[serde(flatten)]
    enabled: BTreeMap<String, String>,
}

/// `GET /dashboard/settings/mail`.
pub(crate) async fn settings_page(user: MerchantUser) -> PageResult {
    let browser = &user.browser;
    let settings = browser
        .platform()
        .mail_settings(&user.tenant_id)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    browser.page(
        StatusCode::OK,
        &MailSettingsPage {
            layout: browser.layout(),
            settings,
            errors: FieldErrors::none(),
            saved: false,
        },
    )
}

/// `POST /dashboard/settings/mail`: saves, or shows the typed choice again
/// with the problem beside its input (422).
pub(crate) async fn save_settings(
    CsrfForm { form, browser }: CsrfForm<MailSettingsForm>,
) -> PageResult {
    let outcome = async {
        let (signed_in, tenant_id) = browser.require_merchant()?;
        let enabled: Vec<String> = form.enabled.into_keys().collect();
        let platform = browser.platform();
        let saved = platform
            .set_mail_settings(
                &tenant_id,
                &enabled,
                &form.footer_address,
                &form.account_url,
                signed_in.actor()?,
                &RequestId::current_or_new(),
            )
            .await;
        let (status, settings, errors) = match saved {
            Ok(settings) => (StatusCode::OK, settings, None),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| field)?;
                let mut typed = platform.mail_settings(&tenant_id).await?;
                for setting in &mut typed.kinds {
                    setting.enabled = enabled.iter().any(|kind| kind == setting.kind);
                }
                typed.footer_address = form.footer_address;
                typed.account_url = form.account_url;
                (REFUSED, typed, Some(errors))
            }
        };
        browser.page(
            status,
            &MailSettingsPage {
                layout: browser.layout(),
                settings,
                saved: errors.is_none(),
                errors: errors.unwrap_or_default(),
            },
        )
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}
