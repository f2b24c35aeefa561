//! A tenant's connected Stripe account and where its onboarding stands.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// The stored form of `billing::connect::ConnectStatus` (minus
/// `NotConnected`, which is the absence of a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Account created, charges not enabled yet.
    #[sea_orm(string_value = "onboarding")]
    Onboarding,
    /// Charges enabled: the tenant can sell.
    #[sea_orm(string_value = "active")]
    Active,
    /// Charges were enabled, then disabled pending verification.
    #[sea_orm(string_value = "restricted")]
    Restricted,
    /// The merchant disconnected the platform; kept as a flag, nothing deleted.
    #[sea_orm(string_value = "disconnected")]
    Disconnected,
}

/// One tenant's Stripe connection (at most one row per tenant: reconnecting
/// replaces the account).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "stripe_connections")]
pub struct Model {
    /// The tenant; one connection each.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The connected account (`acct_…`), sent as `Stripe-Account`.
    pub account_id: String,
    /// Onboarding progress, driven by `account.updated` / deauthorization.
    pub status: ConnectionStatus,
    /// Whether the holder submitted onboarding (shown while Stripe reviews).
    pub details_submitted: bool,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
