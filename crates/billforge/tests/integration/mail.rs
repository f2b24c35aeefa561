//! Outbox and SMTP delivery tests (issue #7): domain events recorded in the
//! store (the mailer's input boundary) are dispatched by the real job
//! handlers, and what leaves goes over SMTP to an in-process receiver.

use std::collections::BTreeMap;
use std::time::Duration;

use billing::events::{
    CancelReason, CustomerFacts, DisputeFacts, DomainEvent, DunningStepFacts, InvoiceFacts,
    RefundFacts, SubscriptionFacts,
};
use billing::ids::{CustomerId, DomainEventId, TenantId};
use billing::money::{Currency, Money};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mail_parser::MessageParser;
use mailer::test_support::{Received, SmtpReceiver};
use platform::Secret;
use platform::domain_events::RecordedEvent;
use reqwest::StatusCode;
use store::outbox::{OutboxMessage, OutboxStatus};

use crate::harness::{
    TestApp, captured_logs, connected_tenant, merchant_email, record_domain_event, run_jobs,
    spawn_app, spawn_app_with,
};
use crate::mirror;

/// A fixed day, so rendered dates are stable in snapshots.
fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 30, 0).unwrap()
}

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::parse("usd").unwrap())
}

fn customer(email: Option<&str>) -> CustomerFacts {
    CustomerFacts {
        customer_id: CustomerId::generate(),
        stripe_customer_id: "cus_jane".into(),
        email: email.map(str::to_owned),
        name: Some("Jane Doe".into()),
    }
}

fn subscription(status: &str) -> SubscriptionFacts {
    SubscriptionFacts {
        stripe_subscription_id: "sub_1".into(),
        customer: customer(Some("jane@customer.example")),
        plan_id: None,
        plan_name: Some("Pro".into()),
        stripe_price_id: Some("price_1".into()),
        unit_amount: Some(usd(1999)),
        interval: Some("month".into()),
        quantity: 1,
        status: status.into(),
        current_period_end: Some(day(31)),
        trial_end: (status == "trialing").then(|| day(15)),
        cancel_at: Some(day(31)),
    }
}

fn invoice(email: Option<&str>) -> InvoiceFacts {
    InvoiceFacts {
        stripe_invoice_id: "in_42".into(),
        customer: customer(email),
        stripe_subscription_id: Some("sub_1".into()),
        plan_name: Some("Pro".into()),
        number: Some("ACME-0042".into()),
        amount_due: usd(1999),
        amount_paid: usd(1999),
        attempt_count: 2,
        next_payment_attempt: Some(day(8)),
        hosted_invoice_url: Some("https://invoice.stripe.test/i/in_42".into()),
        period_start: Some(day(1)),
        period_end: Some(day(31)),
    }
}

fn paid(email: Option<&str>) -> DomainEvent {
    DomainEvent::InvoicePaid(invoice(email))
}

/// An invoice of no subscription (dunning leaves those alone, so the
/// mailer answers Stripe's failure reports itself).
fn one_off_invoice() -> InvoiceFacts {
    InvoiceFacts {
        stripe_invoice_id: "in_7".into(),
        stripe_subscription_id: None,
        number: Some("ACME-0007".into()),
        hosted_invoice_url: Some("https://invoice.stripe.test/i/in_7".into()),
        ..invoice(Some("jane@customer.example"))
    }
}

/// A step of the dunning engine on the subscription's invoice.
fn dunning(step: &str, attempt: u32, next: u32) -> DomainEvent {
    DomainEvent::DunningStep(DunningStepFacts {
        invoice: invoice(Some("jane@customer.example")),
        step: step.into(),
        attempt,
        next_attempt_at: Some(day(next)),
        action_url: Some("https://invoice.stripe.test/i/in_42/pay".into()),
        final_action: None,
    })
}

