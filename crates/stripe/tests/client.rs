//! The client against an HTTP mock: what goes on the wire, retries, the rate
//! budget, error mapping and pagination. No network beyond localhost.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::{Value, json};
use stripe::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk_test_51SuperSecretKey";

/// A client on `server` with millisecond retry delays, so tests stay fast.
fn client_for(server: &MockServer) -> ClientBuilder {
    Client::builder(KEY)
        .base_url(server.uri())
        .retry_delays(Duration::from_millis(1), Duration::from_millis(4))
        .timeout(Duration::from_secs(5))
        .without_rate_limit()
}

fn client(server: &MockServer) -> Client {
    client_for(server).build().unwrap()
}

fn customer_json(id: &str) -> Value {
    json!({"id": id, "object": "customer", "email": null, "metadata": {}, "created": 1, "livemode": false})
}

fn stripe_error(status: u16, error: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Request-Id", "req_abc123")
        .set_body_json(json!({ "error": error }))
}

fn header_of<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
}

fn form_pairs(request: &Request) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    pairs.sort();
    pairs
}

async fn create_customer(client: &Client) -> Result<Customer, Error> {
    let params = CreateCustomer::default();
    client
        .customers()
        .create(&params, RequestOptions::new())
        .await
}

async fn retrieve_customer(client: &Client, id: &str) -> Result<Customer, Error> {
    let expand = Expand::default();
    client
        .customers()
        .retrieve(id, &expand, RequestOptions::new())
        .await
}

/// Answers `failure` to the first `times` requests for `route`, then `success`.
async fn fail_then_succeed(
    server: &MockServer,
    route: &str,
    times: u64,
    failure: ResponseTemplate,
    success: Value,
) {
    Mock::given(path(route))
        .respond_with(failure)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(success))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

