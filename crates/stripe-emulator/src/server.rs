//! The HTTP front: authentication, `Stripe-Account` scoping, idempotency,
//! parameter decoding, routing, `expand[]` and Stripe's response headers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{ApiError, ApiResult};
use crate::faults::{Fault, FaultInjector};
use crate::params::Params;
use crate::state::{API_VERSION, State};
use crate::store::{Page, Scope, new_secret};
use crate::webhooks::{self, Delivery};
use crate::{billing, checkout, clock, hosted, resources};

/// State shared by every worker thread.
pub struct Shared {
    /// The emulator's objects and clock, behind one lock: requests are short.
    pub state: Mutex<State>,
    /// Base URL of this emulator, for hosted page links.
    pub base_url: String,
    /// Queue of webhook deliveries for the sender task.
    pub deliveries: UnboundedSender<Delivery>,
    /// Deliveries not yet delivered or given up.
    pub pending_deliveries: webhooks::PendingDeliveries,
    /// Set after every mutation; the snapshot writer clears it.
    pub dirty: AtomicBool,
    /// The faults injected into `/v1` requests.
    pub faults: FaultInjector,
}

impl Shared {
    /// Runs `work` under the lock, first running jobs that fell due on the global
    /// clock, then handing new events to the webhook sender. `mutating` requests
    /// (and any that ran jobs or emitted events) mark the snapshot dirty.
    pub fn with_state<T>(&self, mutating: bool, work: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock();
        let now = state.global_now();
        let ran_jobs = clock::run_due(&mut state, "", now);
        let result = work(&mut state);
        state.time_override = None;
        state.request = None;
        let emitted = !state.outbox.is_empty();
        if emitted {
            webhooks::dispatch(&mut state, &self.deliveries, &self.pending_deliveries);
        }
        if mutating || ran_jobs || emitted {
            self.dirty.store(true, Ordering::Release);
        }
        result
    }
}

/// What a handler sees of the request.
pub struct Call<'a> {
    /// Account the request acts on (`Stripe-Account`), `None` for the platform.
    pub scope: Scope,
    /// Decoded query or body parameters.
    pub params: Params,
    /// Emulator base URL (hosted pages).
    pub base_url: &'a str,
}

/// Entry point for every `/v1/…` request.
pub async fn api(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let request_id = format!("req_{}", new_secret(14));
    let fault = shared.faults.next();
    let outcome = match fault {
        Some(Fault::ServerError) => Err(ApiError::injected(
            500,
            "api_error",
            None,
            "An unknown error occurred (injected by the emulator; nothing was done).",
        )),
        Some(Fault::RateLimited) => Err(ApiError::injected(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded (injected by the emulator; nothing was done).",
        )),
        _ => handle(&request, &body, &shared, &request_id),
    };
    let (status, body, replayed) = match outcome {
        Ok(Handled::Fresh(status, body)) => (status, body, false),
        Ok(Handled::Replayed(status, body)) => (status, body, true),
        Err(error) => (error.status, error.body().to_string(), false),
    };
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    response
        .content_type("application/json")
        .insert_header(("Request-Id", request_id))
        .insert_header(("Stripe-Version", API_VERSION));
    if let Some(key) = header(&request, "Idempotency-Key") {
        response.insert_header(("Idempotency-Key", key.to_owned()));
    }
    // Stripe echoes the connected account; clients read it back (stripe-node's
    // `lastResponse.stripeAccount`).
    if let Some(account) = header(&request, "Stripe-Account") {
        response.insert_header(("Stripe-Account", account.to_owned()));
    }
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    match fault {
        Some(Fault::Timeout(delay)) => {
            tokio::time::sleep(delay).await;
            response.body(body)
        }
        // The headers leave, then the body fails: the connection is closed
        // mid-answer and the client never learns the outcome.
        Some(Fault::Dropped) => response.streaming(futures::stream::once(async {
            Err::<web::Bytes, _>(std::io::Error::other("connection dropped (injected)"))
        })),
        _ => response.body(body),
    }
}

/// A response body with its status, and whether it came from an idempotency record.
enum Handled {
    /// Computed for this request.
    Fresh(u16, String),
    /// Replayed from the first request with the same `Idempotency-Key`.
    Replayed(u16, String),
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// Checks `Authorization`: any `sk_test_…` key is accepted (one emulated platform).
fn authenticate(request: &HttpRequest) -> ApiResult<()> {
    let Some(authorization) = header(request, "Authorization") else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details.",
        ));
    };
    let basic = authorization.strip_prefix("Basic ").and_then(|encoded| {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        Some(text.split(':').next().unwrap_or_default().to_owned())
    });
    let bearer = authorization.strip_prefix("Bearer ").map(str::to_owned);
    let key = bearer.or(basic).unwrap_or_default();
    let key = key.trim();
    if key.starts_with("sk_test_") && key.len() > "sk_test_".len() {
        return Ok(());
    }
    let shown: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let message = if key.starts_with("sk_live_") {
        format!(
            "Invalid API Key provided: sk_live_****{shown}. The Stripe emulator accepts test mode keys (sk_test_…) only."
        )
    } else {
        format!("Invalid API Key provided: ****{shown}")
    };
    Err(ApiError::unauthorized(message))
}

