//! Mail (issue #7): turns domain events into outbox messages and sends them
//! over SMTP once.
//!
//! The dispatch job calls [`Platform::mail_on_domain_event`]: it maps the
//! event to the emails the issue lists, renders each once in the sender's
//! branding, and stores them with their `mail.send` jobs in one transaction,
//! keyed `{cause}:{kind}:{recipient}` (the cause is the domain event, itself
//! recorded once per Stripe event or dunning step; for the welcome and the
//! new-subscriber notice, the subscription), so a duplicate event, a retried
//! dispatch or two racing workers can never queue a second copy. The
//! `mail.send` job hands the stored bytes to the transport (SMTP, or
//! capture without `SMTP_URL`) and records the outcome on the row; only a
//! crash between the server's 250 and that record can send a copy again,
//! because SMTP itself has no idempotency (the stable `Message-ID` lets mail
//! clients fold such a copy).

use std::sync::Arc;

use billing::events::{
    CancelReason, CustomerFacts, DisputeFacts, DomainEvent, DunningStepFacts, InvoiceFacts,
    RefundFacts, SubscriptionFacts,
};
use billing::ids::TenantId;
use chrono::{DateTime, Utc};
use mailer::message::{
    AuthenticationRequired, CancellationScheduled, DisputeOpened, FinalNotice,
    MerchantCancellation, NewSubscriber, PaymentFailed, Receipt, RefundIssued,
    SubscriptionCanceled, SubscriptionEndedUnpaid, SubscriptionStarted, TrialEnding, TrialStarted,
    WebhookEndpointDisabled,
};
use mailer::{
    AccentColour, Audience, Branding, Delivery, Link, Mail, MailKind, MailPreferences,
    OutgoingEmail, Price, Recipient, RenderedEmail, parse_address,
};
use store::outbox::{Attempted, NewOutboxMessage, SEND_JOB, SendPayload};
use store::{Job, Tenant};

use crate::accounts::SignedIn;
use crate::admin::require_admin;
use crate::domain_events::RecordedEvent;
use crate::jobs::{JobError, JobFuture, JobHandlers, backoff};
use crate::{Platform, PlatformError, PlatformResult, RequestId};

pub use store::outbox::{OutboxMessage, OutboxStatus};

/// The accent colour of mail whose sender chose none.
const DEFAULT_ACCENT: &str = "#635bff";
/// The platform's name on the notices it sends merchants.
const PLATFORM_NAME: &str = "Billforge";
/// How many messages the admin console lists.
pub const OUTBOX_PAGE_SIZE: u64 = 200;

/// Registers the `mail.send` job.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        SEND_JOB,
        Arc::new(|platform: Platform, job: Job| -> JobFuture {
            Box::pin(async move { platform.run_send_job(&job).await })
        }),
    );
}

/// A merchant's mail settings, as the settings form shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Each customer-facing kind and whether it is sent.
    pub kinds: Vec<MailKindSetting>,
    /// The postal address printed under customer emails (may be empty).
    pub footer_address: String,
    /// The merchant's page where customers manage their account (may be
    /// empty: customer mail then carries no such link).
    pub account_url: String,
}

/// The longest footer address accepted: a postal address, not a letter.
const FOOTER_ADDRESS_MAX: usize = 300;
/// The most lines a footer address may have.
const FOOTER_ADDRESS_LINES: usize = 6;

/// A customer-facing kind and whether the merchant sends it, for the settings form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailKindSetting {
    /// The kind's stable name (the form field).
    pub kind: &'static str,
    /// What the merchant reads next to the checkbox.
    pub label: &'static str,
    /// Whether it is sent.
    pub enabled: bool,
}

/// The settings form's wording of a customer-facing kind.
fn label(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Receipt => "Receipt when an invoice is paid",
        MailKind::SubscriptionStarted => "Welcome when a subscription starts",
        MailKind::TrialStarted => "Welcome when a trial starts",
        MailKind::TrialEnding => "Reminder three days before a trial ends",
        MailKind::CancellationScheduled => "Confirmation when a cancellation is scheduled",
        MailKind::SubscriptionCanceled => "Notice when a subscription ends",
        MailKind::SubscriptionEndedUnpaid => "Notice when a subscription ends for non-payment",
        MailKind::PaymentFailed => "Payment failed and payment reminders",
        MailKind::AuthenticationRequired => "Request to authenticate a payment (SCA)",
        MailKind::FinalNotice => "Final notice before ending for non-payment",
        MailKind::RefundIssued => "Refund issued",
        MailKind::SignInLink => "Sign-in link the customer asks for (always on)",
        MailKind::NewSubscriber
        | MailKind::MerchantCancellation
        | MailKind::DisputeOpened
        | MailKind::WebhookEndpointDisabled => "Sent to you (always on)",
    }
}

