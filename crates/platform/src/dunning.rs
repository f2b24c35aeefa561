//! The dunning engine (issue #6): starts on a failed invoice payment, retries
//! on the tenant's schedule, stops when paid, takes the final action.
//!
//! `billing::dunning::DunningState::on` decides; this module carries its
//! actions out. Each decision is made under the run's row lock and written
//! in one transaction with its steps, their `dunning.step` domain events and
//! the jobs it schedules (dedupe key = run + step), so a replayed domain
//! event, a job that runs twice or two workers racing change nothing twice.
//! Stripe calls (the retry's `pay`, the final action) happen between two
//! such transactions, with idempotency keys derived from run + step; whether
//! a call is still owed is derived from the state and the recorded steps,
//! so a crash between the two is repaired by the job's own retry.

use std::collections::{BTreeSet, HashMap};

use billing::dunning::{
    Action, DunningEvent, DunningPolicy, DunningPolicySpec, DunningState, FinalAction,
    GraceEntitlements, ReminderStep, TimelineStep,
};
use billing::entitlements::Standing;
use billing::events::{DomainEvent, DunningStepFacts, InvoiceFacts};
use billing::ids::{PlanId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::dunning::{
    DunningRun, DunningStep, DunningTxn, NewRun, NewStep, RunChange, ScheduledJob,
};
use store::{AuditContext, Job};
use stripe::{
    ApiErrorKind, CancelSubscription, InvoiceStatus, PayInvoice, ProrationBehavior, RequestOptions,
    SubscriptionItemParams, UpdateSubscription,
};

use crate::domain_events::RecordedEvent;
use crate::jobs::{JobError, JobFuture, JobHandlers};
use crate::{Platform, PlatformError, PlatformResult};

/// The job that runs one of Billforge's payment retries.
pub const RETRY_JOB: &str = "dunning.retry";
/// The job that ends the grace period and takes the final action.
pub const GRACE_JOB: &str = "dunning.grace_end";

/// Payload of both dunning jobs.
#[derive(Debug, Serialize, Deserialize)]
struct StepJob {
    /// The run (`dun_…`).
    run_id: String,
    /// The retry's number; 0 for the grace end.
    number: u8,
}

/// Registers the dunning jobs.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        RETRY_JOB,
        std::sync::Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_dunning_job(&job, true).await })
        }),
    );
    handlers.register(
        GRACE_JOB,
        std::sync::Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_dunning_job(&job, false).await })
        }),
    );
}

/// The policy of a tenant that has not set one: three retries in the first
/// week, reminders after the first failure and the last retry, full access
/// for 14 days, then cancel. Stripe's own retries stay on.
pub fn default_policy() -> DunningPolicy {
    DunningPolicy::try_from(DunningPolicySpec {
        retry_days: vec![3, 5, 7],
        grace_days: 14,
        grace_entitlements: GraceEntitlements::Full,
        reminders: BTreeSet::from([ReminderStep::FirstFailure, ReminderStep::Retry(3)]),
        final_action: FinalAction::Cancel,
        stripe_retries: true,
    })
    .expect("the default dunning policy is valid")
}

/// A run with its decoded state and every step, as the merchant sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DunningRunView {
    /// The stored run.
    pub run: DunningRun,
    /// Its state, decoded.
    pub state: DunningState,
    /// Its steps, in order.
    pub steps: Vec<DunningStep>,
}

/// Bad stored JSON is a bug, not a reason to retry.
fn decode<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, JobError> {
    serde_json::from_str(json).map_err(|err| JobError::Permanent(format!("stored {what}: {err}")))
}

fn encode(value: &impl Serialize) -> Result<String, JobError> {
    serde_json::to_string(value).map_err(|err| JobError::Permanent(format!("encoding: {err}")))
}

fn retryable(err: impl std::fmt::Display) -> JobError {
    JobError::Retry(err.to_string())
}

/// `chasing`, `recovered`, `finalized` or `idle`.
fn status_word(state: &DunningState) -> &'static str {
    match state {
        DunningState::Idle => "idle",
        DunningState::Chasing { .. } => "chasing",
        DunningState::Recovered { .. } => "recovered",
        DunningState::Finalized { .. } => "finalized",
    }
}