fn handle(
    request: &HttpRequest,
    body: &[u8],
    shared: &Shared,
    request_id: &str,
) -> ApiResult<Handled> {
    authenticate(request)?;
    let method = request.method().clone();
    let raw = if method == Method::GET || method == Method::DELETE {
        request.query_string().to_owned()
    } else {
        let mut raw = String::from_utf8_lossy(body).into_owned();
        if !request.query_string().is_empty() {
            raw = format!("{}&{raw}", request.query_string());
        }
        raw
    };
    let decoded = crate::form::decode(&raw).map_err(ApiError::state)?;
    if let Some(version) = header(request, "Stripe-Version")
        && !valid_api_version(version)
    {
        return Err(ApiError::invalid(
            "Stripe-Version",
            format!("Invalid Stripe API version: {version}"),
        ));
    }
    let path = request.path().trim_end_matches('/').to_owned();
    let account = header(request, "Stripe-Account").map(str::to_owned);
    let idempotency_key = header(request, "Idempotency-Key")
        .filter(|_| method == Method::POST)
        .map(str::to_owned);
    if let Some(key) = &idempotency_key
        && key.len() > 255
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency keys must be at most 255 characters long.",
        ));
    }
    shared.with_state(method != Method::GET, |state| {
        if let Some(account) = &account {
            let known = state
                .store
                .get(&None, account)
                .is_some_and(|value| value["object"] == "account");
            if !known {
                return Err(ApiError::account_invalid(account));
            }
        }
        let operation = format!("{method} {path}");
        let record_key = idempotency_key
            .as_ref()
            .map(|key| format!("{}:{key}", account.as_deref().unwrap_or("platform")));
        let params_value = Value::Object(decoded.clone());
        if let Some(record_key) = &record_key {
            let now = state.global_now();
            state
                .idempotency
                .retain(|_, replay| now - replay.stored_at < 86_400);
            if let Some(replay) = state.idempotency.get(record_key) {
                if replay.operation != operation || replay.params != params_value {
                    return Err(ApiError::idempotency_mismatch(
                        idempotency_key.as_deref().unwrap_or_default(),
                    ));
                }
                return Ok(Handled::Replayed(replay.status, replay.body.clone()));
            }
        }
        state.request = Some(json!({"id": request_id, "idempotency_key": idempotency_key}));
        let call = Call {
            scope: account.clone(),
            params: Params::new(decoded),
            base_url: &shared.base_url,
        };
        let result = route(state, &method, &path, &call).and_then(|mut value| {
            let retrieved = path.rsplit('/').next() == value["id"].as_str();
            if method == Method::GET && retrieved {
                // Retrieving one object by id takes `expand` only; Stripe rejects
                // anything else (e.g. a client option sent as a query parameter).
                call.params.allow(&[])?;
            }
            let expand = call.params.strings("expand")?;
            for path in &expand {
                let segments: Vec<&str> = path.split('.').collect();
                expand_path(state, &call.scope, &mut value, &segments);
            }
            Ok(value)
        });
        let (status, body) = match result {
            Ok(value) => (200, value.to_string()),
            Err(error) => (error.status, error.body().to_string()),
        };
        if let Some(record_key) = record_key {
            let stored_at = state.global_now();
            state.idempotency.insert(
                record_key,
                crate::state::Replay {
                    operation,
                    params: params_value,
                    status,
                    body: body.clone(),
                    stored_at,
                },
            );
        }
        Ok(Handled::Fresh(status, body))
    })
}

