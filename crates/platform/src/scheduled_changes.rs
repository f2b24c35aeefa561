//! Changes that take effect at the end of the current period (a customer's
//! downgrade): the customer keeps what they paid for until then. The change
//! waits as a queued job keyed by its subscription, run shortly before
//! Stripe renews the subscription, which then switches the price without
//! proration so the renewal invoices the new price. This works alike on
//! real Stripe and the emulator (no subscription schedules needed) and
//! under the one clock, whose advance runs due jobs in time order.

use billing::ids::{PriceId, SubscriptionId, TenantId};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use store::{AuditContext, Job, NewJob};

use crate::jobs::{JobError, JobFuture, JobHandlers, MAX_ATTEMPTS, job_error, job_tenant};
use crate::records::Actor;
use crate::subscriptions::{Proration, SubscriptionChange};
use crate::{Platform, PlatformError, PlatformResult, RequestId};

/// The job that applies a scheduled change.
pub const CHANGE_JOB: &str = "subscription.scheduled_change";
/// How long before the period ends the change is applied: early enough
/// that Stripe's renewal (at the period end) already bills the new price.
const AHEAD_OF_RENEWAL: TimeDelta = TimeDelta::hours(1);

/// A change waiting for the end of its subscription's period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduledChange {
    /// The subscription (`sub_…`).
    pub subscription_id: String,
    /// The new price (`price_…`).
    pub price_id: String,
    /// The new quantity, when it changes.
    pub quantity: Option<u64>,
    /// When the new price starts applying (the period's end).
    pub effective_at: DateTime<Utc>,
}

/// Registers the scheduled-change job.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        CHANGE_JOB,
        std::sync::Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_scheduled_change(&job).await })
        }),
    );
}

/// The dedupe-key prefix of one subscription's scheduled change.
fn key_prefix(subscription: &SubscriptionId) -> String {
    format!("scheduled-change:{subscription}:")
}

impl Platform {
    /// Schedules `price` (and `quantity`) for the end of the subscription's
    /// current period, replacing a change scheduled earlier; when it applies.
    pub async fn schedule_subscription_change(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &SubscriptionId,
        price: &PriceId,
        quantity: Option<u64>,
    ) -> PlatformResult<DateTime<Utc>> {
        let row = self.subscription(tenant, id).await?;
        let effective_at = row.current_period_end.ok_or_else(|| {
            PlatformError::invalid("subscription", "this subscription has no period to end")
        })?;
        let change = ScheduledChange {
            subscription_id: id.to_string(),
            price_id: price.to_string(),
            quantity,
            effective_at,
        };
        let payload = serde_json::to_string(&change)
            .map_err(|err| PlatformError::Internal(format!("encoding a change: {err}")))?;
        let prefix = key_prefix(id);
        let job = NewJob {
            kind: CHANGE_JOB.to_owned(),
            payload,
            tenant_id: Some(tenant.clone()),
            dedupe_key: Some(format!("{prefix}{}", ctx.request_id)),
            run_at: (effective_at - AHEAD_OF_RENEWAL).max(ctx.now),
            max_attempts: MAX_ATTEMPTS,
        };
        self.store()
            .replace_queued_jobs(
                ctx,
                tenant,
                &prefix,
                Some(job),
                ("subscription.change_scheduled", "subscription", id.as_str()),
            )
            .await?;
        Ok(effective_at)
    }

    /// The change waiting for the end of the subscription's period, if any.
    pub async fn scheduled_subscription_change(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> PlatformResult<Option<ScheduledChange>> {
        let Some(job) = self
            .store()
            .queued_job_keyed(tenant, &key_prefix(id))
            .await?
        else {
            return Ok(None);
        };
        serde_json::from_str(&job.payload)
            .map(Some)
            .map_err(|err| PlatformError::Internal(format!("scheduled change payload: {err}")))
    }

    /// Withdraws the subscription's scheduled change; whether there was one.
    pub async fn withdraw_subscription_change(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &SubscriptionId,
    ) -> PlatformResult<bool> {
        let withdrawn = self
            .store()
            .replace_queued_jobs(
                ctx,
                tenant,
                &key_prefix(id),
                None,
                ("subscription.change_withdrawn", "subscription", id.as_str()),
            )
            .await?;
        Ok(withdrawn > 0)
    }

    /// Applies a scheduled change, without proration. Idempotent: a change
    /// already applied is not sent again, and a subscription that ended or
    /// is set to end keeps its plan.
    async fn run_scheduled_change(&self, job: &Job) -> Result<(), JobError> {
        let change: ScheduledChange = serde_json::from_str(&job.payload)
            .map_err(|err| JobError::Permanent(format!("scheduled change payload: {err}")))?;
        let tenant = job_tenant(job, "scheduled change")?;
        let id = SubscriptionId::parse(&change.subscription_id)
            .map_err(|err| JobError::Permanent(format!("scheduled change subscription: {err}")))?;
        let price = PriceId::parse(&change.price_id)
            .map_err(|err| JobError::Permanent(format!("scheduled change price: {err}")))?;
        let row = self.subscription(&tenant, &id).await.map_err(job_error)?;
        let live = matches!(row.status.as_str(), "active" | "trialing" | "past_due");
        let applied = row.price_id.as_deref() == Some(price.as_str())
            && change
                .quantity
                .is_none_or(|quantity| i64::try_from(quantity).ok() == Some(row.quantity));
        if !live || row.cancel_at_period_end || applied {
            return Ok(());
        }
        // The job's id keeps the Stripe idempotency key stable across retries.
        let ctx = self.audit_context(Actor::system(), &RequestId::from_client(&job.id));
        self.change_subscription(
            &tenant,
            &ctx,
            &id,
            SubscriptionChange {
                price_id: Some(price),
                quantity: change.quantity,
                proration: Proration::None,
            },
        )
        .await
        .map_err(job_error)?;
        Ok(())
    }
}
