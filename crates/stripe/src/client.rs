//! The HTTP client: authentication, pinned API version, Connect and
//! idempotency headers, retries like the official libraries, the per-account
//! request budget, and decoding into typed objects or [`Error`]s.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::budget::{RateLimit, RequestBudget};
use crate::error::ApiError;
use crate::list::{List, Object};
use crate::{Error, Secret, form, json};

/// The API version every request is pinned to (the one stripe-python 16.1.0 and
/// stripe-node 23.1.0 send). Webhook endpoints are created with it too, so
/// events arrive in the shapes this crate parses.
pub const API_VERSION: &str = "2026-10-28.endive";

/// Where the real Stripe lives.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

/// Stripe rejects longer idempotency keys.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Path root of Stripe's API.
const API_ROOT: &str = "v1";

/// Path root of the emulator-only endpoints.
const EMULATOR_ROOT: &str = "_emulator";

/// A Stripe API client. Cheap to clone (an `Arc` inside); share one per process.
///
/// ```
/// # fn main() -> Result<(), stripe::Error> {
/// use std::time::Duration;
/// let client = stripe::Client::builder("sk_test_123")
///     .base_url("http://127.0.0.1:12111")
///     .max_retries(3)
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// assert!(!format!("{client:?}").contains("sk_test_123"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    /// Shared state, so clones share one connection pool and one budget.
    inner: Arc<Inner>,
}

/// What a [`Client`] is made of.
#[derive(Debug)]
struct Inner {
    /// Connection pool.
    http: reqwest::Client,
    /// Stripe or a compatible server (the emulator), without `/v1`.
    base_url: Url,
    /// The platform's secret key, sent as a bearer token.
    secret_key: Secret,
    /// How often and how patiently failed attempts are retried.
    retry: RetryPolicy,
    /// Per-attempt timeout.
    timeout: Duration,
    /// Per-account request budget; `None` sends at once.
    budget: Option<RequestBudget>,
}

/// Retry schedule: `min(initial · 2^(n-1), max) · (0.5 + rand · 0.5)`, never
/// below `initial`, as in the official libraries.
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    /// Retries after the first attempt.
    max_retries: u32,
    /// First delay, also the floor of every delay.
    initial_delay: Duration,
    /// Cap before jitter.
    max_delay: Duration,
}

impl RetryPolicy {
    /// The pause before retry number `retry` (1-based).
    fn delay(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        let backoff = self
            .initial_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let jittered = backoff.mul_f64(0.5 + rand::random::<f64>() * 0.5);
        jittered.max(self.initial_delay)
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    /// See [`ClientBuilder::base_url`].
    base_url: String,
    /// See [`Client::builder`].
    secret_key: Secret,
    /// See [`ClientBuilder::max_retries`] and [`ClientBuilder::retry_delays`].
    retry: RetryPolicy,
    /// See [`ClientBuilder::timeout`].
    timeout: Duration,
    /// See [`ClientBuilder::rate_limit`]; `None` disables the budget.
    rate_limit: Option<RateLimit>,
}

impl ClientBuilder {
    /// Talk to `base_url` (e.g. the emulator) instead of `https://api.stripe.com`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Retries after the first attempt (default 2, as the official clients).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.retry.max_retries = max_retries;
        self
    }

    /// First and largest retry delay (default 0.5 s and 5 s). Tests shrink them.
    pub fn retry_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_delay = initial;
        self.retry.max_delay = max.max(initial);
        self
    }

    /// Per-attempt timeout (default 80 s, as the official clients).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Per-account request budget (default: [`RateLimit::for_secret_key`]).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sends without a budget (e.g. against a local emulator in tests).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// Builds the client; fails on an empty key or a base URL that is not an
    /// absolute http(s) URL.
    pub fn build(self) -> Result<Client, Error> {
        if self.secret_key.is_empty() {
            return Err(Error::InvalidArgument(
                "the Stripe secret key is empty".into(),
            ));
        }
        let base_url = Url::parse(&self.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the Stripe base URL {:?} is not an absolute http(s) URL",
                    self.base_url
                ))
            })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("billforge-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| Error::Connection(error_chain(&err)))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                secret_key: self.secret_key,
                retry: self.retry,
                timeout: self.timeout,
                budget: self.rate_limit.map(RequestBudget::new),
            }),
        })
    }
}

