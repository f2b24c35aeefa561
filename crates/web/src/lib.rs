//! Server-rendered pages (askama): merchant sign-up, login and dashboard,
//! the platform admin console, and each merchant's public pages (pricing,
//! checkout result, customer account) under `/t/{slug}`.
//!
//! Architecture invariant: every page is an entry of [`routes()`], the one
//! table `configure` registers, so what the tests iterate is what is served.
//! Every state-changing form is read through [`CsrfForm`], which rejects a
//! missing or wrong CSRF token before anything else of the form is read;
//! every page that needs a login takes [`MerchantUser`] or [`AdminUser`],
//! which redirect anonymous visitors to the right login page.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};

/// Who may call a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-up, logins, a merchant's pricing).
    Public,
    /// A signed-in merchant user, on its own tenant's objects.
    Merchant,
    /// A signed-in platform admin.
    Admin,
    /// A customer signed in on the tenant's `/t/{slug}` account pages.
    Customer,
}

/// One page: its method, path pattern (actix syntax) and who may call it.
#[derive(Clone, Copy, Debug)]
pub struct WebRoute {
    /// `get` or `post`, as the route is registered.
    pub method: &'static str,
    /// The path pattern, e.g. `/dashboard/plans/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Builds the actix route (method and handler).
    route: fn() -> actix_web::Route,
}

/// A module's pages as `Access method "path" => handler`: one list makes
/// both the data and the registration, so the two cannot drift.
macro_rules! web_routes {
    ($($access:ident $method:ident $path:literal => $handler:path),+ $(,)?) => {
        &[$($crate::WebRoute {
            method: stringify!($method),
            path: $path,
            access: $crate::Access::$access,
            route: || actix_web::web::$method().to($handler),
        }),+]
    };
}
pub(crate) use web_routes;

mod admin;
mod auth;
mod browser;
mod catalog;
mod charts;
mod console;
mod customer;
mod customers;
mod dashboard;
mod dunning;
mod error;
mod forms;
mod mail;
mod outbound;
mod views;

pub use browser::{AdminUser, Browser, CsrfForm, MerchantUser};
pub use error::WebError;

/// The stylesheet, compiled in so the binary is self-contained.
const STYLESHEET: &str = include_str!("../../../templates/static/app.css");

/// The pages of this module.
const ROUTES: &[WebRoute] = web_routes![
    Public get "/" => auth::home,
    Public get "/static/app.css" => stylesheet,
    Public get "/signup" => auth::sign_up_page,
    Public post "/signup" => auth::sign_up,
    Public get "/login" => auth::merchant_login_page,
    Public post "/login" => auth::merchant_login,
    Public get "/admin/login" => auth::admin_login_page,
    Public post "/admin/login" => auth::admin_login,
    // Anyone may log out; it ends the session there is, merchant or admin.
    Public post "/logout" => auth::log_out,
    Merchant get "/dashboard" => dashboard::overview,
    Merchant post "/dashboard/api_keys" => dashboard::create_api_key,
    Merchant post "/dashboard/api_keys/{id}/revoke" => dashboard::revoke_api_key,
    Merchant post "/dashboard/connect" => dashboard::connect_stripe,
    Merchant get "/dashboard/connect/return" => dashboard::connect_return,
    Merchant get "/dashboard/audit" => dashboard::audit_log,
    Merchant get "/dashboard/settings" => dashboard::settings_page,
    Merchant post "/dashboard/settings" => dashboard::save_settings,
    Merchant get "/dashboard/settings/preview" => dashboard::branding_preview,
    Admin get "/admin" => admin::tenants,
    Admin post "/admin/tenants/{id}/suspend" => admin::suspend_tenant,
    Admin post "/admin/tenants/{id}/reactivate" => admin::reactivate_tenant,
    Admin post "/admin/tenants/{id}/fee" => admin::set_fee,
    Admin get "/admin/audit" => admin::audit_log,
    Admin post "/admin/clock/advance" => admin::advance_clock,
    Admin get "/admin/mail" => mail::outbox,
    Admin get "/admin/mail/{id}" => mail::message,
    Admin get "/admin/mail/{id}/html" => mail::message_html,
    Merchant get "/dashboard/settings/mail" => mail::settings_page,
    Merchant post "/dashboard/settings/mail" => mail::save_settings,
];

/// Every page, in registration order (the router tries them in turn).
pub fn routes() -> &'static [WebRoute] {
    static ALL: LazyLock<Vec<WebRoute>> = LazyLock::new(|| {
        [
            ROUTES,
            catalog::ROUTES,
            dunning::ROUTES,
            outbound::ROUTES,
            customer::ROUTES,
            customers::ROUTES,
            console::ROUTES,
        ]
        .concat()
    });
    &ALL
}

/// Mounts every page of [`routes()`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    for page in routes() {
        cfg.route(page.path, (page.route)());
    }
}

/// The friendly 404 page, for the app's default service.
pub async fn not_found_page(browser: Browser) -> Result<HttpResponse, WebError> {
    Err(WebError::NotFound.with_browser(&browser))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(STYLESHEET)
}
