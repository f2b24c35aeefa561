//! Dunning engine tests (issue #6): the engine driven through its real input
//! boundary (recorded domain events, dispatched by the job queue), paying
//! and cancelling on the test's emulator.

use std::collections::BTreeSet;

use billing::dunning::{
    DunningPolicySpec, DunningState, FinalAction, GraceEntitlements, ReminderStep, TimelineEvent,
};
use billing::events::{CustomerFacts, DomainEvent, InvoiceFacts};
use billing::ids::{CustomerId, TenantId};
use billing::money::{Currency, Money};
use chrono::{DateTime, TimeDelta, Utc};
use platform::PlatformError;
use platform::connect::OnboardingUrls;
use platform::domain_events::RecordedEvent;
use platform::dunning::SubscriptionStanding;
use stripe::{
    CreateCustomer, CreatePrice, CreateSubscription, InlineProduct, InvoiceSettingsParams,
    PaymentBehavior, PriceRecurringParams, RecurringInterval, RequestOptions,
    SubscriptionItemParams,
};

use crate::harness::{
    TestApp, advance_one_clock, record_domain_event, spawn_app, spawn_one_clock_app,
};

fn ctx(app: &TestApp) -> store::AuditContext {
    store::AuditContext {
        actor: store::Actor::system(),
        request_id: "test".to_owned(),
        now: app.platform.now(),
    }
}

/// Signs up `slug` and connects it to an account on the test's emulator.
async fn connected_tenant(app: &TestApp, slug: &str) -> (TenantId, String) {
    app.signed_up_merchant(slug).await;
    let row = app
        .platform
        .store()
        .tenant_by_slug(slug)
        .await
        .unwrap()
        .unwrap();
    let tenant = TenantId::parse(&row.id).unwrap();
    let urls = OnboardingUrls {
        return_url: format!("{}/dashboard", app.address),
        refresh_url: format!("{}/dashboard", app.address),
    };
    app.platform
        .connect_stripe(&tenant, &ctx(app), &urls)
        .await
        .unwrap();
    let account = app.platform.connected_account(&tenant).await.unwrap();
    (tenant, account)
}

/// A customer paying with `card` (a `pm_card_…` shortcut) and a monthly
/// subscription whose first invoice is left open when the card fails.
pub(crate) struct Billed {
    /// Facts of the subscription's latest invoice.
    pub(crate) facts: InvoiceFacts,
}

pub(crate) async fn subscribe(app: &TestApp, account: &str, card: &str) -> Billed {
    let on = || RequestOptions::new().on_account(account.to_owned());
    let stripe = app.platform.stripe();
    let customer = stripe
        .customers()
        .create(
            &CreateCustomer {
                email: Some("ada@example.com".to_owned()),
                payment_method: Some(card.to_owned()),
                invoice_settings: Some(InvoiceSettingsParams {
                    default_payment_method: Some(card.to_owned()),
                }),
                ..CreateCustomer::default()
            },
            on(),
        )
        .await
        .unwrap();
    let price = stripe
        .prices()
        .create(
            &CreatePrice {
                product_data: Some(InlineProduct {
                    name: "Pro".to_owned(),
                    ..InlineProduct::default()
                }),
                currency: "usd".to_owned(),
                unit_amount: Some(2_000),
                recurring: Some(PriceRecurringParams {
                    interval: RecurringInterval::Month,
                    interval_count: None,
                }),
                ..CreatePrice::default()
            },
            on(),
        )
        .await
        .unwrap();
    let subscription = stripe
        .subscriptions()
        .create(
            &CreateSubscription {
                customer: customer.id.clone(),
                items: vec![SubscriptionItemParams {
                    price: Some(price.id.clone()),
                    ..SubscriptionItemParams::default()
                }],
                payment_behavior: Some(PaymentBehavior::AllowIncomplete),
                ..CreateSubscription::default()
            },
            on(),
        )
        .await
        .unwrap();
    let invoice = subscription
        .latest_invoice
        .as_ref()
        .unwrap()
        .id()
        .to_owned();
    let usd = Currency::parse("usd").unwrap();
    Billed {
        facts: InvoiceFacts {
            stripe_invoice_id: invoice,
            customer: CustomerFacts {
                customer_id: CustomerId::generate(),
                stripe_customer_id: customer.id,
                email: Some("ada@example.com".to_owned()),
                name: None,
            },
            stripe_subscription_id: Some(subscription.id),
            plan_name: Some("Pro".to_owned()),
            number: None,
            amount_due: Money::new(2_000, usd),
            amount_paid: Money::new(0, usd),
            attempt_count: 1,
            next_payment_attempt: None,
            hosted_invoice_url: Some("https://invoice.example/pay".to_owned()),
            period_start: None,
            period_end: None,
        },
    }
}