/// When the engine acts next in `state`.
fn next_action_at(policy: &DunningPolicy, state: &DunningState) -> Option<DateTime<Utc>> {
    let DunningState::Chasing {
        first_failed_at,
        retries_started,
        ..
    } = state
    else {
        return None;
    };
    policy
        .retry_at(*first_failed_at, retries_started + 1)
        .or_else(|| Some(policy.grace_ends_at(*first_failed_at)))
}

/// Whether one of the run's retries has started and not yet reported.
fn retry_in_flight(run: &DunningRun) -> Result<bool, JobError> {
    Ok(matches!(
        decode::<DunningState>("dunning state", &run.state)?,
        DunningState::Chasing { retries_started, retries_failed, .. } if retries_started > retries_failed
    ))
}

/// How a final action is named in step facts.
fn final_action_name(action: &FinalAction) -> String {
    match action {
        FinalAction::Cancel => "cancel".to_owned(),
        FinalAction::MarkUnpaidAndRevoke => "mark_unpaid".to_owned(),
        FinalAction::MoveToPlan(plan) => format!("downgrade:{plan}"),
    }
}

/// What one decision of the state machine means for a run, before writing.
struct Decision {
    /// The run.
    run: DunningRun,
    /// The policy it follows.
    policy: DunningPolicy,
    /// The invoice facts steps carry.
    invoice: InvoiceFacts,
    /// The state after the event.
    state: DunningState,
    /// What to write.
    change: RunChange,
}

impl Decision {
    /// Applies `event` to `run` and turns the local actions into steps and
    /// jobs; `cause` tells apart repeatable steps (authentication links).
    fn new(
        run: DunningRun,
        invoice: Option<InvoiceFacts>,
        event: DunningEvent,
        cause: &str,
    ) -> Result<Self, JobError> {
        let policy: DunningPolicy = decode("dunning policy", &run.policy)?;
        let state: DunningState = decode("dunning state", &run.state)?;
        let invoice_changed = invoice.is_some();
        let invoice = match invoice {
            Some(facts) => facts,
            None => decode("invoice facts", &run.invoice)?,
        };
        let (state, actions) = state.on(&policy, event);
        let mut decision = Self {
            change: RunChange {
                state: Some((encode(&state)?, status_word(&state).to_owned())),
                next_action_at: next_action_at(&policy, &state),
                invoice: if invoice_changed {
                    Some(encode(&invoice)?)
                } else {
                    None
                },
                ..RunChange::default()
            },
            run,
            policy,
            invoice,
            state,
        };
        for action in actions {
            decision.plan(action, cause)?;
        }
        Ok(decision)
    }

    /// Adds the steps and jobs of a local `action`. Stripe calls are
    /// carried out by the jobs after the commit (see `owed_*`).
    fn plan(&mut self, action: Action, cause: &str) -> Result<(), JobError> {
        let run_id = self.run.id.clone();
        let job = |kind: &str, number: u8, at, key: String| -> Result<ScheduledJob, JobError> {
            Ok(ScheduledJob {
                kind: kind.to_owned(),
                payload: encode(&StepJob {
                    run_id: run_id.clone(),
                    number,
                })?,
                dedupe_key: format!("dunning:{run_id}:{key}"),
                run_at: at,
            })
        };
        match action {
            Action::ScheduleRetry { number, at } => {
                let scheduled = job(RETRY_JOB, number, at, format!("retry:{number}"))?;
                self.change.jobs.push(scheduled);
            }
            Action::ScheduleGraceEnd { at } => {
                let scheduled = job(GRACE_JOB, 0, at, "grace_end".to_owned())?;
                self.change.jobs.push(scheduled);
            }
            Action::SendReminder { after, .. } => {
                let (attempt, last) = match after {
                    ReminderStep::FirstFailure => (1, self.policy.retries() == 0),
                    ReminderStep::Retry(n) => (u32::from(n) + 1, n == self.policy.retries()),
                };
                let kind = if last { "final_notice" } else { "reminder" };
                self.step(
                    format!("reminder:{attempt}"),
                    kind,
                    attempt,
                    "notified",
                    None,
                );
            }
            Action::SendAuthenticationLink { .. } => {
                let url = self.invoice.hosted_invoice_url.clone();
                let attempt = self.invoice.attempt_count.max(1);
                self.step(
                    format!("authentication_required:{cause}"),
                    "authentication_required",
                    attempt,
                    "notified",
                    url,
                );
            }
            // The entitlements engine reads `dunning_standings`; the step
            // events (first failure, recovery, final action) tell it when.
            Action::RecomputeEntitlements
            | Action::RetryPayment { .. }
            | Action::TakeFinalAction { .. } => {}
        }
        Ok(())
    }

