//! sea-orm entities, one per table. Their `Model`s are the records the rest of
//! the workspace reads; queries on tenant-owned tables live in
//! [`crate::TenantScope`] so they are always filtered by tenant.

pub mod api;
pub mod api_key;
pub mod audit_log;
pub mod catalog;
pub mod domain_event;
pub mod dunning;
pub mod entitlement;
pub mod job;
pub mod login_failure;
pub mod mail;
pub mod mirror;
pub mod outbound;
pub mod platform_setting;
pub mod session;
pub mod tenant;
pub mod user;
pub mod webhooks;
