//! Dunning: what happens between a failed renewal payment and either
//! recovery or the merchant's final action.
//!
//! A tenant's [`DunningPolicy`] says, counting from the *first* failure of an
//! invoice:
//! - when Billforge retries the payment (day offsets, strictly ascending, at
//!   most [`MAX_RETRIES`], all before the grace period ends so the last retry
//!   never races the final action);
//! - how long the grace period lasts, and whether entitlements continue in
//!   full or degrade to a reduced feature set meanwhile (see
//!   [`crate::entitlements`] for how degradation applies);
//! - after which failures the customer gets a reminder email;
//! - the final action when the grace period ends unpaid;
//! - whether Stripe's own retries stay on. Billforge's schedule runs either
//!   way and is purely time-based: a failure reported by one of Stripe's
//!   retries neither advances nor delays it, and a payment by any route
//!   (Stripe's retry, a card updated in the portal, Billforge's retry) ends
//!   dunning.
//!
//! [`preview`] lays the policy out as a timeline; [`DunningState::on`] is
//! the pure state machine the engine drives with events (payment failed,
//! retry due, retry failed, paid, grace ended) and whose [`Action`]s it
//! carries out. All retries and the grace end are scheduled when dunning
//! starts, so a lost retry outcome cannot stall the schedule. Every event is
//! checked against the state, so a job that fires twice, early or late does
//! nothing out of place.
//!
//! One overdue invoice is chased at a time per subscription: a different
//! invoice failing while one is chased is ignored by the state machine (the
//! engine keeps the webhook record and can start on it after the first one
//! settles). A failure report for an invoice that already settled is ignored
//! too, and a payment after the final action does not undo it.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::entitlements::{FeatureGrant, Standing};
use crate::ids::PlanId;

/// Most retries a policy may schedule: Stripe's Smart Retries stop at 8
/// tries, and card networks penalise merchants who retry much more.
pub const MAX_RETRIES: usize = 8;
/// Longest grace period a policy may give.
pub const MAX_GRACE_DAYS: u16 = 60;

/// Why a dunning policy was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DunningError {
    #[error("at most {max} retries (got {count})")]
    TooManyRetries { count: usize, max: usize },
    #[error(
        "retry days must be at least 1 and strictly ascending (retry {number} is on day {day})"
    )]
    RetriesNotAscending { number: u8, day: u16 },
    #[error(
        "retry {number} on day {day} must come before the grace period ends on day {grace_days}"
    )]
    RetryAfterGrace {
        number: u8,
        day: u16,
        grace_days: u16,
    },
    #[error("the grace period lasts 1 to {max} days (got {days})")]
    GraceOutOfRange { days: u16, max: u16 },
    #[error("a reminder after retry {number} is impossible: the policy has {retries} retries")]
    ReminderForMissingRetry { number: u8, retries: usize },
}

/// What the customer keeps while a payment is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reduced", rename_all = "snake_case")]
pub enum GraceEntitlements {
    /// Everything the plan grants.
    Full,
    /// Only these features, never above the plan's own grant.
    Degrade(Vec<FeatureGrant>),
}

/// After which failed attempt a reminder email goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "after", content = "number", rename_all = "snake_case")]
pub enum ReminderStep {
    /// The failure that started dunning.
    FirstFailure,
    /// Billforge's retry with this number (1-based).
    Retry(u8),
}

/// What happens when the grace period ends unpaid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "plan_id", rename_all = "snake_case")]
pub enum FinalAction {
    /// Cancel the subscription now.
    Cancel,
    /// Keep the subscription but mark the invoice uncollectible (Stripe
    /// `unpaid`) and take the plan's entitlements away.
    MarkUnpaidAndRevoke,
    /// Switch the customer to this (free) plan.
    MoveToPlan(PlanId),
}

/// A tenant's dunning rules, unchecked; build a [`DunningPolicy`] from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningPolicySpec {
    /// Days after the first failure at which Billforge retries the payment.
    pub retry_days: Vec<u16>,
    /// Days after the first failure at which the final action is taken.
    pub grace_days: u16,
    /// What the customer keeps meanwhile.
    pub grace_entitlements: GraceEntitlements,
    /// Which failures trigger a reminder email.
    pub reminders: BTreeSet<ReminderStep>,
    /// What happens at the end of the grace period.
    pub final_action: FinalAction,
    /// Whether Stripe's own automatic retries stay on as well.
    pub stripe_retries: bool,
}

