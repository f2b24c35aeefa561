//! The merchant dashboard's editors at the HTTP boundary (issue #8): the
//! onboarding checklist and Stripe Connect button, the plans, prices and
//! features editor, the dunning policy editor, the branding settings with
//! their sample email, mail settings, API keys and webhook endpoints. Each
//! page renders for its merchant, hides other tenants' objects (every form's
//! CSRF check: `isolation`), shows a refused value again with 422 and the
//! message beside the field, and changes state that the JSON API (or SQL)
//! then shows.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

use crate::catalog::emulator_get;
use crate::harness::{Browser, TestApp, post_without_redirects, run_jobs, spawn_app, tenant_id};

/// A form's fields as submitted.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// Submits `fields` to `path` with a CSRF token from `token_page`; answers
/// the status and the page.
async fn send(
    browser: &Browser,
    token_page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = browser.submit(token_page, path, fields).await;
    (response.status(), response.text().await.unwrap())
}

/// The `location` a redirect points to.
fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The inline message beside the input `id`.
fn field_error(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}-error\" role=\"alert\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no error beside #{id}"))
        + marker.len();
    page[start..].split('<').next().unwrap().to_owned()
}

/// A signed-up merchant's browser and an API key made on its dashboard.
async fn merchant_with_key(app: &TestApp, slug: &str) -> (Browser, String) {
    let browser = app.signed_up_merchant(slug).await;
    let key = browser.create_api_key("editor-check").await;
    (browser, key)
}

/// Creates a plan through the editor; returns its id.
async fn create_plan(browser: &Browser, fields: &[(&str, &str)]) -> String {
    let response = browser
        .submit("/dashboard/plans", "/dashboard/plans", fields)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
        .strip_prefix("/dashboard/plans/")
        .expect("redirects to the new plan")
        .to_owned()
}

