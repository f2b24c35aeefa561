//! Hosted pages and Connect: checkout on a connected account with the platform's
//! fee, Connect webhooks, session expiry, the 3-D Secure step and the billing portal.

mod common;

use common::Harness;
use serde_json::Value;

async fn connected_account(harness: &Harness) -> String {
    let account = harness
        .post(
            "/v1/accounts",
            &[("controller[stripe_dashboard][type]", "express")],
        )
        .await;
    account["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn connected_checkout_pays_the_platform_fee_and_notifies_connect_endpoints() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let harness = Harness::start().await;
    harness
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", &receiver.uri()),
                ("enabled_events[0]", "checkout.session.completed"),
                ("connect", "true"),
            ],
        )
        .await;
    let acct = connected_account(&harness).await;
    let on_account = [("Stripe-Account", acct.as_str())];
    let product = harness
        .call(
            "POST",
            "/v1/products",
            &[("name", "Tenant plan")],
            &on_account,
        )
        .await
        .body;
    let price = harness
        .call(
            "POST",
            "/v1/prices",
            &[
                ("product", product["id"].as_str().unwrap()),
                ("currency", "usd"),
                ("unit_amount", "2000"),
                ("recurring[interval]", "month"),
            ],
            &on_account,
        )
        .await
        .body;
    let platform_fee = harness
        .call(
            "POST",
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("success_url", "https://t.example/ok"),
                ("subscription_data[application_fee_percent]", "12.5"),
            ],
            &[],
        )
        .await;
    assert_eq!(
        platform_fee.status, 404,
        "the price lives on the connected account only"
    );
    let session = harness
        .call(
            "POST",
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("success_url", "https://t.example/ok"),
                ("subscription_data[application_fee_percent]", "12.5"),
            ],
            &on_account,
        )
        .await
        .body;
    let paid = harness
        .pay_hosted_checkout(session["url"].as_str().unwrap(), "4242424242424242")
        .await;
    assert_eq!(paid.status().as_u16(), 303);

    let fees = harness.get("/v1/application_fees", &[]).await;
    assert_eq!(fees["data"][0]["amount"], 250);
    assert_eq!(fees["data"][0]["account"], acct.as_str());
    let platform_sessions = harness.get("/v1/checkout/sessions", &[]).await;
    assert_eq!(platform_sessions["data"].as_array().unwrap().len(), 0);

    let delivered: Vec<Value> = common::wait_for_requests(&receiver, 1)
        .await
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["type"], "checkout.session.completed");
    assert_eq!(delivered[0]["account"], acct.as_str());
    harness.emulator.stop().await;
}

