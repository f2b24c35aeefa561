//! One customer-facing mail kind a tenant switched off.

use sea_orm::entity::prelude::*;

/// A switched-off kind; kinds without a row are sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_mail_settings")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `mailer::MailKind::as_str()` of the kind not to send.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// When it was switched off.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
