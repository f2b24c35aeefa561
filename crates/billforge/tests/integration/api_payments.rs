//! The money routes of the tenant API over HTTP (issue #9): customer
//! updates, invoices, refunds, saved payment methods and the dunning
//! policy, through the test's own Stripe emulator; cross-tenant 404s,
//! validation, pagination and idempotent replays.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_billing::{created, selling_key, send};
use crate::catalog::emulator_get;
use crate::harness::{TestApp, assert_api_error, run_jobs, run_jobs_until, tenant_id};
use crate::subscriptions::pay;

/// `POST path` with `body` under `Idempotency-Key: key`; the status, the
/// replay header and the JSON answer.
async fn post_once(
    app: &TestApp,
    path: &str,
    api_key: &str,
    idempotency_key: &str,
    body: &Value,
) -> (StatusCode, bool, Value) {
    let response = app
        .api(Method::POST, path, api_key)
        .header("Idempotency-Key", idempotency_key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The tenant's connected account and a Stripe client for it, to look at
/// (or set up) what Billforge did on Stripe.
pub(crate) async fn tenant_stripe(app: &TestApp, slug: &str) -> (stripe::Client, String) {
    let account = app
        .platform
        .connected_account(&tenant_id(app, slug).await)
        .await
        .unwrap();
    let client = stripe::Client::builder("sk_test_billforge_tests")
        .base_url(app.emulator.base_url())
        .build()
        .unwrap();
    (client, account)
}

/// Whether the tenant's audit log has `action` on `target`.
async fn audited(app: &TestApp, key: &str, action: &str, target: &str) -> bool {
    app.ok_json("/v1/audit_events?limit=100", key).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|event| event["action"] == action && event["target_id"] == target)
}

/// A fresh app with two selling merchants, `acme` and `rival`, and acme's
/// customer made from `customer`: the keys and the customer.
async fn merchants_with_customer(customer: Value) -> (TestApp, String, String, Value) {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, "acme").await;
    let rival = selling_key(&app, "rival").await;
    let customer = created(&app, "/v1/customers", &key, customer).await;
    (app, key, rival, customer)
}