/// The links an email may carry, derived once per event.
struct Links {
    /// The merchant's page where customers manage their subscription and
    /// payment method (mail settings); links to it are left out without one.
    account: Option<Link>,
    /// Where a link Stripe should have given (hosted invoice page) points
    /// when it did not: the account page, else Billforge's home page.
    fallback: Link,
    /// The merchant's dashboard.
    dashboard: Link,
    /// The merchant's settings (webhook endpoints).
    settings: Link,
}

/// A link given by Stripe when valid, else `fallback`.
fn link_or(raw: Option<&str>, fallback: &Link) -> Link {
    raw.and_then(|raw| Link::parse(raw).ok())
        .unwrap_or_else(|| fallback.clone())
}

/// What the subscription costs per period (unit price times seats), when
/// the price is one of the merchant's Billforge prices; the mails leave the
/// price out otherwise rather than not being sent.
fn price_of(subscription: &SubscriptionFacts) -> Option<Price> {
    let unit = subscription.unit_amount?;
    let quantity = i64::try_from(subscription.quantity.max(1)).ok()?;
    Some(Price {
        amount: unit.checked_mul(quantity).ok()?,
        interval: subscription
            .interval
            .clone()
            .unwrap_or_else(|| "month".to_owned()),
    })
}

/// The plan's name; a price that is not one of the merchant's Billforge
/// prices has none we know, and "your plan" reads in every template.
fn plan_name(name: Option<&String>) -> String {
    name.cloned().unwrap_or_else(|| "your plan".to_owned())
}

fn invoice_number(invoice: &InvoiceFacts) -> String {
    invoice
        .number
        .clone()
        .unwrap_or_else(|| invoice.stripe_invoice_id.clone())
}

fn customer_email(customer: Option<&CustomerFacts>) -> String {
    customer
        .and_then(|customer| customer.email.clone())
        .unwrap_or_else(|| "(no email on file)".to_owned())
}

/// The emails an event causes, before recipients and preferences.
fn mails_for(event: &DomainEvent, at: DateTime<Utc>, links: &Links) -> Vec<Mail> {
    match event {
        DomainEvent::SubscriptionCreated(s) => subscription_created(s, at, links),
        DomainEvent::TrialStarted(s) => vec![
            TrialStarted {
                plan_name: plan_name(s.plan_name.as_ref()),
                trial_ends_at: s.trial_end.unwrap_or(at),
                price: price_of(s),
                manage_url: links.account.clone(),
            }
            .into(),
        ],
        DomainEvent::TrialWillEnd(s) => vec![
            TrialEnding {
                plan_name: plan_name(s.plan_name.as_ref()),
                trial_ends_at: s.trial_end.unwrap_or(at),
                price: price_of(s),
                // The facts do not say whether a card is on file; the text
                // then asks to review it, which is right either way, and
                // the link lets them add one.
                has_payment_method: true,
                payment_method_url: links.account.clone(),
            }
            .into(),
        ],
        DomainEvent::CancellationScheduled(s) => {
            let until = s.cancel_at.or(s.current_period_end).unwrap_or(at);
            vec![
                CancellationScheduled {
                    plan_name: plan_name(s.plan_name.as_ref()),
                    access_until: until,
                    manage_url: links.account.clone(),
                }
                .into(),
                merchant_cancellation(s, until, false, links),
            ]
        }
        DomainEvent::SubscriptionCanceled {
            subscription: s,
            reason,
        } => subscription_canceled(s, *reason, at, links),
        DomainEvent::InvoicePaid(invoice) => receipt(invoice, at, links).into_iter().collect(),
        // A subscription's unpaid invoice is the dunning engine's: it sends
        // the reminders and authentication links as `dunning.step` events,
        // with its own attempt numbers and dates. Mailing the raw failure
        // too would tell the customer twice.
        DomainEvent::PaymentFailed(invoice) if invoice.stripe_subscription_id.is_none() => {
            vec![payment_failed(
                invoice,
                invoice.attempt_count.max(1),
                invoice.next_payment_attempt,
                None,
                links,
            )]
        }
        DomainEvent::PaymentActionRequired(invoice) if invoice.stripe_subscription_id.is_none() => {
            vec![authentication_required(invoice, None, links)]
        }
        DomainEvent::PaymentFailed(_) | DomainEvent::PaymentActionRequired(_) => Vec::new(),
        DomainEvent::DunningStep(step) => dunning_step(step, at, links),
        DomainEvent::RefundIssued(refund) => vec![refund_issued(refund, at)],
        DomainEvent::DisputeOpened(dispute) => vec![dispute_opened(dispute, at, links)],
        DomainEvent::WebhookEndpointDisabled { url, reason, .. } => vec![
            WebhookEndpointDisabled {
                endpoint_url: url.clone(),
                disabled_at: at,
                last_error: reason.clone(),
                settings_url: links.settings.clone(),
            }
            .into(),
        ],
        // Also how a subscription created `incomplete` starts; the keys of
        // these kinds name the subscription (see `cause_of`), so a trial
        // converting or a recovery after failed payments welcomes no one twice.
        DomainEvent::SubscriptionActivated(s) => subscription_created(s, at, links),
        DomainEvent::SubscriptionUpdated { .. }
        | DomainEvent::SubscriptionResumed(_)
        | DomainEvent::EntitlementsUpdated { .. } => Vec::new(),
    }
}

