//! The local mirror of a Stripe subscription, in domain terms.
//!
//! The Stripe adapter translates `customer.subscription.*` events and API
//! responses into a [`SubscriptionState`]; [`crate::mirror::apply`] decides
//! whether it replaces the stored record. Stripe's lifecycle, as the ordering
//! uses it: `incomplete` → `active` (or `incomplete_expired` after 23 hours),
//! `trialing` → `active`, `active` ⇄ `past_due` → `unpaid`/`canceled`, and
//! `paused` ⇄ `active`. `canceled` and `incomplete_expired` are terminal.
//!
//! Since API version 2025-03-31 the current period lives on each item, not on
//! the subscription, so items carry it and [`SubscriptionState::current_period`]
//! derives the subscription's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mirror::{Mirrored, Observed, stripe_status};

stripe_status! {
    /// Where a subscription is in Stripe's lifecycle.
    SubscriptionStatus {
        /// Created, first payment not made yet.
        Incomplete => "incomplete",
        /// The first payment never came (terminal).
        IncompleteExpired => "incomplete_expired",
        /// In a free trial.
        Trialing => "trialing",
        /// Paid up.
        Active => "active",
        /// A renewal payment failed; retries pending.
        PastDue => "past_due",
        /// Retries exhausted; left open but unpaid.
        Unpaid => "unpaid",
        /// Ended (terminal).
        Canceled => "canceled",
        /// Trial ended without a payment method.
        Paused => "paused",
    }
}

impl SubscriptionStatus {
    /// Whether a subscription in this status carries its plan's entitlements
    /// (before dunning adjusts them): trialing, active and past due ones do;
    /// a past-due subscription is in dunning, whose policy decides the rest.
    pub fn grants_entitlements(&self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }

    fn rank(&self) -> u8 {
        match self {
            SubscriptionStatus::Unknown(_) | SubscriptionStatus::Incomplete => 0,
            SubscriptionStatus::Trialing => 1,
            SubscriptionStatus::Active => 2,
            SubscriptionStatus::PastDue => 3,
            SubscriptionStatus::Unpaid | SubscriptionStatus::Paused => 4,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired => 5,
        }
    }
}

/// One line of a subscription: a price, a quantity and its billing period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionItem {
    /// Stripe's `si_…` id, stable across plan changes of this line.
    pub stripe_item_id: String,
    /// The Stripe price billed (`price_…`); the store maps it to a plan.
    pub stripe_price_id: String,
    /// Seats or units; 1 for flat prices.
    pub quantity: u64,
    /// Start of the period the item is currently billed for.
    pub current_period_start: DateTime<Utc>,
    /// End of that period: the next renewal.
    pub current_period_end: DateTime<Utc>,
}

/// A subscription as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionState {
    /// Stripe's `sub_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// The Stripe customer (`cus_…`) it belongs to.
    pub stripe_customer_id: String,
    /// Lifecycle status.
    pub status: SubscriptionStatus,
    /// What is billed.
    pub items: Vec<SubscriptionItem>,
    /// When the trial ends (or ended), if there is one.
    pub trial_end: Option<DateTime<Utc>>,
    /// Whether it ends at the end of the current period instead of renewing.
    pub cancel_at_period_end: bool,
    /// A scheduled end, if one is set.
    pub cancel_at: Option<DateTime<Utc>>,
    /// When cancellation was requested.
    pub canceled_at: Option<DateTime<Utc>>,
    /// When it actually ended.
    pub ended_at: Option<DateTime<Utc>>,
}

impl SubscriptionState {
    /// The subscription's current period: from the earliest item start to
    /// the latest item end (items renew together unless a merchant mixes
    /// intervals). `None` without items.
    pub fn current_period(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = self
            .items
            .iter()
            .map(|item| item.current_period_start)
            .min()?;
        let end = self
            .items
            .iter()
            .map(|item| item.current_period_end)
            .max()?;
        Some((start, end))
    }

