//! A merchant's first visit, in a real browser: sign up, log out and in,
//! create an API key (shown once), use it, revoke it; connect Stripe with the
//! dashboard's button and build a plan with features in the editor.

use fantoccini::Locator;
use reqwest::{Method, StatusCode};

use crate::chromium::Chromium;
use crate::harness::{
    TestApp, assert_api_error, merchant_email, merchant_password, run_jobs, spawn_app,
};

/// Signs up `slug` through the sign-up form; leaves Chromium on the page the
/// form led to.
pub(crate) async fn sign_up(chromium: &Chromium, business_name: &str, slug: &str) {
    chromium.visit("/signup").await;
    chromium.fill("Business name", business_name).await;
    chromium.fill("URL name", slug).await;
    chromium.fill("Email", &merchant_email(slug)).await;
    chromium.fill("Password", &merchant_password(slug)).await;
    chromium.screenshot("signup").await;
    chromium.press("Sign up").await;
}

/// Logs in through the merchant login form.
pub(crate) async fn log_in(chromium: &Chromium, email: &str, password: &str) {
    log_in_at(chromium, "/login", email, password).await;
}

/// Logs in through the login form at `page` (merchant or admin).
pub(crate) async fn log_in_at(chromium: &Chromium, page: &str, email: &str, password: &str) {
    chromium.visit(page).await;
    chromium.fill("Email", email).await;
    chromium.fill("Password", password).await;
    chromium.press("Log in").await;
}

/// Creates an API key on the dashboard; returns the secret the page shows.
pub(crate) async fn create_api_key(chromium: &Chromium, name: &str) -> String {
    chromium.fill("New key name", name).await;
    chromium.press("Create API key").await;
    chromium.text(Locator::Id("new-key")).await
}

/// A fresh app and a Chromium on it that signed up as `slug` through the
/// form and landed on the dashboard.
async fn signed_up_in_chromium(business_name: &str, slug: &str) -> (TestApp, Chromium) {
    let app = spawn_app().await;
    let chromium = Chromium::open(&app.address).await;
    sign_up(&chromium, business_name, slug).await;
    assert_eq!(chromium.path().await, "/dashboard", "sign-up of {slug}");
    (app, chromium)
}

#[tokio::test]
async fn a_merchant_signs_up_logs_in_again_and_creates_uses_and_revokes_an_api_key() {
    let (app, chromium) = signed_up_in_chromium("Acme Widgets", "acme").await;
    assert_eq!(chromium.heading().await, "Acme Widgets");
    chromium.screenshot("dashboard").await;

    chromium.press("Log out").await;
    chromium.visit("/dashboard").await;
    assert_eq!(chromium.path().await, "/login", "logged out");

    log_in(
        &chromium,
        &merchant_email("acme"),
        &merchant_password("acme"),
    )
    .await;
    assert_eq!(chromium.path().await, "/dashboard");

    let secret = create_api_key(&chromium, "backend").await;
    assert!(secret.starts_with("bf_test_"), "a test-mode key: {secret}");
    assert!(
        chromium
            .text(Locator::Css("[role=status]"))
            .await
            .contains("will not be shown again"),
        "the page says the key is shown once"
    );
    chromium.screenshot("api-key-created").await;

    let tenant = app.ok_json("/v1/tenant", &secret).await;
    assert_eq!(
        (&tenant["slug"], &tenant["name"]),
        (
            &serde_json::json!("acme"),
            &serde_json::json!("Acme Widgets")
        )
    );

    chromium.press("Revoke key backend").await;
    assert_eq!(chromium.path().await, "/dashboard");
    let key_row = chromium
        .text(Locator::XPath("//tr[td[normalize-space(.)='backend']]"))
        .await;
    assert!(key_row.contains("revoked"), "the list shows it: {key_row}");
    assert_api_error(
        app.call(Method::GET, "/v1/tenant", &secret).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    );
    chromium.close().await;
}

#[tokio::test]
async fn a_wrong_password_shows_an_inline_error_on_the_login_page() {
    let app = spawn_app().await;
    app.signed_up_merchant("oops").await;
    let chromium = Chromium::open(&app.address).await;

    log_in(&chromium, &merchant_email("oops"), "not-the-password-42").await;
    assert_eq!(chromium.path().await, "/login");
    assert_eq!(chromium.alert().await, "the email or password is incorrect");
    assert_eq!(
        chromium.field_value("Email").await,
        merchant_email("oops"),
        "the email is kept for the next try"
    );
    assert_eq!(
        chromium.field_value("Password").await,
        "",
        "the password is not sent back"
    );
    chromium.screenshot("login-error").await;

    // The right password still works afterwards.
    log_in(
        &chromium,
        &merchant_email("oops"),
        &merchant_password("oops"),
    )
    .await;
    assert_eq!(chromium.path().await, "/dashboard");
    chromium.close().await;
}

