//! API idempotency records (issue #9).
//!
//! A POST with an `Idempotency-Key` first *claims* the key (an insert that
//! loses to any existing row, so two concurrent requests cannot both run),
//! then *completes* it with the response, which later retries replay.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::entities::api::idempotency_key;
use crate::{StoreResult, TenantScope};

pub use idempotency_key::Model as IdempotencyRecord;

crate::scope::tenant_owned!(idempotency_key);

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was free and is now ours: run the request, then complete it.
    Claimed,
    /// The key was used before (or is in flight): this is its record.
    Existing(IdempotencyRecord),
}

impl TenantScope<'_> {
    /// Claims `key` for a request with `fingerprint`. A record created
    /// before `expired_before` no longer counts: it is replaced.
    pub async fn claim_idempotency_key(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<IdempotencyClaim> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(idempotency_key::Column::IdemKey.eq(key))
            .filter(idempotency_key::Column::CreatedAt.lt(expired_before))
            .exec(self.db)
            .await?;
        let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            idem_key: Set(key.to_owned()),
            fingerprint: Set(fingerprint.to_owned()),
            response_status: Set(None),
            response_body: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([
                idempotency_key::Column::TenantId,
                idempotency_key::Column::IdemKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(self.db)
        .await?;
        if inserted == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let existing = self
            .find::<idempotency_key::Entity>()
            .filter(idempotency_key::Column::IdemKey.eq(key))
            .one(self.db)
            .await?;
        Ok(match existing {
            Some(record) => IdempotencyClaim::Existing(record),
            // Released between our insert and read by the request that held
            // it: that request is still settling, so report it in flight.
            None => IdempotencyClaim::Existing(IdempotencyRecord {
                tenant_id: self.tenant_id.to_string(),
                idem_key: key.to_owned(),
                fingerprint: fingerprint.to_owned(),
                response_status: None,
                response_body: None,
                created_at: now,
                completed_at: None,
            }),
        })
    }

    /// Stores the response of a claimed key, for replays.
    pub async fn complete_idempotency_key(
        &self,
        key: &str,
        status: u16,
        body: String,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::ResponseStatus,
                sea_orm::sea_query::Expr::value(i32::from(status)),
            )
            .col_expr(
                idempotency_key::Column::ResponseBody,
                sea_orm::sea_query::Expr::value(body),
            )
            .col_expr(
                idempotency_key::Column::CompletedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(idempotency_key::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(idempotency_key::Column::IdemKey.eq(key))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Releases a claimed key whose request failed on our side (5xx), so a
    /// retry runs again rather than replaying an outage.
    pub async fn release_idempotency_key(&self, key: &str) -> StoreResult<()> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(idempotency_key::Column::IdemKey.eq(key))
            .filter(idempotency_key::Column::ResponseStatus.is_null())
            .exec(self.db)
            .await?;
        Ok(())
    }
}
