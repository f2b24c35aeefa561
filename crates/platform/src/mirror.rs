//! The billing mirror fed by Stripe (issue #5): Stripe objects translated
//! into `billing` states, written through `store::mirror` (newer state wins),
//! and the domain events each Stripe event implies.
//!
//! Two doors:
//! - API responses: other services call [`Platform::mirror_subscription`],
//!   [`Platform::mirror_customer`], [`Platform::mirror_invoice`] with the
//!   object Stripe returned, so a merchant reads their own write at once.
//!   They record no domain events: the Stripe event the call caused brings
//!   them, so a change is announced once whichever arrives first.
//! - Webhooks: [`Platform::prefetch_for_event`] does the Stripe reads an
//!   event needs (a customer not mirrored yet, a charge's refunds) outside
//!   any transaction, then [`Platform::write_mirror_event`] writes the
//!   mirror and the event's domain events through the caller's transaction,
//!   the one that also settles the inbox row.
//!
//! Domain events are a function of the Stripe event alone (its type, object
//! and `previous_attributes`), recorded with the event id as cause, or the
//! object id for once-per-object facts (a subscription created, an invoice
//! paid, a refund issued, a dispute opened), so any arrival order and any
//! duplicates record the same set; each carries the facts as the event
//! described them and `occurred_at` = the event's `created`.

use billing::customer::CustomerState;
use billing::events::{CancelReason, DisputeFacts, DomainEvent, RefundFacts};
use billing::ids::{CustomerId, TenantId};
use billing::invoice::{InvoiceState, InvoiceStatus};
use billing::money::{Currency, Money};
use billing::payment::{
    DisputeState, DisputeStatus, PaymentState, PaymentStatus, RefundState, RefundStatus,
};
use billing::subscription::{SubscriptionItem, SubscriptionState, SubscriptionStatus};
use chrono::{DateTime, Utc};
use store::mirror::{
    CustomerObservation, CustomerRow, InvoiceObservation, InvoiceRow, MirrorTx, NewCustomer,
    ObservedWhen, StoreTxn, SubscriptionObservation, SubscriptionRow,
};
use stripe::{Event, EventObject, EventType, RequestOptions};

use crate::jobs::JobError;
use crate::{Platform, PlatformError, PlatformResult};

/// Why a Stripe object could not be mirrored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Untranslatable(String);

fn time(seconds: i64, field: &str) -> Result<DateTime<Utc>, Untranslatable> {
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| Untranslatable(format!("`{field}` is not a valid time: {seconds}")))
}

