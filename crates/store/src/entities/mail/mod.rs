//! Mail tables (issue #7): the outbox and the kinds each tenant switched off.

pub mod mail_outbox;
pub mod tenant_mail_setting;
