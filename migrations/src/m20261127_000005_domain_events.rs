//! Domain events: what happened to a tenant's customers, recorded in the same
//! transaction as the change, then handed to consumers (mail, dunning,
//! outbound webhooks) by a `domain_event.dispatch` job.
//!
//! `cause` is unique per tenant: it names what produced the event (a Stripe
//! event id, a Stripe object, a dunning step) plus the event's kind, so
//! reproducing the same cause twice records nothing the second time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DomainEvents::Table)
                    .col(string(DomainEvents::Id).primary_key())
                    .col(string(DomainEvents::TenantId))
                    .col(string(DomainEvents::Kind))
                    .col(string_null(DomainEvents::CustomerId))
                    .col(string(DomainEvents::Cause))
                    .col(text(DomainEvents::Payload))
                    .col(timestamp_with_time_zone(DomainEvents::OccurredAt))
                    .col(timestamp_with_time_zone(DomainEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DomainEvents::Table, DomainEvents::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One event per cause and kind within a tenant.
        manager
            .create_index(
                Index::create()
                    .name("idx_domain_events_cause")
                    .table(DomainEvents::Table)
                    .col(DomainEvents::TenantId)
                    .col(DomainEvents::Cause)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A tenant's event list (API, dashboard), newest first; ids are ULIDs.
        manager
            .create_index(
                Index::create()
                    .name("idx_domain_events_tenant")
                    .table(DomainEvents::Table)
                    .col(DomainEvents::TenantId)
                    .col(DomainEvents::Id)
                    .to_owned(),
            )
            .await?;
        // A customer's events, in order (outbound deliveries are ordered per customer).
        manager
            .create_index(
                Index::create()
                    .name("idx_domain_events_customer")
                    .table(DomainEvents::Table)
                    .col(DomainEvents::TenantId)
                    .col(DomainEvents::CustomerId)
                    .col(DomainEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DomainEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DomainEvents {
    Table,
    Id,
    TenantId,
    Kind,
    CustomerId,
    Cause,
    Payload,
    OccurredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
