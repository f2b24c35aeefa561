//! One received Stripe event: the inbox row the apply job works from.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Which of Billforge's two endpoints received the event; each has its own
/// signing secrets, and only Connect events carry an `account`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum WebhookSource {
    /// `POST /webhooks/stripe`: the platform account's own events.
    #[sea_orm(string_value = "platform")]
    Platform,
    /// `POST /webhooks/stripe/connect`: connected accounts' events.
    #[sea_orm(string_value = "connect")]
    Connect,
}

impl WebhookSource {
    /// The lower-case name used in the database, logs and settings keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Connect => "connect",
        }
    }
}

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Stored and acknowledged; its apply job is not enqueued yet (a worker
    /// does that, off the acknowledgement's path).
    #[sea_orm(string_value = "received")]
    Received,
    /// Its apply job is enqueued; not applied yet (or kept until its
    /// account has a tenant).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Applied through the domain; never applied again.
    #[sea_orm(string_value = "applied")]
    Applied,
    /// A type Billforge does not act on (yet); kept for replay.
    #[sea_orm(string_value = "ignored")]
    Ignored,
    /// The last attempt failed; the job queue will retry it.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Every attempt failed: waits for an admin to look and retry.
    #[sea_orm(string_value = "dead")]
    Dead,
}

impl InboxStatus {
    /// The lower-case name used in the database and the admin views.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// Whether the event is done with: applying it again must change nothing.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Applied | Self::Ignored)
    }
}

/// A received event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// Stripe's event id (`evt_…`): deliveries repeat, so it is the key that
    /// makes a repeated delivery a no-op.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The endpoint that received it (platform or Connect).
    pub source: WebhookSource,
    /// The connected account it happened on (`acct_…`), for Connect events.
    pub account_id: Option<String>,
    /// The tenant owning `account_id`, once the apply job resolved it.
    pub tenant_id: Option<String>,
    /// Stripe's event type, e.g. `invoice.paid`, for dispatch and the admin list.
    pub event_type: String,
    /// When Stripe created the event (not when it arrived: deliveries reorder).
    pub created: DateTimeUtc,
    /// The body exactly as received and verified, never re-serialised.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// Life-cycle state.
    pub status: InboxStatus,
    /// How many times the apply job has tried it.
    pub attempts: i32,
    /// Why the last attempt failed, or why the event is kept waiting.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When Billforge stored it (before answering Stripe).
    pub received_at: DateTimeUtc,
    /// When it was applied or marked ignored.
    pub applied_at: Option<DateTimeUtc>,
    /// Last state change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
