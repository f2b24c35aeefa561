//! Dunning policies, runs and steps (issue #6).
//!
//! - `dunning_policies`: one row per tenant that changed the default policy;
//!   the validated `billing::dunning::DunningPolicySpec` as JSON (the domain
//!   type is the schema of record, so a new policy field needs no migration).
//! - `dunning_runs`: one per chased invoice (unique per tenant), holding the
//!   `DunningState` and the policy as it was when the run started, so a policy
//!   edit never reshuffles a schedule already promised to a customer.
//! - `dunning_steps`: every step taken, visible to the merchant; `step_key`
//!   is unique per run, so no step is recorded (or acted on) twice; `seq`
//!   keeps the steps in the order the engine took them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DunningPolicies::Table)
                    .col(string(DunningPolicies::TenantId).primary_key())
                    .col(text(DunningPolicies::Spec))
                    .col(boolean(DunningPolicies::StripeRetries))
                    .col(timestamp_with_time_zone(DunningPolicies::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DunningPolicies::Table, DunningPolicies::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DunningRuns::Table)
                    .col(string(DunningRuns::Id).primary_key())
                    .col(string(DunningRuns::TenantId))
                    .col(string(DunningRuns::StripeInvoiceId))
                    .col(string_null(DunningRuns::StripeSubscriptionId))
                    .col(string(DunningRuns::StripeCustomerId))
                    .col(string(DunningRuns::CustomerId))
                    .col(string(DunningRuns::Status))
                    .col(text(DunningRuns::State))
                    .col(text(DunningRuns::Policy))
                    .col(text(DunningRuns::Invoice))
                    .col(timestamp_with_time_zone(DunningRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(DunningRuns::NextActionAt))
                    .col(timestamp_with_time_zone(DunningRuns::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DunningRuns::Table, DunningRuns::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dunning_runs_invoice")
                    .table(DunningRuns::Table)
                    .col(DunningRuns::TenantId)
                    .col(DunningRuns::StripeInvoiceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Standings by subscription (entitlements) and the run list.
        manager
            .create_index(
                Index::create()
                    .name("idx_dunning_runs_subscription")
                    .table(DunningRuns::Table)
                    .col(DunningRuns::TenantId)
                    .col(DunningRuns::StripeSubscriptionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DunningSteps::Table)
                    .col(string(DunningSteps::Id).primary_key())
                    .col(string(DunningSteps::TenantId))
                    .col(string(DunningSteps::RunId))
                    .col(string(DunningSteps::StepKey))
                    .col(integer(DunningSteps::Seq))
                    .col(string(DunningSteps::Kind))
                    .col(integer(DunningSteps::Attempt))
                    .col(timestamp_with_time_zone(DunningSteps::At))
                    .col(string(DunningSteps::Outcome))
                    .col(text_null(DunningSteps::Detail))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DunningSteps::Table, DunningSteps::RunId)
                            .to(DunningRuns::Table, DunningRuns::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dunning_steps_key")
                    .table(DunningSteps::Table)
                    .col(DunningSteps::RunId)
                    .col(DunningSteps::StepKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DunningSteps::Table.into_iden(),
            DunningRuns::Table.into_iden(),
            DunningPolicies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum DunningPolicies {
    Table,
    TenantId,
    Spec,
    StripeRetries,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DunningRuns {
    Table,
    Id,
    TenantId,
    StripeInvoiceId,
    StripeSubscriptionId,
    StripeCustomerId,
    CustomerId,
    Status,
    State,
    Policy,
    Invoice,
    StartedAt,
    NextActionAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DunningSteps {
    Table,
    Id,
    TenantId,
    RunId,
    StepKey,
    Seq,
    Kind,
    Attempt,
    At,
    Outcome,
    Detail,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}
