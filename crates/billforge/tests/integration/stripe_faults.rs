//! Faults: Stripe answering 500s and 429s, timing out and dropping
//! connections (the emulator's injected faults) while merchants create
//! customers, start checkouts and change subscriptions through `/v1`.
//!
//! The promise: no operation creates a Stripe object twice (the adapter
//! retries with the same `Idempotency-Key`), and each one either completes or
//! fails visibly (`502 stripe_error`) with nothing written, so the merchant's
//! retry with its own `Idempotency-Key` completes it once.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_billing::{selling_key, send};
use crate::harness::{TestApp, pricing_catalog, run_jobs_until, spawn_app_with_stripe, tenant_id};
use crate::mirror::emulator_list;
use crate::subscriptions::pay;

/// How the emulator misbehaves during the operations: three Stripe requests
/// in four fail one way or another (from a fixed seed), so the adapter's
/// retries run out often and merchants must retry too.
const FAULTS: &[(&str, &str)] = &[
    ("server_error", "0.2"),
    ("rate_limited", "0.2"),
    ("timeout", "0.15"),
    ("dropped", "0.2"),
    ("timeout_delay_ms", "1500"),
    ("seed", "20261127"),
];
/// Merchant-side attempts per operation before the test gives up.
const ATTEMPTS: usize = 12;

