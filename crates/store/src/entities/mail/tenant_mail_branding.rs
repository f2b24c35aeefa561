//! What only mail needs of a merchant: the footer's postal address and the
//! customers' account page.

use sea_orm::entity::prelude::*;

/// One row per tenant that set a footer address; none means no address line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_mail_branding")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The postal address printed under every customer email, one line per
    /// line (anti-spam laws ask senders for one).
    #[sea_orm(column_type = "Text")]
    pub footer_address: String,
    /// The merchant's page where customers manage their subscription and
    /// payment method; customer mail links there, or leaves the link out.
    pub account_url: Option<String>,
    /// When it was last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