/// A new subscriber: the merchant hears of every one; the customer gets a
/// welcome when it starts paid (a trial has its own `trial_started` mail;
/// an incomplete one has not started yet).
fn subscription_created(s: &SubscriptionFacts, at: DateTime<Utc>, links: &Links) -> Vec<Mail> {
    let price = price_of(s);
    if !matches!(s.status.as_str(), "active" | "trialing") {
        return Vec::new();
    }
    let mut mails = vec![
        NewSubscriber {
            customer_email: customer_email(Some(&s.customer)),
            customer_name: s.customer.name.clone(),
            plan_name: plan_name(s.plan_name.as_ref()),
            price: price.clone(),
            trial_ends_at: s.trial_end.filter(|_| s.status == "trialing"),
            dashboard_url: links.dashboard.clone(),
        }
        .into(),
    ];
    if s.status == "active" {
        mails.push(
            SubscriptionStarted {
                plan_name: plan_name(s.plan_name.as_ref()),
                price,
                started_at: at,
                manage_url: links.account.clone(),
            }
            .into(),
        );
    }
    mails
}

fn merchant_cancellation(
    s: &SubscriptionFacts,
    ends_at: DateTime<Utc>,
    for_non_payment: bool,
    links: &Links,
) -> Mail {
    MerchantCancellation {
        customer_email: customer_email(Some(&s.customer)),
        plan_name: plan_name(s.plan_name.as_ref()),
        ends_at,
        for_non_payment,
        dashboard_url: links.dashboard.clone(),
    }
    .into()
}

fn subscription_canceled(
    s: &SubscriptionFacts,
    reason: CancelReason,
    at: DateTime<Utc>,
    links: &Links,
) -> Vec<Mail> {
    let customer = match reason {
        CancelReason::Requested => SubscriptionCanceled {
            plan_name: plan_name(s.plan_name.as_ref()),
            ended_at: at,
            resubscribe_url: links.account.clone(),
        }
        .into(),
        CancelReason::NonPayment => SubscriptionEndedUnpaid {
            plan_name: plan_name(s.plan_name.as_ref()),
            ended_at: at,
            amount_due: price_of(s).map(|price| price.amount),
            resubscribe_url: links.account.clone(),
        }
        .into(),
    };
    vec![
        customer,
        merchant_cancellation(s, at, reason == CancelReason::NonPayment, links),
    ]
}

