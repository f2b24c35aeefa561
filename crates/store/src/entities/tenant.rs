//! Tenants: merchants, the unit of isolation.

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a tenant is in its life; only `active` and `onboarding` tenants may
/// use the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Signed up, Stripe account not connected yet.
    #[sea_orm(string_value = "onboarding")]
    Onboarding,
    /// Connected and trading.
    #[sea_orm(string_value = "active")]
    Active,
    /// Blocked by a platform admin: API keys get 403 `tenant_suspended`.
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

impl TenantStatus {
    /// The lower-case name used in the database, the API and the pages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A merchant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// `ten_…` id, stable forever.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique, URL-safe name used in public URLs (hosted pages).
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name shown to the merchant and their customers.
    pub name: String,
    /// Life-cycle state; gates API access.
    pub status: TenantStatus,
    /// Brand colour (`#rrggbb`) for hosted pages, if the merchant set one.
    pub brand_color: Option<String>,
    /// Logo shown on hosted pages, if the merchant set one.
    pub logo_url: Option<String>,
    /// Where the merchant's customers write for help.
    pub support_email: Option<String>,
    /// The platform's cut of each charge in basis points (1/100 of a percent),
    /// an integer so fees are never computed with floats.
    pub platform_fee_bps: i32,
    /// The merchant's connected Stripe account (`acct_…`) once connected.
    pub stripe_account_id: Option<String>,
    /// When the merchant signed up.
    pub created_at: DateTimeUtc,
    /// Last change to any of the fields above.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
