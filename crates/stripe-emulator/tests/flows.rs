//! Whole flows over HTTP: hosted checkout, the clock, webhooks, persistence, and
//! every emitted object against Stripe's fixture of its kind.

mod common;

use std::time::Duration;

use common::{Harness, in_order};
use serde_json::{Map, Value, json};
use stripe_emulator::{EmulatorConfig, RetryPolicy};

async fn checkout_session(harness: &Harness, price: &Value) -> Value {
    harness
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("line_items[0][quantity]", "1"),
                (
                    "success_url",
                    "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}",
                ),
                ("cancel_url", "https://shop.example/cancel"),
                ("client_reference_id", "tenant-7"),
                ("subscription_data[metadata][plan]", "pro"),
            ],
        )
        .await
}

/// Keys the 2026-08 fixtures still carry that 2026-10-28.endive no longer
/// returns (absent from the official clients' types; see `extract.py`).
const DROPPED_SINCE_FIXTURES: &[(&str, &str)] = &[("invoice", "subscription")];

#[tokio::test]
async fn hosted_checkout_creates_what_stripe_creates_in_stripes_order() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(2500).await;
    let session = checkout_session(&harness, &price).await;
    let url = session["url"].as_str().unwrap();
    assert!(url.starts_with(&harness.base));

    let declined = harness
        .pay_hosted_checkout(url, "4000 0000 0000 0002")
        .await;
    assert_eq!(declined.status().as_u16(), 402);
    assert!(
        declined
            .text()
            .await
            .unwrap()
            .contains("Your card was declined")
    );

    let paid = harness
        .pay_hosted_checkout(url, "4242 4242 4242 4242")
        .await;
    assert_eq!(paid.status().as_u16(), 303);
    let id = session["id"].as_str().unwrap();
    assert_eq!(
        paid.headers()["Location"],
        format!("https://shop.example/ok?cs={id}").as_str()
    );

    let done = harness
        .get(
            &format!("/v1/checkout/sessions/{id}"),
            &[("expand[]", "subscription")],
        )
        .await;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["subscription"]["status"], "active");
    assert_eq!(done["subscription"]["metadata"]["plan"], "pro");
    assert_eq!(
        harness.get("/v1/customers", &[]).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the decline created no customer"
    );

    let types = harness.event_types().await;
    let expected = [
        "customer.created",
        "payment_method.attached",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ];
    assert!(
        in_order(&types, &expected),
        "events out of order: {types:?}"
    );
    let again = harness
        .pay_hosted_checkout(url, "4242 4242 4242 4242")
        .await;
    assert_eq!(
        again.status().as_u16(),
        410,
        "a completed session cannot be paid twice"
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn advancing_the_global_clock_renews_then_dunning_cancels() {
    let harness = Harness::with_config(EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        retry_delays: vec![Duration::from_secs(86_400), Duration::from_secs(2 * 86_400)],
        ..EmulatorConfig::default()
    })
    .await;
    let price = harness.monthly_price(1000).await;
    let customer = harness.customer_with_card(&[]).await;
    let customer_id = customer["id"].as_str().unwrap();
    let sub = harness.subscribe(customer_id, &price, &[]).await;
    let sub_path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    let period_end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();

    let clock = harness
        .post(
            "/_emulator/clock/advance",
            &[("to", &(period_end + 60).to_string())],
        )
        .await;
    assert!(clock["offset"].as_i64().unwrap() > 27 * 86_400);
    let renewed = harness
        .get(&sub_path, &[("expand[]", "latest_invoice")])
        .await;
    assert_eq!(
        renewed["items"]["data"][0]["current_period_start"],
        period_end
    );
    assert_eq!(
        renewed["latest_invoice"]["billing_reason"],
        "subscription_cycle"
    );
    assert_eq!(renewed["latest_invoice"]["status"], "paid");
    let renewal_events = harness.event_types().await;
    assert!(
        in_order(
            &renewal_events,
            &[
                "invoice.upcoming",
                "customer.subscription.updated",
                "invoice.created",
                "invoice.paid"
            ]
        ),
        "{renewal_events:?}"
    );

    let failing = harness
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &[("customer", customer_id)],
        )
        .await;
    harness
        .post(
            &format!("/v1/customers/{customer_id}"),
            &[(
                "invoice_settings[default_payment_method]",
                failing["id"].as_str().unwrap(),
            )],
        )
        .await;
    let second_end = renewed["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();
    harness
        .post(
            "/_emulator/clock/advance",
            &[("to", &(second_end + 60).to_string())],
        )
        .await;
    let past_due = harness
        .get(&sub_path, &[("expand[]", "latest_invoice")])
        .await;
    assert_eq!(past_due["status"], "past_due");
    assert_eq!(past_due["latest_invoice"]["attempt_count"], 1);
    assert_eq!(
        past_due["latest_invoice"]["next_payment_attempt"],
        second_end + 86_400
    );

    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(4 * 86_400).to_string())],
        )
        .await;
    let canceled = harness
        .get(&sub_path, &[("expand[]", "latest_invoice")])
        .await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["latest_invoice"]["attempt_count"], 3);
    assert_eq!(
        canceled["latest_invoice"]["next_payment_attempt"],
        Value::Null
    );
    let types = harness.event_types().await;
    assert!(
        in_order(
            &types,
            &[
                "invoice.payment_failed",
                "customer.subscription.updated",
                "invoice.payment_failed",
                "invoice.payment_failed",
                "customer.subscription.deleted"
            ]
        ),
        "{types:?}"
    );
    let backwards = harness
        .call(
            "POST",
            "/_emulator/clock/advance",
            &[("seconds", "-5")],
            &[],
        )
        .await;
    assert_eq!(backwards.status, 400);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn a_future_billing_cycle_anchor_prorates_then_renews_every_subscription_at_it() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(3000).await;
    let now = harness.get("/_emulator/clock", &[]).await["now"]
        .as_i64()
        .unwrap();
    let anchor = now + 3 * 86_400;
    let mut subscriptions = Vec::new();
    for proration in ["create_prorations", "none"] {
        let customer = harness.customer_with_card(&[]).await;
        let sub = harness
            .subscribe(
                customer["id"].as_str().unwrap(),
                &price,
                &[
                    ("billing_cycle_anchor", &anchor.to_string()),
                    ("proration_behavior", proration),
                    ("expand[]", "latest_invoice"),
                ],
            )
            .await;
        assert_eq!(sub["status"], "active", "{proration}");
        assert_eq!(sub["billing_cycle_anchor"], anchor);
        assert_eq!(sub["items"]["data"][0]["current_period_end"], anchor);
        let first = sub["latest_invoice"]["amount_paid"].as_i64().unwrap();
        if proration == "none" {
            assert_eq!(first, 0, "nothing is billed before the anchor");
        } else {
            // Three days of a 28 to 31 day month of $30.
            assert!((290..=322).contains(&first), "prorated: {first}");
        }
        subscriptions.push(sub["id"].as_str().unwrap().to_owned());
    }
    let clock = harness.get("/_emulator/clock", &[]).await;
    assert_eq!(clock["next_job_at"], anchor, "both renew at the anchor");

    harness
        .post("/_emulator/clock/advance", &[("to", &anchor.to_string())])
        .await;
    for id in &subscriptions {
        let renewed = harness
            .get(
                &format!("/v1/subscriptions/{id}"),
                &[("expand[]", "latest_invoice")],
            )
            .await;
        let item = &renewed["items"]["data"][0];
        assert_eq!(item["current_period_start"], anchor);
        assert!(item["current_period_end"].as_i64().unwrap() >= anchor + 28 * 86_400);
        assert_eq!(
            renewed["latest_invoice"]["billing_reason"],
            "subscription_cycle"
        );
        assert_eq!(renewed["latest_invoice"]["amount_paid"], 3000);
    }

    let customer = harness.customer_with_card(&[]).await;
    for (when, what) in [(now - 10, "past"), (now + 40 * 86_400, "beyond a period")] {
        let refused = harness
            .call(
                "POST",
                "/v1/subscriptions",
                &[
                    ("customer", customer["id"].as_str().unwrap()),
                    ("items[0][price]", price["id"].as_str().unwrap()),
                    ("billing_cycle_anchor", &when.to_string()),
                ],
                &[],
            )
            .await;
        assert_eq!(refused.status, 400, "{what}");
        assert_eq!(
            refused.body["error"]["param"], "billing_cycle_anchor",
            "{what}"
        );
    }
    harness.emulator.stop().await;
}

