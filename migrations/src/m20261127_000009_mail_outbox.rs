//! Mail outbox and per-tenant mail settings (issue #7).
//!
//! `mail_outbox` holds every email exactly as rendered when it was queued (so
//! a retry sends the same bytes and admins see what was sent). `dedupe_key`
//! is unique: it names the cause (domain event id), the message kind and the
//! recipient, so a duplicate event, a retried dispatch or two racing workers
//! insert one row at most. `tenant_mail_settings` lists the customer-facing
//! kinds a merchant switched off; a kind not listed is on.
//! `tenant_mail_branding` holds what only mail needs of a merchant: the
//! postal address of the footer (anti-spam laws ask for one) and the page
//! where its customers manage their account, linked from customer mail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
                    .col(string(MailOutbox::Id).primary_key())
                    .col(string(MailOutbox::TenantId))
                    .col(string_null(MailOutbox::DomainEventId))
                    .col(string(MailOutbox::Kind))
                    .col(string(MailOutbox::Recipient))
                    .col(string_null(MailOutbox::RecipientName))
                    .col(string(MailOutbox::FromName))
                    .col(string(MailOutbox::ReplyTo))
                    .col(string_uniq(MailOutbox::DedupeKey))
                    .col(text(MailOutbox::Subject))
                    .col(text(MailOutbox::Html))
                    .col(text(MailOutbox::Text))
                    .col(string(MailOutbox::Status))
                    .col(integer(MailOutbox::Attempts).default(0))
                    .col(text_null(MailOutbox::LastError))
                    .col(timestamp_with_time_zone_null(MailOutbox::NextAttemptAt))
                    .col(string_null(MailOutbox::MessageId))
                    .col(timestamp_with_time_zone(MailOutbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(MailOutbox::SentAt))
                    .col(timestamp_with_time_zone(MailOutbox::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MailOutbox::Table, MailOutbox::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The admin console's list, newest first (ids are ULIDs).
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_tenant")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::TenantId)
                    .col(MailOutbox::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantMailSettings::Table)
                    .col(string(TenantMailSettings::TenantId))
                    .col(string(TenantMailSettings::Kind))
                    .col(timestamp_with_time_zone(TenantMailSettings::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TenantMailSettings::TenantId)
                            .col(TenantMailSettings::Kind),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantMailSettings::Table, TenantMailSettings::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantMailBranding::Table)
                    .col(string(TenantMailBranding::TenantId).primary_key())
                    .col(text(TenantMailBranding::FooterAddress))
                    .col(string_null(TenantMailBranding::AccountUrl))
                    .col(timestamp_with_time_zone(TenantMailBranding::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantMailBranding::Table, TenantMailBranding::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantMailBranding::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TenantMailSettings::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    TenantId,
    DomainEventId,
    Kind,
    Recipient,
    RecipientName,
    FromName,
    ReplyTo,
    DedupeKey,
    Subject,
    Html,
    Text,
    Status,
    Attempts,
    LastError,
    NextAttemptAt,
    MessageId,
    CreatedAt,
    SentAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantMailSettings {
    Table,
    TenantId,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantMailBranding {
    Table,
    TenantId,
    FooterAddress,
    AccountUrl,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
