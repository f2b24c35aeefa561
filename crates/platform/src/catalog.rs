//! The tenant's catalog: plans, prices and features, and their sync to Stripe.
//!
//! So far: features (flags and limits, found by a stable `lookup_key`),
//! validated by `billing::entitlements`, stored tenant-scoped and audited.

use billing::entitlements::{FeatureKind, LookupKey};
use billing::ids::{FeatureId, TenantId};
use store::catalog::NewFeature;
use store::{AuditContext, StoreError};

use crate::jobs::JobHandlers;
use crate::{Platform, PlatformError, PlatformResult};

pub use store::catalog::FeatureRecord;

/// The longest feature name accepted (as Stripe's product names).
const MAX_NAME_CHARS: usize = 250;

/// Registers this module's kinds of background work.
pub fn register_jobs(_handlers: &mut JobHandlers) {}

/// A trimmed, non-empty display name of at most [`MAX_NAME_CHARS`].
fn display_name(raw: &str) -> PlatformResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(PlatformError::invalid(
            "name",
            format!("a name is 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

impl Platform {
    /// Creates a feature. The lookup key is what merchants' code checks, so
    /// it is validated and unique per tenant.
    pub async fn create_feature(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        lookup_key: &str,
        name: &str,
        kind: FeatureKind,
    ) -> PlatformResult<FeatureRecord> {
        let lookup_key = LookupKey::parse(lookup_key)
            .map_err(|err| PlatformError::invalid("lookup_key", err.to_string()))?;
        let new_feature = NewFeature {
            id: FeatureId::generate().to_string(),
            lookup_key: lookup_key.to_string(),
            name: display_name(name)?,
            kind: serde_json::to_string(&kind).map_err(|err| {
                PlatformError::Internal(format!("encoding a feature kind: {err}"))
            })?,
        };
        match self
            .store()
            .scoped(tenant)
            .create_feature(new_feature, ctx)
            .await
        {
            Err(StoreError::Duplicate) => Err(PlatformError::invalid(
                "lookup_key",
                format!("a feature with lookup key `{lookup_key}` already exists"),
            )),
            other => Ok(other?),
        }
    }

    /// The tenant's features, by lookup key.
    pub async fn features(&self, tenant: &TenantId) -> PlatformResult<Vec<FeatureRecord>> {
        Ok(self.store().scoped(tenant).features().await?)
    }

    /// One of the tenant's features; another tenant's is `not_found`.
    pub async fn feature(
        &self,
        tenant: &TenantId,
        id: &FeatureId,
    ) -> PlatformResult<FeatureRecord> {
        self.store()
            .scoped(tenant)
            .feature(id)
            .await?
            .ok_or(PlatformError::NotFound("feature"))
    }

    /// Archives (`true`) or restores a feature; features are never deleted
    /// because plans and customers refer to them.
    pub async fn set_feature_archived(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &FeatureId,
        archived: bool,
    ) -> PlatformResult<FeatureRecord> {
        self.store()
            .scoped(tenant)
            .set_feature_archived(id, archived, ctx)
            .await?
            .ok_or(PlatformError::NotFound("feature"))
    }
}
