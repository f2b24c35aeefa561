//! Invoices by their Stripe subscription: a subscription mirrored after its
//! invoices (webhooks arrive in any order) links them to itself, and
//! `GET /v1/invoices?subscription=…` lists them, without a table scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::StripeSubscriptionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Invoices::Table).to_owned())
            .await
    }
}

/// The index's name.
const INDEX: &str = "idx_invoices_tenant_stripe_subscription";

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    StripeSubscriptionId,
}
