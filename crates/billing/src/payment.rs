//! Local mirrors of payments (payment intents), refunds and disputes, in
//! domain terms, ordered like every mirror (see [`crate::mirror`]).
//!
//! Lifecycles, as the ordering uses them:
//! - payment: `requires_payment_method` → `requires_confirmation` →
//!   `requires_action` → `processing` → (`requires_capture`) → `succeeded`,
//!   or `canceled`; a failed attempt goes back to `requires_payment_method`.
//!   `succeeded` and `canceled` are terminal.
//! - refund: `requires_action` → `pending` → `succeeded`, or `failed` /
//!   `canceled`. A succeeded refund can still fail later (the bank returns
//!   it), so only `failed` and `canceled` are terminal.
//! - dispute: an inquiry (`warning_needs_response` → `warning_under_review`
//!   → `warning_closed`) may escalate to a chargeback (`needs_response` →
//!   `under_review` → `won` | `lost`). `warning_closed`, `won` and `lost` are
//!   terminal.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mirror::{Mirrored, Observed, stripe_status};
use crate::money::{Currency, Money};

stripe_status! {
    /// Where a payment intent is in Stripe's lifecycle.
    PaymentStatus {
        /// Waiting for (another) payment method, e.g. after a decline.
        RequiresPaymentMethod => "requires_payment_method",
        /// Waiting to be confirmed.
        RequiresConfirmation => "requires_confirmation",
        /// Waiting for the customer to authenticate (SCA).
        RequiresAction => "requires_action",
        /// The bank is processing it.
        Processing => "processing",
        /// Authorized, waiting to be captured.
        RequiresCapture => "requires_capture",
        /// Money received (terminal).
        Succeeded => "succeeded",
        /// Abandoned (terminal).
        Canceled => "canceled",
    }
}

stripe_status! {
    /// Where a refund is in Stripe's lifecycle.
    RefundStatus {
        /// Waiting for the customer to act (some payment methods).
        RequiresAction => "requires_action",
        /// Sent, not settled yet.
        Pending => "pending",
        /// Settled, though the bank may still return it.
        Succeeded => "succeeded",
        /// Returned or refused (terminal).
        Failed => "failed",
        /// Withdrawn (terminal).
        Canceled => "canceled",
    }
}

stripe_status! {
    /// Where a dispute is in Stripe's lifecycle.
    DisputeStatus {
        /// An inquiry awaiting the merchant's answer.
        WarningNeedsResponse => "warning_needs_response",
        /// An inquiry under review.
        WarningUnderReview => "warning_under_review",
        /// An inquiry closed without a chargeback (terminal).
        WarningClosed => "warning_closed",
        /// A chargeback awaiting evidence.
        NeedsResponse => "needs_response",
        /// A chargeback under review.
        UnderReview => "under_review",
        /// Decided for the merchant (terminal).
        Won => "won",
        /// Decided for the customer (terminal).
        Lost => "lost",
    }
}

/// A payment (Stripe payment intent) as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PaymentState {
    /// Stripe's `pi_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// The Stripe customer paying, if any.
    pub stripe_customer_id: Option<String>,
    /// Lifecycle status.
    pub status: PaymentStatus,
    /// The currency of both amounts.
    pub currency: Currency,
    /// Amount asked, in minor units.
    pub amount_minor: i64,
    /// Amount received so far, in minor units.
    pub amount_received_minor: i64,
    /// Stripe's code for the last failure (`card_declined`, …), shown to
    /// the merchant to explain a failed payment.
    pub last_error_code: Option<String>,
}

impl PaymentState {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }

    pub fn amount_received(&self) -> Money {
        Money::new(self.amount_received_minor, self.currency)
    }
}