/// A receipt, unless nothing was charged (a trial's zero invoice).
fn receipt(invoice: &InvoiceFacts, at: DateTime<Utc>, links: &Links) -> Option<Mail> {
    if invoice.amount_paid.amount_minor <= 0 {
        return None;
    }
    Some(
        Receipt {
            invoice_number: invoice_number(invoice),
            amount_paid: invoice.amount_paid,
            plan_name: plan_name(invoice.plan_name.as_ref()),
            period_start: invoice.period_start.unwrap_or(at),
            period_end: invoice.period_end.unwrap_or(at),
            paid_at: at,
            invoice_url: link_or(invoice.hosted_invoice_url.as_deref(), &links.fallback),
        }
        .into(),
    )
}

fn payment_failed(
    invoice: &InvoiceFacts,
    attempt: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    action_url: Option<&str>,
    links: &Links,
) -> Mail {
    PaymentFailed {
        invoice_number: invoice_number(invoice),
        amount_due: invoice.amount_due,
        attempt,
        next_attempt_at,
        update_payment_url: link_or(action_url, &links.fallback),
    }
    .into()
}

fn authentication_required(
    invoice: &InvoiceFacts,
    action_url: Option<&str>,
    links: &Links,
) -> Mail {
    AuthenticationRequired {
        invoice_number: invoice_number(invoice),
        amount_due: invoice.amount_due,
        authenticate_url: link_or(
            action_url.or(invoice.hosted_invoice_url.as_deref()),
            &links.fallback,
        ),
    }
    .into()
}

/// Reminders, authentication requests and the final notice; retries,
/// recovery and the final action speak through their own events.
fn dunning_step(step: &DunningStepFacts, at: DateTime<Utc>, links: &Links) -> Vec<Mail> {
    let invoice = &step.invoice;
    let action_url = step.action_url.as_deref();
    match step.step.as_str() {
        "reminder" => vec![payment_failed(
            invoice,
            step.attempt,
            step.next_attempt_at,
            action_url,
            links,
        )],
        "authentication_required" => vec![authentication_required(invoice, action_url, links)],
        "final_notice" => vec![
            FinalNotice {
                invoice_number: invoice_number(invoice),
                amount_due: invoice.amount_due,
                ends_at: step.next_attempt_at.unwrap_or(at),
                update_payment_url: link_or(action_url, &links.fallback),
            }
            .into(),
        ],
        _ => Vec::new(),
    }
}

/// The refund facts name the payment, not its invoice: the text then
/// leaves the invoice number and the receipt link out rather than show a
/// wrong one.
fn refund_issued(refund: &RefundFacts, at: DateTime<Utc>) -> Mail {
    RefundIssued {
        invoice_number: None,
        refunded: refund.amount,
        charged: refund.payment_amount.unwrap_or(refund.amount),
        refunded_at: at,
        receipt_url: None,
    }
    .into()
}

fn dispute_opened(dispute: &DisputeFacts, at: DateTime<Utc>, links: &Links) -> Mail {
    DisputeOpened {
        amount: dispute.amount,
        reason: dispute.reason.clone(),
        customer_email: customer_email(dispute.customer.as_ref()),
        evidence_due_by: dispute.evidence_due_by.unwrap_or(at),
        dashboard_url: links.dashboard.clone(),
    }
    .into()
}

/// What a message of `kind` caused by `recorded` is keyed on: the domain
/// event, except for the welcome and the new-subscriber notice, which are
/// once per subscription whichever event (created active, activated after
/// `incomplete` or a trial) announces the start first.
fn cause_of(recorded: &RecordedEvent, kind: MailKind) -> String {
    let subscription = match &recorded.event {
        DomainEvent::SubscriptionCreated(s) | DomainEvent::SubscriptionActivated(s) => Some(s),
        _ => None,
    };
    match subscription {
        Some(s)
            if matches!(
                kind,
                MailKind::SubscriptionStarted | MailKind::NewSubscriber
            ) =>
        {
            format!("{}:{}", recorded.tenant_id, s.stripe_subscription_id)
        }
        _ => recorded.id.to_string(),
    }
}

/// An address from stored data, or `None` (logged) when it is not one.
fn recipient(address: &str, name: Option<&str>) -> Option<Recipient> {
    match parse_address(address) {
        Ok(parsed) => Some(Recipient::new(parsed, name)),
        Err(err) => {
            tracing::warn!(error = %err, "skipping an email to an invalid address");
            None
        }
    }
}

