//! Catalog and Connect queries (Stripe connection, plans, prices, features),
//! always tenant-scoped; the one global look-up (a connection by Stripe
//! account) says why.

use billing::ids::FeatureId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::entities::catalog::{feature, stripe_connection};
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
        let txn = self.db.begin().await?;
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
        let txn = self.db.begin().await?;
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
        let txn = self.db.begin().await?;
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
