//! Typed errors: what Stripe said (mapped like the official clients map it)
//! or why we never got an answer.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything a Stripe call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stripe answered with an error object.
    #[error(transparent)]
    Api(#[from] Box<ApiError>),
    /// No answer: DNS, TCP, TLS or a connection dropped mid-response (retried).
    #[error("could not reach Stripe: {0}")]
    Connection(String),
    /// No answer within the per-request timeout (retried).
    #[error("Stripe did not answer within {0:?}")]
    Timeout(Duration),
    /// Stripe (or whatever sits at the base URL) answered with a body that is
    /// not the object we asked for.
    #[error("unexpected response from Stripe (HTTP {status}, request {}): {message}", display_request_id(.request_id))]
    Decode {
        /// HTTP status of the response.
        status: u16,
        /// Stripe's `Request-Id`, to quote when asking Stripe support.
        request_id: Option<String>,
        /// What did not parse.
        message: String,
    },
    /// The caller passed something that cannot be sent (empty id, overlong
    /// idempotency key, parameters that are not an object...). Nothing was sent.
    #[error("invalid Stripe request: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Stripe's request id, when Stripe answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            Error::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The API error, when Stripe answered with one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }
}

/// What kind of failure Stripe reported, from the HTTP status and error `type`
/// (the same mapping as stripe-python's `APIRequestor`, with 404 split out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 402 or `card_error`: the card was declined; the message is safe to show.
    Card,
    /// 400 `invalid_request_error`: bad parameters (see `param`).
    InvalidRequest,
    /// 401: the API key is wrong or revoked.
    Authentication,
    /// 403: the key may not do this (e.g. restricted key, other account).
    Permission,
    /// 404: the object does not exist (on this account).
    NotFound,
    /// `idempotency_error`: the key was reused with different parameters.
    Idempotency,
    /// 429: too many requests.
    RateLimit,
    /// 409, 5xx or anything else: a problem on Stripe's side.
    Api,
}

impl ApiErrorKind {
    fn from_response(status: u16, error_type: Option<&str>, code: Option<&str>) -> Self {
        match (status, error_type) {
            (429, _) => Self::RateLimit,
            // Rate limits used to be 400s with code `rate_limit`.
            (400, _) if code == Some("rate_limit") => Self::RateLimit,
            (_, Some("idempotency_error")) => Self::Idempotency,
            (_, Some("card_error")) | (402, _) => Self::Card,
            (401, _) => Self::Authentication,
            (403, _) => Self::Permission,
            (404, _) => Self::NotFound,
            (400..=499, Some("invalid_request_error")) | (400, _) => Self::InvalidRequest,
            _ => Self::Api,
        }
    }

    /// A stable snake_case name, for logs and our own API's error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card_error",
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found",
            Self::Idempotency => "idempotency_error",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
        }
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error object returned by Stripe, with the context to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Our classification, what callers branch on.
    pub kind: ApiErrorKind,
    /// HTTP status Stripe answered with.
    pub status: u16,
    /// Stripe's machine-readable `code` (`card_declined`, `resource_missing`, ...).
    pub code: Option<String>,
    /// For card errors, the issuer's reason (`insufficient_funds`, ...).
    pub decline_code: Option<String>,
    /// Stripe's human-readable explanation.
    pub message: Option<String>,
    /// For invalid requests, the offending parameter (`line_items[0][price]`).
    pub param: Option<String>,
    /// Link to Stripe's documentation of `code`.
    pub doc_url: Option<String>,
    /// Stripe's `Request-Id`, to quote when asking Stripe support.
    pub request_id: Option<String>,
}