/// Renders `mail` once into the outbox row that will be sent.
fn outbox_row(
    mail: &Mail,
    branding: &Branding,
    to: Recipient,
    dedupe_key: String,
    domain_event_id: Option<String>,
) -> Result<NewOutboxMessage, mailer::RenderError> {
    let email = OutgoingEmail::prepare(mail, branding, to, Some(dedupe_key.clone()))?;
    Ok(NewOutboxMessage {
        domain_event_id,
        kind: mail.kind().as_str().to_owned(),
        recipient: email.to.address.to_string(),
        recipient_name: email.to.name.clone(),
        from_name: email.from_name,
        reply_to: email.reply_to.to_string(),
        dedupe_key,
        subject: email.content.subject,
        html: email.content.html,
        text: email.content.text,
    })
}

impl Platform {
    /// The transport mail leaves by (SMTP, or capture without `SMTP_URL`).
    fn mail_transport(&self) -> &mailer::Transport {
        &self.inner.mail
    }

    fn link(&self, path: &str) -> Result<Link, JobError> {
        let raw = format!("{}{path}", self.settings().public_url);
        Link::parse(&raw).map_err(|err| JobError::Permanent(format!("PUBLIC_URL: {err}")))
    }

    /// Branding of the platform's own notices to merchants.
    fn platform_branding(&self) -> Result<Branding, JobError> {
        let accent = AccentColour::parse(DEFAULT_ACCENT)
            .map_err(|err| JobError::Permanent(err.to_string()))?;
        Branding::new(
            PLATFORM_NAME,
            None,
            accent,
            self.inner.mail_from.clone(),
            "",
        )
        .map_err(|err| JobError::Permanent(err.to_string()))
    }

    /// The merchant's branding; replies go to its support address, else its owner.
    fn tenant_branding(
        &self,
        tenant: &Tenant,
        owner: Option<&str>,
        footer_address: &str,
    ) -> Result<Branding, JobError> {
        let accent = tenant
            .brand_color
            .as_deref()
            .and_then(|raw| AccentColour::parse(raw).ok())
            .map_or_else(|| AccentColour::parse(DEFAULT_ACCENT), Ok)
            .map_err(|err| JobError::Permanent(err.to_string()))?;
        let logo = tenant
            .logo_url
            .as_deref()
            .and_then(|raw| Link::parse(raw).ok());
        let support = [tenant.support_email.as_deref(), owner]
            .into_iter()
            .flatten()
            .find_map(|raw| parse_address(raw).ok())
            .unwrap_or_else(|| self.inner.mail_from.clone());
        Branding::new(&tenant.name, logo, accent, support, footer_address)
            .map_err(|err| JobError::Permanent(err.to_string()))
    }

