//! Who is at the other end of a page request: cookies, session, CSRF.
//!
//! Two cookies, both `HttpOnly`, `SameSite=Lax`, and `Secure` when the site is
//! served over https: `bf_session` holds a random session token (the database
//! keeps only its hash); `bf_csrf` identifies a browser before it logs in.
//! Form tokens are an HMAC of the session token, or of `bf_csrf` before
//! login, so a token is only valid in the browser it was issued to.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Payload, UrlEncoded};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use billing::ids::TenantId;
use platform::accounts::SignedIn;
use platform::records::UserRole;
use platform::{Platform, PlatformError, Secret, tokens};
use serde::de::DeserializeOwned;

use crate::error::WebError;
use crate::views::Layout;

/// Session cookie name.
const SESSION_COOKIE: &str = "bf_session";
/// Pre-login browser cookie name.
const BROWSER_COOKIE: &str = "bf_csrf";
/// A customer's session on one tenant's hosted account pages (a signed
/// token, see `platform::hosted`), scoped to that tenant's `/t/{slug}` path.
const CUSTOMER_COOKIE: &str = "bf_customer";

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, WebError>>>>;

/// The visitor of a page: platform handle, cookies, and the session if any.
pub struct Browser {
    /// Shared platform state.
    platform: web::Data<Platform>,
    /// The session cookie's value, if sent (valid or not).
    session_token: Option<String>,
    /// The pre-login cookie's value (sent, or freshly made).
    browser_token: String,
    /// Whether `browser_token` was made for this response and must be set.
    browser_token_is_new: bool,
    /// The live session behind `session_token`, if any.
    pub signed_in: Option<SignedIn>,
    /// The customer session cookie's value, if sent (checked by the page).
    pub customer_token: Option<String>,
    /// The client address, for login throttling.
    pub client_ip: String,
}

impl Browser {
    /// The platform.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// What form tokens are bound to.
    fn csrf_binding(&self) -> &str {
        self.session_token.as_deref().unwrap_or(&self.browser_token)
    }

    /// Whether a submitted form token belongs to this browser.
    fn verify_csrf(&self, token: &str) -> bool {
        self.platform.csrf().verify(self.csrf_binding(), token)
    }

    /// Navigation and CSRF token for pages shown to this browser.
    pub fn layout(&self) -> Layout {
        Layout {
            csrf_token: self.platform.csrf().token_for(self.csrf_binding()),
            signed_in_as: self.signed_in.as_ref().map(|s| s.user.email.clone()),
            is_admin: self
                .signed_in
                .as_ref()
                .is_some_and(|s| s.user.role == UserRole::Admin),
        }
    }

    /// Renders a page with `status`, setting the pre-login cookie if new.
    pub fn page(
        &self,
        status: actix_web::http::StatusCode,
        template: &impl Template,
    ) -> Result<HttpResponse, WebError> {
        let html = template.render()?;
        let mut response = HttpResponse::build(status);
        if self.browser_token_is_new {
            response.cookie(self.cookie(BROWSER_COOKIE, self.browser_token.clone(), None));
        }
        // Pages carry CSRF tokens and, once, a new API key: never cache them.
        Ok(response
            .content_type("text/html; charset=utf-8")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .body(html))
    }

    /// A redirect (303) that also starts a session.
    pub fn redirect_with_session(&self, to: &str, session_token: &Secret) -> HttpResponse {
        let max_age = CookieDuration::seconds(
            i64::try_from(self.platform.settings().session_ttl.as_secs()).unwrap_or(i64::MAX),
        );
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, to))
            .cookie(self.cookie(
                SESSION_COOKIE,
                session_token.expose().to_owned(),
                Some(max_age),
            ))
            .finish()
    }

    /// A redirect (303) that ends the session in the browser too.
    pub fn redirect_clearing_session(&self, to: &str) -> HttpResponse {
        let mut removal = self.cookie(SESSION_COOKIE, String::new(), None);
        removal.make_removal();
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, to))
            .cookie(removal)
            .finish()
    }

    /// A redirect (303) that starts a customer session on the pages under
    /// `path` (one tenant's `/t/{slug}`), for `max_age_secs`.
    pub fn redirect_with_customer_session(
        &self,
        to: &str,
        path: &str,
        token: String,
        max_age_secs: i64,
    ) -> HttpResponse {
        let mut cookie = self.cookie_on(CUSTOMER_COOKIE, token, path);
        cookie.set_max_age(CookieDuration::seconds(max_age_secs));
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, to))
            // The request's URL carried the sign-in link: never pass it on.
            .insert_header((actix_web::http::header::REFERRER_POLICY, "no-referrer"))
            .cookie(cookie)
            .finish()
    }

    /// A redirect (303) that ends the customer session under `path`.
    pub fn redirect_clearing_customer_session(&self, to: &str, path: &str) -> HttpResponse {
        let mut removal = self.cookie_on(CUSTOMER_COOKIE, String::new(), path);
        removal.make_removal();
        HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, to))
            .cookie(removal)
            .finish()
    }

    fn cookie(
        &self,
        name: &'static str,
        value: String,
        max_age: Option<CookieDuration>,
    ) -> Cookie<'static> {
        let mut cookie = self.cookie_on(name, value, "/");
        if let Some(max_age) = max_age {
            cookie.set_max_age(max_age);
        }
        cookie
    }

    fn cookie_on(&self, name: &'static str, value: String, path: &str) -> Cookie<'static> {
        Cookie::build(name, value)
            .path(path.to_owned())
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.platform.settings().secure_cookies())
            .finish()
    }

    /// The merchant user, or a redirect to the merchant login.
    pub fn require_merchant(&self) -> Result<(&SignedIn, TenantId), WebError> {
        match &self.signed_in {
            Some(user) if user.user.role != UserRole::Admin => {
                let tenant_id = user.tenant_id().ok_or_else(|| {
                    PlatformError::Internal("merchant user without tenant".into())
                })?;
                Ok((user, tenant_id))
            }
            _ => Err(WebError::LoginRequired("/login")),
        }
    }

    /// The platform admin, or a redirect to the admin login.
    pub fn require_admin(&self) -> Result<&SignedIn, WebError> {
        match &self.signed_in {
            Some(user) if user.user.role == UserRole::Admin => Ok(user),
            _ => Err(WebError::LoginRequired("/admin/login")),
        }
    }
}

