//! Errors in Stripe's shape: `{"error": {"type", "code", "message", "param", …}}`.

use serde_json::{Map, Value, json};

/// One failed request, rendered exactly as Stripe renders it. Boxed so that
/// `Result`s stay small on the happy path.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(Box<ErrorDetails>);

/// What an [`ApiError`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDetails {
    /// HTTP status: clients branch on it (402 card errors, 404 missing, …).
    pub status: u16,
    /// Stripe's `type` (`invalid_request_error`, `card_error`, …).
    pub kind: &'static str,
    /// Stable machine-readable `code`, when Stripe gives one.
    pub code: Option<&'static str>,
    /// Card errors' `decline_code` (`generic_decline`, `insufficient_funds`).
    pub decline_code: Option<&'static str>,
    /// Human-readable explanation.
    pub message: String,
    /// The parameter at fault, in bracket notation, so clients can point at it.
    pub param: Option<String>,
    /// Ids of objects a card error left behind (`payment_intent`, `charge`).
    pub related: Map<String, Value>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, code: Option<&'static str>, message: String) -> Self {
        ApiError(Box::new(ErrorDetails {
            status,
            kind,
            code,
            decline_code: None,
            message,
            param: None,
            related: Map::new(),
        }))
    }

    /// An injected fault's answer (`crate::faults`).
    pub fn injected(
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message: &str,
    ) -> Self {
        ApiError::new(status, kind, code, message.to_owned())
    }

    /// A generic 400 naming the parameter at fault.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError::new(
            400,
            "invalid_request_error",
            Some("parameter_invalid"),
            message.into(),
        )
        .with_param(param)
    }

    /// 400 for a request that is well-formed but not allowed in the object's state.
    pub fn state(message: impl Into<String>) -> Self {
        ApiError::new(400, "invalid_request_error", None, message.into())
    }

    /// A parameter the endpoint does not take.
    pub fn unknown_param(param: &str) -> Self {
        ApiError::new(
            400,
            "invalid_request_error",
            Some("parameter_unknown"),
            format!("Received unknown parameter: {param}"),
        )
        .with_param(param)
    }

    /// A required parameter that was not sent.
    pub fn missing_param(param: &str) -> Self {
        ApiError::new(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
        )
        .with_param(param)
    }

    /// An id that does not exist (or is not visible with this `Stripe-Account`).
    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        ApiError::new(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {kind}: '{id}'"),
        )
        .with_param(param)
    }

    /// A path the emulator does not serve.
    pub fn unrecognized(method: &str, path: &str) -> Self {
        ApiError::new(
            404,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// Missing or unusable API key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(401, "invalid_request_error", None, message.into())
    }

    /// `Stripe-Account` naming an account the platform cannot act on.
    pub fn account_invalid(account: &str) -> Self {
        ApiError::new(
            403,
            "invalid_request_error",
            Some("account_invalid"),
            format!(
                "The provided key does not have access to account '{account}' (or that account does not exist). Application access may have been revoked."
            ),
        )
    }

    /// Same `Idempotency-Key` reused with different parameters.
    pub fn idempotency_mismatch(key: &str) -> Self {
        ApiError::new(
            400,
            "idempotency_error",
            None,
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            ),
        )
    }

    /// A declined or failed card payment (HTTP 402).
    pub fn card(code: &'static str, decline_code: Option<&'static str>, message: &str) -> Self {
        let mut error = ApiError::new(402, "card_error", Some(code), message.to_owned());
        error.0.decline_code = decline_code;
        error
    }

    /// Names the parameter at fault.
    pub fn with_param(mut self, param: &str) -> Self {
        self.0.param = Some(param.to_owned());
        self
    }

    /// Overrides the stable error code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.0.code = Some(code);
        self
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.0.status = status;
        self
    }

    /// Attaches the id of an object the failure created (e.g. the failed payment intent).
    pub fn with_related(mut self, key: &str, id: &str) -> Self {
        self.0.related.insert(key.to_owned(), json!(id));
        self
    }

    /// The JSON body Stripe sends for this error.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline_code) = self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        for (key, value) in &self.related {
            error.insert(key.clone(), value.clone());
        }
        json!({ "error": error })
    }
}

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;

    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

/// Handlers' result type.
pub type ApiResult<T> = Result<T, ApiError>;