#[tokio::test]
async fn the_clock_can_be_advanced_in_process() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let customer = harness.customer_with_card(&[]).await;
    let sub = harness
        .subscribe(customer["id"].as_str().unwrap(), &price, &[])
        .await;
    let before = harness.emulator.now();
    let after = harness.emulator.advance(Duration::from_secs(40 * 86_400));
    assert!(after - before >= 40 * 86_400);
    let reported = harness.get("/_emulator/clock", &[]).await["now"]
        .as_i64()
        .unwrap();
    assert!(
        (0..=2).contains(&(reported - after)),
        "HTTP and in-process clocks agree"
    );
    let renewed = harness
        .get(
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert!(
        renewed["items"]["data"][0]["current_period_start"]
            .as_i64()
            .unwrap()
            > before
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn trials_warn_three_days_before_they_end() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let customer = harness.customer_with_card(&[]).await;
    let sub = harness
        .subscribe(
            customer["id"].as_str().unwrap(),
            &price,
            &[("trial_period_days", "7")],
        )
        .await;
    assert_eq!(sub["status"], "trialing");
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(4 * 86_400 + 10).to_string())],
        )
        .await;
    assert!(
        harness
            .event_types()
            .await
            .contains(&"customer.subscription.trial_will_end".to_owned())
    );
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(3 * 86_400).to_string())],
        )
        .await;
    let active = harness
        .get(
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            &[("expand[]", "latest_invoice")],
        )
        .await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["latest_invoice"]["amount_paid"], 1000);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn unpaid_incomplete_subscriptions_expire_after_23_hours() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let customer = harness
        .post("/v1/customers", &[("email", "late@example.com")])
        .await;
    let sub = harness
        .call(
            "POST",
            "/v1/subscriptions",
            &[
                ("customer", customer["id"].as_str().unwrap()),
                ("items[0][price]", price["id"].as_str().unwrap()),
                ("payment_behavior", "default_incomplete"),
            ],
            &[("Idempotency-Key", "sub-late")],
        )
        .await
        .body;
    assert_eq!(sub["status"], "incomplete");
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(23 * 3600 + 1).to_string())],
        )
        .await;
    let expired = harness.get(&path, &[("expand[]", "latest_invoice")]).await;
    assert_eq!(expired["status"], "incomplete_expired");
    assert_eq!(expired["latest_invoice"]["status"], "void");
    let created = harness
        .get("/v1/events", &[("type", "customer.subscription.created")])
        .await;
    assert_eq!(
        created["data"][0]["request"]["idempotency_key"], "sub-late",
        "events name the request that caused them"
    );
    assert!(
        created["data"][0]["request"]["id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    harness.emulator.stop().await;
}

/// An emulator retrying failed webhook deliveries after 50 ms, 100 ms…,
/// `max_attempts` times in all.
async fn fast_retrying_harness(max_attempts: u32) -> Harness {
    Harness::with_config(EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        webhook_retry: RetryPolicy {
            first_delay: Duration::from_millis(50),
            max_attempts,
        },
        ..EmulatorConfig::default()
    })
    .await
}

