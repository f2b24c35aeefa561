//! Every email Billforge sends, as data: one variant per message kind, each
//! with a typed context holding exactly what its templates show.
//!
//! The webhook pipeline turns a domain event into a [`Mail`]; rendering and
//! delivery never need to know which event it was.

use std::fmt;
use std::str::FromStr;

use billing::money::Money;
use chrono::{DateTime, Utc};

use crate::branding::Link;

/// Who a message is written for, which decides whose branding it carries
/// and whether a merchant may switch it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The merchant's end customer, written in the merchant's name.
    Customer,
    /// The merchant itself, written by the platform.
    Merchant,
}

/// A recurring price as the customer sees it: `$12.00 per month`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// What is charged each period.
    pub amount: Money,
    /// The period in words as it reads after "per" (`month`, `year`,
    /// `3 months`), so templates need no plural rules.
    pub interval: String,
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {}", self.amount, self.interval)
    }
}

/// An invoice was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The merchant's invoice number, for the customer's bookkeeping.
    pub invoice_number: String,
    /// What was charged.
    pub amount_paid: Money,
    /// What the invoice was for.
    pub plan_name: String,
    /// First day of the service period billed.
    pub period_start: DateTime<Utc>,
    /// End of the service period billed.
    pub period_end: DateTime<Utc>,
    /// When the payment succeeded.
    pub paid_at: DateTime<Utc>,
    /// Stripe's hosted invoice page, where the PDF receipt lives.
    pub invoice_url: Link,
}

/// A paid subscription began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionStarted {
    /// What the customer subscribed to.
    pub plan_name: String,
    /// What it costs from now on; `None` when the price is not one of the
    /// merchant's Billforge prices (the sentence is then left out).
    pub price: Option<Price>,
    /// When access began.
    pub started_at: DateTime<Utc>,
    /// Where the customer manages or cancels the subscription.
    /// `None` when the merchant set no account page: the link is left out.
    pub manage_url: Option<Link>,
}

/// A free trial began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialStarted {
    /// What is being tried.
    pub plan_name: String,
    /// When the trial ends and the first charge happens.
    pub trial_ends_at: DateTime<Utc>,
    /// What will be charged when the trial ends, when known.
    pub price: Option<Price>,
    /// Where the customer manages or cancels before being charged.
    /// `None` when the merchant set no account page: the link is left out.
    pub manage_url: Option<Link>,
}

/// A trial ends in three days (Stripe's `customer.subscription.trial_will_end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialEnding {
    /// What is being tried.
    pub plan_name: String,
    /// When the trial ends and the first charge happens.
    pub trial_ends_at: DateTime<Utc>,
    /// What will be charged then, when known.
    pub price: Option<Price>,
    /// Whether a card is on file: without one the subscription will not
    /// continue, and the text asks the customer to add one.
    pub has_payment_method: bool,
    /// Where the customer adds or changes the payment method.
    /// `None` when the merchant set no account page: the link is left out.
    pub payment_method_url: Option<Link>,
}

/// The customer asked to cancel at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationScheduled {
    /// What is being cancelled.
    pub plan_name: String,
    /// Access continues until then; nothing more is charged.
    pub access_until: DateTime<Utc>,
    /// Where the customer can undo the cancellation before it takes effect.
    /// `None` when the merchant set no account page: the link is left out.
    pub manage_url: Option<Link>,
}

/// A cancellation took effect (the customer's choice, not a payment failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCanceled {
    /// What ended.
    pub plan_name: String,
    /// When access ended.
    pub ended_at: DateTime<Utc>,
    /// Where the customer can subscribe again.
    /// `None` when the merchant set no account page: the link is left out.
    pub resubscribe_url: Option<Link>,
}

/// A subscription ended because payment kept failing; worded differently
/// from a chosen cancellation because the customer did not ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionEndedUnpaid {
    /// What ended.
    pub plan_name: String,
    /// When access ended.
    pub ended_at: DateTime<Utc>,
    /// The unpaid amount, so the customer knows what it was about, when known.
    pub amount_due: Option<Money>,
    /// Where the customer can subscribe again.
    /// `None` when the merchant set no account page: the link is left out.
    pub resubscribe_url: Option<Link>,
}

