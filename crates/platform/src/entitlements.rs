//! A customer's effective entitlements: computed by
//! `billing::entitlements::effective_entitlements` over the customer's live
//! subscriptions (the mirror), their plans' grants (the catalog), the
//! merchant's overrides and the dunning standings; stored, so a check is one
//! lookup; announced by an `entitlements.updated` domain event recorded in the
//! same transaction as the stored change.
//!
//! Recomputation is triggered by the domain events that can change the
//! inputs (`subscription.*`, `dunning.step`, via
//! [`Platform::dispatch_domain_event`]), by override changes (directly, and
//! by a job enqueued with the change in case the direct call fails), and by a
//! job at the next override expiry. Every trigger names its cause, and an
//! event is recorded once per cause, so retries never announce twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use billing::catalog::{Plan, PlanSpec};
use billing::entitlements::{
    CustomerOverride, CustomerSubscriptions, Entitlement, Entitlements, Feature, FeatureGrant,
    LookupKey, OverrideAction, Source, Standing, diff, effective_entitlements, next_expiry,
};
use billing::events::{CustomerFacts, DomainEvent};
use billing::ids::{CustomerId, DomainEventId, FeatureId, PlanId, TenantId};
use billing::subscription::SubscriptionState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::domain_events::NewDomainEvent;
use store::entitlements::{EntitlementRecord, FollowUp, NewEntitlement, NewOverride};
use store::{AuditContext, Job, NewJob};

use crate::domain_events::RecordedEvent;
use crate::dunning::SubscriptionStanding;
use crate::jobs::{JobError, JobFuture, JobHandlers, job_error};
use crate::{Platform, PlatformError, PlatformResult};

pub use store::entitlements::OverrideRecord;

/// The job kind that recomputes one customer's entitlements.
pub const RECOMPUTE_JOB: &str = "entitlements.recompute";
/// Attempts of a recomputation job (it is idempotent).
const RECOMPUTE_ATTEMPTS: i32 = 8;
/// How often a recomputation that lost a race with another one starts over.
const RECOMPUTE_RACES: usize = 3;

/// What a `entitlements.recompute` job carries.
#[derive(Debug, Serialize, Deserialize)]
struct RecomputePayload {
    /// The customer's tenant.
    tenant_id: TenantId,
    /// Whose entitlements.
    customer_id: CustomerId,
    /// The cause the resulting event is recorded under.
    cause: String,
}

/// Registers this module's kinds of background work.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        RECOMPUTE_JOB,
        Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move {
                let payload: RecomputePayload =
                    serde_json::from_str(&job.payload).map_err(|err| {
                        JobError::Permanent(format!("bad {RECOMPUTE_JOB} payload: {err}"))
                    })?;
                platform
                    .recompute_entitlements(
                        &payload.tenant_id,
                        &payload.customer_id,
                        &payload.cause,
                    )
                    .await
                    .map(drop)
                    .map_err(job_error)
            })
        }),
    );
}

/// The answer to "may this customer use this feature?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementCheck {
    /// The feature asked about.
    pub lookup_key: LookupKey,
    /// Whether the customer may use it.
    pub allowed: bool,
    /// The cap of a limit feature; `None` for flags, unlimited grants and
    /// features the customer lacks.
    pub limit: Option<i64>,
    /// Why; `None` when nothing grants the feature.
    pub source: Option<Source>,
}

impl EntitlementCheck {
    /// The answer for `lookup_key` given what the customer has of it
    /// (`None`: nothing grants it, so no).
    pub fn of(lookup_key: LookupKey, entitlement: Option<&Entitlement>) -> Self {
        match entitlement {
            Some(entitlement) => Self {
                lookup_key,
                allowed: entitlement.allowed,
                limit: entitlement.limit,
                source: Some(entitlement.source.clone()),
            },
            None => Self {
                lookup_key,
                allowed: false,
                limit: None,
                source: None,
            },
        }
    }
}

