//! The merchant's customers pages and overview charts, and the admin
//! console's tenant, metrics and webhook inbox pages (issue #8), driven over
//! HTTP with cookies and CSRF tokens; effects checked through the API.

use chrono::{Months, TimeDelta};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_billing::created;
use crate::api_payments::paid_invoice;
use crate::harness::{
    Browser, TestApp, csrf_token_in, merchant_email, merchant_password, run_jobs, signed_in_admin,
    tenant_id,
};
use crate::webhooks::{app_with_secrets, deliver_a_doomed_event};

/// A new browser logged in as the merchant `slug`.
async fn merchant(app: &TestApp, slug: &str) -> Browser {
    let browser = app.browser();
    let login = browser
        .log_in(&merchant_email(slug), &merchant_password(slug))
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "login of {slug}");
    browser
}

/// The body of a response, asserting its status.
async fn body_of(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{}", response.url());
    response.text().await.unwrap()
}

/// The value of the hidden field `name` in `html`.
fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the hidden field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The `Location` of a redirect.
fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.url()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn customers_are_searched_and_shown_with_their_billing_and_another_tenants_are_404() {
    let app = crate::harness::spawn_app().await;
    let (_, customer, invoice) = paid_invoice(&app).await;
    created(
        &app,
        "/v1/customers",
        &crate::api_billing::selling_key(&app, "rival").await,
        json!({"external_id": "rival-user", "email": "grace@example.com"}),
    )
    .await;
    let acme = merchant(&app, "acme").await;

    let all = acme.page("/dashboard/customers").await;
    assert!(all.contains("ada@example.com"), "{all}");
    assert!(
        !all.contains("grace@example.com"),
        "only the tenant's customers"
    );
    for query in ["ADA@", "user-1", customer.as_str(), "ada"] {
        let found = acme.page(&format!("/dashboard/customers?q={query}")).await;
        assert!(
            found.contains(&format!("/dashboard/customers/{customer}")),
            "{query}"
        );
    }
    for query in ["grace", "nobody", "%", "_"] {
        let none = acme.page(&format!("/dashboard/customers?q={query}")).await;
        assert!(none.contains("No customer matches"), "{query}: {none}");
    }

    let detail = acme.page(&format!("/dashboard/customers/{customer}")).await;
    for expected in [
        "ada@example.com",
        "user-1",
        "Pro",
        "active",
        "$20.00",
        "paid",
        invoice["id"].as_str().unwrap(),
    ] {
        assert!(detail.contains(expected), "{expected} in {detail}");
    }

    let rival = merchant(&app, "rival").await;
    for path in [
        format!("/dashboard/customers/{customer}"),
        "/dashboard/customers/cus_nonexistent".to_owned(),
        "/dashboard/customers/not-an-id".to_owned(),
    ] {
        body_of(rival.get(&path).await, StatusCode::NOT_FOUND).await;
    }
    let anonymous = app.browser().get("/dashboard/customers").await;
    assert_eq!(location(&anonymous), "/login");
}

