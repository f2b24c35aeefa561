//! The API's OpenAPI 3.1 description, generated from the handlers'
//! `#[utoipa::path]` attributes and the views' `ToSchema`, served at
//! `/openapi.json` and rendered as a reference page at `/docs/api`
//! (server-side, no scripts, no CDN).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{billing, catalog, dunning, events, handlers, outbound, payments};

/// The error body every endpoint answers on failure.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorResponse {
    /// The single top-level key, so clients can tell errors from objects.
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_request`, `not_found`,
    /// `rate_limited`, `idempotency_key_reused`.
    code: String,
    /// Human-readable explanation.
    message: String,
    /// The request field at fault, for validation errors.
    param: Option<String>,
    /// The request's id, to quote to support.
    request_id: Option<String>,
}

/// Declares the bearer API-key scheme and applies it to every operation.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "api_key",
            Vec::<String>::new(),
        )]);
    }
}

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billforge API",
        description = "Billforge's tenant API. Authenticate with `Authorization: Bearer bf_test_…`. \
Lists are cursor-paginated (`limit` 1–100, default 10; `starting_after`) and answer \
`{object: \"list\", data, has_more, url}`. Every POST accepts an `Idempotency-Key` header: \
the first response is stored for 24 hours and replayed (with `Idempotent-Replayed: true`); \
the same key with another request answers 409 `idempotency_key_reused`, and while the first \
request runs 409 `idempotency_key_in_use`. Each key has a rate limit; beyond it the API answers \
429 `rate_limited` with `Retry-After` (seconds). Errors are `{error: {code, message, param?, request_id}}`."
    ),
    modifiers(&BearerAuth),
    paths(
        handlers::tenant,
        handlers::list_api_keys,
        handlers::create_api_key,
        handlers::get_api_key,
        handlers::revoke_api_key,
        handlers::list_audit_events,
        handlers::get_audit_event,
        catalog::list_features,
        catalog::create_feature,
        catalog::get_feature,
        catalog::archive_feature,
        catalog::unarchive_feature,
        catalog::list_plans,
        catalog::create_plan,
        catalog::get_plan,
        catalog::archive_plan,
        catalog::unarchive_plan,
        catalog::add_price,
        catalog::replace_price,
        catalog::grant_feature,
        billing::list_customers,
        billing::create_customer,
        billing::get_customer,
        billing::create_account_link,
        billing::update_customer,
        billing::customer_entitlements,
        billing::set_override,
        billing::delete_override,
        billing::check_entitlement,
        billing::list_subscriptions,
        billing::get_subscription,
        billing::change_subscription,
        billing::preview_change,
        billing::cancel_subscription,
        billing::resume_subscription,
        billing::create_checkout_session,
        payments::list_payment_methods,
        payments::set_default_payment_method,
        payments::detach_payment_method,
        payments::list_invoices,
        payments::get_invoice,
        payments::list_refunds,
        payments::create_refund,
        payments::get_refund,
        payments::create_payment_intent,
        payments::get_payment_intent,
        payments::create_setup_intent,
        payments::create_portal_session,
        payments::list_disputes,
        payments::get_dispute,
        payments::submit_dispute_evidence,
        dunning::get_dunning_policy,
        dunning::set_dunning_policy,
        dunning::preview_dunning_policy,
        events::list_events,
        events::get_event,
        outbound::list_endpoints,
        outbound::create_endpoint,
        outbound::get_endpoint,
        outbound::update_endpoint,
        outbound::delete_endpoint,
        outbound::rotate_secret,
        outbound::reveal_secret,
        outbound::send_test,
        outbound::list_deliveries,
        outbound::get_delivery,
        outbound::replay_delivery,
    ),
    components(schemas(ErrorResponse, ErrorDetail))
)]
pub struct ApiDoc;

/// The spec as JSON (built once per call; it is small and rarely fetched).
pub fn spec_json() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null)
}

/// `GET /openapi.json`.
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(spec_json())
}

/// One operation on the reference page.
struct OperationDoc {
    /// `GET`, `POST`…
    method: String,
    /// `/v1/…`.
    path: String,
    /// The first line of the handler's doc comment.
    summary: String,
    /// Parameters: name, location, whether required, description.
    params: Vec<(String, String, bool, String)>,
    /// The request body's schema name, if any.
    request: Option<String>,
    /// Responses: status and schema name.
    responses: Vec<(String, String)>,
}

/// One schema on the reference page.
struct SchemaDoc {
    /// Component name.
    name: String,
    /// Fields: name, type, description.
    fields: Vec<(String, String, String)>,
}

/// `templates/api_reference.html`.
#[derive(Template)]
#[template(path = "api_reference.html")]
struct ReferencePage {
    /// The API's description.
    intro: String,
    /// Every operation, in path order.
    operations: Vec<OperationDoc>,
    /// Every named schema.
    schemas: Vec<SchemaDoc>,
}

/// The name a `$ref` or inline schema is shown as.
fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_name(items));
    }
    match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => schema
            .get("oneOf")
            .or_else(|| schema.get("allOf"))
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .map(schema_name)
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_else(|| "object".to_owned()),
    }
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn reference_page(spec: &Value) -> ReferencePage {
    let mut operations = Vec::new();
    if let Some(paths) = spec["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let params = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|param| {
                        (
                            text(param.get("name")),
                            text(param.get("in")),
                            param["required"].as_bool().unwrap_or(false),
                            text(param.get("description")),
                        )
                    })
                    .collect();
                let request = op["requestBody"]["content"]["application/json"]
                    .get("schema")
                    .map(schema_name);
                let responses = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, response)| {
                        let schema = response["content"]["application/json"]
                            .get("schema")
                            .map(schema_name)
                            .unwrap_or_default();
                        (status.clone(), schema)
                    })
                    .collect();
                operations.push(OperationDoc {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(op.get("summary")),
                    params,
                    request,
                    responses,
                });
            }
        }
    }
    let schemas = spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| SchemaDoc {
            name: name.clone(),
            fields: schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, property)| {
                    (
                        field.clone(),
                        schema_name(property),
                        text(property.get("description")),
                    )
                })
                .collect(),
        })
        .collect();
    ReferencePage {
        intro: text(spec["info"].get("description")),
        operations,
        schemas,
    }
}

/// The reference page's HTML for `spec`.
pub(crate) fn render_reference(spec: &Value) -> askama::Result<String> {
    reference_page(spec).render()
}

/// `GET /docs/api`: the reference, readable without JavaScript.
pub(crate) async fn reference() -> HttpResponse {
    match render_reference(&spec_json()) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(err) => {
            tracing::error!(error = %err, "rendering the API reference failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Mounts `/openapi.json` and `/docs/api`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/docs/api", web::get().to(reference));
}