    /// Whether it will stop at the end of the current period (or at a set
    /// time) rather than renew.
    pub fn is_ending(&self) -> bool {
        self.cancel_at_period_end || self.cancel_at.is_some()
    }
}

impl Mirrored for SubscriptionState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }

    fn status_rank(&self) -> u8 {
        self.status.rank()
    }
}

/// The stored mirror of a subscription: its newest observation.
pub type SubscriptionRecord = Observed<SubscriptionState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::tests::{assert_converges, at, deliveries};
    use crate::mirror::{Applied, DifferentObject, Ignored, apply};
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn state(status: SubscriptionStatus) -> SubscriptionState {
        SubscriptionState {
            stripe_id: "sub_1".to_owned(),
            stripe_customer_id: "cus_1".to_owned(),
            status,
            items: vec![SubscriptionItem {
                stripe_item_id: "si_1".to_owned(),
                stripe_price_id: "price_1".to_owned(),
                quantity: 1,
                current_period_start: at(0),
                current_period_end: at(0) + TimeDelta::days(30),
            }],
            trial_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
        }
    }

    fn seen(status: SubscriptionStatus, second: i64) -> SubscriptionRecord {
        Observed::new(state(status), at(second))
    }

    fn stored_after(
        current: &SubscriptionRecord,
        incoming: SubscriptionRecord,
    ) -> Applied<SubscriptionState> {
        apply(Some(current), incoming).unwrap()
    }

    #[test]
    fn first_sighting_creates_the_record() {
        let incoming = seen(SubscriptionStatus::Incomplete, 0);
        assert_eq!(
            apply(None, incoming.clone()),
            Ok(Applied::Created(incoming))
        );
    }

    #[test]
    fn newer_wins_older_is_ignored() {
        let active = seen(SubscriptionStatus::Active, 10);
        let past_due = seen(SubscriptionStatus::PastDue, 20);
        assert_eq!(
            stored_after(&active, past_due.clone()),
            Applied::Updated {
                record: past_due.clone(),
                needs_refetch: false
            }
        );
        assert_eq!(
            stored_after(&past_due, active),
            Applied::Ignored(Ignored::Stale)
        );
        assert_eq!(
            stored_after(&past_due, past_due.clone()),
            Applied::Ignored(Ignored::Duplicate)
        );
    }

    #[test]
    fn terminal_states_never_regress() {
        let canceled = seen(SubscriptionStatus::Canceled, 10);
        let late_active = seen(SubscriptionStatus::Active, 99);
        assert_eq!(
            stored_after(&canceled, late_active),
            Applied::Ignored(Ignored::Stale)
        );
        let expired = seen(SubscriptionStatus::IncompleteExpired, 10);
        let stale_incomplete = seen(SubscriptionStatus::Incomplete, 99);
        assert_eq!(
            stored_after(&expired, stale_incomplete),
            Applied::Ignored(Ignored::Stale)
        );
    }

    #[test]
    fn same_second_ties_break_by_lifecycle_then_ask_for_a_refetch() {
        let incomplete = seen(SubscriptionStatus::Incomplete, 10);
        let active = seen(SubscriptionStatus::Active, 10);
        assert!(matches!(
            stored_after(&incomplete, active.clone()),
            Applied::Updated {
                needs_refetch: false,
                ..
            }
        ));
        let mut ending = active.clone();
        ending.state.cancel_at_period_end = true;
        let outcome = stored_after(&active, ending.clone());
        assert!(
            outcome.needs_refetch(),
            "same status, same second: unknown order"
        );
        let reverse = stored_after(&ending, active);
        assert!(reverse.needs_refetch());
        assert!(
            matches!(outcome, Applied::Updated { .. })
                != matches!(reverse, Applied::Updated { .. }),
            "exactly one of the two wins, whatever the arrival order"
        );
    }

    #[test]
    fn a_refetch_settles_a_tie_even_with_a_lagging_clock() {
        let active = seen(SubscriptionStatus::Active, 10);
        let mut ending = active.clone();
        ending.state.cancel_at_period_end = true;
        let stored = apply(Some(&active), ending.clone())
            .unwrap()
            .into_record()
            .unwrap_or(active);
        let mut truth = state(SubscriptionStatus::Active);
        truth.cancel_at_period_end = false;
        let lagging_now = at(8);
        let fetched = Observed::refetched(truth.clone(), lagging_now, Some(&stored));
        assert_eq!(fetched.observed_at, at(11));
        let outcome = apply(Some(&stored), fetched).unwrap();
        assert!(!outcome.needs_refetch());
        assert_eq!(outcome.into_record().map(|r| r.state), Some(truth));
        let first = Observed::refetched(state(SubscriptionStatus::Active), at(50), None);
        assert_eq!(first.observed_at, at(50));
    }

    #[test]
    fn another_subscription_is_refused() {
        let mine = seen(SubscriptionStatus::Active, 1);
        let mut other = seen(SubscriptionStatus::Active, 2);
        other.state.stripe_id = "sub_2".to_owned();
        assert_eq!(
            apply(Some(&mine), other),
            Err(DifferentObject {
                stored: "sub_1".to_owned(),
                incoming: "sub_2".to_owned()
            })
        );
    }

    #[test]
    fn statuses_round_trip_including_unknown_ones() {
        let json = serde_json::to_string(&SubscriptionStatus::PastDue).unwrap();
        assert_eq!(json, r#""past_due""#);
        let future: SubscriptionStatus = serde_json::from_str(r#""on_hold""#).unwrap();
        assert_eq!(future, SubscriptionStatus::Unknown("on_hold".to_owned()));
        assert_eq!(serde_json::to_string(&future).unwrap(), r#""on_hold""#);
        assert!(SubscriptionStatus::Trialing.grants_entitlements());
        assert!(SubscriptionStatus::PastDue.grants_entitlements());
        assert!(!SubscriptionStatus::Unpaid.grants_entitlements());
        assert!(!SubscriptionStatus::Paused.grants_entitlements());
        assert!(!future.grants_entitlements());
    }

    #[test]
    fn period_comes_from_the_items() {
        let mut subscription = state(SubscriptionStatus::Active);
        assert_eq!(
            subscription.current_period(),
            Some((at(0), at(0) + TimeDelta::days(30)))
        );
        subscription.items.clear();
        assert_eq!(subscription.current_period(), None);
        assert!(!subscription.is_ending());
        subscription.cancel_at_period_end = true;
        assert!(subscription.is_ending());
    }

    fn status_strategy() -> impl Strategy<Value = SubscriptionStatus> {
        prop::sample::select(vec![
            SubscriptionStatus::Incomplete,
            SubscriptionStatus::IncompleteExpired,
            SubscriptionStatus::Trialing,
            SubscriptionStatus::Active,
            SubscriptionStatus::PastDue,
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Canceled,
            SubscriptionStatus::Paused,
            SubscriptionStatus::Unknown("on_hold".to_owned()),
        ])
    }

    /// Observations of one subscription within a few seconds, so ties on
    /// time are frequent.
    fn observation_strategy() -> impl Strategy<Value = SubscriptionRecord> {
        (status_strategy(), 0i64..4, any::<bool>(), 1u64..4).prop_map(
            |(status, second, cancel_at_period_end, quantity)| {
                let mut observed = seen(status, second);
                observed.state.cancel_at_period_end = cancel_at_period_end;
                observed.state.items[0].quantity = quantity;
                observed
            },
        )
    }

    proptest! {
        #[test]
        fn any_delivery_order_converges(
            (in_order, delivered) in deliveries(observation_strategy(), 0..8)
        ) {
            assert_converges(&in_order, &delivered)?;
        }
    }
}
