//! Outbound webhooks (issue #9): delivered to a local receiver (wiremock),
//! signatures checked with the `standardwebhooks` crate (an independent
//! implementation of the scheme), time driven by the app's clock and jobs
//! run with `run_next_job`.

use billing::events::{CustomerFacts, DomainEvent, InvoiceFacts};
use billing::ids::{CustomerId, TenantId};
use billing::money::{Currency, Money};
use chrono::TimeDelta;
use platform::outbound::{DeliveryStatus, EndpointStatus, OutboundDelivery};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use standardwebhooks::Webhook;
use store::domain_events::NewDomainEvent;
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{TestApp, assert_api_error, spawn_app};

/// Runs every due job.
async fn run_jobs(app: &TestApp) {
    let handlers = billforge::worker::job_handlers();
    while app.platform.run_next_job(&handlers).await.unwrap() {}
}

/// A signed-up merchant's tenant id and API key.
pub(crate) async fn merchant(app: &TestApp, slug: &str) -> (TenantId, String) {
    let browser = app.signed_up_merchant(slug).await;
    let key = browser.create_api_key("outbound tests").await;
    let tenant = app
        .platform
        .store()
        .tenant_by_slug(slug)
        .await
        .unwrap()
        .unwrap();
    (tenant.id.parse().unwrap(), key)
}

/// A receiver answering 200 to everything not mocked before it.
pub(crate) async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

