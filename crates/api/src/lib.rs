//! The JSON API under `/v1`, authenticated by merchant API keys, and the
//! Stripe webhook endpoints under `/webhooks/stripe` (signed, not keyed).
//!
//! Architecture invariant: every handler receives the caller's tenant from the
//! [`Caller`] extractor and passes it to platform services, which scope every
//! query by it; another tenant's object is indistinguishable from a missing one.

mod error;
mod extract;
mod handlers;
mod outbound;
mod webhooks;

use actix_web::web;

pub use error::ApiError;
pub use extract::Caller;

/// Mounts the API (`/v1/…`) with its JSON limits and JSON 404s, and the
/// Stripe webhook endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, json_body_limit: usize) {
    webhooks::configure(cfg);
    cfg.service(
        web::scope("/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(json_body_limit)
                    .error_handler(|err, _req| ApiError::from(err).into()),
            )
            .route("/tenant", web::get().to(handlers::tenant))
            .route("/api_keys", web::get().to(handlers::list_api_keys))
            .route("/api_keys", web::post().to(handlers::create_api_key))
            .route("/api_keys/{id}", web::get().to(handlers::get_api_key))
            .route("/api_keys/{id}", web::delete().to(handlers::revoke_api_key))
            .route("/audit_events", web::get().to(handlers::list_audit_events))
            .route(
                "/audit_events/{id}",
                web::get().to(handlers::get_audit_event),
            )
            .configure(outbound::configure)
            .default_service(web::to(handlers::no_such_route)),
    );
}