#[tokio::test]
async fn a_post_carries_auth_version_account_idempotency_key_and_a_form_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(header("Authorization", format!("Bearer {KEY}").as_str()))
        .and(header("Stripe-Version", "2026-10-28.endive"))
        .and(header("Stripe-Account", "acct_tenant1"))
        .and(header("Idempotency-Key", "customer:cus_01J"))
        .and(header("Content-Type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json("cus_1")))
        .expect(1)
        .mount(&server)
        .await;

    let params = CreateCustomer {
        email: Some("ann+billing@example.com".into()),
        metadata: [("billforge_id".to_owned(), "cus_01J".to_owned())].into(),
        expand: vec!["invoice_settings.default_payment_method".into()],
        ..CreateCustomer::default()
    };
    let options = RequestOptions::new()
        .on_account("acct_tenant1")
        .idempotency_key("customer:cus_01J");
    let customer = client(&server)
        .customers()
        .create(&params, options)
        .await
        .unwrap();

    assert_eq!(customer.id, "cus_1");
    let sent = &requests(&server).await[0];
    assert_eq!(
        form_pairs(sent),
        [
            ("email", "ann+billing@example.com"),
            ("expand[0]", "invoice_settings.default_payment_method"),
            ("metadata[billforge_id]", "cus_01J"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let raw = String::from_utf8(sent.body.clone()).unwrap();
    assert!(
        raw.contains("metadata[billforge_id]=cus_01J"),
        "brackets stay literal: {raw}"
    );
}

#[tokio::test]
async fn a_get_sends_its_parameters_in_the_query_and_no_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/subscriptions/sub_1"))
        .and(query_param("expand[0]", "latest_invoice.payment_intent"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": "sub_1", "object": "subscription", "status": "trialing"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let subscription = client(&server)
        .subscriptions()
        .retrieve(
            "sub_1",
            &Expand::paths(["latest_invoice.payment_intent"]),
            RequestOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(subscription.status, Some(SubscriptionStatus::Trialing));
    let sent = &requests(&server).await[0];
    assert_eq!(header_of(sent, "Idempotency-Key"), None);
    assert_eq!(
        header_of(sent, "Stripe-Account"),
        None,
        "no Connect header for the platform"
    );
    assert!(sent.body.is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_idempotency_key() {
    let server = MockServer::start().await;
    let failure = stripe_error(500, json!({"type": "api_error", "message": "boom"}));
    fail_then_succeed(&server, "/v1/customers", 2, failure, customer_json("cus_1")).await;

    let options = RequestOptions::new().idempotency_key("checkout:order_42");
    client(&server)
        .customers()
        .create(&CreateCustomer::default(), options)
        .await
        .unwrap();

    let keys: Vec<_> = requests(&server)
        .await
        .iter()
        .map(|request| header_of(request, "Idempotency-Key").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some("checkout:order_42".to_owned()); 3]);
}

#[tokio::test]
async fn a_generated_idempotency_key_is_reused_across_retries_but_not_across_calls() {
    let server = MockServer::start().await;
    let failure = stripe_error(409, json!({"type": "api_error", "message": "conflict"}));
    fail_then_succeed(&server, "/v1/customers", 1, failure, customer_json("cus_1")).await;

    let client = client(&server);
    create_customer(&client).await.unwrap();
    create_customer(&client).await.unwrap();

    let keys: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|request| header_of(request, "Idempotency-Key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3, "409 retried once, then a second call");
    assert_eq!(keys[0], keys[1], "a retry reuses the key");
    assert_ne!(keys[1], keys[2], "a new logical call gets a new key");
    assert!(keys[0].len() > 20);
}

#[tokio::test]
async fn stripe_should_retry_false_stops_retries_even_on_a_500() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            stripe_error(
                500,
                json!({"type": "api_error", "message": "replayed failure"}),
            )
            .insert_header("Stripe-Should-Retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = create_customer(&client(&server)).await.unwrap_err();

    assert_eq!(err.as_api().unwrap().kind, ApiErrorKind::Api);
}

#[tokio::test]
async fn a_429_is_retried_with_the_same_key_unless_stripe_says_not() {
    let server = MockServer::start().await;
    let limited = stripe_error(
        429,
        json!({"type": "invalid_request_error", "code": "rate_limit"}),
    );
    fail_then_succeed(&server, "/v1/customers", 2, limited, customer_json("cus_1")).await;
    Mock::given(method("GET"))
        .and(path("/v1/customers/cus_refused"))
        .respond_with(
            stripe_error(
                429,
                json!({"type": "invalid_request_error", "code": "rate_limit"}),
            )
            .insert_header("Stripe-Should-Retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let options = RequestOptions::new().idempotency_key("signup:tenant_7");
    let created = client
        .customers()
        .create(&CreateCustomer::default(), options)
        .await
        .unwrap();
    assert_eq!(created.id, "cus_1");
    let keys: Vec<_> = requests(&server)
        .await
        .iter()
        .map(|request| header_of(request, "Idempotency-Key").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some("signup:tenant_7".to_owned()); 3]);
    let err = retrieve_customer(&client, "cus_refused").await.unwrap_err();
    assert_eq!(err.as_api().unwrap().kind, ApiErrorKind::RateLimit);
}

#[tokio::test]
async fn retries_stop_after_the_configured_count() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(stripe_error(
            503,
            json!({"type": "api_error", "message": "unavailable"}),
        ))
        .expect(4)
        .mount(&server)
        .await;

    let err = retrieve_customer(
        &client_for(&server).max_retries(3).build().unwrap(),
        "cus_1",
    )
    .await
    .unwrap_err();

    assert_eq!(err.request_id(), Some("req_abc123"));
    assert_eq!(err.as_api().unwrap().status, 503);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(stripe_error(400, json!({"type": "invalid_request_error", "code": "parameter_unknown", "param": "colour"})))
        .expect(1)
        .mount(&server)
        .await;

    let err = create_customer(&client(&server)).await.unwrap_err();

    let api = err.as_api().unwrap();
    assert_eq!(
        (api.kind, api.param.as_deref()),
        (ApiErrorKind::InvalidRequest, Some("colour"))
    );
}

#[tokio::test]
async fn a_timeout_is_retried_and_then_reported_as_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(400)))
        .expect(2)
        .mount(&server)
        .await;

    let err = retrieve_customer(
        &client_for(&server)
            .timeout(Duration::from_millis(50))
            .max_retries(1)
            .build()
            .unwrap(),
        "cus_1",
    )
    .await
    .unwrap_err();

    assert!(
        matches!(err, Error::Timeout(timeout) if timeout == Duration::from_millis(50)),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_errors_are_reported_without_the_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let err = retrieve_customer(
        &Client::builder(KEY)
            .base_url(closed)
            .retry_delays(Duration::from_millis(1), Duration::from_millis(1))
            .without_rate_limit()
            .build()
            .unwrap(),
        "cus_1",
    )
    .await
    .unwrap_err();

    assert!(matches!(err, Error::Connection(_)), "{err:?}");
    assert!(!err.to_string().contains("SuperSecret"));
    assert!(!format!("{err:?}").contains("SuperSecret"));
}

#[tokio::test]
async fn each_error_type_maps_to_its_kind_with_the_request_id() {
    let cases = [
        (
            400,
            json!({"type": "invalid_request_error", "code": "parameter_missing", "param": "customer"}),
            ApiErrorKind::InvalidRequest,
        ),
        (
            400,
            json!({"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters"}),
            ApiErrorKind::Idempotency,
        ),
        (
            401,
            json!({"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****Key"}),
            ApiErrorKind::Authentication,
        ),
        (
            402,
            json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}),
            ApiErrorKind::Card,
        ),
        (
            403,
            json!({"type": "invalid_request_error", "message": "not allowed"}),
            ApiErrorKind::Permission,
        ),
        (
            404,
            json!({"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer: 'cus_x'"}),
            ApiErrorKind::NotFound,
        ),
        (
            429,
            json!({"type": "invalid_request_error", "code": "rate_limit"}),
            ApiErrorKind::RateLimit,
        ),
    ];
    for (status, error, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(stripe_error(status, error.clone()))
            .mount(&server)
            .await;

        let err = create_customer(&client(&server)).await.unwrap_err();

        let api = err.as_api().unwrap_or_else(|| panic!("{status}: {err:?}"));
        assert_eq!(api.kind, kind, "{status} {error}");
        assert_eq!(api.status, status);
        assert_eq!(api.request_id.as_deref(), Some("req_abc123"));
        assert_eq!(api.code.as_deref(), error["code"].as_str());
        assert_eq!(api.message.as_deref(), error["message"].as_str());
        assert!(!err.to_string().contains("SuperSecret"), "{err}");
        if kind == ApiErrorKind::Card {
            assert_eq!(api.decline_code.as_deref(), Some("insufficient_funds"));
            assert_eq!(
                api.customer_message(),
                Some("Your card has insufficient funds.")
            );
        } else {
            assert_eq!(api.customer_message(), None);
        }
    }
}

#[tokio::test]
async fn an_unreadable_success_body_is_a_decode_error_with_the_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Request-Id", "req_weird")
                .set_body_string("<html>"),
        )
        .mount(&server)
        .await;

    let err = retrieve_customer(&client(&server), "cus_1")
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
    assert_eq!(err.request_id(), Some("req_weird"));
}

#[tokio::test]
async fn pagination_follows_has_more_with_starting_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("starting_after", "in_2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/invoices", "has_more": false,
            "data": [{"id": "in_3", "object": "invoice", "status": "paid"}],
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/invoices", "has_more": true,
            "data": [{"id": "in_1", "object": "invoice"}, {"id": "in_2", "object": "invoice"}],
        })))
        .mount(&server)
        .await;

    let params = ListInvoices {
        customer: Some("cus_1".into()),
        page: ListParams {
            limit: Some(2),
            ..ListParams::default()
        },
        ..ListInvoices::default()
    };
    let invoices: Vec<Invoice> = client(&server)
        .invoices()
        .list(&params, RequestOptions::new().on_account("acct_1"))
        .try_collect()
        .await
        .unwrap();

    let ids: Vec<&str> = invoices.iter().map(|invoice| invoice.id.as_str()).collect();
    assert_eq!(ids, ["in_1", "in_2", "in_3"]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        assert!(
            query.contains(&("customer".into(), "cus_1".into())),
            "{query:?}"
        );
        assert!(query.contains(&("limit".into(), "2".into())), "{query:?}");
        assert_eq!(header_of(request, "Stripe-Account"), Some("acct_1"));
    }
    assert_eq!(
        sent[0]
            .url
            .query_pairs()
            .filter(|(key, _)| key == "starting_after")
            .count(),
        0
    );
}

