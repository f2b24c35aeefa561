//! Failed login attempts, kept in the database so throttling holds across
//! instances. Rows older than the throttle window are pruned.

use sea_orm::entity::prelude::*;

/// One failed attempt against a subject (`account:<email>` or `ip:<addr>`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    /// Row id; nothing refers to it.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// What is being throttled: an account or a client address.
    pub subject: String,
    /// When the attempt failed; only recent ones count.
    pub failed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
