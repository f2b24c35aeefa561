//! The [`Caller`] extractor: `Authorization: Bearer <key>` → tenant.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use platform::{Platform, PlatformError, api_keys::ApiCaller};

use crate::ApiError;
use crate::guard::bearer;

/// The authenticated API caller; every `/v1` handler takes one.
pub struct Caller(pub ApiCaller);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The `/v1` middleware already authenticated the key.
        if let Some(caller) = req.extensions().get::<ApiCaller>() {
            let caller = caller.clone();
            return Box::pin(async move { Ok(Caller(caller)) });
        }
        let platform = req.app_data::<web::Data<Platform>>().cloned();
        let bearer = bearer(req);
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
            Ok(Caller(platform.api_caller(&bearer).await?))
        })
    }
}