/// A stored row as the domain's entitlement.
fn entitlement_of(row: &EntitlementRecord) -> PlatformResult<(LookupKey, Entitlement)> {
    let corrupt = |err: &dyn std::fmt::Display| {
        PlatformError::Internal(format!("stored entitlement {}: {err}", row.lookup_key))
    };
    Ok((
        LookupKey::parse(&row.lookup_key).map_err(|err| corrupt(&err))?,
        Entitlement {
            allowed: row.allowed,
            limit: row.limit_value,
            source: serde_json::from_str(&row.source).map_err(|err| corrupt(&err))?,
        },
    ))
}

/// A stored feature as the domain's.
fn feature_of(record: &store::catalog::FeatureRecord) -> PlatformResult<Feature> {
    let corrupt = |err: &dyn std::fmt::Display| {
        PlatformError::Internal(format!("stored feature {}: {err}", record.id))
    };
    Ok(Feature {
        id: FeatureId::parse(&record.id).map_err(|err| corrupt(&err))?,
        lookup_key: LookupKey::parse(&record.lookup_key).map_err(|err| corrupt(&err))?,
        name: record.name.clone(),
        kind: serde_json::from_str(&record.kind).map_err(|err| corrupt(&err))?,
    })
}

/// The job that recomputes `customer` at `run_at` under `cause`.
fn recompute_job(
    tenant: &TenantId,
    customer: &CustomerId,
    cause: String,
    run_at: DateTime<Utc>,
) -> PlatformResult<FollowUp> {
    let dedupe = format!("{RECOMPUTE_JOB}:{customer}:{cause}");
    let payload = serde_json::to_string(&RecomputePayload {
        tenant_id: tenant.clone(),
        customer_id: customer.clone(),
        cause,
    })
    .map_err(|err| PlatformError::Internal(format!("encoding a recompute job: {err}")))?;
    Ok(FollowUp {
        job: NewJob {
            kind: RECOMPUTE_JOB.to_owned(),
            payload,
            tenant_id: Some(tenant.clone()),
            dedupe_key: Some(dedupe),
            run_at,
            max_attempts: RECOMPUTE_ATTEMPTS,
        },
    })
}

/// The cause of a recomputation triggered by a change of an override.
fn override_cause(customer: &CustomerId, feature: &FeatureId, at: DateTime<Utc>) -> String {
    format!(
        "override:{customer}:{feature}:{}",
        at.timestamp_nanos_opt().unwrap_or_default()
    )
}

impl Platform {
    /// Sets (creates or replaces) the customer's override of a feature:
    /// grant it, set its limit (which may lower the plans' one) or revoke
    /// it, optionally until a time. Returns the customer's new entitlements.
    pub async fn set_entitlement_override(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        customer: &CustomerId,
        feature: &FeatureId,
        action: OverrideAction,
        until: Option<DateTime<Utc>>,
    ) -> PlatformResult<Entitlements> {
        self.customer_facts(tenant, customer).await?;
        let feature = feature_of(&self.feature(tenant, feature).await?)?;
        if until.is_some_and(|until| until <= ctx.now) {
            return Err(PlatformError::invalid(
                "until",
                "an override's end must be in the future",
            ));
        }
        let domain = CustomerOverride::new(&feature, action, until)
            .map_err(|err| PlatformError::invalid("value", err.to_string()))?;
        let cause = override_cause(customer, &feature.id, ctx.now);
        let new = NewOverride {
            customer_id: customer.clone(),
            feature_id: feature.id.clone(),
            lookup_key: feature.lookup_key.to_string(),
            action: serde_json::to_string(&domain.action())
                .map_err(|err| PlatformError::Internal(format!("encoding an override: {err}")))?,
            until,
        };
        let follow_up = recompute_job(tenant, customer, cause.clone(), ctx.now)?;
        self.store()
            .scoped(tenant)
            .set_override(new, follow_up, ctx)
            .await?;
        self.recompute_entitlements(tenant, customer, &cause)
            .await?;
        self.customer_entitlements(tenant, customer).await
    }