/// Per-request options: which account the request runs on and its idempotency
/// key.
///
/// ```
/// use stripe::RequestOptions;
/// let options = RequestOptions::new()
///     .on_account("acct_123")
///     .idempotency_key("checkout:order_42");
/// assert_eq!(options.account(), Some("acct_123"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// `Stripe-Account`: run on this connected account instead of the platform.
    stripe_account: Option<String>,
    /// `Idempotency-Key` for a POST, derived by the caller from the logical
    /// operation; when absent a random one is made per call.
    idempotency_key: Option<String>,
}

impl RequestOptions {
    /// Platform account, generated idempotency key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the request on the connected account `account` (`acct_...`).
    pub fn on_account(mut self, account: impl Into<String>) -> Self {
        self.stripe_account = Some(account.into());
        self
    }

    /// Uses `key` as the POST's idempotency key, so a retried logical
    /// operation (even from another process) cannot create a second object.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The connected account, if any.
    pub fn account(&self) -> Option<&str> {
        self.stripe_account.as_deref()
    }
}

/// One answer from Stripe, whatever its status.
struct Answer {
    /// HTTP status.
    status: u16,
    /// `Request-Id` header.
    request_id: Option<String>,
    /// `Stripe-Should-Retry` header, when Stripe said.
    should_retry: Option<bool>,
    /// The whole body.
    body: Vec<u8>,
}

/// A request ready to send (possibly several times).
struct Prepared {
    /// Method.
    method: Method,
    /// Full URL, query included.
    url: Url,
    /// Form body (POST only).
    body: Option<String>,
    /// `Stripe-Account` header.
    account: Option<HeaderValue>,
    /// The connected account, as the budget key.
    account_key: Option<String>,
    /// `Idempotency-Key` header (POST only).
    idempotency_key: Option<HeaderValue>,
}

impl Client {
    /// A client for `secret_key` with every default (real Stripe).
    pub fn new(secret_key: impl Into<Secret>) -> Result<Client, Error> {
        Self::builder(secret_key).build()
    }

