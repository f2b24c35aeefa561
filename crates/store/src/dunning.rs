//! Dunning policies, runs and steps (issue #6).
//!
//! The engine (`platform::dunning`) changes a run only inside a
//! [`DunningTxn`]: it locks the run's row first (a no-op `UPDATE`, which
//! takes PostgreSQL's row lock and SQLite's write lock alike, so two
//! workers handling the same invoice queue up instead of both acting),
//! reads it, decides, and writes the new state, its steps, their
//! `dunning.step` domain events and the next jobs in the same transaction.

use billing::events::DomainEvent;
use billing::ids::{DunningRunId, DunningStepId, JobId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::domain_events::{NewDomainEvent, insert_domain_event};
use crate::entities::dunning::{policy, run, step};
use crate::jobs::insert_job;
use crate::{AuditContext, NewJob, StoreResult, TenantScope, audit};

pub use policy::Model as DunningPolicyRecord;
pub use run::Model as DunningRun;
pub use step::Model as DunningStep;

crate::scope::tenant_owned!(policy, run, step);

/// A run as the engine first writes it (its state is set by the first
/// [`RunChange`]).
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The chased invoice.
    pub stripe_invoice_id: String,
    /// The subscription it bills.
    pub stripe_subscription_id: Option<String>,
    /// The Stripe customer.
    pub stripe_customer_id: String,
    /// Billforge's customer.
    pub customer_id: String,
    /// The policy followed, JSON.
    pub policy: String,
    /// The invoice facts, JSON.
    pub invoice: String,
    /// The first failure.
    pub started_at: DateTime<Utc>,
}

/// A step to record, with the domain event announcing it (if any).
#[derive(Debug, Clone)]
pub struct NewStep {
    /// Unique within the run; a step whose key exists is skipped whole
    /// (row and event), which is what makes replays harmless.
    pub key: String,
    /// What kind of step.
    pub kind: String,
    /// 1-based attempt or reminder number.
    pub attempt: i32,
    /// How it went.
    pub outcome: String,
    /// Detail for the merchant.
    pub detail: Option<String>,
    /// The `dunning.step` event to record with it (cause = run + key).
    pub event: Option<DomainEvent>,
}

/// A job the engine schedules (dedupe key = run + step, so never twice).
#[derive(Debug, Clone)]
pub struct ScheduledJob {
    /// Handler kind.
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// Unique key.
    pub dedupe_key: String,
    /// When it is due.
    pub run_at: DateTime<Utc>,
}

/// Everything one transition writes.
#[derive(Debug, Clone, Default)]
pub struct RunChange {
    /// The new `DunningState`, JSON, and its status word; `None` keeps them.
    pub state: Option<(String, String)>,
    /// When the engine acts next.
    pub next_action_at: Option<DateTime<Utc>>,
    /// Fresher invoice facts, JSON.
    pub invoice: Option<String>,
    /// Steps to record.
    pub steps: Vec<NewStep>,
    /// Jobs to schedule.
    pub jobs: Vec<ScheduledJob>,
}

/// Attempts of a dunning job before it is given up (Stripe outages).
const DUNNING_JOB_ATTEMPTS: i32 = 10;

/// An open transaction on one tenant's dunning rows.
pub struct DunningTxn {
    /// The transaction.
    txn: DatabaseTransaction,
    /// Whose rows.
    tenant_id: TenantId,
    /// The clock's time, for rows and jobs.
    now: DateTime<Utc>,
}

