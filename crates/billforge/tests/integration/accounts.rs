//! Sign-up, login, logout, throttling, and the API key life cycle on
//! the dashboard.

use reqwest::{Method, StatusCode};

use crate::harness::{
    assert_api_error, captured_logs, merchant_email, merchant_password, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn sign_up_log_in_create_list_and_revoke_an_api_key() {
    let app = spawn_app().await;
    let browser = app.signed_up_merchant("acme").await;

    // A fresh login works too (new browser, same account).
    let other = app.browser();
    let login = other
        .log_in(&merchant_email("acme"), &merchant_password("acme"))
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()["location"], "/dashboard");

    let secret = browser.create_api_key("backend").await;
    assert!(secret.starts_with("bf_test_"), "test-mode key: {secret}");

    // Shown once: the dashboard afterwards lists the prefix, never the secret.
    let dashboard = browser.page("/dashboard").await;
    let prefix = &secret[..16];
    assert!(dashboard.contains(prefix));
    assert!(!dashboard.contains(&secret));
    let listed = app.ok_json("/v1/api_keys", &secret).await;
    let key = &listed["data"][0];
    assert_eq!(key["prefix"], prefix);
    assert!(key.get("secret").is_none() && !listed.to_string().contains(&secret));

    let tenant = app
        .api(Method::GET, "/v1/tenant", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), StatusCode::OK);

    let key_id = key["id"].as_str().unwrap();
    let revoke = browser
        .submit(
            "/dashboard",
            &format!("/dashboard/api_keys/{key_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::SEE_OTHER);

    assert_api_error(
        app.call(Method::GET, "/v1/tenant", &secret).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    );
}

/// The `bf_session=…` pair a response set.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("bf_session="))
        .expect("session cookie set")
}

/// Whether a replayed `bf_session=…` pair still opens the dashboard.
async fn session_works(app: &crate::harness::TestApp, cookie: &str) -> bool {
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/dashboard", app.address))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    replay.status() == StatusCode::OK
}

#[tokio::test]
async fn logging_in_again_replaces_the_browsers_previous_session() {
    let app = spawn_app().await;
    let browser = app.browser();
    let first = session_cookie(&browser.sign_up("twice", &merchant_password("twice")).await);
    let second = browser
        .log_in(&merchant_email("twice"), &merchant_password("twice"))
        .await;
    let second = session_cookie(&second);
    assert!(
        !session_works(&app, &first).await,
        "the replaced session is gone"
    );
    assert!(session_works(&app, &second).await);
}

