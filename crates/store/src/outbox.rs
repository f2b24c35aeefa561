//! The mail outbox (issue #7): every email Billforge sends is a row here,
//! rendered once, unique on its dedupe key, and sent by a `mail.send` job
//! enqueued in the same transaction as the row.

use billing::ids::{JobId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::mail::{mail_outbox, tenant_mail_branding, tenant_mail_setting};
use crate::jobs::insert_job;
use crate::{AuditContext, NewJob, Store, StoreResult, TenantScope, audit};

pub use mail_outbox::{Model as OutboxMessage, OutboxStatus};
pub use tenant_mail_branding::Model as MailBranding;

crate::scope::tenant_owned!(mail_outbox, tenant_mail_setting, tenant_mail_branding);

/// The job kind that delivers one outbox message.
pub const SEND_JOB: &str = "mail.send";
/// Delivery attempts before a message that keeps failing transiently is
/// marked failed: with the job queue's backoff (30 s doubling, capped at an
/// hour) the last one is about a day after the first, so a mail server's
/// outage of some hours loses nothing.
pub const SEND_ATTEMPTS: i32 = 30;

/// A rendered email to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage {
    /// The domain event that caused it.
    pub domain_event_id: Option<String>,
    /// `MailKind::as_str()`.
    pub kind: String,
    /// The recipient's address.
    pub recipient: String,
    /// The recipient's display name.
    pub recipient_name: Option<String>,
    /// The `From` display name.
    pub from_name: String,
    /// The `Reply-To` address.
    pub reply_to: String,
    /// Unique per cause, kind and recipient.
    pub dedupe_key: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered HTML part.
    pub html: String,
    /// Rendered text part.
    pub text: String,
}

/// The payload of a [`SEND_JOB`] job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SendPayload {
    /// The outbox row to deliver.
    pub message_id: String,
}

/// What a delivery attempt ended with.
#[derive(Debug, Clone)]
pub enum Attempted {
    /// Accepted by the SMTP server (`captured`: kept, no server configured),
    /// with the `Message-ID` it carried.
    Delivered {
        /// Whether it was only captured.
        captured: bool,
        /// The `Message-ID` header.
        message_id: String,
    },
    /// A transient failure; another attempt is due at `retry_at`.
    Retry {
        /// Why it failed.
        error: String,
        /// When the job runs again.
        retry_at: DateTime<Utc>,
    },
    /// A permanent failure (or out of attempts).
    Failed {
        /// Why it failed.
        error: String,
    },
}

