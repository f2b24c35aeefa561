//! One event to send to one endpoint, with its retry state.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not attempted yet (or replayed, or waiting for an earlier delivery).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The endpoint answered 2xx.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// The last attempt failed; another is scheduled at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Every attempt of the retry window failed; only a replay sends it again.
    #[sea_orm(string_value = "dead")]
    Dead,
    /// Not sent because the endpoint was disabled.
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

impl DeliveryStatus {
    /// Whether the delivery is done with, so later ones of its customer may go.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Skipped)
    }

    /// The lower-case name used in the database, the API and pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Skipped => "skipped",
        }
    }
}

/// A delivery row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// `wd_…`, a ULID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning merchant.
    pub tenant_id: String,
    /// The endpoint it goes to.
    pub endpoint_id: String,
    /// The message id sent as `webhook-id` (the domain event id, or a test
    /// event's id): the receiver's idempotency key, the same on every retry.
    pub event_id: String,
    /// The event type, e.g. `invoice.paid`.
    pub event_type: String,
    /// Billforge's customer id: deliveries of one customer go in order.
    pub customer_id: Option<String>,
    /// When the event happened: the ordering key (ties broken by `id`).
    pub ordering_at: DateTimeUtc,
    /// The exact JSON body sent, frozen at creation so retries and replays
    /// send the same bytes.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// Life-cycle state.
    pub status: DeliveryStatus,
    /// HTTP attempts since creation or the last replay.
    pub attempts: i32,
    /// When the next attempt is due; `None` once finished.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// Start of the retry window (creation or last replay): retries stop
    /// three days after it.
    pub retry_window_start: DateTimeUtc,
    /// The last response's HTTP status, if one came.
    pub last_response_status: Option<i32>,
    /// The start of the last response's body, for the log.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_response_excerpt: Option<String>,
    /// Why the last attempt failed without a response (timeout, refused…).
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