impl ApiError {
    /// Builds the error from a non-2xx response's status, body and request id.
    /// A body that is not Stripe's error envelope still yields an error of the
    /// right kind, without a message.
    pub(crate) fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let details = serde_json::from_slice::<ErrorEnvelope>(body)
            .map(|envelope| envelope.error)
            .unwrap_or_default();
        Self {
            kind: ApiErrorKind::from_response(
                status,
                details.error_type.as_deref(),
                details.code.as_deref(),
            ),
            status,
            code: details.code,
            decline_code: details.decline_code,
            message: details.message,
            param: details.param,
            doc_url: details.doc_url,
            request_id,
        }
    }

    /// The message to show the paying customer: only card errors have one,
    /// since every other kind describes our integration, not their card.
    pub fn customer_message(&self) -> Option<&str> {
        match self.kind {
            ApiErrorKind::Card => self.message.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stripe {} (HTTP {}", self.kind, self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        write!(
            f,
            ", request {}): {}",
            display_request_id(&self.request_id),
            self.message.as_deref().unwrap_or("no message")
        )
    }
}

impl std::error::Error for ApiError {}

/// Stripe's `{"error": {...}}` body.
#[derive(Deserialize)]
struct ErrorEnvelope {
    /// The error object.
    error: ErrorDetails,
}

/// The fields of Stripe's error object we keep.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ErrorDetails {
    /// `api_error`, `card_error`, `idempotency_error` or `invalid_request_error`.
    #[serde(rename = "type")]
    error_type: Option<String>,
    /// Machine-readable code.
    code: Option<String>,
    /// Issuer decline reason.
    decline_code: Option<String>,
    /// Human-readable explanation.
    message: Option<String>,
    /// Offending parameter.
    param: Option<String>,
    /// Documentation link.
    doc_url: Option<String>,
}

fn display_request_id(request_id: &Option<String>) -> &str {
    request_id.as_deref().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, error_type: &str) -> ApiErrorKind {
        let body = format!(r#"{{"error":{{"type":"{error_type}","message":"m"}}}}"#);
        ApiError::from_response(status, body.as_bytes(), None).kind
    }

    #[test]
    fn maps_status_and_type_like_the_official_clients() {
        assert_eq!(
            kind(400, "invalid_request_error"),
            ApiErrorKind::InvalidRequest
        );
        assert_eq!(kind(400, "idempotency_error"), ApiErrorKind::Idempotency);
        assert_eq!(
            kind(401, "invalid_request_error"),
            ApiErrorKind::Authentication
        );
        assert_eq!(kind(402, "card_error"), ApiErrorKind::Card);
        assert_eq!(kind(403, "invalid_request_error"), ApiErrorKind::Permission);
        assert_eq!(kind(404, "invalid_request_error"), ApiErrorKind::NotFound);
        assert_eq!(kind(409, "api_error"), ApiErrorKind::Api);
        assert_eq!(kind(429, "invalid_request_error"), ApiErrorKind::RateLimit);
        assert_eq!(kind(500, "api_error"), ApiErrorKind::Api);
        let legacy_rate_limit =
            br#"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#;
        assert_eq!(
            ApiError::from_response(400, legacy_rate_limit, None).kind,
            ApiErrorKind::RateLimit
        );
    }

    #[test]
    fn a_body_that_is_not_an_error_envelope_still_classifies_by_status() {
        let error = ApiError::from_response(502, b"<html>bad gateway</html>", Some("req_1".into()));
        assert_eq!(error.kind, ApiErrorKind::Api);
        assert_eq!(error.message, None);
        assert_eq!(
            error.to_string(),
            "Stripe api_error (HTTP 502, request req_1): no message"
        );
    }

    #[test]
    fn only_card_errors_have_a_customer_message() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#;
        let card = ApiError::from_response(402, body, None);
        assert_eq!(
            card.customer_message(),
            Some("Your card has insufficient funds.")
        );
        assert_eq!(card.decline_code.as_deref(), Some("insufficient_funds"));
        let body = br#"{"error":{"type":"invalid_request_error","message":"No such price: 'x'","param":"price"}}"#;
        let invalid = ApiError::from_response(400, body, None);
        assert_eq!(invalid.customer_message(), None);
        assert_eq!(invalid.param.as_deref(), Some("price"));
    }
}