    /// Records a step with its `dunning.step` event.
    fn step(
        &mut self,
        key: String,
        kind: &str,
        attempt: u32,
        outcome: &str,
        detail: Option<String>,
    ) {
        self.step_with(key, kind, attempt, outcome, detail, None);
    }

    fn step_with(
        &mut self,
        key: String,
        kind: &str,
        attempt: u32,
        outcome: &str,
        detail: Option<String>,
        final_action: Option<String>,
    ) {
        let event = DomainEvent::DunningStep(DunningStepFacts {
            invoice: self.invoice.clone(),
            step: kind.to_owned(),
            attempt,
            next_attempt_at: self.change.next_action_at,
            action_url: self.invoice.hosted_invoice_url.clone(),
            final_action,
        });
        self.change.steps.push(NewStep {
            key,
            kind: kind.to_owned(),
            attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
            outcome: outcome.to_owned(),
            detail,
            event: Some(event),
        });
    }

    /// Moves the step added last to the front: the input comes before
    /// what the engine did about it.
    fn lead(&mut self) {
        self.change.steps.rotate_right(1);
    }

    /// Records an input that announces nothing (a failure Stripe reported),
    /// first among the steps of this decision.
    fn record(&mut self, key: String, kind: &str, attempt: u32, detail: Option<String>) {
        self.change.steps.insert(
            0,
            NewStep {
                key,
                kind: kind.to_owned(),
                attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
                outcome: "recorded".to_owned(),
                detail,
                event: None,
            },
        );
    }

    /// Adds the `recovered` step when the event settled the run as paid.
    fn note_recovery(&mut self, was_chasing: bool) {
        if was_chasing && matches!(self.state, DunningState::Recovered { .. }) {
            let attempt = self.invoice.attempt_count;
            self.step(
                "recovered".to_owned(),
                "recovered",
                attempt,
                "succeeded",
                None,
            );
        }
    }

    async fn write(
        self,
        txn: DunningTxn,
    ) -> Result<(DunningRun, DunningState, DunningPolicy), JobError> {
        txn.apply(&self.run, self.change).await.map_err(retryable)?;
        txn.commit().await.map_err(retryable)?;
        Ok((self.run, self.state, self.policy))
    }
}

/// The outcome of Billforge's own payment attempt.
enum RetryOutcome {
    /// Paid.
    Paid,
    /// Declined; `authentication` when the bank wants SCA.
    Declined {
        /// What the bank or Stripe said.
        reason: String,
        /// Whether the customer must authenticate.
        authentication: bool,
    },
}

impl Platform {
    /// Consumes one domain event; idempotent (a retried dispatch calls it
    /// again; each input is recorded as a step keyed on the event id).
    pub(crate) async fn dunning_on_domain_event(
        &self,
        recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        let (facts, failure) = match &recorded.event {
            DomainEvent::PaymentFailed(facts) => (facts, Some(false)),
            DomainEvent::PaymentActionRequired(facts) => (facts, Some(true)),
            DomainEvent::InvoicePaid(facts) => (facts, None),
            _ => return Ok(()),
        };
        if facts.stripe_subscription_id.is_none() {
            // One-off invoices are the merchant's business, not dunning's.
            return Ok(());
        }
        let tenant = &recorded.tenant_id;
        let policy = self.dunning_policy(tenant).await.map_err(retryable)?;
        let scope = self.store().scoped(tenant);
        let txn = scope.begin_dunning(self.now()).await.map_err(retryable)?;
        let invoice = facts.stripe_invoice_id.clone();
        if failure.is_some() {
            txn.insert_run_if_absent(NewRun {
                stripe_invoice_id: invoice.clone(),
                stripe_subscription_id: facts.stripe_subscription_id.clone(),
                stripe_customer_id: facts.customer.stripe_customer_id.clone(),
                customer_id: facts.customer.customer_id.to_string(),
                policy: encode(&policy)?,
                invoice: encode(facts)?,
                started_at: recorded.occurred_at,
            })
            .await
            .map_err(retryable)?;
        }
        let Some(run) = txn.lock_run_of_invoice(&invoice).await.map_err(retryable)? else {
            return Ok(()); // paid without ever failing: nothing to do
        };
        let key = format!("event:{}", recorded.id);
        if txn.has_step(&run, &key).await.map_err(retryable)? {
            return Ok(());
        }
        let was_chasing = run.status == "chasing";
        let event = match failure {
            Some(requires_authentication) => DunningEvent::PaymentFailed {
                invoice,
                at: recorded.occurred_at,
                requires_authentication,
            },
            None => DunningEvent::Paid {
                invoice,
                at: recorded.occurred_at,
            },
        };
        let mut decision = Decision::new(run, Some(facts.clone()), event, recorded.id.as_str())?;
        decision.record(
            key,
            recorded.event.kind(),
            facts.attempt_count,
            Some(format!(
                "reported by Stripe (attempt {})",
                facts.attempt_count
            )),
        );
        decision.note_recovery(was_chasing);
        decision.write(txn).await?;
        Ok(())
    }

