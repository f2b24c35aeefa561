//! Stripe webhook ingestion over real HTTP: signature checks, the inbox,
//! duplicates, ordering, secret rotation, dead letters, start-up endpoint
//! registration, and a real signed delivery from the test's emulator.

use std::time::Duration;

use billing::connect::ConnectStatus;
use billing::ids::TenantId;
use chrono::TimeDelta;
use platform::Secret;
use platform::webhooks::InboxStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    TestApp, billforge_binary, connected_tenant, free_port, repoint_connection, run_jobs,
    spawn_app, spawn_app_with, test_ctx, wait_ready, wait_until,
};

pub(crate) const PLATFORM_SECRET: &str = "whsec_platform_test_secret";
pub(crate) const CONNECT_SECRET: &str = "whsec_connect_test_secret";

/// An app whose endpoints take the test secrets from its settings.
pub(crate) async fn app_with_secrets() -> TestApp {
    spawn_app_with(|settings| {
        settings.stripe_webhook_secrets = vec![Secret::new(PLATFORM_SECRET)];
        settings.stripe_connect_webhook_secrets = vec![Secret::new(CONNECT_SECRET)];
    })
    .await
}

/// A minimal event body as Stripe renders it.
pub(crate) fn event_body(
    id: &str,
    event_type: &str,
    account: Option<&str>,
    object: Value,
) -> String {
    let mut event = json!({
        "id": id,
        "object": "event",
        "api_version": stripe::API_VERSION,
        "created": 1_700_000_000,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object},
    });
    if let Some(account) = account {
        event["account"] = json!(account);
    }
    event.to_string()
}

pub(crate) fn customer(id: &str) -> Value {
    json!({"id": id, "object": "customer", "created": 1_700_000_000, "livemode": false})
}

pub(crate) fn account_object(id: &str) -> Value {
    json!({"id": id, "object": "account", "charges_enabled": true})
}

/// Seconds since the epoch on the app's clock.
pub(crate) fn now(app: &TestApp) -> i64 {
    app.platform.now().timestamp()
}

/// Posts `body` to `path` with `signature` (or none); returns status and JSON.
pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    body: &str,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers `body` to `path` signed with `secret` now, as Stripe would.
pub(crate) async fn deliver(
    app: &TestApp,
    path: &str,
    secret: &str,
    body: &str,
) -> (StatusCode, Value) {
    let signature = stripe::webhook::signature_header(&[secret], now(app), body.as_bytes());
    post(app, path, body, Some(signature)).await
}

pub(crate) async fn inbox_status(app: &TestApp, id: &str) -> Option<(InboxStatus, i32)> {
    app.platform
        .store()
        .webhook_event(id)
        .await
        .unwrap()
        .map(|row| (row.status, row.attempts))
}

pub(crate) async fn connect_status(app: &TestApp, tenant: &TenantId) -> ConnectStatus {
    app.platform.stripe_connect_status(tenant).await.unwrap()
}

/// A connected account on the test's emulator that no tenant has; returns its id.
pub(crate) async fn emulator_account(app: &TestApp) -> String {
    app.platform
        .stripe()
        .accounts()
        .create(
            &stripe::CreateAccount::default(),
            stripe::RequestOptions::new(),
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_verified_event_is_stored_byte_for_byte_before_the_200() {
    let app = app_with_secrets().await;
    // Odd spacing on purpose: the raw body must be kept, not re-serialised.
    let body = event_body(
        "evt_stored",
        "customer.discount.created",
        Some("acct_1"),
        customer("cus_1"),
    )
    .replace(",\"type\"", ",  \"type\"");
    let (status, answer) = deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"received": true}));

    let row = app.platform.webhook_event("evt_stored").await.unwrap();
    assert_eq!(row.payload, body);
    assert_eq!(row.status, InboxStatus::Received);
    assert_eq!(row.account_id.as_deref(), Some("acct_1"));
    assert_eq!(row.event_type, "customer.discount.created");
    assert_eq!(row.created.timestamp(), 1_700_000_000);
    assert_eq!(row.attempts, 0);

    run_jobs(&app).await;
    assert_eq!(
        inbox_status(&app, "evt_stored").await,
        Some((InboxStatus::Ignored, 1)),
        "types Billforge does not act on are kept and marked ignored"
    );
    let row = app.platform.webhook_event("evt_stored").await.unwrap();
    assert!(row.applied_at.is_some());
}