/// A validated dunning policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DunningPolicySpec", into = "DunningPolicySpec")]
pub struct DunningPolicy {
    /// The spec, known to satisfy the rules.
    spec: DunningPolicySpec,
}

impl TryFrom<DunningPolicySpec> for DunningPolicy {
    type Error = DunningError;
    fn try_from(spec: DunningPolicySpec) -> Result<Self, DunningError> {
        let retries = spec.retry_days.len();
        if retries > MAX_RETRIES {
            return Err(DunningError::TooManyRetries {
                count: retries,
                max: MAX_RETRIES,
            });
        }
        if !(1..=MAX_GRACE_DAYS).contains(&spec.grace_days) {
            return Err(DunningError::GraceOutOfRange {
                days: spec.grace_days,
                max: MAX_GRACE_DAYS,
            });
        }
        let mut previous = 0;
        for (number, &day) in (1u8..).zip(&spec.retry_days) {
            if day <= previous {
                return Err(DunningError::RetriesNotAscending { number, day });
            }
            if day >= spec.grace_days {
                return Err(DunningError::RetryAfterGrace {
                    number,
                    day,
                    grace_days: spec.grace_days,
                });
            }
            previous = day;
        }
        for step in &spec.reminders {
            if let ReminderStep::Retry(number) = *step
                && (number == 0 || usize::from(number) > retries)
            {
                return Err(DunningError::ReminderForMissingRetry { number, retries });
            }
        }
        Ok(Self { spec })
    }
}

impl From<DunningPolicy> for DunningPolicySpec {
    fn from(policy: DunningPolicy) -> Self {
        policy.spec
    }
}

impl DunningPolicy {
    pub fn spec(&self) -> &DunningPolicySpec {
        &self.spec
    }

    /// How many retries Billforge makes.
    pub fn retries(&self) -> u8 {
        // Validation caps the count at MAX_RETRIES, far below u8::MAX.
        self.spec.retry_days.len() as u8
    }

    /// When retry `number` (1-based) is due, if the policy has it.
    pub fn retry_at(&self, first_failure_at: DateTime<Utc>, number: u8) -> Option<DateTime<Utc>> {
        let day = *self
            .spec
            .retry_days
            .get(usize::from(number).checked_sub(1)?)?;
        Some(first_failure_at + TimeDelta::days(day.into()))
    }

    /// When the grace period ends and the final action is due.
    pub fn grace_ends_at(&self, first_failure_at: DateTime<Utc>) -> DateTime<Utc> {
        first_failure_at + TimeDelta::days(self.spec.grace_days.into())
    }

    fn reminds_after(&self, step: ReminderStep) -> bool {
        self.spec.reminders.contains(&step)
    }

    /// Whether entitlements change when dunning starts or ends.
    fn degrades(&self) -> bool {
        matches!(self.spec.grace_entitlements, GraceEntitlements::Degrade(_))
    }

    /// How entitlements apply to a subscription in dunning.
    fn grace_standing(&self) -> Standing<'_> {
        match &self.spec.grace_entitlements {
            GraceEntitlements::Full => Standing::Good,
            GraceEntitlements::Degrade(reduced) => Standing::Degraded(reduced),
        }
    }
}

/// One entry of a dunning timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The payment failure that starts dunning.
    FirstFailure,
    /// Entitlements drop to the reduced set for the grace period.
    EntitlementsDegraded,
    /// Billforge retries the payment.
    Retry {
        /// Which retry (1-based).
        number: u8,
    },
    /// A reminder email, sent if the preceding attempt failed.
    Reminder {
        /// Which failure it follows.
        after: ReminderStep,
    },
    /// The grace period is over.
    GraceEnds,
    /// The final action, taken if the invoice is still unpaid.
    FinalAction {
        /// What is done.
        action: FinalAction,
    },
}

/// A timeline entry and when it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineStep {
    /// When it happens.
    pub at: DateTime<Utc>,
    /// What happens.
    pub event: TimelineEvent,
}