    /// Removes the customer's override of a feature (`not_found` if none).
    /// Returns the customer's new entitlements.
    pub async fn delete_entitlement_override(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        customer: &CustomerId,
        feature: &FeatureId,
    ) -> PlatformResult<Entitlements> {
        let cause = override_cause(customer, feature, ctx.now);
        let follow_up = recompute_job(tenant, customer, cause.clone(), ctx.now)?;
        let deleted = self
            .store()
            .scoped(tenant)
            .delete_override(customer, feature, follow_up, ctx)
            .await?;
        if !deleted {
            return Err(PlatformError::NotFound("override"));
        }
        self.recompute_entitlements(tenant, customer, &cause)
            .await?;
        self.customer_entitlements(tenant, customer).await
    }

    /// The customer's overrides (expired ones included, until removed).
    pub async fn entitlement_overrides(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Vec<OverrideRecord>> {
        self.customer_facts(tenant, customer).await?;
        Ok(self.store().scoped(tenant).overrides_of(customer).await?)
    }

    /// The customer's stored effective entitlements (`not_found` for
    /// another tenant's or an unknown customer).
    pub async fn customer_entitlements(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Entitlements> {
        let rows = self
            .store()
            .scoped(tenant)
            .customer_entitlements(customer)
            .await?;
        if rows.is_empty() {
            self.customer_facts(tenant, customer).await?;
        }
        rows.iter().map(entitlement_of).collect()
    }

    /// Whether the customer may use the feature `lookup_key`: one stored-row
    /// lookup (plus a customer lookup when nothing grants it, to tell an
    /// unknown customer, `not_found`, from a "no").
    pub async fn check_entitlement(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        lookup_key: &str,
    ) -> PlatformResult<EntitlementCheck> {
        let key = LookupKey::parse(lookup_key)
            .map_err(|err| PlatformError::invalid("feature", err.to_string()))?;
        let row = self
            .store()
            .scoped(tenant)
            .customer_entitlement(customer, key.as_str())
            .await?;
        match row {
            Some(row) => {
                let (lookup_key, entitlement) = entitlement_of(&row)?;
                Ok(EntitlementCheck::of(lookup_key, Some(&entitlement)))
            }
            None => {
                self.customer_facts(tenant, customer).await?;
                Ok(EntitlementCheck::of(key, None))
            }
        }
    }

    /// Recomputes and stores the customer's effective entitlements; when
    /// they changed, records `entitlements.updated` under `cause` in the same
    /// transaction (returning its id), and schedules a recomputation at the
    /// next override expiry. Idempotent: unchanged inputs write nothing.
    pub async fn recompute_entitlements(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        cause: &str,
    ) -> PlatformResult<Option<DomainEventId>> {
        for _ in 0..RECOMPUTE_RACES {
            if let Some(outcome) = self.try_recompute(tenant, customer, cause).await? {
                return Ok(outcome);
            }
        }
        Err(PlatformError::Internal(format!(
            "entitlements of {customer} kept changing during recomputation"
        )))
    }

    /// One recomputation; `None` when another one stored first.
    async fn try_recompute(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        cause: &str,
    ) -> PlatformResult<Option<Option<DomainEventId>>> {
        let now = self.now();
        let scope = self.store().scoped(tenant);
        let facts = self.customer_facts(tenant, customer).await?;
        let stored = scope.customer_entitlements(customer).await?;
        let old: Entitlements = stored
            .iter()
            .map(entitlement_of)
            .collect::<PlatformResult<_>>()?;

        let features: HashMap<String, Feature> = scope
            .features()
            .await?
            .iter()
            .map(|record| Ok((record.lookup_key.clone(), feature_of(record)?)))
            .collect::<PlatformResult<_>>()?;
        let overrides = scope
            .overrides_of(customer)
            .await?
            .iter()
            .map(|row| override_of(row, &features))
            .collect::<PlatformResult<Vec<_>>>()?;
        let subscriptions = self.subscriptions_of(tenant, customer).await?;
        let stripe_ids: Vec<String> = subscriptions.iter().map(|s| s.stripe_id.clone()).collect();
        let standings = self.dunning_standings(tenant, &stripe_ids).await?;
        let price_ids: Vec<String> = subscriptions
            .iter()
            .flat_map(|s| s.items.iter().map(|item| item.stripe_price_id.clone()))
            .collect();
        let plans = self
            .plans_by_stripe_price(tenant, &price_ids, &features)
            .await?;

        let resolved = CustomerSubscriptions::resolve(
            subscriptions.iter().map(|subscription| {
                let standing = match standings.get(&subscription.stripe_id) {
                    None | Some(SubscriptionStanding::Good) => Standing::Good,
                    Some(SubscriptionStanding::Degraded(reduced)) => Standing::Degraded(reduced),
                    Some(SubscriptionStanding::Revoked) => Standing::Revoked,
                };
                (subscription, standing)
            }),
            |price| plans.get(price),
        );
        if !resolved.unknown_prices.is_empty() {
            tracing::warn!(%tenant, %customer, prices = ?resolved.unknown_prices, "live subscription prices that no plan of the catalog has grant nothing");
        }
        let new = effective_entitlements(&resolved.live, &overrides, now);
        let changes = diff(&old, &new);
        let follow_up = next_expiry(&overrides, now)
            .map(|at| recompute_job(tenant, customer, format!("expiry:{}", at.to_rfc3339()), at))
            .transpose()?;
        if changes.is_empty() && follow_up.is_none() {
            return Ok(Some(None));
        }
        let event = (!changes.is_empty()).then(|| NewDomainEvent {
            tenant_id: tenant.clone(),
            cause: cause.to_owned(),
            event: DomainEvent::EntitlementsUpdated {
                customer: facts,
                changes,
            },
            occurred_at: now,
        });
        let rows = new
            .iter()
            .map(|(key, entitlement)| {
                Ok(NewEntitlement {
                    lookup_key: key.to_string(),
                    allowed: entitlement.allowed,
                    limit: entitlement.limit,
                    source: serde_json::to_string(&entitlement.source).map_err(|err| {
                        PlatformError::Internal(format!("encoding a source: {err}"))
                    })?,
                })
            })
            .collect::<PlatformResult<Vec<_>>>()?;
        let outcome = scope
            .replace_entitlements(customer, &stored, rows, event, follow_up, now)
            .await?;
        if outcome.is_some() {
            self.forget_entitlements(tenant, customer);
        }
        Ok(outcome)
    }

    /// The tenant's plans of the given Stripe prices, with their grants, by
    /// Stripe price id.
    async fn plans_by_stripe_price(
        &self,
        tenant: &TenantId,
        stripe_price_ids: &[String],
        features: &HashMap<String, Feature>,
    ) -> PlatformResult<BTreeMap<String, Plan>> {
        let priced = self
            .store()
            .scoped(tenant)
            .plans_for_stripe_prices(stripe_price_ids)
            .await?;
        let mut plans = BTreeMap::new();
        for priced_plan in priced {
            let record = &priced_plan.plan;
            let corrupt = |err: &dyn std::fmt::Display| {
                PlatformError::Internal(format!("stored plan {}: {err}", record.id))
            };
            let grants = priced_plan
                .grants
                .iter()
                .map(|(feature, grant)| {
                    let feature = features
                        .get(&feature.lookup_key)
                        .ok_or_else(|| corrupt(&"a grant of an unknown feature"))?;
                    let value = serde_json::from_str(&grant.value).map_err(|err| corrupt(&err))?;
                    FeatureGrant::new(feature, value).map_err(|err| corrupt(&err))
                })
                .collect::<PlatformResult<Vec<_>>>()?;
            let plan = Plan::try_from(PlanSpec {
                id: PlanId::parse(&record.id).map_err(|err| corrupt(&err))?,
                name: record.name.clone(),
                archived: record.archived,
                trial_days: record.trial_days.and_then(|d| u16::try_from(d).ok()),
                prices: vec![],
                grants,
            })
            .map_err(|err| corrupt(&err))?;
            plans.insert(priced_plan.stripe_price_id, plan);
        }
        Ok(plans)
    }

    /// Enqueues a recomputation of every customer subscribed to `plan`,
    /// whose grants just changed (`cause` names the change); returns how many.
    /// Jobs, not direct calls: a plan can have many subscribers, and the
    /// merchant's request should not wait for them.
    pub(crate) async fn recompute_plan_customers(
        &self,
        tenant: &TenantId,
        plan: &PlanId,
        cause: &str,
    ) -> PlatformResult<usize> {
        let customers = self
            .store()
            .scoped(tenant)
            .customers_on_plan(plan.as_str())
            .await?;
        for customer in &customers {
            let customer_id = CustomerId::parse(customer)
                .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))?;
            // Domain events are unique per tenant and cause: each customer's
            // announcement needs a cause of its own.
            let cause = format!("{cause}:{customer_id}");
            let dedupe = format!("{RECOMPUTE_JOB}:{customer_id}:{cause}");
            let payload = RecomputePayload {
                tenant_id: tenant.clone(),
                customer_id,
                cause,
            };
            self.enqueue_job(RECOMPUTE_JOB, &payload, Some(tenant), Some(dedupe))
                .await?;
        }
        Ok(customers.len())
    }