    /// Consumes one domain event; idempotent (a retried dispatch calls it again).
    pub(crate) async fn mail_on_domain_event(
        &self,
        recorded: &RecordedEvent,
    ) -> Result<(), JobError> {
        let retry = |what: &str| {
            let what = what.to_owned();
            move |err: store::StoreError| JobError::Retry(format!("{what}: {err}"))
        };
        let store = self.store();
        let scope = store.scoped(&recorded.tenant_id);
        let mail_branding = scope
            .mail_branding()
            .await
            .map_err(retry("loading the mail branding"))?;
        let account = mail_branding
            .as_ref()
            .and_then(|row| row.account_url.as_deref())
            .and_then(|raw| Link::parse(raw).ok());
        let links = Links {
            fallback: account.clone().map_or_else(|| self.link("/"), Ok)?,
            account,
            dashboard: self.link("/dashboard")?,
            settings: self.link("/dashboard/settings")?,
        };
        let mails = mails_for(&recorded.event, recorded.occurred_at, &links);
        if mails.is_empty() {
            return Ok(());
        }
        let tenant = store
            .tenant(&recorded.tenant_id)
            .await
            .map_err(retry("loading the tenant"))?
            .ok_or_else(|| JobError::Permanent(format!("no tenant {}", recorded.tenant_id)))?;
        let preferences = MailPreferences::from_stored(
            scope
                .disabled_mail_kinds()
                .await
                .map_err(retry("loading mail settings"))?
                .iter()
                .map(String::as_str),
        );
        let owner = store
            .tenant_owner_email(&recorded.tenant_id)
            .await
            .map_err(retry("loading the owner"))?;
        let footer_address = mail_branding
            .as_ref()
            .map_or("", |row| row.footer_address.as_str());
        let customer_branding = self.tenant_branding(&tenant, owner.as_deref(), footer_address)?;
        let merchant_branding = self.platform_branding()?;
        let merchant_recipients: Vec<Recipient> = {
            let mut addresses: Vec<&str> = owner.iter().map(String::as_str).collect();
            if let Some(support) = tenant.support_email.as_deref()
                && !addresses.iter().any(|a| a.eq_ignore_ascii_case(support))
            {
                addresses.push(support);
            }
            addresses
                .into_iter()
                .filter_map(|address| recipient(address, None))
                .collect()
        };
        let customer = recorded.event.customer();
        let mut messages = Vec::new();
        for mail in &mails {
            let kind = mail.kind();
            if !preferences.allows(kind) {
                tracing::info!(kind = %kind, tenant = %recorded.tenant_id, "mail kind switched off by the merchant");
                continue;
            }
            let (branding, recipients) = match kind.audience() {
                Audience::Customer => {
                    let to = customer.and_then(|customer| {
                        recipient(customer.email.as_deref()?, customer.name.as_deref())
                    });
                    (&customer_branding, to.into_iter().collect())
                }
                Audience::Merchant => (&merchant_branding, merchant_recipients.clone()),
            };
            for to in recipients {
                let dedupe_key = format!("{}:{}:{}", cause_of(recorded, kind), kind, to.address);
                messages.push(
                    outbox_row(
                        mail,
                        branding,
                        to,
                        dedupe_key,
                        Some(recorded.id.to_string()),
                    )
                    .map_err(|err| JobError::Permanent(err.to_string()))?,
                );
            }
        }
        let queued = scope
            .enqueue_mail(messages, self.now())
            .await
            .map_err(retry("queueing mail"))?;
        tracing::debug!(event = %recorded.id, queued = queued.len(), "mail queued for a domain event");
        Ok(())
    }

    /// Queues a customer email that no domain event causes (the sign-in
    /// link of the hosted pages), in the merchant's branding, through the
    /// outbox like every other message; `cause` keys it, so a retried
    /// request does not queue it twice.
    pub(crate) async fn queue_customer_mail(
        &self,
        tenant: &Tenant,
        mail: Mail,
        to: (&str, Option<&str>),
        cause: &str,
    ) -> PlatformResult<()> {
        let tenant_id = TenantId::parse(&tenant.id)
            .map_err(|err| PlatformError::Internal(format!("stored tenant id: {err}")))?;
        let scope = self.store().scoped(&tenant_id);
        let footer_address = scope
            .mail_branding()
            .await?
            .map(|row| row.footer_address)
            .unwrap_or_default();
        let owner = self.store().tenant_owner_email(&tenant_id).await?;
        let branding = self
            .tenant_branding(tenant, owner.as_deref(), &footer_address)
            .map_err(|err| PlatformError::Internal(format!("branding: {err:?}")))?;
        let Some(to) = recipient(to.0, to.1) else {
            return Ok(());
        };
        let dedupe_key = format!("{cause}:{}:{}", mail.kind(), to.address);
        let row = outbox_row(&mail, &branding, to, dedupe_key, None)
            .map_err(|err| PlatformError::Internal(err.to_string()))?;
        scope.enqueue_mail(vec![row], self.now()).await?;
        Ok(())
    }

    /// The `mail.send` job: delivers one stored message, once.
    async fn run_send_job(&self, job: &Job) -> Result<(), JobError> {
        let payload: SendPayload = serde_json::from_str(&job.payload)
            .map_err(|err| JobError::Permanent(format!("bad {SEND_JOB} payload: {err}")))?;
        let tenant_id = job
            .tenant_id
            .as_deref()
            .map(TenantId::parse)
            .transpose()
            .ok()
            .flatten()
            .ok_or_else(|| JobError::Permanent(format!("{SEND_JOB} job without a tenant")))?;
        let scope = self.store().scoped(&tenant_id);
        let retry = |err: store::StoreError| JobError::Retry(format!("outbox: {err}"));
        let Some(row) = scope
            .begin_mail_attempt(&payload.message_id, self.now())
            .await
            .map_err(retry)?
        else {
            // Sent, captured or failed already: nothing to do twice.
            return Ok(());
        };
        let email = outgoing_from_row(&row)?;
        let message_id = email.message_id(&self.inner.mail_from);
        let delivered = self.mail_transport().deliver(&email).await;
        let now = self.now();
        let (outcome, result) = match delivered {
            Ok(delivery) => (
                Attempted::Delivered {
                    captured: delivery == Delivery::Captured,
                    message_id,
                },
                Ok(()),
            ),
            Err(err) if err.is_transient() && job.attempts < job.max_attempts => (
                Attempted::Retry {
                    error: err.to_string(),
                    retry_at: now + backoff(job.attempts),
                },
                Err(JobError::Retry(err.to_string())),
            ),
            Err(err) => (
                Attempted::Failed {
                    error: err.to_string(),
                },
                Err(JobError::Permanent(err.to_string())),
            ),
        };
        scope
            .finish_mail_attempt(&row.id, outcome, now)
            .await
            .map_err(retry)?;
        result
    }