/// A renewal payment failed; sent for each dunning attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFailed {
    /// The invoice that could not be paid.
    pub invoice_number: String,
    /// What could not be charged.
    pub amount_due: Money,
    /// Which attempt failed, starting at 1.
    pub attempt: u32,
    /// When the card will be tried again; `None` when no retry is scheduled.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Where the customer updates the payment method.
    pub update_payment_url: Link,
}

/// The bank asks the customer to confirm a payment (SCA / 3-D Secure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationRequired {
    /// The invoice waiting for confirmation.
    pub invoice_number: String,
    /// What will be charged once confirmed.
    pub amount_due: Money,
    /// Stripe's hosted page where the customer confirms the payment.
    pub authenticate_url: Link,
}

/// The last reminder before a subscription ends for non-payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalNotice {
    /// The invoice still unpaid.
    pub invoice_number: String,
    /// What is owed.
    pub amount_due: Money,
    /// When the subscription ends if nothing changes.
    pub ends_at: DateTime<Utc>,
    /// Where the customer updates the payment method.
    pub update_payment_url: Link,
}

/// Money was returned to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundIssued {
    /// The invoice the refund belongs to, when known (Stripe's refund
    /// names the payment, not the invoice).
    pub invoice_number: Option<String>,
    /// What was refunded now.
    pub refunded: Money,
    /// What was originally charged, to tell a full refund from a partial one.
    pub charged: Money,
    /// When the refund was issued.
    pub refunded_at: DateTime<Utc>,
    /// The hosted receipt, which shows the refund, when known.
    pub receipt_url: Option<Link>,
}

impl RefundIssued {
    /// Whether everything charged was returned.
    pub fn is_full(&self) -> bool {
        self.refunded.amount_minor >= self.charged.amount_minor
    }
}

/// To the merchant: someone subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscriber {
    /// Who subscribed.
    pub customer_email: String,
    /// The customer's name when known.
    pub customer_name: Option<String>,
    /// What they subscribed to.
    pub plan_name: String,
    /// What they pay, when known.
    pub price: Option<Price>,
    /// Whether it started as a trial, which changes when money arrives.
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// The customer's page in the merchant console.
    pub dashboard_url: Link,
}

/// To the merchant: a subscription was cancelled or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantCancellation {
    /// Who cancelled.
    pub customer_email: String,
    /// What was cancelled.
    pub plan_name: String,
    /// When access ends or ended.
    pub ends_at: DateTime<Utc>,
    /// Whether it ended for non-payment rather than by the customer's choice.
    pub for_non_payment: bool,
    /// The customer's page in the merchant console.
    pub dashboard_url: Link,
}

/// To the merchant: a customer disputed a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeOpened {
    /// The disputed amount, held back by Stripe meanwhile.
    pub amount: Money,
    /// Stripe's dispute reason code (`fraudulent`, `product_not_received`…).
    pub reason: String,
    /// Who disputed.
    pub customer_email: String,
    /// The deadline for evidence; missing it loses the dispute.
    pub evidence_due_by: DateTime<Utc>,
    /// Where the merchant responds.
    pub dashboard_url: Link,
}

/// To the merchant: Billforge stopped delivering to one of its webhook
/// endpoints after repeated failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpointDisabled {
    /// The merchant's endpoint, shown as text, never as a link: it is the
    /// merchant's own server and may not be a web page.
    pub endpoint_url: String,
    /// When deliveries stopped.
    pub disabled_at: DateTime<Utc>,
    /// The last error seen, to help the merchant fix it.
    pub last_error: String,
    /// Where the merchant re-enables the endpoint.
    pub settings_url: Link,
}

/// The customer asked, on the merchant's hosted sign-in page, for a link
/// to their account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLink {
    /// The one-click link to the account page, signed and short-lived.
    pub sign_in_url: Link,
    /// When the link stops working, so the text can say so.
    pub expires_at: DateTime<Utc>,
}

