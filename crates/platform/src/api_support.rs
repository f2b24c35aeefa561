//! What the JSON API needs beyond the shared services: a cache of
//! authenticated API keys, per-key rate limits, idempotency records and the
//! tenant's event feed.
//!
//! The key cache holds a caller for at most [`CALLER_TTL`]: a revocation on
//! this instance clears it at once, and other instances (which share only
//! the database) stop accepting a revoked key within that second.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use billing::ids::{DomainEventId, TenantId};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::future::Cache;

pub use store::api::{IdempotencyClaim, IdempotencyRecord};
pub use store::domain_events::StoredDomainEvent;

use crate::api_keys::ApiCaller;
use crate::tokens::sha256_hex;
use crate::{Platform, PlatformError, PlatformResult, Settings};

/// How long an authenticated key is trusted without asking the database.
pub const CALLER_TTL: Duration = Duration::from_secs(1);
/// How many distinct keys the caller cache holds.
const CALLER_CAPACITY: u64 = 10_000;
/// How long an idempotent POST's response is replayed.
pub const IDEMPOTENCY_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The API's in-memory state, one per process.
pub struct ApiState {
    /// Key hash → authenticated caller (never the key itself).
    callers: Cache<String, ApiCaller>,
    /// Token buckets per API key id.
    limiter: DefaultKeyedRateLimiter<String>,
}

impl ApiState {
    /// Empty caches and the configured rate limit.
    pub(crate) fn new(settings: &Settings) -> Self {
        let limit = settings.api_rate_limit;
        let per_second = NonZeroU32::new(limit.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(per_second);
        Self {
            callers: Cache::builder()
                .max_capacity(CALLER_CAPACITY)
                .time_to_live(CALLER_TTL)
                .build(),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }
}

impl Platform {
    fn api_state(&self) -> &ApiState {
        &self.inner.api
    }

    /// [`Platform::authenticate_api_key`] behind the in-memory cache: the
    /// hot path (entitlement checks) makes no database round trip for a key
    /// seen within the last second. When an entry expires, the requests that
    /// find it missing wait for one look-up instead of each making their
    /// own (at 64 connections, a stampede on the pool every second).
    pub async fn api_caller(&self, bearer: &str) -> PlatformResult<ApiCaller> {
        let hash = sha256_hex(bearer);
        self.api_state()
            .callers
            .try_get_with(hash, self.authenticate_api_key(bearer))
            .await
            .map_err(|shared| Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.replicate()))
    }

    /// Forgets every cached caller (a key was revoked or a tenant changed).
    pub fn forget_api_callers(&self) {
        self.api_state().callers.invalidate_all();
    }

    /// Takes one request from `key_id`'s bucket; `Err` carries how long to
    /// wait before the next request would be accepted.
    pub fn take_api_request(&self, key_id: &str) -> Result<(), Duration> {
        self.api_state()
            .limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Claims an `Idempotency-Key` of `tenant` for a request with
    /// `fingerprint` (see `store::api`).
    pub async fn claim_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        fingerprint: &str,
    ) -> PlatformResult<IdempotencyClaim> {
        let now = self.now();
        Ok(self
            .store()
            .scoped(tenant)
            .claim_idempotency_key(key, fingerprint, now, now - IDEMPOTENCY_TTL)
            .await?)
    }

    /// Stores the response to replay for a claimed key.
    pub async fn complete_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
        status: u16,
        body: String,
    ) -> PlatformResult<()> {
        Ok(self
            .store()
            .scoped(tenant)
            .complete_idempotency_key(key, status, body, self.now())
            .await?)
    }

    /// Frees a claimed key whose request failed on our side.
    pub async fn release_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> PlatformResult<()> {
        Ok(self
            .store()
            .scoped(tenant)
            .release_idempotency_key(key)
            .await?)
    }

    /// The tenant's domain events, oldest first, after `starting_after`.
    /// A cursor that is not one of the tenant's events is a validation
    /// error (another tenant's id included), not an empty page.
    pub async fn domain_events_page(
        &self,
        tenant: &TenantId,
        starting_after: Option<&str>,
        limit: u64,
    ) -> PlatformResult<Vec<StoredDomainEvent>> {
        let scope = self.store().scoped(tenant);
        let cursor = match starting_after {
            Some(raw) => {
                let id = DomainEventId::parse(raw).ok();
                let known = match &id {
                    Some(id) => scope.domain_event(id).await?.is_some(),
                    None => false,
                };
                if !known {
                    return Err(PlatformError::invalid(
                        "starting_after",
                        format!("no such event: `{raw}`"),
                    ));
                }
                id
            }
            None => None,
        };
        Ok(scope.domain_events(None, cursor.as_ref(), limit).await?)
    }

    /// One of the tenant's domain events; another tenant's is `not_found`.
    pub async fn domain_event_of(
        &self,
        tenant: &TenantId,
        raw_id: &str,
    ) -> PlatformResult<StoredDomainEvent> {
        let id = DomainEventId::parse(raw_id).map_err(|_| PlatformError::NotFound("event"))?;
        self.store()
            .scoped(tenant)
            .domain_event(&id)
            .await?
            .ok_or(PlatformError::NotFound("event"))
    }
}