#[tokio::test]
async fn logging_out_invalidates_the_session_server_side() {
    let app = spawn_app().await;
    let browser = app.browser();
    let signed_up = browser
        .sign_up("logout-co", &merchant_password("logout-co"))
        .await;
    let cookie = session_cookie(&signed_up);
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "PUBLIC_URL is http in tests");
    assert!(session_works(&app, &cookie).await);

    let logout = browser.submit("/dashboard", "/logout", &[]).await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert!(
        !session_works(&app, &cookie).await,
        "replaying the old cookie fails"
    );
    let after = browser.get("/dashboard").await;
    assert_eq!(after.headers()["location"], "/login");
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let app = spawn_app_with(|settings| {
        settings.login_throttle.per_account = 3;
        settings.login_throttle.per_ip = 100;
    })
    .await;
    app.signed_up_merchant("locked").await;
    let attacker = app.browser();
    let email = merchant_email("locked");
    for _ in 0..3 {
        let attempt = attacker.log_in(&email, "wrong-password-123").await;
        assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused while the account is locked.
    let locked = attacker.log_in(&email, &merchant_password("locked")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("too many failed login attempts")
    );

    // Once the window has passed, the owner gets in again.
    app.clock.advance(chrono::TimeDelta::minutes(16)).unwrap();
    let later = attacker.log_in(&email, &merchant_password("locked")).await;
    assert_eq!(later.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_expire_after_their_lifetime() {
    let app = spawn_app().await;
    let browser = app.signed_up_merchant("sleepy").await;
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::OK);
    app.clock.advance(chrono::TimeDelta::hours(11)).unwrap();
    assert_eq!(browser.get("/dashboard").await.status(), StatusCode::OK);
    app.clock.advance(chrono::TimeDelta::hours(2)).unwrap();
    let expired = browser.get("/dashboard").await;
    assert_eq!(expired.status(), StatusCode::SEE_OTHER);
    assert_eq!(expired.headers()["location"], "/login");
}

#[tokio::test]
async fn wrong_passwords_from_one_address_are_throttled_across_accounts() {
    let app = spawn_app_with(|settings| {
        settings.login_throttle.per_account = 100;
        settings.login_throttle.per_ip = 4;
    })
    .await;
    app.signed_up_merchant("sprayed").await;
    let attacker = app.browser();
    for n in 0..4 {
        let attempt = attacker
            .log_in(&format!("guess{n}@example.com"), "wrong-password-123")
            .await;
        assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = attacker
        .log_in(&merchant_email("sprayed"), &merchant_password("sprayed"))
        .await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sign_up_problems_are_shown_on_the_form() {
    let app = spawn_app().await;
    app.signed_up_merchant("taken").await;
    let again = app.browser().sign_up("taken", "another-password-123").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let html = again.text().await.unwrap();
    assert!(html.contains("already exists") && html.contains("value=\"owner@taken.example.com\""));

    let weak = app.browser().sign_up("weakling", "short").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert!(
        weak.text()
            .await
            .unwrap()
            .contains("at least 10 characters")
    );
    assert_eq!(app.platform.store().tenants().await.unwrap().len(), 1);
}

#[tokio::test]
async fn secrets_and_passwords_never_reach_the_logs() {
    let secret_key = format!("test-secret-{}", ulid::Ulid::new());
    let app = spawn_app_with(|settings| {
        settings.secret_key = Some(platform::Secret::new(secret_key.clone()))
    })
    .await;
    let browser = app.signed_up_merchant("quiet").await;
    let api_key = browser.create_api_key("logged?").await;
    app.browser()
        .log_in(&merchant_email("quiet"), "a-wrong-password-xyz")
        .await;
    app.api(Method::GET, "/v1/tenant", &api_key)
        .send()
        .await
        .unwrap();

    let logs = captured_logs();
    assert!(logs.contains("request finished"), "logs were captured");
    for secret in [
        secret_key.as_str(),
        &merchant_password("quiet"),
        "a-wrong-password-xyz",
        &api_key,
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app =
        spawn_app_with(|settings| settings.public_url = "https://billing.example.com".into()).await;
    let page = app.browser().get("/signup").await;
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("bf_csrf=") && cookie.contains("Secure") && cookie.contains("HttpOnly")
    );
}

#[tokio::test]
async fn merchants_edit_their_name_and_branding() {
    let app = spawn_app().await;
    let browser = app.signed_up_merchant("brandy").await;
    let key = browser.create_api_key("main").await;

    let bad = browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings",
            &[("name", "Brandy & Co"), ("brand_color", "blue")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("use a colour like #3451b2") && html.contains("value=\"Brandy &#38; Co\"")
    );
    assert_eq!(
        app.ok_json("/v1/tenant", &key).await["name"],
        "brandy",
        "nothing written"
    );

    let saved = browser
        .submit(
            "/dashboard/settings",
            "/dashboard/settings",
            &[
                ("name", "Brandy & Co"),
                ("brand_color", "#AA3300"),
                ("logo_url", "https://brandy.example.com/logo.png"),
                ("support_email", "help@brandy.example.com"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(saved.text().await.unwrap().contains("Saved."));
    let tenant = app.ok_json("/v1/tenant", &key).await;
    assert_eq!(
        (
            &tenant["name"],
            &tenant["brand_color"],
            &tenant["logo_url"],
            &tenant["support_email"]
        ),
        (
            &serde_json::json!("Brandy & Co"),
            &serde_json::json!("#aa3300"),
            &serde_json::json!("https://brandy.example.com/logo.png"),
            &serde_json::json!("help@brandy.example.com")
        )
    );
    assert!(
        browser
            .page("/dashboard/audit")
            .await
            .contains("tenant.updated")
    );
}

#[tokio::test]
async fn oversized_forms_are_refused_with_a_page_and_write_nothing() {
    let app = spawn_app().await;
    let browser = app.browser();
    let huge = "x".repeat(64 * 1024);
    let response = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("business_name", &huge),
                ("slug", "huge"),
                ("email", "huge@example.com"),
                ("password", "huge-password-123"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("the form could not be read")
    );
    assert!(app.platform.store().tenants().await.unwrap().is_empty());
}

#[tokio::test]
async fn maintenance_forgets_login_failures_once_their_window_has_passed() {
    let app = spawn_app().await;
    app.browser()
        .log_in("nobody@example.com", "wrong-password-123")
        .await;
    let subject = "account:nobody@example.com";
    let since_ever = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let store = app.platform.store();
    assert_eq!(
        store
            .login_failures_since(subject, since_ever)
            .await
            .unwrap(),
        1
    );

    app.platform.run_maintenance().await.unwrap();
    assert_eq!(
        store
            .login_failures_since(subject, since_ever)
            .await
            .unwrap(),
        1,
        "still counting"
    );
    app.clock.advance(chrono::TimeDelta::minutes(16)).unwrap();
    app.platform.run_maintenance().await.unwrap();
    assert_eq!(
        store
            .login_failures_since(subject, since_ever)
            .await
            .unwrap(),
        0
    );
}
