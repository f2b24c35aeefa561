//! Webhook reconciliation: events whose deliveries never arrived are listed
//! from Stripe (the test's emulator), stored in the inbox and applied; a
//! second run adds nothing.

use billing::connect::ConnectStatus;
use platform::webhooks::{InboxStatus, WebhookSource};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestApp, connected_tenant, run_jobs};
use crate::webhooks::{PLATFORM_SECRET, app_with_secrets, connect_status, deliver};

/// Every inbox row stored and not yet worked on, oldest first.
async fn pending(app: &TestApp) -> Vec<platform::webhooks::InboxEvent> {
    app.platform
        .webhook_events(InboxStatus::Received, 1_000)
        .await
        .unwrap()
}

/// A customer created on the platform account: Stripe records `customer.created`.
async fn platform_customer(app: &TestApp, name: &str) -> String {
    app.platform
        .stripe()
        .customers()
        .create(
            &stripe::CreateCustomer {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            stripe::RequestOptions::new(),
        )
        .await
        .unwrap()
        .id
}

/// The platform's events on the emulator, newest first, as Stripe's JSON.
async fn emulator_events(app: &TestApp) -> Vec<Value> {
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/v1/events?limit=100", app.emulator.base_url()))
        .bearer_auth("sk_test_billforge_tests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn missed_deliveries_are_recovered_applied_and_never_added_twice() {
    // No endpoint is registered on the emulator: every delivery is missed.
    let app = app_with_secrets().await;
    let (tenant, account, link) = connected_tenant(&app, "missed").await;
    let completed = crate::harness::post_without_redirects(&link).await;
    assert_eq!(completed.status(), StatusCode::SEE_OTHER);
    platform_customer(&app, "first").await;
    platform_customer(&app, "second").await;
    assert!(pending(&app).await.is_empty(), "nothing was delivered");

    // One platform event did arrive as a webhook before the run.
    let created: Vec<Value> = emulator_events(&app)
        .await
        .into_iter()
        .filter(|event| event["type"] == "customer.created")
        .collect();
    assert_eq!(created.len(), 2, "{created:?}");
    let delivered = created[0].to_string();
    let (status, _) = deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &delivered).await;
    assert_eq!(status, StatusCode::OK);

    let first = app.platform.reconcile_webhooks().await.unwrap();
    assert!(first.listed >= 3, "{first:?}");
    assert_eq!(
        first.recovered,
        first.listed - 1,
        "the delivered event was not stored again"
    );
    let inbox = pending(&app).await;
    assert_eq!(inbox.len(), first.listed);
    let account_event = inbox
        .iter()
        .find(|event| {
            event.event_type == "account.updated"
                && event.account_id.as_deref() == Some(account.as_str())
        })
        .expect("the connected account's missed event was recovered");
    assert_eq!(account_event.source, WebhookSource::Connect);
    let customers = inbox
        .iter()
        .filter(|event| event.event_type == "customer.created")
        .collect::<Vec<_>>();
    assert_eq!(customers.len(), 2);
    assert!(
        customers
            .iter()
            .all(|event| event.source == WebhookSource::Platform && event.account_id.is_none())
    );

    run_jobs(&app).await;
    assert_eq!(
        connect_status(&app, &tenant).await,
        ConnectStatus::Active(account.clone()),
        "the recovered event was applied"
    );
    assert_eq!(
        app.platform
            .webhook_event(&account_event.id)
            .await
            .unwrap()
            .status,
        InboxStatus::Applied
    );

    let again = app.platform.reconcile_webhooks().await.unwrap();
    assert_eq!(again.recovered, 0, "{again:?}");
    assert_eq!(again.listed, 0, "the cursor moved past what was seen");

    // Later events are picked up from the cursor, oldest first.
    let third = platform_customer(&app, "third").await;
    let later = app.platform.reconcile_webhooks().await.unwrap();
    assert_eq!(
        (later.listed, later.recovered),
        (1, 1),
        "only the new event is listed"
    );
    let newest = pending(&app).await;
    assert_eq!(newest.len(), 1);
    assert!(newest[0].payload.contains(&third));
}

#[tokio::test]
async fn the_reconcile_job_is_scheduled_once_per_slot_and_runs_on_the_worker() {
    let app = app_with_secrets().await;
    platform_customer(&app, "missed").await;
    let scheduled = app.platform.schedule_webhook_reconcile().await.unwrap();
    let again = app.platform.schedule_webhook_reconcile().await.unwrap();
    assert_eq!(scheduled.id, again.id, "one run per five-minute slot");
    assert_eq!(scheduled.kind, platform::reconcile::RECONCILE_JOB);

    run_jobs(&app).await;
    let inbox = app
        .platform
        .webhook_events(InboxStatus::Ignored, 10)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1, "recovered by the job, then applied");
    assert_eq!(inbox[0].event_type, "customer.created");

    app.clock.advance(chrono::TimeDelta::minutes(5)).unwrap();
    let next = app.platform.schedule_webhook_reconcile().await.unwrap();
    assert_ne!(next.id, scheduled.id, "the next slot gets its own run");
}

#[tokio::test]
async fn a_first_run_over_several_pages_stores_every_event_once_and_resumes_from_the_newest() {
    // Two and a half pages of events Billforge never received.
    let app = app_with_secrets().await;
    let mut created = Vec::new();
    for n in 0..250 {
        created.push(platform_customer(&app, &format!("backlog {n}")).await);
    }
    let first = app.platform.reconcile_webhooks().await.unwrap();
    assert_eq!((first.listed, first.recovered), (250, 250), "{first:?}");
    let inbox = pending(&app).await;
    assert_eq!(inbox.len(), 250);
    for customer in &created {
        assert_eq!(
            inbox
                .iter()
                .filter(|event| event.payload.contains(customer.as_str()))
                .count(),
            1,
            "{customer} stored once"
        );
    }

    // The cursor is the newest event: the next run lists only what follows.
    let after = platform_customer(&app, "after").await;
    let next = app.platform.reconcile_webhooks().await.unwrap();
    assert_eq!((next.listed, next.recovered), (1, 1), "{next:?}");
    assert!(
        pending(&app)
            .await
            .iter()
            .any(|event| event.payload.contains(after.as_str()))
    );
}
