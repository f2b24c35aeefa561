//! One-time prices (issue #9): a price without a billing interval, Stripe's
//! `type=one_time`, so `prices.interval_unit` and `interval_count` become
//! nullable (both null exactly for a one-time price).
//!
//! SQLite cannot drop a NOT NULL constraint in place, so the table is
//! rebuilt (create, copy, drop, rename; the documented recipe), on both
//! databases alike so the same statements run everywhere. Nothing
//! references `prices` by foreign key, so dropping the old table is safe.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_prices(manager, Interval::Optional).await
    }

    /// Back to recurring-only prices: one-time prices are dropped.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild_prices(manager, Interval::Required).await
    }
}

/// Whether a price must have a billing interval.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interval {
    Required,
    Optional,
}

/// Recreates `prices` with the interval columns `interval`, keeping every
/// row that fits and the table's index.
async fn rebuild_prices(manager: &SchemaManager<'_>, interval: Interval) -> Result<(), DbErr> {
    let (unit, count) = match interval {
        Interval::Required => (string(Prices::IntervalUnit), integer(Prices::IntervalCount)),
        Interval::Optional => (
            string_null(Prices::IntervalUnit),
            integer_null(Prices::IntervalCount),
        ),
    };
    manager
        .create_table(
            Table::create()
                .table(Rebuilt::Table)
                .col(string(Prices::Id).primary_key())
                .col(string(Prices::TenantId))
                .col(string(Prices::PlanId))
                .col(text(Prices::Model))
                .col(string(Prices::Currency))
                .col(unit)
                .col(count)
                .col(boolean(Prices::Archived).default(false))
                .col(string_null(Prices::LookupKey))
                .col(string_null(Prices::StripePriceId))
                .col(boolean(Prices::StripeActive).default(true))
                .col(timestamp_with_time_zone(Prices::CreatedAt))
                .col(timestamp_with_time_zone(Prices::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Rebuilt::Table, Prices::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Rebuilt::Table, Prices::PlanId)
                        .to(Plans::Table, Plans::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    let columns = [
        Prices::Id,
        Prices::TenantId,
        Prices::PlanId,
        Prices::Model,
        Prices::Currency,
        Prices::IntervalUnit,
        Prices::IntervalCount,
        Prices::Archived,
        Prices::LookupKey,
        Prices::StripePriceId,
        Prices::StripeActive,
        Prices::CreatedAt,
        Prices::UpdatedAt,
    ];
    let mut rows = Query::select()
        .columns(columns)
        .from(Prices::Table)
        .to_owned();
    if interval == Interval::Required {
        rows.and_where(Expr::col(Prices::IntervalUnit).is_not_null());
    }
    let copy = Query::insert()
        .into_table(Rebuilt::Table)
        .columns(columns)
        .select_from(rows)
        .map_err(|err| DbErr::Migration(format!("copying prices: {err}")))?
        .to_owned();
    manager.exec_stmt(copy).await?;
    manager
        .drop_table(Table::drop().table(Prices::Table).to_owned())
        .await?;
    manager
        .rename_table(
            Table::rename()
                .table(Rebuilt::Table, Prices::Table)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_prices_tenant_plan")
                .table(Prices::Table)
                .col(Prices::TenantId)
                .col(Prices::PlanId)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
}

/// The new `prices` while it is being filled.
#[derive(DeriveIden)]
enum Rebuilt {
    #[sea_orm(iden = "prices_rebuilt")]
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
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