#[tokio::test]
async fn customers_are_updated_on_billforge_and_stripe() {
    let (app, key, rival, customer) = merchants_with_customer(
        json!({"external_id": "user-1", "email": "ada@example.com", "name": "Ada"}),
    )
    .await;
    let id = customer["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/customers/{id}");

    let change = json!({"email": "ada@lovelace.example", "metadata": {"plan_source": "web", "team": "math"}});
    let (status, replayed, updated) = post_once(&app, &path, &key, "update-1", &change).await;
    assert_eq!((status, replayed), (StatusCode::OK, false), "{updated}");
    assert_eq!(
        (
            updated["email"].as_str(),
            updated["name"].as_str(),
            updated["metadata"].clone()
        ),
        (
            Some("ada@lovelace.example"),
            Some("Ada"),
            json!({"plan_source": "web", "team": "math"})
        )
    );
    // The Stripe customer on the tenant's account has the new email.
    let (stripe, account) = tenant_stripe(&app, "acme").await;
    let on_stripe = stripe
        .customers()
        .retrieve(
            customer["stripe_customer_id"].as_str().unwrap(),
            &stripe::Expand::default(),
            stripe::RequestOptions::new().on_account(account),
        )
        .await
        .unwrap();
    assert_eq!(on_stripe.email.as_deref(), Some("ada@lovelace.example"));

    // Replayed with the same key and body; refused with another body.
    let (status, replayed, again) = post_once(&app, &path, &key, "update-1", &change).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again, updated);
    let (status, _, reused) = post_once(
        &app,
        &path,
        &key,
        "update-1",
        &json!({"name": "Someone else"}),
    )
    .await;
    assert_api_error(
        (status, reused),
        StatusCode::CONFLICT,
        "idempotency_key_reused",
    );

    // By the external id: an empty value removes a metadata key.
    let (status, renamed) = send(
        &app,
        Method::POST,
        "/v1/customers/user-1",
        &key,
        json!({"name": "Ada Lovelace", "metadata": {"team": ""}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (renamed["name"].as_str(), renamed["metadata"].clone()),
        (Some("Ada Lovelace"), json!({"plan_source": "web"}))
    );
    assert_eq!(app.ok_json(&path, &key).await, renamed);
    assert!(audited(&app, &key, "customer.updated", &id).await);

    // Validation: the field at fault is named.
    for (body, code, param) in [
        (json!({"email": "not-an-email"}), "invalid_request", "email"),
        (json!({}), "invalid_request", "email"),
        (json!({"name": "  "}), "invalid_request", "name"),
        (
            json!({"metadata": {"a-key-that-is-far-too-long-for-stripe-metadata": "x"}}),
            "invalid_request",
            "metadata",
        ),
        (json!({"nickname": "x"}), "invalid_json", ""),
    ] {
        let (status, error) = send(&app, Method::POST, &path, &key, body.clone()).await;
        assert_api_error((status, error.clone()), StatusCode::BAD_REQUEST, code);
        if !param.is_empty() {
            assert_eq!(error["error"]["param"], param, "{body}: {error}");
        }
    }

    // Another tenant cannot update (or see) it.
    for target in [path.as_str(), "/v1/customers/user-1"] {
        assert_api_error(
            send(
                &app,
                Method::POST,
                target,
                &rival,
                json!({"name": "Mallory"}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_eq!(app.ok_json(&path, &key).await["name"], "Ada Lovelace");
}

/// A merchant selling a flat 20.00 USD monthly plan and a customer
/// `user-1` who bought it on the hosted checkout; returns the API key,
/// the customer's id and its paid invoice once mirrored.
pub(crate) async fn paid_invoice(app: &TestApp) -> (String, String, Value) {
    let key = selling_key(app, "acme").await;
    let plan = created(
        app,
        "/v1/plans",
        &key,
        json!({"name": "Pro", "prices": [{"currency": "usd", "interval": {"unit": "month", "count": 1},
               "model": {"kind": "flat", "amount_minor": 2000}}]}),
    )
    .await;
    run_jobs(app).await;
    let customer = created(
        app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1", "email": "ada@example.com"}),
    )
    .await;
    let checkout = created(
        app,
        "/v1/checkout_sessions",
        &key,
        json!({"plan": plan["id"], "customer": "user-1",
               "success_url": format!("{}/thanks", app.address), "cancel_url": format!("{}/pricing", app.address)}),
    )
    .await;
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    let invoices = "/v1/invoices?customer=user-1";
    run_jobs_until(
        app,
        "the paid invoice and its subscription mirrored",
        || async {
            let invoice = &app.ok_json(invoices, &key).await["data"][0];
            invoice["status"] == "paid" && invoice["subscription"].is_string()
        },
    )
    .await;
    let invoice = app.ok_json(invoices, &key).await["data"][0].clone();
    (key, customer["id"].as_str().unwrap().to_owned(), invoice)
}

#[tokio::test]
async fn invoices_are_listed_from_the_mirror_and_refunded_in_parts() {
    let app = crate::harness::spawn_app().await;
    let (key, customer, invoice) = paid_invoice(&app).await;
    let rival = selling_key(&app, "rival").await;
    let invoice_id = invoice["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            invoice["object"].as_str(),
            invoice["customer"].as_str(),
            invoice["amount_paid"].as_i64(),
            invoice["currency"].as_str(),
        ),
        (
            Some("invoice"),
            Some(customer.as_str()),
            Some(2000),
            Some("usd")
        ),
        "{invoice}"
    );
    let subscription = invoice["subscription"].as_str().unwrap().to_owned();
    assert_eq!(
        app.ok_json(&format!("/v1/invoices/{invoice_id}"), &key)
            .await["id"],
        invoice_id.as_str()
    );
    let by_subscription = app
        .ok_json(&format!("/v1/invoices?subscription={subscription}"), &key)
        .await;
    assert_eq!(by_subscription["data"][0]["id"], invoice_id.as_str());
    let all = app.ok_json("/v1/invoices?limit=1", &key).await;
    assert_eq!(
        (all["data"].as_array().unwrap().len(), all["url"].as_str()),
        (1, Some("/v1/invoices"))
    );

    // A partial refund, replayed by its Idempotency-Key.
    let partial = json!({"invoice": invoice_id, "amount": 500, "reason": "requested_by_customer"});
    let (status, replayed, refund) =
        post_once(&app, "/v1/refunds", &key, "refund-1", &partial).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{refund}");
    assert_eq!(
        (
            refund["object"].as_str(),
            refund["amount"].as_i64(),
            refund["status"].as_str(),
            refund["reason"].as_str(),
            refund["customer"].as_str(),
        ),
        (
            Some("refund"),
            Some(500),
            Some("succeeded"),
            Some("requested_by_customer"),
            Some(customer.as_str())
        ),
        "{refund}"
    );
    assert!(audited(&app, &key, "refund.created", refund["id"].as_str().unwrap()).await);
    let (status, replayed, again) =
        post_once(&app, "/v1/refunds", &key, "refund-1", &partial).await;
    assert_eq!(
        (status, replayed, &again),
        (StatusCode::CREATED, true, &refund)
    );

    // More than what is left is a clear 400 naming what is left.
    let (status, too_much) = send(
        &app,
        Method::POST,
        "/v1/refunds",
        &key,
        json!({"invoice": invoice_id, "amount": 1600}),
    )
    .await;
    assert_api_error(
        (status, too_much.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(too_much["error"]["param"], "amount");
    let message = too_much["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1600") && message.contains("1500"),
        "{message}"
    );

    // The rest, by the payment intent; then nothing is left.
    let intent = {
        let (stripe, account) = tenant_stripe(&app, "acme").await;
        let on_stripe = stripe
            .refunds()
            .retrieve(
                refund["id"].as_str().unwrap(),
                &stripe::Expand::default(),
                stripe::RequestOptions::new().on_account(account),
            )
            .await
            .unwrap();
        on_stripe.payment_intent.unwrap().id().to_owned()
    };
    assert_eq!(refund["payment_intent"], intent.as_str());
    let rest = created(&app, "/v1/refunds", &key, json!({"payment_intent": intent})).await;
    assert_eq!(rest["amount"], 1500, "{rest}");
    let (status, nothing_left) = send(
        &app,
        Method::POST,
        "/v1/refunds",
        &key,
        json!({"payment_intent": intent, "amount": 1}),
    )
    .await;
    assert_api_error(
        (status, nothing_left.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(nothing_left["error"]["param"], "amount");

    // Listed and retrieved from the mirror, paged.
    let refunds = app.ok_json("/v1/refunds?limit=1", &key).await;
    assert_eq!(
        (
            refunds["data"].as_array().unwrap().len(),
            refunds["has_more"].as_bool()
        ),
        (1, Some(true))
    );
    let first = refunds["data"][0]["id"].as_str().unwrap().to_owned();
    let second = app
        .ok_json(&format!("/v1/refunds?starting_after={first}"), &key)
        .await;
    assert_eq!(
        (
            second["data"].as_array().unwrap().len(),
            second["has_more"].as_bool()
        ),
        (1, Some(false))
    );
    let refund_id = refund["id"].as_str().unwrap();
    assert_eq!(
        app.ok_json(&format!("/v1/refunds/{refund_id}"), &key).await["amount"],
        500
    );

    // Validation.
    for body in [
        json!({"invoice": invoice_id, "payment_intent": intent}),
        json!({}),
        json!({"invoice": invoice_id, "amount": 0}),
        json!({"invoice": invoice_id, "reason": "because"}),
    ] {
        let (status, error) = send(&app, Method::POST, "/v1/refunds", &key, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
    }
    assert_api_error(
        send(
            &app,
            Method::POST,
            "/v1/refunds",
            &key,
            json!({"payment_intent": "pi_nope"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Another tenant sees none of it and refunds nothing of it.
    for path in [
        format!("/v1/invoices/{invoice_id}"),
        format!("/v1/refunds/{refund_id}"),
        "/v1/invoices?customer=user-1".to_owned(),
        format!("/v1/invoices?subscription={subscription}"),
    ] {
        assert_api_error(
            app.call(Method::GET, &path, &rival).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    for list in ["/v1/invoices", "/v1/refunds"] {
        assert_eq!(app.ok_json(list, &rival).await["data"], json!([]), "{list}");
    }
    for body in [
        json!({"invoice": invoice_id, "amount": 1}),
        json!({"payment_intent": intent, "amount": 1}),
    ] {
        assert_api_error(
            send(&app, Method::POST, "/v1/refunds", &rival, body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_api_error(
        app.call(Method::GET, "/v1/invoices?limit=101", &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
}

#[tokio::test]
async fn saved_payment_methods_are_listed_made_default_and_detached() {
    let (app, key, rival, customer) =
        merchants_with_customer(json!({"external_id": "user-1"})).await;
    let other = created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-2"}),
    )
    .await;
    let (stripe, account) = tenant_stripe(&app, "acme").await;
    let mut cards = Vec::new();
    for (owner, shortcut) in [
        (&customer, "pm_card_visa"),
        (&customer, "pm_card_mastercard"),
        (&other, "pm_card_visa"),
    ] {
        let card = stripe
            .payment_methods()
            .attach(
                shortcut,
                owner["stripe_customer_id"].as_str().unwrap(),
                stripe::RequestOptions::new().on_account(account.clone()),
            )
            .await
            .unwrap();
        cards.push(card.id);
    }
    let methods = "/v1/customers/user-1/payment_methods";
    let listed = app.ok_json(methods, &key).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pm| pm["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&cards[0].as_str()) && ids.contains(&cards[1].as_str()));
    assert_eq!(listed["data"][0]["default"], false);
    assert_eq!(
        listed["data"][0]["card"]["last4"].as_str().map(str::len),
        Some(4)
    );

    let page = app.ok_json(&format!("{methods}?limit=1"), &key).await;
    assert_eq!(page["has_more"], true);
    let next = app
        .ok_json(
            &format!(
                "{methods}?limit=1&starting_after={}",
                page["data"][0]["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(
        (
            next["data"].as_array().unwrap().len(),
            next["has_more"].as_bool()
        ),
        (1, Some(false))
    );
    assert_api_error(
        app.call(
            Method::GET,
            &format!("{methods}?starting_after={}", cards[2]),
            &key,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    // The default, replayed by its Idempotency-Key.
    let default_path = format!("{methods}/{}/default", cards[1]);
    let (status, replayed, made) =
        post_once(&app, &default_path, &key, "default-1", &json!({})).await;
    assert_eq!(
        (status, replayed, made["default"].as_bool()),
        (StatusCode::OK, false, Some(true)),
        "{made}"
    );
    let (status, replayed, _) = post_once(&app, &default_path, &key, "default-1", &json!({})).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    let listed = app.ok_json(methods, &key).await;
    let default: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pm| pm["default"] == true)
        .collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["id"], cards[1].as_str());

    // Another customer's card, another tenant, a malformed id: 404.
    for (path, api_key) in [
        (format!("{methods}/{}/default", cards[2]), &key),
        (format!("{methods}/{}/detach", cards[2]), &key),
        (format!("{methods}/nope/detach"), &key),
        (format!("{methods}/{}/detach", cards[0]), &rival),
    ] {
        assert_api_error(
            send(&app, Method::POST, &path, api_key, json!({})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_api_error(
        app.call(Method::GET, methods, &rival).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Detached: gone from the list.
    let (status, detached) = send(
        &app,
        Method::POST,
        &format!("{methods}/{}/detach", cards[0]),
        &key,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detached}");
    let left = app.ok_json(methods, &key).await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    assert_eq!(left["data"][0]["id"], cards[1].as_str());
}

#[tokio::test]
async fn the_dunning_policy_is_read_set_and_previewed() {
    let app = crate::harness::spawn_app().await;
    let key = selling_key(&app, "acme").await;
    let rival = selling_key(&app, "rival").await;
    let default = app.ok_json("/v1/dunning_policy", &key).await;
    assert_eq!(default["object"], "dunning_policy");
    assert!(default["retry_days"].is_array(), "{default}");

    let mut policy = default.clone();
    policy.as_object_mut().unwrap().remove("object");
    policy["retry_days"] = json!([2, 4]);
    policy["grace_days"] = json!(10);
    policy["reminders"] = json!([]);
    policy["final_action"] = json!({"kind": "cancel"});
    let (status, replayed, set) =
        post_once(&app, "/v1/dunning_policy", &key, "policy-1", &policy).await;
    assert_eq!((status, replayed), (StatusCode::OK, false), "{set}");
    assert_eq!(
        (set["retry_days"].clone(), set["grace_days"].clone()),
        (json!([2, 4]), json!(10))
    );
    let (_, replayed, _) = post_once(&app, "/v1/dunning_policy", &key, "policy-1", &policy).await;
    assert!(replayed);
    assert_eq!(app.ok_json("/v1/dunning_policy", &key).await, set);
    // Each tenant has its own.
    assert_eq!(app.ok_json("/v1/dunning_policy", &rival).await, default);

    // Invalid: a retry after the grace period ends.
    let mut invalid = policy.clone();
    invalid["retry_days"] = json!([12]);
    let (status, error) = send(
        &app,
        Method::POST,
        "/v1/dunning_policy",
        &key,
        invalid.clone(),
    )
    .await;
    assert_api_error(
        (status, error.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(error["error"]["param"], "policy", "{error}");

    // Another tenant's plan (or none) is no place to move customers to.
    let rivals_plan = created(
        &app,
        "/v1/plans",
        &rival,
        json!({"name": "Free", "prices": [{"currency": "usd", "interval": {"unit": "month", "count": 1},
               "model": {"kind": "flat", "amount_minor": 0}}]}),
    )
    .await;
    let mut elsewhere = policy.clone();
    elsewhere["final_action"] = json!({"kind": "move_to_plan", "plan_id": rivals_plan["id"]});
    let (status, error) = send(&app, Method::POST, "/v1/dunning_policy", &key, elsewhere).await;
    assert_api_error(
        (status, error.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(error["error"]["param"], "policy", "{error}");

    // The preview of the stored policy, and of a policy to try.
    let failed_at = "2026-01-01T00:00:00Z";
    let (status, preview) = send(
        &app,
        Method::POST,
        "/v1/dunning_policy/preview",
        &key,
        json!({"failed_at": failed_at}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let timeline = preview["timeline"].as_array().unwrap();
    let at: Vec<&str> = timeline
        .iter()
        .map(|step| step["at"].as_str().unwrap())
        .collect();
    assert!(at.first().unwrap().starts_with("2026-01-01"), "{preview}");
    assert!(at.last().unwrap().starts_with("2026-01-11"), "{preview}");
    assert_eq!(
        timeline
            .iter()
            .filter(|step| step["event"]["kind"] == "retry")
            .count(),
        2,
        "{preview}"
    );
    let (status, error) = send(
        &app,
        Method::POST,
        "/v1/dunning_policy/preview",
        &key,
        json!({"policy": invalid}),
    )
    .await;
    assert_api_error((status, error), StatusCode::BAD_REQUEST, "invalid_request");
    // The body may be left out (the stored policy, failing now), but one
    // that is sent must parse: a misspelt field is not a silent default.
    let (status, preview) = app
        .call(Method::POST, "/v1/dunning_policy/preview", &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["object"], "dunning_preview", "{preview}");
    let (status, error) = send(
        &app,
        Method::POST,
        "/v1/dunning_policy/preview",
        &key,
        json!({"failed": failed_at}),
    )
    .await;
    assert_api_error((status, error), StatusCode::BAD_REQUEST, "invalid_json");
}

#[tokio::test]
async fn one_time_payments_and_setup_intents_for_the_merchants_card_form() {
    let (app, key, rival, customer) =
        merchants_with_customer(json!({"external_id": "user-1"})).await;
    let customer_id = customer["id"].as_str().unwrap();

    // For the card form: the client secret, confirmed in the browser later.
    let body = json!({"customer": "user-1", "amount": 1500, "currency": "USD", "description": "Setup fee"});
    let (status, replayed, intent) =
        post_once(&app, "/v1/payment_intents", &key, "pay-1", &body).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false), "{intent}");
    let id = intent["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            intent["object"].as_str(),
            intent["status"].as_str(),
            intent["amount"].as_i64(),
            intent["currency"].as_str(),
            intent["customer"].as_str(),
        ),
        (
            Some("payment_intent"),
            Some("requires_payment_method"),
            Some(1500),
            Some("usd"),
            Some(customer_id)
        ),
        "{intent}"
    );
    assert!(
        intent["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{id}_secret_")),
        "{intent}"
    );
    let (_, replayed, again) = post_once(&app, "/v1/payment_intents", &key, "pay-1", &body).await;
    assert!(replayed);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(
        app.ok_json(&format!("/v1/payment_intents/{id}"), &key)
            .await["status"],
        "requires_payment_method"
    );

    // Charged now with a card: paid; an SCA card needs the customer.
    let charge = |card: &str| json!({"customer": customer_id, "amount": 2500, "currency": "usd", "payment_method": card});
    let paid = created(&app, "/v1/payment_intents", &key, charge("pm_card_visa")).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let sca = created(
        &app,
        "/v1/payment_intents",
        &key,
        charge("pm_card_authenticationRequired"),
    )
    .await;
    assert_eq!(sca["status"], "requires_action", "{sca}");
    let (status, declined) = send(
        &app,
        Method::POST,
        "/v1/payment_intents",
        &key,
        charge("pm_card_chargeDeclined"),
    )
    .await;
    assert_api_error(
        (status, declined.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(declined["error"]["param"], "payment_method", "{declined}");
    // A payment method Stripe does not know is the caller's mistake: a 400
    // naming it, not a 502.
    let (status, unknown) = send(
        &app,
        Method::POST,
        "/v1/payment_intents",
        &key,
        charge("pm_nobody_has_this"),
    )
    .await;
    assert_eq!(unknown["error"]["param"], "payment_method", "{unknown}");
    assert_api_error(
        (status, unknown),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    // A one-time payment is refundable like an invoice's.
    let refund = created(
        &app,
        "/v1/refunds",
        &key,
        json!({"payment_intent": paid["id"], "amount": 1000}),
    )
    .await;
    assert_eq!(
        (refund["amount"].as_i64(), refund["customer"].as_str()),
        (Some(1000), Some(customer_id))
    );

    // A retry whose first attempt refunded on Stripe but lost our answer
    // gets that refund back instead of refunding again.
    let (stripe, account) = tenant_stripe(&app, "acme").await;
    let on_account = || stripe::RequestOptions::new().on_account(account.clone());
    let lost = stripe
        .refunds()
        .create(
            &stripe::CreateRefund {
                payment_intent: paid["id"].as_str().map(str::to_owned),
                amount: Some(500),
                metadata: stripe::Metadata::from([(
                    "billforge_request".to_owned(),
                    platform::payments::request_key(Some("lost-1"), "unused"),
                )]),
                ..stripe::CreateRefund::default()
            },
            on_account(),
        )
        .await
        .unwrap();
    let retry = json!({"payment_intent": paid["id"], "amount": 500});
    let (status, _, retried) = post_once(&app, "/v1/refunds", &key, "lost-1", &retry).await;
    assert_eq!(
        (status, retried["id"].as_str()),
        (StatusCode::CREATED, Some(lost.id.as_str())),
        "{retried}"
    );
    // No second refund was made: ours are the 10.00 and this 5.00.
    let refunds = app.ok_json("/v1/refunds", &key).await;
    let mut amounts: Vec<i64> = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|refund| refund["amount"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, [500, 1000], "{refunds}");

    // Checkout in payment mode for a one-time amount, paid on the hosted page.
    let checkout = created(
        &app,
        "/v1/checkout_sessions",
        &key,
        json!({"amount": 3000, "currency": "usd", "description": "Onboarding call", "customer": "user-1",
               "success_url": format!("{}/thanks", app.address), "cancel_url": format!("{}/pricing", app.address)}),
    )
    .await;
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    let session = stripe
        .checkout_sessions()
        .retrieve(
            checkout["id"].as_str().unwrap(),
            &stripe::Expand::default(),
            on_account(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            session.mode.map(|mode| mode.as_str().to_owned()),
            session.amount_total,
            session.client_reference_id.as_deref()
        ),
        (Some("payment".to_owned()), Some(3000), Some(customer_id))
    );
    for body in [
        json!({"plan": "plan_x", "amount": 3000, "currency": "usd", "success_url": "https://a.example", "cancel_url": "https://a.example"}),
        json!({"amount": 3000, "success_url": "https://a.example", "cancel_url": "https://a.example"}),
        json!({"amount": 3000, "currency": "usd", "success_url": "/thanks", "cancel_url": "https://a.example"}),
    ] {
        let (status, error) = send(
            &app,
            Method::POST,
            "/v1/checkout_sessions",
            &key,
            body.clone(),
        )
        .await;
        assert_api_error((status, error), StatusCode::BAD_REQUEST, "invalid_request");
    }

    // Saving a card for later.
    let setup = created(
        &app,
        "/v1/setup_intents",
        &key,
        json!({"customer": "user-1"}),
    )
    .await;
    assert_eq!(
        (setup["object"].as_str(), setup["customer"].as_str()),
        (Some("setup_intent"), Some(customer_id)),
        "{setup}"
    );
    assert!(
        setup["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("seti_")
    );

    // Validation and other tenants.
    for (body, param) in [
        (
            json!({"customer": "user-1", "amount": 10, "currency": "usd"}),
            "amount",
        ),
        (
            json!({"customer": "user-1", "amount": 1000, "currency": "xyz"}),
            "currency",
        ),
    ] {
        let (status, error) = send(&app, Method::POST, "/v1/payment_intents", &key, body).await;
        assert_api_error(
            (status, error.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    for (path, body) in [
        (
            "/v1/payment_intents",
            json!({"customer": "user-1", "amount": 1000, "currency": "usd"}),
        ),
        ("/v1/setup_intents", json!({"customer": customer_id})),
    ] {
        assert_api_error(
            send(&app, Method::POST, path, &rival, body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_api_error(
        app.call(Method::GET, &format!("/v1/payment_intents/{id}"), &rival)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn billing_portal_sessions_open_stripes_portal_for_the_customer() {
    let (app, key, rival, _customer) =
        merchants_with_customer(json!({"external_id": "user-1"})).await;
    let return_url = format!("{}/account", app.address);
    let body = json!({"customer": "user-1", "return_url": return_url});
    let (status, replayed, session) =
        post_once(&app, "/v1/billing_portal_sessions", &key, "portal-1", &body).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "{session}"
    );
    assert_eq!(session["object"], "billing_portal_session");
    let url = session["url"].as_str().unwrap();
    assert!(url.starts_with(&app.emulator.base_url()), "{url}");
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (_, replayed, again) =
        post_once(&app, "/v1/billing_portal_sessions", &key, "portal-1", &body).await;
    assert_eq!((replayed, &again), (true, &session));

    let (status, error) = send(
        &app,
        Method::POST,
        "/v1/billing_portal_sessions",
        &key,
        json!({"customer": "user-1", "return_url": "/account"}),
    )
    .await;
    assert_api_error(
        (status, error.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(error["error"]["param"], "return_url");
    assert_api_error(
        send(
            &app,
            Method::POST,
            "/v1/billing_portal_sessions",
            &rival,
            body,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn disputes_are_mirrored_and_answered_with_evidence() {
    let (app, key, rival, _customer) =
        merchants_with_customer(json!({"external_id": "user-1", "email": "ada@example.com"})).await;
    let paid = created(
        &app,
        "/v1/payment_intents",
        &key,
        json!({"customer": "user-1", "amount": 4200, "currency": "usd", "payment_method": "pm_card_createDispute"}),
    )
    .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    run_jobs_until(&app, "the dispute mirrored", || async {
        !app.ok_json("/v1/disputes", &key).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let dispute = app.ok_json("/v1/disputes", &key).await["data"][0].clone();
    let id = dispute["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            dispute["object"].as_str(),
            dispute["status"].as_str(),
            dispute["amount"].as_i64(),
            dispute["payment_intent"].as_str(),
        ),
        (
            Some("dispute"),
            Some("needs_response"),
            Some(4200),
            paid["id"].as_str()
        ),
        "{dispute}"
    );
    assert!(dispute["evidence_due_by"].is_string(), "{dispute}");
    assert_eq!(
        app.ok_json(&format!("/v1/disputes/{id}"), &key).await,
        dispute
    );

    // Evidence: validated, then submitted once (replayed by its key).
    let path = format!("/v1/disputes/{id}/evidence");
    for body in [
        json!({"evidence": {}}),
        json!({"evidence": {"favourite_colour": "blue"}}),
        json!({"submit": true}),
    ] {
        let (status, error) = send(&app, Method::POST, &path, &key, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
    }
    let evidence = json!({"evidence": {"customer_email_address": "ada@example.com",
        "uncategorized_text": "Used the service daily since signing up."}});
    let (status, replayed, answered) = post_once(&app, &path, &key, "evidence-1", &evidence).await;
    assert_eq!((status, replayed), (StatusCode::OK, false), "{answered}");
    assert_eq!(answered["status"], "under_review", "{answered}");
    assert!(audited(&app, &key, "dispute.evidence_submitted", &id).await);
    let (_, replayed, again) = post_once(&app, &path, &key, "evidence-1", &evidence).await;
    assert_eq!((replayed, &again), (true, &answered));
    let (status, closed) = send(&app, Method::POST, &path, &key, evidence.clone()).await;
    assert_api_error(
        (status, closed.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(closed["error"]["param"], "dispute", "{closed}");

    // Another tenant sees none of it.
    assert_api_error(
        app.call(Method::GET, &format!("/v1/disputes/{id}"), &rival)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_api_error(
        send(&app, Method::POST, &path, &rival, evidence).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.ok_json("/v1/disputes", &rival).await["data"], json!([]));
}

/// Two partial refunds of one payment sent at once, together more than was
/// paid: one is made, the other is the over-refund 400 (never Stripe's
/// refusal relayed as a 502), and Stripe and the mirror agree on one refund.
#[tokio::test]
async fn concurrent_refunds_never_over_refund() {
    let (app, key, _rival, _customer) =
        merchants_with_customer(json!({"external_id": "user-1"})).await;
    let paid = created(
        &app,
        "/v1/payment_intents",
        &key,
        json!({"customer": "user-1", "amount": 2500, "currency": "usd", "payment_method": "pm_card_visa"}),
    )
    .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let refund = json!({"payment_intent": paid["id"], "amount": 1500});
    let (first, second) = tokio::join!(
        send(&app, Method::POST, "/v1/refunds", &key, refund.clone()),
        send(&app, Method::POST, "/v1/refunds", &key, refund.clone()),
    );
    let (made, refused) = if first.0 == StatusCode::CREATED {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(made.0, StatusCode::CREATED, "{}", made.1);
    assert_api_error(
        (refused.0, refused.1.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(refused.1["error"]["param"], "amount", "{}", refused.1);

    // Stripe refunded 15.00 of the charge once.
    let (stripe, account) = tenant_stripe(&app, "acme").await;
    let on_stripe = stripe
        .payment_intents()
        .retrieve(
            paid["id"].as_str().unwrap(),
            &stripe::Expand::default(),
            stripe::RequestOptions::new().on_account(account.clone()),
        )
        .await
        .unwrap();
    let charge = emulator_get(
        &app,
        &format!("/v1/charges/{}", on_stripe.latest_charge.unwrap()),
        Some(&account),
    )
    .await;
    assert_eq!(charge["amount_refunded"], 1500, "{charge}");
    let mirrored = app.ok_json("/v1/refunds", &key).await;
    let ids: Vec<&str> = mirrored["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|refund| refund["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [made.1["id"].as_str().unwrap()], "{mirrored}");
}

/// A one-time catalog price (Stripe's `type=one_time`): created through the
/// price API and synced to Stripe as one; bought in a payment-mode checkout
/// with a quantity; never subscribed to (checkout or plan change: 400
/// `price_not_recurring`) nor offered on the pricing page.
#[tokio::test]
async fn one_time_prices_are_bought_once_and_never_subscribed_to() {
    let (app, key, rival, customer) =
        merchants_with_customer(json!({"external_id": "user-1"})).await;
    let customer_id = customer["id"].as_str().unwrap();
    let plan = created(
        &app,
        "/v1/plans",
        &key,
        json!({"name": "Pro", "prices": [{"currency": "usd", "interval": {"unit": "month", "count": 1},
               "model": {"kind": "flat", "amount_minor": 2900}}]}),
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let monthly = plan["prices"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(plan["prices"][0]["type"], "recurring", "{plan}");

    // Added by the price API, replayed by its Idempotency-Key.
    let prices_path = format!("/v1/plans/{plan_id}/prices");
    let credits = json!({"currency": "usd", "type": "one_time",
        "model": {"kind": "per_seat", "unit_amount_minor": 1500}});
    let (status, replayed, with_credits) =
        post_once(&app, &prices_path, &key, "credits-1", &credits).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "{with_credits}"
    );
    let one_time = with_credits["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|price| price["type"] == "one_time")
        .unwrap_or_else(|| panic!("no one-time price: {with_credits}"))
        .clone();
    assert_eq!(
        (
            one_time["interval_unit"].clone(),
            one_time["interval_count"].clone()
        ),
        (Value::Null, Value::Null),
        "{one_time}"
    );
    let one_time_id = one_time["id"].as_str().unwrap().to_owned();
    let (_, replayed, again) = post_once(&app, &prices_path, &key, "credits-1", &credits).await;
    assert_eq!((replayed, &again), (true, &with_credits));

    // On Stripe as a one-time price of the plan's product.
    let plan_path = format!("/v1/plans/{plan_id}");
    run_jobs_until(&app, "the one-time price on Stripe", || async {
        app.ok_json(&plan_path, &key).await["sync_status"] == "synced"
    })
    .await;
    let synced = app.ok_json(&plan_path, &key).await;
    let stripe_price_of = |id: &str| {
        synced["prices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|price| price["id"] == id)
            .and_then(|price| price["stripe_price_id"].as_str())
            .map(str::to_owned)
            .unwrap()
    };
    let (_, account) = tenant_stripe(&app, "acme").await;
    let on_stripe = emulator_get(
        &app,
        &format!("/v1/prices/{}", stripe_price_of(&one_time_id)),
        Some(&account),
    )
    .await;
    assert_eq!(
        (
            on_stripe["type"].as_str(),
            on_stripe["recurring"].is_null(),
            on_stripe["unit_amount"].as_i64(),
            on_stripe["product"].as_str()
        ),
        (
            Some("one_time"),
            true,
            Some(1500),
            synced["stripe_product_id"].as_str()
        ),
        "{on_stripe}"
    );

    // Bought three times in a payment-mode checkout, paid on the hosted page.
    let urls = json!({"success_url": format!("{}/thanks", app.address), "cancel_url": format!("{}/pricing", app.address)});
    let with_urls = |body: Value| {
        let mut body = body;
        body.as_object_mut()
            .unwrap()
            .extend(urls.as_object().unwrap().clone());
        body
    };
    let buy = with_urls(json!({"price": one_time_id, "quantity": 3, "customer": "user-1"}));
    let (status, replayed, checkout) =
        post_once(&app, "/v1/checkout_sessions", &key, "buy-1", &buy).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "{checkout}"
    );
    let (_, replayed, again) = post_once(&app, "/v1/checkout_sessions", &key, "buy-1", &buy).await;
    assert_eq!((replayed, &again), (true, &checkout));
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    let session = emulator_get(
        &app,
        &format!("/v1/checkout/sessions/{}", checkout["id"].as_str().unwrap()),
        Some(&account),
    )
    .await;
    assert_eq!(
        (
            session["mode"].as_str(),
            session["status"].as_str(),
            session["amount_total"].as_i64(),
            session["client_reference_id"].as_str()
        ),
        (
            Some("payment"),
            Some("complete"),
            Some(4500),
            Some(customer_id)
        ),
        "{session}"
    );
    let intent = session["payment_intent"].as_str().unwrap();
    let paid = app
        .ok_json(&format!("/v1/payment_intents/{intent}"), &key)
        .await;
    assert_eq!(
        (
            paid["status"].as_str(),
            paid["amount"].as_i64(),
            paid["customer"].as_str()
        ),
        (Some("succeeded"), Some(4500), Some(customer_id)),
        "{paid}"
    );

    // Never subscribed to: not in a subscription checkout...
    let (status, refused) = send(
        &app,
        Method::POST,
        "/v1/checkout_sessions",
        &key,
        with_urls(json!({"plan": plan_id, "price": one_time_id, "customer": "user-1"})),
    )
    .await;
    assert_api_error(
        (status, refused.clone()),
        StatusCode::BAD_REQUEST,
        "price_not_recurring",
    );
    assert_eq!(refused["error"]["param"], "price", "{refused}");
    // ...nor by a plan change of a subscription to the plan.
    let subscribe = created(
        &app,
        "/v1/checkout_sessions",
        &key,
        with_urls(json!({"plan": plan_id, "customer": "user-1"})),
    )
    .await;
    pay(subscribe["url"].as_str().unwrap(), "4242424242424242").await;
    run_jobs_until(&app, "the subscription mirrored", || async {
        !app.ok_json("/v1/subscriptions?customer=user-1", &key).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let subscription =
        app.ok_json("/v1/subscriptions?customer=user-1", &key).await["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    for path in [
        format!("/v1/subscriptions/{subscription}"),
        format!("/v1/subscriptions/{subscription}/preview"),
    ] {
        assert_api_error(
            send(
                &app,
                Method::POST,
                &path,
                &key,
                json!({"price": one_time_id}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "price_not_recurring",
        );
    }
    // ...nor offered on the pricing page, where the monthly price is.
    let pricing = app.browser().page("/t/acme/pricing").await;
    assert!(
        pricing.contains(&monthly) && !pricing.contains(&one_time_id),
        "{pricing}"
    );

    // Validation: what a price or a purchase is missing or has too much.
    for (path, body, param) in [
        (
            prices_path.as_str(),
            json!({"currency": "usd", "type": "one_time", "interval": {"unit": "month", "count": 1},
                   "model": {"kind": "flat", "amount_minor": 500}}),
            "interval",
        ),
        (
            prices_path.as_str(),
            json!({"currency": "usd", "model": {"kind": "flat", "amount_minor": 500}}),
            "interval",
        ),
        (
            prices_path.as_str(),
            json!({"currency": "usd", "type": "one_time", "model": {"kind": "tiered", "mode": "volume",
                   "tiers": [{"up_to": null, "unit_amount_minor": 100, "flat_amount_minor": 0}]}}),
            "prices",
        ),
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": monthly})),
            "price",
        ),
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": one_time_id, "currency": "usd"})),
            "currency",
        ),
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": one_time_id, "amount": 1500, "currency": "usd"})),
            "plan",
        ),
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": one_time_id, "trial_days": 7})),
            "trial_days",
        ),
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": one_time_id, "quantity": 0})),
            "quantity",
        ),
    ] {
        let (status, error) = send(&app, Method::POST, path, &key, body.clone()).await;
        assert_api_error(
            (status, error.clone()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    let (status, unknown_type) = send(
        &app,
        Method::POST,
        &prices_path,
        &key,
        json!({"currency": "usd", "type": "lifetime", "model": {"kind": "flat", "amount_minor": 500}}),
    )
    .await;
    assert_api_error(
        (status, unknown_type),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );

    // Replaced like any price: the old one is archived, on Stripe too, and
    // no longer sold.
    let (status, replaced) = send(
        &app,
        Method::POST,
        &format!("{prices_path}/{one_time_id}"),
        &key,
        json!({"currency": "usd", "type": "one_time", "model": {"kind": "per_seat", "unit_amount_minor": 1800}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    run_jobs_until(
        &app,
        "the old one-time price archived on Stripe",
        || async { app.ok_json(&plan_path, &key).await["sync_status"] == "synced" },
    )
    .await;
    let archived = emulator_get(
        &app,
        &format!("/v1/prices/{}", stripe_price_of(&one_time_id)),
        Some(&account),
    )
    .await;
    assert_eq!(archived["active"], false, "{archived}");
    let (status, error) = send(
        &app,
        Method::POST,
        "/v1/checkout_sessions",
        &key,
        with_urls(json!({"price": one_time_id})),
    )
    .await;
    assert_api_error(
        (status, error.clone()),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    assert_eq!(error["error"]["param"], "price", "{error}");

    // Another tenant can neither sell it nor add to the plan.
    for (path, body) in [
        (
            "/v1/checkout_sessions",
            with_urls(json!({"price": one_time_id})),
        ),
        (prices_path.as_str(), credits.clone()),
    ] {
        assert_api_error(
            send(&app, Method::POST, path, &rival, body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
}
