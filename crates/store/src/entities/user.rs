//! People who log in: merchant users (one tenant) and platform admins (none).

use sea_orm::entity::prelude::*;
use serde::Serialize;

/// What a user may do. Merchant roles imply a tenant; `admin` implies none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Created the tenant; may do everything within it.
    #[sea_orm(string_value = "owner")]
    Owner,
    /// Invited into a tenant (room for later issues).
    #[sea_orm(string_value = "member")]
    Member,
    /// Runs the platform; belongs to no tenant.
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// A user account.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// `usr_…` id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant a merchant user belongs to; `None` for platform admins.
    pub tenant_id: Option<String>,
    /// Login name, lower-cased so look-ups are case-insensitive.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2 PHC string; never leaves the platform crate (no `Debug`).
    pub password_hash: String,
    /// What the user may do.
    pub role: UserRole,
    /// When the account was created.
    pub created_at: DateTimeUtc,
    /// Last change to the account.
    pub updated_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("password_hash", &"[redacted]")
            .field("role", &self.role)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
