//! The `/v1` middleware: authenticates the key (cached), applies its rate
//! limit, and makes POSTs with an `Idempotency-Key` run at most once.
//!
//! Idempotency: the key is claimed in the database before the handler runs
//! (so a concurrent duplicate is refused with `idempotency_key_in_use`), the
//! response is stored with it and replayed for 24 hours; the same key with
//! another method, path or body is refused with `idempotency_key_reused`.
//! A 5xx answer releases the key, so the client's retry runs again.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use platform::api_keys::ApiCaller;
use platform::api_support::IdempotencyClaim;
use platform::{Platform, PlatformError};
use sha2::{Digest, Sha256};

use crate::ApiError;

/// The header a client names a POST's idempotency key in.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted idempotency key (as Stripe's).
const MAX_KEY_CHARS: usize = 255;

/// The bearer token of `req`, if it sent one.
pub(crate) fn bearer(req: &actix_web::HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        // The scheme is case-insensitive (RFC 9110); the token is not.
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// An error answered before any handler ran.
fn refuse(req: ServiceRequest, err: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(err.error_response())
}

/// The middleware itself (mounted on `/v1` with `from_fn`).
pub(crate) async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(platform), Some(token)) = (
        req.app_data::<web::Data<Platform>>().cloned(),
        bearer(req.request()),
    ) else {
        // No key: the `Caller` extractor answers `missing_api_key`.
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let caller = match platform.api_caller(&token).await {
        Ok(caller) => caller,
        Err(err) => return Ok(refuse(req, err.into())),
    };
    if let Err(wait) = platform.take_api_request(&caller.key.id) {
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests with this API key; retry in {retry_after} s"),
        )
        .error_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(retry_after.max(1)),
        );
        return Ok(req.into_response(response));
    }
    req.extensions_mut().insert(caller.clone());
    let idempotency_key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|value| value.to_str().map(str::to_owned));
    match idempotency_key {
        Some(key) if req.method() == Method::POST => {
            let key = match key {
                Ok(key) if !key.is_empty() && key.chars().count() <= MAX_KEY_CHARS => key,
                _ => {
                    return Ok(refuse(
                        req,
                        PlatformError::invalid(
                            "Idempotency-Key",
                            format!("an idempotency key is 1 to {MAX_KEY_CHARS} visible ASCII characters"),
                        )
                        .into(),
                    ));
                }
            };
            idempotent(platform, caller, key, req, next).await
        }
        _ => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// Runs a POST at most once per key.
async fn idempotent(
    platform: web::Data<Platform>,
    caller: ApiCaller,
    key: String,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let body = req.extract::<Bytes>().await?;
    let fingerprint = fingerprint(&req, &body);
    let tenant = &caller.tenant_id;
    match platform
        .claim_idempotency_key(tenant, &key, &fingerprint)
        .await
    {
        Err(err) => Ok(refuse(req, err.into())),
        Ok(IdempotencyClaim::Existing(record)) => {
            let refusal = if record.response_status.is_none() {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being processed; retry later",
                )
            } else if record.fingerprint != fingerprint {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request (method, path or body); use a new key for a new request",
                )
            } else {
                let status = record
                    .response_status
                    .and_then(|status| u16::try_from(status).ok())
                    .and_then(|status| StatusCode::from_u16(status).ok())
                    .unwrap_or(StatusCode::OK);
                let response = HttpResponse::build(status)
                    .content_type("application/json")
                    .insert_header((REPLAYED_HEADER, "true"))
                    .body(record.response_body.unwrap_or_default());
                return Ok(req.into_response(response));
            };
            Ok(refuse(req, refusal))
        }
        Ok(IdempotencyClaim::Claimed) => {
            req.set_payload(Payload::from(body));
            let response = next.call(req).await?;
            let (http_req, response) = response.into_parts();
            let status = response.status();
            let (head, body) = response.into_parts();
            let body = to_bytes(body).await.map_err(|_| {
                ApiError::from(PlatformError::Internal("reading a response body".into()))
            })?;
            let stored = if status.is_server_error() {
                platform.release_idempotency_key(tenant, &key).await
            } else {
                platform
                    .complete_idempotency_key(
                        tenant,
                        &key,
                        status.as_u16(),
                        String::from_utf8_lossy(&body).into_owned(),
                    )
                    .await
            };
            if let Err(err) = stored {
                // The work is done; failing to record it only loses the
                // replay, which the client learns about on its retry.
                tracing::error!(error = ?err, "storing an idempotent response failed");
            }
            Ok(ServiceResponse::new(
                http_req,
                head.set_body(body).map_into_boxed_body(),
            ))
        }
    }
}

/// Hex SHA-256 of method, path with query, and body.
fn fingerprint(req: &ServiceRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}