#[tokio::test]
async fn once_shown_an_api_key_is_nowhere_in_the_pages_or_cookies() {
    let (_app, chromium) = signed_up_in_chromium("Keeper Ltd", "keeper").await;
    let secret = create_api_key(&chromium, "ci").await;
    assert!(chromium.html().await.contains(&secret), "shown once");

    let prefix = &secret[..16];
    for page in [
        "/dashboard",
        "/dashboard/settings",
        "/dashboard/audit",
        "/dashboard/plans",
        "/dashboard/dunning",
    ] {
        chromium.visit(page).await;
        let html = chromium.html().await;
        assert!(!html.contains(&secret), "{page} carries the secret");
        if page == "/dashboard" {
            assert!(html.contains(prefix), "the key is listed by its prefix");
        }
    }
    assert!(
        chromium
            .cookie_values()
            .await
            .iter()
            .all(|value| !value.contains(&secret)),
        "no cookie carries the secret"
    );
    chromium.close().await;
}

#[tokio::test]
async fn a_merchant_connects_stripe_from_the_checklist_and_builds_a_plan_in_the_editor() {
    let (app, chromium) = signed_up_in_chromium("Plan Makers", "planmakers").await;
    assert_eq!(
        chromium.text(Locator::Id("stripe-status")).await,
        "not connected"
    );
    chromium.press("Connect with Stripe").await;
    assert!(
        chromium.path().await.starts_with("/connect/onboarding/"),
        "the emulator's onboarding page"
    );
    chromium.press("Complete onboarding").await;
    assert_eq!(chromium.path().await, "/dashboard");
    assert_eq!(
        chromium.text(Locator::Id("stripe-status")).await,
        "connected, charges enabled"
    );
    chromium.screenshot("dashboard-checklist").await;

    chromium.visit("/dashboard/plans").await;
    chromium.fill("Feature name", "Projects").await;
    chromium.fill("Lookup key", "projects").await;
    chromium.select("Kind", "Limit (like seats)").await;
    chromium.press("Create feature").await;
    chromium.fill("Plan name", "Pro").await;
    chromium.fill("Trial days", "14").await;
    chromium.select("Pricing", "Per seat").await;
    chromium.fill("Amount", "29.00").await;
    chromium.press("Create plan").await;
    assert_eq!(chromium.heading().await, "Pro");

    chromium.select("Feature", "Projects (limit)").await;
    chromium.fill("Limit", "10").await;
    chromium.press("Grant feature").await;
    chromium.select("Billing interval", "Yearly").await;
    chromium.fill("Amount", "290.0O").await;
    chromium.press("Add price").await;
    assert!(
        chromium.alert().await.contains("is not an amount"),
        "the typo is shown beside the field"
    );
    chromium.screenshot("plan-editor-error").await;
    chromium.fill("Amount", "290.00").await;
    chromium.press("Add price").await;

    run_jobs(&app).await;
    chromium.visit(&chromium.path().await).await;
    let page = chromium.text(Locator::Css("main")).await;
    for shown in [
        "$29.00 per seat every month",
        "$290.00 every year",
        "up to 10",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert_eq!(chromium.text(Locator::Id("sync-status")).await, "synced");
    chromium.screenshot("plan-editor").await;

    chromium.visit("/dashboard/dunning").await;
    chromium.fill("Retry on days", "2, 4, 6").await;
    chromium.press("Preview timeline").await;
    assert!(
        chromium
            .text(Locator::Id("timeline"))
            .await
            .contains("Day 2")
    );
    chromium.screenshot("dunning-editor").await;
    chromium.close().await;
}

#[tokio::test]
async fn a_merchant_previews_their_branding_on_a_sample_email_before_saving() {
    let (_app, chromium) = signed_up_in_chromium("Brand Works", "brandworks").await;
    chromium.visit("/dashboard/settings").await;
    chromium.fill("Business name", "Brand Works Ltd").await;
    chromium.fill("Brand colour", "#aa3300").await;
    chromium.press("Preview").await;
    assert!(
        chromium
            .text(Locator::Id("preview-heading"))
            .await
            .contains("preview, not saved")
    );
    assert_eq!(
        chromium.field_value("Business name").await,
        "Brand Works Ltd"
    );
    chromium.screenshot("branding-preview").await;

    chromium.fill("Brand colour", "orange").await;
    chromium.press("Save").await;
    assert!(
        chromium.alert().await.contains("use a colour like"),
        "the refusal is shown beside the field"
    );
    chromium.screenshot("branding-error").await;
    chromium.close().await;
}
