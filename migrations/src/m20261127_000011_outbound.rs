//! Outbound webhook endpoints, deliveries and their log (issue #9).
//!
//! A delivery is unique on (endpoint, event), so a retried dispatch of the
//! same domain event never sends it twice to one endpoint. Deliveries are
//! ordered per (endpoint, customer) by `(ordering_at, id)`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(string(WebhookEndpoints::Id).primary_key())
                    .col(string(WebhookEndpoints::TenantId))
                    .col(text(WebhookEndpoints::Url))
                    .col(string_null(WebhookEndpoints::Description))
                    .col(text(WebhookEndpoints::EventTypes))
                    .col(string(WebhookEndpoints::Status))
                    .col(text_null(WebhookEndpoints::DisabledReason))
                    .col(string(WebhookEndpoints::Secret))
                    .col(string_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretExpiresAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEndpoints::Table, WebhookEndpoints::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_tenant")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::TenantId)
                    .col(WebhookEndpoints::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(string(WebhookDeliveries::Id).primary_key())
                    .col(string(WebhookDeliveries::TenantId))
                    .col(string(WebhookDeliveries::EndpointId))
                    .col(string(WebhookDeliveries::EventId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(string_null(WebhookDeliveries::CustomerId))
                    .col(timestamp_with_time_zone(WebhookDeliveries::OrderingAt))
                    .col(text(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone(
                        WebhookDeliveries::RetryWindowStart,
                    ))
                    .col(integer_null(WebhookDeliveries::LastResponseStatus))
                    .col(text_null(WebhookDeliveries::LastResponseExcerpt))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One delivery per event per endpoint: a re-dispatched event adds nothing.
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_deliveries_endpoint_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Ordering: the earlier unfinished deliveries of one endpoint and customer.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_order")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::CustomerId)
                    .col(WebhookDeliveries::OrderingAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveryAttempts::Table)
                    .col(string(WebhookDeliveryAttempts::Id).primary_key())
                    .col(string(WebhookDeliveryAttempts::TenantId))
                    .col(string(WebhookDeliveryAttempts::DeliveryId))
                    .col(integer_null(WebhookDeliveryAttempts::ResponseStatus))
                    .col(text_null(WebhookDeliveryAttempts::ResponseExcerpt))
                    .col(text_null(WebhookDeliveryAttempts::Error))
                    .col(big_integer(WebhookDeliveryAttempts::DurationMs))
                    .col(timestamp_with_time_zone(
                        WebhookDeliveryAttempts::AttemptedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                WebhookDeliveryAttempts::Table,
                                WebhookDeliveryAttempts::DeliveryId,
                            )
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_attempts_delivery")
                    .table(WebhookDeliveryAttempts::Table)
                    .col(WebhookDeliveryAttempts::DeliveryId)
                    .col(WebhookDeliveryAttempts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDeliveryAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Url,
    Description,
    EventTypes,
    Status,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    EndpointId,
    EventId,
    EventType,
    CustomerId,
    OrderingAt,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    RetryWindowStart,
    LastResponseStatus,
    LastResponseExcerpt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveryAttempts {
    Table,
    Id,
    TenantId,
    DeliveryId,
    ResponseStatus,
    ResponseExcerpt,
    Error,
    DurationMs,
    AttemptedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