fn optional_time(
    seconds: Option<i64>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, Untranslatable> {
    seconds.map(|seconds| time(seconds, field)).transpose()
}

fn currency(raw: &str) -> Result<Currency, Untranslatable> {
    Currency::parse(raw).map_err(|err| Untranslatable(err.to_string()))
}

fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, Untranslatable> {
    value.ok_or_else(|| Untranslatable(format!("the object has no {what}")))
}

/// A Stripe customer, in domain terms.
pub fn customer_state(customer: &stripe::Customer) -> CustomerState {
    CustomerState {
        stripe_id: customer.id.clone(),
        email: customer.email.clone(),
        name: customer.name.clone(),
        deleted: customer.deleted,
    }
}

/// A Stripe subscription, in domain terms, observed `when`.
pub fn subscription_observation(
    subscription: &stripe::Subscription,
    when: ObservedWhen,
) -> Result<SubscriptionObservation, Untranslatable> {
    let items = subscription
        .items
        .data
        .iter()
        .map(|item| {
            Ok(SubscriptionItem {
                stripe_item_id: item.id.clone(),
                stripe_price_id: item.price.id.clone(),
                quantity: item.quantity.unwrap_or(1),
                current_period_start: time(item.current_period_start, "current_period_start")?,
                current_period_end: time(item.current_period_end, "current_period_end")?,
            })
        })
        .collect::<Result<Vec<_>, Untranslatable>>()?;
    let status = required(
        subscription.status.as_ref().map(|status| status.as_str()),
        "status",
    )?;
    Ok(SubscriptionObservation {
        state: SubscriptionState {
            stripe_id: subscription.id.clone(),
            stripe_customer_id: required(
                subscription.customer.as_ref().map(|c| c.id()),
                "customer",
            )?
            .to_owned(),
            status: SubscriptionStatus::parse(status),
            items,
            trial_end: optional_time(subscription.trial_end, "trial_end")?,
            cancel_at_period_end: subscription.cancel_at_period_end,
            cancel_at: optional_time(subscription.cancel_at, "cancel_at")?,
            canceled_at: optional_time(subscription.canceled_at, "canceled_at")?,
            ended_at: optional_time(subscription.ended_at, "ended_at")?,
        },
        when,
        trial_start: optional_time(subscription.trial_start, "trial_start")?,
        cancellation_reason: subscription
            .cancellation_details
            .as_ref()
            .and_then(|details| details.reason.clone()),
    })
}

/// A Stripe invoice, in domain terms, observed `when`.
pub fn invoice_observation(
    invoice: &stripe::Invoice,
    when: ObservedWhen,
) -> Result<InvoiceObservation, Untranslatable> {
    let status = required(invoice.status.as_ref().map(|s| s.as_str()), "status")?;
    Ok(InvoiceObservation {
        state: InvoiceState {
            stripe_id: invoice.id.clone(),
            stripe_customer_id: required(invoice.customer.as_ref().map(|c| c.id()), "customer")?
                .to_owned(),
            stripe_subscription_id: invoice.subscription_id().map(str::to_owned),
            status: InvoiceStatus::parse(status),
            currency: currency(&invoice.currency)?,
            amount_due_minor: invoice.amount_due,
            amount_paid_minor: invoice.amount_paid,
            amount_remaining_minor: invoice.amount_remaining,
            attempt_count: invoice.attempt_count,
            next_payment_attempt: optional_time(
                invoice.next_payment_attempt,
                "next_payment_attempt",
            )?,
            hosted_invoice_url: invoice.hosted_invoice_url.clone(),
            number: invoice.number.clone(),
        },
        when,
        period_start: Some(time(invoice.period_start, "period_start")?),
        period_end: Some(time(invoice.period_end, "period_end")?),
    })
}

/// A Stripe payment intent, in domain terms.
pub fn payment_state(intent: &stripe::PaymentIntent) -> Result<PaymentState, Untranslatable> {
    let status = required(intent.status.as_ref().map(|s| s.as_str()), "status")?;
    Ok(PaymentState {
        stripe_id: intent.id.clone(),
        stripe_customer_id: intent.customer.as_ref().map(|c| c.id().to_owned()),
        status: PaymentStatus::parse(status),
        currency: currency(&intent.currency)?,
        amount_minor: intent.amount,
        amount_received_minor: intent.amount_received,
        last_error_code: intent
            .last_payment_error
            .as_ref()
            .and_then(|error| error.decline_code.clone().or_else(|| error.code.clone())),
    })
}

/// A Stripe refund, in domain terms.
pub fn refund_state(refund: &stripe::Refund) -> Result<RefundState, Untranslatable> {
    let status = required(refund.status.as_ref().map(|s| s.as_str()), "status")?;
    Ok(RefundState {
        stripe_id: refund.id.clone(),
        stripe_payment_intent_id: refund.payment_intent.as_ref().map(|p| p.id().to_owned()),
        status: RefundStatus::parse(status),
        currency: currency(&refund.currency)?,
        amount_minor: refund.amount,
        reason: refund.reason.as_ref().map(|r| r.as_str().to_owned()),
        failure_reason: refund.failure_reason.clone(),
    })
}

/// A Stripe dispute, in domain terms.
pub fn dispute_state(dispute: &stripe::Dispute) -> Result<DisputeState, Untranslatable> {
    let status = required(dispute.status.as_ref().map(|s| s.as_str()), "status")?;
    Ok(DisputeState {
        stripe_id: dispute.id.clone(),
        stripe_payment_intent_id: dispute.payment_intent.as_ref().map(|p| p.id().to_owned()),
        status: DisputeStatus::parse(status),
        currency: currency(&dispute.currency)?,
        amount_minor: dispute.amount,
        reason: dispute.reason.clone().unwrap_or_default(),
        evidence_due_by: optional_time(
            dispute.evidence_details.as_ref().and_then(|e| e.due_by),
            "evidence_details.due_by",
        )?,
    })
}

/// Whether the mirror handles events of this type.
pub fn handles(event_type: &EventType) -> bool {
    use EventType as T;
    matches!(
        event_type,
        T::CustomerCreated
            | T::CustomerUpdated
            | T::CustomerDeleted
            | T::CustomerSubscriptionCreated
            | T::CustomerSubscriptionUpdated
            | T::CustomerSubscriptionDeleted
            | T::CustomerSubscriptionTrialWillEnd
            | T::CustomerSubscriptionPaused
            | T::CustomerSubscriptionResumed
            | T::InvoiceCreated
            | T::InvoiceFinalized
            | T::InvoicePaid
            | T::InvoicePaymentSucceeded
            | T::InvoicePaymentFailed
            | T::InvoicePaymentActionRequired
            | T::InvoiceVoided
            | T::InvoiceMarkedUncollectible
            | T::PaymentIntentSucceeded
            | T::PaymentIntentPaymentFailed
            | T::ChargeRefunded
            | T::RefundCreated
            | T::RefundUpdated
            | T::RefundFailed
            | T::ChargeDisputeCreated
            | T::ChargeDisputeUpdated
            | T::ChargeDisputeClosed
            | T::CheckoutSessionCompleted
    ) || event_type.as_str() == "payment_intent.requires_action"
        || event_type.as_str() == "invoice.updated"
}

/// What an event needs from Stripe beyond itself, fetched before the
/// transaction opens (no network call holds a database transaction).
#[derive(Debug, Default)]
pub struct Prefetched {
    /// The event's customer, when it is not mirrored yet.
    pub customer: Option<stripe::Customer>,
    /// A refunded charge's refunds (`charge.refunded` carries none).
    pub refunds: Vec<stripe::Refund>,
}

/// The Stripe customer an event's object belongs to.
fn customer_of(object: &EventObject) -> Option<&str> {
    match object {
        EventObject::Subscription(s) => s.customer.as_ref().map(|c| c.id()),
        EventObject::Invoice(i) => i.customer.as_ref().map(|c| c.id()),
        EventObject::PaymentIntent(p) => p.customer.as_ref().map(|c| c.id()),
        EventObject::Charge(c) => c.customer.as_ref().map(|c| c.id()),
        EventObject::CheckoutSession(s) => s.customer.as_ref().map(|c| c.id()),
        _ => None,
    }
}

fn retry(doing: &str) -> impl FnOnce(stripe::Error) -> JobError + '_ {
    move |err| JobError::Retry(format!("{doing}: {err}"))
}

