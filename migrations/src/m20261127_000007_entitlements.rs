//! Customer overrides and stored effective entitlements (issue #5).
//!
//! `customer_entitlements` holds one row per customer and feature, keyed by
//! (tenant, customer, lookup key), so an entitlement check is one primary-key
//! lookup and a customer's whole set one index range. Rows are replaced by
//! each recomputation; a feature nobody grants has no row.
//!
//! `entitlement_overrides` holds at most one override per customer and
//! feature (the primary key), so "the active override" is never ambiguous.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EntitlementOverrides::Table)
                    .col(string(EntitlementOverrides::TenantId))
                    .col(string(EntitlementOverrides::CustomerId))
                    .col(string(EntitlementOverrides::FeatureId))
                    .col(string(EntitlementOverrides::LookupKey))
                    .col(text(EntitlementOverrides::Action))
                    .col(timestamp_with_time_zone_null(EntitlementOverrides::Until))
                    .col(timestamp_with_time_zone(EntitlementOverrides::CreatedAt))
                    .col(timestamp_with_time_zone(EntitlementOverrides::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(EntitlementOverrides::TenantId)
                            .col(EntitlementOverrides::CustomerId)
                            .col(EntitlementOverrides::FeatureId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EntitlementOverrides::Table, EntitlementOverrides::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(EntitlementOverrides::Table, EntitlementOverrides::FeatureId)
                            .to(Features::Table, Features::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerEntitlements::Table)
                    .col(string(CustomerEntitlements::TenantId))
                    .col(string(CustomerEntitlements::CustomerId))
                    .col(string(CustomerEntitlements::LookupKey))
                    .col(boolean(CustomerEntitlements::Allowed))
                    .col(big_integer_null(CustomerEntitlements::LimitValue))
                    .col(text(CustomerEntitlements::Source))
                    .col(timestamp_with_time_zone(CustomerEntitlements::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CustomerEntitlements::TenantId)
                            .col(CustomerEntitlements::CustomerId)
                            .col(CustomerEntitlements::LookupKey),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerEntitlements::Table, CustomerEntitlements::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CustomerEntitlements::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EntitlementOverrides::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EntitlementOverrides {
    Table,
    TenantId,
    CustomerId,
    FeatureId,
    LookupKey,
    Action,
    Until,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerEntitlements {
    Table,
    TenantId,
    CustomerId,
    LookupKey,
    Allowed,
    LimitValue,
    Source,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
}