    /// One retry (`retry`) or the grace end (`!retry`) of a run.
    async fn run_dunning_job(&self, job: &Job, retry: bool) -> Result<(), JobError> {
        let payload: StepJob = decode("dunning job payload", &job.payload)?;
        let tenant = crate::jobs::job_tenant(job, "dunning job")?;
        let scope = self.store().scoped(&tenant);
        let txn = scope.begin_dunning(self.now()).await.map_err(retryable)?;
        let Some(run) = txn.lock_run(&payload.run_id).await.map_err(retryable)? else {
            return Err(JobError::Permanent(format!(
                "no dunning run {}",
                payload.run_id
            )));
        };
        if !retry && retry_in_flight(&run)? {
            // A retry is being tried right now: its outcome decides, and a
            // failure schedules the grace end again (see `record_retry`),
            // so the final action never overtakes the last attempt.
            return Ok(());
        }
        let now = self.now();
        let event = if retry {
            DunningEvent::RetryDue {
                number: payload.number,
                at: now,
            }
        } else {
            DunningEvent::GraceEnded { at: now }
        };
        let mut decision = Decision::new(run, None, event, "job")?;
        if !retry && matches!(decision.state, DunningState::Finalized { .. }) {
            let attempt = u32::from(decision.policy.retries()) + 1;
            decision.step(
                "grace_ended".to_owned(),
                "grace_ended",
                attempt,
                "recorded",
                None,
            );
        }
        let owed_key = if retry {
            format!("retry:{}", payload.number)
        } else {
            "final_action".to_owned()
        };
        let already_done = txn
            .has_step(&decision.run, &owed_key)
            .await
            .map_err(retryable)?;
        let (run, state, _) = decision.write(txn).await?;
        if already_done {
            return Ok(());
        }
        match (&state, retry) {
            (
                DunningState::Chasing {
                    invoice,
                    retries_started,
                    retries_failed,
                    ..
                },
                true,
            ) if *retries_started == payload.number && *retries_failed < payload.number => {
                let outcome = self
                    .pay_invoice(&tenant, &run, invoice, payload.number)
                    .await?;
                self.record_retry(&tenant, &run.id, payload.number, outcome)
                    .await
            }
            (
                DunningState::Finalized {
                    invoice, action, ..
                },
                false,
            ) => {
                let detail = self.take_final_action(&tenant, &run, invoice, action).await;
                self.record_final_action(&tenant, &run.id, action, detail)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// `POST /v1/invoices/{id}/pay` on the tenant's account, keyed on run + retry.
    async fn pay_invoice(
        &self,
        tenant: &TenantId,
        run: &DunningRun,
        invoice: &str,
        number: u8,
    ) -> Result<RetryOutcome, JobError> {
        let account = self.connected_account(tenant).await.map_err(retryable)?;
        let options = || RequestOptions::new().on_account(account.clone());
        let params = PayInvoice {
            off_session: Some(true),
            ..PayInvoice::default()
        };
        let key = format!("dunning-{}-retry-{number}", run.id);
        match self
            .stripe()
            .invoices()
            .pay(invoice, &params, options().idempotency_key(key))
            .await
        {
            Ok(paid) if paid.status == Some(InvoiceStatus::Paid) => Ok(RetryOutcome::Paid),
            Ok(other) => Ok(RetryOutcome::Declined {
                reason: format!("the invoice is {:?} after the attempt", other.status),
                authentication: false,
            }),
            Err(stripe::Error::Api(err))
                if matches!(err.kind, ApiErrorKind::Card | ApiErrorKind::InvalidRequest) =>
            {
                // An invoice paid by another route meanwhile answers with an
                // invalid-request error: look before calling it a decline.
                let current = self
                    .stripe()
                    .invoices()
                    .retrieve(invoice, &Default::default(), options())
                    .await
                    .map_err(retryable)?;
                if current.status == Some(InvoiceStatus::Paid) {
                    return Ok(RetryOutcome::Paid);
                }
                let authentication = [err.code.as_deref(), err.decline_code.as_deref()]
                    .contains(&Some("authentication_required"));
                Ok(RetryOutcome::Declined {
                    reason: err
                        .message
                        .clone()
                        .or(err.decline_code.clone())
                        .or(err.code.clone())
                        .unwrap_or_else(|| "declined".to_owned()),
                    authentication,
                })
            }
            Err(err) => Err(retryable(err)),
        }
    }

    /// Records a retry's outcome and what follows from it.
    async fn record_retry(
        &self,
        tenant: &TenantId,
        run_id: &str,
        number: u8,
        outcome: RetryOutcome,
    ) -> Result<(), JobError> {
        let scope = self.store().scoped(tenant);
        let txn = scope.begin_dunning(self.now()).await.map_err(retryable)?;
        let Some(run) = txn.lock_run(run_id).await.map_err(retryable)? else {
            return Ok(());
        };
        let now = self.now();
        let invoice = decode::<InvoiceFacts>("invoice facts", &run.invoice)?.stripe_invoice_id;
        let was_chasing = run.status == "chasing";
        let (event, outcome_word, detail) = match outcome {
            RetryOutcome::Paid => (DunningEvent::Paid { invoice, at: now }, "succeeded", None),
            RetryOutcome::Declined {
                reason,
                authentication,
            } => (
                DunningEvent::RetryFailed {
                    number,
                    at: now,
                    requires_authentication: authentication,
                },
                "failed",
                Some(reason),
            ),
        };
        let mut decision = Decision::new(run, None, event, &format!("retry-{number}"))?;
        decision.step(
            format!("retry:{number}"),
            "retry",
            u32::from(number),
            outcome_word,
            detail,
        );
        decision.lead();
        decision.note_recovery(was_chasing);
        if let DunningState::Chasing {
            first_failed_at, ..
        } = &decision.state
            && decision.policy.grace_ends_at(*first_failed_at) <= now
        {
            // The grace ended while this retry was in flight; its job
            // stood aside (see `run_dunning_job`), so it runs again now.
            decision.change.jobs.push(ScheduledJob {
                kind: GRACE_JOB.to_owned(),
                payload: encode(&StepJob {
                    run_id: run_id.to_owned(),
                    number: 0,
                })?,
                dedupe_key: format!("dunning:{run_id}:grace_end:after-retry-{number}"),
                run_at: now,
            });
        }
        decision.write(txn).await?;
        Ok(())
    }

    /// Carries out `action` on Stripe; `Ok(detail)` when done, `Err(reason)`
    /// when Stripe refused for good (a transient failure retries the job).
    async fn take_final_action(
        &self,
        tenant: &TenantId,
        run: &DunningRun,
        invoice: &str,
        action: &FinalAction,
    ) -> Result<Result<String, String>, JobError> {
        let account = self.connected_account(tenant).await.map_err(retryable)?;
        let on_account = || RequestOptions::new().on_account(account.clone());
        let options =
            |what: &str| on_account().idempotency_key(format!("dunning-{}-{what}", run.id));
        let subscription = run.stripe_subscription_id.clone().unwrap_or_default();
        let stripe = self.stripe();
        let done = match action {
            FinalAction::Cancel => stripe
                .subscriptions()
                .cancel(
                    &subscription,
                    &CancelSubscription::default(),
                    options("cancel"),
                )
                .await
                .map(|_| format!("canceled {subscription}")),
            FinalAction::MarkUnpaidAndRevoke => stripe
                .invoices()
                .mark_uncollectible(invoice, options("mark-uncollectible"))
                .await
                .map(|_| format!("marked {invoice} uncollectible; entitlements revoked")),
            FinalAction::MoveToPlan(plan) => {
                let Some(price) = self.free_plan_price(tenant, plan).await? else {
                    return Ok(Err(format!(
                        "plan {plan} has no price synced to Stripe to move the customer to"
                    )));
                };
                let current = stripe
                    .subscriptions()
                    .retrieve(&subscription, &Default::default(), on_account())
                    .await;
                match current {
                    Ok(current) => {
                        let item = current.items.data.first().map(|item| item.id.clone());
                        let update = UpdateSubscription {
                            items: vec![SubscriptionItemParams {
                                id: item,
                                price: Some(price.clone()),
                                ..SubscriptionItemParams::default()
                            }],
                            proration_behavior: Some(ProrationBehavior::None),
                            ..UpdateSubscription::default()
                        };
                        stripe
                            .subscriptions()
                            .update(&subscription, &update, options("move"))
                            .await
                            .map(|_| format!("moved {subscription} to plan {plan} ({price})"))
                    }
                    Err(err) => Err(err),
                }
            }
        };
        match done {
            Ok(detail) => Ok(Ok(detail)),
            Err(stripe::Error::Api(err)) if err.kind == ApiErrorKind::InvalidRequest => {
                Ok(Err(err.message.clone().unwrap_or_else(|| err.to_string())))
            }
            Err(err) => Err(retryable(err)),
        }
    }

    /// The Stripe price of `plan` to move customers to (its first live one).
    async fn free_plan_price(
        &self,
        tenant: &TenantId,
        plan: &PlanId,
    ) -> Result<Option<String>, JobError> {
        let prices = self
            .store()
            .scoped(tenant)
            .prices_of(plan)
            .await
            .map_err(retryable)?;
        Ok(prices
            .into_iter()
            .filter(|price| !price.archived)
            .find_map(|price| price.stripe_price_id))
    }

    /// Records the final action's step.
    async fn record_final_action(
        &self,
        tenant: &TenantId,
        run_id: &str,
        action: &FinalAction,
        detail: Result<Result<String, String>, JobError>,
    ) -> Result<(), JobError> {
        let (outcome, detail) = match detail? {
            Ok(detail) => ("succeeded", detail),
            Err(reason) => ("failed", reason),
        };
        let scope = self.store().scoped(tenant);
        let txn = scope.begin_dunning(self.now()).await.map_err(retryable)?;
        let Some(run) = txn.lock_run(run_id).await.map_err(retryable)? else {
            return Ok(());
        };
        let now = self.now();
        let mut decision = Decision::new(run, None, DunningEvent::GraceEnded { at: now }, "final")?;
        let attempt = u32::from(decision.policy.retries()) + 1;
        decision.step_with(
            "final_action".to_owned(),
            "final_action",
            attempt,
            outcome,
            Some(detail),
            Some(final_action_name(action)),
        );
        decision.write(txn).await?;
        Ok(())
    }

    /// The tenant's policy, or [`default_policy`] when it set none.
    pub async fn dunning_policy(&self, tenant: &TenantId) -> PlatformResult<DunningPolicy> {
        match self.store().scoped(tenant).dunning_policy().await? {
            Some(row) => serde_json::from_str(&row.spec)
                .map_err(|err| PlatformError::Internal(format!("stored dunning policy: {err}"))),
            None => Ok(default_policy()),
        }
    }

    /// Validates and stores the tenant's policy (audited); it applies to
    /// runs that start from now on.
    pub async fn set_dunning_policy(
        &self,
        tenant: &TenantId,
        spec: DunningPolicySpec,
        ctx: &AuditContext,
    ) -> PlatformResult<DunningPolicy> {
        let stripe_retries = spec.stripe_retries;
        if let FinalAction::MoveToPlan(plan) = &spec.final_action {
            // A plan of another tenant (or none) would only fail when the
            // grace period ends; refuse it while the merchant is there.
            match self.plan(tenant, plan).await {
                Err(PlatformError::NotFound(_)) => {
                    return Err(PlatformError::invalid(
                        "policy",
                        format!(
                            "the final action moves customers to plan `{plan}`, which is not one of yours"
                        ),
                    ));
                }
                other => {
                    other?;
                }
            }
        }
        let policy = validate_policy(spec)?;
        let json = serde_json::to_string(&policy)
            .map_err(|err| PlatformError::Internal(format!("encoding a policy: {err}")))?;
        self.store()
            .scoped(tenant)
            .save_dunning_policy(json, stripe_retries, ctx)
            .await?;
        Ok(policy)
    }

    /// What `spec` (or the tenant's policy) would do after a failure at
    /// `failed_at`, if nothing were ever paid.
    pub async fn preview_dunning(
        &self,
        tenant: &TenantId,
        spec: Option<DunningPolicySpec>,
        failed_at: DateTime<Utc>,
    ) -> PlatformResult<Vec<TimelineStep>> {
        let policy = match spec {
            Some(spec) => validate_policy(spec)?,
            None => self.dunning_policy(tenant).await?,
        };
        Ok(billing::dunning::preview(&policy, failed_at))
    }

    /// The tenant's runs, newest first, with their steps.
    pub async fn dunning_runs(
        &self,
        tenant: &TenantId,
        limit: u64,
    ) -> PlatformResult<Vec<DunningRunView>> {
        let scope = self.store().scoped(tenant);
        let runs = scope.dunning_runs(limit).await?;
        let ids: Vec<String> = runs.iter().map(|run| run.id.clone()).collect();
        let mut steps: HashMap<String, Vec<DunningStep>> = HashMap::new();
        for step in scope.dunning_steps(&ids).await? {
            steps.entry(step.run_id.clone()).or_default().push(step);
        }
        runs.into_iter()
            .map(|run| {
                let state = serde_json::from_str(&run.state).map_err(|err| {
                    PlatformError::Internal(format!("stored dunning state: {err}"))
                })?;
                Ok(DunningRunView {
                    steps: steps.remove(&run.id).unwrap_or_default(),
                    state,
                    run,
                })
            })
            .collect()
    }
}

/// The policy, or a 400-style error naming what is wrong.
fn validate_policy(spec: DunningPolicySpec) -> PlatformResult<DunningPolicy> {
    DunningPolicy::try_from(spec).map_err(|err| PlatformError::Invalid {
        field: "policy",
        message: err.to_string(),
    })
}

/// How dunning affects one subscription's grants, owned so callers need not
/// hold the policy (`billing::entitlements::Standing` borrows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionStanding {
    /// Paid up, or in a grace period that keeps full entitlements.
    Good,
    /// In a grace period that degrades to this reduced set.
    Degraded(Vec<billing::entitlements::FeatureGrant>),
    /// Dunning ended by revoking the subscription's entitlements.
    Revoked,
}

impl Platform {
    /// The dunning standing of each of `stripe_subscription_ids` (of
    /// `tenant`); subscriptions not in dunning are absent (= `Good`). The
    /// entitlements recomputation calls it.
    pub async fn dunning_standings(
        &self,
        tenant: &TenantId,
        stripe_subscription_ids: &[String],
    ) -> PlatformResult<HashMap<String, SubscriptionStanding>> {
        let runs = self
            .store()
            .scoped(tenant)
            .latest_dunning_runs(stripe_subscription_ids)
            .await?;
        let bad =
            |err: serde_json::Error| PlatformError::Internal(format!("stored dunning run: {err}"));
        let mut standings = HashMap::new();
        for run in runs {
            let Some(subscription) = run.stripe_subscription_id.clone() else {
                continue;
            };
            let policy: DunningPolicy = serde_json::from_str(&run.policy).map_err(bad)?;
            let state: DunningState = serde_json::from_str(&run.state).map_err(bad)?;
            let standing = match state.standing(&policy) {
                Standing::Good => continue,
                Standing::Degraded(reduced) => SubscriptionStanding::Degraded(reduced.to_vec()),
                Standing::Revoked => SubscriptionStanding::Revoked,
            };
            standings.insert(subscription, standing);
        }
        Ok(standings)
    }
}
