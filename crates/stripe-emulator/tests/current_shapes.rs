//! Differences from Stripe found by the Node conformance suite
//! (`conformance/node`), pinned here at the HTTP boundary: shapes of
//! 2026-10-28.endive as stripe-node 23.1.0's types declare them, the
//! `Stripe-Account` echo, and retrieve calls rejecting stray parameters.

mod common;

use common::Harness;
use serde_json::Value;

fn has(object: &Value, key: &str) -> bool {
    object.as_object().is_some_and(|map| map.contains_key(key))
}

#[tokio::test]
async fn connected_account_requests_echo_stripe_account() {
    let harness = Harness::start().await;
    let account = harness
        .post(
            "/v1/accounts",
            &[("controller[stripe_dashboard][type]", "none")],
        )
        .await;
    let account_id = account["id"].as_str().unwrap();
    let scoped = harness
        .call(
            "POST",
            "/v1/customers",
            &[],
            &[("Stripe-Account", account_id)],
        )
        .await;
    assert_eq!(scoped.status, 200);
    assert_eq!(scoped.headers["stripe-account"], account_id);
    let platform = harness.call("POST", "/v1/customers", &[], &[]).await;
    assert!(platform.headers.get("stripe-account").is_none());
    harness.emulator.stop().await;
}

#[tokio::test]
async fn retrieving_by_id_rejects_parameters_other_than_expand() {
    let harness = Harness::start().await;
    let customer = harness.post("/v1/customers", &[]).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let stray = harness
        .call("GET", &path, &[("stripeAccount", "acct_123")], &[])
        .await;
    assert_eq!(stray.status, 400);
    assert_eq!(stray.body["error"]["code"], "parameter_unknown");
    assert_eq!(stray.body["error"]["param"], "stripeAccount");
    let expanded = harness
        .call("GET", &path, &[("expand[]", "test_clock")], &[])
        .await;
    assert_eq!(expanded.status, 200);
    let listed = harness.get("/v1/customers", &[("limit", "1")]).await;
    assert_eq!(listed["object"], "list");
    harness.emulator.stop().await;
}

#[tokio::test]
async fn invoices_name_payments_not_payment_intent() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1500).await;
    let customer = harness.customer_with_card(&[]).await;
    let sub = harness
        .subscribe(customer["id"].as_str().unwrap(), &price, &[])
        .await;
    let path = format!("/v1/invoices/{}", sub["latest_invoice"].as_str().unwrap());
    let invoice = harness.get(&path, &[]).await;
    for gone in [
        "payment_intent",
        "application_fee_amount",
        "subscription",
        "payments",
    ] {
        assert!(!has(&invoice, gone), "invoice has {gone}");
    }
    let expanded = harness.get(&path, &[("expand[]", "payments")]).await;
    let payments = &expanded["payments"]["data"];
    assert_eq!(payments.as_array().unwrap().len(), 1);
    let payment = &payments[0];
    assert_eq!(payment["object"], "invoice_payment");
    assert_eq!(payment["invoice"], invoice["id"]);
    assert_eq!(payment["status"], "paid");
    assert_eq!(payment["amount_paid"], 1500);
    assert_eq!(payment["is_default"], true);
    let intent_id = payment["payment"]["payment_intent"].as_str().unwrap();
    let intent = harness
        .get(&format!("/v1/payment_intents/{intent_id}"), &[])
        .await;
    assert_eq!(intent["status"], "succeeded");
    assert!(!has(&intent, "invoice"), "gone since 2025-03-31.basil");
    let listed = harness
        .get(
            "/v1/invoice_payments",
            &[("invoice", invoice["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(listed["data"][0]["id"], payment["id"]);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn a_declined_then_paid_invoice_keeps_both_attempts() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let customer = harness.post("/v1/customers", &[]).await;
    let sub = harness
        .subscribe(
            customer["id"].as_str().unwrap(),
            &price,
            &[("payment_behavior", "default_incomplete")],
        )
        .await;
    let invoice_id = sub["latest_invoice"].as_str().unwrap();
    let pay = format!("/v1/invoices/{invoice_id}/pay");
    let declined = harness
        .call(
            "POST",
            &pay,
            &[("payment_method", "pm_card_chargeDeclined")],
            &[],
        )
        .await;
    assert_eq!(declined.status, 402);
    harness
        .post(&pay, &[("payment_method", "pm_card_visa")])
        .await;
    let invoice = harness
        .get(
            &format!("/v1/invoices/{invoice_id}"),
            &[("expand[]", "payments")],
        )
        .await;
    let statuses: Vec<(&str, bool)> = invoice["payments"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|payment| {
            (
                payment["status"].as_str().unwrap(),
                payment["is_default"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [("paid", true), ("canceled", false)]);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn objects_carry_endive_keys_only() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let product = harness
        .get(
            &format!("/v1/products/{}", price["product"].as_str().unwrap()),
            &[],
        )
        .await;
    assert!(has(&product, "tax_details"));
    let customer = harness.customer_with_card(&[]).await;
    let customer_id = customer["id"].as_str().unwrap();
    let sub = harness.subscribe(customer_id, &price, &[]).await;
    assert!(has(&sub["items"]["data"][0], "current_trial"));
    assert!(has(&sub["billing_mode"], "flexible"));
    assert!(has(&sub["cancellation_details"], "feedback_option"));
    let account = harness
        .post(
            "/v1/accounts",
            &[("controller[stripe_dashboard][type]", "none")],
        )
        .await;
    assert!(has(
        &account["business_profile"],
        "specified_commercial_transactions_act_url"
    ));
    let bigger = harness.monthly_price(3000).await;
    harness
        .post(
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            &[
                (
                    "items[0][id]",
                    sub["items"]["data"][0]["id"].as_str().unwrap(),
                ),
                ("items[0][price]", bigger["id"].as_str().unwrap()),
            ],
        )
        .await;
    let pending = harness
        .get(
            "/v1/invoiceitems",
            &[("customer", customer_id), ("pending", "true")],
        )
        .await;
    let item = &pending["data"][0];
    for gone in ["price", "subscription", "subscription_item"] {
        assert!(!has(item, gone), "invoice item has {gone}");
    }
    assert_eq!(
        item["parent"]["subscription_details"]["subscription"],
        sub["id"]
    );
    let intent = harness
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "500"),
                ("currency", "usd"),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    assert!(has(&intent, "allowed_payment_method_types") && has(&intent, "payment_record"));
    let setup = harness
        .post(
            "/v1/setup_intents",
            &[
                ("customer", customer_id),
                ("payment_method", "pm_card_visa"),
                ("confirm", "true"),
            ],
        )
        .await;
    assert!(has(&setup, "allowed_payment_method_types"));
    let charge = harness
        .get(
            &format!("/v1/charges/{}", intent["latest_charge"].as_str().unwrap()),
            &[],
        )
        .await;
    assert!(!has(&charge, "invoice"));
    let session = harness
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("line_items[0][quantity]", "1"),
                ("success_url", "https://example.com/done"),
            ],
        )
        .await;
    assert!(has(&session, "allowed_payment_method_types"));
    let endpoint = harness
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", "https://example.com/hook"),
                ("enabled_events[0]", "*"),
                ("connect", "true"),
            ],
        )
        .await;
    assert!(!has(&endpoint, "connect"));
    harness.emulator.stop().await;
}