impl TenantScope<'_> {
    /// Queues `messages` and their send jobs in one transaction. A message
    /// whose dedupe key exists already is skipped (and gets no job). Returns
    /// the ids of the rows inserted.
    pub async fn enqueue_mail(
        &self,
        messages: Vec<NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        let txn = crate::begin_write(self.db).await?;
        let mut inserted_ids = Vec::new();
        for message in messages {
            let id = format!("msg_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
            let job_dedupe = format!("{SEND_JOB}:{}", message.dedupe_key);
            let inserted = mail_outbox::Entity::insert(mail_outbox::ActiveModel {
                id: Set(id.clone()),
                tenant_id: Set(self.tenant_id.to_string()),
                domain_event_id: Set(message.domain_event_id),
                kind: Set(message.kind),
                recipient: Set(message.recipient),
                recipient_name: Set(message.recipient_name),
                from_name: Set(message.from_name),
                reply_to: Set(message.reply_to),
                dedupe_key: Set(message.dedupe_key),
                subject: Set(message.subject),
                html: Set(message.html),
                text: Set(message.text),
                status: Set(OutboxStatus::Queued),
                attempts: Set(0),
                last_error: Set(None),
                next_attempt_at: Set(Some(now)),
                message_id: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(mail_outbox::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            if inserted == 0 {
                continue;
            }
            let payload = serde_json::to_string(&SendPayload {
                message_id: id.clone(),
            })
            .map_err(|err| sea_orm::DbErr::Custom(format!("serialising a send payload: {err}")))?;
            insert_job(
                &txn,
                &JobId::generate(),
                NewJob {
                    kind: SEND_JOB.to_owned(),
                    payload,
                    tenant_id: Some(self.tenant_id.clone()),
                    dedupe_key: Some(job_dedupe),
                    run_at: now,
                    max_attempts: SEND_ATTEMPTS,
                },
                now,
            )
            .await?;
            inserted_ids.push(id);
        }
        txn.commit().await?;
        Ok(inserted_ids)
    }

    /// One of the tenant's messages; another tenant's is `None`.
    pub async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        Ok(self
            .find::<mail_outbox::Entity>()
            .filter(mail_outbox::Column::Id.eq(id))
            .one(self.db)
            .await?)
    }

    /// Marks a message `sending` and counts the attempt; `None` when it
    /// reached a final state already (a job run twice sends nothing twice).
    pub async fn begin_mail_attempt(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OutboxMessage>> {
        let claimed = mail_outbox::Entity::update_many()
            .col_expr(
                mail_outbox::Column::Status,
                Expr::value(OutboxStatus::Sending),
            )
            .col_expr(
                mail_outbox::Column::Attempts,
                Expr::col(mail_outbox::Column::Attempts).add(1),
            )
            .col_expr(mail_outbox::Column::UpdatedAt, Expr::value(now))
            .filter(mail_outbox::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(mail_outbox::Column::Id.eq(id))
            .filter(
                mail_outbox::Column::Status.is_in([OutboxStatus::Queued, OutboxStatus::Sending]),
            )
            .exec(self.db)
            .await?
            .rows_affected;
        if claimed == 0 {
            return Ok(None);
        }
        self.outbox_message(id).await
    }

    /// Records how an attempt begun with [`Self::begin_mail_attempt`] ended.
    pub async fn finish_mail_attempt(
        &self,
        id: &str,
        outcome: Attempted,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut update = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::UpdatedAt, Expr::value(now))
            .filter(mail_outbox::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(mail_outbox::Column::Id.eq(id))
            .filter(mail_outbox::Column::Status.eq(OutboxStatus::Sending));
        let no_time: Option<DateTime<Utc>> = None;
        update = match outcome {
            Attempted::Delivered {
                captured,
                message_id,
            } => {
                let status = if captured {
                    OutboxStatus::Captured
                } else {
                    OutboxStatus::Sent
                };
                update
                    .col_expr(mail_outbox::Column::Status, Expr::value(status))
                    .col_expr(mail_outbox::Column::MessageId, Expr::value(message_id))
                    .col_expr(mail_outbox::Column::SentAt, Expr::value(now))
                    .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(no_time))
            }
            Attempted::Retry { error, retry_at } => update
                .col_expr(
                    mail_outbox::Column::Status,
                    Expr::value(OutboxStatus::Queued),
                )
                .col_expr(mail_outbox::Column::LastError, Expr::value(error))
                .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(retry_at)),
            Attempted::Failed { error } => update
                .col_expr(
                    mail_outbox::Column::Status,
                    Expr::value(OutboxStatus::Failed),
                )
                .col_expr(mail_outbox::Column::LastError, Expr::value(error))
                .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(no_time)),
        };
        update.exec(self.db).await?;
        Ok(())
    }

    /// The kinds the tenant switched off, by stored name.
    pub async fn disabled_mail_kinds(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .find::<tenant_mail_setting::Entity>()
            .order_by_asc(tenant_mail_setting::Column::Kind)
            .all(self.db)
            .await?
            .into_iter()
            .map(|row| row.kind)
            .collect())
    }

    /// The tenant's footer address and account page; `None` until saved.
    pub async fn mail_branding(&self) -> StoreResult<Option<MailBranding>> {
        Ok(self
            .find::<tenant_mail_branding::Entity>()
            .one(self.db)
            .await?)
    }

    /// Replaces the switched-off kinds with `kinds`, the footer address and
    /// the account page (all already validated), in one audited transaction.
    pub async fn save_mail_settings(
        &self,
        kinds: &[&str],
        footer_address: &str,
        account_url: Option<&str>,
        ctx: &AuditContext,
    ) -> StoreResult<()> {
        let txn = crate::begin_write(self.db).await?;
        tenant_mail_branding::Entity::insert(tenant_mail_branding::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            footer_address: Set(footer_address.to_owned()),
            account_url: Set(account_url.map(str::to_owned)),
            updated_at: Set(ctx.now),
        })
        .on_conflict(
            OnConflict::column(tenant_mail_branding::Column::TenantId)
                .update_columns([
                    tenant_mail_branding::Column::FooterAddress,
                    tenant_mail_branding::Column::AccountUrl,
                    tenant_mail_branding::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        tenant_mail_setting::Entity::delete_many()
            .filter(tenant_mail_setting::Column::TenantId.eq(self.tenant_id.as_str()))
            .exec(&txn)
            .await?;
        if !kinds.is_empty() {
            tenant_mail_setting::Entity::insert_many(kinds.iter().map(|kind| {
                tenant_mail_setting::ActiveModel {
                    tenant_id: Set(self.tenant_id.to_string()),
                    kind: Set((*kind).to_owned()),
                    created_at: Set(ctx.now),
                }
            }))
            .exec_without_returning(&txn)
            .await?;
        }
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "mail_settings.updated",
            "tenant",
            self.tenant_id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl Store {
    /// The most recent messages of every tenant, newest first, optionally of
    /// one status: the admin console's mail page crosses tenants by design.
    pub async fn outbox_messages_all(
        &self,
        status: Option<OutboxStatus>,
        limit: u64,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut query = mail_outbox::Entity::find();
        if let Some(status) = status {
            query = query.filter(mail_outbox::Column::Status.eq(status));
        }
        Ok(query
            .order_by_desc(mail_outbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Any tenant's message by id (admin console).
    pub async fn outbox_message_any(&self, id: &str) -> StoreResult<Option<OutboxMessage>> {
        Ok(mail_outbox::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// The tenant's owner's login email: merchant notices go there.
    pub async fn tenant_owner_email(&self, tenant_id: &TenantId) -> StoreResult<Option<String>> {
        use crate::entities::user;
        Ok(self
            .scoped(tenant_id)
            .find::<user::Entity>()
            .filter(user::Column::Role.eq(crate::UserRole::Owner))
            .order_by_asc(user::Column::Id)
            .one(&self.db)
            .await?
            .map(|owner| owner.email))
    }
}