impl FromRequest for Browser {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let platform = req.app_data::<web::Data<Platform>>().cloned();
        let session_token = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let sent_browser_token = req
            .cookie(BROWSER_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let customer_token = req
            .cookie(CUSTOMER_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let client_ip = req
            .peer_addr()
            .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string());
        Box::pin(async move {
            let platform =
                platform.ok_or_else(|| PlatformError::Internal("platform state missing".into()))?;
            let signed_in = match &session_token {
                Some(token) => platform.session(token).await?,
                None => None,
            };
            let browser_token_is_new = sent_browser_token.is_none();
            Ok(Browser {
                platform,
                session_token,
                browser_token: sent_browser_token.unwrap_or_else(tokens::random_token),
                browser_token_is_new,
                signed_in,
                customer_token,
                client_ip,
            })
        })
    }
}

/// A page that needs a logged-in merchant user.
pub struct MerchantUser {
    /// The visitor.
    pub browser: Browser,
    /// Their tenant: every service call is scoped to it.
    pub tenant_id: TenantId,
}

impl FromRequest for MerchantUser {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        browser_then(req, payload, |browser| {
            let (_, tenant_id) = browser.require_merchant()?;
            Ok(MerchantUser { browser, tenant_id })
        })
    }
}

/// A page that needs a logged-in platform admin.
pub struct AdminUser {
    /// The visitor (an admin).
    pub browser: Browser,
}

impl FromRequest for AdminUser {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        browser_then(req, payload, |browser| {
            browser.require_admin()?;
            Ok(AdminUser { browser })
        })
    }
}

/// Extracts the [`Browser`], then lets `check` turn it into a guarded visitor.
fn browser_then<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    check: fn(Browser) -> Result<T, WebError>,
) -> LocalFuture<T> {
    let browser = Browser::from_request(req, payload);
    Box::pin(async move { check(browser.await?) })
}

/// A form that only carries the CSRF token (logout, revoke, suspend…).
#[derive(serde::Deserialize)]
pub struct TokenOnly {}

/// The largest form a page submits (the default of `web::Form`).
const FORM_LIMIT: usize = 16 * 1024;

/// A url-encoded form whose CSRF token has been checked against the browser.
/// Handlers of state-changing forms take this instead of `web::Form`.
///
/// The token is checked before the rest of the form is read, so a forged or
/// stale submission is refused as such (403) whatever else it carries, and
/// nothing about the form's fields is revealed to it.
pub struct CsrfForm<T> {
    /// The decoded form.
    pub form: T,
    /// Who sent it.
    pub browser: Browser,
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fields = UrlEncoded::<Vec<(String, String)>>::new(req, payload).limit(FORM_LIMIT);
        let browser = Browser::from_request(req, payload);
        Box::pin(async move {
            let browser = browser.await?;
            let mut fields = match fields.await {
                Ok(fields) => fields,
                Err(err) => return Err(WebError::BadForm(err.to_string()).with_browser(&browser)),
            };
            let token = fields
                .iter()
                .find(|(name, _)| name == "csrf_token")
                .map(|(_, value)| value.clone())
                .unwrap_or_default();
            if !browser.verify_csrf(&token) {
                tracing::warn!("form rejected: CSRF token missing or wrong");
                return Err(WebError::Csrf.with_browser(&browser));
            }
            // The token is this extractor's: the form sees only its fields
            // (a form collecting the rest, like the mail switches, too).
            fields.retain(|(name, _)| name != "csrf_token");
            // Decoded from the fields re-encoded: serde_urlencoded reads
            // numbers, options and flattened structs only from its own text.
            let form = serde_urlencoded::to_string(&fields)
                .map_err(|err| err.to_string())
                .and_then(|text| serde_urlencoded::from_str(&text).map_err(|err| err.to_string()));
            match form {
                Ok(form) => Ok(CsrfForm { form, browser }),
                Err(err) => Err(WebError::BadForm(err).with_browser(&browser)),
            }
        })
    }
}