    /// Recomputes the entitlements of the customer a domain event is about,
    /// when the event can change them (subscription lifecycle, dunning);
    /// the event's id is the cause, so a retried dispatch records nothing twice.
    pub(crate) async fn entitlements_on_domain_event(
        &self,
        recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        let relevant = matches!(
            recorded.event,
            DomainEvent::SubscriptionCreated(_)
                | DomainEvent::TrialStarted(_)
                | DomainEvent::SubscriptionActivated(_)
                | DomainEvent::SubscriptionUpdated { .. }
                | DomainEvent::CancellationScheduled(_)
                | DomainEvent::SubscriptionResumed(_)
                | DomainEvent::SubscriptionCanceled { .. }
                | DomainEvent::DunningStep(_)
        );
        let Some(customer) = recorded.event.customer().filter(|_| relevant) else {
            return Ok(());
        };
        match self
            .recompute_entitlements(
                &recorded.tenant_id,
                &customer.customer_id,
                recorded.id.as_str(),
            )
            .await
        {
            // A customer we do not mirror has no entitlements to recompute;
            // failing would hold back the event's other consumers.
            Err(PlatformError::NotFound(what)) => {
                tracing::warn!(event = %recorded.id, what, "no entitlements to recompute");
                Ok(())
            }
            other => other.map(drop).map_err(job_error),
        }
    }
}

