//! Merchant API keys, stored hashed.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Whether a key acts on Stripe test mode or live mode data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyMode {
    /// `bf_test_…`: the platform runs on the emulator or Stripe test mode.
    #[sea_orm(string_value = "test")]
    Test,
    /// `bf_live_…`: real money.
    #[sea_orm(string_value = "live")]
    Live,
}

impl ApiKeyMode {
    /// The lower-case name used in key prefixes and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Live => "live",
        }
    }
}

/// One API key; the secret itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// `key_…` id used in URLs and the audit log.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning tenant: the key authenticates as this tenant.
    pub tenant_id: String,
    /// Merchant-chosen label ("CI", "backend").
    pub name: String,
    /// The first characters of the key (e.g. `bf_test_a1b2c3d4`) so the
    /// merchant can tell keys apart without the secret.
    pub prefix: String,
    /// Hex SHA-256 of the full key: how a bearer token finds its key.
    #[serde(skip)]
    #[sea_orm(unique)]
    pub key_hash: String,
    /// Test or live.
    pub mode: ApiKeyMode,
    /// The user who created the key, if created from the dashboard.
    pub created_by: Option<String>,
    /// When the key was created.
    pub created_at: DateTimeUtc,
    /// Last successful authentication, shown so stale keys can be revoked.
    pub last_used_at: Option<DateTimeUtc>,
    /// Set once revoked; a revoked key never authenticates again.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