#[tokio::test]
async fn open_sessions_expire_after_a_day() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let session = harness
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("success_url", "https://t.example/ok"),
            ],
        )
        .await;
    let path = format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap());
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(23 * 3600).to_string())],
        )
        .await;
    assert_eq!(harness.get(&path, &[]).await["status"], "open");
    harness
        .post(
            "/_emulator/clock/advance",
            &[("seconds", &(2 * 3600).to_string())],
        )
        .await;
    assert_eq!(harness.get(&path, &[]).await["status"], "expired");
    assert!(
        harness
            .event_types()
            .await
            .contains(&"checkout.session.expired".to_owned())
    );
    let page = harness
        .http
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 410);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn payment_mode_with_three_d_secure_failure_then_success() {
    let harness = Harness::start().await;
    let product = harness.post("/v1/products", &[("name", "Ticket")]).await;
    let price = harness
        .post(
            "/v1/prices",
            &[
                ("product", product["id"].as_str().unwrap()),
                ("currency", "usd"),
                ("unit_amount", "4500"),
            ],
        )
        .await;
    let session = harness
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "payment"),
                ("line_items[0][price]", price["id"].as_str().unwrap()),
                ("line_items[0][quantity]", "2"),
                ("success_url", "https://t.example/ok"),
                ("cancel_url", "https://t.example/no"),
            ],
        )
        .await;
    assert_eq!(session["amount_total"], 9000);
    let url = session["url"].as_str().unwrap();
    let cancel = harness
        .http
        .get(format!("{url}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.headers()["Location"], "https://t.example/no");
    let challenge = harness.pay_hosted_checkout(url, "4000002500003155").await;
    assert!(challenge.text().await.unwrap().contains("Authenticate"));
    let failed = harness
        .http
        .post(format!("{url}/authenticate"))
        .form(&[("decision", "fail")])
        .send()
        .await
        .unwrap();
    assert!(
        failed
            .text()
            .await
            .unwrap()
            .contains("unable to authenticate")
    );
    harness.pay_hosted_checkout(url, "4000002500003155").await;
    let approved = harness
        .http
        .post(format!("{url}/authenticate"))
        .form(&[("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status().as_u16(), 303);
    let done = harness
        .get(
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
            &[("expand[]", "payment_intent")],
        )
        .await;
    assert_eq!(done["payment_intent"]["status"], "succeeded");
    assert_eq!(done["payment_intent"]["amount"], 9000);
    assert_eq!(
        done["customer"],
        Value::Null,
        "payment mode creates no customer unless asked"
    );
    harness.emulator.stop().await;
}

/// Posts the portal's "update card" form.
async fn update_card(harness: &Harness, portal_url: &str, number: &str) -> reqwest::Response {
    let form = [
        ("card_number", number),
        ("exp_month", "1"),
        ("exp_year", "2040"),
    ];
    harness
        .http
        .post(format!("{portal_url}/card"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn billing_portal_updates_card_cancels_and_switches_price() {
    let harness = Harness::start().await;
    let price = harness.monthly_price(1000).await;
    let yearly = harness
        .post(
            "/v1/prices",
            &[
                ("product", price["product"].as_str().unwrap()),
                ("currency", "usd"),
                ("unit_amount", "10000"),
                ("recurring[interval]", "year"),
            ],
        )
        .await;
    let customer = harness.customer_with_card(&[]).await;
    let customer_id = customer["id"].as_str().unwrap();
    let sub = harness.subscribe(customer_id, &price, &[]).await;
    let sub_id = sub["id"].as_str().unwrap();
    let portal = harness
        .post(
            "/v1/billing_portal/sessions",
            &[
                ("customer", customer_id),
                ("return_url", "https://t.example/account"),
            ],
        )
        .await;
    let url = portal["url"].as_str().unwrap();
    let page = harness
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(sub_id) && page.contains(yearly["id"].as_str().unwrap()));

    let declined = update_card(&harness, url, "4000000000000002").await;
    assert_eq!(declined.status().as_u16(), 400);
    let card = update_card(&harness, url, "5555555555554444").await;
    assert_eq!(card.status().as_u16(), 303);
    let updated = harness
        .get(
            &format!("/v1/customers/{customer_id}"),
            &[("expand[]", "invoice_settings.default_payment_method")],
        )
        .await;
    assert_eq!(
        updated["invoice_settings"]["default_payment_method"]["card"]["last4"],
        "4444"
    );

    harness
        .http
        .post(format!("{url}/switch"))
        .form(&[
            ("subscription", sub_id),
            ("price", yearly["id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    harness
        .http
        .post(format!("{url}/cancel"))
        .form(&[("subscription", sub_id)])
        .send()
        .await
        .unwrap();
    let after = harness
        .get(
            &format!("/v1/subscriptions/{sub_id}"),
            &[("expand[]", "latest_invoice")],
        )
        .await;
    assert_eq!(after["items"]["data"][0]["price"]["id"], yearly["id"]);
    assert_eq!(after["cancel_at_period_end"], true);
    let item = &after["items"]["data"][0];
    let period = item["current_period_end"].as_i64().unwrap()
        - item["current_period_start"].as_i64().unwrap();
    assert!(
        period >= 365 * 86_400,
        "a yearly price restarts a yearly cycle: {period}"
    );
    let invoice = &after["latest_invoice"];
    assert_eq!(invoice["billing_reason"], "subscription_update");
    let paid = invoice["amount_paid"].as_i64().unwrap();
    assert!(
        (9000..9010).contains(&paid),
        "year minus unused month: {paid}"
    );
    let stranger = harness
        .http
        .post(format!("{url}/cancel"))
        .form(&[("subscription", "sub_other")])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status().as_u16(), 400);
    harness.emulator.stop().await;
}

#[tokio::test]
async fn setup_mode_saves_a_card_on_a_new_customer() {
    let harness = Harness::start().await;
    let session = harness
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "setup"),
                ("currency", "usd"),
                ("success_url", "https://t.example/saved"),
            ],
        )
        .await;
    assert_eq!(session["payment_status"], "no_payment_required");
    let declined = harness
        .pay_hosted_checkout(session["url"].as_str().unwrap(), "4000000000000002")
        .await;
    assert_eq!(declined.status().as_u16(), 402);
    let saved = harness
        .pay_hosted_checkout(session["url"].as_str().unwrap(), "4000000000000341")
        .await;
    assert_eq!(saved.status().as_u16(), 303, "0341 attaches fine");
    let done = harness
        .get(
            &format!("/v1/checkout/sessions/{}", session["id"].as_str().unwrap()),
            &[("expand[]", "setup_intent.payment_method")],
        )
        .await;
    assert_eq!(done["setup_intent"]["status"], "succeeded");
    assert_eq!(
        done["setup_intent"]["payment_method"]["card"]["last4"],
        "0341"
    );
    let customer = done["customer"].as_str().unwrap();
    let intent = harness
        .call(
            "POST",
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("customer", customer),
                (
                    "payment_method",
                    done["setup_intent"]["payment_method"]["id"]
                        .as_str()
                        .unwrap(),
                ),
                ("confirm", "true"),
                ("off_session", "true"),
            ],
            &[],
        )
        .await;
    assert_eq!(intent.status, 402, "every charge on 0341 fails");
    assert_eq!(intent.body["error"]["code"], "card_declined");
    assert!(
        intent.body["error"]["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    harness.emulator.stop().await;
}