/// One event (named by its cause) for each mail kind and each way to a
/// kind; some events cause two kinds.
fn every_event() -> Vec<(&'static str, DomainEvent)> {
    vec![
        (
            "subscription_created",
            DomainEvent::SubscriptionCreated(subscription("active")),
        ),
        // The same subscription announced active again (as a created
        // `incomplete` one is): no second welcome or notice.
        (
            "subscription_activated",
            DomainEvent::SubscriptionActivated(subscription("active")),
        ),
        (
            "trial_started",
            DomainEvent::TrialStarted(subscription("trialing")),
        ),
        (
            "trial_will_end",
            DomainEvent::TrialWillEnd(subscription("trialing")),
        ),
        (
            "cancellation_scheduled",
            DomainEvent::CancellationScheduled(subscription("active")),
        ),
        (
            "canceled_requested",
            DomainEvent::SubscriptionCanceled {
                subscription: subscription("canceled"),
                reason: CancelReason::Requested,
            },
        ),
        (
            "canceled_non_payment",
            DomainEvent::SubscriptionCanceled {
                subscription: subscription("canceled"),
                reason: CancelReason::NonPayment,
            },
        ),
        ("invoice_paid", paid(Some("jane@customer.example"))),
        (
            "one_off_payment_failed",
            DomainEvent::PaymentFailed(one_off_invoice()),
        ),
        (
            "one_off_action_required",
            DomainEvent::PaymentActionRequired(one_off_invoice()),
        ),
        ("dunning_reminder", dunning("reminder", 2, 8)),
        (
            "dunning_authentication",
            dunning("authentication_required", 2, 8),
        ),
        ("dunning_final_notice", dunning("final_notice", 4, 21)),
        (
            "refund_partial",
            DomainEvent::RefundIssued(RefundFacts {
                stripe_refund_id: "re_1".into(),
                customer: customer(Some("jane@customer.example")),
                amount: usd(500),
                payment_amount: Some(usd(1999)),
                reason: None,
            }),
        ),
        (
            "refund_full",
            DomainEvent::RefundIssued(RefundFacts {
                stripe_refund_id: "re_2".into(),
                customer: customer(Some("jane@customer.example")),
                amount: usd(1999),
                payment_amount: Some(usd(1999)),
                reason: None,
            }),
        ),
        (
            "dispute_opened",
            DomainEvent::DisputeOpened(DisputeFacts {
                stripe_dispute_id: "dp_1".into(),
                customer: Some(customer(Some("jane@customer.example"))),
                amount: usd(1999),
                reason: "fraudulent".into(),
                evidence_due_by: Some(day(20)),
            }),
        ),
        (
            "endpoint_disabled",
            DomainEvent::WebhookEndpointDisabled {
                endpoint_id: "we_1".into(),
                url: "https://hooks.shop.example/billforge".into(),
                reason: "HTTP 500 Internal Server Error".into(),
            },
        ),
    ]
}

/// An app that sends over SMTP to `receiver`, logging in as `login`.
async fn app_with_smtp(receiver: &SmtpReceiver, login: Option<&str>) -> TestApp {
    let url = receiver.url(login);
    spawn_app_with(move |settings| settings.smtp_url = Some(Secret::new(url))).await
}

/// A receiver, an app sending to it and the branded merchant `slug`.
async fn smtp_merchant(slug: &str) -> (SmtpReceiver, TestApp, TenantId) {
    let receiver = SmtpReceiver::start().await;
    let app = app_with_smtp(&receiver, None).await;
    let tenant = merchant(&app, slug).await;
    (receiver, app, tenant)
}

/// Records one paid invoice (cause `evt_paid`): one receipt to Jane.
async fn record_receipt(app: &TestApp, tenant: &TenantId) {
    record(app, tenant, "evt_paid", paid(Some("jane@customer.example")))
        .await
        .unwrap();
}

/// A time as PostgreSQL keeps it (microseconds), to compare stored times.
fn micros(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(|at| at.timestamp_micros())
}