#[tokio::test]
async fn refunds_cancellation_and_resumption_change_stripe_state_and_bad_input_is_422() {
    let app = crate::harness::spawn_app().await;
    let (key, customer, invoice) = paid_invoice(&app).await;
    let acme = merchant(&app, "acme").await;
    let page = format!("/dashboard/customers/{customer}");
    let invoice_id = invoice["id"].as_str().unwrap();
    let subscription = invoice["subscription"].as_str().unwrap().to_owned();
    let refunds = || async { app.ok_json("/v1/refunds", &key).await["data"].clone() };

    let without_token = acme
        .post_form(
            &format!("{page}/refunds"),
            &[("invoice", invoice_id), ("amount", "1.00")],
        )
        .await;
    assert_eq!(without_token.status(), StatusCode::FORBIDDEN);
    for (amount, message) in [
        ("ten", "the amount reads like 5.00"),
        ("0", "is a positive number of minor units"),
        ("25.00", "is more than the 2000"),
    ] {
        let refused = acme
            .submit(
                &page,
                &format!("{page}/refunds"),
                &[("invoice", invoice_id), ("amount", amount), ("reason", "")],
            )
            .await;
        let html = body_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(html.contains("id=\"refund-error\""), "{amount}: {html}");
        assert!(html.contains(message), "{amount}: {html}");
        assert!(
            html.contains(&format!("value=\"{amount}\"")),
            "typed value kept"
        );
    }
    assert_eq!(refunds().await, json!([]), "nothing refunded");
    let other_invoice = acme
        .submit(
            &page,
            &format!("{page}/refunds"),
            &[("invoice", "in_someone_elses"), ("amount", "")],
        )
        .await;
    assert!(
        body_of(other_invoice, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("choose one of this customer&#39;s paid invoices")
    );

    // The same form submitted twice (its one-time key) refunds once.
    let html = acme.page(&page).await;
    let token = csrf_token_in(&html);
    let once = hidden_value(&html, "idempotency_key");
    let form = [
        ("csrf_token", token.as_str()),
        ("idempotency_key", once.as_str()),
        ("invoice", invoice_id),
        ("amount", "5.00"),
        ("reason", "requested_by_customer"),
    ];
    let partial = acme.post_form(&format!("{page}/refunds"), &form).await;
    assert_eq!(location(&partial), format!("{page}?done=refund"));
    let again = acme.post_form(&format!("{page}/refunds"), &form).await;
    assert_eq!(location(&again), format!("{page}?done=refund"));
    let made = refunds().await;
    assert_eq!(made.as_array().unwrap().len(), 1, "{made}");
    assert_eq!(
        (made[0]["amount"].as_i64(), made[0]["reason"].as_str()),
        (Some(500), Some("requested_by_customer")),
        "{made}"
    );
    assert!(
        acme.page(&location(&partial))
            .await
            .contains("Refund made on Stripe.")
    );

    let cancel = format!("{page}/subscriptions/{subscription}/cancel");
    let resume = format!("{page}/subscriptions/{subscription}/resume");
    let state = || async {
        let sub = app
            .ok_json(&format!("/v1/subscriptions/{subscription}"), &key)
            .await;
        (
            sub["status"].as_str().unwrap().to_owned(),
            sub["cancel_at_period_end"].as_bool().unwrap(),
        )
    };
    let bad_when = acme.submit(&page, &cancel, &[("when", "someday")]).await;
    assert!(
        body_of(bad_when, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("choose whether to cancel now or at the end of the period")
    );
    assert_eq!(
        acme.post_form(&cancel, &[("when", "now")]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(state().await, ("active".to_owned(), false));

    let at_end = acme.submit(&page, &cancel, &[("when", "period_end")]).await;
    assert_eq!(location(&at_end), format!("{page}?done=canceled"));
    assert_eq!(state().await, ("active".to_owned(), true));
    assert!(acme.page(&page).await.contains("(ends at period end)"));
    let resumed = acme.submit(&page, &resume, &[]).await;
    assert_eq!(location(&resumed), format!("{page}?done=resumed"));
    assert_eq!(state().await, ("active".to_owned(), false));
    let resumed_again = acme.submit(&page, &resume, &[]).await;
    assert!(
        body_of(resumed_again, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("id=\"subscription-error\"")
    );
    let now = acme.submit(&page, &cancel, &[("when", "now")]).await;
    assert_eq!(location(&now), format!("{page}?done=canceled"));
    assert_eq!(state().await.0, "canceled");

    // Another customer's path cannot reach this subscription.
    let other = created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-2"}),
    )
    .await;
    let other = other["id"].as_str().unwrap();
    let crossed = acme
        .submit(
            &page,
            &format!("/dashboard/customers/{other}/subscriptions/{subscription}/resume"),
            &[],
        )
        .await;
    assert_eq!(crossed.status(), StatusCode::NOT_FOUND);
}

/// The `sso` flag feature and `seats` limit feature of `key`'s tenant.
async fn features(app: &TestApp, key: &str) -> (String, String) {
    let sso = created(
        app,
        "/v1/features",
        key,
        json!({"lookup_key": "sso", "name": "Single sign-on", "kind": {"kind": "flag"}}),
    )
    .await;
    let seats = created(
        app,
        "/v1/features",
        key,
        json!({"lookup_key": "seats", "name": "Seats", "kind": {"kind": "limit", "reset": "never"}}),
    )
    .await;
    (
        sso["id"].as_str().unwrap().to_owned(),
        seats["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_overrides_editor_grants_limits_and_removes_with_inline_errors() {
    let app = crate::harness::spawn_app().await;
    let key = crate::api_billing::selling_key(&app, "acme").await;
    let (sso, seats) = features(&app, &key).await;
    let customer = created(
        &app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1", "email": "ada@example.com"}),
    )
    .await;
    let customer = customer["id"].as_str().unwrap();
    let acme = merchant(&app, "acme").await;
    let page = format!("/dashboard/customers/{customer}");
    let editor = format!("{page}/overrides");
    let entitlements = || async {
        app.ok_json(&format!("/v1/customers/{customer}/entitlements"), &key)
            .await["data"]
            .clone()
    };
    let tomorrow = (app.platform.now() + TimeDelta::days(2))
        .format("%Y-%m-%d")
        .to_string();

    for (fields, message) in [
        (
            vec![
                ("feature", seats.as_str()),
                ("action", "limit"),
                ("limit", "many"),
            ],
            "a limit is a whole number, 0 or more",
        ),
        (
            vec![
                ("feature", sso.as_str()),
                ("action", "limit"),
                ("limit", "3"),
            ],
            "cannot be granted",
        ),
        (
            vec![
                ("feature", sso.as_str()),
                ("action", "enable"),
                ("until", "2001-01-01"),
            ],
            "an override&#39;s end must be in the future",
        ),
        (
            vec![
                ("feature", sso.as_str()),
                ("action", "enable"),
                ("until", "soon"),
            ],
            "the end date reads like 2026-12-31",
        ),
        (
            vec![("feature", sso.as_str()), ("action", "")],
            "choose what the override does",
        ),
    ] {
        let refused = acme.submit(&page, &editor, &fields).await;
        let html = body_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(html.contains("id=\"override-error\""), "{fields:?}: {html}");
        assert!(html.contains(message), "{fields:?}: {message} in {html}");
    }
    assert_eq!(entitlements().await, json!([]), "nothing written");
    let forged = acme
        .post_form(&editor, &[("feature", sso.as_str()), ("action", "enable")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let granted = acme
        .submit(
            &page,
            &editor,
            &[
                ("feature", &sso),
                ("action", "enable"),
                ("until", &tomorrow),
            ],
        )
        .await;
    assert_eq!(location(&granted), format!("{page}?done=override"));
    let limited = acme
        .submit(
            &page,
            &editor,
            &[("feature", &seats), ("action", "limit"), ("limit", "7")],
        )
        .await;
    assert_eq!(location(&limited), format!("{page}?done=override"));
    let now = entitlements().await;
    let of = |key: &str| {
        now.as_array()
            .unwrap()
            .iter()
            .find(|e| e["feature"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            of("sso")["allowed"].as_bool(),
            of("seats")["limit"].as_i64()
        ),
        (Some(true), Some(7)),
        "{now}"
    );
    let html = acme.page(&page).await;
    assert!(
        html.contains("limit 7") && html.contains(&tomorrow),
        "{html}"
    );
    assert!(html.contains("<td>override</td>"), "source shown: {html}");

    let removed = acme
        .submit(&page, &format!("{page}/overrides/{seats}/remove"), &[])
        .await;
    assert_eq!(location(&removed), format!("{page}?done=override_removed"));
    let left: Vec<Value> = entitlements().await.as_array().unwrap().clone();
    assert_eq!(
        left.iter()
            .map(|e| e["feature"].clone())
            .collect::<Vec<_>>(),
        [json!("sso")]
    );

    // The rival cannot see or edit this customer.
    crate::api_billing::selling_key(&app, "rival").await;
    let rival = merchant(&app, "rival").await;
    let crossed = rival
        .submit(
            "/dashboard",
            &editor,
            &[("feature", &sso), ("action", "revoke")],
        )
        .await;
    assert_eq!(crossed.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_overview_charts_plot_mrr_and_subscriptions_from_stored_state() {
    let app = crate::harness::spawn_app().await;
    let (_, _, _) = paid_invoice(&app).await;
    let acme = merchant(&app, "acme").await;
    let now = app.platform.now();
    let month = |back: u32| {
        now.date_naive()
            .checked_sub_months(Months::new(back))
            .unwrap()
            .format("%b %Y")
            .to_string()
    };
    let dashboard = acme.page("/dashboard").await;
    for expected in [
        "<title id=\"chart-mrr-title\">Monthly recurring revenue</title>".to_owned(),
        format!("<title>USD, {}: $20.00</title>", month(0)),
        format!("<title>USD, {}: $0.00</title>", month(1)),
        format!("<title>Subscriptions, {}: 1</title>", month(0)),
        format!("<title>Subscriptions, {}: 0</title>", month(5)),
        format!("<title>Failed invoices, {}: 0</title>", month(0)),
        format!(
            "Monthly recurring revenue, {} to {}: USD from $0.00 to $20.00.",
            month(5),
            month(0)
        ),
        "Revenue recovered by dunning".to_owned(),
    ] {
        assert!(dashboard.contains(&expected), "{expected} in {dashboard}");
    }
    assert_eq!(dashboard.matches("<svg").count(), 4);
    assert_eq!(
        dashboard.matches("<th scope=\"row\">").count(),
        4 * 6,
        "a table row per month"
    );
}

#[tokio::test]
async fn the_admin_console_shows_tenants_metrics_and_sets_the_fee_inline() {
    let app = crate::harness::spawn_app().await;
    paid_invoice(&app).await;
    app.signed_up_merchant("quiet").await;
    let acme = tenant_id(&app, "acme").await;
    let admin = signed_in_admin(&app, "root@platform.example.com").await;

    let found = admin.page("/admin?q=ACM").await;
    assert!(found.contains(&format!("/admin/tenants/{acme}")), "{found}");
    assert!(!found.contains(">quiet<"), "{found}");

    let detail_path = format!("/admin/tenants/{acme}");
    let detail = admin.page(&detail_path).await;
    for expected in [
        "<dd id=\"customers\">1</dd>",
        "<dd id=\"subscriptions\">1</dd>",
        "<dd id=\"mrr\">$20.00</dd>",
        "<dd id=\"failed\">0</dd>",
    ] {
        assert!(detail.contains(expected), "{expected} in {detail}");
    }
    let metrics = admin.page("/admin/metrics").await;
    assert!(
        metrics.contains("<strong id=\"total-mrr\">$20.00</strong>"),
        "{metrics}"
    );
    assert!(metrics.contains("id=\"tenant-quiet\""), "{metrics}");

    let refused = admin
        .submit(&detail_path, &detail_path, &[("fee_percent", "12.345")])
        .await;
    let html = body_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        html.contains("id=\"fee_percent-error\" role=\"alert\">")
            && html.contains("value=\"12.345\""),
        "{html}"
    );
    let fee_of = || async {
        app.platform
            .store()
            .tenant(&acme)
            .await
            .unwrap()
            .unwrap()
            .platform_fee_bps
    };
    let before = fee_of().await;
    assert_eq!(
        admin
            .post_form(&detail_path, &[("fee_percent", "3")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(fee_of().await, before);
    let saved = admin
        .submit(&detail_path, &detail_path, &[("fee_percent", "3.5")])
        .await;
    assert_eq!(location(&saved), detail_path);
    assert_eq!(fee_of().await, 350);
    let suspended = admin
        .submit(&detail_path, &format!("{detail_path}/suspend"), &[])
        .await;
    assert_eq!(suspended.status(), StatusCode::SEE_OTHER);
    assert!(admin.page(&detail_path).await.contains("Reactivate"));

    // Merchants and visitors are sent to the admin login.
    let merchant = merchant(&app, "acme").await;
    for path in [detail_path.as_str(), "/admin/metrics", "/admin/webhooks"] {
        assert_eq!(
            location(&merchant.get(path).await),
            "/admin/login",
            "{path}"
        );
        assert_eq!(
            location(&app.browser().get(path).await),
            "/admin/login",
            "{path}"
        );
    }
    let token = csrf_token_in(&merchant.page("/dashboard").await);
    let forged = merchant
        .post_form(
            &detail_path,
            &[("csrf_token", token.as_str()), ("fee_percent", "0")],
        )
        .await;
    assert_eq!(location(&forged), "/admin/login");
    assert_eq!(fee_of().await, 350);
    body_of(
        admin.get("/admin/tenants/ten_unknown").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn the_webhook_inbox_lists_dead_letters_and_an_admin_retries_one() {
    let app = app_with_secrets().await;
    deliver_a_doomed_event(&app).await;
    let admin = signed_in_admin(&app, "root@platform.example.com").await;
    let failing = admin.page("/admin/webhooks").await;
    assert!(
        failing.contains("No dead event.") && failing.contains("evt_doomed"),
        "{failing}"
    );
    for _ in 0..10 {
        app.clock.advance(TimeDelta::hours(1)).unwrap();
        run_jobs(&app).await;
    }
    let dead = admin.page("/admin/webhooks").await;
    assert!(dead.contains("/admin/webhooks/evt_doomed/retry"), "{dead}");
    assert!(dead.contains("acct_missing"), "the error is shown: {dead}");

    let retry = "/admin/webhooks/evt_doomed/retry";
    assert_eq!(
        admin.post_form(retry, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let retried = admin.submit("/admin/webhooks", retry, &[]).await;
    assert_eq!(location(&retried), "/admin/webhooks?retried=1");
    let row = app.platform.webhook_event("evt_doomed").await.unwrap();
    assert_eq!(row.status.as_str(), "pending");
    assert!(
        admin
            .page("/admin/audit")
            .await
            .contains("webhook_event.retried")
    );
    let again = admin.submit("/admin/webhooks", retry, &[]).await;
    assert_eq!(
        again.status(),
        StatusCode::NOT_FOUND,
        "only dead events are retried"
    );
}

#[tokio::test]
async fn the_customer_list_and_search_go_page_by_page() {
    let app = crate::harness::spawn_app().await;
    let acme = app.signed_up_merchant("acme").await;
    let scope = app.platform.store().scoped(&tenant_id(&app, "acme").await);
    for n in 0..52 {
        scope
            .create_customer(
                store::mirror::NewCustomer {
                    stripe_customer_id: None,
                    external_id: Some(format!("user-{n:02}")),
                    email: Some(format!("c{n:02}@pages.example")),
                    name: None,
                    metadata: None,
                },
                app.platform.now(),
            )
            .await
            .unwrap();
    }
    for list in [
        "/dashboard/customers?q=",
        "/dashboard/customers?q=Pages.Example",
    ] {
        let first = acme.page(list).await;
        assert_eq!(first.matches("@pages.example</a>").count(), 50, "{list}");
        let marker = "href=\"/dashboard/customers?q=";
        let start = first.find(marker).expect("a next page link") + "href=\"".len();
        let next = first[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let second = acme.page(&next).await;
        assert_eq!(second.matches("@pages.example</a>").count(), 2, "{next}");
        assert!(second.contains("c51@pages.example") && !second.contains("rel=\"next\""));
    }
}
