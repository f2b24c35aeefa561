//! `POST /webhooks/stripe` and `POST /webhooks/stripe/connect`: Stripe's
//! deliveries. No API key: the `Stripe-Signature` header is the credential.
//!
//! The handler reads the raw body (the signature covers those exact bytes),
//! hands it to the platform, which verifies it and stores it durably, and only
//! then answers 200. It does no other work, so Stripe's 2xx means "stored".
//! A duplicate delivery also gets 200; a bad signature 400 with the verifier's
//! stable code; a storage failure 500, so Stripe retries later.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use platform::Platform;
use platform::webhooks::{MAX_BODY_BYTES, WebhookSource};

use crate::ApiError;

/// The header Stripe signs deliveries in.
const SIGNATURE_HEADER: &str = "stripe-signature";

/// Mounts both endpoints.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/webhooks/stripe")
            .route("", web::post().to(platform_events))
            .route("/connect", web::post().to(connect_events)),
    );
}

/// The platform account's own events.
async fn platform_events(
    platform: web::Data<Platform>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(&platform, WebhookSource::Platform, &req, body).await
}

/// Connected accounts' events.
async fn connect_events(
    platform: web::Data<Platform>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(&platform, WebhookSource::Connect, &req, body).await
}

async fn receive(
    platform: &Platform,
    source: WebhookSource,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = match body.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(err)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the request body could not be read: {err}"),
            ));
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the webhook body is longer than {MAX_BODY_BYTES} bytes"),
            ));
        }
    };
    // A header that is not visible ASCII cannot be a valid signature; treat
    // it as missing rather than guessing at its bytes.
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|value| value.to_str().unwrap_or_default());
    match platform.receive_webhook(source, signature, &body).await {
        Ok(receipt) => {
            tracing::debug!(source = source.as_str(), ?receipt, "webhook received");
            Ok(HttpResponse::Ok().json(serde_json::json!({ "received": true })))
        }
        Err(err) => {
            if err.status() < 500 {
                tracing::warn!(source = source.as_str(), code = err.code(), error = %err, "webhook refused");
            }
            Err(err.into())
        }
    }
}