impl Mirrored for PaymentState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            PaymentStatus::Succeeded | PaymentStatus::Canceled
        )
    }

    fn status_rank(&self) -> u8 {
        match self.status {
            PaymentStatus::Unknown(_) | PaymentStatus::RequiresPaymentMethod => 0,
            PaymentStatus::RequiresConfirmation => 1,
            PaymentStatus::RequiresAction => 2,
            PaymentStatus::Processing => 3,
            PaymentStatus::RequiresCapture => 4,
            PaymentStatus::Succeeded | PaymentStatus::Canceled => 5,
        }
    }
}

/// A refund as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RefundState {
    /// Stripe's `re_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// The payment refunded, if it was a payment intent.
    pub stripe_payment_intent_id: Option<String>,
    /// Lifecycle status.
    pub status: RefundStatus,
    /// The currency of the amount.
    pub currency: Currency,
    /// Amount refunded, in minor units.
    pub amount_minor: i64,
    /// Why it was refunded (`requested_by_customer`, `duplicate`, …).
    pub reason: Option<String>,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
}

impl RefundState {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }
}

impl Mirrored for RefundState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        matches!(self.status, RefundStatus::Failed | RefundStatus::Canceled)
    }

    fn status_rank(&self) -> u8 {
        match self.status {
            RefundStatus::Unknown(_) | RefundStatus::RequiresAction => 0,
            RefundStatus::Pending => 1,
            RefundStatus::Succeeded => 2,
            RefundStatus::Failed | RefundStatus::Canceled => 3,
        }
    }
}

/// A dispute (inquiry or chargeback) as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DisputeState {
    /// Stripe's `dp_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// The payment disputed, if it was a payment intent.
    pub stripe_payment_intent_id: Option<String>,
    /// Lifecycle status.
    pub status: DisputeStatus,
    /// The currency of the amount.
    pub currency: Currency,
    /// Amount disputed, in minor units.
    pub amount_minor: i64,
    /// The customer's stated reason (`fraudulent`, `product_not_received`, …).
    pub reason: String,
    /// The deadline for the merchant's evidence, while one applies.
    pub evidence_due_by: Option<DateTime<Utc>>,
}

impl DisputeState {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency)
    }

    /// Whether the merchant must respond (and by `evidence_due_by`).
    pub fn needs_response(&self) -> bool {
        matches!(
            self.status,
            DisputeStatus::NeedsResponse | DisputeStatus::WarningNeedsResponse
        )
    }
}

impl Mirrored for DisputeState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self.status,
            DisputeStatus::WarningClosed | DisputeStatus::Won | DisputeStatus::Lost
        )
    }

    fn status_rank(&self) -> u8 {
        match self.status {
            DisputeStatus::Unknown(_) | DisputeStatus::WarningNeedsResponse => 0,
            DisputeStatus::WarningUnderReview => 1,
            DisputeStatus::NeedsResponse => 2,
            DisputeStatus::UnderReview => 3,
            DisputeStatus::WarningClosed | DisputeStatus::Won | DisputeStatus::Lost => 4,
        }
    }
}