    /// The customer-facing kinds and whether the tenant sends each, and
    /// the footer address.
    pub async fn mail_settings(&self, tenant_id: &TenantId) -> PlatformResult<MailSettings> {
        let scope = self.store().scoped(tenant_id);
        let stored = scope.disabled_mail_kinds().await?;
        let preferences = MailPreferences::from_stored(stored.iter().map(String::as_str));
        let branding = scope.mail_branding().await?;
        Ok(MailSettings {
            kinds: MailKind::ALL
                .iter()
                .filter(|kind| kind.can_be_disabled())
                .map(|kind| MailKindSetting {
                    kind: kind.as_str(),
                    label: label(*kind),
                    enabled: preferences.allows(*kind),
                })
                .collect(),
            footer_address: branding
                .as_ref()
                .map(|row| row.footer_address.clone())
                .unwrap_or_default(),
            account_url: branding.and_then(|row| row.account_url).unwrap_or_default(),
        })
    }

    /// Sends exactly the customer-facing kinds in `enabled` (stored names),
    /// switching the others off, prints `footer_address` under customer
    /// emails and links them to `account_url` (empty: no such link);
    /// audited. An unknown or merchant-only kind, an overlong address or an
    /// account page that is not an http(s) URL is rejected before anything
    /// is written.
    pub async fn set_mail_settings(
        &self,
        tenant_id: &TenantId,
        enabled: &[String],
        footer_address: &str,
        account_url: &str,
        actor: store::Actor,
        request_id: &RequestId,
    ) -> PlatformResult<MailSettings> {
        let mut preferences = MailPreferences::default();
        for raw in enabled {
            let kind = raw
                .parse::<MailKind>()
                .map_err(|err| PlatformError::Invalid {
                    field: "enabled",
                    message: err.to_string(),
                })?;
            if !kind.can_be_disabled() {
                return Err(PlatformError::Invalid {
                    field: "enabled",
                    message: format!("`{kind}` is sent to you and is always on"),
                });
            }
        }
        let footer_address = footer_address.trim();
        if footer_address.chars().count() > FOOTER_ADDRESS_MAX
            || footer_address.lines().count() > FOOTER_ADDRESS_LINES
        {
            return Err(PlatformError::Invalid {
                field: "footer_address",
                message: format!(
                    "the footer address is at most {FOOTER_ADDRESS_LINES} lines and {FOOTER_ADDRESS_MAX} characters"
                ),
            });
        }
        let account_url = account_url.trim();
        let account_url = if account_url.is_empty() {
            None
        } else {
            let link = Link::parse(account_url).map_err(|err| PlatformError::Invalid {
                field: "account_url",
                message: err.to_string(),
            })?;
            Some(link.as_str().to_owned())
        };
        for kind in MailKind::ALL.iter().filter(|kind| kind.can_be_disabled()) {
            if !enabled.iter().any(|raw| raw == kind.as_str()) {
                preferences
                    .disable(*kind)
                    .map_err(|err| PlatformError::Internal(err.to_string()))?;
            }
        }
        let ctx = self.audit_context(actor, request_id);
        self.store()
            .scoped(tenant_id)
            .save_mail_settings(
                &preferences.stored(),
                footer_address,
                account_url.as_deref(),
                &ctx,
            )
            .await?;
        self.mail_settings(tenant_id).await
    }
}

