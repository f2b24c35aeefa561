//! The webhook inbox: every verified Stripe event, stored before Stripe gets
//! its 2xx, then applied by a background job exactly once.
//!
//! The event id is the primary key, so a repeated delivery is one
//! insert-or-ignore and changes nothing. The raw body is kept as received:
//! it is what the signature covered, and what a later replay re-reads.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(string(WebhookEvents::Id).primary_key())
                    .col(string(WebhookEvents::Source))
                    .col(string_null(WebhookEvents::AccountId))
                    .col(string_null(WebhookEvents::TenantId))
                    .col(string(WebhookEvents::EventType))
                    .col(timestamp_with_time_zone(WebhookEvents::Created))
                    .col(text(WebhookEvents::Payload))
                    .col(string(WebhookEvents::Status))
                    .col(integer(WebhookEvents::Attempts).default(0))
                    .col(text_null(WebhookEvents::LastError))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(WebhookEvents::AppliedAt))
                    .col(timestamp_with_time_zone(WebhookEvents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The admin's views: dead or waiting events, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_status")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::Status)
                    .col(WebhookEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        // Events kept for an account no tenant had yet are found again by it.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_account")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::AccountId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    Source,
    AccountId,
    TenantId,
    EventType,
    Created,
    Payload,
    Status,
    Attempts,
    LastError,
    ReceivedAt,
    AppliedAt,
    UpdatedAt,
}
