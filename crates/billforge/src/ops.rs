//! Operations: request ids, request logging, Prometheus metrics, health checks.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use platform::{Platform, RequestId};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tracing::Instrument;

/// The header carrying the request id, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Per-app Prometheus metrics (one registry per app, so parallel test apps
/// in one process do not mix their numbers).
#[derive(Clone)]
pub struct Metrics {
    /// Where the collectors are registered; `/metrics` encodes it.
    registry: Registry,
    /// `http_requests_total{method,route,status}`.
    requests: IntCounterVec,
    /// `http_request_duration_seconds{method,route,status}`.
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route pattern and status.",
            ),
            &labels,
        )
        .expect("valid metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route pattern and status.",
            ),
            &labels,
        )
        .expect("valid metric definition");
        let registry = Registry::new();
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A client-supplied request id is kept when it is short and plain, so ids
/// can be followed across services without letting clients inject log noise.
fn incoming_request_id(req: &ServiceRequest) -> Option<RequestId> {
    let raw = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let plain = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plain.then(|| RequestId::from_client(raw))
}

/// Middleware: gives each request an id (header, log span, error bodies,
/// audit entries), logs its outcome and records its metrics.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().to_string();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    let started = Instant::now();
    let mut res = request_id
        .clone()
        .scope(next.call(req).instrument(span.clone()))
        .await?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_millis() as u64,
            route,
            "request finished"
        )
    });
    Ok(res)
}

/// `GET /healthz`: the process is up (no dependencies checked).
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(platform: web::Data<Platform>) -> HttpResponse {
    match platform.store().ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready", "database": "ok"})),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "database": "unreachable"}))
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    match encoder.encode(&metrics.registry.gather(), &mut body) {
        Ok(()) => HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "encoding metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
