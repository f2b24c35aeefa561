//! Home, sign-up, login (merchant and admin) and logout.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use platform::accounts::{LoginKind, NewSession, SignUp};
use platform::records::UserRole;
use platform::{PlatformError, RequestId, Secret};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, TokenOnly};
use crate::error::WebError;
use crate::views::{HomePage, LoginPage, SignUpPage};

type PageResult = Result<HttpResponse, WebError>;

/// The sign-up form.
#[derive(Deserialize)]
pub(crate) struct SignUpForm {
    /// Display name of the new tenant.
    business_name: String,
    /// URL name of the new tenant.
    slug: String,
    /// The owner's login.
    email: String,
    /// The owner's password; wrapped in a `Secret` at once.
    password: String,
}

/// The login form (merchant and admin).
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    /// The login.
    email: String,
    /// The password; wrapped in a `Secret` at once.
    password: String,
}

/// Errors a person can fix by correcting the form: shown on the form itself.
fn is_form_error(err: &PlatformError) -> bool {
    matches!(
        err,
        PlatformError::Invalid { .. }
            | PlatformError::EmailTaken
            | PlatformError::SlugTaken
            | PlatformError::InvalidCredentials
            | PlatformError::Throttled { .. }
    )
}

fn status_of(err: &PlatformError) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Ends the browser's previous session, if any, and hands it the new one, so
/// one browser never holds two live sessions.
async fn switch_session(browser: &Browser, to: &str, session: &NewSession) -> HttpResponse {
    if let Some(previous) = &browser.signed_in {
        let ended = browser
            .platform()
            .log_out(previous, &RequestId::current_or_new())
            .await;
        if let Err(err) = ended {
            tracing::warn!(error = %err, "could not end the previous session");
        }
    }
    browser.redirect_with_session(to, &session.cookie_token)
}

/// `GET /`: the landing page, or straight to the visitor's home.
pub(crate) async fn home(browser: Browser) -> PageResult {
    match browser.signed_in.as_ref().map(|s| s.user.role) {
        Some(UserRole::Admin) => Ok(redirect("/admin")),
        Some(_) => Ok(redirect("/dashboard")),
        None => browser.page(
            StatusCode::OK,
            &HomePage {
                layout: browser.layout(),
            },
        ),
    }
}

/// `GET /signup`.
pub(crate) async fn sign_up_page(browser: Browser) -> PageResult {
    browser.page(
        StatusCode::OK,
        &SignUpPage {
            layout: browser.layout(),
            ..Default::default()
        },
    )
}

/// `POST /signup`: creates the tenant and its owner, then logs in.
pub(crate) async fn sign_up(CsrfForm { form, browser }: CsrfForm<SignUpForm>) -> PageResult {
    let request = SignUp {
        business_name: form.business_name.clone(),
        slug: form.slug.clone(),
        email: form.email.clone(),
        password: Secret::new(form.password),
    };
    match browser
        .platform()
        .sign_up(request, &RequestId::current_or_new())
        .await
    {
        Ok(session) => Ok(switch_session(&browser, "/dashboard", &session).await),
        Err(err) if is_form_error(&err) => browser.page(
            status_of(&err),
            &SignUpPage {
                layout: browser.layout(),
                error: Some(err.to_string()),
                business_name: form.business_name,
                slug: form.slug,
                email: form.email,
            },
        ),
        Err(err) => Err(WebError::from(err).with_browser(&browser)),
    }
}

/// The two login doors differ only in wording, target and who may pass.
struct LoginDoor {
    /// Which accounts may pass.
    kind: LoginKind,
    /// Page heading.
    heading: &'static str,
    /// Where the form posts.
    action: &'static str,
    /// Where a successful login lands.
    home: &'static str,
}

const MERCHANT_DOOR: LoginDoor = LoginDoor {
    kind: LoginKind::Merchant,
    heading: "Log in to your dashboard",
    action: "/login",
    home: "/dashboard",
};

const ADMIN_DOOR: LoginDoor = LoginDoor {
    kind: LoginKind::Admin,
    heading: "Platform admin login",
    action: "/admin/login",
    home: "/admin",
};

fn login_page(
    browser: &Browser,
    door: &LoginDoor,
    status: StatusCode,
    error: Option<String>,
    email: String,
) -> PageResult {
    browser.page(
        status,
        &LoginPage {
            layout: browser.layout(),
            heading: door.heading,
            action: door.action,
            error,
            email,
        },
    )
}

async fn log_in(door: &LoginDoor, form: LoginForm, browser: Browser) -> PageResult {
    let password = Secret::new(form.password);
    let outcome = browser
        .platform()
        .log_in(
            door.kind,
            &form.email,
            &password,
            &browser.client_ip,
            &RequestId::current_or_new(),
        )
        .await;
    match outcome {
        Ok(session) => Ok(switch_session(&browser, door.home, &session).await),
        Err(err) if is_form_error(&err) => login_page(
            &browser,
            door,
            status_of(&err),
            Some(err.to_string()),
            form.email,
        ),
        Err(err) => Err(WebError::from(err).with_browser(&browser)),
    }
}

/// `GET /login`.
pub(crate) async fn merchant_login_page(browser: Browser) -> PageResult {
    login_page(
        &browser,
        &MERCHANT_DOOR,
        StatusCode::OK,
        None,
        String::new(),
    )
}

/// `POST /login`.
pub(crate) async fn merchant_login(CsrfForm { form, browser }: CsrfForm<LoginForm>) -> PageResult {
    log_in(&MERCHANT_DOOR, form, browser).await
}

/// `GET /admin/login`.
pub(crate) async fn admin_login_page(browser: Browser) -> PageResult {
    login_page(&browser, &ADMIN_DOOR, StatusCode::OK, None, String::new())
}

/// `POST /admin/login`.
pub(crate) async fn admin_login(CsrfForm { form, browser }: CsrfForm<LoginForm>) -> PageResult {
    log_in(&ADMIN_DOOR, form, browser).await
}

/// `POST /logout`: deletes the session server-side and clears the cookie.
pub(crate) async fn log_out(CsrfForm { browser, .. }: CsrfForm<TokenOnly>) -> PageResult {
    if let Some(signed_in) = &browser.signed_in {
        browser
            .platform()
            .log_out(signed_in, &RequestId::current_or_new())
            .await
            .map_err(|err| WebError::from(err).with_browser(&browser))?;
    }
    Ok(browser.redirect_clearing_session("/"))
}
