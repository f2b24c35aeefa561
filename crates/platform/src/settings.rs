//! The resolved configuration the running platform reads. Loading it (env
//! vars, TOML file, defaults) is the binary's job; see `docs/configuration.md`.

use std::fmt;
use std::time::Duration;

use subtle::ConstantTimeEq;

/// A string that must never reach a log line, a `Debug` dump or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for MACs, hashes and the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality, so timing does not reveal matching prefixes.
    pub fn constant_time_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Limits on failed logins inside a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failed attempts one account may see before it is locked for the window.
    pub per_account: u64,
    /// Failed attempts one client address may make (across accounts).
    pub per_ip: u64,
    /// How far back failures count.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_ip: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Per-API-key request rate (a token bucket): `burst` requests at once,
/// refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRateLimit {
    /// Sustained requests per second one key may make.
    pub per_second: u32,
    /// Requests one key may make at once before being throttled.
    pub burst: u32,
}

impl Default for ApiRateLimit {
    fn default() -> Self {
        Self {
            per_second: 100,
            burst: 200,
        }
    }
}

/// Everything the platform is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: Secret,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Base URL people and emails use to reach the platform; `https` turns on
    /// `Secure` cookies.
    pub public_url: String,
    /// Signs CSRF tokens. `None`: generated once and kept in the database.
    pub secret_key: Option<Secret>,
    /// Human or JSON logs.
    pub log_format: LogFormat,
    /// Stripe platform key; `None` runs on the embedded emulator (later issue).
    pub stripe_secret_key: Option<Secret>,
    /// Override of Stripe's API base URL (the emulator's, or a proxy).
    pub stripe_api_base: Option<String>,
    /// Where the embedded Stripe emulator listens when no Stripe key is set.
    pub stripe_emulator_bind: String,
    /// Signing secrets `POST /webhooks/stripe` accepts; several are live at
    /// once while a secret is rolled. Empty: `serve` registers the endpoint
    /// on Stripe at start-up and keeps its secret in the database.
    pub stripe_webhook_secrets: Vec<Secret>,
    /// The same for `POST /webhooks/stripe/connect` (connected accounts' events).
    pub stripe_connect_webhook_secrets: Vec<Secret>,
    /// Outgoing mail server; `None` keeps mail as `captured` in the outbox
    /// and the log instead of sending it.
    pub smtp_url: Option<Secret>,
    /// The platform's sending address (`From` and envelope sender of every
    /// email; merchants' names are its display name).
    pub mail_from: String,
    /// How long a browser session lasts.
    pub session_ttl: Duration,
    /// Login throttling limits.
    pub login_throttle: ThrottlePolicy,
    /// Largest JSON body the API accepts, in bytes.
    pub json_body_limit: usize,
    /// Requests each API key may make (`429 rate_limited` beyond).
    pub api_rate_limit: ApiRateLimit,
}

impl Settings {
    /// Settings with every default, for `database_url`.
    pub fn with_defaults(database_url: &str) -> Self {
        let bind = "127.0.0.1:8080".to_owned();
        Self {
            database_url: Secret::new(database_url),
            public_url: format!("http://{bind}"),
            bind,
            secret_key: None,
            log_format: LogFormat::Human,
            stripe_secret_key: None,
            stripe_api_base: None,
            stripe_emulator_bind: "127.0.0.1:12111".to_owned(),
            stripe_webhook_secrets: Vec::new(),
            stripe_connect_webhook_secrets: Vec::new(),
            smtp_url: None,
            mail_from: "billing@billforge.localhost".to_owned(),
            session_ttl: Duration::from_secs(12 * 60 * 60),
            login_throttle: ThrottlePolicy::default(),
            json_body_limit: 64 * 1024,
            api_rate_limit: ApiRateLimit::default(),
        }
    }

    /// Whether cookies must carry `Secure` (the site is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Live keys only when the platform talks to live Stripe.
    pub fn api_key_mode(&self) -> store::ApiKeyMode {
        match &self.stripe_secret_key {
            // Secret (`sk_live_…`) and restricted (`rk_live_…`) live keys alike.
            Some(key) if key.expose().get(2..8) == Some("_live_") => store::ApiKeyMode::Live,
            _ => store::ApiKeyMode::Test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_live_only_with_a_live_stripe_key() {
        let mut settings = Settings::with_defaults("sqlite::memory:");
        assert_eq!(settings.api_key_mode(), store::ApiKeyMode::Test);
        for (stripe_key, mode) in [
            ("sk_test_123", store::ApiKeyMode::Test),
            ("sk_live_123", store::ApiKeyMode::Live),
            ("rk_live_123", store::ApiKeyMode::Live),
        ] {
            settings.stripe_secret_key = Some(Secret::new(stripe_key));
            assert_eq!(settings.api_key_mode(), mode, "{stripe_key}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let mut settings = Settings::with_defaults("postgres://bf:hunter2@db/bf");
        settings.secret_key = Some(Secret::new("very-secret"));
        settings.stripe_webhook_secrets = vec![Secret::new("whsec_platform_one")];
        settings.stripe_connect_webhook_secrets = vec![Secret::new("whsec_connect_one")];
        let debug = format!("{settings:?}");
        for secret in ["hunter2", "very-secret", "whsec_"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
    }
}
