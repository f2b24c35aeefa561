//! The JSON API under `/v1`, authenticated by merchant API keys, its OpenAPI
//! description (`/openapi.json`, `/docs/api`), and the Stripe webhook
//! endpoints under `/webhooks/stripe` (signed, not keyed).
//!
//! Architecture invariant: every handler receives the caller's tenant from the
//! [`Caller`] extractor and passes it to platform services, which scope every
//! query by it; another tenant's object is indistinguishable from a missing one.

mod billing;
mod catalog;
mod docs;
mod dunning;
mod error;
mod events;
mod extract;
mod guard;
mod handlers;
mod list;
mod outbound;
mod payments;
mod webhooks;

use actix_web::HttpResponse;
use actix_web::middleware::from_fn;
use actix_web::web;

pub use docs::{ApiDoc, spec_json};
pub use error::ApiError;
pub use extract::Caller;

/// What every handler returns.
pub(crate) type ApiResult = Result<HttpResponse, ApiError>;

/// Declares the `/v1` routes once: [`ROUTES`] (which the OpenAPI test
/// compares with the spec) and their registration come from the same list.
macro_rules! v1_routes {
    ($($method:ident $path:literal => $handler:path),+ $(,)?) => {
        /// Every `/v1` route as `(method, path)`, exactly as registered.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), concat!("/v1", $path))),+];

        /// Adds every route to the `/v1` scope.
        fn v1_scope(scope: actix_web::Scope) -> actix_web::Scope {
            scope$(.route($path, web::$method().to($handler)))+
        }
    };
}

v1_routes! {
    // First: the router tries routes in this order, and the check is the
    // call a merchant's app makes on every one of its own requests.
    get "/entitlements/check" => billing::check_entitlement,
    get "/tenant" => handlers::tenant,
    get "/api_keys" => handlers::list_api_keys,
    post "/api_keys" => handlers::create_api_key,
    get "/api_keys/{id}" => handlers::get_api_key,
    delete "/api_keys/{id}" => handlers::revoke_api_key,
    get "/audit_events" => handlers::list_audit_events,
    get "/audit_events/{id}" => handlers::get_audit_event,
    get "/features" => catalog::list_features,
    post "/features" => catalog::create_feature,
    get "/features/{id}" => catalog::get_feature,
    post "/features/{id}/archive" => catalog::archive_feature,
    post "/features/{id}/unarchive" => catalog::unarchive_feature,
    get "/plans" => catalog::list_plans,
    post "/plans" => catalog::create_plan,
    get "/plans/{id}" => catalog::get_plan,
    post "/plans/{id}/archive" => catalog::archive_plan,
    post "/plans/{id}/unarchive" => catalog::unarchive_plan,
    post "/plans/{id}/prices" => catalog::add_price,
    post "/plans/{id}/prices/{price}" => catalog::replace_price,
    post "/plans/{id}/grants" => catalog::grant_feature,
    get "/customers" => billing::list_customers,
    post "/customers" => billing::create_customer,
    get "/customers/{id}" => billing::get_customer,
    post "/customers/{id}" => billing::update_customer,
    post "/customers/{id}/account_links" => billing::create_account_link,
    get "/customers/{id}/entitlements" => billing::customer_entitlements,
    get "/customers/{id}/payment_methods" => payments::list_payment_methods,
    post "/customers/{id}/payment_methods/{pm}/default" => payments::set_default_payment_method,
    post "/customers/{id}/payment_methods/{pm}/detach" => payments::detach_payment_method,
    post "/customers/{id}/overrides" => billing::set_override,
    delete "/customers/{id}/overrides/{feature}" => billing::delete_override,
    get "/subscriptions" => billing::list_subscriptions,
    get "/subscriptions/{id}" => billing::get_subscription,
    post "/subscriptions/{id}" => billing::change_subscription,
    post "/subscriptions/{id}/preview" => billing::preview_change,
    post "/subscriptions/{id}/cancel" => billing::cancel_subscription,
    post "/subscriptions/{id}/resume" => billing::resume_subscription,
    post "/checkout_sessions" => billing::create_checkout_session,
    get "/invoices" => payments::list_invoices,
    get "/invoices/{id}" => payments::get_invoice,
    get "/refunds" => payments::list_refunds,
    post "/refunds" => payments::create_refund,
    get "/refunds/{id}" => payments::get_refund,
    post "/payment_intents" => payments::create_payment_intent,
    get "/payment_intents/{id}" => payments::get_payment_intent,
    post "/setup_intents" => payments::create_setup_intent,
    post "/billing_portal_sessions" => payments::create_portal_session,
    get "/disputes" => payments::list_disputes,
    get "/disputes/{id}" => payments::get_dispute,
    post "/disputes/{id}/evidence" => payments::submit_dispute_evidence,
    get "/dunning_policy" => dunning::get_dunning_policy,
    post "/dunning_policy" => dunning::set_dunning_policy,
    post "/dunning_policy/preview" => dunning::preview_dunning_policy,
    get "/events" => events::list_events,
    get "/events/{id}" => events::get_event,
    get "/webhook_endpoints" => outbound::list_endpoints,
    post "/webhook_endpoints" => outbound::create_endpoint,
    get "/webhook_endpoints/{id}" => outbound::get_endpoint,
    post "/webhook_endpoints/{id}" => outbound::update_endpoint,
    delete "/webhook_endpoints/{id}" => outbound::delete_endpoint,
    post "/webhook_endpoints/{id}/rotate_secret" => outbound::rotate_secret,
    post "/webhook_endpoints/{id}/reveal_secret" => outbound::reveal_secret,
    post "/webhook_endpoints/{id}/test" => outbound::send_test,
    get "/webhook_deliveries" => outbound::list_deliveries,
    get "/webhook_deliveries/{id}" => outbound::get_delivery,
    post "/webhook_deliveries/{id}/replay" => outbound::replay_delivery,
}

/// Mounts the API (`/v1/…`) with its JSON limits, JSON 404s and the key,
/// rate-limit and idempotency middleware; the API reference; and the
/// Stripe webhook endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, json_body_limit: usize) {
    webhooks::configure(cfg);
    docs::configure(cfg);
    let scope = v1_scope(web::scope("/v1"))
        .app_data(
            web::JsonConfig::default()
                .limit(json_body_limit)
                .error_handler(|err, _req| ApiError::from(err).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|err, _req| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the query string is not valid for this endpoint: {err}"),
            )
            .into()
        }))
        .default_service(web::to(handlers::no_such_route))
        .wrap(from_fn(guard::guard));
    cfg.service(scope);
}

#[cfg(test)]
mod tests;
