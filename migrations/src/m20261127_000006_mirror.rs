//! Mirror of customers, subscriptions, invoices, payments, refunds and disputes (issue #5).
//!
//! Every mirrored row keeps, besides its queryable columns, the newest
//! observation it was written from (`observed_at` plus the domain state as
//! JSON in `mirror_state`), so `billing::mirror::apply` can compare an
//! incoming observation against exactly what was stored. Rows are keyed by
//! tenant and Stripe id; customers and subscriptions also carry Billforge ids
//! (`cus_…`, `sub_…`) that other tables and the API refer to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(string(Customers::Id).primary_key())
                    .col(string(Customers::TenantId))
                    .col(string_null(Customers::StripeCustomerId))
                    .col(string_null(Customers::ExternalId))
                    .col(string_null(Customers::Email))
                    .col(string_null(Customers::Name))
                    .col(text_null(Customers::Metadata))
                    .col(boolean(Customers::Deleted).default(false))
                    .col(timestamp_with_time_zone_null(Customers::ObservedAt))
                    .col(text_null(Customers::MirrorState))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .col(timestamp_with_time_zone(Customers::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Customers::Table, Customers::TenantId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Customers::Table,
            [Customers::TenantId, Customers::StripeCustomerId],
            "uq_customers_tenant_stripe",
            true,
        )
        .await?;
        index(
            manager,
            Customers::Table,
            [Customers::TenantId, Customers::ExternalId],
            "uq_customers_tenant_external",
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(string(Subscriptions::Id).primary_key())
                    .col(string(Subscriptions::TenantId))
                    .col(string(Subscriptions::CustomerId))
                    .col(string(Subscriptions::StripeSubscriptionId))
                    .col(string(Subscriptions::Status))
                    .col(string_null(Subscriptions::PlanId))
                    .col(string_null(Subscriptions::PriceId))
                    .col(string_null(Subscriptions::StripePriceId))
                    .col(big_integer(Subscriptions::Quantity))
                    .col(timestamp_with_time_zone_null(
                        Subscriptions::CurrentPeriodStart,
                    ))
                    .col(timestamp_with_time_zone_null(
                        Subscriptions::CurrentPeriodEnd,
                    ))
                    .col(timestamp_with_time_zone_null(Subscriptions::TrialStart))
                    .col(timestamp_with_time_zone_null(Subscriptions::TrialEnd))
                    .col(boolean(Subscriptions::CancelAtPeriodEnd).default(false))
                    .col(timestamp_with_time_zone_null(Subscriptions::CancelAt))
                    .col(timestamp_with_time_zone_null(Subscriptions::CanceledAt))
                    .col(timestamp_with_time_zone_null(Subscriptions::EndedAt))
                    .col(string_null(Subscriptions::CancellationReason))
                    .col(timestamp_with_time_zone(Subscriptions::ObservedAt))
                    .col(text(Subscriptions::MirrorState))
                    .col(timestamp_with_time_zone(Subscriptions::CreatedAt))
                    .col(timestamp_with_time_zone(Subscriptions::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        Subscriptions::Table,
                        Subscriptions::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Subscriptions::Table, Subscriptions::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Subscriptions::Table,
            [Subscriptions::TenantId, Subscriptions::StripeSubscriptionId],
            "uq_subscriptions_tenant_stripe",
            true,
        )
        .await?;
        index(
            manager,
            Subscriptions::Table,
            [Subscriptions::TenantId, Subscriptions::CustomerId],
            "idx_subscriptions_tenant_customer",
            false,
        )
        .await?;
        index(
            manager,
            Subscriptions::Table,
            [Subscriptions::TenantId, Subscriptions::Status],
            "idx_subscriptions_tenant_status",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SubscriptionItems::Table)
                    .col(string(SubscriptionItems::TenantId))
                    .col(string(SubscriptionItems::StripeItemId))
                    .col(string(SubscriptionItems::SubscriptionId))
                    .col(string(SubscriptionItems::StripePriceId))
                    .col(string_null(SubscriptionItems::PriceId))
                    .col(string_null(SubscriptionItems::PlanId))
                    .col(big_integer(SubscriptionItems::Quantity))
                    .col(timestamp_with_time_zone(
                        SubscriptionItems::CurrentPeriodStart,
                    ))
                    .col(timestamp_with_time_zone(
                        SubscriptionItems::CurrentPeriodEnd,
                    ))
                    .primary_key(
                        Index::create()
                            .col(SubscriptionItems::TenantId)
                            .col(SubscriptionItems::StripeItemId),
                    )
                    .foreign_key(&mut tenant_fk(
                        SubscriptionItems::Table,
                        SubscriptionItems::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubscriptionItems::Table, SubscriptionItems::SubscriptionId)
                            .to(Subscriptions::Table, Subscriptions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            SubscriptionItems::Table,
            [
                SubscriptionItems::TenantId,
                SubscriptionItems::SubscriptionId,
            ],
            "idx_subscription_items_subscription",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(string(Invoices::TenantId))
                    .col(string(Invoices::StripeInvoiceId))
                    .col(string(Invoices::CustomerId))
                    .col(string_null(Invoices::SubscriptionId))
                    .col(string_null(Invoices::StripeSubscriptionId))
                    .col(string(Invoices::Status))
                    .col(string(Invoices::Currency))
                    .col(big_integer(Invoices::AmountDue))
                    .col(big_integer(Invoices::AmountPaid))
                    .col(big_integer(Invoices::AmountRemaining))
                    .col(integer(Invoices::AttemptCount))
                    .col(timestamp_with_time_zone_null(Invoices::NextPaymentAttempt))
                    .col(text_null(Invoices::HostedInvoiceUrl))
                    .col(string_null(Invoices::Number))
                    .col(timestamp_with_time_zone_null(Invoices::PeriodStart))
                    .col(timestamp_with_time_zone_null(Invoices::PeriodEnd))
                    .col(timestamp_with_time_zone(Invoices::ObservedAt))
                    .col(text(Invoices::MirrorState))
                    .col(timestamp_with_time_zone(Invoices::CreatedAt))
                    .col(timestamp_with_time_zone(Invoices::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Invoices::TenantId)
                            .col(Invoices::StripeInvoiceId),
                    )
                    .foreign_key(&mut tenant_fk(Invoices::Table, Invoices::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invoices::Table, Invoices::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Invoices::Table,
            [Invoices::TenantId, Invoices::CustomerId],
            "idx_invoices_tenant_customer",
            false,
        )
        .await?;
        index(
            manager,
            Invoices::Table,
            [Invoices::TenantId, Invoices::Status],
            "idx_invoices_tenant_status",
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(string(Payments::TenantId))
                    .col(string(Payments::StripePaymentIntentId))
                    .col(string_null(Payments::CustomerId))
                    .col(string(Payments::Status))
                    .col(string(Payments::Currency))
                    .col(big_integer(Payments::Amount))
                    .col(big_integer(Payments::AmountReceived))
                    .col(string_null(Payments::LastErrorCode))
                    .col(timestamp_with_time_zone(Payments::ObservedAt))
                    .col(text(Payments::MirrorState))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Payments::TenantId)
                            .col(Payments::StripePaymentIntentId),
                    )
                    .foreign_key(&mut tenant_fk(Payments::Table, Payments::TenantId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(string(Refunds::TenantId))
                    .col(string(Refunds::StripeRefundId))
                    .col(string_null(Refunds::StripePaymentIntentId))
                    .col(string_null(Refunds::CustomerId))
                    .col(string(Refunds::Status))
                    .col(string(Refunds::Currency))
                    .col(big_integer(Refunds::Amount))
                    .col(string_null(Refunds::Reason))
                    .col(string_null(Refunds::FailureReason))
                    .col(timestamp_with_time_zone(Refunds::ObservedAt))
                    .col(text(Refunds::MirrorState))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .col(timestamp_with_time_zone(Refunds::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Refunds::TenantId)
                            .col(Refunds::StripeRefundId),
                    )
                    .foreign_key(&mut tenant_fk(Refunds::Table, Refunds::TenantId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .col(string(Disputes::TenantId))
                    .col(string(Disputes::StripeDisputeId))
                    .col(string_null(Disputes::StripePaymentIntentId))
                    .col(string_null(Disputes::CustomerId))
                    .col(string(Disputes::Status))
                    .col(string(Disputes::Currency))
                    .col(big_integer(Disputes::Amount))
                    .col(string(Disputes::Reason))
                    .col(timestamp_with_time_zone_null(Disputes::EvidenceDueBy))
                    .col(timestamp_with_time_zone(Disputes::ObservedAt))
                    .col(text(Disputes::MirrorState))
                    .col(timestamp_with_time_zone(Disputes::CreatedAt))
                    .col(timestamp_with_time_zone(Disputes::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Disputes::TenantId)
                            .col(Disputes::StripeDisputeId),
                    )
                    .foreign_key(&mut tenant_fk(Disputes::Table, Disputes::TenantId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Disputes::Table.into_iden(),
            Refunds::Table.into_iden(),
            Payments::Table.into_iden(),
            Invoices::Table.into_iden(),
            SubscriptionItems::Table.into_iden(),
            Subscriptions::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A `tenant_id` foreign key: deleting a tenant deletes its mirror.
fn tenant_fk(table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// An index over `columns`, unique when `unique`.
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
enum Customers {
    Table,
    Id,
    TenantId,
    StripeCustomerId,
    ExternalId,
    Email,
    Name,
    Metadata,
    Deleted,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    TenantId,
    CustomerId,
    StripeSubscriptionId,
    Status,
    PlanId,
    PriceId,
    StripePriceId,
    Quantity,
    CurrentPeriodStart,
    CurrentPeriodEnd,
    TrialStart,
    TrialEnd,
    CancelAtPeriodEnd,
    CancelAt,
    CanceledAt,
    EndedAt,
    CancellationReason,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SubscriptionItems {
    Table,
    TenantId,
    StripeItemId,
    SubscriptionId,
    StripePriceId,
    PriceId,
    PlanId,
    Quantity,
    CurrentPeriodStart,
    CurrentPeriodEnd,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    StripeInvoiceId,
    CustomerId,
    SubscriptionId,
    StripeSubscriptionId,
    Status,
    Currency,
    AmountDue,
    AmountPaid,
    AmountRemaining,
    AttemptCount,
    NextPaymentAttempt,
    HostedInvoiceUrl,
    Number,
    PeriodStart,
    PeriodEnd,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    TenantId,
    StripePaymentIntentId,
    CustomerId,
    Status,
    Currency,
    Amount,
    AmountReceived,
    LastErrorCode,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    TenantId,
    StripeRefundId,
    StripePaymentIntentId,
    CustomerId,
    Status,
    Currency,
    Amount,
    Reason,
    FailureReason,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Disputes {
    Table,
    TenantId,
    StripeDisputeId,
    StripePaymentIntentId,
    CustomerId,
    Status,
    Currency,
    Amount,
    Reason,
    EvidenceDueBy,
    ObservedAt,
    MirrorState,
    CreatedAt,
    UpdatedAt,
}
