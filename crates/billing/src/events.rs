//! Domain events: what happened to a tenant's customer, in Billforge's own
//! words rather than Stripe's.
//!
//! The mirror (and the dunning engine, and outbound webhooks) produce them in
//! the same transaction as the state change they describe; the mailer, the
//! dunning engine and outbound webhooks consume them. Each carries the facts
//! its consumers need, so a consumer never has to re-read mirror rows that may
//! have moved on since: a receipt shows the invoice as it was when it was paid.
//!
//! Architecture invariant: every event is recorded once per *cause* (the
//! Stripe event id, the dunning step, …) plus its kind, so a duplicate
//! delivery or a retried job can never produce a second event, a second
//! email or a second outbound delivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entitlements::EntitlementChange;
use crate::ids::{CustomerId, PlanId};
use crate::money::Money;

/// Who the event is about, as the merchant and the mailer need to address them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFacts {
    /// Billforge's id of the customer.
    pub customer_id: CustomerId,
    /// The Stripe customer (`cus_…`) on the tenant's connected account.
    pub stripe_customer_id: String,
    /// Where customer-facing mail goes; `None` means none can be sent.
    pub email: Option<String>,
    /// How to greet them.
    pub name: Option<String>,
}

/// A subscription as it stood when the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionFacts {
    /// Stripe's subscription id (`sub_…`).
    pub stripe_subscription_id: String,
    /// The customer.
    pub customer: CustomerFacts,
    /// The Billforge plan of the (first) item, when the price is one of ours.
    pub plan_id: Option<PlanId>,
    /// The plan's display name, for mail and dashboards.
    pub plan_name: Option<String>,
    /// The Stripe price of the (first) item.
    pub stripe_price_id: Option<String>,
    /// The price per interval of the item (per unit for per-seat prices).
    pub unit_amount: Option<Money>,
    /// `month`, `year`, `week` or `day`.
    pub interval: Option<String>,
    /// Seats (1 for flat prices).
    pub quantity: u64,
    /// Stripe's status string (`trialing`, `active`, `past_due`, …).
    pub status: String,
    /// End of the current period: the next renewal or the end of access.
    pub current_period_end: Option<DateTime<Utc>>,
    /// End of the trial, if any.
    pub trial_end: Option<DateTime<Utc>>,
    /// When access ends if a cancellation is scheduled or done.
    pub cancel_at: Option<DateTime<Utc>>,
}

/// An invoice as it stood when the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceFacts {
    /// Stripe's invoice id (`in_…`).
    pub stripe_invoice_id: String,
    /// The customer.
    pub customer: CustomerFacts,
    /// The subscription it bills, if any.
    pub stripe_subscription_id: Option<String>,
    /// The plan billed, when known.
    pub plan_name: Option<String>,
    /// The invoice number shown to the customer.
    pub number: Option<String>,
    /// What was due.
    pub amount_due: Money,
    /// What has been paid.
    pub amount_paid: Money,
    /// Stripe's payment attempts so far.
    pub attempt_count: u32,
    /// When Stripe will try again, if it will.
    pub next_payment_attempt: Option<DateTime<Utc>>,
    /// The hosted invoice page (pay, download the receipt).
    pub hosted_invoice_url: Option<String>,
    /// The service period billed.
    pub period_start: Option<DateTime<Utc>>,
    /// The service period billed.
    pub period_end: Option<DateTime<Utc>>,
}

/// A refund as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundFacts {
    /// Stripe's refund id (`re_…`).
    pub stripe_refund_id: String,
    /// The customer refunded.
    pub customer: CustomerFacts,
    /// The amount refunded.
    pub amount: Money,
    /// The amount of the payment refunded, to tell a full from a partial refund.
    pub payment_amount: Option<Money>,
    /// Stripe's reason, if one was given.
    pub reason: Option<String>,
}