#[tokio::test]
async fn pagination_stops_at_the_first_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(stripe_error(401, json!({"type": "invalid_request_error"})))
        .mount(&server)
        .await;

    let result: Result<Vec<Customer>, Error> = client(&server)
        .customers()
        .list(&ListCustomers::default(), RequestOptions::new())
        .try_collect()
        .await;

    assert_eq!(
        result.unwrap_err().as_api().unwrap().kind,
        ApiErrorKind::Authentication
    );
}

#[tokio::test]
async fn the_emulators_own_endpoints_do_not_spend_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_emulator/clock"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"now": 1_800_000_000, "offset": 86_400, "next_job_at": null}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/_emulator/webhooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"pending": 3})))
        .mount(&server)
        .await;
    let client = client_for(&server)
        .rate_limit(RateLimit {
            per_second: 1,
            burst: 0,
        })
        .build()
        .unwrap();
    let began = Instant::now();
    for _ in 0..5 {
        let clock = client.emulator().clock().await.unwrap();
        assert_eq!(
            (clock.now, clock.offset, clock.next_job_at),
            (1_800_000_000, 86_400, None)
        );
        assert_eq!(client.emulator().pending_webhooks().await.unwrap(), 3);
    }
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "10 calls at a budget of 1/s would take 9 s; took {:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn the_budget_queues_a_burst_per_account_instead_of_failing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json("cus_1")))
        .mount(&server)
        .await;
    let client = client_for(&server)
        .rate_limit(RateLimit {
            per_second: 10,
            burst: 1,
        })
        .build()
        .unwrap();
    let fetch = |account: &'static str| {
        let client = client.clone();
        async move {
            client
                .customers()
                .retrieve(
                    "cus_1",
                    &Expand::default(),
                    RequestOptions::new().on_account(account),
                )
                .await
                .map(|_| Instant::now())
        }
    };

    let began = Instant::now();
    let burst = futures::future::try_join_all((0..4).map(|_| fetch("acct_a")));
    let (burst, other_account) = futures::future::try_join(burst, fetch("acct_b"))
        .await
        .unwrap();

    let slowest = burst.iter().max().unwrap().duration_since(began);
    assert!(
        slowest >= Duration::from_millis(300),
        "4 requests at 10/s take 300 ms, took {slowest:?}"
    );
    assert!(
        other_account.duration_since(began) < slowest,
        "another account is not queued behind the burst"
    );
}