/// Sets the emulator's faults (`[]`: none), restarting its counts; returns
/// the report of the faults it replaced (settings and what they injected).
async fn set_faults(app: &TestApp, faults: &[(&str, &str)]) -> Value {
    let report: Value = reqwest::Client::new()
        .get(format!("{}/_emulator/faults", app.emulator.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", app.emulator.base_url()))
        .form(faults)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    report
}

/// What the merchant's calls met: completed at the first try, after visible
/// failures, and the failures' answers.
#[derive(Default, Debug)]
struct Outcomes {
    first_try: usize,
    after_failures: usize,
    failures: usize,
}

impl Outcomes {
    /// Sends `POST path` with `body` and the merchant's `idempotency_key`
    /// until it succeeds, as a merchant's retry would. Every failure must be
    /// a visible `502 stripe_error` and leave nothing behind (`written`
    /// says whether the object exists).
    async fn post_until_done<F, Fut>(
        &mut self,
        app: &TestApp,
        key: &str,
        path: &str,
        idempotency_key: &str,
        body: Value,
        written: F,
    ) -> Value
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for attempt in 0..ATTEMPTS {
            let response = app
                .api(Method::POST, path, key)
                .header("Idempotency-Key", idempotency_key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            if status.is_success() {
                if attempt == 0 {
                    self.first_try += 1;
                } else {
                    self.after_failures += 1;
                }
                return answer;
            }
            self.failures += 1;
            assert_eq!(status, StatusCode::BAD_GATEWAY, "POST {path}: {answer}");
            assert_eq!(answer["error"]["code"], "stripe_error", "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("Stripe"), "{message}");
            assert!(
                !message.contains("sk_test"),
                "no key in the message: {message}"
            );
            assert!(!written().await, "POST {path} failed but left {body}");
        }
        panic!("POST {path} never succeeded in {ATTEMPTS} attempts");
    }
}

#[tokio::test]
async fn stripe_faults_create_nothing_twice_and_every_call_completes_or_fails_visibly() {
    let app = spawn_app_with_stripe(|client| {
        client
            .timeout(Duration::from_millis(700))
            .retry_delays(Duration::from_millis(5), Duration::from_millis(20))
    })
    .await;
    let key = selling_key(&app, "shaky").await;
    let plans = pricing_catalog(&app, &key).await;
    let (basic, pro) = (plans[0]["id"].clone(), plans[1]["id"].clone());
    let account = app
        .platform
        .connected_account(&tenant_id(&app, "shaky").await)
        .await
        .unwrap();
    let mut outcomes = Outcomes::default();
    const CUSTOMERS: usize = 6;

    // Customers and their checkouts while Stripe misbehaves.
    set_faults(&app, FAULTS).await;
    let mut checkouts = Vec::new();
    for n in 0..CUSTOMERS {
        let external = format!("user-{n}");
        let lookup = format!("/v1/customers/{external}");
        outcomes
            .post_until_done(
                &app,
                &key,
                "/v1/customers",
                &format!("create-{external}"),
                json!({"external_id": external, "email": format!("{external}@example.com")}),
                || async {
                    send(&app, Method::GET, &lookup, &key, Value::Null).await.0
                        != StatusCode::NOT_FOUND
                },
            )
            .await;
        let checkout = outcomes
            .post_until_done(
                &app,
                &key,
                "/v1/checkout_sessions",
                &format!("checkout-{external}"),
                json!({"plan": basic, "customer": external,
                       "success_url": format!("{}/thanks", app.address),
                       "cancel_url": format!("{}/pricing", app.address)}),
                || async { false },
            )
            .await;
        checkouts.push(checkout["url"].as_str().unwrap().to_owned());
    }
    let injected_before_payment = set_faults(&app, &[]).await;

    // The customers pay; the subscriptions reach the mirror.
    for url in &checkouts {
        pay(url, "4242424242424242").await;
    }
    let subscriptions = || async {
        app.ok_json("/v1/subscriptions?limit=100", &key).await["data"]
            .as_array()
            .unwrap()
            .clone()
    };
    run_jobs_until(&app, "every subscription mirrored", || async {
        subscriptions().await.len() == CUSTOMERS
    })
    .await;

    // Each upgraded to Pro while Stripe misbehaves again.
    set_faults(&app, FAULTS).await;
    for subscription in subscriptions().await {
        let id = subscription["id"].as_str().unwrap();
        outcomes
            .post_until_done(
                &app,
                &key,
                &format!("/v1/subscriptions/{id}"),
                &format!("upgrade-{id}"),
                json!({"price": plans[1]["prices"][0]["id"]}),
                || async { false },
            )
            .await;
    }
    let injected_after = set_faults(&app, &[]).await;

    // Stripe holds one customer per merchant customer, one subscription
    // each, each on Pro's price once: nothing was created twice.
    let customers = emulator_list(&app, &account, "customers").await;
    let mut emails: Vec<&str> = customers
        .iter()
        .map(|customer| customer["email"].as_str().unwrap())
        .collect();
    emails.sort_unstable();
    let expected: Vec<String> = (0..CUSTOMERS)
        .map(|n| format!("user-{n}@example.com"))
        .collect();
    assert_eq!(emails, expected, "one Stripe customer each");
    let on_stripe = emulator_list(&app, &account, "subscriptions").await;
    assert_eq!(on_stripe.len(), CUSTOMERS, "one Stripe subscription each");
    let pro_price = plans[1]["prices"][0]["id"].clone();
    for subscription in &on_stripe {
        let items = subscription["items"]["data"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{subscription}");
        assert_eq!(
            items[0]["price"]["metadata"]["price_id"], pro_price,
            "{subscription}"
        );
    }
    // Billforge's own rows: one customer each, and its mirror says Pro.
    let listed = app.ok_json("/v1/customers?limit=100", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), CUSTOMERS);
    run_jobs_until(&app, "the mirror shows every upgrade", || async {
        subscriptions()
            .await
            .iter()
            .all(|subscription| subscription["plan"] == pro)
    })
    .await;

    let injected = |report: &Value, kind: &str| report["injected"][kind].as_u64().unwrap();
    eprintln!(
        "stripe faults: {outcomes:?}; injected before payment {}, during upgrades {}",
        injected_before_payment["injected"], injected_after["injected"]
    );
    for kind in ["server_error", "rate_limited", "timeout", "dropped"] {
        assert!(
            injected(&injected_before_payment, kind) + injected(&injected_after, kind) > 0,
            "{kind} was injected"
        );
    }
    assert!(
        outcomes.failures > 0,
        "some calls failed visibly: {outcomes:?}"
    );
}