#[tokio::test]
async fn each_signature_failure_is_a_400_with_its_code_and_stores_nothing() {
    let app = app_with_secrets().await;
    let body = event_body(
        "evt_refused",
        "customer.discount.created",
        None,
        customer("cus_1"),
    );
    let at = |t: i64, secret: &str, body: &str| {
        Some(stripe::webhook::signature_header(
            &[secret],
            t,
            body.as_bytes(),
        ))
    };
    let t = now(&app);
    let not_an_event = r#"{"id":"evt_refused","object":"event"}"#;
    let cases = [
        (None, body.clone(), "signature_missing"),
        (
            Some("garbage".to_owned()),
            body.clone(),
            "signature_malformed",
        ),
        (Some(format!("t={t}")), body.clone(), "signature_malformed"),
        (
            at(t, "whsec_someone_else", &body),
            body.clone(),
            "signature_mismatch",
        ),
        // The Connect endpoint's secret does not open the platform endpoint.
        (
            at(t, CONNECT_SECRET, &body),
            body.clone(),
            "signature_mismatch",
        ),
        (
            at(t, PLATFORM_SECRET, &body),
            body.replace("cus_1", "cus_2"),
            "signature_mismatch",
        ),
        (
            at(t - 301, PLATFORM_SECRET, &body),
            body.clone(),
            "signature_too_old",
        ),
        (
            at(t + 3600, PLATFORM_SECRET, &body),
            body.clone(),
            "signature_in_future",
        ),
        (
            at(t, PLATFORM_SECRET, not_an_event),
            not_an_event.to_owned(),
            "payload_invalid",
        ),
    ];
    for (signature, sent, code) in cases {
        let (status, answer) = post(&app, "/webhooks/stripe", &sent, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(answer["error"]["request_id"].is_string(), "{answer}");
    }
    assert_eq!(inbox_status(&app, "evt_refused").await, None);
    assert!(
        !app.platform
            .run_next_job(&billforge::worker::job_handlers())
            .await
            .unwrap()
    );

    let huge = "x".repeat(platform::webhooks::MAX_BODY_BYTES + 1);
    let (status, answer) = deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn an_endpoint_without_secrets_answers_503_so_stripe_retries() {
    let app = spawn_app().await;
    let body = event_body(
        "evt_early",
        "customer.discount.created",
        None,
        customer("cus_1"),
    );
    let (status, answer) = deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "webhook_not_configured");
    assert_eq!(inbox_status(&app, "evt_early").await, None);
}

#[tokio::test]
async fn rotated_secrets_are_all_accepted_while_live() {
    let app = spawn_app_with(|settings| {
        settings.stripe_webhook_secrets = vec![
            Secret::new("whsec_new_secret"),
            Secret::new("whsec_old_secret"),
        ];
    })
    .await;
    let old = event_body(
        "evt_old",
        "customer.discount.created",
        None,
        customer("cus_1"),
    );
    let new = event_body(
        "evt_new",
        "customer.discount.created",
        None,
        customer("cus_2"),
    );
    assert_eq!(
        deliver(&app, "/webhooks/stripe", "whsec_old_secret", &old)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&app, "/webhooks/stripe", "whsec_new_secret", &new)
            .await
            .0,
        StatusCode::OK
    );
    assert!(inbox_status(&app, "evt_old").await.is_some());
    assert!(inbox_status(&app, "evt_new").await.is_some());
}

