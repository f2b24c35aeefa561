//! API errors: `{"error": {"code", "message", "param"?, "request_id"}}`.
//!
//! The codes are part of the API and never change meaning:
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `invalid_request` | a field failed validation (`param` names it) |
//! | 400 | `invalid_json` | the body is not JSON, or has unknown or missing fields |
//! | 400 | `invalid_body` | the body could not be read |
//! | 400 | `price_not_recurring` | a one-time price was given to subscribe to (`param` is `price`) |
//! | 401 | `missing_api_key` | no `Authorization: Bearer …` header |
//! | 401 | `invalid_api_key` | the key is unknown or revoked |
//! | 403 | `tenant_suspended` | the key's tenant is suspended by the platform |
//! | 403 | `forbidden` | authenticated, but not allowed |
//! | 404 | `not_found` | no such object *for this tenant* (other tenants' objects included) |
//! | 404 | `route_not_found` | no such endpoint under `/v1` |
//! | 405 | `method_not_allowed` | the path exists, not with this method (`Allow` lists its methods) |
//! | 409 | `email_taken`, `slug_taken` | a unique value is already used |
//! | 409 | `subscription_busy` | another change of the same subscription is in progress; retry after it |
//! | 413 | `payload_too_large` | the body exceeds the JSON limit (64 KiB) |
//! | 415 | `unsupported_media_type` | the body is not `application/json` |
//! | 429 | `too_many_attempts` | throttled |
//! | 500 | `internal_error` | a bug or an outage; details are in the logs under `request_id` |

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::{PlatformError, RequestId};
use serde::Serialize;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status.
    status: StatusCode,
    /// Stable machine-readable code.
    code: &'static str,
    /// Human-readable explanation, safe to show (never internal details).
    message: String,
    /// The request field at fault, when one is (validation errors).
    param: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(err: PlatformError) -> Self {
        if matches!(err, PlatformError::Store(_) | PlatformError::Internal(_)) {
            tracing::error!(error = ?err, "API request failed");
        }
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let param = match &err {
            PlatformError::Invalid { field, .. } => Some(*field),
            PlatformError::PriceNotRecurring(_) => Some("price"),
            _ => None,
        };
        Self {
            param,
            ..Self::new(status, err.code(), err.to_string())
        }
    }
}

impl From<JsonPayloadError> for ApiError {
    fn from(err: JsonPayloadError) -> Self {
        match err {
            JsonPayloadError::Overflow { limit }
            | JsonPayloadError::OverflowKnownLength { limit, .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
            JsonPayloadError::ContentType => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonPayloadError::Deserialize(err) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the request body is not valid JSON for this endpoint: {err}"),
            ),
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the request body could not be read: {other}"),
            ),
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    /// The single top-level key, so clients can tell errors from objects.
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    /// Stable machine-readable code.
    code: &'a str,
    /// Human-readable explanation.
    message: &'a str,
    /// The offending request field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
    /// The request's id, to quote to support and find in logs.
    request_id: Option<String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = RequestId::current().map(|id| id.to_string());
        HttpResponse::build(self.status).json(Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                param: self.param,
                request_id,
            },
        })
    }
}