/// What the policy would do after a first failure at `first_failure_at`, if
/// nothing is ever paid: in time order, and in causal order at equal times.
pub fn preview(policy: &DunningPolicy, first_failure_at: DateTime<Utc>) -> Vec<TimelineStep> {
    let step = |at, event| TimelineStep { at, event };
    let mut timeline = vec![step(first_failure_at, TimelineEvent::FirstFailure)];
    if policy.degrades() {
        timeline.push(step(first_failure_at, TimelineEvent::EntitlementsDegraded));
    }
    let attempts = std::iter::once((ReminderStep::FirstFailure, first_failure_at)).chain(
        (1..=policy.retries()).filter_map(|number| {
            let at = policy.retry_at(first_failure_at, number)?;
            Some((ReminderStep::Retry(number), at))
        }),
    );
    for (attempt, at) in attempts {
        if let ReminderStep::Retry(number) = attempt {
            timeline.push(step(at, TimelineEvent::Retry { number }));
        }
        if policy.reminds_after(attempt) {
            timeline.push(step(at, TimelineEvent::Reminder { after: attempt }));
        }
    }
    let end = policy.grace_ends_at(first_failure_at);
    timeline.push(step(end, TimelineEvent::GraceEnds));
    timeline.push(step(
        end,
        TimelineEvent::FinalAction {
            action: policy.spec.final_action.clone(),
        },
    ));
    timeline
}

/// Where dunning of one subscription stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DunningState {
    /// Nothing overdue.
    #[default]
    Idle,
    /// Chasing an unpaid invoice.
    Chasing {
        /// The Stripe invoice (`in_…`) being chased.
        invoice: String,
        /// When it first failed; the whole schedule counts from here.
        first_failed_at: DateTime<Utc>,
        /// The number of the latest of Billforge's retries started (0 for
        /// none); a retry job with a number not above it is a duplicate.
        retries_started: u8,
        /// The number of the latest retry reported failed, so each
        /// reminder goes once.
        retries_failed: u8,
    },
    /// The invoice was paid during dunning.
    Recovered {
        /// The invoice that got paid.
        invoice: String,
        /// When.
        paid_at: DateTime<Utc>,
    },
    /// The grace period ran out and the final action was taken.
    Finalized {
        /// The invoice that stayed unpaid.
        invoice: String,
        /// When the final action was taken.
        at: DateTime<Utc>,
        /// Which action.
        action: FinalAction,
    },
}

/// Something that happened to the subscription's overdue invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DunningEvent {
    /// Stripe reported a failed payment (`invoice.payment_failed` or
    /// `invoice.payment_action_required`), from any route.
    PaymentFailed {
        /// The Stripe invoice.
        invoice: String,
        /// The event's time.
        at: DateTime<Utc>,
        /// Whether the bank asks the customer to authenticate (SCA).
        requires_authentication: bool,
    },
    /// A scheduled retry job fired.
    RetryDue {
        /// Which retry.
        number: u8,
        /// When it fired.
        at: DateTime<Utc>,
    },
    /// Billforge's retry was declined.
    RetryFailed {
        /// Which retry.
        number: u8,
        /// When the decline came back.
        at: DateTime<Utc>,
        /// Whether the bank asks the customer to authenticate (SCA).
        requires_authentication: bool,
    },
    /// The invoice got paid, by any route.
    Paid {
        /// The Stripe invoice.
        invoice: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The grace-period job fired.
    GraceEnded {
        /// When it fired.
        at: DateTime<Utc>,
    },
}

/// What the engine must do; each becomes a recorded, visible step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Run a `RetryDue` at `at`.
    ScheduleRetry {
        /// Which retry (1-based).
        number: u8,
        /// When it is due.
        at: DateTime<Utc>,
    },
    /// Run a `GraceEnded` at `at`.
    ScheduleGraceEnd {
        /// When the grace period ends.
        at: DateTime<Utc>,
    },
    /// `POST /v1/invoices/{invoice}/pay` with this idempotency key.
    RetryPayment {
        /// The Stripe invoice to pay.
        invoice: String,
        /// Which retry, reported back in `RetryFailed`.
        number: u8,
        /// Derived from invoice and retry, so a replayed job cannot charge
        /// twice.
        idempotency_key: String,
    },
    /// Email the customer a reminder to update their payment method.
    SendReminder {
        /// The overdue invoice (its hosted page goes in the email).
        invoice: String,
        /// Which failure the reminder follows.
        after: ReminderStep,
    },
    /// Email the customer the invoice's hosted page to authenticate.
    SendAuthenticationLink {
        /// The invoice whose payment needs authentication.
        invoice: String,
    },
    /// The subscription's standing changed: recompute entitlements.
    RecomputeEntitlements,
    /// Carry out the policy's final action.
    TakeFinalAction {
        /// The invoice that stayed unpaid.
        invoice: String,
        /// What to do.
        action: FinalAction,
    },
}

