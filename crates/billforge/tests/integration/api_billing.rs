//! The billing routes of the tenant API over HTTP (issue #9): customers,
//! checkout, subscriptions, entitlements and overrides, through the test's
//! own Stripe emulator; cross-tenant access, validation and pagination.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{
    TestApp, assert_api_error, merchant_email, merchant_password, run_jobs, run_jobs_until,
    selling_tenant,
};
use crate::subscriptions::pay;

/// A selling merchant's API key.
pub(crate) async fn selling_key(app: &TestApp, slug: &str) -> String {
    selling_tenant(app, slug).await;
    let browser = app.browser();
    browser
        .log_in(&merchant_email(slug), &merchant_password(slug))
        .await;
    browser.create_api_key("backend").await
}

/// `method path` with a JSON body; the status and JSON answer.
pub(crate) async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = app.api(method, path, key).json(&body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates `body` at `path`, expecting 201; returns the object.
pub(crate) async fn created(app: &TestApp, path: &str, key: &str, body: Value) -> Value {
    let (status, object) = send(app, Method::POST, path, key, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {object}");
    object
}

#[tokio::test]
async fn customers_checkout_subscriptions_and_entitlements_over_the_api() {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, "acme").await;
    let rival = selling_key(&app, "rival").await;

    // The catalog, through the API: SSO on a per-seat Team plan.
    let sso = created(
        &app,
        "/v1/features",
        &key,
        json!({"lookup_key": "sso", "name": "SSO", "kind": {"kind": "flag"}}),
    )
    .await;
    let sso = sso["id"].as_str().unwrap().to_owned();
    let team = created(
        &app,
        "/v1/plans",
        &key,
        json!({"name": "Team", "prices": [{"currency": "usd", "interval": {"unit": "month", "count": 1},
               "model": {"kind": "per_seat", "unit_amount_minor": 800}}]}),
    )
    .await;
    let plan = team["id"].as_str().unwrap().to_owned();
    let (status, grant) = send(
        &app,
        Method::POST,
        &format!("/v1/plans/{plan}/grants"),
        &key,
        json!({"feature": sso, "value": {"kind": "enabled"}}),
    )
    .await;
    assert!(status.is_success(), "{grant}");
    run_jobs(&app).await;

    // A customer by the merchant's own id, found by either id.
    let customer = created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1", "email": "ada@example.com", "name": "Ada"}),
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    assert!(
        customer["stripe_customer_id"]
            .as_str()
            .unwrap()
            .starts_with("cus_")
    );
    assert_eq!(
        app.ok_json("/v1/customers/user-1", &key).await["id"],
        customer_id.as_str()
    );
    assert_eq!(
        app.ok_json(&format!("/v1/customers/{customer_id}"), &key)
            .await["external_id"],
        "user-1"
    );
    assert_api_error(
        send(
            &app,
            Method::POST,
            "/v1/customers",
            &key,
            json!({"external_id": "user-1"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    // Checkout for two seats, paid on the hosted page.
    let checkout = created(
        &app,
        "/v1/checkout_sessions",
        &key,
        json!({"plan": plan, "customer": "user-1", "quantity": 2,
               "success_url": format!("{}/thanks", app.address), "cancel_url": format!("{}/pricing", app.address)}),
    )
    .await;
    assert_eq!(checkout["object"], "checkout_session");
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    let check_path = "/v1/entitlements/check?customer=user-1&feature=sso";
    run_jobs_until(&app, "SSO granted by the subscription", || async {
        app.ok_json(check_path, &key).await["allowed"] == true
    })
    .await;
    let check = app.ok_json(check_path, &key).await;
    assert_eq!(
        (
            check["customer"].as_str(),
            check["source"]["plan_id"].as_str()
        ),
        (Some(customer_id.as_str()), Some(plan.as_str())),
        "{check}"
    );
    let all = app
        .ok_json(&format!("/v1/customers/{customer_id}/entitlements"), &key)
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1, "{all}");
    let lacking = app
        .ok_json(
            "/v1/entitlements/check?customer=user-1&feature=audit_log",
            &key,
        )
        .await;
    assert_eq!(
        (lacking["allowed"].as_bool(), lacking["source"].is_null()),
        (Some(false), true)
    );

    // The subscription: listed, previewed, changed, cancelled and resumed.
    let list = app.ok_json("/v1/subscriptions?customer=user-1", &key).await;
    let subscription = list["data"][0].clone();
    let id = subscription["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            subscription["status"].as_str(),
            subscription["quantity"].as_i64()
        ),
        (Some("active"), Some(2))
    );
    let (status, preview) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}/preview"),
        &key,
        json!({"quantity": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview["amount_due_now"].as_i64().unwrap() > 0, "{preview}");
    assert_eq!(preview["currency"], "usd");
    let (status, changed) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}"),
        &key,
        json!({"quantity": 5, "proration": "invoice_now"}),
    )
    .await;
    assert_eq!(
        (status, changed["quantity"].as_i64()),
        (StatusCode::OK, Some(5)),
        "{changed}"
    );
    let (_, ending) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}/cancel"),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(ending["cancel_at_period_end"], true, "{ending}");
    let (_, resumed) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}/resume"),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(resumed["cancel_at_period_end"], false, "{resumed}");

    // An override revokes SSO for this customer; removing it gives it back.
    let (status, after) = send(
        &app,
        Method::POST,
        &format!("/v1/customers/{customer_id}/overrides"),
        &key,
        json!({"feature": sso, "action": {"action": "revoke"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(app.ok_json(check_path, &key).await["allowed"], false);
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/v1/customers/user-1/overrides/{sso}"),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.ok_json(check_path, &key).await["allowed"], true);

    // Another tenant sees none of it.
    for path in [
        format!("/v1/customers/{customer_id}"),
        "/v1/customers/user-1".to_owned(),
        format!("/v1/subscriptions/{id}"),
        format!("/v1/customers/{customer_id}/entitlements"),
        check_path.to_owned(),
    ] {
        assert_api_error(
            app.call(Method::GET, &path, &rival).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_api_error(
        send(
            &app,
            Method::POST,
            &format!("/v1/subscriptions/{id}/cancel"),
            &rival,
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        app.ok_json("/v1/subscriptions", &rival).await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // A misspelt field is refused, not read as the default (period end).
    let (status, refused) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}/cancel"),
        &key,
        json!({"at_period_ends": false}),
    )
    .await;
    assert_api_error((status, refused), StatusCode::BAD_REQUEST, "invalid_json");
    let unchanged = app.ok_json(&format!("/v1/subscriptions/{id}"), &key).await;
    assert_eq!(unchanged["cancel_at_period_end"], false, "{unchanged}");

    // Cancelled now: access ends at once.
    let (_, canceled) = send(
        &app,
        Method::POST,
        &format!("/v1/subscriptions/{id}/cancel"),
        &key,
        json!({"at_period_end": false}),
    )
    .await;
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert_eq!(app.ok_json(check_path, &key).await["allowed"], false);
}

#[tokio::test]
async fn billing_routes_validate_input_and_page_customers() {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, "acme").await;
    for (path, body, param) in [
        ("/v1/customers", json!({"email": "not-an-email"}), "email"),
        ("/v1/customers", json!({"nickname": "x"}), ""),
        (
            "/v1/checkout_sessions",
            json!({"plan": "plan_nope", "success_url": "x", "cancel_url": "y"}),
            "",
        ),
    ] {
        let (status, body) = send(&app, Method::POST, path, &key, body).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status} {body}"
        );
        if !param.is_empty() {
            assert_eq!(body["error"]["param"], param, "{body}");
        }
    }
    // The merchant's own ids may hold any character, at any allowed length
    // (Stripe's idempotency key, a header of at most 255, is made from it).
    for external_id in ["crm\u{1e}42 \u{e9}", &"x".repeat(250)] {
        let customer = created(
            &app,
            "/v1/customers",
            &key,
            json!({"external_id": external_id}),
        )
        .await;
        assert_eq!(customer["external_id"], external_id, "{customer}");
    }
    assert_api_error(
        app.call(
            Method::GET,
            "/v1/entitlements/check?customer=nobody&feature=sso",
            &key,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_api_error(
        app.call(Method::GET, "/v1/entitlements/check?customer=nobody", &key)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    let mut ids = Vec::new();
    for n in 0..3 {
        let customer = created(
            &app,
            "/v1/customers",
            &key,
            json!({"external_id": format!("user-{n}")}),
        )
        .await;
        ids.push(customer["id"].as_str().unwrap().to_owned());
    }
    let first = app.ok_json("/v1/customers?limit=2", &key).await;
    assert_eq!(
        (
            first["data"].as_array().unwrap().len(),
            first["has_more"].as_bool()
        ),
        (2, Some(true))
    );
    let last = app
        .ok_json(
            &format!("/v1/customers?limit=2&starting_after={}", ids[1]),
            &key,
        )
        .await;
    assert_eq!(
        (last["data"][0]["id"].as_str(), last["has_more"].as_bool()),
        (Some(ids[2].as_str()), Some(false))
    );
    assert_api_error(
        app.call(Method::GET, "/v1/customers?limit=0", &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

#[tokio::test]
async fn cached_checks_see_this_process_at_once_and_another_within_a_second() {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, "acme").await;
    let sso = created(
        &app,
        "/v1/features",
        &key,
        json!({"lookup_key": "sso", "name": "SSO", "kind": {"kind": "flag"}}),
    )
    .await;
    let sso = sso["id"].as_str().unwrap().to_owned();
    let customer = created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1"}),
    )
    .await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let check_path = "/v1/entitlements/check?customer=user-1&feature=sso";
    let allowed = || async { app.ok_json(check_path, &key).await["allowed"] == true };
    assert!(!allowed().await, "cached as not allowed");

    // This process: the override's recomputation forgets the cached answer.
    let overrides = format!("/v1/customers/{customer}/overrides");
    let grant =
        json!({"feature": sso, "action": {"action": "grant", "value": {"kind": "enabled"}}});
    assert_eq!(
        send(&app, Method::POST, &overrides, &key, grant).await.0,
        StatusCode::OK
    );
    assert!(allowed().await, "visible to the very next check");

    // Another process on the same database revokes it.
    let stripe = stripe::Client::builder("sk_test_other_process")
        .base_url(app.emulator.base_url())
        .build()
        .unwrap();
    let other = platform::Platform::start(
        platform::Settings::with_defaults(&app.database_url),
        std::sync::Arc::new(app.clock.clone()),
        stripe,
    )
    .await
    .unwrap();
    let tenant = app
        .platform
        .store()
        .tenant_by_slug("acme")
        .await
        .unwrap()
        .unwrap();
    other
        .set_entitlement_override(
            &tenant.id.parse().unwrap(),
            &crate::harness::test_ctx(&app, "req_other"),
            &customer.parse().unwrap(),
            &sso.parse().unwrap(),
            billing::entitlements::OverrideAction::Revoke,
            None,
        )
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..40 {
        if !allowed().await {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        seen,
        "the other process's revoke never reached this process's cache"
    );
}

/// A request on the subscription under race: the path after
/// `/v1/subscriptions/{id}` (empty for a change) and the JSON body.
type RacingRequest = (&'static str, Value);

/// Subscribes a customer of a new tenant `slug` to the pricing catalog's
/// plan `plan` (`quantity` seats), then sends the two requests `race`
/// makes from the catalog's plans at the same moment. Each call has a clear
/// outcome (a success or a 4xx such as `409 subscription_busy`, never a
/// 5xx), at least one succeeds, and Billforge's mirror ends where Stripe's
/// subscription is: price, seats, status and scheduled cancellation.
async fn race_on_one_subscription(
    slug: &str,
    (plan, quantity): (usize, u64),
    race: impl FnOnce(&[Value]) -> [RacingRequest; 2],
) {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, slug).await;
    let plans = crate::harness::pricing_catalog(&app, &key).await;
    created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1", "email": "ada@example.com"}),
    )
    .await;
    let checkout = created(
        &app,
        "/v1/checkout_sessions",
        &key,
        json!({"plan": plans[plan]["id"], "quantity": quantity, "customer": "user-1",
               "success_url": format!("{}/thanks", app.address), "cancel_url": format!("{}/pricing", app.address)}),
    )
    .await;
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    let list_path = "/v1/subscriptions?customer=user-1";
    run_jobs_until(&app, "the subscription mirrored", || async {
        app.ok_json(list_path, &key).await["data"][0]["status"] == "active"
    })
    .await;
    let subscription = app.ok_json(list_path, &key).await["data"][0].clone();
    let path = format!("/v1/subscriptions/{}", subscription["id"].as_str().unwrap());

    let [(first_suffix, first_body), (second_suffix, second_body)] = race(&plans);
    let (first_path, second_path) = (
        format!("{path}{first_suffix}"),
        format!("{path}{second_suffix}"),
    );
    let answers = tokio::join!(
        send(&app, Method::POST, &first_path, &key, first_body),
        send(&app, Method::POST, &second_path, &key, second_body),
    );
    let answers = [answers.0, answers.1];
    eprintln!(
        "{slug}: answered {} and {}",
        answers[0].0.as_u16(),
        answers[1].0.as_u16()
    );
    for (status, answer) in &answers {
        assert!(
            status.is_success() || status.is_client_error(),
            "each call has a clear outcome: {status} {answer}"
        );
        if *status == StatusCode::CONFLICT {
            assert_eq!(answer["error"]["code"], "subscription_busy", "{answer}");
        }
    }
    assert!(
        answers.iter().any(|(status, _)| status.is_success()),
        "{answers:?}"
    );

    // Whatever the order, Billforge's mirror ends where Stripe is.
    let stripe_subscription: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/subscriptions/{}",
            app.emulator.base_url(),
            subscription["stripe_subscription_id"].as_str().unwrap()
        ))
        .bearer_auth("sk_test_billforge_tests")
        .header(
            "Stripe-Account",
            app.platform
                .connected_account(&crate::harness::tenant_id(&app, slug).await)
                .await
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = stripe_subscription["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{stripe_subscription}");
    let on_stripe = json!({
        "price": items[0]["price"]["metadata"]["price_id"],
        "quantity": items[0]["quantity"],
        "status": stripe_subscription["status"],
        "cancel_at_period_end": stripe_subscription["cancel_at_period_end"],
    });
    let mut mirrored = Value::Null;
    for _ in 0..50 {
        run_jobs(&app).await;
        let row = app.ok_json(&path, &key).await;
        mirrored = json!({
            "price": row["price"],
            "quantity": row["quantity"],
            "status": row["status"],
            "cancel_at_period_end": row["cancel_at_period_end"],
        });
        if mirrored == on_stripe {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        mirrored, on_stripe,
        "the mirror equals Stripe (answers {answers:?})"
    );
}

#[tokio::test]
async fn two_plan_changes_at_once_end_with_the_mirror_equal_to_stripe() {
    race_on_one_subscription("racer", (0, 1), |plans| {
        [
            ("", json!({"price": plans[1]["prices"][0]["id"]})),
            ("", json!({"price": plans[2]["prices"][0]["id"]})),
        ]
    })
    .await;
}

#[tokio::test]
async fn a_seat_change_and_a_plan_change_at_once_end_with_the_mirror_equal_to_stripe() {
    // Team is per seat; Pro is flat, so sold one at a time.
    race_on_one_subscription("seats", (2, 2), |plans| {
        [
            ("", json!({"quantity": 5})),
            (
                "",
                json!({"price": plans[1]["prices"][0]["id"], "quantity": 1}),
            ),
        ]
    })
    .await;
}

#[tokio::test]
async fn a_cancellation_and_a_plan_change_at_once_end_with_the_mirror_equal_to_stripe() {
    race_on_one_subscription("quitter", (0, 1), |plans| {
        [
            ("/cancel", json!({"at_period_end": false})),
            ("", json!({"price": plans[1]["prices"][0]["id"]})),
        ]
    })
    .await;
}