/// Signs up `slug` (its owner gets merchant mail) and sets its support email.
async fn merchant(app: &TestApp, slug: &str) -> TenantId {
    let browser = app.signed_up_merchant(slug).await;
    let saved = browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings",
            &[
                ("name", "Acme Widgets"),
                ("brand_color", "#0a7d32"),
                ("logo_url", "https://cdn.acme.example/logo.png"),
                ("support_email", "help@acme.example"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let mut form: Vec<(&str, &str)> = mailer::MailKind::ALL
        .iter()
        .filter(|kind| kind.can_be_disabled())
        .map(|kind| (kind.as_str(), "on"))
        .collect();
    form.push((
        "footer_address",
        "Acme Widgets Ltd\n1 Market Street\nSpringfield",
    ));
    form.push(("account_url", "https://acme.example/account"));
    let saved = browser
        .submit(
            "/dashboard/settings/mail",
            "/dashboard/settings/mail",
            &form,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    app_tenant(app, slug).await
}

/// Records `event` for `cause` at a fixed time; `None` when the cause was seen.
async fn record(
    app: &TestApp,
    tenant: &TenantId,
    cause: &str,
    event: DomainEvent,
) -> Option<RecordedEvent> {
    record_domain_event(app, tenant, cause, event, day(1)).await
}

async fn outbox(app: &TestApp) -> Vec<OutboxMessage> {
    let mut rows = app
        .platform
        .store()
        .outbox_messages_all(None, 500)
        .await
        .unwrap();
    rows.sort_by(|a, b| a.dedupe_key.cmp(&b.dedupe_key));
    rows
}

/// The dedupe header of a received message.
fn dedupe_key(received: &Received) -> String {
    let message = MessageParser::default().parse(&received.data).unwrap();
    message
        .header(mailer::DEDUPE_KEY_HEADER)
        .and_then(|value| value.as_text())
        .unwrap()
        .to_owned()
}

/// The kind named in a dedupe key (`{cause}:{kind}:{recipient}`, where the
/// cause may itself contain colons).
fn kind_in(key: &str) -> String {
    key.split(':')
        .find(|part| part.parse::<mailer::MailKind>().is_ok())
        .unwrap()
        .to_owned()
}

/// Every message the receiver got, as kind and recipient.
fn delivered(receiver: &SmtpReceiver) -> Vec<(String, String)> {
    let mut kinds: Vec<_> = receiver
        .received()
        .iter()
        .map(|received| (kind_in(&dedupe_key(received)), received.rcpt_to.join(",")))
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn every_kind_arrives_once_over_smtp_from_its_domain_event() {
    let (receiver, app, tenant) = smtp_merchant("acme").await;
    let events = every_event();
    let mut recorded = Vec::new();
    for (cause, event) in &events {
        let event = record(&app, &tenant, cause, event.clone()).await.unwrap();
        recorded.push((*cause, event));
    }
    run_jobs(&app).await;

    let owner = merchant_email("acme");
    let mut expected: Vec<(String, String)> = Vec::new();
    for (kind, times) in [
        ("subscription_started", 1),
        ("trial_started", 1),
        ("trial_ending", 1),
        ("cancellation_scheduled", 1),
        ("subscription_canceled", 1),
        ("subscription_ended_unpaid", 1),
        ("receipt", 1),
        ("payment_failed", 2),
        ("authentication_required", 2),
        ("final_notice", 1),
        ("refund_issued", 2),
    ] {
        for _ in 0..times {
            expected.push((kind.to_owned(), "jane@customer.example".to_owned()));
        }
    }
    for (kind, times) in [
        ("merchant_new_subscriber", 1),
        ("merchant_cancellation", 3),
        ("merchant_dispute_opened", 1),
        ("merchant_webhook_endpoint_disabled", 1),
    ] {
        for _ in 0..times {
            expected.push((kind.to_owned(), owner.clone()));
            expected.push((kind.to_owned(), "help@acme.example".to_owned()));
        }
    }
    expected.sort();
    assert_eq!(delivered(&receiver), expected);
    let covered: std::collections::BTreeSet<_> =
        expected.iter().map(|(kind, _)| kind.as_str()).collect();
    // Every kind a domain event causes; the sign-in link answers the hosted
    // sign-in form instead (tested in `hosted.rs`).
    let event_kinds = mailer::MailKind::ALL
        .iter()
        .filter(|kind| **kind != mailer::MailKind::SignInLink)
        .count();
    assert_eq!(covered.len(), event_kinds, "every kind");

    // Contents: both parts, branding, and a snapshot per cause and kind
    // with the volatile parts (event ids, the app's port) replaced.
    let mut shown_by_name = BTreeMap::new();
    for received in receiver.received() {
        let message = MessageParser::default().parse(&received.data).unwrap();
        assert_eq!(message.text_body_count(), 1);
        assert_eq!(message.html_body_count(), 1);
        let html = message.body_html(0).unwrap().into_owned();
        let text = message.body_text(0).unwrap().replace("\r\n", "\n");
        let key = dedupe_key(&received);
        let kind = kind_in(&key);
        // Welcomes and new-subscriber notices are keyed on the subscription.
        let cause = recorded
            .iter()
            .find(|(_, event)| key.starts_with(&format!("{}:", event.id)))
            .map_or("subscription", |(cause, _)| *cause);
        let from = message.from().unwrap().first().unwrap();
        let reply_to = message.reply_to().unwrap().first().unwrap();
        if kind.starts_with("merchant_") {
            assert_eq!(from.name(), Some("Billforge"), "{kind}");
        } else {
            assert_eq!(from.name(), Some("Acme Widgets"), "{kind}");
            assert_eq!(reply_to.address(), Some("help@acme.example"), "{kind}");
            assert!(html.contains("#0a7d32"), "{kind}: the merchant's colour");
            assert!(
                html.contains("https://cdn.acme.example/logo.png"),
                "{kind}: the merchant's logo"
            );
            assert!(
                html.contains("1 Market Street") && text.contains("1 Market Street"),
                "{kind}: the footer address in both parts"
            );
        }
        assert_eq!(from.address(), Some("billing@billforge.localhost"));
        let redact = |part: &str| {
            let mut part = part.replace(&app.address, "http://app.test");
            for (_, event) in &recorded {
                part = part.replace(event.id.as_str(), "[event]");
            }
            part
        };
        let shown = format!(
            "Subject: {}\nFrom: {}\nReply-To: {}\n\n{}",
            message.subject().unwrap(),
            from.name().unwrap(),
            reply_to.address().unwrap(),
            redact(&text)
        );
        if kind == "receipt" {
            insta::assert_snapshot!("mail_receipt_html", redact(&html));
        }
        shown_by_name.insert(format!("mail_{cause}_{kind}"), shown);
    }
    for (name, shown) in shown_by_name {
        insta::assert_snapshot!(name, shown);
    }

    // The same causes again, and the same events dispatched again: nothing new.
    for (cause, event) in &events {
        assert!(record(&app, &tenant, cause, event.clone()).await.is_none());
    }
    for (_, event) in &recorded {
        app.platform.dispatch_domain_event(event).await.unwrap();
    }
    run_jobs(&app).await;
    assert_eq!(receiver.received().len(), expected.len());
    let rows = outbox(&app).await;
    assert_eq!(rows.len(), expected.len());
    assert!(rows.iter().all(|row| row.status == OutboxStatus::Sent
        && row.attempts == 1
        && row.message_id.is_some()));
}

#[tokio::test]
async fn two_workers_racing_on_one_event_send_one_message() {
    let (receiver, app, tenant) = smtp_merchant("race").await;
    let mut recorded = Vec::new();
    for n in 0..5 {
        recorded.push(
            record(
                &app,
                &tenant,
                &format!("evt_race_{n}"),
                paid(Some("jane@customer.example")),
            )
            .await
            .unwrap(),
        );
    }
    let work = |platform: platform::Platform| async move {
        let handlers = billforge::worker::job_handlers();
        while platform.run_next_job(&handlers).await.unwrap() {}
    };
    let redispatch = |platform: platform::Platform, events: Vec<RecordedEvent>| async move {
        for event in &events {
            platform.dispatch_domain_event(event).await.unwrap();
        }
    };
    tokio::join!(
        work(app.platform.clone()),
        work(app.platform.clone()),
        redispatch(app.platform.clone(), recorded.clone()),
        redispatch(app.platform.clone(), recorded.clone()),
    );
    run_jobs(&app).await;
    assert_eq!(receiver.received().len(), 5);
    let rows = outbox(&app).await;
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|row| row.status == OutboxStatus::Sent));
}

#[tokio::test]
async fn a_4xx_is_retried_with_backoff_and_then_delivered() {
    let (receiver, app, tenant) = smtp_merchant("later").await;
    receiver.refuse_next(2, "451 4.3.0 Try again later");
    record_receipt(&app, &tenant).await;
    run_jobs(&app).await;

    let row = outbox(&app).await.remove(0);
    assert_eq!((row.status, row.attempts), (OutboxStatus::Queued, 1));
    assert!(
        row.last_error.as_deref().unwrap().contains("451"),
        "{row:?}"
    );
    assert_eq!(
        micros(row.next_attempt_at),
        micros(Some(app.platform.now() + TimeDelta::seconds(30)))
    );
    assert!(receiver.received().is_empty());

    // Not before the backoff; then once more refused, then delivered.
    run_jobs(&app).await;
    assert_eq!(outbox(&app).await[0].attempts, 1);
    app.clock.advance(TimeDelta::seconds(30)).unwrap();
    run_jobs(&app).await;
    assert_eq!(outbox(&app).await[0].attempts, 2);
    app.clock.advance(TimeDelta::seconds(60)).unwrap();
    run_jobs(&app).await;

    let row = outbox(&app).await.remove(0);
    assert_eq!((row.status, row.attempts), (OutboxStatus::Sent, 3));
    assert_eq!(row.next_attempt_at, None);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_5xx_is_marked_failed_with_its_reason_and_shown_to_admins() {
    let (receiver, app, tenant) = smtp_merchant("bounce").await;
    receiver.refuse_next(1, "550 5.1.1 No such mailbox here");
    record_receipt(&app, &tenant).await;
    run_jobs(&app).await;
    app.clock.advance(TimeDelta::hours(2)).unwrap();
    run_jobs(&app).await;

    let row = outbox(&app).await.remove(0);
    assert_eq!((row.status, row.attempts), (OutboxStatus::Failed, 1));
    let error = row.last_error.clone().unwrap();
    assert!(
        error.contains("550") && error.contains("No such mailbox"),
        "{error}"
    );
    assert!(receiver.received().is_empty());

    app.platform
        .create_admin(
            "root@platform.example.com",
            &Secret::new("admin-password-1234"),
        )
        .await
        .unwrap();
    let admin = app.browser();
    let login = admin
        .log_in_admin("root@platform.example.com", "admin-password-1234")
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let list = admin.page("/admin/mail").await;
    assert!(list.contains("failed"), "{list}");
    assert!(list.contains("No such mailbox"), "{list}");
    assert!(list.contains("jane@customer.example"), "{list}");
    assert!(list.contains(&format!("/admin/mail/{}", row.id)));

    let view = admin.page(&format!("/admin/mail/{}", row.id)).await;
    assert!(view.contains(&format!("src=\"/admin/mail/{}/html\"", row.id)));
    assert!(view.contains("<iframe title=\"HTML part\" sandbox"));
    assert!(view.contains("ACME-0042"), "the text part is shown");
    let frame = admin.get(&format!("/admin/mail/{}/html", row.id)).await;
    assert_eq!(frame.status(), StatusCode::OK);
    let policy = frame.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("sandbox;") && policy.contains("default-src 'none'"));
    assert_eq!(frame.text().await.unwrap(), row.html);

    // Merchants do not get in; an unknown message is a 404.
    let merchant = app.signed_up_merchant("curious").await;
    let denied = merchant.get("/admin/mail").await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/admin/mail/msg_nope").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn switched_off_kinds_and_customers_without_email_get_nothing() {
    let receiver = SmtpReceiver::start().await;
    let app = app_with_smtp(&receiver, None).await;
    let browser = app.signed_up_merchant("quiet").await;
    let tenant = app_tenant(&app, "quiet").await;
    let page = browser.page("/dashboard/settings/mail").await;
    assert!(
        page.contains("name=\"receipt\" value=\"on\" checked"),
        "{page}"
    );
    assert!(
        !page.contains("merchant_dispute_opened"),
        "merchant mail is always on"
    );

    // Bad input is refused and changes nothing.
    for bad in [
        ("bogus", "on"),
        ("merchant_dispute_opened", "on"),
        ("account_url", "javascript:alert(1)"),
    ] {
        let refused = browser
            .submit(
                "/dashboard/settings/mail",
                "/dashboard/settings/mail",
                &[bad],
            )
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}"
        );
    }
    assert!(
        app.platform
            .mail_settings(&tenant)
            .await
            .unwrap()
            .kinds
            .iter()
            .all(|setting| setting.enabled)
    );

    let saved = browser
        .submit(
            "/dashboard/settings/mail",
            "/dashboard/settings/mail",
            &[("payment_failed", "on")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let page = saved.text().await.unwrap();
    assert!(page.contains("name=\"receipt\" value=\"on\">"), "{page}");
    assert!(page.contains("name=\"payment_failed\" value=\"on\" checked"));
    let audit = browser.page("/dashboard/audit").await;
    assert!(audit.contains("mail_settings.updated"), "audited");

    record_receipt(&app, &tenant).await;
    record(
        &app,
        &tenant,
        "evt_failed",
        DomainEvent::PaymentFailed(invoice(None)),
    )
    .await;
    record(
        &app,
        &tenant,
        "evt_dispute",
        DomainEvent::DisputeOpened(DisputeFacts {
            stripe_dispute_id: "dp_1".into(),
            customer: None,
            amount: usd(1999),
            reason: "fraudulent".into(),
            evidence_due_by: None,
        }),
    )
    .await;
    run_jobs(&app).await;
    assert_eq!(
        delivered(&receiver),
        [(
            "merchant_dispute_opened".to_owned(),
            merchant_email("quiet")
        )]
    );
}

#[tokio::test]
async fn without_smtp_url_mail_is_captured_and_logged() {
    let app = spawn_app().await;
    let tenant = merchant(&app, "demo").await;
    record_receipt(&app, &tenant).await;
    run_jobs(&app).await;
    let row = outbox(&app).await.remove(0);
    assert_eq!((row.status, row.attempts), (OutboxStatus::Captured, 1));
    assert!(row.message_id.unwrap().ends_with("@billforge.localhost>"));
    assert_eq!(micros(row.sent_at), micros(Some(app.platform.now())));
    assert!(row.html.contains("ACME-0042"));
    let logs = captured_logs();
    assert!(logs.contains("email captured"));
    assert!(logs.contains(&row.subject), "the subject is logged");
}

#[tokio::test]
async fn a_domain_event_id_is_the_key_of_its_messages() {
    // Two events of one kind for one customer are two messages; the key
    // names the event, the kind and the recipient.
    let app = spawn_app().await;
    let tenant = merchant(&app, "keys").await;
    let first = record(&app, &tenant, "evt_a", paid(Some("jane@customer.example")))
        .await
        .unwrap();
    let second = record(&app, &tenant, "evt_b", paid(Some("jane@customer.example")))
        .await
        .unwrap();
    run_jobs(&app).await;
    let keys: Vec<String> = outbox(&app)
        .await
        .into_iter()
        .map(|row| row.dedupe_key)
        .collect();
    let key = |id: &DomainEventId| format!("{id}:receipt:jane@customer.example");
    let mut expected = vec![key(&first.id), key(&second.id)];
    expected.sort();
    assert_eq!(keys, expected);
}

/// The mail of one received message: kind, recipient, subject, text part.
fn parsed(received: &Received) -> (String, String, String, String) {
    let message = MessageParser::default().parse(&received.data).unwrap();
    assert_eq!(message.html_body_count(), 1);
    (
        kind_in(&dedupe_key(received)),
        received.rcpt_to.join(","),
        message.subject().unwrap().to_owned(),
        message.body_text(0).unwrap().replace("\r\n", "\n"),
    )
}

/// The messages received since `seen`, sorted by kind and recipient.
fn new_since(receiver: &SmtpReceiver, seen: usize) -> Vec<(String, String, String, String)> {
    let mut new: Vec<_> = receiver.received()[seen..].iter().map(parsed).collect();
    new.sort();
    new
}

/// The whole chain on the emulator's real, signed Connect deliveries:
/// Stripe event → inbox → mirror → domain event → dunning → outbox → SMTP.
#[tokio::test]
async fn real_deliveries_mail_the_customer_and_the_merchant() {
    let receiver = SmtpReceiver::start().await;
    let app = app_with_smtp(&receiver, None).await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    let (tenant, account, _) = connected_tenant(&app, "livemail").await;
    let owner = merchant_email("livemail");
    let price = mirror::price(&app, &account, 2900).await;
    let cus = mirror::customer(&app, &account, "ada@example.com", "pm_card_visa").await;
    let sub = mirror::subscribe(&app, &account, &cus, &price).await;
    mirror::sync(&app, &account).await;

    // Paid at once: a receipt and a welcome to the customer, a notice to
    // the merchant's owner (no support address set: the owner only).
    let started = new_since(&receiver, 0);
    let who: Vec<(&str, &str)> = started
        .iter()
        .map(|(kind, to, _, _)| (kind.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("merchant_new_subscriber", owner.as_str()),
            ("receipt", "ada@example.com"),
            ("subscription_started", "ada@example.com"),
        ]
    );
    // The price is a raw Stripe price, not one of the merchant's Billforge
    // prices: the mails go out without the price sentence.
    assert!(!started[0].3.contains("Price:"), "{}", started[0].3);
    // Nor an account page: the welcome carries no link to manage it.
    assert!(
        started[2].3.contains("Your subscription to your plan with")
            && !started[2].3.contains("You pay")
            && !started[2].3.contains("change or cancel"),
        "{}",
        started[2].3
    );
    let receipt = &started[1];
    assert!(
        receipt.3.contains("Amount paid:    $29.00"),
        "{}",
        receipt.3
    );
    let invoice = app
        .platform
        .stripe()
        .invoices()
        .retrieve(
            sub.latest_invoice.as_ref().unwrap().id(),
            &Default::default(),
            mirror::on(&account),
        )
        .await
        .unwrap();
    assert!(
        receipt
            .3
            .contains(invoice.hosted_invoice_url.as_deref().unwrap()),
        "the hosted invoice link: {}",
        receipt.3
    );
    if let Some(number) = invoice.number.as_deref() {
        assert!(receipt.3.contains(number), "{}", receipt.3);
    }

    // A partial refund of that payment.
    let payments = app
        .platform
        .store()
        .scoped(&tenant)
        .payments()
        .await
        .unwrap();
    mirror::refund(&app, &account, &payments[0].stripe_payment_intent_id, 1000).await;
    let seen = receiver.received().len();
    mirror::sync(&app, &account).await;
    let refunded = new_since(&receiver, seen);
    assert_eq!(refunded.len(), 1, "{refunded:?}");
    assert_eq!(refunded[0].0, "refund_issued");
    assert_eq!(refunded[0].2, "Partial refund of $10.00 issued");

    // The card starts failing and the renewal's payment fails: the dunning
    // engine's first reminder, with the invoice's page to pay it.
    mirror::pay_with(&app, &account, &cus, "pm_card_chargeCustomerFail").await;
    let item = &sub.items.data[0];
    let until_renewal = item.current_period_end - app.platform.now().timestamp() + 3600;
    app.emulator
        .advance(Duration::from_secs(u64::try_from(until_renewal).unwrap()));
    app.clock
        .advance(TimeDelta::seconds(until_renewal))
        .unwrap();
    let seen = receiver.received().len();
    mirror::sync(&app, &account).await;
    let failed = new_since(&receiver, seen);
    let kinds: Vec<&str> = failed.iter().map(|(kind, ..)| kind.as_str()).collect();
    assert_eq!(kinds, ["payment_failed"], "{failed:?}");
    assert_eq!(failed[0].1, "ada@example.com");
    assert!(failed[0].3.contains("$29.00"), "{}", failed[0].3);
    assert!(failed[0].3.contains("(attempt 1)"), "{}", failed[0].3);

    // A cancellation at the period end: scheduled, told to both sides.
    app.platform
        .stripe()
        .subscriptions()
        .cancel_at_period_end(&sub.id, true, mirror::on(&account))
        .await
        .unwrap();
    let seen = receiver.received().len();
    mirror::sync(&app, &account).await;
    let scheduled = new_since(&receiver, seen);
    let who: Vec<(&str, &str)> = scheduled
        .iter()
        .map(|(kind, to, _, _)| (kind.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("cancellation_scheduled", "ada@example.com"),
            ("merchant_cancellation", owner.as_str()),
        ]
    );

    // Everything was sent once, whatever the number of deliveries.
    let rows = outbox(&app).await;
    assert_eq!(rows.len(), receiver.received().len());
    assert!(rows.iter().all(|row| row.status == OutboxStatus::Sent));
}

/// The tenant of `slug`.
async fn app_tenant(app: &TestApp, slug: &str) -> TenantId {
    let row = app.platform.store().tenant_by_slug(slug).await.unwrap();
    TenantId::parse(&row.unwrap().id).unwrap()
}

#[tokio::test]
async fn the_smtp_login_is_used_and_its_password_never_logged() {
    let receiver = SmtpReceiver::start().await;
    let app = app_with_smtp(&receiver, Some("mailer:smtp-pa%24%24word-7f3a")).await;
    let tenant = merchant(&app, "smtplogin").await;
    record_receipt(&app, &tenant).await;
    run_jobs(&app).await;
    assert_eq!(receiver.logins(), ["mailer:smtp-pa$$word-7f3a"]);
    assert_eq!(receiver.received().len(), 1);
    let logs = captured_logs();
    assert!(logs.contains("email delivered to the SMTP server"));
    assert!(!logs.contains("smtp-pa$$word-7f3a") && !logs.contains("smtp-pa%24%24word-7f3a"));
}