    /// Starts configuring a client for `secret_key`.
    pub fn builder(secret_key: impl Into<Secret>) -> ClientBuilder {
        let secret_key = secret_key.into();
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            rate_limit: Some(RateLimit::for_secret_key(secret_key.expose())),
            secret_key,
            retry: RetryPolicy {
                max_retries: 2,
                initial_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(5),
            },
            timeout: Duration::from_secs(80),
        }
    }

    /// `GET /v1/{path}` with `query` form-encoded into the URL.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &(impl Serialize + ?Sized),
        options: RequestOptions,
    ) -> Result<T, Error> {
        self.execute(Method::GET, API_ROOT, path, form::encode(query)?, options)
            .await
    }

    /// `POST /v1/{path}` with `params` as the form body and an idempotency key.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        params: &(impl Serialize + ?Sized),
        options: RequestOptions,
    ) -> Result<T, Error> {
        self.execute(Method::POST, API_ROOT, path, form::encode(params)?, options)
            .await
    }

    /// `DELETE /v1/{path}` with `query` in the URL.
    pub(crate) async fn delete<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &(impl Serialize + ?Sized),
        options: RequestOptions,
    ) -> Result<T, Error> {
        self.execute(
            Method::DELETE,
            API_ROOT,
            path,
            form::encode(query)?,
            options,
        )
        .await
    }

    /// `method /_emulator/{path}`: the Stripe emulator's own endpoints
    /// (clock, webhook deliveries), which real Stripe does not have.
    pub(crate) async fn emulator_call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        params: &(impl Serialize + ?Sized),
    ) -> Result<T, Error> {
        let encoded = form::encode(params)?;
        self.execute(method, EMULATOR_ROOT, path, encoded, RequestOptions::new())
            .await
    }

    /// Every object of a list endpoint, fetching pages (`starting_after` the
    /// last id) while `has_more`. `params` may carry `limit` (the page size)
    /// and filters.
    pub(crate) fn paginate<T>(
        &self,
        path: &[&str],
        params: &(impl Serialize + ?Sized),
        options: RequestOptions,
    ) -> BoxStream<'static, Result<T, Error>>
    where
        T: DeserializeOwned + Object + Send + 'static,
    {
        let path = path.iter().map(|segment| (*segment).to_owned()).collect();
        match serde_json::to_value(params) {
            Ok(params) => pages(self.clone(), path, params, options),
            Err(err) => {
                let err = Error::InvalidArgument(format!("parameters do not serialise: {err}"));
                stream::once(async move { Err(err) }).boxed()
            }
        }
    }

    /// Sends a request, retrying as the official clients do, and decodes the
    /// answer into `T` or an [`Error`].
    async fn execute<T: DeserializeOwned>(
        &self,
        method: Method,
        root: &str,
        path: &[&str],
        encoded: String,
        options: RequestOptions,
    ) -> Result<T, Error> {
        let prepared = self.prepare(method, root, path, encoded, options)?;
        // The emulator's own endpoints are not Stripe operations: they do
        // not count against (or wait for) Stripe's rate limit.
        let budget = self.inner.budget.as_ref().filter(|_| root == API_ROOT);
        let mut retries = 0;
        loop {
            if let Some(budget) = budget {
                budget.acquire(prepared.account_key.as_deref()).await;
            }
            let (error, retryable) = match self.attempt(&prepared).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    return json::from_slice(&answer.body).map_err(|err| Error::Decode {
                        status: answer.status,
                        request_id: answer.request_id,
                        message: err.to_string(),
                    });
                }
                Ok(answer) => {
                    // Stripe's `Stripe-Should-Retry` decides when present.
                    // Otherwise: conflicts, server errors and 429s. The
                    // official libraries give up on a rate-limit 429, but
                    // Stripe's rate-limit guide asks for a backed-off retry,
                    // and with the key reused it can never act twice.
                    let retryable = answer.should_retry.unwrap_or(
                        answer.status == 409 || answer.status == 429 || answer.status >= 500,
                    );
                    let error =
                        ApiError::from_response(answer.status, &answer.body, answer.request_id);
                    (Error::Api(Box::new(error)), retryable)
                }
                Err(error) => (error, true),
            };
            if !retryable || retries >= self.inner.retry.max_retries {
                return Err(error);
            }
            retries += 1;
            let delay = self.inner.retry.delay(retries);
            tracing::warn!(
                method = %prepared.method,
                path = prepared.url.path(),
                retry = retries,
                ?delay,
                %error,
                "retrying Stripe request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Validates and assembles everything that stays the same across retries.
    fn prepare(
        &self,
        method: Method,
        root: &str,
        path: &[&str],
        encoded: String,
        options: RequestOptions,
    ) -> Result<Prepared, Error> {
        if let Some(empty) = path.iter().position(|segment| segment.is_empty()) {
            return Err(Error::InvalidArgument(format!(
                "empty id in /v1/{} (segment {empty})",
                path.join("/")
            )));
        }
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidArgument("the base URL cannot have a path".into()))?
            .pop_if_empty()
            .push(root)
            .extend(path);
        let body = if method == Method::POST {
            Some(encoded)
        } else {
            url.set_query(
                Some(&encoded)
                    .filter(|query| !query.is_empty())
                    .map(String::as_str),
            );
            None
        };
        let idempotency_key = (method == Method::POST)
            .then(|| options.idempotency_key.unwrap_or_else(generated_idempotency_key))
            .map(|key| {
                if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
                    return Err(Error::InvalidArgument(format!(
                        "an idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, got {}",
                        key.len()
                    )));
                }
                header_value("idempotency key", &key)
            })
            .transpose()?;
        let account = options
            .stripe_account
            .as_deref()
            .map(|account| header_value("Stripe-Account", account))
            .transpose()?;
        Ok(Prepared {
            method,
            url,
            body,
            account,
            account_key: options.stripe_account,
            idempotency_key,
        })
    }

    /// One attempt: the answer whatever its status, or a connection/timeout error.
    async fn attempt(&self, prepared: &Prepared) -> Result<Answer, Error> {
        let mut request = self
            .inner
            .http
            .request(prepared.method.clone(), prepared.url.clone())
            .bearer_auth(self.inner.secret_key.expose())
            .header("Stripe-Version", API_VERSION)
            .timeout(self.inner.timeout);
        if let Some(account) = &prepared.account {
            request = request.header("Stripe-Account", account.clone());
        }
        if let Some(key) = &prepared.idempotency_key {
            request = request.header("Idempotency-Key", key.clone());
        }
        if let Some(body) = &prepared.body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone());
        }
        // The URL is left out of the message: a list query may carry an email.
        let transport_error = |err: reqwest::Error| {
            if err.is_timeout() {
                Error::Timeout(self.inner.timeout)
            } else {
                Error::Connection(error_chain(&err.without_url()))
            }
        };
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("request-id");
        let should_retry = header("stripe-should-retry").map(|value| value == "true");
        tracing::debug!(
            method = %prepared.method,
            path = prepared.url.path(),
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            replayed = header("idempotent-replayed").is_some(),
            "Stripe answered"
        );
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        Ok(Answer {
            status,
            request_id,
            should_retry,
            body,
        })
    }
}

