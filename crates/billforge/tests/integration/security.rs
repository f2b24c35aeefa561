//! Security proofs (issue #10): replayed and cross-tenant webhook bodies, and
//! a scan of everything logged while every secret-bearing flow runs.

use billing::connect::ConnectStatus;
use chrono::TimeDelta;
use platform::webhooks::InboxStatus;
use reqwest::{Method, StatusCode};

use crate::harness::{
    captured_logs, connected_tenant, merchant_email, merchant_password, run_jobs,
};
use crate::webhooks::{
    CONNECT_SECRET, PLATFORM_SECRET, account_object, app_with_secrets, connect_status, customer,
    deliver, event_body, inbox_status, now, post,
};

/// The Stripe key every test app's client uses (see `harness::spawn_app_with`).
const STRIPE_KEY: &str = "sk_test_billforge_tests";

#[tokio::test]
async fn a_valid_delivery_replayed_after_the_tolerance_window_is_rejected() {
    let app = app_with_secrets().await;
    let body = event_body("evt_replayed", "customer.created", None, customer("cus_1"));
    let signature =
        stripe::webhook::signature_header(&[PLATFORM_SECRET], now(&app), body.as_bytes());
    let (status, _) = post(&app, "/webhooks/stripe", &body, Some(signature.clone())).await;
    assert_eq!(status, StatusCode::OK);

    // A captured delivery of an event not yet stored, replayed later.
    let captured = event_body("evt_captured", "customer.created", None, customer("cus_2"));
    let captured_signature =
        stripe::webhook::signature_header(&[PLATFORM_SECRET], now(&app), captured.as_bytes());

    app.clock.advance(TimeDelta::seconds(301)).unwrap();
    for (sent, signature) in [(&body, signature), (&captured, captured_signature)] {
        let (status, answer) = post(&app, "/webhooks/stripe", sent, Some(signature)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], "signature_too_old", "{answer}");
    }
    assert_eq!(inbox_status(&app, "evt_captured").await, None);
    assert_eq!(
        inbox_status(&app, "evt_replayed").await,
        Some((InboxStatus::Received, 0)),
        "the first delivery stands, untouched"
    );
}

#[tokio::test]
async fn a_signed_body_naming_another_tenants_account_cannot_touch_the_first_tenant() {
    let app = app_with_secrets().await;
    let (victim, victim_account, link) = connected_tenant(&app, "victim").await;
    crate::harness::post_without_redirects(&link).await;
    let updated = event_body(
        "evt_victim_active",
        "account.updated",
        Some(&victim_account),
        account_object(&victim_account),
    );
    deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, &updated).await;
    run_jobs(&app).await;
    let active = ConnectStatus::Active(victim_account.clone());
    assert_eq!(connect_status(&app, &victim).await, active);

    // The other tenant's account event, signed with the real secret, whose
    // object names the victim's account: it acts on the other tenant only.
    let (other, other_account, _) = connected_tenant(&app, "other").await;
    let hostile = event_body(
        "evt_hostile",
        "account.application.deauthorized",
        Some(&other_account),
        account_object(&victim_account),
    );
    let (status, _) = deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, &hostile).await;
    assert_eq!(status, StatusCode::OK);
    run_jobs(&app).await;

    assert_eq!(
        connect_status(&app, &victim).await,
        active,
        "victim untouched"
    );
    let row = app.platform.webhook_event("evt_hostile").await.unwrap();
    assert_eq!(row.status, InboxStatus::Applied);
    assert_eq!(row.tenant_id.as_deref(), Some(other.to_string().as_str()));
    assert_ne!(
        connect_status(&app, &other).await,
        ConnectStatus::Active(other_account)
    );
}

#[tokio::test]
async fn no_secret_of_any_flow_reaches_the_logs() {
    let app = app_with_secrets().await;
    let slug = "scanned";
    let browser = app.browser();
    let signed_up = browser.sign_up(slug, &merchant_password(slug)).await;
    assert_eq!(signed_up.status(), StatusCode::SEE_OTHER);
    let session = signed_up
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| cookie.strip_prefix("bf_session="))
        .and_then(|rest| rest.split(';').next())
        .expect("sign-up sets a session cookie")
        .to_owned();
    let api_key = browser.create_api_key("scanned").await;
    app.browser()
        .log_in(&merchant_email(slug), "a-wrong-password-to-log")
        .await;
    app.browser()
        .log_in(&merchant_email(slug), &merchant_password(slug))
        .await;
    for key in [api_key.as_str(), "bf_test_not_a_real_key_000000000000"] {
        app.api(Method::GET, "/v1/tenant", key)
            .send()
            .await
            .unwrap();
    }
    // Webhooks: a good delivery, a bad signature, and a Stripe call with the key.
    let body = event_body("evt_scanned", "customer.created", None, customer("cus_s"));
    deliver(&app, "/webhooks/stripe", PLATFORM_SECRET, &body).await;
    deliver(&app, "/webhooks/stripe", "whsec_wrong_secret_logged", &body).await;
    deliver(&app, "/webhooks/stripe/connect", CONNECT_SECRET, &body).await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    app.platform.reconcile_webhooks().await.unwrap();
    run_jobs(&app).await;
    let registered = app
        .platform
        .store()
        .platform_setting("stripe_webhook_endpoint.platform")
        .await
        .unwrap();
    let registered_secret = registered
        .as_deref()
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .and_then(|value| value["secret"].as_str().map(str::to_owned));

    let logs = captured_logs();
    assert!(logs.contains("request finished"), "logs were captured");
    let mut secrets = vec![
        merchant_password(slug),
        "a-wrong-password-to-log".to_owned(),
        api_key,
        session,
        PLATFORM_SECRET.to_owned(),
        CONNECT_SECRET.to_owned(),
        "whsec_wrong_secret_logged".to_owned(),
        STRIPE_KEY.to_owned(),
    ];
    secrets.extend(registered_secret);
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs: {}…",
            &secret[..6]
        );
    }
    // Nothing that looks like a webhook signature either.
    assert!(!logs.contains("v1="), "a Stripe-Signature was logged");
}
