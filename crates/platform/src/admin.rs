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
        let updated = self
            .store()
            .set_tenant_status(&tenant_id, status, &ctx)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        // Cached API callers carry the tenant's status: a suspension applies at once.
        self.forget_api_callers();
        Ok(updated)
    }

    /// Sets a tenant's platform fee (admins only): `percent` of each payment
    /// of its new subscriptions goes to the platform, e.g. `2.5` (at most two
    /// decimals, like Stripe's `application_fee_percent`).
    pub async fn admin_set_platform_fee(
        &self,
        admin: &SignedIn,
        raw_tenant_id: &str,
        percent: &str,
        request_id: &RequestId,
    ) -> PlatformResult<Tenant> {
        require_admin(admin)?;
        let tenant_id =
            TenantId::parse(raw_tenant_id).map_err(|_| PlatformError::NotFound("tenant"))?;
        let ctx = self.audit_context(admin.actor()?, request_id);
        self.set_platform_fee(&tenant_id, percent, &ctx).await
    }

    /// Sets a tenant's platform fee from a percentage (see
    /// [`Platform::admin_set_platform_fee`]); the CLI calls it directly.
    pub async fn set_platform_fee(
        &self,
        tenant_id: &TenantId,
        percent: &str,
        ctx: &store::AuditContext,
    ) -> PlatformResult<Tenant> {
        let bps = percent_to_bps(percent).ok_or_else(|| {
            PlatformError::invalid(
                "fee_percent",
                "a percentage from 0 to 100 with at most two decimals, e.g. 2.5",
            )
        })?;
        let updated = self
            .store()
            .set_platform_fee_bps(tenant_id, bps, ctx)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        self.forget_api_callers();
        Ok(updated)
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
pub(crate) fn require_admin(signed_in: &SignedIn) -> PlatformResult<()> {
    if signed_in.user.role == UserRole::Admin {
        Ok(())
    } else {
        Err(PlatformError::Forbidden)
    }
}

/// `"2.5"` → 250 basis points; `None` unless 0 ≤ percent ≤ 100 with at most
/// two decimals (integer arithmetic: a fee is money, never a float).
fn percent_to_bps(percent: &str) -> Option<i32> {
    let percent = percent.trim().trim_end_matches('%').trim();
    let (whole, fraction) = match percent.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (percent, ""),
    };
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let whole: i32 = whole.parse().ok()?;
    let fraction: i32 = format!("{fraction:0<2}").parse().ok()?;
    let bps = whole * 100 + fraction;
    (0..=10_000).contains(&bps).then_some(bps)
}

#[cfg(test)]
mod tests {
    use super::percent_to_bps;

    #[test]
    fn percentages_become_basis_points_exactly() {
        assert_eq!(percent_to_bps("2.5"), Some(250));
        assert_eq!(percent_to_bps(" 10% "), Some(1000));
        assert_eq!(percent_to_bps("0"), Some(0));
        assert_eq!(percent_to_bps("100.00"), Some(10_000));
        assert_eq!(percent_to_bps("0.05"), Some(5));
        for bad in [
            "", ".5", "100.01", "1.234", "-1", "abc", "1e2", "2.", "1000",
        ] {
            assert_eq!(percent_to_bps(bad), None, "{bad:?}");
        }
    }
}
