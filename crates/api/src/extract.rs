//! Extractors: [`Caller`] (`Authorization: Bearer <key>` → tenant),
//! [`Json`] (a JSON object body) and [`OptionalJson`] (one that may be left
//! out, but not malformed).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use platform::{Platform, PlatformError, api_keys::ApiCaller};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

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

/// A JSON object body, read by [`web::Json`] with the `/v1` limits and
/// errors. Any other JSON value is refused: serde's derived structs also
/// read arrays field by field, so `[null, null]` would otherwise pass as a
/// body of defaults.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<JsonObject<T>>::from_request(req, payload);
        Box::pin(async move { Ok(Json(json.await?.into_inner().0)) })
    }
}

/// `T` read from a JSON object only.
struct JsonObject<T>(T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        T::deserialize(serde_json::Value::Object(object))
            .map(JsonObject)
            .map_err(D::Error::custom)
    }
}

/// A JSON object body the client may leave out (`None`). One that is sent
/// is read as [`Json`]: unlike `Option<web::Json<T>>`, which turns a
/// malformed body into `None`.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !has_body(req) {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let json = Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(Some(json.await?.into_inner()))) })
    }
}

/// Whether the request announces a body: a non-zero `Content-Length`, or
/// a `Transfer-Encoding` (chunked).
fn has_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}