#[tokio::test]
async fn webhooks_are_signed_like_stripe_and_retried_until_accepted() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let harness = fast_retrying_harness(3).await;
    let endpoint = harness
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", &format!("{}/hook", receiver.uri())),
                ("enabled_events[0]", "customer.created"),
            ],
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let fetched = harness
        .get(
            &format!("/v1/webhook_endpoints/{}", endpoint["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert!(
        fetched.get("secret").is_none(),
        "the secret is shown only on creation"
    );
    harness
        .post("/v1/products", &[("name", "not subscribed")])
        .await;
    let customer = harness
        .post("/v1/customers", &[("email", "hook@example.com")])
        .await;

    let requests = common::wait_for_requests(&receiver, 2).await;
    assert_eq!(
        requests.len(),
        2,
        "one failed attempt, one retry; product.created is not subscribed"
    );
    let verifier = stripe::webhook::WebhookVerifier::new([secret.as_str()]).unwrap();
    for request in &requests {
        let header = request
            .headers
            .get("Stripe-Signature")
            .and_then(|value| value.to_str().ok());
        verifier
            .verify(header, &request.body)
            .expect("signature verifies");
        let event: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(event["type"], "customer.created");
        assert_eq!(event["data"]["object"]["id"], customer["id"]);
    }
    let wrong = stripe::webhook::WebhookVerifier::new(["whsec_wrong"]).unwrap();
    let header = requests[0]
        .headers
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok());
    assert!(wrong.verify(header, &requests[0].body).is_err());
    harness.emulator.stop().await;
}