#[tokio::test]
async fn bad_arguments_fail_before_anything_is_sent() {
    let server = MockServer::start().await;
    let client = client(&server);

    let empty_id = retrieve_customer(&client, "").await;
    assert!(
        matches!(empty_id, Err(Error::InvalidArgument(_))),
        "{empty_id:?}"
    );
    let long_key = RequestOptions::new().idempotency_key("k".repeat(256));
    let long = client
        .customers()
        .create(&CreateCustomer::default(), long_key)
        .await;
    assert!(matches!(long, Err(Error::InvalidArgument(message)) if message.contains("255")));
    let bad_account = RequestOptions::new().on_account("acct_1\r\nX-Evil: 1");
    let injected = client
        .customers()
        .create(&CreateCustomer::default(), bad_account)
        .await;
    assert!(
        matches!(injected, Err(Error::InvalidArgument(_))),
        "{injected:?}"
    );
    let no_target = client
        .refunds()
        .create(&CreateRefund::default(), RequestOptions::new())
        .await;
    assert!(
        matches!(no_target, Err(Error::InvalidArgument(_))),
        "{no_target:?}"
    );

    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn ids_cannot_escape_their_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer_json("cus_1")))
        .mount(&server)
        .await;

    retrieve_customer(&client(&server), "cus_1/../../v1/accounts?x=1")
        .await
        .unwrap();

    let sent = &requests(&server).await[0];
    assert_eq!(
        sent.url.path(),
        "/v1/customers/cus_1%2F..%2F..%2Fv1%2Faccounts%3Fx=1"
    );
    assert_eq!(sent.url.query(), None);
}

