//! A merchant's outbound webhook endpoint.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Whether Billforge sends to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Deliveries are sent.
    #[sea_orm(string_value = "enabled")]
    Enabled,
    /// Nothing is sent: the merchant turned it off or it failed for too long.
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

impl EndpointStatus {
    /// The lower-case name used in the database, the API and pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// An endpoint row. `Debug` is written by hand: the signing secrets never
/// reach a log line.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    /// `we_…`, a ULID (list order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning merchant.
    pub tenant_id: String,
    /// Where events are POSTed (http or https).
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The merchant's label.
    pub description: Option<String>,
    /// JSON array of the event types sent; empty means every type.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    /// Enabled or disabled.
    pub status: EndpointStatus,
    /// Why it was disabled (shown to the merchant), when it is.
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    /// The current signing secret (`whsec_<base64>`); kept in clear because
    /// Billforge must sign with it, never rendered after creation.
    pub secret: String,
    /// The secret replaced by the last rotation, still signed with until
    /// `previous_secret_expires_at` so the merchant can switch without loss.
    pub previous_secret: Option<String>,
    /// End of the rotation overlap.
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Start of the current run of failed attempts (none since a success);
    /// the auto-disable rule measures from it.
    pub failing_since: Option<DateTimeUtc>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .field("status", &self.status)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
