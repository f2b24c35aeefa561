//! The entitlement check's hot path: served from memory.
//!
//! A check resolves the customer reference (our id or the merchant's external
//! id) and reads the customer's stored entitlements, both from per-process
//! caches. A recomputation that changes a customer's entitlements forgets
//! them here at once (same process), and every process polls the
//! `entitlements.updated` domain events every [`POLL_INTERVAL`] to forget what
//! other processes changed, so a write is visible everywhere within a second.
//! The poll works on SQLite and PostgreSQL alike; entries also expire after
//! [`ENTRY_TTL`] as a backstop.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use billing::entitlements::{Entitlements, LookupKey};
use billing::ids::{CustomerId, TenantId};
use moka::sync::Cache;

use crate::entitlements::EntitlementCheck;
use crate::{Platform, PlatformError, PlatformResult};

/// How often each process looks for entitlement changes made elsewhere.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How far back each poll looks again: a change whose transaction committed
/// late (its id is older than ids already seen) is still found.
const POLL_OVERLAP: Duration = Duration::from_secs(5);
/// The longest an entry is trusted even without a change notice.
const ENTRY_TTL: Duration = Duration::from_secs(300);
/// How many customers' entitlements one process keeps.
const CAPACITY: u64 = 1_000_000;

/// The per-process caches of the check.
pub(crate) struct EntitlementCache {
    /// (tenant, customer) → its stored entitlements.
    entitlements: Cache<(TenantId, CustomerId), Arc<Entitlements>>,
    /// (tenant, reference as the merchant gave it) → our customer id; ids
    /// never change, so only a removed customer would make one stale.
    customers: Cache<(TenantId, String), CustomerId>,
    /// Bumped by every invalidation: a load that started before one is not
    /// stored, so a stale read can never outlive the change that made it stale.
    generation: AtomicU64,
    /// Change ids already applied within the overlap window.
    seen: Mutex<HashSet<String>>,
}

impl EntitlementCache {
    pub(crate) fn new() -> Self {
        Self {
            entitlements: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ENTRY_TTL)
                .build(),
            customers: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ENTRY_TTL)
                .build(),
            generation: AtomicU64::new(0),
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Forgets one customer's entitlements (they changed).
    pub(crate) fn forget(&self, tenant: &TenantId, customer: &CustomerId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entitlements
            .invalidate(&(tenant.clone(), customer.clone()));
    }
}

impl Platform {
    fn entitlement_cache(&self) -> &EntitlementCache {
        &self.inner.entitlement_cache
    }

    /// Forgets a customer's cached entitlements in this process.
    pub(crate) fn forget_entitlements(&self, tenant: &TenantId, customer: &CustomerId) {
        self.entitlement_cache().forget(tenant, customer);
    }

    /// The customer (our id or the merchant's external id) of the tenant,
    /// resolved once per process.
    pub async fn resolve_customer(
        &self,
        tenant: &TenantId,
        reference: &str,
    ) -> PlatformResult<CustomerId> {
        let key = (tenant.clone(), reference.to_owned());
        if let Some(id) = self.entitlement_cache().customers.get(&key) {
            return Ok(id);
        }
        let row = self.find_customer(tenant, reference).await?;
        let id = CustomerId::parse(&row.id)
            .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))?;
        self.entitlement_cache().customers.insert(key, id.clone());
        Ok(id)
    }

    /// The customer's stored entitlements from memory (loaded once, then
    /// kept until they change).
    pub async fn cached_entitlements(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Arc<Entitlements>> {
        let cache = self.entitlement_cache();
        let key = (tenant.clone(), customer.clone());
        if let Some(found) = cache.entitlements.get(&key) {
            return Ok(found);
        }
        let generation = cache.generation.load(Ordering::SeqCst);
        let loaded = Arc::new(self.customer_entitlements(tenant, customer).await?);
        if cache.generation.load(Ordering::SeqCst) == generation {
            cache.entitlements.insert(key, loaded.clone());
        }
        Ok(loaded)
    }

    /// "May this customer use this feature?" from memory: the entitlement
    /// API's hot path. `customer` is our id or the merchant's external id.
    pub async fn check_entitlement_fast(
        &self,
        tenant: &TenantId,
        customer: &str,
        lookup_key: &str,
    ) -> PlatformResult<(CustomerId, EntitlementCheck)> {
        let key = LookupKey::parse(lookup_key)
            .map_err(|err| PlatformError::invalid("feature", err.to_string()))?;
        let customer = self.resolve_customer(tenant, customer).await?;
        let entitlements = self.cached_entitlements(tenant, &customer).await?;
        let found = entitlements.get(&key);
        Ok((customer, EntitlementCheck::of(key, found)))
    }

    /// Forgets the entitlements other processes changed since the last
    /// poll; returns how many customers were forgotten.
    pub async fn poll_entitlement_changes(&self) -> PlatformResult<usize> {
        // Wall time, not the platform's clock: event ids are ULIDs stamped
        // with the wall clock, and the window is about commit lag.
        let since =
            chrono::Utc::now() - chrono::TimeDelta::from_std(POLL_OVERLAP).unwrap_or_default();
        let changes = self.store().entitlement_changes_since(since).await?;
        let cache = self.entitlement_cache();
        let mut forgotten = 0;
        let mut seen = cache
            .seen
            .lock()
            .map_err(|_| PlatformError::Internal("entitlement poll lock poisoned".to_owned()))?;
        let current: HashSet<String> = changes.iter().map(|c| c.id.clone()).collect();
        for change in &changes {
            if seen.contains(&change.id) {
                continue;
            }
            if let (Ok(tenant), Some(Ok(customer))) = (
                TenantId::parse(&change.tenant_id),
                change.customer_id.as_deref().map(CustomerId::parse),
            ) {
                cache.forget(&tenant, &customer);
                forgotten += 1;
            }
        }
        // Only ids still inside the window need remembering.
        *seen = current;
        Ok(forgotten)
    }

    /// Polls for entitlement changes every [`POLL_INTERVAL`] until the
    /// platform is dropped (the task holds only a weak reference).
    pub fn spawn_entitlement_poll(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<crate::Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(POLL_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let platform = Platform { inner };
                if let Err(err) = platform.poll_entitlement_changes().await {
                    tracing::warn!(error = %err, "polling entitlement changes failed; retrying");
                }
            }
        })
    }
}
