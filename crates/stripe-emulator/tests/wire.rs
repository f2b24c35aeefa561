//! The wire format over real HTTP: auth, errors, idempotency, Connect scoping, pagination, expand.

mod common;

use common::Harness;
use serde_json::json;

#[tokio::test]
async fn rejects_missing_and_live_keys_with_stripes_401() {
    let harness = Harness::start().await;
    let url = format!("{}/v1/customers", harness.base);
    let missing = harness.http.get(&url).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );

    let live = harness
        .http
        .get(&url)
        .bearer_auth("sk_live_supersecret1234")
        .send()
        .await
        .unwrap();
    assert_eq!(live.status().as_u16(), 401);
    let body: serde_json::Value = live.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("sk_live_****1234"));
    assert!(
        !message.contains("supersecret"),
        "the key must be redacted: {message}"
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn api_versions_are_checked() {
    let harness = Harness::start().await;
    let pinned = harness
        .call(
            "GET",
            "/v1/customers",
            &[],
            &[("Stripe-Version", "2026-10-28.endive")],
        )
        .await;
    assert_eq!(pinned.status, 200);
    assert_eq!(pinned.headers["Stripe-Version"], "2026-10-28.endive");
    let bogus = harness
        .call(
            "GET",
            "/v1/customers",
            &[],
            &[("Stripe-Version", "2026-13-45")],
        )
        .await;
    assert_eq!(bogus.status, 400);
    assert!(
        bogus.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid Stripe API version")
    );
    harness.emulator.stop().await;
}

#[tokio::test]
async fn unknown_and_missing_parameters_are_named() {
    let harness = Harness::start().await;
    let unknown = harness
        .call("POST", "/v1/customers", &[("colour", "blue")], &[])
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["code"], "parameter_unknown");
    assert_eq!(unknown.body["error"]["param"], "colour");
    let nested = harness
        .call(
            "POST",
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product_data[name]", "x"),
                ("unit_amount", "1"),
                ("recurring[every]", "month"),
            ],
            &[],
        )
        .await;
    assert_eq!(nested.body["error"]["param"], "recurring[every]");
    let missing = harness
        .call(
            "POST",
            "/v1/prices",
            &[("currency", "usd"), ("unit_amount", "1")],
            &[],
        )
        .await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].clone()),
        (400, json!("parameter_missing"))
    );
    assert_eq!(missing.body["error"]["param"], "product");
    let not_found = harness
        .call("GET", "/v1/customers/cus_nope", &[], &[])
        .await;
    assert_eq!(not_found.status, 404);
    assert_eq!(not_found.body["error"]["code"], "resource_missing");
    harness.emulator.stop().await;
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_other_parameters() {
    let harness = Harness::start().await;
    let key = [("Idempotency-Key", "order-42")];
    let first = harness
        .call("POST", "/v1/customers", &[("email", "a@example.com")], &key)
        .await;
    assert_eq!(first.status, 200);
    assert!(first.headers.get("Idempotent-Replayed").is_none());
    let again = harness
        .call("POST", "/v1/customers", &[("email", "a@example.com")], &key)
        .await;
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["Idempotent-Replayed"], "true");
    let other = harness
        .call("POST", "/v1/customers", &[("email", "b@example.com")], &key)
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.body["error"]["type"], "idempotency_error");
    let list = harness.get("/v1/customers", &[]).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the replay created nothing"
    );

    let failed = harness
        .call(
            "POST",
            "/v1/customers",
            &[("bogus", "1")],
            &[("Idempotency-Key", "bad")],
        )
        .await;
    let replayed = harness
        .call(
            "POST",
            "/v1/customers",
            &[("bogus", "1")],
            &[("Idempotency-Key", "bad")],
        )
        .await;
    assert_eq!((failed.status, replayed.status), (400, 400));
    assert_eq!(replayed.headers["Idempotent-Replayed"], "true");
    harness.emulator.stop().await;
}