/// Records `event` as the mirror would, returning it as consumers see it.
async fn record(
    app: &TestApp,
    tenant: &TenantId,
    cause: &str,
    event: DomainEvent,
) -> RecordedEvent {
    let now = app.platform.now();
    record_domain_event(app, tenant, cause, event, now)
        .await
        .unwrap()
}

/// Runs every due job, as a worker would.
async fn run_jobs(app: &TestApp) {
    let handlers = billforge::worker::job_handlers();
    while app.platform.run_next_job(&handlers).await.unwrap() {}
}

/// Moves the app's clock forward and runs what became due with two
/// workers at once, as two processes sharing the database would.
async fn advance(app: &TestApp, by: TimeDelta) {
    app.clock.advance(by).unwrap();
    tokio::join!(run_jobs(app), run_jobs(app));
}

/// The tenant's only run: its state and its steps as `kind:attempt:outcome`.
async fn the_run(app: &TestApp, tenant: &TenantId) -> (DunningState, Vec<String>) {
    let mut runs = app.platform.dunning_runs(tenant, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = runs.remove(0);
    let steps = run
        .steps
        .iter()
        .map(|s| format!("{}:{}:{}", s.kind, s.attempt, s.outcome))
        .collect();
    (run.state, steps)
}

/// The `dunning.step` events recorded for the tenant, as `step:attempt`
/// (a set: events of one transaction share a millisecond).
async fn step_events(app: &TestApp, tenant: &TenantId) -> BTreeSet<String> {
    let events = app
        .platform
        .store()
        .scoped(tenant)
        .domain_events(None, None, 100)
        .await
        .unwrap();
    events
        .iter()
        .filter_map(|row| match row.event().unwrap() {
            DomainEvent::DunningStep(facts) => Some(format!("{}:{}", facts.step, facts.attempt)),
            _ => None,
        })
        .collect()
}

/// The Stripe status of `invoice` on `account`.
async fn invoice_status(
    app: &TestApp,
    account: &str,
    invoice: &str,
) -> Option<stripe::InvoiceStatus> {
    app.platform
        .stripe()
        .invoices()
        .retrieve(
            invoice,
            &Default::default(),
            RequestOptions::new().on_account(account.to_owned()),
        )
        .await
        .unwrap()
        .status
}

/// The subscription `id` of `account` as the emulator has it.
pub(crate) async fn stripe_subscription(
    app: &TestApp,
    account: &str,
    id: &str,
) -> stripe::Subscription {
    app.platform
        .stripe()
        .subscriptions()
        .retrieve(
            id,
            &Default::default(),
            RequestOptions::new().on_account(account.to_owned()),
        )
        .await
        .unwrap()
}

/// Sets the tenant's policy to `spec`.
async fn use_policy(app: &TestApp, tenant: &TenantId, spec: DunningPolicySpec) {
    app.platform
        .set_dunning_policy(tenant, spec, &ctx(app))
        .await
        .unwrap();
}

/// A fresh app with `slug` connected and on `policy`, and a subscribed
/// customer whose card (0341) attaches but declines every charge.
async fn failing_customer(
    slug: &str,
    policy: DunningPolicySpec,
) -> (TestApp, TenantId, String, Billed) {
    let app = spawn_app().await;
    let (tenant, account) = connected_tenant(&app, slug).await;
    use_policy(&app, &tenant, policy).await;
    let billed = subscribe(&app, &account, "pm_card_chargeCustomerFail").await;
    (app, tenant, account, billed)
}

fn spec(final_action: FinalAction, grace: GraceEntitlements) -> DunningPolicySpec {
    DunningPolicySpec {
        retry_days: vec![1, 2],
        grace_days: 3,
        grace_entitlements: grace,
        reminders: BTreeSet::from([ReminderStep::FirstFailure, ReminderStep::Retry(2)]),
        final_action,
        stripe_retries: false,
    }
}

#[tokio::test]
async fn policies_are_validated_stored_and_previewed() {
    let app = spawn_app().await;
    let (tenant, _) = connected_tenant(&app, "dun-policy").await;
    let default = app.platform.dunning_policy(&tenant).await.unwrap();
    assert_eq!(default, platform::dunning::default_policy());

    let mut bad = spec(FinalAction::Cancel, GraceEntitlements::Full);
    bad.retry_days = vec![1, 5];
    let err = app
        .platform
        .set_dunning_policy(&tenant, bad, &ctx(&app))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Invalid { field: "policy", message } if message.contains("retry 2 on day 5")),
        "{err:?}"
    );
    assert_eq!(app.platform.dunning_policy(&tenant).await.unwrap(), default);

    let good = spec(FinalAction::Cancel, GraceEntitlements::Full);
    app.platform
        .set_dunning_policy(&tenant, good.clone(), &ctx(&app))
        .await
        .unwrap();
    assert_eq!(
        app.platform.dunning_policy(&tenant).await.unwrap().spec(),
        &good
    );

    let failed_at = app.platform.now();
    let timeline = app
        .platform
        .preview_dunning(&tenant, None, failed_at)
        .await
        .unwrap();
    let shown: Vec<(i64, TimelineEvent)> = timeline
        .into_iter()
        .map(|step| ((step.at - failed_at).num_days(), step.event))
        .collect();
    assert_eq!(
        shown,
        vec![
            (0, TimelineEvent::FirstFailure),
            (
                0,
                TimelineEvent::Reminder {
                    after: ReminderStep::FirstFailure
                }
            ),
            (1, TimelineEvent::Retry { number: 1 }),
            (2, TimelineEvent::Retry { number: 2 }),
            (
                2,
                TimelineEvent::Reminder {
                    after: ReminderStep::Retry(2)
                }
            ),
            (3, TimelineEvent::GraceEnds),
            (
                3,
                TimelineEvent::FinalAction {
                    action: FinalAction::Cancel
                }
            ),
        ]
    );
    let mut invalid = good;
    invalid.grace_days = 0;
    assert!(matches!(
        app.platform
            .preview_dunning(&tenant, Some(invalid), failed_at)
            .await,
        Err(PlatformError::Invalid { .. })
    ));
}