/// The pages of a list endpoint, flattened into its objects.
fn pages<T>(
    client: Client,
    path: Vec<String>,
    params: Value,
    options: RequestOptions,
) -> BoxStream<'static, Result<T, Error>>
where
    T: DeserializeOwned + Object + Send + 'static,
{
    /// Where the walk through the pages stands.
    enum Cursor {
        /// The next page starts after this id (`None`: the first page).
        After(Option<String>),
        /// The last page has been read.
        Done,
    }
    stream::try_unfold(Cursor::After(None), move |cursor| {
        let (client, path, mut params, options) = (
            client.clone(),
            path.clone(),
            params.clone(),
            options.clone(),
        );
        async move {
            let Cursor::After(after) = cursor else {
                return Ok::<_, Error>(None);
            };
            if let (Some(after), Value::Object(fields)) = (after, &mut params) {
                fields.insert("starting_after".into(), Value::String(after));
            }
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let page: List<T> = client.get(&segments, &params, options).await?;
            let next = match page.data.last() {
                Some(last) if page.has_more => Cursor::After(Some(last.id().to_owned())),
                _ => Cursor::Done,
            };
            Ok(Some((stream::iter(page.data.into_iter().map(Ok)), next)))
        }
    })
    .try_flatten()
    .boxed()
}

/// A random key for a POST whose caller gave none: unique per logical call,
/// and reused by this call's own retries.
fn generated_idempotency_key() -> String {
    format!("billforge-{:032x}", rand::random::<u128>())
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::InvalidArgument(format!(
            "the {what} contains characters not allowed in a header"
        ))
    })
}

/// `err` and its sources, one line (reqwest's own message is terse).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_follow_the_official_schedule() {
        let policy = RetryPolicy {
            max_retries: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
        };
        for _ in 0..100 {
            let first = policy.delay(1);
            assert_eq!(
                first,
                Duration::from_millis(500),
                "jitter never goes below the initial delay"
            );
            let third = policy.delay(3);
            assert!(
                (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&third),
                "{third:?}"
            );
            let tenth = policy.delay(10);
            assert!(
                (Duration::from_millis(2500)..=Duration::from_secs(5)).contains(&tenth),
                "{tenth:?}"
            );
        }
    }

    #[test]
    fn builder_rejects_an_empty_key_and_a_relative_base_url() {
        assert!(matches!(Client::new(""), Err(Error::InvalidArgument(_))));
        let err = Client::builder("sk_test_1")
            .base_url("localhost:12111")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("base URL"), "{err}");
    }

    #[test]
    fn generated_idempotency_keys_are_unique() {
        assert_ne!(generated_idempotency_key(), generated_idempotency_key());
    }
}
