//! `/v1/webhook_endpoints` and `/v1/webhook_deliveries`: the merchant's
//! outbound webhooks (issue #9). Thin translations to `platform::outbound`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::outbound::{
    DeliveryStatus, EndpointInput, EndpointPatch, EndpointStatus, MAX_PAGE, OutboundAttempt,
    OutboundDelivery, OutboundEndpoint,
};
use platform::{Platform, PlatformError, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::docs::ErrorResponse;
use crate::extract::Json;
use crate::{ApiError, Caller};

type ApiResult = Result<HttpResponse, ApiError>;

/// Default page size of the delivery log.
const DEFAULT_PAGE: u64 = 20;

/// An endpoint as the API shows it: the secret only at creation, rotation
/// or an (audited) reveal.
#[derive(Serialize, ToSchema)]
pub(crate) struct EndpointView {
    /// `we_…` id.
    id: String,
    /// Always `webhook_endpoint`.
    object: &'static str,
    /// Where events are POSTed.
    url: String,
    /// The merchant's label.
    description: Option<String>,
    /// The event types sent; empty means all.
    event_types: Vec<String>,
    /// `enabled` or `disabled`.
    #[schema(value_type = String)]
    status: EndpointStatus,
    /// Why it is disabled, when it is.
    disabled_reason: Option<String>,
    /// Until when the previous secret still signs, after a rotation.
    previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
    /// The signing secret, only in the responses that reveal it.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<OutboundEndpoint> for EndpointView {
    fn from(endpoint: OutboundEndpoint) -> Self {
        Self {
            event_types: serde_json::from_str(&endpoint.event_types).unwrap_or_default(),
            id: endpoint.id,
            object: "webhook_endpoint",
            url: endpoint.url,
            description: endpoint.description,
            status: endpoint.status,
            disabled_reason: endpoint.disabled_reason,
            previous_secret_expires_at: endpoint.previous_secret_expires_at,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
            secret: None,
        }
    }
}

/// A delivery as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// `wd_…` id.
    id: String,
    /// Always `webhook_delivery`.
    object: &'static str,
    /// The endpoint it goes to.
    endpoint: String,
    /// The event sent (`webhook-id`).
    event_id: String,
    /// The event type.
    event_type: String,
    /// The customer it is about (deliveries of one customer go in order).
    customer: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead` or `skipped`.
    #[schema(value_type = String)]
    status: DeliveryStatus,
    /// Attempts since creation or the last replay.
    attempt_count: i32,
    /// When the next attempt is due, if one is.
    next_attempt_at: Option<DateTime<Utc>>,
    /// The last response's HTTP status.
    last_response_status: Option<i32>,
    /// The start of the last response's body.
    last_response_excerpt: Option<String>,
    /// The last transport error (timeout, refused…).
    last_error: Option<String>,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// The attempts, only when one delivery is fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<AttemptView>>,
}

impl From<OutboundDelivery> for DeliveryView {
    fn from(delivery: OutboundDelivery) -> Self {
        Self {
            id: delivery.id,
            object: "webhook_delivery",
            endpoint: delivery.endpoint_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            customer: delivery.customer_id,
            status: delivery.status,
            attempt_count: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_response_status: delivery.last_response_status,
            last_response_excerpt: delivery.last_response_excerpt,
            last_error: delivery.last_error,
            created_at: delivery.created_at,
            attempts: None,
        }
    }
}

/// One HTTP attempt as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// `wda_…` id.
    id: String,
    /// The HTTP status answered, if any.
    response_status: Option<i32>,
    /// The start of the response body.
    response_excerpt: Option<String>,
    /// The transport error, if no response came.
    error: Option<String>,
    /// How long it took.
    duration_ms: i64,
    /// When it was made.
    attempted_at: DateTime<Utc>,
}

impl From<OutboundAttempt> for AttemptView {
    fn from(attempt: OutboundAttempt) -> Self {
        Self {
            id: attempt.id,
            response_status: attempt.response_status,
            response_excerpt: attempt.response_excerpt,
            error: attempt.error,
            duration_ms: attempt.duration_ms,
            attempted_at: attempt.attempted_at,
        }
    }
}

/// A list response, Stripe style.
#[derive(Serialize, ToSchema)]
pub(crate) struct Page<T> {
    /// Always `list`.
    object: &'static str,
    /// The items.
    data: Vec<T>,
    /// Whether more follow (pass the last id as `starting_after`).
    has_more: bool,
}

/// `POST /v1/webhook_endpoints` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEndpoint {
    /// Where to POST.
    url: String,
    /// A label.
    description: Option<String>,
    /// Event types to send; omitted or empty sends all.
    #[serde(default)]
    event_types: Vec<String>,
}

/// `POST /v1/webhook_endpoints/{id}` body; omitted fields are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEndpoint {
    /// A new URL.
    url: Option<String>,
    /// A new label (empty clears it).
    description: Option<String>,
    /// A new filter.
    event_types: Option<Vec<String>>,
    /// `false` disables, `true` enables (forgetting past failures).
    enabled: Option<bool>,
}

/// `GET /v1/webhook_deliveries` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// Only this endpoint's deliveries.
    endpoint: Option<String>,
    /// A delivery id: return older ones.
    starting_after: Option<String>,
    /// Page size, 1 to 100 (default 20). Read as text, so a bad value
    /// gets the API's JSON error rather than the query extractor's.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

fn endpoint_with_secret(endpoint: OutboundEndpoint, secret: &str) -> EndpointView {
    let mut view = EndpointView::from(endpoint);
    view.secret = Some(secret.to_owned());
    view
}

/// `GET /v1/webhook_endpoints`.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks",
    responses((status = 200, body = Page<EndpointView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_endpoints(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
) -> ApiResult {
    let endpoints = platform.outbound_endpoints(&caller.tenant_id).await?;
    Ok(HttpResponse::Ok().json(Page {
        object: "list",
        data: endpoints.into_iter().map(EndpointView::from).collect(),
        has_more: false,
    }))
}

/// `POST /v1/webhook_endpoints`: the response carries the secret, once.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_endpoint(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<CreateEndpoint>,
) -> ApiResult {
    let body = body.into_inner();
    let input = EndpointInput {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
    };
    let created = platform
        .create_outbound_endpoint(
            &caller.tenant_id,
            input,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Created().json(endpoint_with_secret(
        created.record,
        created.secret.expose(),
    )))
}

/// `GET /v1/webhook_endpoints/{id}`.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, body = EndpointView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_endpoint(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let endpoint = platform.outbound_endpoint(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(endpoint)))
}

/// `POST /v1/webhook_endpoints/{id}`: partial update.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn update_endpoint(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
    body: Json<UpdateEndpoint>,
) -> ApiResult {
    let body = body.into_inner();
    let patch = EndpointPatch {
        url: body.url,
        description: body.description.map(Some),
        event_types: body.event_types,
        enabled: body.enabled,
    };
    let endpoint = platform
        .update_outbound_endpoint(
            &caller.tenant_id,
            &id,
            patch,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(endpoint)))
}

/// `DELETE /v1/webhook_endpoints/{id}`: deletes it with its delivery log.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, description = "`{id, object, deleted: true}`"), (status = "default", body = ErrorResponse)))]
pub(crate) async fn delete_endpoint(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    platform
        .delete_outbound_endpoint(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": id.as_str(),
        "object": "webhook_endpoint",
        "deleted": true,
    })))
}

/// `POST /v1/webhook_endpoints/{id}/rotate_secret`: a new secret (shown
/// once); the old one still signs for 24 hours.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, body = EndpointView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn rotate_secret(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let rotated = platform
        .rotate_outbound_secret(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(endpoint_with_secret(
        rotated.record,
        rotated.secret.expose(),
    )))
}

/// `POST /v1/webhook_endpoints/{id}/reveal_secret`: the current secret;
/// audited.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/reveal_secret", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, body = EndpointView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn reveal_secret(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let secret = platform
        .reveal_outbound_secret(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    let endpoint = platform.outbound_endpoint(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(endpoint_with_secret(endpoint, secret.expose())))
}

/// `POST /v1/webhook_endpoints/{id}/test`: queues a `webhook_endpoint.test` event.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/test", tag = "webhooks", params(("id" = String, Path, description = "`we_…`")),
    responses((status = 201, body = DeliveryView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn send_test(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let delivery = platform
        .send_outbound_test(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Created().json(DeliveryView::from(delivery)))
}

/// `GET /v1/webhook_deliveries?endpoint=…&starting_after=…&limit=…`, newest first.
#[utoipa::path(get, path = "/v1/webhook_deliveries", tag = "webhooks", params(DeliveryQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_deliveries(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    query: web::Query<DeliveryQuery>,
) -> ApiResult {
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(raw) => raw.parse().map_err(|_| {
            PlatformError::invalid(
                "limit",
                format!("limit must be a whole number between 1 and {MAX_PAGE}"),
            )
        })?,
    };
    let page = platform
        .outbound_deliveries(
            &caller.tenant_id,
            query.endpoint.as_deref(),
            query.starting_after.as_deref(),
            limit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        object: "list",
        data: page.data.into_iter().map(DeliveryView::from).collect(),
        has_more: page.has_more,
    }))
}

/// `GET /v1/webhook_deliveries/{id}`: with its attempts.
#[utoipa::path(get, path = "/v1/webhook_deliveries/{id}", tag = "webhooks", params(("id" = String, Path, description = "`wd_…`")),
    responses((status = 200, body = DeliveryView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_delivery(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let log = platform.outbound_delivery(&caller.tenant_id, &id).await?;
    let mut view = DeliveryView::from(log.delivery);
    view.attempts = Some(log.attempts.into_iter().map(AttemptView::from).collect());
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /v1/webhook_deliveries/{id}/replay`: sends it again now.
#[utoipa::path(post, path = "/v1/webhook_deliveries/{id}/replay", tag = "webhooks", params(("id" = String, Path, description = "`wd_…`")),
    responses((status = 200, body = DeliveryView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn replay_delivery(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let delivery = platform
        .replay_outbound_delivery(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryView::from(delivery)))
}