#[tokio::test]
async fn failed_payments_are_retried_on_schedule_reminded_and_cancelled_once() {
    let (app, tenant, account, billed) = failing_customer(
        "dun-cancel",
        spec(FinalAction::Cancel, GraceEntitlements::Full),
    )
    .await;
    let failed = record(
        &app,
        &tenant,
        "evt_fail_1",
        DomainEvent::PaymentFailed(billed.facts.clone()),
    )
    .await;
    run_jobs(&app).await;
    // The same event dispatched again, twice at once: nothing new.
    let (a, b) = tokio::join!(
        app.platform.dispatch_domain_event(&failed),
        app.platform.dispatch_domain_event(&failed)
    );
    a.unwrap();
    b.unwrap();
    let (state, steps) = the_run(&app, &tenant).await;
    assert!(
        matches!(
            state,
            DunningState::Chasing {
                retries_started: 0,
                ..
            }
        ),
        "{state:?}"
    );
    assert_eq!(
        steps,
        ["invoice.payment_failed:1:recorded", "reminder:1:notified"]
    );

    advance(&app, TimeDelta::hours(23)).await;
    assert_eq!(
        the_run(&app, &tenant).await.1.len(),
        2,
        "retry 1 is not due yet"
    );
    advance(&app, TimeDelta::hours(1)).await;
    assert_eq!(the_run(&app, &tenant).await.1[2], "retry:1:failed");
    advance(&app, TimeDelta::days(1)).await;
    advance(&app, TimeDelta::days(1)).await;
    run_jobs(&app).await;

    let (state, steps) = the_run(&app, &tenant).await;
    assert!(
        matches!(
            &state,
            DunningState::Finalized {
                action: FinalAction::Cancel,
                ..
            }
        ),
        "{state:?}"
    );
    assert_eq!(
        steps,
        [
            "invoice.payment_failed:1:recorded",
            "reminder:1:notified",
            "retry:1:failed",
            "retry:2:failed",
            "final_notice:3:notified",
            "grace_ended:3:recorded",
            "final_action:3:succeeded",
        ]
    );
    assert_eq!(
        step_events(&app, &tenant).await,
        BTreeSet::from([
            "reminder:1".to_owned(),
            "retry:1".to_owned(),
            "retry:2".to_owned(),
            "final_notice:3".to_owned(),
            "grace_ended:3".to_owned(),
            "final_action:3".to_owned(),
        ])
    );
    let subscription = app
        .platform
        .stripe()
        .subscriptions()
        .retrieve(
            billed.facts.stripe_subscription_id.as_deref().unwrap(),
            &Default::default(),
            RequestOptions::new().on_account(account.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        subscription.status,
        Some(stripe::SubscriptionStatus::Canceled)
    );

    // A late failure report for the settled invoice restarts nothing.
    record(
        &app,
        &tenant,
        "evt_fail_late",
        DomainEvent::PaymentFailed(billed.facts),
    )
    .await;
    advance(&app, TimeDelta::days(30)).await;
    assert_eq!(
        the_run(&app, &tenant).await.1.len(),
        8,
        "only the report is recorded"
    );
}

#[tokio::test]
async fn a_payment_by_any_route_stops_dunning() {
    // Paid elsewhere (invoice.paid from the mirror) after the first retry.
    let (app, tenant, _, billed) = failing_customer(
        "dun-paid",
        spec(FinalAction::Cancel, GraceEntitlements::Full),
    )
    .await;
    record(
        &app,
        &tenant,
        "evt_f",
        DomainEvent::PaymentFailed(billed.facts.clone()),
    )
    .await;
    advance(&app, TimeDelta::days(1)).await;
    record(
        &app,
        &tenant,
        "evt_p",
        DomainEvent::InvoicePaid(billed.facts.clone()),
    )
    .await;
    run_jobs(&app).await;
    advance(&app, TimeDelta::days(10)).await;
    let (state, steps) = the_run(&app, &tenant).await;
    assert!(matches!(state, DunningState::Recovered { .. }), "{state:?}");
    assert_eq!(
        steps,
        [
            "invoice.payment_failed:1:recorded",
            "reminder:1:notified",
            "retry:1:failed",
            "invoice.paid:1:recorded",
            "recovered:1:succeeded",
        ]
    );
}

#[tokio::test]
async fn a_customer_who_updates_the_card_is_recovered_by_the_next_retry() {
    let (app, tenant, account, billed) = failing_customer(
        "dun-card",
        spec(FinalAction::Cancel, GraceEntitlements::Full),
    )
    .await;
    record(
        &app,
        &tenant,
        "evt_f",
        DomainEvent::PaymentFailed(billed.facts.clone()),
    )
    .await;
    advance(&app, TimeDelta::days(1)).await;
    let on = RequestOptions::new().on_account(account.clone());
    let stripe = app.platform.stripe();
    let customer = &billed.facts.customer.stripe_customer_id;
    let card = stripe
        .payment_methods()
        .attach("pm_card_visa", customer, on.clone())
        .await
        .unwrap();
    stripe
        .customers()
        .set_default_payment_method(customer, &card.id, on)
        .await
        .unwrap();
    advance(&app, TimeDelta::days(1)).await;
    advance(&app, TimeDelta::days(5)).await;
    let (state, steps) = the_run(&app, &tenant).await;
    assert!(matches!(state, DunningState::Recovered { .. }), "{state:?}");
    assert_eq!(
        steps,
        [
            "invoice.payment_failed:1:recorded",
            "reminder:1:notified",
            "retry:1:failed",
            "retry:2:succeeded",
            "recovered:1:succeeded",
        ]
    );
    assert_eq!(
        invoice_status(&app, &account, &billed.facts.stripe_invoice_id).await,
        Some(stripe::InvoiceStatus::Paid)
    );
}

#[tokio::test]
async fn revoking_policies_degrade_then_revoke_and_write_the_invoice_off() {
    let (app, tenant, account, billed) = failing_customer(
        "dun-revoke",
        spec(
            FinalAction::MarkUnpaidAndRevoke,
            GraceEntitlements::Degrade(vec![]),
        ),
    )
    .await;
    let subscription = billed.facts.stripe_subscription_id.clone().unwrap();
    let standing = |app: &TestApp| {
        let subscription = subscription.clone();
        let tenant = tenant.clone();
        let platform = app.platform.clone();
        async move {
            platform
                .dunning_standings(&tenant, std::slice::from_ref(&subscription))
                .await
                .unwrap()
                .remove(&subscription)
        }
    };
    assert_eq!(standing(&app).await, None);
    record(
        &app,
        &tenant,
        "evt_f",
        DomainEvent::PaymentFailed(billed.facts.clone()),
    )
    .await;
    run_jobs(&app).await;
    assert_eq!(
        standing(&app).await,
        Some(SubscriptionStanding::Degraded(vec![]))
    );
    advance(&app, TimeDelta::days(3)).await;
    assert_eq!(standing(&app).await, Some(SubscriptionStanding::Revoked));
    let (_, steps) = the_run(&app, &tenant).await;
    assert_eq!(steps.last().unwrap(), "final_action:3:succeeded");
    assert_eq!(
        invoice_status(&app, &account, &billed.facts.stripe_invoice_id).await,
        Some(stripe::InvoiceStatus::Uncollectible)
    );
}

#[tokio::test]
async fn authentication_required_records_the_link_for_the_customer() {
    let app = spawn_app().await;
    let (tenant, account) = connected_tenant(&app, "dun-sca").await;
    let billed = subscribe(&app, &account, "pm_card_chargeCustomerFail").await;
    record(
        &app,
        &tenant,
        "evt_sca",
        DomainEvent::PaymentActionRequired(billed.facts.clone()),
    )
    .await;
    run_jobs(&app).await;
    let runs = app.platform.dunning_runs(&tenant, 10).await.unwrap();
    let auth = runs[0]
        .steps
        .iter()
        .find(|step| step.kind == "authentication_required")
        .expect("an authentication step");
    assert_eq!(auth.detail.as_deref(), Some("https://invoice.example/pay"));
    assert!(
        step_events(&app, &tenant)
            .await
            .contains("authentication_required:1")
    );
}

#[tokio::test]
async fn the_final_action_can_move_the_customer_to_a_free_plan() {
    use billing::catalog::{Interval, PriceModel};
    use billing::ids::PlanId;
    use platform::catalog::{PlanInput, PriceInput};

    let app = spawn_app().await;
    let (tenant, account) = connected_tenant(&app, "dun-free").await;
    let free = app
        .platform
        .create_plan(
            &tenant,
            &ctx(&app),
            PlanInput {
                name: "Free".to_owned(),
                trial_days: None,
                prices: vec![PriceInput {
                    currency: "usd".to_owned(),
                    price_type: billing::catalog::PriceType::Recurring {
                        interval: Interval::monthly(),
                    },
                    model: PriceModel::Flat { amount_minor: 0 },
                    lookup_key: None,
                }],
            },
        )
        .await
        .unwrap();
    run_jobs(&app).await; // catalog.sync puts the plan on the account
    let plan = PlanId::parse(&free.plan.id).unwrap();
    let price = app.platform.plan(&tenant, &plan).await.unwrap().prices[0]
        .stripe_price_id
        .clone()
        .expect("the free price is synced");
    use_policy(
        &app,
        &tenant,
        spec(FinalAction::MoveToPlan(plan), GraceEntitlements::Full),
    )
    .await;
    let billed = subscribe(&app, &account, "pm_card_chargeCustomerFail").await;
    record(
        &app,
        &tenant,
        "evt_f",
        DomainEvent::PaymentFailed(billed.facts.clone()),
    )
    .await;
    advance(&app, TimeDelta::days(3)).await;
    let (state, steps) = the_run(&app, &tenant).await;
    assert!(matches!(state, DunningState::Finalized { .. }), "{state:?}");
    assert_eq!(steps.last().unwrap(), "final_action:3:succeeded");
    let subscription = app
        .platform
        .stripe()
        .subscriptions()
        .retrieve(
            billed.facts.stripe_subscription_id.as_deref().unwrap(),
            &Default::default(),
            RequestOptions::new().on_account(account),
        )
        .await
        .unwrap();
    assert_eq!(subscription.items.data[0].price.id, price);
}

// End to end on the one clock: the emulator renews, the 0341 card fails,
// its signed webhooks reach the inbox, and `Platform::advance_clock` moves
// Billforge and the emulator together, running the engine's steps as they
// fall due. Nothing is recorded by hand.

/// A customer who subscribed and paid with a good card (4242), on a
/// one-clock app with `slug` connected on `policy`. The emulator does not
/// retry on its own (Smart Retries off), so Billforge is the only retrier.
struct Renewing {
    app: TestApp,
    tenant: TenantId,
    account: String,
    billed: Billed,
    /// When the subscription renews (and, with 0341, fails).
    renews_at: DateTime<Utc>,
}

impl Renewing {
    async fn start(slug: &str, policy: DunningPolicySpec) -> Self {
        let app = spawn_one_clock_app(|emulator| emulator.retry_delays = vec![]).await;
        let (tenant, account) = connected_tenant(&app, slug).await;
        use_policy(&app, &tenant, policy).await;
        let billed = subscribe(&app, &account, "pm_card_visa").await;
        let subscription = stripe_subscription(
            &app,
            &account,
            billed.facts.stripe_subscription_id.as_deref().unwrap(),
        )
        .await;
        let renews_at =
            DateTime::from_timestamp(subscription.current_period_end().unwrap(), 0).unwrap();
        let renewing = Self {
            app,
            tenant,
            account,
            billed,
            renews_at,
        };
        advance_one_clock(&renewing.app, TimeDelta::seconds(1)).await;
        assert_eq!(renewing.mirrored_status().await, "active");
        renewing
    }

    /// Makes `card` (`pm_card_…`) the customer's default payment method.
    async fn pay_with(&self, card: &str) {
        let on = RequestOptions::new().on_account(self.account.clone());
        let stripe = self.app.platform.stripe();
        let customer = &self.billed.facts.customer.stripe_customer_id;
        let card = stripe
            .payment_methods()
            .attach(card, customer, on.clone())
            .await
            .unwrap();
        stripe
            .customers()
            .set_default_payment_method(customer, &card.id, on)
            .await
            .unwrap();
    }

    /// Advances the one clock to `renews_at + since`.
    async fn advance_to(&self, since: TimeDelta) {
        let by = self.renews_at + since - self.app.platform.now();
        advance_one_clock(&self.app, by).await;
    }

    /// The subscription's status as Billforge's mirror has it.
    async fn mirrored_status(&self) -> String {
        self.app
            .platform
            .store()
            .scoped(&self.tenant)
            .subscription_by_stripe_id(self.subscription())
            .await
            .unwrap()
            .expect("the subscription is mirrored")
            .status
    }

    /// The subscription's status on the emulator.
    async fn stripe_status(&self) -> Option<stripe::SubscriptionStatus> {
        stripe_subscription(&self.app, &self.account, self.subscription())
            .await
            .status
    }

    fn subscription(&self) -> &str {
        self.billed.facts.stripe_subscription_id.as_deref().unwrap()
    }

    async fn standing(&self) -> Option<SubscriptionStanding> {
        self.app
            .platform
            .dunning_standings(&self.tenant, &[self.subscription().to_owned()])
            .await
            .unwrap()
            .remove(self.subscription())
    }

    /// The run's steps as `kind:attempt:outcome@hours after the renewal`.
    async fn timed_steps(&self) -> Vec<String> {
        let mut runs = self
            .app
            .platform
            .dunning_runs(&self.tenant, 10)
            .await
            .unwrap();
        assert_eq!(runs.len(), 1, "one run for the one unpaid invoice");
        runs.remove(0)
            .steps
            .iter()
            .map(|s| {
                let hours = (s.at - self.renews_at).num_hours();
                format!("{}:{}:{}@{hours}h", s.kind, s.attempt, s.outcome)
            })
            .collect()
    }
}

/// The steps of [`one_clock_policy`] on a card that keeps failing, at their
/// hours after the renewal. Billforge's retries fail on the emulator, whose
/// own `invoice.payment_failed` reports of them are recorded on the run; jobs
/// run in `run_at` order, so the reminder due with the second retry comes
/// before the apply of the failure that retry caused.
const DUNNED_TO_CANCELLATION: [&str; 9] = [
    "invoice.payment_failed:1:recorded@0h",
    "reminder:1:notified@0h",
    "retry:1:failed@24h",
    "invoice.payment_failed:2:recorded@24h",
    "retry:2:failed@48h",
    "final_notice:3:notified@48h",
    "invoice.payment_failed:3:recorded@48h",
    "grace_ended:3:recorded@72h",
    "final_action:3:succeeded@72h",
];

/// Retries on days 1 and 2, reminders after the failure and the last
/// retry, three days of degraded access, then cancel.
fn one_clock_policy() -> DunningPolicySpec {
    spec(FinalAction::Cancel, GraceEntitlements::Degrade(vec![]))
}

#[tokio::test]
async fn a_failing_card_is_dunned_through_the_emulator_to_cancellation_on_the_one_clock() {
    let renewing = Renewing::start("clock-dun", one_clock_policy()).await;
    renewing.pay_with("pm_card_chargeCustomerFail").await;
    assert!(
        renewing
            .app
            .platform
            .dunning_runs(&renewing.tenant, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(renewing.standing().await, None);

    renewing.advance_to(TimeDelta::hours(1)).await;
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION[..2]);
    assert_eq!(renewing.mirrored_status().await, "past_due");
    assert_eq!(
        renewing.standing().await,
        Some(SubscriptionStanding::Degraded(vec![]))
    );

    renewing.advance_to(TimeDelta::hours(25)).await;
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION[..4]);
    assert_eq!(renewing.mirrored_status().await, "past_due");

    renewing.advance_to(TimeDelta::hours(49)).await;
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION[..7]);
    assert_eq!(
        renewing.standing().await,
        Some(SubscriptionStanding::Degraded(vec![]))
    );

    renewing.advance_to(TimeDelta::hours(73)).await;
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION);
    assert_eq!(
        renewing.stripe_status().await,
        Some(stripe::SubscriptionStatus::Canceled)
    );
    assert_eq!(renewing.mirrored_status().await, "canceled");
    let (state, _) = the_run(&renewing.app, &renewing.tenant).await;
    assert!(
        matches!(
            state,
            DunningState::Finalized {
                action: FinalAction::Cancel,
                ..
            }
        ),
        "{state:?}"
    );

    // A month on: nothing renews, nothing more is attempted.
    renewing.advance_to(TimeDelta::days(35)).await;
    assert_eq!(renewing.timed_steps().await.len(), 9);
    let dead = renewing
        .app
        .platform
        .webhook_events(platform::webhooks::InboxStatus::Dead, 10)
        .await
        .unwrap();
    assert!(dead.is_empty(), "every webhook applied: {dead:?}");
}