#[tokio::test]
async fn checkout_parameters_reach_the_wire_as_stripe_expects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cs_1", "object": "checkout.session", "mode": "subscription", "url": "https://checkout.test/cs_1",
        })))
        .mount(&server)
        .await;

    let params = CreateCheckoutSession {
        mode: CheckoutMode::Subscription,
        line_items: vec![CheckoutLineItem {
            price: "price_pro".into(),
            quantity: Some(3),
        }],
        success_url: Some("https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}".into()),
        client_reference_id: Some("cus_01J".into()),
        subscription_data: Some(CheckoutSubscriptionData {
            application_fee_percent: Percent::from_hundredths(1250),
            trial_period_days: Some(14),
            metadata: [("tenant".to_owned(), "ten_1".to_owned())].into(),
            ..CheckoutSubscriptionData::default()
        }),
        ..CreateCheckoutSession::default()
    };
    let session = client(&server)
        .checkout_sessions()
        .create(&params, RequestOptions::new().on_account("acct_1"))
        .await
        .unwrap();

    assert_eq!(session.mode, Some(CheckoutMode::Subscription));
    assert_eq!(
        form_pairs(&requests(&server).await[0]),
        [
            ("client_reference_id", "cus_01J"),
            ("line_items[0][price]", "price_pro"),
            ("line_items[0][quantity]", "3"),
            ("mode", "subscription"),
            ("subscription_data[application_fee_percent]", "12.50"),
            ("subscription_data[metadata][tenant]", "ten_1"),
            ("subscription_data[trial_period_days]", "14"),
            (
                "success_url",
                "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}"
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn a_webhook_endpoint_is_created_at_the_pinned_version_and_its_secret_is_redacted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "we_1", "object": "webhook_endpoint", "url": "https://bf.test/hook", "status": "enabled",
            "enabled_events": ["*"], "api_version": API_VERSION, "secret": "whsec_topsecret",
        })))
        .mount(&server)
        .await;

    let endpoint = client(&server)
        .webhook_endpoints()
        .create(
            &CreateWebhookEndpoint::connect("https://bf.test/hook", ["*"]),
            RequestOptions::new(),
        )
        .await
        .unwrap();

    assert_eq!(
        endpoint.secret.as_ref().map(Secret::expose),
        Some("whsec_topsecret")
    );
    assert!(!format!("{endpoint:?}").contains("topsecret"));
    let pairs = form_pairs(&requests(&server).await[0]);
    assert!(
        pairs.contains(&("connect".into(), "true".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("api_version".into(), API_VERSION.into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("enabled_events[0]".into(), "*".into())),
        "{pairs:?}"
    );
}

#[tokio::test]
async fn the_secret_key_never_appears_in_debug_output() {
    let server = MockServer::start().await;
    let client = client(&server);
    let rendered = format!("{client:?}");
    assert!(!rendered.contains("SuperSecret"), "{rendered}");
    let builder = format!("{:?}", Client::builder(KEY));
    assert!(!builder.contains("SuperSecret"), "{builder}");
}
