//! Browser sessions. The cookie holds a random token; only its SHA-256 hash is
//! stored, so a database leak does not hand out live sessions.

use sea_orm::entity::prelude::*;

/// A logged-in browser.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// `ses_…` id, safe to log.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Hex SHA-256 of the cookie token: how a request finds its session.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Who is logged in.
    pub user_id: String,
    /// When the user logged in.
    pub created_at: DateTimeUtc,
    /// After this the session is ignored and later pruned.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
