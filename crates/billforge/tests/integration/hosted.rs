//! The merchant's public pages at the HTTP boundary (issue #8): pricing and
//! checkout, the success page's server-side check, account links and the
//! customer session they open, the sign-in email, and the edges a browser
//! test does not reach (unknown slug, forged, expired and other tenants'
//! tokens, suspended tenants). CSRF on every form: `isolation`.

use billing::ids::TenantId;
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{
    Browser, TestApp, advance_one_clock, api_post, assert_api_error, csrf_token_in, merchant_email,
    merchant_password, pricing_catalog, run_jobs, run_jobs_until, selling_tenant, signed_in_admin,
    spawn_app, spawn_one_clock_app,
};

/// A tenant that sells the [`pricing_catalog`], with an API key.
async fn shop(app: &TestApp, slug: &str) -> (TenantId, String, Vec<Value>) {
    let (tenant, _) = selling_tenant(app, slug).await;
    let merchant = app.browser();
    let login = merchant
        .log_in(&merchant_email(slug), &merchant_password(slug))
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let key = merchant.create_api_key("hosted-pages").await;
    let plans = pricing_catalog(app, &key).await;
    (tenant, key, plans)
}

/// A customer of the tenant with `email`, made through the API.
async fn customer(app: &TestApp, key: &str, email: &str) -> String {
    api_post(
        app,
        key,
        "/v1/customers",
        serde_json::json!({"email": email}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An account link for `customer`, made through the API.
pub(crate) async fn account_link(app: &TestApp, key: &str, customer: &str) -> Value {
    let response = app
        .api(
            Method::POST,
            &format!("/v1/customers/{customer}/account_links"),
            key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// The path and query of an absolute URL of the app.
fn path_of(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{url} is not on {}", app.address))
        .to_owned()
}

/// The `location` of a redirect.
fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Opens an account link in `browser`; returns the response to it.
pub(crate) async fn open_link(app: &TestApp, browser: &Browser, url: &str) -> reqwest::Response {
    browser.get(&path_of(app, url)).await
}

#[tokio::test]
async fn an_unknown_slug_is_a_404_page_on_every_public_page() {
    let app = spawn_app().await;
    let browser = app.browser();
    for path in [
        "/t/nobody/pricing",
        "/t/nobody/account",
        "/t/nobody/account/sign-in",
        "/t/nobody/checkout/success?session_id=cs_test_1",
        "/t/nobody/account/enter?token=x",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            response.text().await.unwrap().contains("Page not found"),
            "{path}: the friendly page"
        );
    }
}

#[tokio::test]
async fn pricing_shows_the_plans_per_period_and_subscribing_opens_the_hosted_checkout() {
    let app = spawn_app().await;
    let (_, _, plans) = shop(&app, "acme").await;
    let browser = app.browser();

    let monthly = browser.page("/t/acme/pricing").await;
    for text in ["Basic", "$10.00 per month", "Pro", "$30.00 per month"] {
        assert!(monthly.contains(text), "monthly shows {text}");
    }
    for text in [
        "Projects",
        "Up to 3",
        "Unlimited",
        "Single sign-on",
        "Included",
    ] {
        assert!(monthly.contains(text), "the comparison shows {text}");
    }
    let yearly = browser.page("/t/acme/pricing?interval=year").await;
    assert!(yearly.contains("$100.00 per year"));
    assert!(
        !yearly.contains("$30.00"),
        "Pro has no yearly price, so it is not in the yearly section"
    );

    let basic_monthly = plans[0]["prices"][0]["id"].as_str().unwrap();
    let response = browser
        .submit(
            "/t/acme/pricing",
            "/t/acme/checkout",
            &[("price", basic_monthly), ("email", "ada@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let hosted = location(&response);
    assert!(
        hosted.starts_with(&app.emulator.base_url()),
        "to the emulator's checkout page: {hosted}"
    );
    let page = reqwest::get(&hosted).await.unwrap().text().await.unwrap();
    assert!(page.contains("ada@example.com"), "the email is prefilled");
    let abandoned = crate::harness::post_without_redirects(&format!("{hosted}/cancel")).await;
    assert_eq!(
        location(&abandoned),
        format!("{}/t/acme/pricing", app.address),
        "giving up returns to pricing"
    );

    let refused = browser
        .submit(
            "/t/acme/pricing",
            "/t/acme/checkout",
            &[("price", basic_monthly), ("email", "")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("enter your email address"),
        "the reason is shown inline"
    );
}

#[tokio::test]
async fn a_suspended_tenants_pricing_page_is_unavailable_and_sells_nothing() {
    let app = spawn_app().await;
    let (tenant, _, plans) = shop(&app, "paused").await;
    let browser = app.browser();
    let token = csrf_token_in(&browser.page("/t/paused/pricing").await);

    let admin = signed_in_admin(&app, "root@platform.example").await;
    let suspended = admin
        .submit("/admin", &format!("/admin/tenants/{tenant}/suspend"), &[])
        .await;
    assert_eq!(suspended.status(), StatusCode::SEE_OTHER);

    let response = browser.get("/t/paused/pricing").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = response.text().await.unwrap();
    assert!(page.contains("unavailable"));
    assert!(!page.contains("/t/paused/checkout"), "no subscribe form");

    // A form loaded before the suspension is refused too.
    let price = plans[0]["prices"][0]["id"].as_str().unwrap();
    let refused = browser
        .post_form(
            "/t/paused/checkout",
            &[
                ("csrf_token", token.as_str()),
                ("price", price),
                ("email", "late@example.com"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get("location").is_none(), "no checkout");
}

#[tokio::test]
async fn an_account_link_opens_a_session_on_its_tenants_pages_only() {
    let app = spawn_app().await;
    let (_, key, _) = shop(&app, "acme").await;
    let (_, rival_key, _) = shop(&app, "rival").await;
    let ada = customer(&app, &key, "ada@example.com").await;

    let link = account_link(&app, &key, &ada).await;
    assert_eq!(link["object"], "account_link");
    assert_eq!(link["customer"], ada.as_str());
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/t/acme/account/enter?token=", app.address)));
    let expires_at: chrono::DateTime<chrono::Utc> =
        link["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires_at.timestamp(),
        (app.platform.now() + TimeDelta::minutes(15)).timestamp()
    );

    // Signed in on acme's pages.
    let browser = app.browser();
    let opened = open_link(&app, &browser, url).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&opened), "/t/acme/account");
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/t/acme"),
        "{cookie}"
    );
    assert_eq!(opened.headers()["referrer-policy"], "no-referrer");
    let page = browser.page("/t/acme/account").await;
    assert!(page.contains("ada@example.com"));
    assert!(!page.contains(url), "the page does not carry the link");

    // The same token on another tenant's pages is refused, and acme's
    // session does not sign anyone in there.
    let token = url.split("token=").nth(1).unwrap();
    let elsewhere = browser
        .get(&format!("/t/rival/account/enter?token={token}"))
        .await;
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    let rival_account = browser.get("/t/rival/account").await;
    assert_eq!(rival_account.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&rival_account), "/t/rival/account/sign-in");

    // Another tenant's API key cannot make links for acme's customers.
    assert_api_error(
        app.call(
            Method::POST,
            &format!("/v1/customers/{ada}/account_links"),
            &rival_key,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn forged_tampered_and_expired_links_are_refused() {
    let app = spawn_app().await;
    let (_, key, _) = shop(&app, "acme").await;
    let ada = customer(&app, &key, "ada@example.com").await;
    let url = account_link(&app, &key, &ada).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    let browser = app.browser();

    // Another key (HS256 with a guessed secret) and a changed payload.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = format!("{}.{}.{}", parts[0], parts[1], "c2lnbmF0dXJl");
    parts[1].insert(4, 'x');
    let tampered = parts.join(".");
    for bad in [forged.as_str(), tampered.as_str(), "not-a-jwt", ""] {
        let response = browser
            .get(&format!("/t/acme/account/enter?token={bad}"))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("invalid or has expired"),
            "{bad}"
        );
    }

    // A session cookie's token is no link, and a link is no session.
    let opened = open_link(&app, &browser, &url).await;
    let session = opened.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("bf_customer=")
        .to_owned();
    let as_link = browser
        .get(&format!("/t/acme/account/enter?token={session}"))
        .await;
    assert_eq!(as_link.status(), StatusCode::UNAUTHORIZED);
    let stranger = app.browser();
    let as_session = stranger
        .client
        .get(format!("{}/t/acme/account", app.address))
        .header("cookie", format!("bf_customer={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_session.status(),
        StatusCode::SEE_OTHER,
        "back to sign-in"
    );

    // Fifteen minutes on (the platform's clock), the link has expired.
    app.clock.advance(TimeDelta::minutes(15)).unwrap();
    let expired = app.browser().get(&path_of(&app, &url)).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    // The session lasts an hour, then sends the customer to sign in again.
    assert_eq!(
        browser.get("/t/acme/account").await.status(),
        StatusCode::OK
    );
    app.clock.advance(TimeDelta::minutes(46)).unwrap();
    assert_eq!(
        browser.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_sign_in_form_answers_the_same_and_emails_a_link_only_to_customers() {
    let app = spawn_app().await;
    let (_, key, _) = shop(&app, "acme").await;
    customer(&app, &key, "ada@example.com").await;
    let browser = app.browser();

    let mut answers = Vec::new();
    for email in ["nobody@example.com", "Ada@Example.com"] {
        let response = browser
            .submit(
                "/t/acme/account/sign-in",
                "/t/acme/account/sign-in",
                &[("email", email)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{email}");
        let page = response.text().await.unwrap();
        let notice = page
            .split("role=\"status\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        answers.push(notice);
    }
    assert_eq!(answers[0], answers[1], "the answer does not tell");

    let outbox = app
        .platform
        .store()
        .outbox_messages_all(None, 10)
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1, "one email, to the customer only");
    let mail = &outbox[0];
    assert_eq!(mail.kind, "customer_sign_in_link");
    assert_eq!(mail.recipient, "ada@example.com");
    assert_eq!(mail.from_name, "acme");
    let link = mail
        .text
        .lines()
        .find(|line| line.contains("/account/enter?token="))
        .expect("the text part carries the link")
        .trim()
        .to_owned();
    assert!(mail.html.contains(&link), "so does the HTML");

    let opened = open_link(&app, &browser, &link).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert!(
        browser
            .page("/t/acme/account")
            .await
            .contains("ada@example.com")
    );
}

#[tokio::test]
async fn the_success_page_checks_the_session_on_its_tenants_account() {
    let app = spawn_app().await;
    let (_, _, plans) = shop(&app, "acme").await;
    shop(&app, "rival").await;
    let browser = app.browser();
    let price = plans[0]["prices"][0]["id"].as_str().unwrap();
    let response = browser
        .submit(
            "/t/acme/pricing",
            "/t/acme/checkout",
            &[("price", price), ("email", "ada@example.com")],
        )
        .await;
    let hosted = location(&response);
    let session_id = hosted.rsplit('/').next().unwrap().to_owned();

    // Not paid yet: said so, no refresh loop.
    let page = browser
        .page(&format!("/t/acme/checkout/success?session_id={session_id}"))
        .await;
    assert!(page.contains("Payment not completed"));
    assert!(!page.contains("http-equiv=\"refresh\""));

    // Another tenant's page does not know acme's session; junk ids are 404.
    for path in [
        format!("/t/rival/checkout/success?session_id={session_id}"),
        "/t/acme/checkout/success?session_id=cs_test_unknown".to_owned(),
        "/t/acme/checkout/success?session_id=../v1/customers".to_owned(),
        "/t/acme/checkout/success".to_owned(),
    ] {
        assert_eq!(
            browser.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    // Paid: "confirming" (refreshing) until the webhook is applied.
    crate::subscriptions::pay(&hosted, "4242424242424242").await;
    let success = format!("/t/acme/checkout/success?session_id={session_id}");
    let confirming = browser.page(&success).await;
    assert!(confirming.contains("Confirming payment"), "{confirming}");
    assert!(confirming.contains("http-equiv=\"refresh\""));
    {
        let (browser, success) = (&browser, &success);
        run_jobs_until(&app, "the subscription", || async move {
            browser.page(success).await.contains("You are subscribed")
        })
        .await;
    }
    let done = browser.page(&success).await;
    assert!(done.contains("Basic"), "{done}");
    assert!(!done.contains("http-equiv=\"refresh\""));
    run_jobs(&app).await;
}

/// The tenant's only subscription in the mirror, once there.
async fn only_subscription(app: &TestApp, tenant: &TenantId) -> platform::records::SubscriptionRow {
    let page = platform::records::Page {
        limit: 10,
        starting_after: None,
    };
    let mut rows = app
        .platform
        .subscriptions_page(tenant, None, &page)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one subscription");
    rows.remove(0)
}

/// Buys through `slug`'s pricing page with `fields`, pays with 4242 on the
/// hosted checkout and waits for the subscription's webhook; the checkout
/// page as shown.
async fn buy_on_pricing_page(
    app: &TestApp,
    shopper: &Browser,
    (slug, tenant): (&str, &TenantId),
    fields: &[(&str, &str)],
) -> String {
    let checkout = shopper
        .submit(
            &format!("/t/{slug}/pricing"),
            &format!("/t/{slug}/checkout"),
            fields,
        )
        .await;
    let hosted = location(&checkout);
    let page = reqwest::get(&hosted).await.unwrap().text().await.unwrap();
    crate::subscriptions::pay(&hosted, "4242424242424242").await;
    let one = platform::records::Page {
        limit: 1,
        starting_after: None,
    };
    run_jobs_until(app, "the subscription", || async {
        app.platform
            .subscriptions_page(tenant, None, &one)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    page
}

#[tokio::test]
async fn the_account_page_changes_seats_and_plans_with_a_preview_and_cancels_and_resumes() {
    let app = spawn_app().await;
    let (tenant, key, plans) = shop(&app, "acme").await;
    let basic = plans[0]["prices"][0]["id"].as_str().unwrap();
    let team = plans[2]["prices"][0]["id"].as_str().unwrap();
    let shopper = app.browser();
    assert!(
        shopper
            .page("/t/acme/pricing")
            .await
            .contains("$12.00 per seat per month")
    );

    // Two seats of Team, bought on the pricing page.
    let page = buy_on_pricing_page(
        &app,
        &shopper,
        ("acme", &tenant),
        &[
            ("price", team),
            ("email", "ada@example.com"),
            ("seats", "2"),
        ],
    )
    .await;
    assert!(page.contains("× 2"), "two seats on the checkout page");
    let subscription = only_subscription(&app, &tenant).await;
    assert_eq!(subscription.quantity, 2);
    let sub = subscription.id.clone();

    let browser = signed_in_customer(&app, &key, &subscription.customer_id).await;
    let account = browser.page("/t/acme/account").await;
    assert!(account.contains("Team") && account.contains(&format!("seats-{sub}")));
    let invoices = account
        .split("id=\"invoices\"")
        .nth(1)
        .expect("an invoice list");
    assert!(
        invoices.contains("$24.00") && invoices.contains("paid"),
        "{invoices}"
    );

    // The payment method is updated on Stripe's billing portal.
    let portal = browser
        .submit("/t/acme/account", "/t/acme/account/payment-method", &[])
        .await;
    assert_eq!(portal.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&portal).starts_with(&format!("{}/billing_portal/", app.emulator.base_url())),
        "{}",
        location(&portal)
    );
    let base = format!("/t/acme/account/subscriptions/{sub}");

    // A third seat: an upgrade, prorated now.
    let preview = browser
        .submit(
            "/t/acme/account",
            &format!("{base}/preview"),
            &[("price", team), ("seats", "3")],
        )
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("You pay"), "{preview}");
    assert!(preview.contains("$36.00 per month"), "{preview}");
    assert_eq!(
        only_subscription(&app, &tenant).await.quantity,
        2,
        "a preview changes nothing"
    );
    let confirmed = browser
        .submit(
            "/t/acme/account",
            &format!("{base}/change"),
            &[("price", team), ("seats", "3")],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("Your plan was changed")
    );
    assert_eq!(only_subscription(&app, &tenant).await.quantity, 3);

    // Down to Basic: nothing charged now, scheduled for the period's end.
    let preview = browser
        .submit(
            "/t/acme/account",
            &format!("{base}/preview"),
            &[("price", basic)],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(preview.contains("Nothing is charged now"), "{preview}");
    let scheduled = browser
        .submit(
            "/t/acme/account",
            &format!("{base}/change"),
            &[("price", basic)],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        scheduled.contains("Changes to <strong>Basic</strong> on"),
        "{scheduled}"
    );
    let unchanged = only_subscription(&app, &tenant).await;
    assert_eq!(
        (unchanged.price_id.as_deref(), unchanged.quantity),
        (Some(team), 3),
        "the customer keeps Team until the period ends"
    );

    // The current plan again is refused inline.
    let same = browser
        .submit(
            "/t/acme/account",
            &format!("{base}/preview"),
            &[("price", team), ("seats", "3")],
        )
        .await;
    assert_eq!(same.status(), StatusCode::BAD_REQUEST);
    assert!(
        same.text()
            .await
            .unwrap()
            .contains("that is your current plan")
    );

    // Cancel at period end, then resume.
    let cancelled = browser
        .submit("/t/acme/account", &format!("{base}/cancel"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(only_subscription(&app, &tenant).await.cancel_at_period_end);
    assert!(
        !cancelled.contains("Changes to"),
        "an ending subscription changes plan no more: {cancelled}"
    );
    browser
        .submit("/t/acme/account", &format!("{base}/resume"), &[])
        .await;
    assert!(!only_subscription(&app, &tenant).await.cancel_at_period_end);

    // Another subscription id is not this customer's.
    let unknown = browser
        .submit(
            "/t/acme/account",
            "/t/acme/account/subscriptions/sub_01jxxxxxxxxxxxxxxxxxxxxxxx/cancel",
            &[],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// A browser signed in to `customer`'s account page by a fresh link.
async fn signed_in_customer(app: &TestApp, key: &str, customer: &str) -> Browser {
    let browser = app.browser();
    let link = account_link(app, key, customer).await;
    open_link(app, &browser, link["url"].as_str().unwrap()).await;
    browser
}

/// A one-clock app whose `slug` sells the [`pricing_catalog`], with a
/// customer who bought plan number `plan` (its first price) on the pricing
/// page: the app, tenant, API key and the plans.
async fn one_clock_subscriber(slug: &str, plan: usize) -> (TestApp, TenantId, String, Vec<Value>) {
    let app = spawn_one_clock_app(|_| {}).await;
    let (tenant, key, plans) = shop(&app, slug).await;
    let price = plans[plan]["prices"][0]["id"].as_str().unwrap();
    let email = format!("buyer@{slug}.example.com");
    buy_on_pricing_page(
        &app,
        &app.browser(),
        (slug, &tenant),
        &[("price", price), ("email", &email)],
    )
    .await;
    (app, tenant, key, plans)
}

#[tokio::test]
async fn a_downgrade_keeps_the_plan_until_the_period_ends_and_renews_on_the_new_price() {
    let (app, tenant, key, plans) = one_clock_subscriber("downshift", 1).await;
    let basic = plans[0]["prices"][0]["id"].as_str().unwrap();
    let pro = plans[1]["prices"][0]["id"].as_str().unwrap();
    let subscription = only_subscription(&app, &tenant).await;
    let sub = subscription.id.clone();
    let period_end = subscription.current_period_end.unwrap();
    let browser = signed_in_customer(&app, &key, &subscription.customer_id).await;
    let base = format!("/t/downshift/account/subscriptions/{sub}");
    let downgrade = || async {
        browser
            .submit(
                "/t/downshift/account",
                &format!("{base}/change"),
                &[("price", basic)],
            )
            .await
            .text()
            .await
            .unwrap()
    };
    let when = period_end.format("%-d %B %Y").to_string();

    // Scheduled: Pro and its single sign-on stay until the period ends,
    // and the next payment is Basic's.
    let account = downgrade().await;
    assert!(
        account.contains(&format!(
            "Changes to <strong>Basic</strong> on <time datetime=\"{}\">{when}</time>",
            period_end.to_rfc3339()
        )),
        "{account}"
    );
    assert!(account.contains("$10.00 per month on"), "{account}");
    assert!(account.contains("Single sign-on"), "{account}");
    assert_eq!(
        only_subscription(&app, &tenant).await.price_id.as_deref(),
        Some(pro)
    );

    // Withdrawn, then scheduled again.
    let kept = browser
        .submit("/t/downshift/account", &format!("{base}/keep-plan"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(kept.contains("You keep your current plan"), "{kept}");
    assert!(!kept.contains("Changes to"), "{kept}");
    let again = browser
        .submit("/t/downshift/account", &format!("{base}/keep-plan"), &[])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        downgrade()
            .await
            .contains("Changes to <strong>Basic</strong>")
    );
    let audited: Vec<String> = app
        .platform
        .audit_events(&tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect();
    for action in [
        "subscription.change_scheduled",
        "subscription.change_withdrawn",
    ] {
        assert!(
            audited.iter().any(|done| done == action),
            "{action}: {audited:?}"
        );
    }

    // Past the period's end: renewed on Basic, invoiced at Basic's price.
    advance_one_clock(&app, TimeDelta::days(31)).await;
    let renewed = only_subscription(&app, &tenant).await;
    assert_eq!(renewed.price_id.as_deref(), Some(basic));
    assert!(renewed.current_period_start.unwrap() >= period_end);
    // The customer's session has expired meanwhile: a fresh link.
    let browser = signed_in_customer(&app, &key, &renewed.customer_id).await;
    let account = browser.page("/t/downshift/account").await;
    assert!(!account.contains("Changes to"), "{account}");
    assert!(!account.contains("Single sign-on"), "{account}");
    let invoices = account.split("id=\"invoices\"").nth(1).expect("invoices");
    let rows: Vec<&str> = invoices.split("<tr>").skip(2).collect();
    assert_eq!(
        rows.len(),
        2,
        "the first invoice and the renewal: {invoices}"
    );
    assert!(
        rows[0].contains("$10.00") && rows[0].contains("paid"),
        "{invoices}"
    );
    assert!(rows[1].contains("$30.00"), "{invoices}");
}

/// The amount of `invoices` (the account page's list) in `row`, newest first.
fn invoice_amount(account: &str, row: usize) -> String {
    let invoices = account.split("id=\"invoices\"").nth(1).expect("invoices");
    let row = invoices.split("<tr>").nth(row + 2).expect("that invoice");
    row.split("<td>")
        .nth(3)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_upgrade_preview_shows_what_the_proration_invoice_charges() {
    let (app, tenant, key, plans) = one_clock_subscriber("upshift", 0).await;
    let pro = plans[1]["prices"][0]["id"].as_str().unwrap();
    // A quarter into the month: three quarters of the $20 difference are
    // due, which the next renewal ($10 or $30) is not.
    advance_one_clock(&app, TimeDelta::days(7)).await;
    let subscription = only_subscription(&app, &tenant).await;
    let browser = signed_in_customer(&app, &key, &subscription.customer_id).await;
    let base = format!("/t/upshift/account/subscriptions/{}", subscription.id);
    let preview = browser
        .submit(
            "/t/upshift/account",
            &format!("{base}/preview"),
            &[("price", pro)],
        )
        .await
        .text()
        .await
        .unwrap();
    let previewed = preview
        .split("You pay <strong>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the amount due now")
        .to_owned();
    let confirmed = browser
        .submit(
            "/t/upshift/account",
            &format!("{base}/change"),
            &[("price", pro)],
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    run_jobs_until(&app, "the proration invoice", || async {
        browser
            .page("/t/upshift/account")
            .await
            .matches("<tr>")
            .count()
            >= 4
    })
    .await;
    let invoiced = invoice_amount(&browser.page("/t/upshift/account").await, 0);
    let cents = |amount: &str| -> i64 {
        amount
            .trim_start_matches('$')
            .replace('.', "")
            .parse()
            .unwrap()
    };
    // The clock moves on by a few seconds between preview and change: a
    // cent of difference at most.
    assert!(
        (cents(&previewed) - cents(&invoiced)).abs() <= 1,
        "previewed {previewed}, invoiced {invoiced}"
    );
    let period =
        subscription.current_period_end.unwrap() - subscription.current_period_start.unwrap();
    let expected = 2_000 * (period - TimeDelta::days(7)).num_seconds() / period.num_seconds();
    assert!(
        (cents(&invoiced) - expected).abs() <= 2,
        "{invoiced} for about {expected} cents"
    );
}
