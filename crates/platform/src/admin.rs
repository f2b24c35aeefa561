//! The platform admin console's services: tenants and the audit log.

use billing::ids::{AuditId, TenantId};
use store::{AuditEvent, Tenant, TenantStatus, UserRole};

use crate::accounts::SignedIn;
use crate::{Platform, PlatformError, PlatformResult, RequestId};

/// How many audit entries a page shows.
pub const AUDIT_PAGE_SIZE: u64 = 200;

impl Platform {
    /// Every tenant (admins only).
    pub async fn admin_tenants(&self, admin: &SignedIn) -> PlatformResult<Vec<Tenant>> {
        require_admin(admin)?;
        Ok(self.store().tenants().await?)
    }

    /// Suspends or reactivates a tenant (admins only).
    pub async fn admin_set_tenant_status(
        &self,
        admin: &SignedIn,
        raw_tenant_id: &str,
        status: TenantStatus,
        request_id: &RequestId,
    ) -> PlatformResult<Tenant> {
        require_admin(admin)?;
        let tenant_id =
            TenantId::parse(raw_tenant_id).map_err(|_| PlatformError::NotFound("tenant"))?;
        let ctx = self.audit_context(admin.actor()?, request_id);
        self.store()
            .set_tenant_status(&tenant_id, status, &ctx)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))
    }

    /// The clock as the admin console shows it: `Some` only on the emulator,
    /// where the console offers to advance it.
    pub fn admin_clock(&self) -> Option<AdminClock> {
        self.clock_is_adjustable()
            .then(|| AdminClock { now: self.now() })
    }

    /// The admin console's "advance the clock" button (admins only,
    /// emulator only, audited): parses `raw_duration` (`30d`, `12h`) and
    /// runs [`Platform::advance_clock`].
    pub async fn admin_advance_clock(
        &self,
        admin: &SignedIn,
        raw_duration: &str,
        handlers: &crate::jobs::JobHandlers,
        request_id: &RequestId,
    ) -> PlatformResult<crate::clock::ClockAdvance> {
        require_admin(admin)?;
        if !self.clock_is_adjustable() {
            return Err(PlatformError::ClockNotAdjustable);
        }
        let by = crate::clock::parse_advance(raw_duration)?;
        let ctx = self.audit_context(admin.actor()?, request_id);
        self.advance_clock(by, handlers, &ctx).await
    }

    /// The platform-wide audit log (admins only).
    pub async fn admin_audit_events(&self, admin: &SignedIn) -> PlatformResult<Vec<AuditEvent>> {
        require_admin(admin)?;
        Ok(self.store().audit_events_all(AUDIT_PAGE_SIZE).await?)
    }

    /// One entry of a tenant's audit log; another tenant's is "not found".
    pub async fn audit_event(
        &self,
        tenant_id: &TenantId,
        raw_id: &str,
    ) -> PlatformResult<AuditEvent> {
        let id = AuditId::parse(raw_id).map_err(|_| PlatformError::NotFound("audit event"))?;
        self.store()
            .scoped(tenant_id)
            .audit_event(&id)
            .await?
            .ok_or(PlatformError::NotFound("audit event"))
    }

    /// One tenant's audit log.
    pub async fn audit_events(&self, tenant_id: &TenantId) -> PlatformResult<Vec<AuditEvent>> {
        Ok(self
            .store()
            .scoped(tenant_id)
            .audit_events(AUDIT_PAGE_SIZE)
            .await?)
    }
}

/// What the admin console shows of the emulator-mode clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminClock {
    /// Billforge's (and the emulator's) current time.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Admin services check the role themselves, so a page forgetting to is harmless.
fn require_admin(signed_in: &SignedIn) -> PlatformResult<()> {
    if signed_in.user.role == UserRole::Admin {
        Ok(())
    } else {
        Err(PlatformError::Forbidden)
    }
}
