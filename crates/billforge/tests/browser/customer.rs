//! A merchant's customer, in a real browser (issue #8): the merchant signs
//! up and connects Stripe on the emulator's onboarding page and creates a
//! plan with features; the customer subscribes on the public pricing page
//! and the emulator's checkout (a declined card first), lands on the success
//! page, gets a receipt, signs in to the account page by the emailed link,
//! upgrades and cancels at period end; the admin suspends the merchant and
//! its pricing page stops selling.

use fantoccini::Locator;

use crate::chromium::Chromium;
use crate::harness::{
    TestApp, merchant_email, merchant_password, pricing_catalog, run_jobs, run_jobs_until,
    signed_in_admin, spawn_app, start_onboarding, tenant_id,
};
use crate::merchant::{create_api_key, log_in, log_in_at, sign_up};

/// Things no customer-facing page may carry.
const SECRET_MARKERS: &[&str] = &["sk_test_", "sk_live_", "whsec_", "bf_test_", "bf_live_"];

/// Asserts the page on screen carries no secret: no Stripe or API key, no
/// webhook secret, not the platform's `SECRET_KEY`.
async fn assert_no_secret(chromium: &Chromium, secret_key: &str) {
    let html = chromium.html().await;
    let page = chromium.path().await;
    for marker in SECRET_MARKERS {
        assert!(!html.contains(marker), "{page} carries {marker}…");
    }
    assert!(!html.contains(secret_key), "{page} carries SECRET_KEY");
}

/// Fills and submits the emulator's checkout form with `card`.
async fn pay_with(chromium: &Chromium, card: &str) {
    chromium.fill_named("card_number", card).await;
    chromium.fill_named("exp_month", "12").await;
    chromium.fill_named("exp_year", "2034").await;
    chromium.fill_named("cvc", "123").await;
    chromium.fill_named("name", "Ada Lovelace").await;
    chromium.press("Pay").await;
}

/// The text part of the newest outbox message of `kind` to `to`.
async fn mail_text(app: &TestApp, kind: &str, to: &str) -> Option<String> {
    app.platform
        .store()
        .outbox_messages_all(None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|message| message.kind == kind && message.recipient == to)
        .map(|message| message.text)
}