impl DunningState {
    /// The state after `event`, and what to do about it.
    pub fn on(self, policy: &DunningPolicy, event: DunningEvent) -> (DunningState, Vec<Action>) {
        match (self, event) {
            (
                DunningState::Chasing {
                    invoice,
                    first_failed_at,
                    retries_started,
                    retries_failed,
                },
                event,
            ) => {
                let chase = Chase {
                    policy,
                    invoice,
                    first_failed_at,
                    retries_started,
                    retries_failed,
                };
                chase.on(event)
            }
            (
                settled,
                DunningEvent::PaymentFailed {
                    invoice,
                    at,
                    requires_authentication,
                },
            ) if !settled.concerns(&invoice) => start(policy, invoice, at, requires_authentication),
            (settled, _) => (settled, Vec::new()),
        }
    }

    /// How the subscription's entitlements apply in this state.
    pub fn standing<'a>(&self, policy: &'a DunningPolicy) -> Standing<'a> {
        match self {
            DunningState::Chasing { .. } => policy.grace_standing(),
            DunningState::Finalized {
                action: FinalAction::MarkUnpaidAndRevoke,
                ..
            } => Standing::Revoked,
            _ => Standing::Good,
        }
    }

    /// Whether this settled state is about `invoice` (so a late failure
    /// report for it must not restart dunning).
    fn concerns(&self, invoice: &str) -> bool {
        match self {
            DunningState::Recovered {
                invoice: settled, ..
            }
            | DunningState::Finalized {
                invoice: settled, ..
            } => settled == invoice,
            _ => false,
        }
    }
}

fn start(
    policy: &DunningPolicy,
    invoice: String,
    at: DateTime<Utc>,
    requires_authentication: bool,
) -> (DunningState, Vec<Action>) {
    let mut actions = Vec::new();
    if policy.degrades() {
        actions.push(Action::RecomputeEntitlements);
    }
    if requires_authentication {
        actions.push(Action::SendAuthenticationLink {
            invoice: invoice.clone(),
        });
    }
    if policy.reminds_after(ReminderStep::FirstFailure) {
        actions.push(Action::SendReminder {
            invoice: invoice.clone(),
            after: ReminderStep::FirstFailure,
        });
    }
    for number in 1..=policy.retries() {
        if let Some(retry_at) = policy.retry_at(at, number) {
            actions.push(Action::ScheduleRetry {
                number,
                at: retry_at,
            });
        }
    }
    actions.push(Action::ScheduleGraceEnd {
        at: policy.grace_ends_at(at),
    });
    let state = DunningState::Chasing {
        invoice,
        first_failed_at: at,
        retries_started: 0,
        retries_failed: 0,
    };
    (state, actions)
}

/// The `Chasing` state unpacked, with the policy, to keep transitions short.
struct Chase<'a> {
    /// The rules being applied.
    policy: &'a DunningPolicy,
    /// The invoice being chased.
    invoice: String,
    /// When it first failed.
    first_failed_at: DateTime<Utc>,
    /// Retries started so far.
    retries_started: u8,
    /// Retries reported failed so far.
    retries_failed: u8,
}