#[tokio::test]
async fn webhooks_go_out_several_at_once_when_configured() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // Eight deliveries to an endpoint that takes half a second each: one at
    // a time that is four seconds; eight at once, about half of one.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&receiver)
        .await;
    let harness = Harness::with_config(EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        webhook_concurrency: 8,
        ..EmulatorConfig::default()
    })
    .await;
    harness
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", &format!("{}/hook", receiver.uri())),
                ("enabled_events[0]", "customer.created"),
            ],
        )
        .await;
    let started = std::time::Instant::now();
    for n in 0..8 {
        harness
            .post("/v1/customers", &[("email", &format!("c{n}@example.com"))])
            .await;
    }
    let requests = common::wait_for_requests(&receiver, 8).await;
    assert_eq!(requests.len(), 8);
    let mut pending = harness.get("/_emulator/webhooks", &[]).await;
    while pending["pending"] != 0 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        pending = harness.get("/_emulator/webhooks", &[]).await;
    }
    let took = started.elapsed();
    assert_eq!(pending["pending"], 0, "every delivery made");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    harness.emulator.stop().await;
}

#[tokio::test]
async fn pending_deliveries_and_the_next_scheduled_job_are_reported() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // One endpoint answers slowly, one always fails: a delivery counts as
    // pending until it is made or given up.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(400)))
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/failing"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let harness = fast_retrying_harness(2).await;
    let client = stripe::Client::builder("sk_test_pending")
        .base_url(harness.base.clone())
        .build()
        .unwrap();
    let emulator = client.emulator();
    assert_eq!(emulator.pending_webhooks().await.unwrap(), 0);
    assert_eq!(emulator.clock().await.unwrap().next_job_at, None);
    for hook in ["slow", "failing"] {
        harness
            .post(
                "/v1/webhook_endpoints",
                &[
                    ("url", &format!("{}/{hook}", receiver.uri())),
                    ("enabled_events[0]", "customer.created"),
                ],
            )
            .await;
    }
    harness
        .post("/v1/customers", &[("email", "pending@example.com")])
        .await;
    assert_eq!(
        emulator.pending_webhooks().await.unwrap(),
        2,
        "counted before the request that caused them answers"
    );
    let mut waited = 0;
    while emulator.pending_webhooks().await.unwrap() > 0 {
        waited += 1;
        assert!(waited < 200, "deliveries never settled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = receiver.received_requests().await.unwrap();
    let to = |hook: &str| {
        requests
            .iter()
            .filter(|request| request.url.path() == format!("/{hook}"))
            .count()
    };
    assert_eq!(
        (to("slow"), to("failing")),
        (1, 2),
        "made, and given up after 2 attempts"
    );

    let price = harness.monthly_price(1000).await;
    let customer = harness.customer_with_card(&[]).await;
    let sub = harness
        .subscribe(customer["id"].as_str().unwrap(), &price, &[])
        .await;
    let clock = emulator.clock().await.unwrap();
    let period_end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();
    let next = clock.next_job_at.expect("the renewal's work is scheduled");
    assert!(
        clock.now < next && next <= period_end,
        "{clock:?}, period end {period_end}"
    );
    let advanced = emulator.advance_to(next).await.unwrap();
    assert_eq!(advanced.now, next);
    assert!(advanced.next_job_at.unwrap() > next, "{advanced:?}");
    harness.emulator.stop().await;
}

#[tokio::test]
async fn state_survives_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        data_dir: Some(dir.path().to_owned()),
        ..EmulatorConfig::default()
    };
    let first = Harness::with_config(config.clone()).await;
    let customer = first
        .post("/v1/customers", &[("email", "keep@example.com")])
        .await;
    first
        .post("/v1/customers", &[("email", "second@example.com")])
        .await;
    first.emulator.stop().await;

    let second = Harness::with_config(config).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    assert_eq!(second.get(&path, &[]).await["email"], "keep@example.com");
    let page = second
        .get(
            "/v1/customers",
            &[("starting_after", customer["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(page["data"], json!([]), "list order survives the restart");
    second.emulator.reset();
    assert_eq!(second.call("GET", &path, &[], &[]).await.status, 404);
    second.emulator.stop().await;
}

/// Every Stripe object found anywhere in `value` (skipping deletion stubs).
fn collect_objects(value: &Value, found: &mut Vec<Map<String, Value>>) {
    match value {
        Value::Object(map) => {
            let kind = map.get("object").and_then(Value::as_str);
            if kind.is_some_and(|kind| kind != "list") && map.get("deleted").is_none() {
                found.push(map.clone());
            }
            map.values().for_each(|child| collect_objects(child, found));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_objects(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_emitted_object_has_the_keys_of_stripes_fixture() {
    let fixtures: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/stripe/fixtures3.json"
    )))
    .unwrap();
    let harness = Harness::start().await;
    let mut responses = Vec::new();
    let price = harness.monthly_price(1500).await;
    responses.push(price.clone());
    responses.push(
        harness
            .post(
                "/v1/webhook_endpoints",
                &[
                    ("url", "http://127.0.0.1:9/none"),
                    ("enabled_events[]", "*"),
                ],
            )
            .await,
    );
    let session = checkout_session(&harness, &price).await;
    responses.push(session.clone());
    harness
        .pay_hosted_checkout(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    let completed = harness
        .get(
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
            &[],
        )
        .await;
    let customer = completed["customer"].as_str().unwrap();
    responses.push(
        harness
            .post(
                "/v1/billing_portal/sessions",
                &[
                    ("customer", customer),
                    ("return_url", "https://shop.example"),
                ],
            )
            .await,
    );
    let intent = harness
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "900"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    responses.push(
        harness
            .post(
                "/v1/refunds",
                &[
                    ("payment_intent", intent["id"].as_str().unwrap()),
                    ("amount", "100"),
                ],
            )
            .await,
    );
    responses.push(
        harness
            .post(
                "/v1/setup_intents",
                &[
                    ("customer", customer),
                    ("payment_method", "pm_card_visa"),
                    ("confirm", "true"),
                ],
            )
            .await,
    );
    let account = harness.post("/v1/accounts", &[("type", "standard")]).await;
    responses.push(account.clone());
    let on_account = [("Stripe-Account", account["id"].as_str().unwrap())];
    let direct = harness
        .call(
            "POST",
            "/v1/payment_intents",
            &[
                ("amount", "2000"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
                ("application_fee_amount", "150"),
            ],
            &on_account,
        )
        .await;
    assert_eq!(direct.body["status"], "succeeded", "{}", direct.body);
    let fees = harness.get("/v1/application_fees", &[]).await;
    assert_eq!(fees["data"][0]["amount"], 150);
    assert_eq!(fees["data"][0]["account"], account["id"]);
    responses.push(fees);
    responses.push(
        harness
            .post(
                "/v1/account_links",
                &[
                    ("account", account["id"].as_str().unwrap()),
                    ("type", "account_onboarding"),
                    ("refresh_url", "https://a.example/r"),
                    ("return_url", "https://a.example/b"),
                ],
            )
            .await,
    );
    responses.push(
        harness
            .post(
                "/v1/test_helpers/test_clocks",
                &[("frozen_time", "1800000000")],
            )
            .await,
    );
    let sub = completed["subscription"].as_str().unwrap();
    let item =
        harness.get(&format!("/v1/subscriptions/{sub}"), &[]).await["items"]["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let cheaper = harness.monthly_price(500).await;
    harness
        .post(
            &format!("/v1/subscriptions/{sub}"),
            &[
                ("items[0][id]", &item),
                ("items[0][price]", cheaper["id"].as_str().unwrap()),
            ],
        )
        .await;
    harness
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1200"),
                ("currency", "usd"),
                ("payment_method", "pm_card_createDispute"),
                ("confirm", "true"),
            ],
        )
        .await;
    responses.push(harness.get("/v1/disputes", &[]).await);
    responses.push(harness.get("/v1/invoiceitems", &[]).await);
    responses.push(harness.get("/v1/invoice_payments", &[]).await);
    responses.push(
        harness
            .post("/v1/invoices/create_preview", &[("subscription", sub)])
            .await,
    );
    let events = harness.get("/v1/events", &[("limit", "100")]).await;
    responses.push(events);

    let mut objects = Vec::new();
    responses
        .iter()
        .for_each(|value| collect_objects(value, &mut objects));
    let mut checked = std::collections::BTreeSet::new();
    for object in objects {
        let kind = object["object"].as_str().unwrap();
        let Some(fixture) = fixtures["resources"].get(kind).and_then(Value::as_object) else {
            continue;
        };
        let missing: Vec<&String> = fixture
            .keys()
            .filter(|key| !object.contains_key(*key))
            .filter(|key| !DROPPED_SINCE_FIXTURES.contains(&(kind, key.as_str())))
            .collect();
        assert!(missing.is_empty(), "{kind} lacks {missing:?}");
        checked.insert(kind.to_owned());
    }
    for kind in stripe_emulator::template_kinds() {
        assert!(
            checked.contains(&kind),
            "no {kind} was emitted by the flow: {checked:?}"
        );
    }
    harness.emulator.stop().await;
}

#[tokio::test]
async fn cycle_resets_trial_extensions_and_prorated_cancellation() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(3000).await;
    let customer = harness.customer_with_card(&[]).await;
    let customer_id = customer["id"].as_str().unwrap();

    let trialing = harness
        .subscribe(customer_id, &price, &[("trial_period_days", "7")])
        .await;
    let trial_path = format!("/v1/subscriptions/{}", trialing["id"].as_str().unwrap());
    let new_trial_end = trialing["trial_end"].as_i64().unwrap() + 7 * 86_400;
    let extended = harness
        .post(&trial_path, &[("trial_end", &new_trial_end.to_string())])
        .await;
    assert_eq!(extended["trial_end"], new_trial_end);
    assert_eq!(
        extended["items"]["data"][0]["current_period_end"],
        new_trial_end
    );
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(8 * 86_400).to_string())],
        )
        .await;
    assert_eq!(
        harness.get(&trial_path, &[]).await["status"],
        "trialing",
        "the old trial end no longer fires"
    );

    let sub = harness.subscribe(customer_id, &price, &[]).await;
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(10 * 86_400).to_string())],
        )
        .await;
    let reset = harness
        .post(
            &path,
            &[
                ("billing_cycle_anchor", "now"),
                ("expand[]", "latest_invoice"),
            ],
        )
        .await;
    assert_eq!(
        reset["latest_invoice"]["billing_reason"],
        "subscription_update"
    );
    let charged = reset["latest_invoice"]["amount_paid"].as_i64().unwrap();
    assert!(
        (900..1100).contains(&charged),
        "a new month minus the unused two thirds of the old one: {charged}"
    );
    assert_eq!(
        reset["billing_cycle_anchor"],
        reset["items"]["data"][0]["current_period_start"]
    );

    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(15 * 86_400).to_string())],
        )
        .await;
    let reply = harness
        .call(
            "DELETE",
            &path,
            &[
                ("prorate", "true"),
                ("invoice_now", "true"),
                ("expand[]", "latest_invoice"),
            ],
            &[],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "canceled");
    let final_invoice = &reply.body["latest_invoice"];
    let credit = final_invoice["total"].as_i64().unwrap();
    assert!(
        (-1600..-1400).contains(&credit),
        "half a month back: {credit}"
    );
    assert_eq!(final_invoice["amount_due"], 0);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn trial_without_card_pauses_then_resumes_after_setup() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let customer = harness
        .post("/v1/customers", &[("email", "nocard@example.com")])
        .await;
    let customer_id = customer["id"].as_str().unwrap();
    let sub = harness
        .subscribe(
            customer_id,
            &price,
            &[
                ("trial_period_days", "3"),
                (
                    "trial_settings[end_behavior][missing_payment_method]",
                    "pause",
                ),
            ],
        )
        .await;
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(3 * 86_400 + 5).to_string())],
        )
        .await;
    assert_eq!(harness.get(&path, &[]).await["status"], "paused");

    let setup = harness
        .post("/v1/setup_intents", &[("customer", customer_id)])
        .await;
    assert_eq!(setup["status"], "requires_payment_method");
    let confirmed = harness
        .post(
            &format!(
                "/v1/setup_intents/{}/confirm",
                setup["id"].as_str().unwrap()
            ),
            &[("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(confirmed["status"], "succeeded");
    let pm = confirmed["payment_method"].as_str().unwrap();
    harness
        .post(
            &format!("/v1/customers/{customer_id}"),
            &[("invoice_settings[default_payment_method]", pm)],
        )
        .await;
    let resumed = harness
        .post(&format!("{path}/resume"), &[("expand[]", "latest_invoice")])
        .await;
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["latest_invoice"]["status"], "paid");
    assert!(
        harness
            .event_types()
            .await
            .contains(&"customer.subscription.resumed".to_owned())
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn signatures_carry_the_emulated_time() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let harness = Harness::start().await;
    let endpoint = harness
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", &receiver.uri()),
                ("enabled_events[]", "customer.created"),
            ],
        )
        .await;
    let clock = harness
        .post("/_emulator/clock/advance", &[("seconds", "86400")])
        .await;
    harness
        .post("/v1/customers", &[("email", "later@example.com")])
        .await;
    let requests = common::wait_for_requests(&receiver, 1).await;
    let request = requests.first().expect("delivered");
    let header = request
        .headers
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok());
    let verifier =
        stripe::webhook::WebhookVerifier::new([endpoint["secret"].as_str().unwrap()]).unwrap();
    let emulated_now = clock["now"].as_i64().unwrap();
    verifier
        .verify_at(header, &request.body, emulated_now)
        .expect("valid at the emulated time");
    assert!(
        verifier
            .verify_at(header, &request.body, emulated_now - 86_400)
            .is_err(),
        "too new for the wall clock"
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn the_dispute_card_opens_a_dispute_that_takes_evidence_once() {
    let harness = Harness::start().await;
    let intent = harness
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "4200"),
                ("currency", "usd"),
                ("payment_method", "pm_card_createDispute"),
                ("confirm", "true"),
            ],
        )
        .await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
    let listed = harness
        .get(
            "/v1/disputes",
            &[("payment_intent", intent["id"].as_str().unwrap())],
        )
        .await;
    let dispute = &listed["data"][0];
    assert_eq!(
        (
            dispute["status"].as_str(),
            dispute["amount"].as_i64(),
            dispute["charge"].as_str()
        ),
        (
            Some("needs_response"),
            Some(4200),
            intent["latest_charge"].as_str()
        ),
        "{listed}"
    );
    let charge = harness
        .get(
            &format!("/v1/charges/{}", intent["latest_charge"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(charge["disputed"], true);
    let path = format!("/v1/disputes/{}", dispute["id"].as_str().unwrap());
    let draft = harness
        .post(
            &path,
            &[
                ("evidence[uncategorized_text]", "Used daily."),
                ("submit", "false"),
            ],
        )
        .await;
    assert_eq!(
        (
            draft["status"].as_str(),
            draft["evidence"]["uncategorized_text"].as_str(),
            draft["evidence_details"]["has_evidence"].as_bool()
        ),
        (Some("needs_response"), Some("Used daily."), Some(true))
    );
    let submitted = harness
        .post(
            &path,
            &[("evidence[customer_email_address]", "ada@example.com")],
        )
        .await;
    assert_eq!(
        (
            submitted["status"].as_str(),
            submitted["evidence"]["uncategorized_text"].as_str(),
            submitted["evidence_details"]["submission_count"].as_i64()
        ),
        (Some("under_review"), Some("Used daily."), Some(1))
    );
    let again = harness
        .call("POST", &path, &[("evidence[uncategorized_text]", "x")], &[])
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    let unknown = harness
        .call("POST", "/v1/disputes/dp_nope", &[("submit", "true")], &[])
        .await;
    assert_eq!(unknown.status, 404);
    let events = harness.get("/v1/events", &[("limit", "100")]).await;
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["type"].as_str())
        .filter(|kind| kind.starts_with("charge.dispute."))
        .collect();
    assert_eq!(
        kinds,
        [
            "charge.dispute.updated",
            "charge.dispute.updated",
            "charge.dispute.created"
        ]
    );
    harness.emulator.stop().await;
}