/// A dispute as opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeFacts {
    /// Stripe's dispute id (`dp_…`).
    pub stripe_dispute_id: String,
    /// The customer, when the charge's customer is known.
    pub customer: Option<CustomerFacts>,
    /// The disputed amount.
    pub amount: Money,
    /// Stripe's reason code (`fraudulent`, …).
    pub reason: String,
    /// When evidence is due.
    pub evidence_due_by: Option<DateTime<Utc>>,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The customer or merchant asked for it.
    Requested,
    /// Payment failed for good (Stripe's own retries or Billforge's dunning).
    NonPayment,
}

/// One step the dunning engine took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningStepFacts {
    /// The unpaid invoice, as it stood.
    pub invoice: InvoiceFacts,
    /// `retry`, `reminder`, `authentication_required`, `final_notice`,
    /// `grace_ended`, `final_action` or `recovered`.
    pub step: String,
    /// 1-based number of the attempt or reminder this step is.
    pub attempt: u32,
    /// When the engine acts next, if it will.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Where the customer updates the card or completes authentication.
    pub action_url: Option<String>,
    /// The final action taken (`cancel`, `mark_unpaid`, `downgrade:<plan>`), on that step.
    pub final_action: Option<String>,
}

/// Something that happened, with the facts its consumers need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    /// A subscription came into being (any status).
    #[serde(rename = "subscription.created")]
    SubscriptionCreated(SubscriptionFacts),
    /// A subscription started a trial.
    #[serde(rename = "subscription.trial_started")]
    TrialStarted(SubscriptionFacts),
    /// A trial ends in three days (Stripe's `trial_will_end`).
    #[serde(rename = "subscription.trial_will_end")]
    TrialWillEnd(SubscriptionFacts),
    /// A subscription became `active` (paid first invoice, trial converted, recovered).
    #[serde(rename = "subscription.activated")]
    SubscriptionActivated(SubscriptionFacts),
    /// Plan, price or quantity changed.
    #[serde(rename = "subscription.updated")]
    SubscriptionUpdated {
        /// The subscription after the change.
        subscription: SubscriptionFacts,
        /// The plan before, when it changed.
        previous_plan_name: Option<String>,
        /// The quantity before, when it changed.
        previous_quantity: Option<u64>,
    },
    /// A cancellation at period end was scheduled (access until `cancel_at`).
    #[serde(rename = "subscription.cancellation_scheduled")]
    CancellationScheduled(SubscriptionFacts),
    /// A scheduled cancellation was withdrawn.
    #[serde(rename = "subscription.resumed")]
    SubscriptionResumed(SubscriptionFacts),
    /// A subscription ended.
    #[serde(rename = "subscription.canceled")]
    SubscriptionCanceled {
        /// The subscription as it ended.
        subscription: SubscriptionFacts,
        /// Why it ended; the mail differs for non-payment.
        reason: CancelReason,
    },
    /// The customer's effective entitlements changed.
    #[serde(rename = "entitlements.updated")]
    EntitlementsUpdated {
        /// Whose.
        customer: CustomerFacts,
        /// What changed, never empty.
        changes: Vec<EntitlementChange>,
    },
    /// An invoice was paid (a receipt goes out).
    #[serde(rename = "invoice.paid")]
    InvoicePaid(InvoiceFacts),
    /// A payment attempt on an invoice failed (dunning starts or goes on).
    #[serde(rename = "invoice.payment_failed")]
    PaymentFailed(InvoiceFacts),
    /// Payment needs the customer to authenticate (SCA).
    #[serde(rename = "invoice.payment_action_required")]
    PaymentActionRequired(InvoiceFacts),
    /// A refund was issued.
    #[serde(rename = "refund.created")]
    RefundIssued(RefundFacts),
    /// A customer disputed a charge.
    #[serde(rename = "dispute.opened")]
    DisputeOpened(DisputeFacts),
    /// The dunning engine took a step.
    #[serde(rename = "dunning.step")]
    DunningStep(DunningStepFacts),
    /// Billforge disabled a merchant's outbound webhook endpoint after
    /// sustained failure.
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled {
        /// Billforge's id of the endpoint.
        endpoint_id: String,
        /// Where it pointed.
        url: String,
        /// The last failure, for the merchant's mail.
        reason: String,
    },
}

