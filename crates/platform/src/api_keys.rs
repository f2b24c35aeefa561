//! Merchant API keys: `bf_test_…` / `bf_live_…`, shown once, stored hashed.

use billing::ids::{ApiKeyId, TenantId, UserId};
use store::{Actor, ApiKey, AuditContext, NewApiKey, Tenant, TenantStatus};
use subtle::ConstantTimeEq;

use crate::tokens::{random_token, sha256_hex};
use crate::{Platform, PlatformError, PlatformResult, RequestId, Secret};

/// How many characters of the key's random part are kept for display.
const DISPLAY_CHARS: usize = 8;

/// A just-created key: the only time the secret exists outside the caller.
pub struct CreatedApiKey {
    /// The stored record (prefix, name, mode…).
    pub record: ApiKey,
    /// The full key, to show once.
    pub secret: Secret,
}

/// A request authenticated by an API key.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The tenant the key belongs to.
    pub tenant: Tenant,
    /// The tenant's id, parsed once: every service call is scoped by it.
    pub tenant_id: TenantId,
    /// The key used.
    pub key: ApiKey,
    /// The audit actor for this key's mutations.
    pub actor: Actor,
}

/// How stale an API key's "last used" time may be.
const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

impl Platform {
    /// Creates a key for `tenant_id`; the mode follows the platform's Stripe mode.
    pub async fn create_api_key(
        &self,
        tenant_id: &TenantId,
        name: &str,
        created_by: Option<&UserId>,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<CreatedApiKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(PlatformError::invalid(
                "name",
                "give the key a name of 1 to 100 characters",
            ));
        }
        let mode = self.settings().api_key_mode();
        let body = random_token();
        let secret = format!("bf_{}_{body}", mode.as_str());
        let prefix = format!("bf_{}_{}", mode.as_str(), &body[..DISPLAY_CHARS]);
        let new_key = NewApiKey {
            name: name.to_owned(),
            prefix,
            key_hash: sha256_hex(&secret),
            mode,
        };
        let record = self
            .store()
            .scoped(tenant_id)
            .create_api_key(new_key, created_by, &self.audit_context(actor, request_id))
            .await?;
        Ok(CreatedApiKey {
            record,
            secret: Secret::new(secret),
        })
    }

    /// The tenant's keys (prefix and last use only; secrets are not stored).
    pub async fn api_keys(&self, tenant_id: &TenantId) -> PlatformResult<Vec<ApiKey>> {
        Ok(self.store().scoped(tenant_id).api_keys().await?)
    }

    /// One of the tenant's keys; another tenant's id is "not found".
    pub async fn api_key(&self, tenant_id: &TenantId, raw_id: &str) -> PlatformResult<ApiKey> {
        let id = parse_key_id(raw_id)?;
        self.store()
            .scoped(tenant_id)
            .api_key(&id)
            .await?
            .ok_or(PlatformError::NotFound("api key"))
    }

    /// Revokes one of the tenant's keys.
    pub async fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
        actor: Actor,
        request_id: &RequestId,
    ) -> PlatformResult<ApiKey> {
        let id = parse_key_id(raw_id)?;
        let revoked = self
            .store()
            .scoped(tenant_id)
            .revoke_api_key(&id, &self.audit_context(actor, request_id))
            .await?
            .ok_or(PlatformError::NotFound("api key"))?;
        // This instance stops accepting it now; others within CALLER_TTL.
        self.forget_api_callers();
        Ok(revoked)
    }

    /// Resolves a bearer token to its tenant. Unknown and revoked keys are
    /// indistinguishable (401); a suspended tenant's keys get 403.
    pub async fn authenticate_api_key(&self, bearer: &str) -> PlatformResult<ApiCaller> {
        if !(bearer.starts_with("bf_test_") || bearer.starts_with("bf_live_")) {
            return Err(PlatformError::InvalidApiKey);
        }
        let presented_hash = sha256_hex(bearer);
        let key = self
            .store()
            .api_key_by_hash(&presented_hash)
            .await?
            .filter(|key| bool::from(key.key_hash.as_bytes().ct_eq(presented_hash.as_bytes())))
            .filter(|key| key.revoked_at.is_none())
            .ok_or(PlatformError::InvalidApiKey)?;
        let tenant_id: TenantId = key
            .tenant_id
            .parse()
            .map_err(|_| PlatformError::Internal("stored tenant id".into()))?;
        let tenant = self
            .store()
            .tenant(&tenant_id)
            .await?
            .ok_or(PlatformError::InvalidApiKey)?;
        if tenant.status == TenantStatus::Suspended {
            return Err(PlatformError::TenantSuspended);
        }
        // "Last used" is shown to the minute; writing it on every
        // authentication would put a write on the hot path of every process.
        let now = self.now();
        if key
            .last_used_at
            .is_none_or(|used| now - used >= LAST_USED_PRECISION)
        {
            self.store().touch_api_key(&key, now).await?;
        }
        let key_id: ApiKeyId = key
            .id
            .parse()
            .map_err(|_| PlatformError::Internal("stored key id".into()))?;
        Ok(ApiCaller {
            tenant,
            tenant_id,
            actor: Actor::api_key(&key_id),
            key,
        })
    }

    /// An audit context for `actor` acting now within `request_id`.
    pub fn audit_context(&self, actor: Actor, request_id: &RequestId) -> AuditContext {
        AuditContext {
            actor,
            request_id: request_id.to_string(),
            now: self.now(),
        }
    }
}

/// Ids come from URLs: a malformed one is simply not found.
fn parse_key_id(raw: &str) -> PlatformResult<ApiKeyId> {
    ApiKeyId::parse(raw).map_err(|_| PlatformError::NotFound("api key"))
}
