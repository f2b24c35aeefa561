//! API idempotency keys (issue #9): a POST's response, stored under the
//! merchant's `Idempotency-Key` so a retried request is answered with the
//! first response instead of being executed twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiIdempotencyKeys::Table)
                    .col(string(ApiIdempotencyKeys::TenantId))
                    .col(string(ApiIdempotencyKeys::IdemKey))
                    .col(string(ApiIdempotencyKeys::Fingerprint))
                    .col(integer_null(ApiIdempotencyKeys::ResponseStatus))
                    .col(text_null(ApiIdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(ApiIdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        ApiIdempotencyKeys::CompletedAt,
                    ))
                    // One record per tenant and key: the primary key is what
                    // makes a concurrent duplicate lose the race instead of
                    // running twice.
                    .primary_key(
                        Index::create()
                            .col(ApiIdempotencyKeys::TenantId)
                            .col(ApiIdempotencyKeys::IdemKey),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiIdempotencyKeys::Table, ApiIdempotencyKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Pruning expired records scans by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_api_idempotency_keys_created")
                    .table(ApiIdempotencyKeys::Table)
                    .col(ApiIdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiIdempotencyKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ApiIdempotencyKeys {
    Table,
    TenantId,
    IdemKey,
    Fingerprint,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