impl DomainEvent {
    /// The event's type name, as stored, filtered on and sent to merchants.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SubscriptionCreated(_) => "subscription.created",
            Self::TrialStarted(_) => "subscription.trial_started",
            Self::TrialWillEnd(_) => "subscription.trial_will_end",
            Self::SubscriptionActivated(_) => "subscription.activated",
            Self::SubscriptionUpdated { .. } => "subscription.updated",
            Self::CancellationScheduled(_) => "subscription.cancellation_scheduled",
            Self::SubscriptionResumed(_) => "subscription.resumed",
            Self::SubscriptionCanceled { .. } => "subscription.canceled",
            Self::EntitlementsUpdated { .. } => "entitlements.updated",
            Self::InvoicePaid(_) => "invoice.paid",
            Self::PaymentFailed(_) => "invoice.payment_failed",
            Self::PaymentActionRequired(_) => "invoice.payment_action_required",
            Self::RefundIssued(_) => "refund.created",
            Self::DisputeOpened(_) => "dispute.opened",
            Self::DunningStep(_) => "dunning.step",
            Self::WebhookEndpointDisabled { .. } => "webhook_endpoint.disabled",
        }
    }

    /// The customer the event is about, if it is about one (outbound
    /// deliveries are ordered per customer).
    pub fn customer(&self) -> Option<&CustomerFacts> {
        match self {
            Self::SubscriptionCreated(s)
            | Self::TrialStarted(s)
            | Self::TrialWillEnd(s)
            | Self::SubscriptionActivated(s)
            | Self::CancellationScheduled(s)
            | Self::SubscriptionResumed(s)
            | Self::SubscriptionUpdated {
                subscription: s, ..
            }
            | Self::SubscriptionCanceled {
                subscription: s, ..
            } => Some(&s.customer),
            Self::EntitlementsUpdated { customer, .. } => Some(customer),
            Self::InvoicePaid(i) | Self::PaymentFailed(i) | Self::PaymentActionRequired(i) => {
                Some(&i.customer)
            }
            Self::RefundIssued(r) => Some(&r.customer),
            Self::DisputeOpened(d) => d.customer.as_ref(),
            Self::DunningStep(d) => Some(&d.invoice.customer),
            Self::WebhookEndpointDisabled { .. } => None,
        }
    }

    /// Every kind name, for validating merchants' endpoint filters and docs.
    pub const KINDS: &'static [&'static str] = &[
        "subscription.created",
        "subscription.trial_started",
        "subscription.trial_will_end",
        "subscription.activated",
        "subscription.updated",
        "subscription.cancellation_scheduled",
        "subscription.resumed",
        "subscription.canceled",
        "entitlements.updated",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "refund.created",
        "dispute.opened",
        "dunning.step",
        "webhook_endpoint.disabled",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn customer() -> CustomerFacts {
        CustomerFacts {
            customer_id: CustomerId::generate(),
            stripe_customer_id: "cus_123".into(),
            email: Some("ada@example.com".into()),
            name: None,
        }
    }

    #[test]
    fn serialises_with_its_kind_as_the_type_tag_and_round_trips() {
        let usd = Currency::parse("usd").unwrap();
        let event = DomainEvent::RefundIssued(RefundFacts {
            stripe_refund_id: "re_1".into(),
            customer: customer(),
            amount: Money::new(500, usd),
            payment_amount: Some(Money::new(1000, usd)),
            reason: None,
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.kind());
        assert!(DomainEvent::KINDS.contains(&event.kind()));
        let back: DomainEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.customer().unwrap().stripe_customer_id, "cus_123");
    }
}