#[tokio::test]
async fn the_checklist_follows_real_state_and_the_connect_button_onboards_on_stripe() {
    let app = spawn_app().await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    let browser = app.signed_up_merchant("checky").await;

    let fresh = browser.page("/dashboard").await;
    assert!(fresh.contains("(0 of 5 done)"), "{fresh}");
    assert!(fresh.contains("<span id=\"stripe-status\">not connected</span>"));
    assert!(fresh.contains("Connect with Stripe"));

    let started = browser
        .submit("/dashboard", "/dashboard/connect", &[])
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let onboarding = location(&started);
    assert!(
        onboarding.contains("/connect/onboarding/"),
        "sent to Stripe's onboarding page: {onboarding}"
    );
    let midway = browser.page("/dashboard").await;
    assert!(midway.contains("onboarding not finished"));
    assert!(midway.contains("Continue Stripe onboarding"));

    // Completing onboarding on the emulator's page sends the merchant back.
    let completed = post_without_redirects(&onboarding).await;
    let back = location(&completed);
    assert_eq!(back, format!("{}/dashboard/connect/return", app.address));
    let returned = browser.get("/dashboard/connect/return").await;
    assert_eq!(returned.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&returned), "/dashboard");

    let key = browser.create_api_key("backend").await;
    let (status, _) = send(
        &browser,
        "/dashboard/settings",
        "/dashboard/settings",
        &[("name", "checky"), ("brand_color", "#112233")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let plan = create_plan(
        &browser,
        &[
            ("name", "Starter"),
            ("currency", "usd"),
            ("interval", "month"),
            ("pricing", "flat"),
            ("amount", "9.00"),
        ],
    )
    .await;

    let ready = browser.page("/dashboard").await;
    assert!(
        ready.contains("<span id=\"stripe-status\">connected, charges enabled</span>"),
        "{ready}"
    );
    assert!(!ready.contains("Connect with Stripe"));
    // Test mode: everything but going live.
    assert!(ready.contains("(4 of 5 done)"), "{ready}");
    assert!(ready.contains("this platform runs on Stripe test mode"));

    // Archiving and restoring a price in the editor reaches Stripe.
    let account = app
        .platform
        .connected_account(&tenant_id(&app, "checky").await)
        .await
        .unwrap();
    let page = format!("/dashboard/plans/{plan}");
    let price = &app.ok_json(&format!("/v1/plans/{plan}"), &key).await["prices"][0];
    let price_page = format!("{page}/prices/{}", price["id"].as_str().unwrap());
    for (action, active) in [("archive", false), ("unarchive", true), ("archive", false)] {
        let (status, _) = send(&browser, &page, &format!("{price_page}/{action}"), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        run_jobs(&app).await;
        let stored = &app.ok_json(&format!("/v1/plans/{plan}"), &key).await["prices"][0];
        assert_eq!(stored["archived"], !active, "{action}");
        let stripe_price = format!("/v1/prices/{}", stored["stripe_price_id"].as_str().unwrap());
        let on_stripe = emulator_get(&app, &stripe_price, Some(&account)).await;
        assert_eq!(on_stripe["active"], active, "{action} on Stripe");
    }
}

#[tokio::test]
async fn a_merchant_builds_a_plan_with_prices_and_features_in_the_editor() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "planner").await;
    assert!(
        browser
            .page("/dashboard/plans")
            .await
            .contains("No plans yet")
    );

    let (status, _) = send(
        &browser,
        "/dashboard/plans",
        "/dashboard/features",
        &[
            ("name", "Projects"),
            ("lookup_key", "projects"),
            ("kind", "limit"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let features = app.ok_json("/v1/features", &key).await;
    let projects = features["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(features["data"][0]["kind"]["reset"], "never");

    let plan = create_plan(
        &browser,
        &[
            ("name", "Team"),
            ("trial_days", "14"),
            ("currency", "eur"),
            ("interval", "month"),
            ("pricing", "per_seat"),
            ("amount", "12.50"),
        ],
    )
    .await;
    let page = format!("/dashboard/plans/{plan}");
    let yearly = [
        ("currency", "eur"),
        ("interval", "year"),
        ("pricing", "tiered"),
        ("tiers", "10 100.00\ninf 80.00 5.00"),
    ];
    let (status, _) = send(&browser, &page, &format!("{page}/prices"), &yearly).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = send(
        &browser,
        &page,
        &format!("{page}/grants"),
        &[("feature", &projects), ("limit", "10")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let stored = app.ok_json(&format!("/v1/plans/{plan}"), &key).await;
    assert_eq!(
        (&stored["name"], &stored["trial_days"]),
        (&Value::from("Team"), &Value::from(14))
    );
    let prices = stored["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[0]["currency"], "eur");
    assert_eq!(
        prices[0]["model"],
        serde_json::json!({"kind": "per_seat", "unit_amount_minor": 1250})
    );
    assert_eq!(prices[1]["interval_unit"], "year");
    assert_eq!(
        prices[1]["model"]["tiers"],
        serde_json::json!([
            {"up_to": 10, "unit_amount_minor": 10000, "flat_amount_minor": 0},
            {"up_to": null, "unit_amount_minor": 8000, "flat_amount_minor": 500}
        ])
    );
    assert_eq!(prices[1]["model"]["mode"], "volume");
    assert_eq!(
        grant_of(&app, &plan, &projects).await,
        r#"{"kind":"limit","value":10}"#
    );

    let shown = browser.page(&page).await;
    assert!(shown.contains("€12.50 per seat every month"), "{shown}");
    assert!(shown.contains("up to 10"));

    let (status, refused) =
        send(&browser, &page, &page, &[("name", ""), ("trial_days", "7")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&refused, "details-name").contains("a plan needs a name"));
    let (status, _) = send(
        &browser,
        &page,
        &page,
        &[("name", "Team Plus"), ("trial_days", "")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let renamed = app.ok_json(&format!("/v1/plans/{plan}"), &key).await;
    assert_eq!(
        (&renamed["name"], &renamed["trial_days"]),
        (&Value::from("Team Plus"), &Value::Null)
    );

    let (status, _) = send(&browser, &page, &format!("{page}/archive"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.ok_json(&format!("/v1/plans/{plan}"), &key).await["archived"],
        true
    );
    let (status, _) = send(&browser, &page, &format!("{page}/unarchive"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.ok_json(&format!("/v1/plans/{plan}"), &key).await["archived"],
        false
    );

    let feature_archive = format!("/dashboard/features/{projects}/archive");
    let (status, _) = send(&browser, "/dashboard/plans", &feature_archive, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let feature = app.ok_json(&format!("/v1/features/{projects}"), &key).await;
    assert_eq!(feature["archived"], true);
}

/// The stored grant of `feature` by `plan` (no API lists grants alone).
async fn grant_of(app: &TestApp, plan: &str, feature: &str) -> String {
    let db = Database::connect(&app.database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT value FROM plan_features WHERE plan_id = '{plan}' AND feature_id = '{feature}'"
            ),
        ))
        .await
        .unwrap()
        .expect("the grant is stored");
    db.close().await.unwrap();
    row.try_get("", "value").unwrap()
}

#[tokio::test]
async fn refused_catalog_forms_come_back_with_422_and_the_message_beside_the_field() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "typos").await;
    let price = |amount| {
        vec![
            ("currency", "usd"),
            ("interval", "month"),
            ("pricing", "flat"),
            ("amount", amount),
        ]
    };
    let cases: Vec<(Fields, &str, &str)> = vec![
        (
            [vec![("name", " ")], price("9.00")].concat(),
            "plan-name",
            "a plan needs a name",
        ),
        (
            [vec![("name", "Pro"), ("trial_days", "0")], price("9.00")].concat(),
            "plan-trial_days",
            "a trial lasts 1 to",
        ),
        (
            [vec![("name", "Pro")], price("9.999")].concat(),
            "plan-amount",
            "9.999",
        ),
        (
            [vec![("name", "Pro")], price("-1.00")].concat(),
            "plan-amount",
            "must not be negative",
        ),
        (
            vec![
                ("name", "Pro"),
                ("currency", "zzz"),
                ("interval", "month"),
                ("pricing", "flat"),
                ("amount", "1"),
            ],
            "plan-currency",
            "zzz",
        ),
        (
            vec![
                ("name", "Pro"),
                ("currency", "usd"),
                ("interval", "month"),
                ("pricing", "tiered"),
                ("tiers", "10 5.00"),
            ],
            "plan-tiers",
            "the last tier must be unbounded",
        ),
    ];
    for (fields, input, message) in cases {
        let (status, page) = send(&browser, "/dashboard/plans", "/dashboard/plans", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            field_error(&page, input).contains(message),
            "{input}: {page}"
        );
        let typed = fields.iter().find(|(name, _)| *name == "name").unwrap().1;
        assert!(
            page.contains(&format!("value=\"{}\"", typed.trim_end())) || typed.trim().is_empty()
        );
    }
    assert_eq!(
        app.ok_json("/v1/plans", &key).await["data"],
        serde_json::json!([])
    );

    let (status, page) = send(
        &browser,
        "/dashboard/plans",
        "/dashboard/features",
        &[
            ("name", "Seats"),
            ("lookup_key", "Not A Key"),
            ("kind", "limit"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field_error(&page, "feature-lookup_key").is_empty());
    assert!(
        page.contains("value=\"Not A Key\""),
        "the typed value is kept"
    );
    assert_eq!(
        app.ok_json("/v1/features", &key).await["data"],
        serde_json::json!([])
    );

    let (status, _) = send(
        &browser,
        "/dashboard/plans",
        "/dashboard/features",
        &[
            ("name", "Single sign-on"),
            ("lookup_key", "sso"),
            ("kind", "flag"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let sso = app.ok_json("/v1/features", &key).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plan = create_plan(&browser, &[vec![("name", "Pro")], price("9.00")].concat()).await;
    let page = format!("/dashboard/plans/{plan}");
    let (status, shown) = send(
        &browser,
        &page,
        &format!("{page}/grants"),
        &[("feature", &sso), ("limit", "10")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field_error(&shown, "grant-limit").is_empty(), "{shown}");
    let (status, shown) = send(&browser, &page, &format!("{page}/prices"), &price("")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&shown, "price-amount").contains("enter an amount"));
    let stored = app.ok_json(&format!("/v1/plans/{plan}"), &key).await;
    assert_eq!(
        stored["prices"].as_array().unwrap().len(),
        1,
        "nothing half-written"
    );
}

#[tokio::test]
async fn the_editors_hide_other_tenants_plans_and_send_anonymous_visitors_to_log_in() {
    let app = spawn_app().await;
    let owner = app.signed_up_merchant("owner").await;
    let plan = create_plan(
        &owner,
        &[
            ("name", "Secret plan"),
            ("currency", "usd"),
            ("interval", "month"),
            ("pricing", "flat"),
            ("amount", "5"),
        ],
    )
    .await;
    let page = format!("/dashboard/plans/{plan}");
    assert!(owner.page(&page).await.contains("Secret plan"));

    let other = app.signed_up_merchant("other").await;
    assert_eq!(other.get(&page).await.status(), StatusCode::NOT_FOUND);
    assert!(!other.page("/dashboard/plans").await.contains("Secret plan"));
    let (status, _) = send(&other, "/dashboard/plans", &format!("{page}/archive"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let price = [
        ("currency", "usd"),
        ("interval", "month"),
        ("pricing", "flat"),
        ("amount", "1"),
    ];
    let (status, _) = send(
        &other,
        "/dashboard/plans",
        &format!("{page}/prices"),
        &price,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&other, "/dashboard/plans", &page, &[("name", "Mine now")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor can it be the final action of another tenant's dunning policy.
    let (status, shown) = send(
        &other,
        "/dashboard/dunning",
        "/dashboard/dunning",
        &[
            ("retry_days", "3"),
            ("grace_days", "7"),
            ("grace_mode", "full"),
            ("final_action", &plan),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_error(&shown, "final_action").contains("not one of yours"));

    let anonymous = app.browser();
    for path in ["/dashboard/plans", page.as_str(), "/dashboard/dunning"] {
        let response = anonymous.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login");
    }
    assert!(owner.page(&page).await.contains("Offered to new customers"));
}

#[tokio::test]
async fn the_dunning_editor_previews_without_saving_then_saves() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "chaser").await;
    let page = browser.page("/dashboard/dunning").await;
    assert!(page.contains("value=\"3, 5, 7\""), "the default policy");
    assert!(
        page.contains("<strong>Day 14</strong>"),
        "its timeline: {page}"
    );

    let policy = [
        ("retry_days", "2, 4"),
        ("grace_days", "10"),
        ("grace_mode", "degrade"),
        ("remind_first_failure", "on"),
        ("remind_after_retries", "2"),
        ("final_action", "mark_unpaid_and_revoke"),
    ];
    let preview = [&policy[..], &[("action", "preview")]].concat();
    let (status, shown) = send(
        &browser,
        "/dashboard/dunning",
        "/dashboard/dunning",
        &preview,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains("(preview, not saved)"));
    assert!(shown.contains("<strong>Day 10</strong>"));
    assert!(shown.contains("Reminder email if retry 2 failed"));
    assert!(shown.contains("invoice is marked unpaid"));
    let stored = app.ok_json("/v1/dunning_policy", &key).await;
    assert_eq!(
        stored["retry_days"],
        serde_json::json!([3, 5, 7]),
        "not saved"
    );

    let save = [&policy[..], &[("action", "save")]].concat();
    let (status, shown) = send(&browser, "/dashboard/dunning", "/dashboard/dunning", &save).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains("Saved."));
    let stored = app.ok_json("/v1/dunning_policy", &key).await;
    assert_eq!(stored["retry_days"], serde_json::json!([2, 4]));
    assert_eq!(stored["grace_days"], 10);
    assert_eq!(
        stored["grace_entitlements"],
        serde_json::json!({"kind": "degrade", "reduced": []})
    );
    assert_eq!(
        stored["final_action"],
        serde_json::json!({"kind": "mark_unpaid_and_revoke"})
    );
    assert_eq!(stored["stripe_retries"], false);
    assert_eq!(
        stored["reminders"],
        serde_json::json!([{"after": "first_failure"}, {"after": "retry", "number": 2}])
    );
}

#[tokio::test]
async fn a_refused_dunning_policy_comes_back_with_422_beside_the_field() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "strict").await;
    let cases = [
        (
            "9, 20",
            "10",
            "",
            "retry_days",
            "must come before the grace period ends",
        ),
        ("5, 3", "10", "", "retry_days", "strictly ascending"),
        (
            "3",
            "61",
            "",
            "grace_days",
            "the grace period lasts 1 to 60 days",
        ),
        ("3", "ten", "", "grace_days", "whole number"),
        ("3", "10", "2", "reminders", "the policy has 1 retries"),
    ];
    for (retry_days, grace_days, reminders, input, message) in cases {
        let fields = [
            ("retry_days", retry_days),
            ("grace_days", grace_days),
            ("grace_mode", "full"),
            ("remind_after_retries", reminders),
            ("final_action", "cancel"),
            ("action", "save"),
        ];
        let (status, page) = send(
            &browser,
            "/dashboard/dunning",
            "/dashboard/dunning",
            &fields,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            field_error(&page, input).contains(message),
            "{input}: {page}"
        );
        assert!(
            page.contains(&format!("value=\"{retry_days}\"")),
            "typed values kept"
        );
    }
    let (status, stored) = app.call(Method::GET, "/v1/dunning_policy", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored["retry_days"],
        serde_json::json!([3, 5, 7]),
        "unchanged"
    );
}

/// A refused form: 422, `message` beside the input `id` (marked invalid
/// and described by it), and `typed` shown again in it.
fn assert_refused(status: StatusCode, page: &str, id: &str, message: &str, typed: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "#{id}: {page}");
    assert!(
        field_error(page, id).contains(message),
        "#{id} says {message:?}: {page}"
    );
    assert!(
        page.contains(&format!(
            "aria-invalid=\"true\" aria-describedby=\"{id}-error\""
        )),
        "#{id} is marked invalid"
    );
    assert!(page.contains(typed), "#{id} keeps {typed:?}");
}

#[tokio::test]
async fn refused_branding_comes_back_with_422_beside_the_field_and_saves_nothing() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "brander").await;
    let long_name = "n".repeat(101);
    let cases = [
        (
            "name",
            long_name.as_str(),
            "enter a business name of 1 to 100",
        ),
        ("brand_color", "blue", "use a colour like #3451b2"),
        ("brand_color", "#12345", "use a colour like #3451b2"),
        (
            "logo_url",
            "http://cdn.brander.example/logo.png",
            "use an https:// address of an image",
        ),
        (
            "logo_url",
            "javascript:alert(1)",
            "use an https:// address of an image",
        ),
        (
            "support_email",
            "not-an-email",
            "enter a valid support email",
        ),
    ];
    for action in ["save", "preview"] {
        for (field, typed, message) in cases {
            let mut fields = vec![("name", "Brander"), ("action", action)];
            fields.retain(|(name, _)| *name != field);
            fields.push((field, typed));
            let (status, page) = send(
                &browser,
                "/dashboard/settings",
                "/dashboard/settings",
                &fields,
            )
            .await;
            assert_refused(status, &page, field, message, &format!("value=\"{typed}\""));
            assert!(!page.contains("Saved."), "{action} {field}");
        }
    }
    let tenant = app.ok_json("/v1/tenant", &key).await;
    assert_eq!(
        (&tenant["name"], &tenant["brand_color"], &tenant["logo_url"]),
        (&Value::from("brander"), &Value::Null, &Value::Null),
        "nothing written"
    );
}

#[tokio::test]
async fn refused_mail_settings_api_keys_and_webhook_endpoints_come_back_with_422() {
    let app = spawn_app().await;
    let browser = app.signed_up_merchant("refusals").await;
    let tenant = tenant_id(&app, "refusals").await;
    let mail = "/dashboard/settings/mail";
    let seven_lines = "1\n2\n3\n4\n5\n6\n7";
    let cases: Vec<(Fields, &str, &str, &str)> = vec![
        (
            vec![("bogus", "on"), ("footer_address", "1 Main St")],
            "kinds",
            "`bogus` is not a mail kind",
            ">1 Main St</textarea>",
        ),
        (
            vec![
                ("merchant_dispute_opened", "on"),
                ("account_url", "https://me.example"),
            ],
            "kinds",
            "is sent to you and is always on",
            "value=\"https://me.example\"",
        ),
        (
            vec![("receipt", "on"), ("footer_address", seven_lines)],
            "footer_address",
            "at most 6 lines",
            ">1\n2\n3\n4\n5\n6\n7</textarea>",
        ),
        (
            vec![("account_url", "javascript:alert(1)")],
            "account_url",
            "is not a link an email may contain",
            "value=\"javascript:alert(1)\"",
        ),
    ];
    for (fields, id, message, typed) in cases {
        let (status, page) = send(&browser, mail, mail, &fields).await;
        assert_refused(status, &page, id, message, typed);
        if fields.contains(&("receipt", "on")) {
            assert!(page.contains("name=\"receipt\" value=\"on\" checked"));
            assert!(
                page.contains("name=\"payment_failed\" value=\"on\">"),
                "the typed choice is kept: {page}"
            );
        }
    }
    let settings = app.platform.mail_settings(&tenant).await.unwrap();
    assert!(settings.kinds.iter().all(|setting| setting.enabled));
    assert_eq!(
        (
            settings.footer_address.as_str(),
            settings.account_url.as_str()
        ),
        ("", ""),
        "nothing written"
    );

    let long_key_name = "k".repeat(101);
    for (typed, message) in [
        ("   ", "give the key a name of 1 to 100 characters"),
        (
            long_key_name.as_str(),
            "give the key a name of 1 to 100 characters",
        ),
    ] {
        let (status, page) = send(
            &browser,
            "/dashboard",
            "/dashboard/api_keys",
            &[("name", typed)],
        )
        .await;
        assert_refused(
            status,
            &page,
            "key_name",
            message,
            &format!("value=\"{typed}\""),
        );
        assert!(!page.contains("id=\"new-key\""));
    }
    assert!(app.platform.api_keys(&tenant).await.unwrap().is_empty());

    let hooks = "/dashboard/webhooks";
    let long_description = "d".repeat(201);
    let endpoint = |url, description, event_types| {
        vec![
            ("url", url),
            ("description", description),
            ("event_types", event_types),
        ]
    };
    let cases: Vec<(Fields, &str, &str, String)> = vec![
        (
            endpoint("ftp://hooks.example/in", "main", ""),
            "webhook_url",
            "give an absolute http:// or https:// URL",
            "value=\"ftp://hooks.example/in\"".to_owned(),
        ),
        (
            endpoint("https://hooks.example/in", &long_description, ""),
            "webhook_description",
            "keep the description under 200 characters",
            format!("value=\"{long_description}\""),
        ),
        (
            endpoint(
                "https://hooks.example/in",
                "main",
                "invoice.paid, invoice.nope",
            ),
            "webhook_types",
            "unknown event type `invoice.nope`",
            "value=\"invoice.paid, invoice.nope\"".to_owned(),
        ),
    ];
    for (fields, id, message, typed) in cases {
        let (status, page) = send(&browser, hooks, hooks, &fields).await;
        assert_refused(status, &page, id, message, &typed);
        assert!(!page.contains("new-webhook-secret"));
        assert!(
            page.contains("value=\"https://hooks.example/in\"")
                || page.contains("value=\"ftp://hooks.example/in\""),
            "the other values are kept too"
        );
    }
    assert!(
        app.platform
            .outbound_endpoints(&tenant)
            .await
            .unwrap()
            .is_empty(),
        "nothing written"
    );
}

/// The sample email the settings page's frame shows, fetched as the
/// browser would: `page`'s iframe address, attribute-unescaped.
async fn framed_preview(browser: &Browser, page: &str) -> reqwest::Response {
    let marker = "id=\"branding-preview\" title=\"Sample receipt in your branding\" sandbox src=\"";
    let start = page.find(marker).expect("the preview frame") + marker.len();
    let src = page[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(src.starts_with("/dashboard/settings/preview?"), "{src}");
    browser.get(&src).await
}

#[tokio::test]
async fn the_settings_page_previews_typed_branding_on_a_sample_receipt_without_saving() {
    let app = spawn_app().await;
    let (browser, key) = merchant_with_key(&app, "previewer").await;

    // The stored branding first: the name, the default accent colour.
    let page = browser.page("/dashboard/settings").await;
    assert!(!page.contains("(preview, not saved)"));
    let stored = framed_preview(&browser, &page).await;
    assert_eq!(stored.status(), StatusCode::OK);
    let policy = stored.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.starts_with("sandbox;") && policy.contains("default-src 'none'"),
        "no script runs in the sample: {policy}"
    );
    let html = stored.text().await.unwrap();
    assert!(html.contains("Thank you for your payment. Here is your receipt."));
    assert!(html.contains(">previewer</span>") && html.contains("background-color:#635bff"));

    // Typed, not saved: the frame shows the typed name and colour, escaped.
    let hostile = "Acme \"><script>alert(1)</script>";
    let typed = [
        ("name", hostile),
        ("brand_color", "#AA3300"),
        ("support_email", "help@acme.example"),
        ("action", "preview"),
    ];
    let (status, page) = send(
        &browser,
        "/dashboard/settings",
        "/dashboard/settings",
        &typed,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("(preview, not saved)") && !page.contains("Saved."));
    assert!(!page.contains("<script>alert(1)"), "escaped on the page");
    assert!(page.contains("value=\"Acme &#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;\""));
    let html = framed_preview(&browser, &page).await.text().await.unwrap();
    assert!(html.contains("background-color:#aa3300"), "{html}");
    assert!(
        html.contains(">Acme &#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;</span>"),
        "the typed name, escaped: {html}"
    );
    assert!(!html.contains("<script>"), "no markup from the name");
    assert!(html.contains("mailto:help@acme.example"));
    let tenant = app.ok_json("/v1/tenant", &key).await;
    assert_eq!(
        (&tenant["name"], &tenant["brand_color"]),
        (&Value::from("previewer"), &Value::Null),
        "a preview saves nothing"
    );

    // The dedicated route: typed values in the query, one bad one refused.
    let refused = browser
        .get("/dashboard/settings/preview?brand_color=blue")
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("use a colour like #3451b2")
    );
    let anonymous = app.browser().get("/dashboard/settings/preview").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login");

    let sample = browser
        .page(
            "/dashboard/settings/preview?name=Brandy%20%26%20Co&brand_color=%23aa3300\
             &logo_url=https%3A%2F%2Fbrandy.example.com%2Flogo.png\
             &support_email=help%40brandy.example.com",
        )
        .await;
    insta::assert_snapshot!("branding_preview_receipt_html", sample);

    // Saving shows the saved branding in the frame.
    let save = [
        ("name", "Acme"),
        ("brand_color", "#AA3300"),
        ("action", "save"),
    ];
    let (status, page) = send(
        &browser,
        "/dashboard/settings",
        "/dashboard/settings",
        &save,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Saved.") && !page.contains("(preview, not saved)"));
    let html = browser.page("/dashboard/settings/preview").await;
    assert!(html.contains(">Acme</span>") && html.contains("background-color:#aa3300"));
}
