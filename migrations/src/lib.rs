//! Database schema migrations: the only source of the schema.
//!
//! Every migration is written with the portable sea-query schema builder so the
//! same statements run on SQLite and PostgreSQL. Ids are prefixed ULID strings
//! (see `billing::ids`), times are UTC timestamps.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_foundation;
mod m20261127_000002_jobs;
mod m20261127_000003_catalog;
mod m20261127_000004_webhook_inbox;
mod m20261127_000005_domain_events;
mod m20261127_000006_mirror;
mod m20261127_000007_entitlements;
mod m20261127_000008_dunning;
mod m20261127_000009_mail_outbox;
mod m20261127_000010_api;
mod m20261127_000011_outbound;
mod m20261127_000012_one_time_prices;
mod m20261127_000013_subscription_changes;
mod m20261127_000014_job_lease_tokens;
mod m20261128_000015_invoice_subscription_index;

/// Applies the migrations in order; `billforge migrate` and `serve` call it.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_foundation::Migration),
            Box::new(m20261127_000002_jobs::Migration),
            Box::new(m20261127_000003_catalog::Migration),
            Box::new(m20261127_000004_webhook_inbox::Migration),
            Box::new(m20261127_000005_domain_events::Migration),
            Box::new(m20261127_000006_mirror::Migration),
            Box::new(m20261127_000007_entitlements::Migration),
            Box::new(m20261127_000008_dunning::Migration),
            Box::new(m20261127_000009_mail_outbox::Migration),
            Box::new(m20261127_000010_api::Migration),
            Box::new(m20261127_000011_outbound::Migration),
            Box::new(m20261127_000012_one_time_prices::Migration),
            Box::new(m20261127_000013_subscription_changes::Migration),
            Box::new(m20261127_000014_job_lease_tokens::Migration),
            Box::new(m20261128_000015_invoice_subscription_index::Migration),
        ]
    }
}