impl TenantScope<'_> {
    /// Starts a transaction on this tenant's dunning rows.
    pub async fn begin_dunning(&self, now: DateTime<Utc>) -> StoreResult<DunningTxn> {
        Ok(DunningTxn {
            txn: crate::begin_write(self.db).await?,
            tenant_id: self.tenant_id.clone(),
            now,
        })
    }

    /// The tenant's policy row, if it set one.
    pub async fn dunning_policy(&self) -> StoreResult<Option<DunningPolicyRecord>> {
        Ok(self.find::<policy::Entity>().one(self.db).await?)
    }

    /// Stores the tenant's (validated) policy, audited.
    pub async fn save_dunning_policy(
        &self,
        spec_json: String,
        stripe_retries: bool,
        ctx: &AuditContext,
    ) -> StoreResult<DunningPolicyRecord> {
        let txn = crate::begin_write(self.db).await?;
        policy::Entity::insert(policy::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            spec: Set(spec_json),
            stripe_retries: Set(stripe_retries),
            updated_at: Set(ctx.now),
        })
        .on_conflict(
            OnConflict::column(policy::Column::TenantId)
                .update_columns([
                    policy::Column::Spec,
                    policy::Column::StripeRetries,
                    policy::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "dunning_policy.updated",
            "dunning_policy",
            self.tenant_id.as_str(),
        )
        .await?;
        let saved = self
            .find::<policy::Entity>()
            .one(&txn)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("dunning policy".to_owned()))?;
        txn.commit().await?;
        Ok(saved)
    }

    /// The tenant's runs, newest first, at most `limit`.
    pub async fn dunning_runs(&self, limit: u64) -> StoreResult<Vec<DunningRun>> {
        Ok(self
            .find::<run::Entity>()
            .order_by_desc(run::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?)
    }

    /// One run; another tenant's is `None`.
    pub async fn dunning_run(&self, id: &DunningRunId) -> StoreResult<Option<DunningRun>> {
        Ok(self
            .find::<run::Entity>()
            .filter(run::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The steps of `runs`, in recording order.
    pub async fn dunning_steps(&self, runs: &[String]) -> StoreResult<Vec<DunningStep>> {
        Ok(self
            .find::<step::Entity>()
            .filter(step::Column::RunId.is_in(runs.iter().map(String::as_str)))
            .order_by_asc(step::Column::RunId)
            .order_by_asc(step::Column::Seq)
            .all(self.db)
            .await?)
    }

    /// The latest run of each of `subscriptions`.
    pub async fn latest_dunning_runs(
        &self,
        subscriptions: &[String],
    ) -> StoreResult<Vec<DunningRun>> {
        let runs = self
            .find::<run::Entity>()
            .filter(
                run::Column::StripeSubscriptionId.is_in(subscriptions.iter().map(String::as_str)),
            )
            .order_by_asc(run::Column::Id)
            .all(self.db)
            .await?;
        let mut latest = std::collections::HashMap::new();
        for run in runs {
            latest.insert(run.stripe_subscription_id.clone(), run);
        }
        Ok(latest.into_values().collect())
    }
}

impl DunningTxn {
    /// Creates the run of `new.stripe_invoice_id` unless it exists.
    pub async fn insert_run_if_absent(&self, new: NewRun) -> StoreResult<()> {
        run::Entity::insert(run::ActiveModel {
            id: Set(DunningRunId::generate().to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_invoice_id: Set(new.stripe_invoice_id),
            stripe_subscription_id: Set(new.stripe_subscription_id),
            stripe_customer_id: Set(new.stripe_customer_id),
            customer_id: Set(new.customer_id),
            status: Set("idle".to_owned()),
            state: Set(r#"{"state":"idle"}"#.to_owned()),
            policy: Set(new.policy),
            invoice: Set(new.invoice),
            started_at: Set(new.started_at),
            next_action_at: Set(None),
            updated_at: Set(self.now),
        })
        .on_conflict(
            OnConflict::columns([run::Column::TenantId, run::Column::StripeInvoiceId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    /// Locks and reads the run matching `column = value` (the invoice id or
    /// the run id); `None` if there is none.
    async fn lock_by(&self, column: run::Column, value: &str) -> StoreResult<Option<DunningRun>> {
        let scoped = || {
            Expr::col(run::Column::TenantId)
                .eq(self.tenant_id.as_str())
                .and(Expr::col(column).eq(value))
        };
        run::Entity::update_many()
            .col_expr(run::Column::UpdatedAt, Expr::col(run::Column::UpdatedAt))
            .filter(scoped())
            .exec(&self.txn)
            .await?;
        Ok(run::Entity::find().filter(scoped()).one(&self.txn).await?)
    }

    /// Locks and reads the run of a Stripe invoice.
    pub async fn lock_run_of_invoice(&self, invoice: &str) -> StoreResult<Option<DunningRun>> {
        self.lock_by(run::Column::StripeInvoiceId, invoice).await
    }

    /// Locks and reads a run by id.
    pub async fn lock_run(&self, id: &str) -> StoreResult<Option<DunningRun>> {
        self.lock_by(run::Column::Id, id).await
    }

    /// Whether `run` has a step with `key`.
    pub async fn has_step(&self, run: &DunningRun, key: &str) -> StoreResult<bool> {
        Ok(step::Entity::find()
            .filter(step::Column::RunId.eq(run.id.as_str()))
            .filter(step::Column::StepKey.eq(key))
            .one(&self.txn)
            .await?
            .is_some())
    }

    /// Writes `change` to `run`. Returns how many of its steps were new.
    pub async fn apply(&self, run: &DunningRun, change: RunChange) -> StoreResult<usize> {
        let mut update = run::Entity::update_many()
            .col_expr(
                run::Column::NextActionAt,
                Expr::value(change.next_action_at),
            )
            .col_expr(run::Column::UpdatedAt, Expr::value(self.now))
            .filter(run::Column::Id.eq(run.id.as_str()));
        if let Some((state, status)) = change.state {
            update = update
                .col_expr(run::Column::State, Expr::value(state))
                .col_expr(run::Column::Status, Expr::value(status));
        }
        if let Some(invoice) = change.invoice {
            update = update.col_expr(run::Column::Invoice, Expr::value(invoice));
        }
        update.exec(&self.txn).await?;
        let mut recorded = 0;
        let mut seq = i32::try_from(
            step::Entity::find()
                .filter(step::Column::RunId.eq(run.id.as_str()))
                .count(&self.txn)
                .await?,
        )
        .unwrap_or(i32::MAX);
        for new in change.steps {
            let inserted = step::Entity::insert(step::ActiveModel {
                id: Set(DunningStepId::generate().to_string()),
                tenant_id: Set(self.tenant_id.to_string()),
                run_id: Set(run.id.clone()),
                step_key: Set(new.key.clone()),
                seq: Set(seq),
                kind: Set(new.kind),
                attempt: Set(new.attempt),
                at: Set(self.now),
                outcome: Set(new.outcome),
                detail: Set(new.detail),
            })
            .on_conflict(
                OnConflict::columns([step::Column::RunId, step::Column::StepKey])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await?;
            if inserted == 0 {
                continue;
            }
            recorded += 1;
            seq = seq.saturating_add(1);
            if let Some(event) = new.event {
                insert_domain_event(
                    &self.txn,
                    NewDomainEvent {
                        tenant_id: self.tenant_id.clone(),
                        cause: format!("dunning:{}:{}", run.id, new.key),
                        event,
                        occurred_at: self.now,
                    },
                    self.now,
                )
                .await?;
            }
        }
        for job in change.jobs {
            insert_job(
                &self.txn,
                &JobId::generate(),
                NewJob {
                    kind: job.kind,
                    payload: job.payload,
                    tenant_id: Some(self.tenant_id.clone()),
                    dedupe_key: Some(job.dedupe_key),
                    run_at: job.run_at,
                    max_attempts: DUNNING_JOB_ATTEMPTS,
                },
                self.now,
            )
            .await?;
        }
        Ok(recorded)
    }

    /// Commits everything written.
    pub async fn commit(self) -> StoreResult<()> {
        self.txn.commit().await?;
        Ok(())
    }
}
