//! Inline validation errors for the dashboard's editors: a refused form is
//! shown again with 422, the typed values, and the message beside the field.

use actix_web::http::StatusCode;
use platform::PlatformError;

/// The status of a form shown again because its values were refused.
pub(crate) const REFUSED: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Why a form was refused, and the input to show it beside.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors {
    /// The form field at fault and the message; `None` when nothing failed.
    error: Option<(&'static str, String)>,
}

impl FieldErrors {
    /// No error.
    pub fn none() -> Self {
        Self::default()
    }

    /// The platform's validation error placed on a form field: `place` maps
    /// the platform's field name (`prices`, `policy`…) to an input of this
    /// form. Any other error is not a form problem and is handed back.
    pub fn placed(
        err: PlatformError,
        place: impl Fn(&'static str) -> &'static str,
    ) -> Result<Self, PlatformError> {
        match err {
            PlatformError::Invalid { field, message } => Ok(Self {
                error: Some((place(field), message)),
            }),
            other => Err(other),
        }
    }

    /// The message to show beside the input `field`, if it is at fault.
    pub fn on(&self, field: &str) -> Option<&str> {
        match &self.error {
            Some((at, message)) if *at == field => Some(message),
            _ => None,
        }
    }
}