/// The sample receipt of the branding preview: fixed values, so what
/// changes between two previews is only the branding typed.
fn sample_receipt() -> PlatformResult<Mail> {
    let day = |month, day| {
        chrono::NaiveDate::from_ymd_opt(2026, month, day)
            .and_then(|date| date.and_hms_opt(9, 0, 0))
            .map(|time| time.and_utc())
            .ok_or_else(|| PlatformError::Internal("the sample receipt's dates".into()))
    };
    Ok(Mail::Receipt(Receipt {
        invoice_number: "SAMPLE-0001".to_owned(),
        amount_paid: billing::money::Money {
            amount_minor: 4900,
            currency: billing::money::Currency::USD,
        },
        plan_name: "Pro".to_owned(),
        period_start: day(3, 1)?,
        period_end: day(4, 1)?,
        paid_at: day(3, 1)?,
        invoice_url: Link::parse(SAMPLE_INVOICE_URL)
            .map_err(|err| PlatformError::Internal(err.to_string()))?,
    }))
}

/// Where the sample receipt's button points: nowhere real.
const SAMPLE_INVOICE_URL: &str = "https://invoice.example.com/sample";

impl Platform {
    /// A sample receipt as the merchant's customers would get it with the
    /// branding `form` (typed, maybe not saved): the values are checked as
    /// saving checks them, and the email is rendered by the code that
    /// renders real mail, with the stored footer address and Reply-To
    /// fallback. Nothing is written.
    pub async fn preview_branding(
        &self,
        tenant_id: &TenantId,
        form: &crate::tenants::ProfileForm,
    ) -> PlatformResult<RenderedEmail> {
        let profile = crate::tenants::validate(form)?;
        let store = self.store();
        let stored = store
            .tenant(tenant_id)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        let tenant = Tenant {
            name: profile.name,
            brand_color: profile.brand_color,
            logo_url: profile.logo_url,
            support_email: profile.support_email,
            ..stored
        };
        let owner = store.tenant_owner_email(tenant_id).await?;
        let footer_address = store
            .scoped(tenant_id)
            .mail_branding()
            .await?
            .map(|row| row.footer_address)
            .unwrap_or_default();
        let branding = self
            .tenant_branding(&tenant, owner.as_deref(), &footer_address)
            .map_err(|err| PlatformError::Internal(format!("the preview's branding: {err}")))?;
        let recipient = Recipient::new(
            parse_address(SAMPLE_RECIPIENT)
                .map_err(|err| PlatformError::Internal(err.to_string()))?,
            Some("Ada"),
        );
        mailer::render(&sample_receipt()?, &branding, &recipient)
            .map_err(|err| PlatformError::Internal(err.to_string()))
    }
}

/// Who the sample receipt is addressed to.
const SAMPLE_RECIPIENT: &str = "ada@customer.example.com";

impl Platform {
    /// The most recent messages of every tenant (admins only).
    pub async fn admin_outbox(&self, admin: &SignedIn) -> PlatformResult<Vec<OutboxMessage>> {
        require_admin(admin)?;
        Ok(self
            .store()
            .outbox_messages_all(None, OUTBOX_PAGE_SIZE)
            .await?)
    }

    /// One message of any tenant (admins only).
    pub async fn admin_outbox_message(
        &self,
        admin: &SignedIn,
        id: &str,
    ) -> PlatformResult<OutboxMessage> {
        require_admin(admin)?;
        self.store()
            .outbox_message_any(id)
            .await?
            .ok_or(PlatformError::NotFound("message"))
    }
}

/// The stored message as the transport sends it: the bytes rendered at
/// enqueue time, never re-rendered.
fn outgoing_from_row(row: &OutboxMessage) -> Result<OutgoingEmail, JobError> {
    let bad = |what: &str, err: &dyn std::fmt::Display| {
        JobError::Permanent(format!("outbox message {}: {what}: {err}", row.id))
    };
    let to = parse_address(&row.recipient).map_err(|err| bad("recipient", &err))?;
    let reply_to = parse_address(&row.reply_to).map_err(|err| bad("reply-to", &err))?;
    Ok(OutgoingEmail {
        from_name: row.from_name.clone(),
        reply_to,
        to: Recipient::new(to, row.recipient_name.as_deref()),
        dedupe_key: Some(row.dedupe_key.clone()),
        content: RenderedEmail {
            subject: row.subject.clone(),
            html: row.html.clone(),
            text: row.text.clone(),
        },
    })
}
