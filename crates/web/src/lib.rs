//! Server-rendered pages (askama): merchant sign-up, login and dashboard,
//! the platform admin console, and each merchant's public pages (pricing,
//! checkout result, customer account) under `/t/{slug}`.
//!
//! Architecture invariant: every state-changing form is read through
//! [`CsrfForm`], which rejects a missing or wrong CSRF token before the
//! handler runs; every page that needs a login takes [`MerchantUser`] or
//! [`AdminUser`], which redirect anonymous visitors to the right login page.

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

use actix_web::{HttpResponse, web};

pub use browser::{AdminUser, Browser, CsrfForm, MerchantUser};
pub use error::WebError;

/// The stylesheet, compiled in so the binary is self-contained.
const STYLESHEET: &str = include_str!("../../../templates/static/app.css");

/// Mounts every page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth::home))
        .route("/static/app.css", web::get().to(stylesheet))
        .route("/signup", web::get().to(auth::sign_up_page))
        .route("/signup", web::post().to(auth::sign_up))
        .route("/login", web::get().to(auth::merchant_login_page))
        .route("/login", web::post().to(auth::merchant_login))
        .route("/admin/login", web::get().to(auth::admin_login_page))
        .route("/admin/login", web::post().to(auth::admin_login))
        .route("/logout", web::post().to(auth::log_out))
        .route("/dashboard", web::get().to(dashboard::overview))
        .route(
            "/dashboard/api_keys",
            web::post().to(dashboard::create_api_key),
        )
        .route(
            "/dashboard/api_keys/{id}/revoke",
            web::post().to(dashboard::revoke_api_key),
        )
        .route(
            "/dashboard/connect",
            web::post().to(dashboard::connect_stripe),
        )
        .route(
            "/dashboard/connect/return",
            web::get().to(dashboard::connect_return),
        )
        .route("/dashboard/audit", web::get().to(dashboard::audit_log))
        .route(
            "/dashboard/settings",
            web::get().to(dashboard::settings_page),
        )
        .route(
            "/dashboard/settings",
            web::post().to(dashboard::save_settings),
        )
        .route(
            "/dashboard/settings/preview",
            web::get().to(dashboard::branding_preview),
        )
        .route("/admin", web::get().to(admin::tenants))
        .route(
            "/admin/tenants/{id}/suspend",
            web::post().to(admin::suspend_tenant),
        )
        .route(
            "/admin/tenants/{id}/reactivate",
            web::post().to(admin::reactivate_tenant),
        )
        .route("/admin/tenants/{id}/fee", web::post().to(admin::set_fee))
        .route("/admin/audit", web::get().to(admin::audit_log))
        .route("/admin/clock/advance", web::post().to(admin::advance_clock))
        .route("/admin/mail", web::get().to(mail::outbox))
        .route("/admin/mail/{id}", web::get().to(mail::message))
        .route("/admin/mail/{id}/html", web::get().to(mail::message_html))
        .route(
            "/dashboard/settings/mail",
            web::get().to(mail::settings_page),
        )
        .route(
            "/dashboard/settings/mail",
            web::post().to(mail::save_settings),
        );
    catalog::configure(cfg);
    dunning::configure(cfg);
    outbound::configure(cfg);
    customer::configure(cfg);
    customers::configure(cfg);
    console::configure(cfg);
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
