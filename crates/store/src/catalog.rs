//! Catalog and Connect queries (Stripe connection, plans, prices, features),
//! always tenant-scoped; the one global look-up (a connection by Stripe
//! account) says why.

use billing::ids::{FeatureId, PlanId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::entities::catalog::{feature, plan, plan_feature, price, stripe_connection};
use crate::entities::tenant;
use crate::{AuditContext, Store, StoreResult, TenantScope, TenantStatus, audit};

pub use crate::entities::catalog::stripe_connection::{
    ConnectionStatus, Model as StripeConnection,
};

impl Store {
    /// The connection of whichever tenant owns `account_id`: Connect events
    /// name the account, and that is how they find their tenant, so this
    /// cannot be scoped.
    pub async fn stripe_connection_by_account(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<StripeConnection>> {
        Ok(stripe_connection::Entity::find()
            .filter(stripe_connection::Column::AccountId.eq(account_id))
            .one(&self.db)
            .await?)
    }
}

/// What a tenant's Stripe connection becomes.
#[derive(Debug, Clone)]
pub struct ConnectionChange {
    /// The connected account (`acct_…`).
    pub account_id: String,
    /// The new onboarding state.
    pub status: ConnectionStatus,
    /// Whether the holder submitted onboarding.
    pub details_submitted: bool,
    /// The audit action recorded (`stripe.connected`, `stripe.updated`…).
    pub action: &'static str,
}

impl TenantScope<'_> {
    /// The tenant's Stripe connection, if it ever connected.
    pub async fn stripe_connection(&self) -> StoreResult<Option<StripeConnection>> {
        Ok(self
            .find::<stripe_connection::Entity>()
            .one(self.db)
            .await?)
    }

    /// Stores the tenant's connection state, keeps `tenants.stripe_account_id`
    /// in step, and moves an onboarding tenant to `active` once the account
    /// is; one transaction, audited.
    pub async fn save_stripe_connection(
        &self,
        change: ConnectionChange,
        ctx: &AuditContext,
    ) -> StoreResult<StripeConnection> {
        let txn = crate::begin_write(self.db).await?;
        let row = stripe_connection::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            account_id: Set(change.account_id.clone()),
            status: Set(change.status),
            details_submitted: Set(change.details_submitted),
            updated_at: Set(ctx.now),
        };
        stripe_connection::Entity::insert(row)
            .on_conflict(
                OnConflict::column(stripe_connection::Column::TenantId)
                    .update_columns([
                        stripe_connection::Column::AccountId,
                        stripe_connection::Column::Status,
                        stripe_connection::Column::DetailsSubmitted,
                        stripe_connection::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if let Some(found) = tenant::Entity::find_by_id(self.tenant_id.to_string())
            .one(&txn)
            .await?
        {
            let activate = change.status == ConnectionStatus::Active
                && found.status == TenantStatus::Onboarding;
            let mut tenant_row: tenant::ActiveModel = found.into();
            tenant_row.stripe_account_id = Set(Some(change.account_id.clone()));
            if activate {
                tenant_row.status = Set(TenantStatus::Active);
            }
            tenant_row.updated_at = Set(ctx.now);
            tenant_row.update(&txn).await?;
        }
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            change.action,
            "stripe_account",
            &change.account_id,
        )
        .await?;
        let saved = self
            .find::<stripe_connection::Entity>()
            .one(&txn)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("stripe connection".to_owned()))?;
        txn.commit().await?;
        Ok(saved)
    }
}

pub use crate::entities::catalog::feature::Model as FeatureRecord;

/// A new feature, already validated by `billing::entitlements`.
#[derive(Debug, Clone)]
pub struct NewFeature {
    /// `feat_…` id chosen by the caller (the domain value carries it).
    pub id: String,
    /// Valid lookup key, unique per tenant.
    pub lookup_key: String,
    /// Display name.
    pub name: String,
    /// JSON of `billing::entitlements::FeatureKind`.
    pub kind: String,
}

impl TenantScope<'_> {
    /// The tenant's features, by lookup key.
    pub async fn features(&self) -> StoreResult<Vec<FeatureRecord>> {
        Ok(self
            .find::<feature::Entity>()
            .order_by_asc(feature::Column::LookupKey)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's features; another tenant's is `None`.
    pub async fn feature(&self, id: &FeatureId) -> StoreResult<Option<FeatureRecord>> {
        Ok(self
            .find::<feature::Entity>()
            .filter(feature::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// Stores a new feature; [`crate::StoreError::Duplicate`] when the
    /// lookup key is taken in this tenant.
    pub async fn create_feature(
        &self,
        new_feature: NewFeature,
        ctx: &AuditContext,
    ) -> StoreResult<FeatureRecord> {
        let txn = crate::begin_write(self.db).await?;
        let created = feature::ActiveModel {
            id: Set(new_feature.id),
            tenant_id: Set(self.tenant_id.to_string()),
            lookup_key: Set(new_feature.lookup_key),
            name: Set(new_feature.name),
            kind: Set(new_feature.kind),
            archived: Set(false),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "feature.created",
            "feature",
            &created.id,
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Archives or unarchives one of the tenant's features (idempotent);
    /// `None` when it is not this tenant's.
    pub async fn set_feature_archived(
        &self,
        id: &FeatureId,
        archived: bool,
        ctx: &AuditContext,
    ) -> StoreResult<Option<FeatureRecord>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self
            .find::<feature::Entity>()
            .filter(feature::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        if found.archived == archived {
            return Ok(Some(found));
        }
        let mut row: feature::ActiveModel = found.into();
        row.archived = Set(archived);
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        let action = if archived {
            "feature.archived"
        } else {
            "feature.unarchived"
        };
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            action,
            "feature",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }
}

/// A changed plan's next version, `pending` until Stripe has it.
fn next_version(found: PlanRecord, ctx: &AuditContext) -> plan::ActiveModel {
    let version = found.version + 1;
    let mut row: plan::ActiveModel = found.into();
    row.version = Set(version);
    row.sync_status = Set(SyncStatus::Pending);
    row.updated_at = Set(ctx.now);
    row
}

pub use crate::entities::catalog::plan::{Model as PlanRecord, SyncStatus};
pub use crate::entities::catalog::price::Model as PriceRecord;

/// A new plan and its first prices, already validated by `billing::catalog`.
#[derive(Debug, Clone)]
pub struct NewPlan {
    /// `plan_…` id chosen by the caller (the domain value carries it).
    pub id: String,
    /// Trimmed display name.
    pub name: String,
    /// Free days before the first charge.
    pub trial_days: Option<i32>,
    /// The plan's prices.
    pub prices: Vec<NewPrice>,
    /// The Stripe product the plan already is (an import), so the plan is
    /// stored `synced` instead of `pending`; `None` for a plan made here.
    pub imported_from: Option<ImportedProduct>,
}

/// A product that already exists on the tenant's Stripe account.
#[derive(Debug, Clone)]
pub struct ImportedProduct {
    /// Its `prod_…` id.
    pub stripe_product_id: String,
    /// Whether it is archived on Stripe (then so is the plan).
    pub archived: bool,
}

/// A new price of a plan, already validated.
#[derive(Debug, Clone)]
pub struct NewPrice {
    /// `price_…` id chosen by the caller.
    pub id: String,
    /// JSON of `billing::catalog::PriceModel`.
    pub model: String,
    /// Lower-case ISO currency.
    pub currency: String,
    /// `day`, `week`, `month` or `year`; `None` for a one-time price.
    pub interval_unit: Option<String>,
    /// Units per period; `None` for a one-time price.
    pub interval_count: Option<i32>,
    /// Optional stable handle.
    pub lookup_key: Option<String>,
    /// The Stripe price it already is (an import) and whether that price is
    /// active; `None` for a price the sync still has to create.
    pub on_stripe: Option<(String, bool)>,
}

impl TenantScope<'_> {
    /// The tenant's plans, oldest first.
    pub async fn plans(&self) -> StoreResult<Vec<PlanRecord>> {
        Ok(self
            .find::<plan::Entity>()
            .order_by_asc(plan::Column::Id)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's plans; another tenant's is `None`.
    pub async fn plan(&self, id: &PlanId) -> StoreResult<Option<PlanRecord>> {
        self.plan_on(self.db, id).await
    }

    /// [`TenantScope::plan`] read through `db` (a write transaction).
    async fn plan_on(
        &self,
        db: &impl ConnectionTrait,
        id: &PlanId,
    ) -> StoreResult<Option<PlanRecord>> {
        Ok(self
            .find::<plan::Entity>()
            .filter(plan::Column::Id.eq(id.as_str()))
            .one(db)
            .await?)
    }

    /// The prices of one of the tenant's plans, oldest first.
    pub async fn prices_of(&self, plan_id: &PlanId) -> StoreResult<Vec<PriceRecord>> {
        Ok(self
            .find::<price::Entity>()
            .filter(price::Column::PlanId.eq(plan_id.as_str()))
            .order_by_asc(price::Column::Id)
            .all(self.db)
            .await?)
    }

    /// Stores a plan and its prices, `pending` sync, in one audited
    /// transaction: nothing half-written.
    pub async fn create_plan(
        &self,
        new_plan: NewPlan,
        ctx: &AuditContext,
    ) -> StoreResult<PlanRecord> {
        let txn = crate::begin_write(self.db).await?;
        let imported = new_plan.imported_from;
        let created = plan::ActiveModel {
            id: Set(new_plan.id),
            tenant_id: Set(self.tenant_id.to_string()),
            name: Set(new_plan.name),
            archived: Set(imported.as_ref().is_some_and(|product| product.archived)),
            trial_days: Set(new_plan.trial_days),
            stripe_product_id: Set(imported
                .as_ref()
                .map(|product| product.stripe_product_id.clone())),
            sync_status: Set(if imported.is_some() {
                SyncStatus::Synced
            } else {
                SyncStatus::Pending
            }),
            sync_error: Set(None),
            version: Set(1),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        }
        .insert(&txn)
        .await?;
        for new_price in new_plan.prices {
            self.insert_price(&txn, &created.id, new_price, ctx).await?;
        }
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "plan.created",
            "plan",
            &created.id,
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Renames one of the tenant's plans and sets its trial (audited
    /// `plan.updated`); the version is bumped so the product is synced
    /// again. `None` when the plan is not this tenant's.
    pub async fn update_plan(
        &self,
        id: &PlanId,
        name: String,
        trial_days: Option<i32>,
        ctx: &AuditContext,
    ) -> StoreResult<Option<PlanRecord>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self.plan_on(&txn, id).await? else {
            return Ok(None);
        };
        let mut row = next_version(found, ctx);
        row.name = Set(name);
        row.trial_days = Set(trial_days);
        let updated = row.update(&txn).await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "plan.updated",
            "plan",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// Archives (`true`) or restores one price of one of the tenant's plans
    /// (audited); the plan's version is bumped so Stripe follows. `None`
    /// when the plan or the price is not this tenant's.
    pub async fn set_price_archived(
        &self,
        plan_id: &PlanId,
        price_id: &str,
        archived: bool,
        ctx: &AuditContext,
    ) -> StoreResult<Option<PlanRecord>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self.plan_on(&txn, plan_id).await? else {
            return Ok(None);
        };
        let changed = price::Entity::update_many()
            .col_expr(price::Column::Archived, Expr::value(archived))
            .col_expr(price::Column::UpdatedAt, Expr::value(ctx.now))
            .filter(price::Column::Id.eq(price_id))
            .filter(price::Column::PlanId.eq(plan_id.as_str()))
            .filter(price::Column::TenantId.eq(self.tenant_id.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            return Ok(None);
        }
        let updated = next_version(found, ctx).update(&txn).await?;
        let action = if archived {
            "price.archived"
        } else {
            "price.unarchived"
        };
        audit::record(&txn, ctx, Some(&self.tenant_id), action, "price", price_id).await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// Archives or restores one of the tenant's plans (idempotent). A real
    /// change bumps the version and marks the plan `pending` so it is synced
    /// again; `None` when the plan is not this tenant's.
    pub async fn set_plan_archived(
        &self,
        id: &PlanId,
        archived: bool,
        ctx: &AuditContext,
    ) -> StoreResult<Option<PlanRecord>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self.plan_on(&txn, id).await? else {
            return Ok(None);
        };
        if found.archived == archived {
            return Ok(Some(found));
        }
        let version = found.version + 1;
        let mut row: plan::ActiveModel = found.into();
        row.archived = Set(archived);
        row.version = Set(version);
        row.sync_status = Set(SyncStatus::Pending);
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        let action = if archived {
            "plan.archived"
        } else {
            "plan.unarchived"
        };
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            action,
            "plan",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }
}

impl TenantScope<'_> {
    /// Records the Stripe product of a plan (sync bookkeeping, not audited:
    /// the sync outcome is).
    pub async fn record_plan_product(&self, id: &PlanId, product_id: &str) -> StoreResult<()> {
        plan::Entity::update_many()
            .col_expr(plan::Column::StripeProductId, Expr::value(product_id))
            .filter(plan::Column::Id.eq(id.as_str()))
            .filter(plan::Column::TenantId.eq(self.tenant_id.as_str()))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Records a price's Stripe id and whether it is active on Stripe.
    pub async fn record_price_on_stripe(
        &self,
        id: &str,
        stripe_price_id: &str,
        stripe_active: bool,
    ) -> StoreResult<()> {
        price::Entity::update_many()
            .col_expr(price::Column::StripePriceId, Expr::value(stripe_price_id))
            .col_expr(price::Column::StripeActive, Expr::value(stripe_active))
            .filter(price::Column::Id.eq(id))
            .filter(price::Column::TenantId.eq(self.tenant_id.as_str()))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Ends a sync attempt of `version` of a plan: `synced` on success (only
    /// if no newer change arrived meanwhile; its own job follows), `failed`
    /// with the visible `error` otherwise. Audited.
    pub async fn finish_plan_sync(
        &self,
        id: &PlanId,
        version: i32,
        error: Option<String>,
        ctx: &AuditContext,
    ) -> StoreResult<()> {
        let txn = crate::begin_write(self.db).await?;
        let (status, action) = match &error {
            None => (SyncStatus::Synced, "plan.synced"),
            Some(_) => (SyncStatus::Failed, "plan.sync_failed"),
        };
        let updated = plan::Entity::update_many()
            .col_expr(plan::Column::SyncStatus, Expr::value(status))
            .col_expr(plan::Column::SyncError, Expr::value(error))
            .filter(plan::Column::Id.eq(id.as_str()))
            .filter(plan::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(plan::Column::Version.eq(version))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated > 0 {
            audit::record(
                &txn,
                ctx,
                Some(&self.tenant_id),
                action,
                "plan",
                id.as_str(),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

pub use crate::entities::catalog::plan_feature::Model as GrantRecord;

impl TenantScope<'_> {
    /// The tenant's plan that is the Stripe product `product_id`, if any
    /// (an import asks before creating one).
    pub async fn plan_by_stripe_product(
        &self,
        product_id: &str,
    ) -> StoreResult<Option<PlanRecord>> {
        Ok(self
            .find::<plan::Entity>()
            .filter(plan::Column::StripeProductId.eq(product_id))
            .one(self.db)
            .await?)
    }

    /// The tenant's price that is the Stripe price `stripe_price_id`, if any.
    pub async fn price_by_stripe_id(
        &self,
        stripe_price_id: &str,
    ) -> StoreResult<Option<PriceRecord>> {
        Ok(self
            .find::<price::Entity>()
            .filter(price::Column::StripePriceId.eq(stripe_price_id))
            .one(self.db)
            .await?)
    }

    /// Adds a price that already exists on Stripe to one of the tenant's
    /// plans, without a new plan version (nothing is left to sync); audited.
    pub async fn import_price(
        &self,
        plan_id: &PlanId,
        new_price: NewPrice,
        ctx: &AuditContext,
    ) -> StoreResult<()> {
        let txn = crate::begin_write(self.db).await?;
        let price_id = new_price.id.clone();
        self.insert_price(&txn, plan_id.as_str(), new_price, ctx)
            .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "price.imported",
            "price",
            &price_id,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl TenantScope<'_> {
    /// Adds a price to one of the tenant's plans; with `supersedes`, that
    /// price of the plan is archived in the same transaction (Stripe prices
    /// are immutable: its subscribers keep it). The plan is bumped to a new
    /// `pending` version. `None` when the plan, or the superseded price, is
    /// not this tenant's.
    pub async fn add_price(
        &self,
        plan_id: &PlanId,
        new_price: NewPrice,
        supersedes: Option<&str>,
        ctx: &AuditContext,
    ) -> StoreResult<Option<PlanRecord>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self.plan_on(&txn, plan_id).await? else {
            return Ok(None);
        };
        if let Some(old) = supersedes {
            let archived = price::Entity::update_many()
                .col_expr(price::Column::Archived, Expr::value(true))
                .col_expr(price::Column::UpdatedAt, Expr::value(ctx.now))
                .filter(price::Column::Id.eq(old))
                .filter(price::Column::PlanId.eq(plan_id.as_str()))
                .filter(price::Column::TenantId.eq(self.tenant_id.as_str()))
                .exec(&txn)
                .await?
                .rows_affected;
            if archived == 0 {
                return Ok(None);
            }
            audit::record(
                &txn,
                ctx,
                Some(&self.tenant_id),
                "price.archived",
                "price",
                old,
            )
            .await?;
        }
        let price_id = new_price.id.clone();
        self.insert_price(&txn, &found.id, new_price, ctx).await?;
        let version = found.version + 1;
        let mut row: plan::ActiveModel = found.into();
        row.version = Set(version);
        row.sync_status = Set(SyncStatus::Pending);
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "price.created",
            "price",
            &price_id,
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// What one of the tenant's plans grants.
    pub async fn grants_of(&self, plan_id: &PlanId) -> StoreResult<Vec<GrantRecord>> {
        Ok(self
            .find::<plan_feature::Entity>()
            .filter(plan_feature::Column::PlanId.eq(plan_id.as_str()))
            .order_by_asc(plan_feature::Column::FeatureId)
            .all(self.db)
            .await?)
    }

    /// Grants a feature with `value` (JSON of a validated
    /// `billing::entitlements::GrantValue`) to a plan, replacing an earlier
    /// grant of it. The caller checked both belong to this tenant.
    pub async fn grant_feature(
        &self,
        plan_id: &PlanId,
        feature_id: &FeatureId,
        value: String,
        ctx: &AuditContext,
    ) -> StoreResult<()> {
        let txn = crate::begin_write(self.db).await?;
        let row = plan_feature::ActiveModel {
            plan_id: Set(plan_id.to_string()),
            feature_id: Set(feature_id.to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            value: Set(value),
            updated_at: Set(ctx.now),
        };
        plan_feature::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    plan_feature::Column::PlanId,
                    plan_feature::Column::FeatureId,
                ])
                .update_columns([plan_feature::Column::Value, plan_feature::Column::UpdatedAt])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "plan.feature_granted",
            "plan",
            plan_id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl TenantScope<'_> {
    /// Inserts a new, not yet synced price of `plan_id` inside the caller's
    /// transaction (plan creation, added and superseding prices).
    async fn insert_price(
        &self,
        txn: &impl ConnectionTrait,
        plan_id: &str,
        new_price: NewPrice,
        ctx: &AuditContext,
    ) -> StoreResult<()> {
        price::ActiveModel {
            id: Set(new_price.id),
            tenant_id: Set(self.tenant_id.to_string()),
            plan_id: Set(plan_id.to_owned()),
            model: Set(new_price.model),
            currency: Set(new_price.currency),
            interval_unit: Set(new_price.interval_unit),
            interval_count: Set(new_price.interval_count),
            lookup_key: Set(new_price.lookup_key),
            archived: Set(new_price
                .on_stripe
                .as_ref()
                .is_some_and(|(_, active)| !active)),
            stripe_price_id: Set(new_price.on_stripe.as_ref().map(|(id, _)| id.clone())),
            stripe_active: Set(new_price
                .on_stripe
                .as_ref()
                .is_none_or(|(_, active)| *active)),
            created_at: Set(ctx.now),
            updated_at: Set(ctx.now),
        }
        .insert(txn)
        .await?;
        Ok(())
    }
}