/// The stored mirror of a payment.
pub type PaymentRecord = Observed<PaymentState>;
/// The stored mirror of a refund.
pub type RefundRecord = Observed<RefundState>;
/// The stored mirror of a dispute.
pub type DisputeRecord = Observed<DisputeState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::tests::{assert_converges, at, deliveries};
    use crate::mirror::{Applied, Ignored, apply};
    use proptest::prelude::*;
    use std::fmt::Debug;

    fn payment(status: PaymentStatus) -> PaymentState {
        let received = if status == PaymentStatus::Succeeded {
            4900
        } else {
            0
        };
        PaymentState {
            stripe_id: "pi_1".to_owned(),
            stripe_customer_id: Some("cus_1".to_owned()),
            status,
            currency: Currency::USD,
            amount_minor: 4900,
            amount_received_minor: received,
            last_error_code: None,
        }
    }

    fn refund(status: RefundStatus) -> RefundState {
        RefundState {
            stripe_id: "re_1".to_owned(),
            stripe_payment_intent_id: Some("pi_1".to_owned()),
            status,
            currency: Currency::USD,
            amount_minor: 1000,
            reason: Some("requested_by_customer".to_owned()),
            failure_reason: None,
        }
    }

    fn dispute(status: DisputeStatus) -> DisputeState {
        DisputeState {
            stripe_id: "dp_1".to_owned(),
            stripe_payment_intent_id: Some("pi_1".to_owned()),
            status,
            currency: Currency::USD,
            amount_minor: 4900,
            reason: "fraudulent".to_owned(),
            evidence_due_by: Some(at(86_400 * 7)),
        }
    }

    /// Whether `later` (observed after `earlier`) replaces it.
    fn replaces<S: Mirrored + Debug>(earlier: S, later: S) -> bool {
        let stored = Observed::new(earlier, at(10));
        match apply(Some(&stored), Observed::new(later, at(20))).unwrap() {
            Applied::Updated { .. } => true,
            Applied::Ignored(Ignored::Stale) => false,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn terminal_states_hold() {
        let retry = payment(PaymentStatus::RequiresPaymentMethod);
        assert!(!replaces(payment(PaymentStatus::Succeeded), retry.clone()));
        assert!(replaces(payment(PaymentStatus::Processing), retry));
        assert!(
            replaces(
                refund(RefundStatus::Succeeded),
                refund(RefundStatus::Failed)
            ),
            "a succeeded refund can still fail"
        );
        assert!(!replaces(
            refund(RefundStatus::Failed),
            refund(RefundStatus::Succeeded)
        ));
        assert!(replaces(
            dispute(DisputeStatus::WarningUnderReview),
            dispute(DisputeStatus::NeedsResponse)
        ));
        assert!(!replaces(
            dispute(DisputeStatus::Lost),
            dispute(DisputeStatus::UnderReview)
        ));
    }

    #[test]
    fn amounts_and_flags() {
        assert_eq!(
            payment(PaymentStatus::Succeeded)
                .amount_received()
                .to_string(),
            "$49.00"
        );
        assert_eq!(
            refund(RefundStatus::Pending).amount(),
            Money::new(1000, Currency::USD)
        );
        assert!(dispute(DisputeStatus::NeedsResponse).needs_response());
        assert!(!dispute(DisputeStatus::UnderReview).needs_response());
        let json = serde_json::to_value(dispute(DisputeStatus::WarningClosed)).unwrap();
        assert_eq!(json["status"], "warning_closed");
    }

    /// Observations of one object, a few seconds apart, in any of `statuses`.
    fn observations<S: Mirrored + Debug + 'static, T: Clone + Debug + 'static>(
        statuses: Vec<T>,
        build: fn(T) -> S,
    ) -> impl Strategy<Value = (Vec<Observed<S>>, Vec<Observed<S>>)> {
        let one = (prop::sample::select(statuses), 0i64..4)
            .prop_map(move |(status, second)| Observed::new(build(status), at(second)));
        deliveries(one, 0..8)
    }

    proptest! {
        #[test]
        fn payments_converge((in_order, delivered) in observations(vec![
            PaymentStatus::RequiresPaymentMethod, PaymentStatus::RequiresAction, PaymentStatus::Processing,
            PaymentStatus::Succeeded, PaymentStatus::Canceled, PaymentStatus::Unknown("new".to_owned()),
        ], payment)) {
            assert_converges(&in_order, &delivered)?;
        }

        #[test]
        fn refunds_converge((in_order, delivered) in observations(vec![
            RefundStatus::RequiresAction, RefundStatus::Pending, RefundStatus::Succeeded,
            RefundStatus::Failed, RefundStatus::Canceled,
        ], refund)) {
            assert_converges(&in_order, &delivered)?;
        }

        #[test]
        fn disputes_converge((in_order, delivered) in observations(vec![
            DisputeStatus::WarningNeedsResponse, DisputeStatus::WarningClosed, DisputeStatus::NeedsResponse,
            DisputeStatus::UnderReview, DisputeStatus::Won, DisputeStatus::Lost,
        ], dispute)) {
            assert_converges(&in_order, &delivered)?;
        }
    }
}
