//! The [`Caller`] extractor: `Authorization: Bearer <key>` → tenant.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use platform::{Platform, PlatformError, api_keys::ApiCaller};

use crate::ApiError;

/// The authenticated API caller; every `/v1` handler takes one.
pub struct Caller(pub ApiCaller);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let platform = req.app_data::<web::Data<Platform>>().cloned();
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            // The scheme is case-insensitive (RFC 9110); the token is not.
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        Box::pin(async move {
            let platform = platform.ok_or_else(|| {
                ApiError::from(PlatformError::Internal("platform state missing".into()))
            })?;
            let bearer = bearer.ok_or_else(|| {
                ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "missing_api_key",
                    "send your API key as `Authorization: Bearer bf_test_…`",
                )
            })?;
            Ok(Caller(platform.authenticate_api_key(&bearer).await?))
        })
    }
}
