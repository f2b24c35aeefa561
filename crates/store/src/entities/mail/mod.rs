//! Mail tables (issue #7): the outbox, the kinds each tenant switched off
//! and the footer address of its emails.

pub mod mail_outbox;
pub mod tenant_mail_branding;
pub mod tenant_mail_setting;