#[tokio::test]
async fn an_event_delivered_three_times_is_stored_and_applied_once() {
    let app = app_with_secrets().await;
    let (tenant, account, _) = connected_tenant(&app, "triple").await;
    let bodies = [
        event_body(
            "evt_a",
            "account.updated",
            Some(&account),
            account_object(&account),
        ),
        event_body(
            "evt_b",
            "customer.discount.updated",
            Some(&account),
            customer("cus_2"),
        ),
        event_body(
            "evt_c",
            "customer.discount.created",
            Some(&account),
            customer("cus_1"),
        ),
    ];
    for _ in 0..3 {
        for body in &bodies {
            let (status, answer) =
                deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        // Redeliveries also arrive after the first copy was applied.
        run_jobs(&app).await;
    }
    assert_eq!(
        inbox_status(&app, "evt_a").await,
        Some((InboxStatus::Applied, 1)),
        "one application"
    );
    assert_eq!(
        inbox_status(&app, "evt_b").await,
        Some((InboxStatus::Ignored, 1))
    );
    assert_eq!(
        inbox_status(&app, "evt_c").await,
        Some((InboxStatus::Ignored, 1))
    );
    let row = app.platform.webhook_event("evt_a").await.unwrap();
    assert_eq!(row.tenant_id, Some(tenant.to_string()));
}

#[tokio::test]
async fn a_concurrent_burst_with_duplicates_is_stored_once_with_one_apply_job_each() {
    let app = app_with_secrets().await;
    let ids: Vec<String> = (0..40).map(|n| format!("evt_burst_{n:02}")).collect();
    // Every event three times, all at once: the copies race into the same
    // group commits, and into different ones.
    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..3 {
        for id in &ids {
            let body = event_body(id, "customer.discount.created", None, customer("cus_b"));
            let signature =
                stripe::webhook::signature_header(&[PLATFORM_SECRET], now(&app), body.as_bytes());
            let address = app.address.clone();
            deliveries.spawn(async move {
                reqwest::Client::new()
                    .post(format!("{address}/webhooks/stripe"))
                    .header("content-type", "application/json")
                    .header("Stripe-Signature", signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
    }
    while let Some(status) = deliveries.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    for id in &ids {
        assert_eq!(
            inbox_status(&app, id).await,
            Some((InboxStatus::Received, 0)),
            "{id} stored"
        );
    }
    // Two workers enqueue the apply jobs at once: between them, each event
    // once.
    let (first, second) = tokio::join!(
        app.platform.enqueue_received_events(100),
        app.platform.enqueue_received_events(100)
    );
    assert_eq!(first.unwrap() + second.unwrap(), ids.len());
    for id in &ids {
        assert_eq!(
            inbox_status(&app, id).await,
            Some((InboxStatus::Pending, 0))
        );
    }
    // Exactly one apply job per event: claim everything that is queued.
    let store = app.platform.store();
    let mut jobs_per_event = std::collections::BTreeMap::<String, usize>::new();
    while let Some(job) = store
        .claim_job(app.platform.now(), TimeDelta::minutes(5))
        .await
        .unwrap()
    {
        let payload: Value = serde_json::from_str(&job.payload).unwrap();
        if let Some(id) = payload["event_id"].as_str() {
            *jobs_per_event.entry(id.to_owned()).or_default() += 1;
        }
    }
    let expected: std::collections::BTreeMap<String, usize> =
        ids.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(jobs_per_event, expected);
}

/// Delivers `order` of the events in `bodies` (duplicates allowed), runs the
/// jobs, and returns what every tenant and inbox row ended as.
async fn converge(order: &[usize]) -> Vec<String> {
    let app = app_with_secrets().await;
    let mut events = Vec::new();
    let mut tenants = Vec::new();
    for slug in ["ordera", "orderb"] {
        let (tenant, account, _) = connected_tenant(&app, slug).await;
        tenants.push(tenant);
        events.push(event_body(
            &format!("evt_{slug}_updated"),
            "account.updated",
            Some(&account),
            account_object(&account),
        ));
        events.push(event_body(
            &format!("evt_{slug}_customer"),
            "customer.discount.created",
            Some(&account),
            customer(&format!("cus_{slug}")),
        ));
    }
    events.push(event_body(
        "evt_orphan",
        "account.updated",
        Some("acct_nobody"),
        account_object("acct_nobody"),
    ));
    for &index in order {
        let (status, _) = deliver(
            &app,
            "/webhooks/stripe/connect",
            CONNECT_SECRET,
            &events[index],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        if index % 2 == 0 {
            run_jobs(&app).await;
        }
    }
    run_jobs(&app).await;
    let mut state = Vec::new();
    for tenant in &tenants {
        // Tenant ids differ between runs; their order does not.
        state.push(format!(
            "{:?}",
            connect_status(&app, tenant).await.can_sell()
        ));
    }
    for body in &events {
        let id = serde_json::from_str::<Value>(body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        state.push(format!(
            "{id}={:?}",
            inbox_status(&app, &id).await.map(|(status, _)| status)
        ));
    }
    state
}

#[tokio::test]
async fn shuffled_and_repeated_deliveries_converge_to_the_in_order_state() {
    let in_order = converge(&[0, 1, 2, 3, 4]).await;
    let shuffled = converge(&[4, 3, 1, 3, 0, 2, 4, 0, 1, 2]).await;
    assert_eq!(shuffled, in_order);
    // The accounts are not onboarded: their fresh state wins over the
    // events' `charges_enabled: true` copies.
    assert_eq!(in_order[..2], ["false", "false"], "{in_order:?}");
    assert!(
        in_order.contains(&"evt_orphan=Some(Pending)".to_owned()),
        "{in_order:?}"
    );
}

#[tokio::test]
async fn an_event_for_an_unknown_account_is_kept_and_applied_once_a_tenant_has_it() {
    let app = app_with_secrets().await;
    let account = emulator_account(&app).await;
    let body = event_body(
        "evt_early_account",
        "account.updated",
        Some(&account),
        account_object(&account),
    );
    assert_eq!(
        deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, &body)
            .await
            .0,
        StatusCode::OK
    );
    run_jobs(&app).await;
    let row = app
        .platform
        .webhook_event("evt_early_account")
        .await
        .unwrap();
    assert_eq!(row.status, InboxStatus::Pending, "kept, not dropped");
    assert!(
        row.last_error.unwrap().contains(&account),
        "with a note saying why"
    );

    let (tenant, _, _) = connected_tenant(&app, "late").await;
    repoint_connection(&app, &tenant, &account).await;
    assert_eq!(
        app.platform
            .requeue_events_for_account(&account)
            .await
            .unwrap(),
        1
    );
    run_jobs(&app).await;
    let row = app
        .platform
        .webhook_event("evt_early_account")
        .await
        .unwrap();
    assert_eq!(row.status, InboxStatus::Applied);
    assert_eq!(row.last_error, None);
    assert_eq!(row.attempts, 2);
}

/// Delivers `evt_doomed` for the tenant `flaky`, whose connection points at
/// an account Stripe does not know, so applying it keeps failing; runs the
/// first attempt.
pub(crate) async fn deliver_a_doomed_event(app: &TestApp) {
    let (tenant, _, _) = connected_tenant(app, "flaky").await;
    repoint_connection(app, &tenant, "acct_missing").await;
    let body = event_body(
        "evt_doomed",
        "account.updated",
        Some("acct_missing"),
        account_object("acct_missing"),
    );
    assert_eq!(
        deliver(app, "/webhooks/stripe/connect", CONNECT_SECRET, &body)
            .await
            .0,
        StatusCode::OK
    );
    run_jobs(app).await;
}

#[tokio::test]
async fn a_failing_event_goes_dead_and_an_admin_can_retry_it() {
    let app = app_with_secrets().await;
    deliver_a_doomed_event(&app).await;
    let row = app.platform.webhook_event("evt_doomed").await.unwrap();
    assert_eq!((row.status, row.attempts), (InboxStatus::Failed, 1));
    assert!(row.last_error.unwrap().contains("acct_missing"));
    for _ in 0..10 {
        app.clock.advance(TimeDelta::hours(1)).unwrap();
        run_jobs(&app).await;
    }
    let row = app.platform.webhook_event("evt_doomed").await.unwrap();
    assert_eq!((row.status, row.attempts), (InboxStatus::Dead, 8));
    let dead = app
        .platform
        .webhook_events(InboxStatus::Dead, 10)
        .await
        .unwrap();
    assert_eq!(
        dead.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["evt_doomed"]
    );

    let retried = app
        .platform
        .retry_dead_event("evt_doomed", &test_ctx(&app, "retry"))
        .await
        .unwrap();
    assert_eq!(retried.status, InboxStatus::Pending);
    assert!(
        app.platform
            .retry_dead_event("evt_doomed", &test_ctx(&app, "retry"))
            .await
            .is_err(),
        "only dead events are retried"
    );
    run_jobs(&app).await;
    let row = app.platform.webhook_event("evt_doomed").await.unwrap();
    assert_eq!(
        (row.status, row.attempts),
        (InboxStatus::Failed, 9),
        "a fresh set of attempts"
    );
}

#[tokio::test]
async fn an_event_stored_before_a_crash_is_applied_by_the_next_process() {
    let app = app_with_secrets().await;
    let body = event_body(
        "evt_survivor",
        "customer.discount.created",
        None,
        customer("cus_1"),
    );
    assert_eq!(
        deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &body)
            .await
            .0,
        StatusCode::OK
    );
    // A new process on the same database, as after a restart.
    let stripe = stripe::Client::builder("sk_test_restart")
        .base_url(app.emulator.base_url())
        .build()
        .unwrap();
    let restarted = platform::Platform::start(
        platform::Settings::with_defaults(&app.database_url),
        std::sync::Arc::new(app.clock.clone()),
        stripe,
    )
    .await
    .unwrap();
    let handlers = billforge::worker::job_handlers();
    while restarted.run_next_job(&handlers).await.unwrap() {}
    assert_eq!(
        inbox_status(&app, "evt_survivor").await,
        Some((InboxStatus::Ignored, 1))
    );
}

#[tokio::test]
async fn two_workers_never_apply_an_event_twice() {
    let app = app_with_secrets().await;
    for n in 0..20 {
        let body = event_body(
            &format!("evt_race_{n}"),
            "customer.discount.created",
            None,
            customer("cus_1"),
        );
        assert_eq!(
            deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &body)
                .await
                .0,
            StatusCode::OK
        );
    }
    let work = |platform: platform::Platform| async move {
        let handlers = billforge::worker::job_handlers();
        // Small batches, so the two workers interleave their claims.
        while platform.run_due_jobs(&handlers, 3).await.unwrap() > 0 {}
    };
    tokio::join!(work(app.platform.clone()), work(app.platform.clone()));
    for n in 0..20 {
        assert_eq!(
            inbox_status(&app, &format!("evt_race_{n}")).await,
            Some((InboxStatus::Ignored, 1))
        );
    }
}

#[tokio::test]
async fn start_up_registers_the_endpoints_once_and_a_real_delivery_activates_the_tenant() {
    let app = spawn_app().await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    app.platform.ensure_webhook_endpoints().await.unwrap();
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/v1/webhook_endpoints", app.emulator.base_url()))
        .bearer_auth("sk_test_billforge_tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoints = listed["data"].as_array().unwrap();
    let mut urls: Vec<&str> = endpoints
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        [
            format!("{}/webhooks/stripe", app.address),
            format!("{}/webhooks/stripe/connect", app.address)
        ],
        "a restart reuses the stored endpoints"
    );
    assert!(
        endpoints
            .iter()
            .all(|e| e["api_version"] == stripe::API_VERSION),
        "{listed}"
    );

    let (tenant, account, link) = connected_tenant(&app, "onboarder").await;
    let completed = crate::harness::post_without_redirects(&link).await;
    assert_eq!(completed.status(), StatusCode::SEE_OTHER);

    // The emulator delivers a signed `account.updated` to the Connect endpoint.
    let mut delivered = None;
    for _ in 0..100 {
        let events = app
            .platform
            .webhook_events(InboxStatus::Received, 10)
            .await
            .unwrap();
        if let Some(event) = events
            .into_iter()
            .find(|e| e.event_type == "account.updated")
        {
            delivered = Some(event);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = delivered.expect("the emulator delivered account.updated");
    assert_eq!(delivered.account_id.as_deref(), Some(account.as_str()));
    assert_eq!(
        connect_status(&app, &tenant).await,
        ConnectStatus::Onboarding(account.clone())
    );
    run_jobs(&app).await;
    assert_eq!(
        connect_status(&app, &tenant).await,
        ConnectStatus::Active(account.clone())
    );
    assert_eq!(
        app.platform
            .webhook_event(&delivered.id)
            .await
            .unwrap()
            .status,
        InboxStatus::Applied
    );
}

/// A `billforge` process of the real binary on the test's database and
/// emulator, killed when dropped.
fn billforge_process(app: &TestApp, args: &[&str], bind: &str) -> tokio::process::Child {
    billforge_binary(&app.database_url, &app.emulator.base_url())
        .args(args)
        .env("BIND", bind)
        .env("PUBLIC_URL", format!("http://{bind}"))
        .env("STRIPE_WEBHOOK_SECRETS", PLATFORM_SECRET)
        .env("STRIPE_CONNECT_WEBHOOK_SECRETS", CONNECT_SECRET)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the billforge binary starts")
}

/// The scale-out shape: `serve --no-workers` answers Stripe and only
/// stores; a separate `billforge worker` process applies what it stored.
#[tokio::test]
async fn serve_without_workers_only_stores_and_a_worker_process_applies() {
    let app = spawn_app().await;
    let bind = format!("127.0.0.1:{}", free_port());
    let _web_tier = billforge_process(&app, &["serve", "--no-workers"], &bind);
    wait_ready(&format!("http://{bind}")).await;
    let client = reqwest::Client::new();

    let body = event_body("evt_web_tier", "customer.created", None, customer("cus_1"));
    let signature = stripe::webhook::signature_header(
        &[PLATFORM_SECRET],
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let response = client
        .post(format!("http://{bind}/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        inbox_status(&app, "evt_web_tier").await,
        Some((InboxStatus::Received, 0)),
        "stored before the 200"
    );
    // An in-process worker would have applied it within its 1 s poll.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        inbox_status(&app, "evt_web_tier").await,
        Some((InboxStatus::Received, 0)),
        "the web tier applies nothing"
    );

    let _worker = billforge_process(&app, &["worker"], "127.0.0.1:0");
    wait_until("the worker process applies the event", || async {
        inbox_status(&app, "evt_web_tier").await == Some((InboxStatus::Ignored, 1))
    })
    .await;
}
