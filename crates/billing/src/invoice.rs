//! The local mirror of a Stripe invoice, in domain terms.
//!
//! Stripe's lifecycle: `draft` → `open` → `paid` | `void`, with
//! `uncollectible` as a side state of an open invoice that can still be paid
//! or voided later. `paid` and `void` are terminal. Each failed payment
//! increments `attempt_count`, which never decreases, so it orders
//! observations before time does (see [`crate::mirror`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mirror::{Mirrored, Observed, stripe_status};
use crate::money::{Currency, Money};

stripe_status! {
    /// Where an invoice is in Stripe's lifecycle.
    InvoiceStatus {
        /// Being prepared; can still change.
        Draft => "draft",
        /// Finalized and awaiting payment.
        Open => "open",
        /// Paid (terminal).
        Paid => "paid",
        /// Given up on, but can still be paid or voided.
        Uncollectible => "uncollectible",
        /// Cancelled (terminal).
        Void => "void",
    }
}

impl InvoiceStatus {
    fn rank(&self) -> u8 {
        match self {
            InvoiceStatus::Unknown(_) | InvoiceStatus::Draft => 0,
            InvoiceStatus::Open => 1,
            InvoiceStatus::Uncollectible => 2,
            InvoiceStatus::Paid | InvoiceStatus::Void => 3,
        }
    }
}

/// An invoice as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InvoiceState {
    /// Stripe's `in_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// The Stripe customer billed.
    pub stripe_customer_id: String,
    /// The subscription it bills, if any (Stripe's
    /// `parent.subscription_details.subscription`).
    pub stripe_subscription_id: Option<String>,
    /// Lifecycle status.
    pub status: InvoiceStatus,
    /// The currency of all three amounts (kept once, so they cannot differ).
    pub currency: Currency,
    /// Total to pay, in minor units.
    pub amount_due_minor: i64,
    /// Paid so far, in minor units.
    pub amount_paid_minor: i64,
    /// Still owed, in minor units.
    pub amount_remaining_minor: i64,
    /// Payment attempts so far; only grows.
    pub attempt_count: u32,
    /// When Stripe will retry next; `None` when no retry is scheduled.
    pub next_payment_attempt: Option<DateTime<Utc>>,
    /// The page where the customer can pay (or authenticate a payment).
    pub hosted_invoice_url: Option<String>,
    /// The human-facing invoice number, set at finalization.
    pub number: Option<String>,
}

impl InvoiceState {
    pub fn amount_due(&self) -> Money {
        Money::new(self.amount_due_minor, self.currency)
    }

    pub fn amount_paid(&self) -> Money {
        Money::new(self.amount_paid_minor, self.currency)
    }

    pub fn amount_remaining(&self) -> Money {
        Money::new(self.amount_remaining_minor, self.currency)
    }
}

impl Mirrored for InvoiceState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        matches!(self.status, InvoiceStatus::Paid | InvoiceStatus::Void)
    }

    fn progress(&self) -> u64 {
        self.attempt_count.into()
    }

    fn status_rank(&self) -> u8 {
        self.status.rank()
    }
}

/// The stored mirror of an invoice: its newest observation.
pub type InvoiceRecord = Observed<InvoiceState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::tests::{assert_converges, at, deliveries};
    use crate::mirror::{Applied, Ignored, apply};
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn seen(status: InvoiceStatus, attempt_count: u32, second: i64) -> InvoiceRecord {
        let paid = status == InvoiceStatus::Paid;
        let state = InvoiceState {
            stripe_id: "in_1".to_owned(),
            stripe_customer_id: "cus_1".to_owned(),
            stripe_subscription_id: Some("sub_1".to_owned()),
            status,
            currency: Currency::EUR,
            amount_due_minor: 2900,
            amount_paid_minor: if paid { 2900 } else { 0 },
            amount_remaining_minor: if paid { 0 } else { 2900 },
            attempt_count,
            next_payment_attempt: None,
            hosted_invoice_url: Some("https://invoice.stripe.com/i/1".to_owned()),
            number: Some("A-0001".to_owned()),
        };
        Observed::new(state, at(second))
    }

    fn outcome(current: &InvoiceRecord, incoming: InvoiceRecord) -> Applied<InvoiceState> {
        apply(Some(current), incoming).unwrap()
    }

    #[test]
    fn attempt_count_never_goes_back() {
        let third_failure = seen(InvoiceStatus::Open, 3, 10);
        let stale_second_failure = seen(InvoiceStatus::Open, 2, 50);
        assert_eq!(
            outcome(&third_failure, stale_second_failure),
            Applied::Ignored(Ignored::Stale)
        );
    }

    #[test]
    fn paid_and_void_are_final_uncollectible_is_not() {
        let paid = seen(InvoiceStatus::Paid, 2, 10);
        assert_eq!(
            outcome(&paid, seen(InvoiceStatus::Open, 5, 60)),
            Applied::Ignored(Ignored::Stale)
        );
        let uncollectible = seen(InvoiceStatus::Uncollectible, 4, 10);
        assert!(matches!(
            outcome(&uncollectible, seen(InvoiceStatus::Paid, 4, 20)),
            Applied::Updated { .. }
        ));
        let draft = seen(InvoiceStatus::Draft, 0, 0);
        assert!(matches!(
            outcome(&draft, seen(InvoiceStatus::Open, 0, 0)),
            Applied::Updated {
                needs_refetch: false,
                ..
            }
        ));
    }

    #[test]
    fn amounts_share_the_invoice_currency() {
        let invoice = seen(InvoiceStatus::Paid, 1, 0).state;
        assert_eq!(invoice.amount_paid(), Money::new(2900, Currency::EUR));
        assert_eq!(invoice.amount_remaining(), Money::zero(Currency::EUR));
        assert_eq!(invoice.amount_due().to_string(), "€29.00");
        let json = serde_json::to_value(&invoice).unwrap();
        assert_eq!(json["status"], "paid");
        assert_eq!(json["currency"], "eur");
    }

    fn observation_strategy() -> impl Strategy<Value = InvoiceRecord> {
        let status = prop::sample::select(vec![
            InvoiceStatus::Draft,
            InvoiceStatus::Open,
            InvoiceStatus::Paid,
            InvoiceStatus::Uncollectible,
            InvoiceStatus::Void,
            InvoiceStatus::Unknown("in_review".to_owned()),
        ]);
        (status, 0u32..3, 0i64..4, proptest::option::of(0i64..3)).prop_map(
            |(status, attempts, second, retry_in_days)| {
                let mut observed = seen(status, attempts, second);
                observed.state.next_payment_attempt =
                    retry_in_days.map(|days| at(second) + TimeDelta::days(days));
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

        #[test]
        fn the_record_never_loses_attempts(
            (_, delivered) in deliveries(observation_strategy(), 1..8)
        ) {
            let mut record: Option<InvoiceRecord> = None;
            for incoming in delivered {
                let before = record.as_ref().map(|r| (r.state.attempt_count, r.state.status.clone()));
                if let Applied::Created(new) | Applied::Updated { record: new, .. } = apply(record.as_ref(), incoming).unwrap() {
                    if let Some((attempts, status)) = before {
                        // Only reaching a terminal state outranks the counter.
                        let terminal = |status: &InvoiceStatus| matches!(status, InvoiceStatus::Paid | InvoiceStatus::Void);
                        let became_terminal = !terminal(&status) && terminal(&new.state.status);
                        prop_assert!(became_terminal || new.state.attempt_count >= attempts);
                    }
                    record = Some(new);
                }
            }
        }
    }
}
