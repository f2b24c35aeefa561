//! [`TenantScope`]: the one door to tenant-owned rows.
//!
//! Every query starts from [`TenantScope::find`], which adds the tenant filter,
//! so reading or changing another tenant's row is not expressible: an id of
//! tenant B looked up in tenant A's scope is simply "not found".

use billing::ids::{ApiKeyId, AuditId, TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::entities::catalog::{feature, plan, plan_feature, price, stripe_connection};
use crate::entities::{api_key, audit_log, user};
use crate::{ApiKey, ApiKeyMode, AuditContext, AuditEvent, StoreResult, User, audit};

/// A table whose rows belong to one tenant.
pub(crate) trait TenantOwned: EntityTrait {
    /// The column holding the owning tenant's id.
    fn tenant_column() -> Self::Column;
}

impl TenantOwned for api_key::Entity {
    fn tenant_column() -> Self::Column {
        api_key::Column::TenantId
    }
}

impl TenantOwned for audit_log::Entity {
    fn tenant_column() -> Self::Column {
        audit_log::Column::TenantId
    }
}

impl TenantOwned for user::Entity {
    fn tenant_column() -> Self::Column {
        user::Column::TenantId
    }
}

/// Implements [`TenantOwned`] for tables whose tenant column is `TenantId`;
/// each storage module registers its own tables with it.
macro_rules! tenant_owned {
    ($($module:ident),+) => {$(
        impl $crate::scope::TenantOwned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
        }
    )+};
}
pub(crate) use tenant_owned;

tenant_owned!(stripe_connection, feature, plan, price, plan_feature);

/// A new API key; the caller generated the secret and hashed it.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Merchant-chosen label.
    pub name: String,
    /// Displayable start of the key.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    /// Test or live.
    pub mode: ApiKeyMode,
}

/// Queries and mutations on one tenant's rows.
pub struct TenantScope<'a> {
    /// The shared connection.
    pub(crate) db: &'a DatabaseConnection,
    /// The tenant every statement is filtered by.
    pub(crate) tenant_id: TenantId,
}

impl<'a> TenantScope<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, tenant_id: TenantId) -> Self {
        Self { db, tenant_id }
    }

    /// The tenant this scope is bound to.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    /// `SELECT … WHERE tenant_id = <this tenant>`: the start of every query.
    pub(crate) fn find<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.tenant_id.as_str()))
    }

    /// The tenant's users.
    pub async fn users(&self) -> StoreResult<Vec<User>> {
        Ok(self
            .find::<user::Entity>()
            .order_by_asc(user::Column::Id)
            .all(self.db)
            .await?)
    }

    /// The tenant's API keys, newest first, revoked ones included.
    pub async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        Ok(self
            .find::<api_key::Entity>()
            .order_by_desc(api_key::Column::Id)
            .all(self.db)
            .await?)
    }

    /// One of the tenant's API keys; another tenant's key is `None`.
    pub async fn api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKey>> {
        Ok(self
            .find::<api_key::Entity>()
            .filter(api_key::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// Stores a new key for this tenant.
    pub async fn create_api_key(
        &self,
        new_key: NewApiKey,
        created_by: Option<&UserId>,
        ctx: &AuditContext,
    ) -> StoreResult<ApiKey> {
        let id = ApiKeyId::generate();
        let txn = crate::begin_write(self.db).await?;
        let created = api_key::ActiveModel {
            id: Set(id.to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            name: Set(new_key.name),
            prefix: Set(new_key.prefix),
            key_hash: Set(new_key.key_hash),
            mode: Set(new_key.mode),
            created_by: Set(created_by.map(ToString::to_string)),
            created_at: Set(ctx.now),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "api_key.created",
            "api_key",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    /// Revokes one of the tenant's keys. Revoking twice is a no-op that keeps
    /// the first revocation time; `None` when the key is not this tenant's.
    pub async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        ctx: &AuditContext,
    ) -> StoreResult<Option<ApiKey>> {
        let txn = crate::begin_write(self.db).await?;
        let found = self
            .find::<api_key::Entity>()
            .filter(api_key::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?;
        let Some(found) = found else { return Ok(None) };
        if found.revoked_at.is_some() {
            return Ok(Some(found));
        }
        let mut row: api_key::ActiveModel = found.into();
        row.revoked_at = Set(Some(ctx.now));
        let revoked = row.update(&txn).await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "api_key.revoked",
            "api_key",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(revoked))
    }

    /// One of the tenant's audit entries; another tenant's is `None`.
    pub async fn audit_event(&self, id: &AuditId) -> StoreResult<Option<AuditEvent>> {
        Ok(self
            .find::<audit_log::Entity>()
            .filter(audit_log::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The tenant's most recent audit entries, newest first.
    pub async fn audit_events(&self, limit: u64) -> StoreResult<Vec<AuditEvent>> {
        Ok(self
            .find::<audit_log::Entity>()
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?)
    }
}
