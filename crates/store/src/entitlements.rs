//! Customer overrides and stored effective entitlements (issue #5), always
//! tenant-scoped.
//!
//! A recomputation replaces a customer's rows, records its
//! `entitlements.updated` domain event and schedules the next override expiry
//! in ONE transaction ([`TenantScope::replace_entitlements`]), so stored
//! entitlements and the event announcing them never disagree. An override
//! change enqueues its recomputation in the same transaction as the change,
//! so a crash between the two cannot leave stale entitlements behind.

use billing::ids::{CustomerId, DomainEventId, FeatureId, JobId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::domain_events::{NewDomainEvent, insert_domain_event};
use crate::entities::catalog::{feature, plan, plan_feature, price};
use crate::entities::entitlement::{customer_entitlement, entitlement_override};
use crate::entities::mirror::{subscription, subscription_item};
use crate::jobs::insert_job;
use crate::{AuditContext, NewJob, StoreResult, TenantScope, audit};

pub use customer_entitlement::Model as EntitlementRecord;
pub use entitlement_override::Model as OverrideRecord;

crate::scope::tenant_owned!(entitlement_override, customer_entitlement);

/// An override to store, already validated by `billing::entitlements`.
#[derive(Debug, Clone)]
pub struct NewOverride {
    /// Whose.
    pub customer_id: CustomerId,
    /// Which feature (the caller checked it is this tenant's).
    pub feature_id: FeatureId,
    /// The feature's lookup key.
    pub lookup_key: String,
    /// JSON of `billing::entitlements::OverrideAction`.
    pub action: String,
    /// When it stops applying, if ever.
    pub until: Option<DateTime<Utc>>,
}

/// One entitlement to store, from `billing::entitlements::Entitlement`.
#[derive(Debug, Clone)]
pub struct NewEntitlement {
    /// The feature's lookup key.
    pub lookup_key: String,
    /// Whether the customer may use it.
    pub allowed: bool,
    /// The cap, for limited features.
    pub limit: Option<i64>,
    /// JSON of `billing::entitlements::Source`.
    pub source: String,
}

/// A plan that one of the asked-for Stripe prices belongs to, with what it grants.
#[derive(Debug, Clone)]
pub struct PricedPlan {
    /// The Stripe price (`price_…`) that resolved to the plan.
    pub stripe_price_id: String,
    /// The plan.
    pub plan: crate::catalog::PlanRecord,
    /// Its grants, each with the granted feature.
    pub grants: Vec<(crate::catalog::FeatureRecord, crate::catalog::GrantRecord)>,
}

/// Background work to enqueue with a change, in its transaction.
#[derive(Debug, Clone)]
pub struct FollowUp {
    /// The job.
    pub job: NewJob,
}

impl TenantScope<'_> {
    /// A customer's overrides, by feature, expired ones included (the
    /// computation ignores those; merchants see them until they remove them).
    pub async fn overrides_of(&self, customer: &CustomerId) -> StoreResult<Vec<OverrideRecord>> {
        Ok(self
            .find::<entitlement_override::Entity>()
            .filter(entitlement_override::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(entitlement_override::Column::LookupKey)
            .all(self.db)
            .await?)
    }

    /// Creates or replaces the customer's override of a feature, audited, and
    /// enqueues `follow_up` (the recomputation) in the same transaction.
    pub async fn set_override(
        &self,
        new: NewOverride,
        follow_up: FollowUp,
        ctx: &AuditContext,
    ) -> StoreResult<OverrideRecord> {
        let txn = crate::begin_write(self.db).await?;
        let row = entitlement_override::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            customer_id: Set(new.customer_id.to_string()),
            feature_id: Set(new.feature_id.to_string()),
            lookup_key: Set(new.lookup_key),
            action: Set(new.action),
            until: Set(new.until),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        };
        entitlement_override::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    entitlement_override::Column::TenantId,
                    entitlement_override::Column::CustomerId,
                    entitlement_override::Column::FeatureId,
                ])
                .update_columns([
                    entitlement_override::Column::Action,
                    entitlement_override::Column::Until,
                    entitlement_override::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        self.override_audit(
            &txn,
            ctx,
            "entitlement_override.set",
            &new.customer_id,
            &new.feature_id,
            follow_up,
        )
        .await?;
        let stored = self
            .find::<entitlement_override::Entity>()
            .filter(entitlement_override::Column::CustomerId.eq(new.customer_id.as_str()))
            .filter(entitlement_override::Column::FeatureId.eq(new.feature_id.as_str()))
            .one(&txn)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("entitlement override".to_owned()))?;
        txn.commit().await?;
        Ok(stored)
    }

    /// Removes the customer's override of a feature, audited, enqueueing
    /// `follow_up` with it; `false` when there was none (nothing written).
    pub async fn delete_override(
        &self,
        customer: &CustomerId,
        feature: &FeatureId,
        follow_up: FollowUp,
        ctx: &AuditContext,
    ) -> StoreResult<bool> {
        let txn = crate::begin_write(self.db).await?;
        let deleted = entitlement_override::Entity::delete_many()
            .filter(entitlement_override::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(entitlement_override::Column::CustomerId.eq(customer.as_str()))
            .filter(entitlement_override::Column::FeatureId.eq(feature.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Ok(false);
        }
        self.override_audit(
            &txn,
            ctx,
            "entitlement_override.deleted",
            customer,
            feature,
            follow_up,
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The audit entry and follow-up job of an override change.
    async fn override_audit(
        &self,
        txn: &impl ConnectionTrait,
        ctx: &AuditContext,
        action: &str,
        customer: &CustomerId,
        feature: &FeatureId,
        follow_up: FollowUp,
    ) -> StoreResult<()> {
        let target = format!("{customer}:{feature}");
        audit::record(
            txn,
            ctx,
            Some(&self.tenant_id),
            action,
            "entitlement_override",
            &target,
        )
        .await?;
        insert_job(txn, &JobId::generate(), follow_up.job, ctx.now).await?;
        Ok(())
    }

    /// A customer's stored entitlements, by lookup key.
    pub async fn customer_entitlements(
        &self,
        customer: &CustomerId,
    ) -> StoreResult<Vec<EntitlementRecord>> {
        Ok(self
            .find::<customer_entitlement::Entity>()
            .filter(customer_entitlement::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(customer_entitlement::Column::LookupKey)
            .all(self.db)
            .await?)
    }

    /// One stored entitlement: a primary-key lookup, the whole of a check.
    pub async fn customer_entitlement(
        &self,
        customer: &CustomerId,
        lookup_key: &str,
    ) -> StoreResult<Option<EntitlementRecord>> {
        Ok(self
            .find::<customer_entitlement::Entity>()
            .filter(customer_entitlement::Column::CustomerId.eq(customer.as_str()))
            .filter(customer_entitlement::Column::LookupKey.eq(lookup_key))
            .one(self.db)
            .await?)
    }

    /// One of the tenant's prices, for operations that name a price alone
    /// (a plan change); another tenant's is `None`.
    pub async fn price(
        &self,
        id: &billing::ids::PriceId,
    ) -> StoreResult<Option<crate::catalog::PriceRecord>> {
        Ok(self
            .find::<price::Entity>()
            .filter(price::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The customers with a mirrored subscription (any status) that bills a
    /// price of `plan_id`: whose entitlements a change of the plan's grants
    /// can change.
    pub async fn customers_on_plan(&self, plan_id: &str) -> StoreResult<Vec<String>> {
        let subscription_ids: Vec<String> = self
            .find::<subscription_item::Entity>()
            .filter(subscription_item::Column::PlanId.eq(plan_id))
            .all(self.db)
            .await?
            .into_iter()
            .map(|item| item.subscription_id)
            .collect();
        if subscription_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut customers: Vec<String> = self
            .find::<subscription::Entity>()
            .filter(subscription::Column::Id.is_in(subscription_ids))
            .all(self.db)
            .await?
            .into_iter()
            .map(|subscription| subscription.customer_id)
            .collect();
        customers.sort();
        customers.dedup();
        Ok(customers)
    }

    /// The plans (with grants and their features) that the given Stripe
    /// prices belong to; prices that are not the tenant's are absent.
    pub async fn plans_for_stripe_prices(
        &self,
        stripe_price_ids: &[String],
    ) -> StoreResult<Vec<PricedPlan>> {
        if stripe_price_ids.is_empty() {
            return Ok(Vec::new());
        }
        let prices = self
            .find::<price::Entity>()
            .filter(price::Column::StripePriceId.is_in(stripe_price_ids.iter().cloned()))
            .all(self.db)
            .await?;
        let plan_ids: Vec<String> = prices.iter().map(|p| p.plan_id.clone()).collect();
        let plans = self
            .find::<plan::Entity>()
            .filter(plan::Column::Id.is_in(plan_ids.clone()))
            .all(self.db)
            .await?;
        let grants = self
            .find::<plan_feature::Entity>()
            .filter(plan_feature::Column::PlanId.is_in(plan_ids))
            .order_by_asc(plan_feature::Column::FeatureId)
            .all(self.db)
            .await?;
        let features = self
            .find::<feature::Entity>()
            .filter(feature::Column::Id.is_in(grants.iter().map(|g| g.feature_id.clone())))
            .all(self.db)
            .await?;
        Ok(prices
            .into_iter()
            .filter_map(|price| {
                let plan = plans.iter().find(|plan| plan.id == price.plan_id)?.clone();
                let grants = grants
                    .iter()
                    .filter(|grant| grant.plan_id == plan.id)
                    .filter_map(|grant| {
                        let feature = features.iter().find(|f| f.id == grant.feature_id)?;
                        Some((feature.clone(), grant.clone()))
                    })
                    .collect();
                Some(PricedPlan {
                    stripe_price_id: price.stripe_price_id?,
                    plan,
                    grants,
                })
            })
            .collect())
    }

    /// Replaces the customer's stored entitlements with `rows` when they
    /// differ from `expected` (what the caller computed its change against),
    /// recording `event` and enqueueing `follow_up` in the same transaction.
    /// Returns `Ok(None)` when the stored rows moved on meanwhile (nothing
    /// written: the caller recomputes), else the recorded event id, if any.
    pub async fn replace_entitlements(
        &self,
        customer: &CustomerId,
        expected: &[EntitlementRecord],
        rows: Vec<NewEntitlement>,
        event: Option<NewDomainEvent>,
        follow_up: Option<FollowUp>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<DomainEventId>>> {
        let txn = crate::begin_write(self.db).await?;
        let current = self
            .find::<customer_entitlement::Entity>()
            .filter(customer_entitlement::Column::CustomerId.eq(customer.as_str()))
            .order_by_asc(customer_entitlement::Column::LookupKey)
            .all(&txn)
            .await?;
        if current != expected {
            return Ok(None);
        }
        customer_entitlement::Entity::delete_many()
            .filter(customer_entitlement::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(customer_entitlement::Column::CustomerId.eq(customer.as_str()))
            .exec(&txn)
            .await?;
        if !rows.is_empty() {
            customer_entitlement::Entity::insert_many(rows.into_iter().map(|row| {
                customer_entitlement::ActiveModel {
                    tenant_id: Set(self.tenant_id.to_string()),
                    customer_id: Set(customer.to_string()),
                    lookup_key: Set(row.lookup_key),
                    allowed: Set(row.allowed),
                    limit_value: Set(row.limit),
                    source: Set(row.source),
                    updated_at: Set(now),
                }
            }))
            .exec_without_returning(&txn)
            .await?;
        }
        let recorded = match event {
            Some(event) => insert_domain_event(&txn, event, now).await?,
            None => None,
        };
        if let Some(follow_up) = follow_up {
            insert_job(&txn, &JobId::generate(), follow_up.job, now).await?;
        }
        txn.commit().await?;
        Ok(Some(recorded))
    }
}