impl Chase<'_> {
    fn on(self, event: DunningEvent) -> (DunningState, Vec<Action>) {
        match event {
            DunningEvent::PaymentFailed {
                invoice,
                requires_authentication: true,
                ..
            } if invoice == self.invoice => {
                let actions = vec![Action::SendAuthenticationLink { invoice }];
                (self.into_state(), actions)
            }
            DunningEvent::RetryDue { number, at }
                if number > self.retries_started
                    && self
                        .policy
                        .retry_at(self.first_failed_at, number)
                        .is_some_and(|due| at >= due) =>
            {
                let action = Action::RetryPayment {
                    invoice: self.invoice.clone(),
                    number,
                    idempotency_key: format!("dunning-{}-retry-{number}", self.invoice),
                };
                let next = Chase {
                    retries_started: number,
                    ..self
                };
                (next.into_state(), vec![action])
            }
            DunningEvent::RetryFailed {
                number,
                requires_authentication,
                ..
            } if number == self.retries_started && number > self.retries_failed => {
                self.retry_failed(number, requires_authentication)
            }
            DunningEvent::Paid { invoice, at } if invoice == self.invoice => {
                let mut actions = Vec::new();
                if self.policy.degrades() {
                    actions.push(Action::RecomputeEntitlements);
                }
                (
                    DunningState::Recovered {
                        invoice,
                        paid_at: at,
                    },
                    actions,
                )
            }
            DunningEvent::GraceEnded { at }
                if at >= self.policy.grace_ends_at(self.first_failed_at) =>
            {
                let action = self.policy.spec.final_action.clone();
                let mut actions = vec![Action::TakeFinalAction {
                    invoice: self.invoice.clone(),
                    action: action.clone(),
                }];
                let degraded = self.policy.degrades();
                if degraded || action == FinalAction::MarkUnpaidAndRevoke {
                    actions.push(Action::RecomputeEntitlements);
                }
                let state = DunningState::Finalized {
                    invoice: self.invoice,
                    at,
                    action,
                };
                (state, actions)
            }
            // Duplicates, stale jobs and other invoices change nothing.
            _ => (self.into_state(), Vec::new()),
        }
    }

    fn retry_failed(
        self,
        number: u8,
        requires_authentication: bool,
    ) -> (DunningState, Vec<Action>) {
        let mut actions = Vec::new();
        if requires_authentication {
            actions.push(Action::SendAuthenticationLink {
                invoice: self.invoice.clone(),
            });
        }
        let step = ReminderStep::Retry(number);
        if self.policy.reminds_after(step) {
            actions.push(Action::SendReminder {
                invoice: self.invoice.clone(),
                after: step,
            });
        }
        let next = Chase {
            retries_failed: number,
            ..self
        };
        (next.into_state(), actions)
    }

    fn into_state(self) -> DunningState {
        DunningState::Chasing {
            invoice: self.invoice,
            first_failed_at: self.first_failed_at,
            retries_started: self.retries_started,
            retries_failed: self.retries_failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entitlements::GrantValue;
    use crate::entitlements::tests::{grant, now, plan, plan_id};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn spec() -> DunningPolicySpec {
        DunningPolicySpec {
            retry_days: vec![3, 5, 7],
            grace_days: 10,
            grace_entitlements: GraceEntitlements::Degrade(vec![grant(
                "seats",
                GrantValue::Limit(1),
            )]),
            reminders: [ReminderStep::FirstFailure, ReminderStep::Retry(3)].into(),
            final_action: FinalAction::MoveToPlan(plan_id(0)),
            stripe_retries: false,
        }
    }

    fn policy() -> DunningPolicy {
        DunningPolicy::try_from(spec()).unwrap()
    }

    fn day(days: i64) -> DateTime<Utc> {
        now() + TimeDelta::days(days)
    }

    fn failed(invoice: &str, at: DateTime<Utc>, requires_authentication: bool) -> DunningEvent {
        DunningEvent::PaymentFailed {
            invoice: invoice.to_owned(),
            at,
            requires_authentication,
        }
    }

    fn retry_failed(number: u8, days: i64) -> DunningEvent {
        DunningEvent::RetryFailed {
            number,
            at: day(days),
            requires_authentication: false,
        }
    }

    #[test]
    fn policy_rules() {
        let rejected = |edit: fn(&mut DunningPolicySpec)| {
            let mut spec = spec();
            edit(&mut spec);
            DunningPolicy::try_from(spec).unwrap_err()
        };
        assert_eq!(
            rejected(|s| s.retry_days = vec![3, 3]),
            DunningError::RetriesNotAscending { number: 2, day: 3 }
        );
        assert_eq!(
            rejected(|s| s.retry_days = vec![0]),
            DunningError::RetriesNotAscending { number: 1, day: 0 }
        );
        assert_eq!(
            rejected(|s| s.retry_days = vec![2, 10]),
            DunningError::RetryAfterGrace {
                number: 2,
                day: 10,
                grace_days: 10
            }
        );
        assert_eq!(
            rejected(|s| s.retry_days = (1..=9).collect()),
            DunningError::TooManyRetries { count: 9, max: 8 }
        );
        assert_eq!(
            rejected(|s| s.grace_days = 0),
            DunningError::GraceOutOfRange { days: 0, max: 60 }
        );
        assert_eq!(
            rejected(|s| s.reminders = [ReminderStep::Retry(4)].into()),
            DunningError::ReminderForMissingRetry {
                number: 4,
                retries: 3
            }
        );
        assert!(
            rejected(|s| s.reminders = [ReminderStep::Retry(0)].into())
                .to_string()
                .contains("retry 0")
        );
        let no_retries = DunningPolicySpec {
            retry_days: vec![],
            reminders: BTreeSet::new(),
            stripe_retries: true,
            ..spec()
        };
        assert!(
            DunningPolicy::try_from(no_retries).is_ok(),
            "Stripe alone may retry"
        );
    }

    #[test]
    fn policy_json_is_revalidated() {
        let json = serde_json::to_value(policy()).unwrap();
        assert_eq!(
            json["final_action"],
            serde_json::json!({"kind": "move_to_plan", "plan_id": plan_id(0)})
        );
        assert_eq!(
            serde_json::from_value::<DunningPolicy>(json.clone()).unwrap(),
            policy()
        );
        let mut bad = json;
        bad["retry_days"] = serde_json::json!([5, 4]);
        assert!(serde_json::from_value::<DunningPolicy>(bad).is_err());
    }

    #[test]
    fn preview_lays_out_the_policy() {
        use TimelineEvent::*;
        let timeline: Vec<(DateTime<Utc>, TimelineEvent)> = preview(&policy(), now())
            .into_iter()
            .map(|step| (step.at, step.event))
            .collect();
        assert_eq!(
            timeline,
            vec![
                (day(0), FirstFailure),
                (day(0), EntitlementsDegraded),
                (
                    day(0),
                    Reminder {
                        after: ReminderStep::FirstFailure
                    }
                ),
                (day(3), Retry { number: 1 }),
                (day(5), Retry { number: 2 }),
                (day(7), Retry { number: 3 }),
                (
                    day(7),
                    Reminder {
                        after: ReminderStep::Retry(3)
                    }
                ),
                (day(10), GraceEnds),
                (
                    day(10),
                    FinalAction {
                        action: super::FinalAction::MoveToPlan(plan_id(0))
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_payment_by_any_route_ends_dunning() {
        let policy = policy();
        let (state, actions) = DunningState::Idle.on(&policy, failed("in_1", now(), false));
        assert_eq!(
            actions,
            vec![
                Action::RecomputeEntitlements,
                Action::SendReminder {
                    invoice: "in_1".to_owned(),
                    after: ReminderStep::FirstFailure
                },
                Action::ScheduleRetry {
                    number: 1,
                    at: day(3)
                },
                Action::ScheduleRetry {
                    number: 2,
                    at: day(5)
                },
                Action::ScheduleRetry {
                    number: 3,
                    at: day(7)
                },
                Action::ScheduleGraceEnd { at: day(10) },
            ]
        );
        assert!(
            matches!(state.standing(&policy), Standing::Degraded(reduced) if reduced.len() == 1)
        );

        let (state, actions) = state.on(
            &policy,
            DunningEvent::RetryDue {
                number: 1,
                at: day(3),
            },
        );
        assert_eq!(
            actions,
            vec![Action::RetryPayment {
                invoice: "in_1".to_owned(),
                number: 1,
                idempotency_key: "dunning-in_1-retry-1".to_owned()
            }]
        );
        let (state, actions) = state.on(&policy, retry_failed(1, 3));
        assert!(
            actions.is_empty(),
            "no reminder is configured after retry 1"
        );

        let paid = DunningEvent::Paid {
            invoice: "in_1".to_owned(),
            at: day(4),
        };
        let (state, actions) = state.on(&policy, paid.clone());
        assert_eq!(actions, vec![Action::RecomputeEntitlements]);
        assert_eq!(
            state,
            DunningState::Recovered {
                invoice: "in_1".to_owned(),
                paid_at: day(4)
            }
        );
        assert_eq!(state.standing(&policy), Standing::Good);

        let late_jobs = [
            DunningEvent::RetryDue {
                number: 2,
                at: day(5),
            },
            DunningEvent::GraceEnded { at: day(10) },
            failed("in_1", day(5), false),
            paid,
        ];
        for event in late_jobs {
            let (after, actions) = state.clone().on(&policy, event);
            assert_eq!(after, state);
            assert!(actions.is_empty());
        }
        let (next, _) = state.on(&policy, failed("in_2", day(30), false));
        assert!(matches!(next, DunningState::Chasing { invoice, .. } if invoice == "in_2"));
    }

    #[test]
    fn the_standing_drives_the_entitlement_computation() {
        use crate::entitlements::{LiveSubscription, Source, diff, effective_entitlements};
        let pro = plan(
            1,
            vec![
                grant("seats", GrantValue::Limit(10)),
                grant("sso", GrantValue::Enabled),
            ],
        );
        let policy = policy();
        let entitlements_in = |state: &DunningState| {
            let subscription = LiveSubscription {
                plan: &pro,
                standing: state.standing(&policy),
            };
            effective_entitlements(&[subscription], &[], now())
        };
        let before = entitlements_in(&DunningState::Idle);
        let (chasing, _) = DunningState::Idle.on(&policy, failed("in_1", now(), false));
        let degraded = entitlements_in(&chasing);
        assert_eq!(degraded.len(), 1, "only the reduced set remains");
        let seats = degraded.values().next().unwrap();
        assert_eq!(
            (seats.limit, &seats.source),
            (Some(1), &Source::Dunning(plan_id(1)))
        );
        assert_eq!(diff(&before, &degraded).len(), 2);

        let paid = DunningEvent::Paid {
            invoice: "in_1".to_owned(),
            at: day(2),
        };
        let (recovered, _) = chasing.on(&policy, paid);
        assert_eq!(entitlements_in(&recovered), before);
    }

    #[test]
    fn authentication_required_sends_the_link() {
        let policy = policy();
        let (state, actions) = DunningState::Idle.on(&policy, failed("in_1", now(), true));
        assert!(actions.contains(&Action::SendAuthenticationLink {
            invoice: "in_1".to_owned()
        }));
        let (state, actions) = state.on(&policy, failed("in_1", day(1), true));
        assert_eq!(
            actions,
            vec![Action::SendAuthenticationLink {
                invoice: "in_1".to_owned()
            }]
        );
        let (_, actions) = state.on(&policy, failed("in_1", day(2), false));
        assert!(
            actions.is_empty(),
            "a plain failure report from Stripe's own retry changes nothing"
        );
    }

    #[test]
    fn early_duplicate_or_out_of_order_jobs_do_nothing() {
        let policy = policy();
        let (state, _) = DunningState::Idle.on(&policy, failed("in_1", now(), false));
        for event in [
            DunningEvent::RetryDue {
                number: 1,
                at: day(2),
            },
            DunningEvent::RetryDue {
                number: 2,
                at: day(4),
            },
            retry_failed(1, 3),
            DunningEvent::GraceEnded { at: day(9) },
            DunningEvent::Paid {
                invoice: "in_other".to_owned(),
                at: day(1),
            },
            failed("in_other", day(1), true),
        ] {
            let (after, actions) = state.clone().on(&policy, event.clone());
            assert_eq!(after, state, "{event:?}");
            assert!(actions.is_empty(), "{event:?}");
        }
        let (state, _) = state.on(
            &policy,
            DunningEvent::RetryDue {
                number: 1,
                at: day(3),
            },
        );
        let (again, actions) = state.clone().on(
            &policy,
            DunningEvent::RetryDue {
                number: 1,
                at: day(3),
            },
        );
        assert_eq!((again, actions), (state, vec![]));
    }

    #[test]
    fn a_lost_retry_outcome_does_not_stall_the_schedule() {
        let policy = policy();
        let (state, _) = DunningState::Idle.on(&policy, failed("in_1", now(), false));
        let due = |number, days| DunningEvent::RetryDue {
            number,
            at: day(days),
        };
        let (state, _) = state.on(&policy, due(1, 3));
        // Retry 1's outcome never arrives; retry 2 still runs on time.
        let (state, actions) = state.on(&policy, due(2, 5));
        assert!(matches!(
            actions.as_slice(),
            [Action::RetryPayment { number: 2, .. }]
        ));
        let (state, actions) = state.on(&policy, retry_failed(1, 5));
        assert!(actions.is_empty(), "retry 1 is no longer the latest");
        let (state, actions) = state.on(&policy, due(1, 6));
        assert!(actions.is_empty(), "a late job for an earlier retry");
        let (state, _) = state.on(&policy, due(3, 7));
        let (_, actions) = state.on(&policy, retry_failed(3, 7));
        assert_eq!(
            actions,
            vec![Action::SendReminder {
                invoice: "in_1".to_owned(),
                after: ReminderStep::Retry(3)
            }]
        );
    }

    #[test]
    fn revoking_final_action_revokes_entitlements() {
        let spec = DunningPolicySpec {
            grace_entitlements: GraceEntitlements::Full,
            final_action: FinalAction::MarkUnpaidAndRevoke,
            ..spec()
        };
        let policy = DunningPolicy::try_from(spec).unwrap();
        let (state, actions) = DunningState::Idle.on(&policy, failed("in_1", now(), false));
        assert!(
            !actions.contains(&Action::RecomputeEntitlements),
            "full grace changes nothing"
        );
        assert_eq!(state.standing(&policy), Standing::Good);
        let (state, actions) = state.on(&policy, DunningEvent::GraceEnded { at: day(10) });
        assert_eq!(
            actions,
            vec![
                Action::TakeFinalAction {
                    invoice: "in_1".to_owned(),
                    action: FinalAction::MarkUnpaidAndRevoke
                },
                Action::RecomputeEntitlements,
            ]
        );
        assert_eq!(state.standing(&policy), Standing::Revoked);
    }

    fn policy_strategy() -> impl Strategy<Value = DunningPolicy> {
        (
            prop::collection::btree_set(1u16..30, 0..=MAX_RETRIES),
            0u16..10,
            any::<bool>(),
            any::<u8>(),
        )
            .prop_map(|(days, extra_grace, degrade, reminder_mask)| {
                let retry_days: Vec<u16> = days.into_iter().collect();
                let grace_days = retry_days.last().copied().unwrap_or(0) + 1 + extra_grace;
                let mut reminders: BTreeSet<ReminderStep> = (1..=retry_days.len() as u8)
                    .filter(|number| reminder_mask & (1 << (number - 1)) != 0)
                    .map(ReminderStep::Retry)
                    .collect();
                if reminder_mask.is_multiple_of(3) {
                    reminders.insert(ReminderStep::FirstFailure);
                }
                let grace_entitlements = if degrade {
                    GraceEntitlements::Degrade(vec![])
                } else {
                    GraceEntitlements::Full
                };
                DunningPolicy::try_from(DunningPolicySpec {
                    retry_days,
                    grace_days,
                    grace_entitlements,
                    reminders,
                    final_action: FinalAction::Cancel,
                    stripe_retries: false,
                })
                .unwrap()
            })
    }

    /// Drives the state machine like the engine would, with every payment
    /// failing, and writes down what it did as a timeline.
    fn run_unpaid(policy: &DunningPolicy, first_failure_at: DateTime<Utc>) -> Vec<TimelineStep> {
        let mut jobs: BTreeMap<(DateTime<Utc>, u8), DunningEvent> = BTreeMap::new();
        let mut timeline = vec![TimelineStep {
            at: first_failure_at,
            event: TimelineEvent::FirstFailure,
        }];
        let mut pending = vec![(first_failure_at, failed("in_1", first_failure_at, false))];
        let mut state = DunningState::Idle;
        while let Some((now, event)) = pending
            .pop()
            .or_else(|| jobs.pop_first().map(|((at, _), e)| (at, e)))
        {
            let (next, actions) = state.on(policy, event);
            state = next;
            for action in actions {
                let step = |event| TimelineStep { at: now, event };
                match action {
                    Action::ScheduleRetry { number, at } => {
                        jobs.insert((at, number), DunningEvent::RetryDue { number, at });
                    }
                    Action::ScheduleGraceEnd { at } => {
                        jobs.insert((at, u8::MAX), DunningEvent::GraceEnded { at });
                    }
                    Action::RetryPayment { number, .. } => {
                        timeline.push(step(TimelineEvent::Retry { number }));
                        pending.push((
                            now,
                            DunningEvent::RetryFailed {
                                number,
                                at: now,
                                requires_authentication: false,
                            },
                        ));
                    }
                    Action::SendReminder { after, .. } => {
                        timeline.push(step(TimelineEvent::Reminder { after }))
                    }
                    Action::RecomputeEntitlements
                        if matches!(state, DunningState::Chasing { .. }) =>
                    {
                        timeline.push(step(TimelineEvent::EntitlementsDegraded));
                    }
                    Action::TakeFinalAction { action, .. } => {
                        timeline.push(step(TimelineEvent::GraceEnds));
                        timeline.push(step(TimelineEvent::FinalAction { action }));
                    }
                    _ => {}
                }
            }
        }
        timeline
    }

    proptest! {
        #[test]
        fn the_engine_does_what_the_preview_shows(policy in policy_strategy(), offset_minutes in 0i64..100_000) {
            let first_failure_at = now() + TimeDelta::minutes(offset_minutes);
            prop_assert_eq!(run_unpaid(&policy, first_failure_at), preview(&policy, first_failure_at));
        }

        #[test]
        fn stored_policies_read_back_identical(policy in policy_strategy()) {
            let json = serde_json::to_string(&policy).unwrap();
            prop_assert_eq!(serde_json::from_str::<DunningPolicy>(&json).unwrap(), policy);
        }

        #[test]
        fn the_preview_is_in_time_order_and_ends_with_the_final_action(policy in policy_strategy()) {
            let timeline = preview(&policy, now());
            prop_assert!(timeline.windows(2).all(|pair| pair[0].at <= pair[1].at));
            let is_final = matches!(timeline.last().map(|s| &s.event), Some(TimelineEvent::FinalAction { .. }));
            prop_assert!(is_final);
            let retries = timeline.iter().filter(|s| matches!(s.event, TimelineEvent::Retry { .. })).count();
            prop_assert_eq!(retries, usize::from(policy.retries()));
        }
    }
}