/// Creates an endpoint to `url` through the API; returns its id and secret.
pub(crate) async fn endpoint(
    app: &TestApp,
    key: &str,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let response = app
        .api(Method::POST, "/v1/webhook_endpoints", key)
        .json(&json!({"url": url, "event_types": types, "description": "tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

pub(crate) fn customer(stripe_id: &str) -> CustomerFacts {
    CustomerFacts {
        customer_id: CustomerId::generate(),
        stripe_customer_id: stripe_id.to_owned(),
        email: None,
        name: None,
    }
}

pub(crate) fn invoice_paid(customer: &CustomerFacts, invoice: &str) -> DomainEvent {
    DomainEvent::InvoicePaid(invoice_facts(customer, invoice))
}

fn invoice_facts(customer: &CustomerFacts, invoice: &str) -> InvoiceFacts {
    let usd = Currency::parse("usd").unwrap();
    InvoiceFacts {
        stripe_invoice_id: invoice.to_owned(),
        customer: customer.clone(),
        stripe_subscription_id: None,
        plan_name: Some("Pro".into()),
        number: None,
        amount_due: Money::new(1500, usd),
        amount_paid: Money::new(1500, usd),
        attempt_count: 1,
        next_payment_attempt: None,
        hosted_invoice_url: None,
        period_start: None,
        period_end: None,
    }
}

/// Records `event` for `tenant`, `offset_secs` after now; returns its id.
pub(crate) async fn record(
    app: &TestApp,
    tenant: &TenantId,
    event: DomainEvent,
    offset_secs: i64,
) -> String {
    let now = app.platform.now();
    app.platform
        .store()
        .record_domain_event(
            NewDomainEvent {
                tenant_id: tenant.clone(),
                cause: format!("test:{}", ulid::Ulid::new()),
                event,
                occurred_at: now + TimeDelta::seconds(offset_secs),
            },
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .to_string()
}

/// The signatures of the `webhook-signature` header that `secret` makes,
/// computed by the `standardwebhooks` crate; panics unless one is there.
fn assert_signed_by(request: &wiremock::Request, secret: &str) {
    let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
    let expected = Webhook::new(secret)
        .unwrap()
        .sign(
            &header("webhook-id"),
            header("webhook-timestamp").parse().unwrap(),
            &request.body,
        )
        .unwrap();
    let presented = header("webhook-signature");
    assert!(
        presented.split(' ').any(|s| s == expected),
        "{presented} lacks {expected}"
    );
}

/// The deliveries of `endpoint`, newest first, through the API.
pub(crate) async fn deliveries(app: &TestApp, key: &str, endpoint: &str) -> Vec<Value> {
    let body = app
        .ok_json(&format!("/v1/webhook_deliveries?endpoint={endpoint}"), key)
        .await;
    body["data"].as_array().unwrap().clone()
}

async fn delivery_row(app: &TestApp, tenant: &TenantId, id: &str) -> OutboundDelivery {
    app.platform
        .outbound_delivery(tenant, id)
        .await
        .unwrap()
        .delivery
}

#[tokio::test]
async fn a_delivery_is_signed_per_standard_webhooks_and_logged() {
    let app = spawn_app().await;
    let (tenant, key) = merchant(&app, "acme").await;
    let server = receiver().await;
    let (endpoint_id, secret) = endpoint(&app, &key, &server.uri(), &["invoice.paid"]).await;
    assert!(secret.starts_with("whsec_"));
    let ada = customer("cus_ada");
    let event_id = record(&app, &tenant, invoice_paid(&ada, "in_1"), 0).await;
    // Filtered out: the endpoint only takes invoice.paid.
    record(
        &app,
        &tenant,
        DomainEvent::PaymentFailed(invoice_facts(&ada, "in_2")),
        1,
    )
    .await;
    run_jobs(&app).await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    // The independent implementation verifies it, timestamp tolerance included.
    Webhook::new(&secret)
        .unwrap()
        .verify(&request.body, &request.headers)
        .expect("signature verifies");
    assert_eq!(request.headers["webhook-id"], event_id.as_str());
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["type"], "invoice.paid");
    assert_eq!(body["created"], app.platform.now().timestamp());
    assert_eq!(body["data"]["stripe_invoice_id"], "in_1");
    assert_eq!(body["data"]["amount_paid"]["amount_minor"], 1500);

    let log = deliveries(&app, &key, &endpoint_id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["last_response_status"], 200);
    let detail = app
        .ok_json(
            &format!("/v1/webhook_deliveries/{}", log[0]["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(detail["attempts"][0]["response_status"], 200);
    assert_eq!(detail["attempts"][0]["response_excerpt"], "ok");

    // A re-dispatched event adds no second delivery.
    run_jobs(&app).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // The secret is never shown again except through the audited reveal.
    let shown = app
        .ok_json(&format!("/v1/webhook_endpoints/{endpoint_id}"), &key)
        .await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert!(!crate::harness::captured_logs().contains(&secret));
}

#[tokio::test]
async fn a_failing_delivery_is_retried_with_backoff_until_it_succeeds() {
    let app = spawn_app().await;
    let (tenant, key) = merchant(&app, "acme").await;
    let server = receiver().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let (endpoint_id, secret) = endpoint(&app, &key, &server.uri(), &[]).await;
    record(&app, &tenant, invoice_paid(&customer("cus_1"), "in_1"), 0).await;

    run_jobs(&app).await;
    let id = deliveries(&app, &key, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = delivery_row(&app, &tenant, &id).await;
    assert_eq!(first.status, DeliveryStatus::Failed);
    assert_eq!(first.last_response_status, Some(500));
    assert_eq!(first.last_response_excerpt.as_deref(), Some("boom"));
    // PostgreSQL keeps microseconds.
    let micros = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|t| t.timestamp_micros());
    assert_eq!(
        micros(first.next_attempt_at),
        micros(Some(app.platform.now() + TimeDelta::seconds(30)))
    );
    // Not due yet: nothing happens.
    run_jobs(&app).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    app.clock.advance(TimeDelta::seconds(30)).unwrap();
    run_jobs(&app).await;
    let second = delivery_row(&app, &tenant, &id).await;
    assert_eq!(second.status, DeliveryStatus::Failed);
    assert_eq!(
        micros(second.next_attempt_at),
        micros(Some(app.platform.now() + TimeDelta::seconds(60))),
        "the delay doubles"
    );

    app.clock.advance(TimeDelta::seconds(60)).unwrap();
    run_jobs(&app).await;
    let done = delivery_row(&app, &tenant, &id).await;
    assert_eq!(done.status, DeliveryStatus::Succeeded);
    assert_eq!(done.attempts, 3);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_signed_by(request, &secret);
        assert_eq!(
            request.body, requests[0].body,
            "retries send the same bytes"
        );
    }
    let log = app.platform.outbound_delivery(&tenant, &id).await.unwrap();
    let codes: Vec<_> = log.attempts.iter().map(|a| a.response_status).collect();
    assert_eq!(codes, [Some(500), Some(500), Some(200)]);
}

#[tokio::test]
async fn a_customers_later_event_waits_for_an_earlier_failing_one() {
    let app = spawn_app().await;
    let (tenant, key) = merchant(&app, "acme").await;
    let server = receiver().await;
    let ada = customer("cus_ada");
    let bob = customer("cus_bob");
    let (_, secret) = endpoint(&app, &key, &server.uri(), &[]).await;
    let first = record(&app, &tenant, invoice_paid(&ada, "in_a1"), 0).await;
    Mock::given(method("POST"))
        .and(body_string_contains(first.as_str()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    // Recorded a second apart, as a customer's events are.
    app.clock.advance(TimeDelta::seconds(1)).unwrap();
    let second = record(&app, &tenant, invoice_paid(&ada, "in_a2"), 0).await;
    app.clock.advance(TimeDelta::seconds(1)).unwrap();
    let other = record(&app, &tenant, invoice_paid(&bob, "in_b1"), 0).await;

    run_jobs(&app).await;
    let ids = |requests: Vec<wiremock::Request>| -> Vec<String> {
        requests
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect()
    };
    let sent = ids(server.received_requests().await.unwrap());
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.contains(&first) && sent.contains(&other), "{sent:?}");
    assert!(
        !sent.contains(&second),
        "ada's second event waits: {sent:?}"
    );

    app.clock.advance(TimeDelta::seconds(30)).unwrap();
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    for request in &requests {
        assert_signed_by(request, &secret);
    }
    let sent = ids(requests);
    let ada_order: Vec<_> = sent
        .iter()
        .filter(|id| **id == first || **id == second)
        .cloned()
        .collect();
    assert_eq!(ada_order, [first.clone(), first, second]);
}

#[tokio::test]
async fn an_endpoint_failing_for_its_whole_retry_window_is_disabled_and_the_merchant_told() {
    let app = spawn_app().await;
    let (tenant, key) = merchant(&app, "acme").await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (endpoint_id, _) = endpoint(&app, &key, &server.uri(), &[]).await;
    let started = app.platform.now();
    record(&app, &tenant, invoice_paid(&customer("cus_1"), "in_1"), 0).await;
    run_jobs(&app).await;
    let id = deliveries(&app, &key, &endpoint_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    loop {
        let row = delivery_row(&app, &tenant, &id).await;
        let Some(next) = row.next_attempt_at else {
            break;
        };
        assert!(row.attempts < 30, "retries must end");
        app.clock.set(next).unwrap();
        run_jobs(&app).await;
    }
    let dead = delivery_row(&app, &tenant, &id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.attempts, 14);
    let elapsed = app.platform.now() - started;
    assert!(
        elapsed > TimeDelta::days(2) && elapsed <= TimeDelta::days(3),
        "{elapsed}"
    );

    let endpoint = app
        .platform
        .outbound_endpoint(&tenant, &endpoint_id)
        .await
        .unwrap();
    assert_eq!(endpoint.status, EndpointStatus::Disabled);
    assert!(endpoint.disabled_reason.unwrap().contains("HTTP 500"));
    let events = app
        .platform
        .store()
        .scoped(&tenant)
        .domain_events(None, None, 100)
        .await
        .unwrap();
    let disabled: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "webhook_endpoint.disabled")
        .collect();
    assert_eq!(disabled.len(), 1);
    match disabled[0].event().unwrap() {
        DomainEvent::WebhookEndpointDisabled {
            endpoint_id: id,
            url,
            ..
        } => {
            assert_eq!(id, endpoint_id);
            assert!(url.starts_with(&server.uri()));
        }
        other => panic!("{other:?}"),
    }
    // The merchant is told by mail too (captured: no SMTP_URL here).
    let told: Vec<_> = app
        .platform
        .store()
        .outbox_messages_all(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|message| message.kind == "merchant_webhook_endpoint_disabled")
        .map(|message| (message.recipient, message.status.as_str()))
        .collect();
    assert_eq!(told, [(crate::harness::merchant_email("acme"), "captured")]);
    // A disabled endpoint gets no new deliveries.
    record(&app, &tenant, invoice_paid(&customer("cus_2"), "in_2"), 0).await;
    run_jobs(&app).await;
    assert_eq!(deliveries(&app, &key, &endpoint_id).await.len(), 1);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_24_hours() {
    let app = spawn_app().await;
    let (tenant, key) = merchant(&app, "acme").await;
    let server = receiver().await;
    let (endpoint_id, old) = endpoint(&app, &key, &server.uri(), &[]).await;
    let (status, rotated) = app
        .call(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint_id}/rotate_secret"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    record(&app, &tenant, invoice_paid(&customer("cus_1"), "in_1"), 0).await;
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    for secret in [&old, &new] {
        Webhook::new(secret)
            .unwrap()
            .verify(&requests[0].body, &requests[0].headers)
            .expect("both secrets verify during the overlap");
    }

    app.clock.advance(TimeDelta::hours(25)).unwrap();
    record(&app, &tenant, invoice_paid(&customer("cus_1"), "in_2"), 0).await;
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    let later = &requests[1];
    assert_signed_by(later, &new);
    let signatures = later.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 1, "the old secret expired");

    // The reveal shows the current secret, and is audited.
    let (status, revealed) = app
        .call(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint_id}/reveal_secret"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revealed["secret"], new.as_str());
    let audit = app.ok_json("/v1/audit_events", &key).await;
    assert!(
        audit
            .to_string()
            .contains("webhook_endpoint.secret_revealed")
    );
}

#[tokio::test]
async fn a_test_event_is_sent_and_any_delivery_can_be_replayed() {
    let app = spawn_app().await;
    let (_tenant, key) = merchant(&app, "acme").await;
    let server = receiver().await;
    let (endpoint_id, secret) = endpoint(&app, &key, &server.uri(), &["invoice.paid"]).await;
    let (status, test) = app
        .call(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint_id}/test"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{test}");
    assert_eq!(test["event_type"], "webhook_endpoint.test");
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    Webhook::new(&secret)
        .unwrap()
        .verify(&requests[0].body, &requests[0].headers)
        .unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["type"], "webhook_endpoint.test");
    assert_eq!(body["data"]["endpoint_id"], endpoint_id.as_str());

    let delivery = test["id"].as_str().unwrap();
    let (status, replayed) = app
        .call(
            Method::POST,
            &format!("/v1/webhook_deliveries/{delivery}/replay"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["status"], "pending");
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers["webhook-id"],
        requests[0].headers["webhook-id"]
    );
    assert_eq!(requests[1].body, requests[0].body);
    let detail = app
        .ok_json(&format!("/v1/webhook_deliveries/{delivery}"), &key)
        .await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_tenants_endpoints_and_deliveries_are_not_found() {
    let app = spawn_app().await;
    let (_, key_a) = merchant(&app, "acme").await;
    let (_, key_b) = merchant(&app, "globex").await;
    let server = receiver().await;
    let (endpoint_id, _) = endpoint(&app, &key_a, &server.uri(), &[]).await;
    let (_, test) = app
        .call(
            Method::POST,
            &format!("/v1/webhook_endpoints/{endpoint_id}/test"),
            &key_a,
        )
        .await;
    let delivery = test["id"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, format!("/v1/webhook_endpoints/{endpoint_id}")),
        (Method::POST, format!("/v1/webhook_endpoints/{endpoint_id}")),
        (
            Method::DELETE,
            format!("/v1/webhook_endpoints/{endpoint_id}"),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{endpoint_id}/rotate_secret"),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{endpoint_id}/reveal_secret"),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{endpoint_id}/test"),
        ),
        (
            Method::GET,
            format!("/v1/webhook_deliveries?endpoint={endpoint_id}"),
        ),
        (Method::GET, format!("/v1/webhook_deliveries/{delivery}")),
        (
            Method::POST,
            format!("/v1/webhook_deliveries/{delivery}/replay"),
        ),
    ] {
        let response = app
            .api(method.clone(), &path, &key_b)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_api_error((status, body), StatusCode::NOT_FOUND, "not_found");
    }
    let listed = app.ok_json("/v1/webhook_endpoints", &key_b).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let listed = app.ok_json("/v1/webhook_deliveries", &key_b).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    // Still there for its owner.
    app.ok_json(&format!("/v1/webhook_endpoints/{endpoint_id}"), &key_a)
        .await;
}

#[tokio::test]
async fn bad_endpoint_input_is_a_400_that_stores_nothing() {
    let app = spawn_app().await;
    let (_, key) = merchant(&app, "acme").await;
    for body in [
        json!({"url": "ftp://example.com"}),
        json!({"url": "not a url"}),
        json!({"url": "https://example.com", "event_types": ["invoice.nope"]}),
    ] {
        let response = app
            .api(Method::POST, "/v1/webhook_endpoints", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert!(json["error"]["message"].is_string(), "{json}");
        assert_api_error(
            (status, json.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
    }
    let listed = app.ok_json("/v1/webhook_endpoints", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let (status, body) = app
        .call(Method::GET, "/v1/webhook_deliveries?limit=0", &key)
        .await;
    assert_api_error((status, body), StatusCode::BAD_REQUEST, "invalid_request");
    let (status, body) = app
        .call(Method::GET, "/v1/webhook_deliveries?limit=many", &key)
        .await;
    assert_eq!(body["error"]["param"], "limit", "{body}");
    assert_api_error((status, body), StatusCode::BAD_REQUEST, "invalid_request");

    // Update and delete work and are visible.
    let (id, _) = endpoint(&app, &key, "https://example.com/a", &[]).await;
    let response = app
        .api(Method::POST, &format!("/v1/webhook_endpoints/{id}"), &key)
        .json(&json!({"url": "https://example.com/b", "enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["url"], "https://example.com/b");
    assert_eq!(updated["status"], "disabled");
    let (status, _) = app
        .call(Method::DELETE, &format!("/v1/webhook_endpoints/{id}"), &key)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::GET, &format!("/v1/webhook_endpoints/{id}"), &key)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_creates_endpoints_sends_tests_and_replays() {
    let app = spawn_app().await;
    let browser = app.signed_up_merchant("acme").await;
    let server = receiver().await;
    let uri = server.uri();
    let response = browser
        .submit(
            "/dashboard/webhooks",
            "/dashboard/webhooks",
            &[
                ("url", uri.as_str()),
                ("description", "main"),
                ("event_types", "invoice.paid"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    let marker = "id=\"new-webhook-secret\">";
    let start = html.find(marker).expect("secret shown once") + marker.len();
    let secret = html[start..].split('<').next().unwrap().to_owned();
    let page = browser.page("/dashboard/webhooks").await;
    assert!(!page.contains(&secret), "the secret is not shown again");
    let start = page
        .find("/dashboard/webhooks/we_")
        .expect("endpoint listed")
        + 20;
    let endpoint_id = page[start..].split('"').next().unwrap().to_owned();

    // Without the CSRF token nothing is sent.
    let path = format!("/dashboard/webhooks/{endpoint_id}/test");
    let refused = browser.post_form(&path, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let log_page = format!("/dashboard/webhooks/{endpoint_id}");
    let sent = browser.submit(&log_page, &path, &[]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    run_jobs(&app).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    Webhook::new(&secret)
        .unwrap()
        .verify(&requests[0].body, &requests[0].headers)
        .unwrap();
    let log = browser.page(&log_page).await;
    assert!(log.contains("webhook_endpoint.test"), "{log}");
    assert!(
        log.contains("<td class=\"response-code\">200</td>"),
        "{log}"
    );

    let start = log.find("/deliveries/wd_").unwrap() + 12;
    let delivery = log[start..].split('/').next().unwrap().to_owned();
    let replay = format!("/dashboard/webhooks/{endpoint_id}/deliveries/{delivery}/replay");
    let replayed = browser.submit(&log_page, &replay, &[]).await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    run_jobs(&app).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
