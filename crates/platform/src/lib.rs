//! Application services shared by the web pages and the JSON API, and the
//! shared application state ([`Platform`]).
//!
//! Architecture invariant: handlers in `web` and `api` call these services;
//! they never touch the database themselves. Services reach tenant-owned rows
//! only through `store::TenantScope`.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod api_support;
pub mod catalog;
pub mod clock;
pub mod connect;
pub mod console;
pub mod domain_events;
pub mod dunning;
mod entitlement_cache;
pub mod entitlements;
mod error;
pub mod hosted;
pub mod import;
mod ingest;
pub mod jobs;
pub mod mail;
pub mod mirror;
pub mod outbound;
pub mod payments;
pub mod reconcile;
mod request_id;
pub mod scheduled_changes;
mod settings;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

use billing::clock::{OffsetClock, SharedClock};
use chrono::{DateTime, Utc};
use store::Store;

/// The stored records services return, re-exported so `web` and `api` need
/// not depend on `store`.
pub mod records {
    pub use store::mirror::{
        CustomerRow, DisputeRow, InvoiceRow, Page, RefundRow, SubscriptionRow,
    };
    pub use store::{Actor, AuditContext};
    pub use store::{
        ActorKind, ApiKey, ApiKeyMode, AuditEvent, Job, JobStatus, Session, Tenant, TenantStatus,
        User, UserRole,
    };
}

pub use error::{PlatformError, PlatformResult};
pub use request_id::RequestId;
pub use settings::{ApiRateLimit, LogFormat, Secret, Settings, ThrottlePolicy};

/// The key under which a generated `SECRET_KEY` is kept in the database.
const SECRET_KEY_SETTING: &str = "secret_key";

/// The running platform: configuration, database and derived secrets. Cheap
/// to clone; one per process, shared by every request and worker.
#[derive(Clone)]
pub struct Platform {
    /// Shared state behind one pointer.
    inner: Arc<Inner>,
}

struct Inner {
    /// The configuration the process started with.
    settings: Settings,
    /// The one source of "now": the system clock, or a manual clock that
    /// tests and the emulator move forward.
    clock: SharedClock,
    /// The same clock when it is the emulator-mode clock `clock advance`
    /// moves; `None` with real Stripe (the wall clock) or a test's clock.
    emulated: Option<OffsetClock>,
    /// Held while this process steps time, so two advances do not interleave.
    advancing: tokio::sync::Mutex<()>,
    /// The database.
    store: Store,
    /// The Stripe adapter: real Stripe, or the emulator standing in for it.
    stripe: stripe::Client,
    /// CSRF token issuer, keyed by `SECRET_KEY`.
    csrf: tokens::CsrfTokens,
    /// Signing keys of customer account links and sessions, derived from
    /// `SECRET_KEY`.
    customer_tokens: hosted::CustomerTokenKeys,
    /// The signing secrets each Stripe webhook endpoint accepts.
    webhooks: webhooks::WebhookSecrets,
    /// Group-commits verified deliveries into the inbox.
    inbox_writer: ingest::InboxWriter,
    /// A valid argon2 hash of a random password, verified against when the
    /// email is unknown so timing does not reveal which accounts exist.
    dummy_password_hash: String,
    /// The API's in-memory state: key cache, rate limiter.
    api: api_support::ApiState,
    /// The entitlement check's in-memory state (see `entitlement_cache`).
    entitlement_cache: entitlement_cache::EntitlementCache,
    /// Where mail leaves: SMTP per `SMTP_URL`, or capture without one.
    mail: mailer::Transport,
    /// The platform's sending address (`MAIL_FROM`).
    mail_from: mailer::Address,
}

impl Platform {
    /// Connects, migrates and resolves the secret key: everything a process
    /// needs before serving.
    pub async fn start(
        settings: Settings,
        clock: SharedClock,
        stripe: stripe::Client,
    ) -> PlatformResult<Self> {
        Self::start_with(settings, clock, None, stripe).await
    }

    /// [`Platform::start`] on the emulator's time: the one clock is the wall
    /// clock plus the offset kept in the database (see [`crate::clock`]),
    /// which `clock advance` moves together with the emulator's.
    pub async fn start_on_emulator_time(
        settings: Settings,
        stripe: stripe::Client,
    ) -> PlatformResult<Self> {
        let clock = OffsetClock::default();
        let platform =
            Self::start_with(settings, Arc::new(clock.clone()), Some(clock), stripe).await?;
        platform.refresh_clock().await?;
        Ok(platform)
    }

    async fn start_with(
        settings: Settings,
        clock: SharedClock,
        emulated: Option<OffsetClock>,
        stripe: stripe::Client,
    ) -> PlatformResult<Self> {
        let store = Store::connect(settings.database_url.expose()).await?;
        store.migrate().await?;
        let secret_key = match &settings.secret_key {
            Some(key) => key.clone(),
            None => Secret::new(
                store
                    .setting_or_insert(SECRET_KEY_SETTING, &tokens::random_token(), clock.now())
                    .await?,
            ),
        };
        let dummy_password_hash =
            accounts::hash_password(&Secret::new(tokens::random_token())).await?;
        let webhooks = webhooks::WebhookSecrets::from_settings(&settings)?;
        let api = api_support::ApiState::new(&settings);
        let mail_from = mailer::parse_address(&settings.mail_from)
            .map_err(|err| PlatformError::Internal(format!("MAIL_FROM: {err}")))?;
        let mail = mailer::Transport::from_smtp_url(
            settings.smtp_url.as_ref().map(Secret::expose),
            mail_from.clone(),
        )
        .map_err(|err| PlatformError::Internal(format!("SMTP_URL: {err}")))?;
        let inbox_writer = ingest::InboxWriter::new(store.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                clock,
                emulated,
                advancing: tokio::sync::Mutex::new(()),
                store,
                stripe,
                customer_tokens: hosted::CustomerTokenKeys::derive(&secret_key),
                csrf: tokens::CsrfTokens::new(secret_key),
                webhooks,
                inbox_writer,
                dummy_password_hash,
                api,
                entitlement_cache: entitlement_cache::EntitlementCache::new(),
                mail,
                mail_from,
            }),
        })
    }

    /// The configuration.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The Stripe adapter every Stripe call goes through.
    pub fn stripe(&self) -> &stripe::Client {
        &self.inner.stripe
    }

    /// The database (services, readiness, background maintenance).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// CSRF tokens for forms.
    pub fn csrf(&self) -> &tokens::CsrfTokens {
        &self.inner.csrf
    }

    /// The current time, from the platform's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn dummy_password_hash(&self) -> &str {
        &self.inner.dummy_password_hash
    }

    /// Deletes expired sessions and old login failures; run periodically by
    /// the background worker.
    pub async fn run_maintenance(&self) -> PlatformResult<()> {
        let now = self.now();
        let window = chrono::TimeDelta::from_std(self.settings().login_throttle.window)
            .unwrap_or(chrono::TimeDelta::MAX);
        let sessions = self.store().prune_expired_sessions(now).await?;
        let failures = self.store().prune_login_failures(now - window).await?;
        tracing::debug!(sessions, failures, "maintenance pruned expired rows");
        Ok(())
    }
}
