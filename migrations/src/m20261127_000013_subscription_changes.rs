//! Subscription change locks (issue #10): at most one change (price,
//! quantity, cancellation, resumption) of a subscription is in flight at a
//! time, across every process sharing the database.
//!
//! A row is the holder's claim: taken by an insert (or, once `locked_until`
//! has passed, by a conditional update: its holder died), removed by the
//! holder when its change is mirrored. No transaction is held while Stripe
//! is called, so the lock is a row rather than a row lock.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SubscriptionChanges::Table)
                    .col(string(SubscriptionChanges::SubscriptionId).primary_key())
                    .col(string(SubscriptionChanges::TenantId))
                    .col(string(SubscriptionChanges::Token))
                    .col(timestamp_with_time_zone(SubscriptionChanges::LockedUntil))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SubscriptionChanges::Table, SubscriptionChanges::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                SubscriptionChanges::Table,
                                SubscriptionChanges::SubscriptionId,
                            )
                            .to(Subscriptions::Table, Subscriptions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SubscriptionChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SubscriptionChanges {
    Table,
    SubscriptionId,
    TenantId,
    Token,
    LockedUntil,
}
