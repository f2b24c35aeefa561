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
        ]
    }
}