fn stored(doing: &str) -> impl FnOnce(store::StoreError) -> JobError + '_ {
    move |err| JobError::Retry(format!("{doing}: {err}"))
}

fn permanent(err: Untranslatable) -> JobError {
    JobError::Permanent(format!("the event's object cannot be mirrored: {err}"))
}

impl Platform {
    /// Creates Billforge's record of a customer (after its Stripe customer
    /// was created, or before, with `stripe_customer_id: None`).
    pub async fn create_customer_record(
        &self,
        tenant_id: &TenantId,
        new: NewCustomer,
    ) -> PlatformResult<CustomerRow> {
        Ok(self
            .store()
            .scoped(tenant_id)
            .create_customer(new, self.now())
            .await?)
    }

    /// Mirrors a customer Stripe just returned to one of our calls.
    pub async fn mirror_customer(
        &self,
        tenant_id: &TenantId,
        customer: &stripe::Customer,
    ) -> PlatformResult<CustomerRow> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let written = txn
            .mirror(tenant_id)
            .upsert_customer(
                CustomerObservation {
                    state: customer_state(customer),
                    when: ObservedWhen::Fetched(now),
                },
                now,
            )
            .await?;
        txn.commit().await?;
        Ok(written.row)
    }

    /// Mirrors a subscription Stripe just returned to one of our calls
    /// (create, update, cancel); its customer row is created if missing.
    pub async fn mirror_subscription(
        &self,
        tenant_id: &TenantId,
        subscription: &stripe::Subscription,
    ) -> PlatformResult<SubscriptionRow> {
        let now = self.now();
        let observation = subscription_observation(subscription, ObservedWhen::Fetched(now))
            .map_err(|err| PlatformError::Internal(format!("mirroring a subscription: {err}")))?;
        let txn = self.store().begin().await?;
        let written = txn
            .mirror(tenant_id)
            .upsert_subscription(observation, now)
            .await?;
        txn.commit().await?;
        Ok(written.row)
    }

    /// Mirrors an invoice Stripe just returned to one of our calls.
    pub async fn mirror_invoice(
        &self,
        tenant_id: &TenantId,
        invoice: &stripe::Invoice,
    ) -> PlatformResult<InvoiceRow> {
        let now = self.now();
        let observation = invoice_observation(invoice, ObservedWhen::Fetched(now))
            .map_err(|err| PlatformError::Internal(format!("mirroring an invoice: {err}")))?;
        let txn = self.store().begin().await?;
        let written = txn
            .mirror(tenant_id)
            .upsert_invoice(observation, now)
            .await?;
        txn.commit().await?;
        Ok(written.row)
    }

    /// The Stripe reads `event` needs before it can be written: its
    /// customer when not mirrored yet, a refunded charge's refunds.
    pub async fn prefetch_for_event(
        &self,
        tenant_id: &TenantId,
        account: &str,
        event: &Event,
    ) -> Result<Prefetched, JobError> {
        let on_account = || RequestOptions::new().on_account(account.to_owned());
        let mut prefetched = Prefetched::default();
        if let Some(customer_id) = customer_of(&event.data.object)
            && self
                .store()
                .scoped(tenant_id)
                .customer_by_stripe_id(customer_id)
                .await
                .map_err(stored("finding the customer"))?
                .is_none_or(|row| row.observed_at.is_none())
        {
            prefetched.customer = Some(
                self.stripe()
                    .customers()
                    .retrieve(customer_id, &stripe::Expand::default(), on_account())
                    .await
                    .map_err(retry("retrieving the customer"))?,
            );
        }
        if let (EventType::ChargeRefunded, EventObject::Charge(charge)) =
            (&event.event_type, &event.data.object)
        {
            use futures::TryStreamExt;
            let params = stripe::ListRefunds {
                charge: Some(charge.id.clone()),
                ..Default::default()
            };
            prefetched.refunds = self
                .stripe()
                .refunds()
                .list(&params, on_account())
                .try_collect()
                .await
                .map_err(retry("listing the charge's refunds"))?;
        }
        Ok(prefetched)
    }

    /// Writes `event` into the tenant's mirror, and records its domain
    /// events, through `txn` (the caller commits it with the inbox
    /// settlement). Returns whether the mirror acted on the event.
    pub async fn write_mirror_event(
        &self,
        txn: &StoreTxn,
        tenant_id: &TenantId,
        event: &Event,
        prefetched: Prefetched,
    ) -> Result<bool, JobError> {
        let now = self.now();
        let mirror = txn.mirror(tenant_id);
        let at = time(event.created, "created").map_err(permanent)?;
        let when = ObservedWhen::At(at);
        if let Some(customer) = &prefetched.customer {
            mirror
                .upsert_customer(
                    CustomerObservation {
                        state: customer_state(customer),
                        when: ObservedWhen::Fetched(now),
                    },
                    now,
                )
                .await
                .map_err(stored("mirroring the customer"))?;
        }
        let writer = EventWriter {
            mirror: &mirror,
            event,
            at,
            now,
        };
        match &event.data.object {
            EventObject::Customer(customer) => {
                let mut state = customer_state(customer);
                state.deleted |= event.event_type == EventType::CustomerDeleted;
                mirror
                    .upsert_customer(CustomerObservation { state, when }, now)
                    .await
                    .map_err(stored("mirroring the customer"))?;
            }
            EventObject::Subscription(subscription) => {
                let observation =
                    subscription_observation(subscription, when).map_err(permanent)?;
                let written = mirror
                    .upsert_subscription(observation.clone(), now)
                    .await
                    .map_err(stored("mirroring the subscription"))?;
                if written.needs_refetch {
                    tracing::info!(subscription = %subscription.id, "mirror tie; a later event or refetch settles it");
                }
                writer.subscription_events(&observation).await?;
            }
            EventObject::Invoice(invoice) => {
                let observation = invoice_observation(invoice, when).map_err(permanent)?;
                mirror
                    .upsert_invoice(observation.clone(), now)
                    .await
                    .map_err(stored("mirroring the invoice"))?;
                writer.invoice_events(&observation).await?;
            }
            EventObject::PaymentIntent(intent) => {
                let state = payment_state(intent).map_err(permanent)?;
                mirror
                    .upsert_payment(state, when, now)
                    .await
                    .map_err(stored("mirroring the payment"))?;
            }
            EventObject::Refund(refund) => {
                writer.refund(refund, None, when).await?;
            }
            EventObject::Charge(charge) => {
                let customer = charge.customer.as_ref().map(|c| c.id());
                for refund in &prefetched.refunds {
                    writer
                        .refund(refund, customer, ObservedWhen::Fetched(now))
                        .await?;
                }
            }
            EventObject::Dispute(dispute) => {
                let state = dispute_state(dispute).map_err(permanent)?;
                let customer = dispute.charge.as_ref().and_then(|charge| match charge {
                    stripe::Expandable::Object(charge) => {
                        charge.customer.as_ref().map(|c| c.id().to_owned())
                    }
                    stripe::Expandable::Id(_) => None,
                });
                let written = mirror
                    .upsert_dispute(state.clone(), customer.as_deref(), when, now)
                    .await
                    .map_err(stored("mirroring the dispute"))?;
                if event.event_type == EventType::ChargeDisputeCreated {
                    let customer = match &written.row.customer_id {
                        Some(id) => {
                            let id = CustomerId::parse(id).map_err(|err| {
                                JobError::Permanent(format!("stored customer id: {err}"))
                            })?;
                            match mirror
                                .customer(&id)
                                .await
                                .map_err(stored("reading the customer"))?
                            {
                                Some(row) => Some(
                                    mirror
                                        .customer_facts(&row)
                                        .map_err(stored("customer facts"))?,
                                ),
                                None => None,
                            }
                        }
                        None => None,
                    };
                    writer
                        .record(
                            &format!("dispute:{}", state.stripe_id),
                            DomainEvent::DisputeOpened(DisputeFacts {
                                stripe_dispute_id: state.stripe_id.clone(),
                                customer,
                                amount: state.amount(),
                                reason: state.reason.clone(),
                                evidence_due_by: state.evidence_due_by,
                            }),
                        )
                        .await?;
                }
            }
            EventObject::CheckoutSession(session) => {
                let reference = session.client_reference_id.as_deref().or_else(|| {
                    session
                        .metadata
                        .get("billforge_customer_id")
                        .map(String::as_str)
                });
                if let (Some(reference), Some(stripe_customer)) = (
                    reference.and_then(|raw| CustomerId::parse(raw).ok()),
                    session.customer.as_ref().map(|c| c.id()),
                ) {
                    mirror
                        .link_customer(&reference, stripe_customer, now)
                        .await
                        .map_err(stored("linking the customer"))?;
                } else if let Some(stripe_customer) = session.customer.as_ref().map(|c| c.id()) {
                    mirror
                        .ensure_customer(stripe_customer, now)
                        .await
                        .map_err(stored("recording the customer"))?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Records the domain events of one Stripe event.
struct EventWriter<'a> {
    /// The tenant's mirror, in the caller's transaction.
    mirror: &'a MirrorTx<'a>,
    /// The Stripe event.
    event: &'a Event,
    /// When it happened.
    at: DateTime<Utc>,
    /// Our clock.
    now: DateTime<Utc>,
}

impl EventWriter<'_> {
    async fn record(&self, cause: &str, event: DomainEvent) -> Result<(), JobError> {
        self.mirror
            .record_event(cause, event, self.at, self.now)
            .await
            .map_err(stored("recording a domain event"))?;
        Ok(())
    }

    /// The previous value of a top-level attribute, when the event says it changed.
    fn previous(&self, attribute: &str) -> Option<&serde_json::Value> {
        self.event
            .data
            .previous_attributes
            .as_ref()
            .and_then(|previous| previous.get(attribute))
    }

    async fn subscription_events(
        &self,
        observation: &SubscriptionObservation,
    ) -> Result<(), JobError> {
        let state = &observation.state;
        let facts = self
            .mirror
            .subscription_facts(state, self.now)
            .await
            .map_err(stored("subscription facts"))?;
        let cause = self.event.id.as_str();
        let canceled = |reason: &Option<String>| DomainEvent::SubscriptionCanceled {
            subscription: facts.clone(),
            reason: if reason.as_deref() == Some("payment_failed") {
                CancelReason::NonPayment
            } else {
                CancelReason::Requested
            },
        };
        let status_event = |status: &SubscriptionStatus| match status {
            SubscriptionStatus::Trialing => Some(DomainEvent::TrialStarted(facts.clone())),
            SubscriptionStatus::Active => Some(DomainEvent::SubscriptionActivated(facts.clone())),
            SubscriptionStatus::Canceled => Some(canceled(&observation.cancellation_reason)),
            _ => None,
        };
        match self.event.event_type {
            EventType::CustomerSubscriptionCreated => {
                self.record(
                    &format!("subscription:{}", state.stripe_id),
                    DomainEvent::SubscriptionCreated(facts.clone()),
                )
                .await?;
                if let Some(event) = status_event(&state.status) {
                    self.record(cause, event).await?;
                }
            }
            EventType::CustomerSubscriptionDeleted => {
                self.record(
                    &format!("subscription:{}", state.stripe_id),
                    canceled(&observation.cancellation_reason),
                )
                .await?;
            }
            EventType::CustomerSubscriptionTrialWillEnd => {
                self.record(cause, DomainEvent::TrialWillEnd(facts.clone()))
                    .await?;
            }
            EventType::CustomerSubscriptionResumed => {
                self.record(cause, DomainEvent::SubscriptionActivated(facts.clone()))
                    .await?;
            }
            EventType::CustomerSubscriptionUpdated => {
                if self.previous("status").is_some()
                    && let Some(event) = status_event(&state.status)
                {
                    let cause = match event {
                        DomainEvent::SubscriptionCanceled { .. } => {
                            format!("subscription:{}", state.stripe_id)
                        }
                        _ => cause.to_owned(),
                    };
                    self.record(&cause, event).await?;
                }
                if let Some(items) = self.previous("items") {
                    let previous_price = items
                        .pointer("/data/0/price/id")
                        .and_then(serde_json::Value::as_str);
                    let previous_quantity = items
                        .pointer("/data/0/quantity")
                        .and_then(serde_json::Value::as_u64);
                    let now_price = state
                        .items
                        .first()
                        .map(|item| item.stripe_price_id.as_str());
                    let price_changed = previous_price.is_some() && previous_price != now_price;
                    let quantity_changed =
                        previous_quantity.is_some() && previous_quantity != Some(facts.quantity);
                    if price_changed || quantity_changed {
                        let previous_plan_name = match previous_price.filter(|_| price_changed) {
                            Some(price) => self
                                .mirror
                                .plan_name_of(price)
                                .await
                                .map_err(stored("the previous plan"))?,
                            None => None,
                        };
                        self.record(
                            cause,
                            DomainEvent::SubscriptionUpdated {
                                subscription: facts.clone(),
                                previous_plan_name,
                                previous_quantity: previous_quantity.filter(|_| quantity_changed),
                            },
                        )
                        .await?;
                    }
                }
                if self.previous("cancel_at_period_end").is_some()
                    || self.previous("cancel_at").is_some()
                {
                    let event = if state.is_ending() {
                        DomainEvent::CancellationScheduled(facts.clone())
                    } else {
                        DomainEvent::SubscriptionResumed(facts.clone())
                    };
                    self.record(cause, event).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn invoice_events(&self, observation: &InvoiceObservation) -> Result<(), JobError> {
        let event = match self.event.event_type {
            EventType::InvoicePaid => DomainEvent::InvoicePaid,
            EventType::InvoicePaymentFailed => DomainEvent::PaymentFailed,
            EventType::InvoicePaymentActionRequired => DomainEvent::PaymentActionRequired,
            _ => return Ok(()),
        };
        let facts = self
            .mirror
            .invoice_facts(observation, self.now)
            .await
            .map_err(stored("invoice facts"))?;
        let cause = if self.event.event_type == EventType::InvoicePaid {
            format!("invoice:{}", observation.state.stripe_id)
        } else {
            self.event.id.clone()
        };
        self.record(&cause, event(facts)).await
    }

    /// Mirrors a refund and records its issue once per refund.
    async fn refund(
        &self,
        refund: &stripe::Refund,
        stripe_customer: Option<&str>,
        when: ObservedWhen,
    ) -> Result<(), JobError> {
        let state = refund_state(refund).map_err(permanent)?;
        let written = self
            .mirror
            .upsert_refund(state.clone(), stripe_customer, when, self.now)
            .await
            .map_err(stored("mirroring the refund"))?;
        let Some(customer_id) = &written.row.customer_id else {
            return Ok(());
        };
        let id = CustomerId::parse(customer_id)
            .map_err(|err| JobError::Permanent(format!("stored customer id: {err}")))?;
        let Some(customer) = self
            .mirror
            .customer(&id)
            .await
            .map_err(stored("reading the customer"))?
        else {
            return Ok(());
        };
        let payment_amount = match &state.stripe_payment_intent_id {
            Some(payment) => self
                .mirror
                .payment_by_stripe_id(payment)
                .await
                .map_err(stored("reading the payment"))?
                .and_then(|row| {
                    Currency::parse(&row.currency)
                        .ok()
                        .map(|currency| Money::new(row.amount, currency))
                }),
            None => None,
        };
        if matches!(state.status, RefundStatus::Failed | RefundStatus::Canceled) {
            return Ok(());
        }
        self.record(
            &format!("refund:{}", state.stripe_id),
            DomainEvent::RefundIssued(RefundFacts {
                stripe_refund_id: state.stripe_id.clone(),
                customer: self
                    .mirror
                    .customer_facts(&customer)
                    .map_err(stored("customer facts"))?,
                amount: state.amount(),
                payment_amount,
                reason: state.reason.clone(),
            }),
        )
        .await
    }
}
