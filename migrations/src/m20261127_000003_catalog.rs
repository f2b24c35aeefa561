//! Catalog and Connect: each tenant's Stripe connection, features, plans,
//! prices and the features plans grant.
//!
//! Every table carries `tenant_id`, so each query can be tenant-scoped without
//! a join. Sync state lives on the rows Stripe mirrors (plans, prices), so a
//! failed sync is visible where the merchant looks.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeConnections::Table)
                    .col(string(StripeConnections::TenantId).primary_key())
                    .col(string(StripeConnections::AccountId))
                    .col(string(StripeConnections::Status))
                    .col(boolean(StripeConnections::DetailsSubmitted).default(false))
                    .col(timestamp_with_time_zone(StripeConnections::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        StripeConnections::Table,
                        StripeConnections::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            StripeConnections::Table,
            [StripeConnections::AccountId],
            "idx_stripe_connections_account",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Features::Table)
                    .col(string(Features::Id).primary_key())
                    .col(string(Features::TenantId))
                    .col(string(Features::LookupKey))
                    .col(string(Features::Name))
                    .col(text(Features::Kind))
                    .col(boolean(Features::Archived).default(false))
                    .col(timestamp_with_time_zone(Features::CreatedAt))
                    .col(timestamp_with_time_zone(Features::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Features::Table, Features::TenantId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Features::Table,
            [Features::TenantId, Features::LookupKey],
            "uq_features_tenant_lookup_key",
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .col(string(Plans::Id).primary_key())
                    .col(string(Plans::TenantId))
                    .col(string(Plans::Name))
                    .col(boolean(Plans::Archived).default(false))
                    .col(integer_null(Plans::TrialDays))
                    .col(string_null(Plans::StripeProductId))
                    .col(string(Plans::SyncStatus))
                    .col(text_null(Plans::SyncError))
                    .col(integer(Plans::Version).default(1))
                    .col(timestamp_with_time_zone(Plans::CreatedAt))
                    .col(timestamp_with_time_zone(Plans::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Plans::Table, Plans::TenantId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Plans::Table,
            [Plans::TenantId],
            "idx_plans_tenant",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Prices::Table)
                    .col(string(Prices::Id).primary_key())
                    .col(string(Prices::TenantId))
                    .col(string(Prices::PlanId))
                    .col(text(Prices::Model))
                    .col(string(Prices::Currency))
                    .col(string(Prices::IntervalUnit))
                    .col(integer(Prices::IntervalCount))
                    .col(boolean(Prices::Archived).default(false))
                    .col(string_null(Prices::LookupKey))
                    .col(string_null(Prices::StripePriceId))
                    .col(boolean(Prices::StripeActive).default(true))
                    .col(timestamp_with_time_zone(Prices::CreatedAt))
                    .col(timestamp_with_time_zone(Prices::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Prices::Table, Prices::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Prices::Table, Prices::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Prices::Table,
            [Prices::TenantId, Prices::PlanId],
            "idx_prices_tenant_plan",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanFeatures::Table)
                    .col(string(PlanFeatures::PlanId))
                    .col(string(PlanFeatures::FeatureId))
                    .col(string(PlanFeatures::TenantId))
                    .col(text(PlanFeatures::Value))
                    .col(timestamp_with_time_zone(PlanFeatures::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(PlanFeatures::PlanId)
                            .col(PlanFeatures::FeatureId),
                    )
                    .foreign_key(&mut tenant_fk(PlanFeatures::Table, PlanFeatures::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PlanFeatures::Table, PlanFeatures::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PlanFeatures::Table, PlanFeatures::FeatureId)
                            .to(Features::Table, Features::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PlanFeatures::Table.into_iden(),
            Prices::Table.into_iden(),
            Plans::Table.into_iden(),
            Features::Table.into_iden(),
            StripeConnections::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A `tenant_id` foreign key: deleting a tenant deletes its catalog.
fn tenant_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index over `columns`, unique when `unique` (e.g. a lookup key per tenant).
async fn index<T: IntoIden + 'static, C: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: impl IntoIterator<Item = C>,
    name: &str,
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for column in columns {
        statement.col(column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement).await
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StripeConnections {
    Table,
    TenantId,
    AccountId,
    Status,
    DetailsSubmitted,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
    TenantId,
    LookupKey,
    Name,
    Kind,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    TenantId,
    Name,
    Archived,
    TrialDays,
    StripeProductId,
    SyncStatus,
    SyncError,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Prices {
    Table,
    Id,
    TenantId,
    PlanId,
    Model,
    Currency,
    IntervalUnit,
    IntervalCount,
    Archived,
    LookupKey,
    StripePriceId,
    StripeActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PlanFeatures {
    Table,
    PlanId,
    FeatureId,
    TenantId,
    Value,
    UpdatedAt,
}
