//! One email in the outbox, rendered once when it was queued.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its `mail.send` job (first try or a retry after a
    /// transient failure, at `next_attempt_at`).
    #[sea_orm(string_value = "queued")]
    Queued,
    /// A worker is handing it to the SMTP server right now.
    #[sea_orm(string_value = "sending")]
    Sending,
    /// The SMTP server accepted it.
    #[sea_orm(string_value = "sent")]
    Sent,
    /// Kept, not sent: no `SMTP_URL` is configured.
    #[sea_orm(string_value = "captured")]
    Captured,
    /// Refused for good (5xx) or out of attempts; `last_error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl OutboxStatus {
    /// The stored name, for pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Captured => "captured",
            Self::Failed => "failed",
        }
    }

    /// Whether nothing will happen to the message any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Sent | Self::Captured | Self::Failed)
    }
}

/// An outbox row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    /// `msg_…` plus a ULID, so ids sort in creation order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant whose customer (or who, for merchant notices) it is for.
    pub tenant_id: String,
    /// The domain event that caused it, for tracing a message to its cause.
    pub domain_event_id: Option<String>,
    /// `mailer::MailKind::as_str()`, e.g. `receipt`.
    pub kind: String,
    /// The recipient's address (envelope and `To`).
    pub recipient: String,
    /// The recipient's display name, when known.
    pub recipient_name: Option<String>,
    /// The `From` display name (the merchant's name, or the platform's).
    pub from_name: String,
    /// The `Reply-To` address (the merchant's support address).
    pub reply_to: String,
    /// `{cause}:{kind}:{recipient}`; unique, so a cause yields one message
    /// per kind and recipient however often it is processed.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    /// The rendered subject line.
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    /// The rendered HTML part.
    #[sea_orm(column_type = "Text")]
    pub html: String,
    /// The rendered plain-text part.
    #[sea_orm(column_type = "Text")]
    pub text: String,
    /// Life-cycle state.
    pub status: OutboxStatus,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// The last failure, shown to admins (never contains credentials).
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When the next delivery attempt is due after a transient failure.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// The `Message-ID` header it was sent (or captured) with.
    pub message_id: Option<String>,
    /// When it was queued.
    pub created_at: DateTimeUtc,
    /// When the SMTP server accepted it (or it was captured).
    pub sent_at: Option<DateTimeUtc>,
    /// Last state change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