/// A stored override as the domain's, checked against its feature.
fn override_of(
    row: &OverrideRecord,
    features: &HashMap<String, Feature>,
) -> PlatformResult<CustomerOverride> {
    let corrupt = |err: &dyn std::fmt::Display| {
        PlatformError::Internal(format!("stored override of {}: {err}", row.lookup_key))
    };
    let feature = features
        .get(&row.lookup_key)
        .ok_or_else(|| corrupt(&"unknown feature"))?;
    let action = serde_json::from_str(&row.action).map_err(|err| corrupt(&err))?;
    CustomerOverride::new(feature, action, row.until).map_err(|err| corrupt(&err))
}

impl Platform {
    /// The facts of one of the tenant's customers (`not_found` otherwise):
    /// what the `entitlements.updated` event tells its consumers.
    async fn customer_facts(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<CustomerFacts> {
        let row = self
            .store()
            .scoped(tenant)
            .customer(customer)
            .await?
            .ok_or(PlatformError::NotFound("customer"))?;
        Ok(CustomerFacts {
            customer_id: customer.clone(),
            stripe_customer_id: row.stripe_customer_id.unwrap_or_default(),
            email: row.email,
            name: row.name,
        })
    }

    /// The customer's mirrored subscriptions, as last observed.
    async fn subscriptions_of(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Vec<SubscriptionState>> {
        self.store()
            .scoped(tenant)
            .subscriptions_of(customer)
            .await?
            .iter()
            .map(|row| {
                serde_json::from_str(&row.mirror_state).map_err(|err| {
                    PlatformError::Internal(format!("stored subscription {}: {err}", row.id))
                })
            })
            .collect()
    }
}