#[tokio::test]
async fn a_card_updated_mid_dunning_is_charged_by_the_next_retry_on_the_one_clock() {
    let renewing = Renewing::start("clock-rec", one_clock_policy()).await;
    renewing.pay_with("pm_card_chargeCustomerFail").await;
    renewing.advance_to(TimeDelta::hours(25)).await;
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION[..4]);

    renewing.pay_with("pm_card_visa").await;
    renewing.advance_to(TimeDelta::days(10)).await;
    let steps = renewing.timed_steps().await;
    // The retry's success recovers the run; the emulator's `invoice.paid`
    // for it (the invoice's third attempt) is then only recorded.
    assert_eq!(
        steps[4..],
        [
            "retry:2:succeeded@48h",
            "recovered:2:succeeded@48h",
            "invoice.paid:3:recorded@48h",
        ]
    );
    let (state, _) = the_run(&renewing.app, &renewing.tenant).await;
    assert!(matches!(state, DunningState::Recovered { .. }), "{state:?}");
    assert_eq!(renewing.standing().await, None);
    assert_eq!(renewing.mirrored_status().await, "active");
    assert_eq!(
        renewing.stripe_status().await,
        Some(stripe::SubscriptionStatus::Active)
    );
    let renewal_invoice = renewing
        .app
        .platform
        .dunning_runs(&renewing.tenant, 1)
        .await
        .unwrap()[0]
        .run
        .stripe_invoice_id
        .clone();
    assert_ne!(renewal_invoice, renewing.billed.facts.stripe_invoice_id);
    assert_eq!(
        invoice_status(&renewing.app, &renewing.account, &renewal_invoice).await,
        Some(stripe::InvoiceStatus::Paid),
        "the renewal invoice was paid by Billforge's second retry"
    );
}

#[tokio::test]
async fn one_long_advance_plays_dunning_out_exactly_as_short_ones_do() {
    // The same start as the stage-by-stage test above, then one advance
    // over the whole of it: the same steps at the same hours.
    let renewing = Renewing::start("clock-one", one_clock_policy()).await;
    renewing.pay_with("pm_card_chargeCustomerFail").await;
    let advance = advance_one_clock(
        &renewing.app,
        renewing.renews_at + TimeDelta::hours(73) - renewing.app.platform.now(),
    )
    .await;
    assert!(
        advance.steps >= 4,
        "a stop at each retry and the grace end: {advance:?}"
    );
    assert_eq!(renewing.timed_steps().await, DUNNED_TO_CANCELLATION);
    assert_eq!(renewing.mirrored_status().await, "canceled");
}