/// Whether a `Stripe-Version` looks like Stripe's (`2026-10-28.endive`, `2024-06-20`).
/// Every well-formed version is answered in the shapes of [`API_VERSION`].
fn valid_api_version(version: &str) -> bool {
    let (date, name) = version.split_once('.').unwrap_or((version, "x"));
    let date_ok = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
    date_ok && !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces ids along a dotted `expand[]` path with the objects they name.
fn expand_path(state: &State, scope: &Scope, value: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if *first == "data" && value["object"] == "list" {
        if let Some(items) = value["data"].as_array_mut() {
            for item in items {
                expand_path(state, scope, item, rest);
            }
        }
        return;
    }
    if *first == "payments" && value["object"] == "invoice" && value.get("payments").is_none() {
        // Included only when expanded, as on Stripe.
        let id = value["id"].as_str().unwrap_or_default();
        value["payments"] = crate::billing::invoice_payments(state, scope, id);
    }
    let Some(field) = value.get_mut(*first) else {
        return;
    };
    if let Some(id) = field.as_str() {
        let found = state.store.get(scope, id).or_else(|| {
            state
                .store
                .get(&None, id)
                .filter(|found| found["object"] == "account")
        });
        if let Some(found) = found {
            *field = found.into_owned();
        }
    }
    if let Some(items) = field.as_array_mut() {
        for item in items {
            expand_path(state, scope, item, rest);
        }
        return;
    }
    expand_path(state, scope, field, rest);
}

/// Reads Stripe's list parameters.
pub fn page_params(params: &Params) -> ApiResult<Page> {
    let limit = params.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "Invalid limit: must be an integer between 1 and 100",
        ));
    }
    Ok(Page {
        limit: limit as usize,
        starting_after: params.str("starting_after")?.map(str::to_owned),
        ending_before: params.str("ending_before")?.map(str::to_owned),
    })
}

/// A list response of `kind` objects on the call's account that pass `keep`.
pub fn list(
    state: &State,
    call: &Call,
    kind: &str,
    url: &str,
    filters: &[&str],
    keep: impl Fn(&Value) -> bool,
) -> ApiResult<Value> {
    let mut allowed = vec!["limit", "starting_after", "ending_before", "created"];
    allowed.extend_from_slice(filters);
    call.params.allow(&allowed)?;
    let page = page_params(&call.params)?;
    // Walk the narrowest index a filter allows; `keep` still checks every filter.
    let mut narrow = None;
    for field in crate::store::INDEXED_FIELDS {
        if filters.contains(field)
            && let Some(value) = call.params.str(field)?
        {
            narrow = Some((*field, value));
            break;
        }
    }
    let (data, has_more) = state.store.page(&call.scope, kind, &page, narrow, keep)?;
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": url}))
}

/// A `{"object": "list"}` wrapper around values already at hand.
pub fn list_of(data: Vec<Value>, url: &str) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "url": url})
}

/// Dispatches by method and path.
fn route(state: &mut State, method: &Method, path: &str, call: &Call) -> ApiResult<Value> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    match segments.as_slice() {
        ["v1", rest @ ..] => {
            if let Some(value) = resources::route(state, call, get, post, delete, rest)? {
                return Ok(value);
            }
            if let Some(value) = billing::route(state, call, get, post, delete, rest)? {
                return Ok(value);
            }
            if let Some(value) = checkout::route(state, call, get, post, rest)? {
                return Ok(value);
            }
            if let Some(value) = clock::route(state, call, get, post, delete, rest)? {
                return Ok(value);
            }
            Err(ApiError::unrecognized(method.as_str(), path))
        }
        _ => Err(ApiError::unrecognized(method.as_str(), path)),
    }
}

/// `/_emulator/…`: the emulator-only endpoints (no auth: local tooling).
pub async fn emulator(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let raw = if request.method() == Method::GET {
        request.query_string().to_owned()
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    let result = crate::form::decode(&raw)
        .map_err(ApiError::state)
        .and_then(|decoded| {
            let path = request.path().trim_end_matches('/');
            let method = request.method().clone();
            match (method.as_str(), path) {
                ("GET", "/_emulator/faults") => return Ok(shared.faults.report()),
                ("POST", "/_emulator/faults") => {
                    return shared
                        .faults
                        .configure(&decoded)
                        .map_err(|message| ApiError::invalid("faults", message));
                }
                _ => {}
            }
            let params = Params::new(decoded);
            if (method.as_str(), path) == ("GET", "/_emulator/webhooks") {
                return Ok(json!({
                    "object": "emulator.webhook_deliveries",
                    "pending": shared.pending_deliveries.load(std::sync::atomic::Ordering::Acquire),
                }));
            }
            shared.with_state(true, |state| match (method.as_str(), path) {
                ("GET", "/_emulator/clock") => Ok(clock::global_clock(state)),
                ("POST", "/_emulator/clock/advance") => clock::advance_global(state, &params),
                ("POST", "/_emulator/reset") => {
                    let dunning = state.dunning.clone();
                    *state = State::default();
                    state.dunning = dunning;
                    Ok(json!({"reset": true}))
                }
                _ => Err(ApiError::unrecognized(method.as_str(), path)),
            })
        });
    let (status, body) = match result {
        Ok(value) => (200, value),
        Err(error) => (error.status, error.body()),
    };
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK)).json(body)
}

/// Hosted HTML pages (checkout, billing portal, Connect onboarding).
pub async fn pages(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let form: Map<String, Value> =
        crate::form::decode(&String::from_utf8_lossy(&body)).unwrap_or_default();
    let path = request.path().to_owned();
    let post = request.method() == Method::POST;
    shared.with_state(post, |state| {
        hosted::page(state, &path, post, &Params::new(form))
    })
}