/// How many subscriptions the tenant `slug` has in the mirror.
async fn subscriptions_of(app: &TestApp, slug: &str) -> usize {
    let page = platform::records::Page {
        limit: 10,
        starting_after: None,
    };
    app.platform
        .subscriptions_page(&tenant_id(app, slug).await, None, &page)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_customer_subscribes_signs_in_by_email_upgrades_and_cancels_and_suspension_stops_sales() {
    let app = spawn_app().await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    let secret_key = app
        .platform
        .store()
        .platform_setting("secret_key")
        .await
        .unwrap()
        .expect("the generated SECRET_KEY");

    // The merchant: signs up, connects Stripe on the emulator's onboarding
    // page, creates its plans with features through the API.
    let merchant = Chromium::open(&app.address).await;
    sign_up(&merchant, "Acme Widgets", "acme").await;
    let key = create_api_key(&merchant, "backend").await;
    let (tenant_id, onboarding) = start_onboarding(&app, "acme").await;
    merchant.goto(&onboarding).await;
    merchant.screenshot("stripe-onboarding").await;
    merchant.press("Complete onboarding").await;
    assert_eq!(merchant.path().await, "/dashboard");
    run_jobs(&app).await;
    pricing_catalog(&app, &key).await;
    merchant.close().await;

    // The customer: pricing, a declined card, then 4242.
    let chromium = Chromium::open(&app.address).await;
    chromium.visit("/t/acme/pricing").await;
    assert_eq!(chromium.heading().await, "Acme Widgets pricing");
    let comparison = chromium.text(Locator::Css("table")).await;
    assert!(comparison.contains("Up to 3"), "{comparison}");
    assert_no_secret(&chromium, &secret_key).await;
    chromium.screenshot("pricing").await;
    chromium.visit("/t/acme/pricing?interval=year").await;
    assert!(chromium.html().await.contains("$100.00 per year"));
    chromium.screenshot("pricing-yearly").await;
    chromium.visit("/t/acme/pricing").await;
    chromium.choose("Basic").await;
    chromium.fill("Email", "ada@example.com").await;
    chromium.press("Continue to payment").await;
    assert!(
        chromium.path().await.starts_with("/checkout/"),
        "the emulator's checkout"
    );
    chromium.screenshot("checkout").await;

    pay_with(&chromium, "4000000000000002").await;
    assert!(
        chromium.alert().await.contains("declined"),
        "the decline is shown"
    );
    chromium.screenshot("checkout-declined").await;
    run_jobs(&app).await;
    assert_eq!(subscriptions_of(&app, "acme").await, 0, "nothing was sold");

    pay_with(&chromium, "4242424242424242").await;
    assert_eq!(chromium.path().await, "/t/acme/checkout/success");
    assert!(chromium.html().await.contains("Confirming payment…"));
    chromium.screenshot("success-confirming").await;
    run_jobs_until(&app, "the subscription in the mirror", || async {
        subscriptions_of(&app, "acme").await == 1
    })
    .await;
    // The page refreshes itself every two seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    // The page source, not an element: one may go stale mid-refresh.
    while !chromium.html().await.contains("You are subscribed") {
        assert!(std::time::Instant::now() < deadline, "the page refreshed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(chromium.text(Locator::Css("main")).await.contains("Basic"));
    assert_no_secret(&chromium, &secret_key).await;
    chromium.screenshot("success").await;

    run_jobs_until(&app, "the receipt", || async {
        mail_text(&app, "receipt", "ada@example.com")
            .await
            .is_some()
    })
    .await;

    // Signs in by the emailed link.
    chromium.visit("/t/acme/account").await;
    assert_eq!(chromium.path().await, "/t/acme/account/sign-in");
    chromium.fill("Email", "ada@example.com").await;
    chromium.press("Email me a sign-in link").await;
    assert!(
        chromium
            .text(Locator::Css("[role=status]"))
            .await
            .contains("sign-in link is on its way")
    );
    chromium.screenshot("account-sign-in").await;
    let email = mail_text(&app, "customer_sign_in_link", "ada@example.com")
        .await
        .expect("the sign-in email is in the outbox");
    let link = email
        .lines()
        .find(|line| line.contains("/account/enter?token="))
        .expect("a link in the email")
        .trim()
        .to_owned();
    chromium.goto(&link).await;
    assert_eq!(chromium.path().await, "/t/acme/account");
    assert_eq!(chromium.heading().await, "Your account");
    let entitlements = chromium.text(Locator::Id("entitlements")).await;
    assert!(entitlements.contains("Projects") && entitlements.contains("Up to 3"));
    assert_no_secret(&chromium, &secret_key).await;
    chromium.screenshot("account").await;

    // Upgrades to Pro, seeing the prorated amount first.
    chromium.select("New plan", "Pro — $30.00 per month").await;
    chromium.press("Preview change").await;
    assert_eq!(chromium.heading().await, "Confirm your change");
    let proration = chromium.text(Locator::Id("proration")).await;
    assert!(proration.contains("You pay"), "{proration}");
    chromium.screenshot("account-change-preview").await;
    chromium.press("Confirm change").await;
    assert!(
        chromium
            .text(Locator::Css("[role=status]"))
            .await
            .contains("Your plan was changed")
    );
    let entitlements = chromium.text(Locator::Id("entitlements")).await;
    assert!(
        entitlements.contains("Single sign-on") && entitlements.contains("Unlimited"),
        "Pro's features: {entitlements}"
    );
    chromium.screenshot("account-upgraded").await;

    // Cancels at period end; access stays, and it can be resumed.
    chromium.press("Cancel at period end").await;
    let main = chromium.text(Locator::Css("main")).await;
    assert!(main.contains("ends at the end of the period"), "{main}");
    assert!(main.contains("Access until"), "{main}");
    assert_no_secret(&chromium, &secret_key).await;
    chromium.screenshot("account-canceling").await;

    // The merchant's side of it: overview charts, customers, the customer.
    let merchant = Chromium::open(&app.address).await;
    log_in(
        &merchant,
        &merchant_email("acme"),
        &merchant_password("acme"),
    )
    .await;
    let overview = merchant.text(Locator::Id("overview")).await;
    assert!(overview.contains("Monthly recurring revenue"), "{overview}");
    merchant.screenshot("dashboard-overview").await;
    merchant.visit("/dashboard/customers").await;
    merchant.screenshot("customers").await;
    let customer = app.ok_json("/v1/customers", &key).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    merchant
        .visit(&format!("/dashboard/customers/{customer}"))
        .await;
    let main = merchant.text(Locator::Css("main")).await;
    assert!(main.contains("(ends at period end)"), "{main}");
    assert_no_secret(&merchant, &secret_key).await;
    merchant.screenshot("customer").await;
    merchant.close().await;

    // The admin suspends the merchant: its pricing page stops selling.
    let admin = signed_in_admin(&app, "root@platform.example").await;
    let suspended = admin
        .submit(
            "/admin",
            &format!("/admin/tenants/{tenant_id}/suspend"),
            &[],
        )
        .await;
    assert!(suspended.status().is_redirection());
    chromium.visit("/t/acme/pricing").await;
    assert!(chromium.alert().await.contains("unavailable"));
    assert!(
        !chromium.html().await.contains("Continue to payment"),
        "no subscribe form"
    );
    chromium.screenshot("pricing-suspended").await;
    chromium.close().await;

    // The admin console's pages of it.
    let console = Chromium::open(&app.address).await;
    log_in_at(
        &console,
        "/admin/login",
        "root@platform.example",
        "root@platform.example-admin-password",
    )
    .await;
    console.visit(&format!("/admin/tenants/{tenant_id}")).await;
    assert_eq!(console.heading().await, "Acme Widgets");
    console.screenshot("admin-tenant").await;
    console.visit("/admin/metrics").await;
    console.screenshot("admin-metrics").await;
    console.visit("/admin/webhooks").await;
    console.screenshot("admin-webhooks").await;
    console.close().await;
}