macro_rules! mail_kinds {
    ($( $variant:ident($context:ident) => $kind:literal, $audience:ident; )*) => {
        /// One email to send, with everything its templates show.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Mail {
            $( $variant($context), )*
        }

        /// The kind of a [`Mail`], without its data: what per-tenant opt-out
        /// settings and the outbox's dedupe key (`"{cause}:{kind}"`) name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MailKind {
            $( $variant, )*
        }

        impl MailKind {
            /// Every kind, in declaration order (for settings pages and tests).
            pub const ALL: &[MailKind] = &[ $( MailKind::$variant, )* ];

            /// The stable name, stored in the database: never rename one.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( MailKind::$variant => $kind, )*
                }
            }

            pub fn audience(self) -> Audience {
                match self {
                    $( MailKind::$variant => Audience::$audience, )*
                }
            }
        }

        impl Mail {
            pub fn kind(&self) -> MailKind {
                match self {
                    $( Mail::$variant(_) => MailKind::$variant, )*
                }
            }
        }

        $(
            impl From<$context> for Mail {
                fn from(context: $context) -> Mail {
                    Mail::$variant(context)
                }
            }
        )*
    };
}

mail_kinds! {
    Receipt(Receipt) => "receipt", Customer;
    SubscriptionStarted(SubscriptionStarted) => "subscription_started", Customer;
    TrialStarted(TrialStarted) => "trial_started", Customer;
    TrialEnding(TrialEnding) => "trial_ending", Customer;
    CancellationScheduled(CancellationScheduled) => "cancellation_scheduled", Customer;
    SubscriptionCanceled(SubscriptionCanceled) => "subscription_canceled", Customer;
    SubscriptionEndedUnpaid(SubscriptionEndedUnpaid) => "subscription_ended_unpaid", Customer;
    PaymentFailed(PaymentFailed) => "payment_failed", Customer;
    AuthenticationRequired(AuthenticationRequired) => "authentication_required", Customer;
    FinalNotice(FinalNotice) => "final_notice", Customer;
    RefundIssued(RefundIssued) => "refund_issued", Customer;
    NewSubscriber(NewSubscriber) => "merchant_new_subscriber", Merchant;
    MerchantCancellation(MerchantCancellation) => "merchant_cancellation", Merchant;
    DisputeOpened(DisputeOpened) => "merchant_dispute_opened", Merchant;
    WebhookEndpointDisabled(WebhookEndpointDisabled) => "merchant_webhook_endpoint_disabled", Merchant;
    SignInLink(SignInLink) => "customer_sign_in_link", Customer;
}

impl MailKind {
    /// Whether a merchant may switch this kind off for its customers.
    /// Customer-facing mail is the merchant's voice, so the merchant decides;
    /// mail to the merchant is the platform's own and stays on.
    /// The sign-in link is the exception: the customer asked for it a
    /// moment ago, and switching it off would lock them out of their page.
    pub fn can_be_disabled(self) -> bool {
        self.audience() == Audience::Customer && self != MailKind::SignInLink
    }

    /// The outbox's dedupe key: one message of this kind per cause (for
    /// example a Stripe event id), however often the cause is processed.
    pub fn dedupe_key(self, cause: &str) -> String {
        format!("{cause}:{}", self.as_str())
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that is not one of [`MailKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a mail kind")]
pub struct UnknownMailKind(pub String);

impl FromStr for MailKind {
    type Err = UnknownMailKind;
    fn from_str(raw: &str) -> Result<Self, UnknownMailKind> {
        MailKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| UnknownMailKind(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing::money::Currency;

    #[test]
    fn kind_names_are_unique_and_round_trip() {
        let mut names: Vec<_> = MailKind::ALL.iter().map(|kind| kind.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MailKind::ALL.len());
        for kind in MailKind::ALL {
            assert_eq!(kind.as_str().parse::<MailKind>(), Ok(*kind));
        }
        assert_eq!(
            "receipts".parse::<MailKind>(),
            Err(UnknownMailKind("receipts".into()))
        );
    }

    #[test]
    fn only_customer_mail_can_be_disabled() {
        assert!(MailKind::Receipt.can_be_disabled());
        assert!(MailKind::PaymentFailed.can_be_disabled());
        assert!(!MailKind::DisputeOpened.can_be_disabled());
        assert!(
            MailKind::ALL
                .iter()
                .filter(|kind| kind.audience() == Audience::Merchant)
                .all(|kind| kind.as_str().starts_with("merchant_"))
        );
    }

    #[test]
    fn dedupe_key_joins_cause_and_kind() {
        assert_eq!(MailKind::Receipt.dedupe_key("evt_123"), "evt_123:receipt");
    }

    #[test]
    fn price_reads_naturally() {
        let price = Price {
            amount: Money::new(1200, Currency::EUR),
            interval: "month".into(),
        };
        assert_eq!(price.to_string(), "€12.00 per month");
    }
}
