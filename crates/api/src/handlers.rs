//! `/v1` handlers: thin translations between JSON and platform services.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use platform::records::{ActorKind, ApiKey, ApiKeyMode, AuditEvent, Tenant, TenantStatus};
use platform::{Platform, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::docs::ErrorResponse;
use crate::extract::Json;
use crate::list::{List, ListParams};
use crate::{ApiError, ApiResult, Caller};

/// The caller's tenant as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct TenantView {
    /// `ten_…` id.
    id: String,
    /// Always `tenant`, so clients can dispatch on the type.
    object: &'static str,
    /// URL name of hosted pages.
    slug: String,
    /// Display name.
    name: String,
    /// `onboarding`, `active` or `suspended`.
    #[schema(value_type = String)]
    status: TenantStatus,
    /// Brand colour of hosted pages, if set.
    brand_color: Option<String>,
    /// Logo of hosted pages, if set.
    logo_url: Option<String>,
    /// Where customers write for help, if set.
    support_email: Option<String>,
    /// Sign-up time.
    created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantView {
    fn from(tenant: Tenant) -> Self {
        Self {
            id: tenant.id,
            object: "tenant",
            slug: tenant.slug,
            name: tenant.name,
            status: tenant.status,
            brand_color: tenant.brand_color,
            logo_url: tenant.logo_url,
            support_email: tenant.support_email,
            created_at: tenant.created_at,
        }
    }
}

/// An API key as the API shows it: never the secret, except once at creation.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    /// `key_…` id, used to fetch or revoke the key.
    id: String,
    /// Always `api_key`.
    object: &'static str,
    /// Merchant-chosen label.
    name: String,
    /// Start of the key, to recognise it without the secret.
    prefix: String,
    /// `test` or `live`.
    #[schema(value_type = String)]
    mode: ApiKeyMode,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last successful authentication.
    last_used_at: Option<DateTime<Utc>>,
    /// Revocation time; a revoked key no longer authenticates.
    revoked_at: Option<DateTime<Utc>>,
    /// The full key: only in the creation response, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            object: "api_key",
            name: key.name,
            prefix: key.prefix,
            mode: key.mode,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
            secret: None,
        }
    }
}

/// An audit entry as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEventView {
    /// `aud_…` id.
    id: String,
    /// Always `audit_event`.
    object: &'static str,
    /// `user`, `api_key`, `admin` or `system`.
    #[schema(value_type = String)]
    actor_kind: ActorKind,
    /// Who acted.
    actor_id: String,
    /// What happened, e.g. `api_key.revoked`.
    action: String,
    /// Kind of the changed object.
    target_type: String,
    /// Id of the changed object.
    target_id: String,
    /// The request that made the change.
    request_id: String,
    /// When.
    created_at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            object: "audit_event",
            actor_kind: event.actor_kind,
            actor_id: event.actor_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            request_id: event.request_id,
            created_at: event.created_at,
        }
    }
}

/// `POST /v1/api_keys` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateApiKey {
    /// Label for the new key.
    name: String,
}

/// `GET /v1/tenant`: who am I.
#[utoipa::path(get, path = "/v1/tenant", tag = "account", responses((status = 200, body = TenantView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn tenant(Caller(caller): Caller) -> ApiResult {
    Ok(HttpResponse::Ok().json(TenantView::from(caller.tenant)))
}

/// `GET /v1/api_keys`.
#[utoipa::path(get, path = "/v1/api_keys", tag = "account", params(ListParams), responses((status = 200, body = List<ApiKeyView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_api_keys(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let mut keys = platform.api_keys(&caller.tenant_id).await?;
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    let page = List::page_of(&req, keys, |key| &key.id, &params)?;
    Ok(HttpResponse::Ok().json(page.try_map(|key| Ok::<_, ApiError>(ApiKeyView::from(key)))?))
}

/// `POST /v1/api_keys`: the response carries the secret, once.
#[utoipa::path(post, path = "/v1/api_keys", tag = "account", request_body = CreateApiKey, responses((status = 201, body = ApiKeyView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_api_key(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<CreateApiKey>,
) -> ApiResult {
    let created = platform
        .create_api_key(
            &caller.tenant_id,
            &body.name,
            None,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    let mut view = ApiKeyView::from(created.record);
    view.secret = Some(created.secret.expose().to_owned());
    Ok(HttpResponse::Created().json(view))
}

/// `GET /v1/api_keys/{id}`.
#[utoipa::path(get, path = "/v1/api_keys/{id}", tag = "account", params(("id" = String, Path, description = "`key_…`")), responses((status = 200, body = ApiKeyView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_api_key(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let key = platform.api_key(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(key)))
}

/// `DELETE /v1/api_keys/{id}`: revokes.
#[utoipa::path(delete, path = "/v1/api_keys/{id}", tag = "account", params(("id" = String, Path, description = "`key_…`")), responses((status = 200, body = ApiKeyView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn revoke_api_key(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let key = platform
        .revoke_api_key(
            &caller.tenant_id,
            &id,
            caller.actor.clone(),
            &RequestId::current_or_new(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(key)))
}

/// `GET /v1/audit_events`.
#[utoipa::path(get, path = "/v1/audit_events", tag = "account", params(ListParams), responses((status = 200, body = List<AuditEventView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_audit_events(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let mut events = platform.audit_events(&caller.tenant_id).await?;
    events.sort_by(|a, b| a.id.cmp(&b.id));
    let page = List::page_of(&req, events, |event| &event.id, &params)?;
    Ok(HttpResponse::Ok()
        .json(page.try_map(|event| Ok::<_, ApiError>(AuditEventView::from(event)))?))
}

/// `GET /v1/audit_events/{id}`.
#[utoipa::path(get, path = "/v1/audit_events/{id}", tag = "account", params(("id" = String, Path, description = "`aud_…`")), responses((status = 200, body = AuditEventView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_audit_event(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let event = platform.audit_event(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(AuditEventView::from(event)))
}

/// Any other `/v1` request: 405 `method_not_allowed` (with `Allow`) when
/// the path exists under other methods, else 404 `route_not_found`, so a
/// client can tell a wrong verb from a wrong URL.
pub(crate) async fn no_such_route(req: HttpRequest) -> ApiResult {
    let allowed = methods_allowed_at(req.path());
    if allowed.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("there is no endpoint {} {}", req.method(), req.path()),
        ));
    }
    let allow = allowed.join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} {} is not an endpoint; this path accepts {allow}",
            req.method(),
            req.path()
        ),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Ok(response)
}

/// The methods [`crate::ROUTES`] registers for `path`, e.g. `["GET", "POST"]`.
fn methods_allowed_at(path: &str) -> Vec<&'static str> {
    static PATTERNS: OnceLock<Vec<(String, ResourceDef)>> = OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            crate::ROUTES
                .iter()
                .map(|(method, pattern)| (method.to_ascii_uppercase(), ResourceDef::new(*pattern)))
                .collect()
        })
        .iter()
        .filter(|(_, pattern)| pattern.is_match(path))
        .map(|(method, _)| method.as_str())
        .collect()
}