#[tokio::test]
async fn connected_account_objects_are_invisible_without_the_header() {
    let harness = Harness::start().await;
    let account = harness
        .post(
            "/v1/accounts",
            &[
                ("controller[stripe_dashboard][type]", "none"),
                ("controller[fees][payer]", "application"),
                ("controller[losses][payments]", "application"),
            ],
        )
        .await;
    let acct = account["id"].as_str().unwrap();
    assert_eq!(account["type"], "custom");
    let on_account = [("Stripe-Account", acct)];
    let customer = harness
        .call(
            "POST",
            "/v1/customers",
            &[("email", "t@example.com")],
            &on_account,
        )
        .await;
    let path = format!("/v1/customers/{}", customer.body["id"].as_str().unwrap());
    assert_eq!(
        harness.call("GET", &path, &[], &on_account).await.status,
        200
    );
    assert_eq!(harness.call("GET", &path, &[], &[]).await.status, 404);
    assert_eq!(harness.get("/v1/customers", &[]).await["data"], json!([]));
    let unknown = harness
        .call(
            "GET",
            "/v1/customers",
            &[],
            &[("Stripe-Account", "acct_unknown")],
        )
        .await;
    assert_eq!(unknown.status, 403);
    assert_eq!(unknown.body["error"]["code"], "account_invalid");
    let current = harness.call("GET", "/v1/account", &[], &on_account).await;
    assert_eq!(current.body["id"], acct);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn lists_page_newest_first_with_edges() {
    let harness = Harness::start().await;
    let empty = harness.get("/v1/customers", &[]).await;
    assert_eq!(
        (empty["data"].clone(), empty["has_more"].clone()),
        (json!([]), json!(false))
    );
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            harness
                .post("/v1/customers", &[("name", &format!("c{n}"))])
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = harness.get("/v1/customers", &[("limit", "3")]).await;
    assert_eq!(page["has_more"], false);
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    let last = harness
        .get(
            "/v1/customers",
            &[("limit", "1"), ("starting_after", &ids[1])],
        )
        .await;
    assert_eq!(
        (last["data"][0]["id"].clone(), last["has_more"].clone()),
        (json!(ids[0]), json!(false))
    );
    let top = harness
        .get(
            "/v1/customers",
            &[("limit", "5"), ("ending_before", &ids[1])],
        )
        .await;
    assert_eq!(
        top["data"],
        json!([harness.get(&format!("/v1/customers/{}", ids[2]), &[]).await])
    );
    for bad in ["0", "101", "ten"] {
        let reply = harness
            .call("GET", "/v1/customers", &[("limit", bad)], &[])
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["param"].clone()),
            (400, json!("limit")),
            "limit={bad}"
        );
    }
    let unknown_cursor = harness
        .call(
            "GET",
            "/v1/customers",
            &[("starting_after", "cus_missing")],
            &[],
        )
        .await;
    assert_eq!(unknown_cursor.status, 404);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn expand_replaces_ids_along_dotted_paths() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1200).await;
    let customer = harness
        .customer_with_card(&[("email", "x@example.com")])
        .await;
    let sub = harness
        .post(
            "/v1/subscriptions",
            &[
                ("customer", customer["id"].as_str().unwrap()),
                ("items[0][price]", price["id"].as_str().unwrap()),
                (
                    "expand[0]",
                    "latest_invoice.payments.data.payment.payment_intent",
                ),
                ("expand[1]", "customer"),
            ],
        )
        .await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"]["id"], customer["id"]);
    assert_eq!(sub["latest_invoice"]["object"], "invoice");
    assert_eq!(
        sub["latest_invoice"]["payments"]["data"][0]["payment"]["payment_intent"]["status"],
        "succeeded"
    );
    let listed = harness
        .get("/v1/subscriptions", &[("expand[]", "data.customer")])
        .await;
    assert_eq!(listed["data"][0]["customer"]["email"], "x@example.com");
    harness.emulator.stop().await;
}
