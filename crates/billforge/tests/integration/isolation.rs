//! Tenant isolation and CSRF as matrices generated from the route tables
//! (issue #10): every `/v1` route (`api::ROUTES`, the list the OpenAPI spec
//! is checked against) and every page (`web::routes()`, the table the web
//! app registers). A new route joins the matrix by being registered, and a
//! route naming an object the fixtures do not hold fails the test.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use web::Access;

use crate::api_billing::created;
use crate::api_payments::tenant_stripe;
use crate::harness::{
    Browser, TestApp, api_post, csrf_token_in, merchant_email, merchant_password, pricing_catalog,
    run_jobs, run_jobs_until, selling_tenant, signed_in_admin, spawn_app, tenant_id,
};
use crate::hosted::{account_link, open_link};
use crate::subscriptions::pay;

/// An id of one kind of object per kind: the kind is the path segment
/// before the parameter (`/v1/plans/{id}` → `plans`), `admin …` under
/// `/admin`, or the parameter's name for `{slug}` and `{action}`.
type Ids = BTreeMap<String, String>;

/// One selling merchant: its slug, signed-in browser, API key and the ids
/// of the objects it owns.
struct Merchant {
    slug: &'static str,
    browser: Browser,
    key: String,
    ids: Ids,
}

/// The kind of object the parameter `param` (`{id}`, `{price}`, …) of
/// `pattern` names.
fn kind_of(pattern: &str, param: &str) -> String {
    let name = param
        .trim_matches(|c| c == '{' || c == '}')
        .split(':')
        .next()
        .unwrap();
    if matches!(name, "slug" | "action") {
        return name.to_owned();
    }
    let before = pattern.split(param).next().unwrap();
    let segment = before.trim_end_matches('/').rsplit('/').next().unwrap();
    if pattern.starts_with("/admin/") {
        format!("admin {segment}")
    } else {
        segment.to_owned()
    }
}

/// `pattern` with every parameter replaced by the id `ids` holds for its
/// kind; panics naming the route when the fixtures have none, so a new
/// kind of object cannot slip past the matrix.
fn fill(pattern: &str, ids: &Ids) -> String {
    fill_each(pattern, |_| ids)
}

/// `pattern`'s first parameter filled from `first`, the others from
/// `rest`: a parent of one's own with another tenant's child.
fn fill_mixed(pattern: &str, first: &Ids, rest: &Ids) -> String {
    fill_each(pattern, |index| if index == 0 { first } else { rest })
}

/// `pattern` with its `index`th parameter filled from `ids_for(index)`.
fn fill_each<'a>(pattern: &str, ids_for: impl Fn(usize) -> &'a Ids) -> String {
    let mut index = 0;
    pattern
        .split('/')
        .map(|segment| {
            if !segment.starts_with('{') {
                return segment.to_owned();
            }
            let kind = kind_of(pattern, segment);
            let id = ids_for(index).get(&kind).unwrap_or_else(|| {
                panic!("{pattern}: no fixture of kind `{kind}`; add one to the isolation matrix")
            });
            index += 1;
            id.clone()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a route pattern has parameters.
fn has_params(pattern: &str) -> bool {
    pattern.contains('{')
}

/// Whether a route pattern names an object (a parameter besides the shop's
/// slug and the archive/unarchive verb).
fn names_an_object(pattern: &str) -> bool {
    pattern
        .split('/')
        .filter(|segment| segment.starts_with('{'))
        .any(|param| !matches!(kind_of(pattern, param).as_str(), "slug" | "action"))
}

/// The `/v1` routes as (method, pattern).
fn api_routes() -> Vec<(Method, &'static str)> {
    api::ROUTES
        .iter()
        .map(|(method, path)| {
            (
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                *path,
            )
        })
        .collect()
}

/// A body the route would accept from the object's owner, so that a refusal
/// is about whose object it is, not about the body.
fn api_body(pattern: &str, ids: &Ids) -> Value {
    let monthly = json!({"currency": "usd", "interval": {"unit": "month", "count": 1},
                          "model": {"kind": "flat", "amount_minor": 500}});
    match pattern {
        "/v1/plans/{id}/prices" | "/v1/plans/{id}/prices/{price}" => monthly,
        "/v1/plans/{id}/grants" => {
            json!({"feature": ids["features"], "value": {"kind": "enabled"}})
        }
        "/v1/customers/{id}/overrides" => {
            json!({"feature": ids["features"], "action": {"action": "revoke"}})
        }
        "/v1/customers/{id}" => json!({"name": "Renamed"}),
        "/v1/subscriptions/{id}" | "/v1/subscriptions/{id}/preview" => {
            json!({"quantity": 2})
        }
        "/v1/disputes/{id}/evidence" => {
            json!({"evidence": {"uncategorized_text": "Used the service daily."}})
        }
        "/v1/webhook_endpoints/{id}" => json!({"description": "taken over"}),
        _ => json!({}),
    }
}

/// `method path` with `key` (or none) and, for writes, `body`; the status
/// and JSON answer.
async fn call_route(
    app: &TestApp,
    method: &Method,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request =
        reqwest::Client::new().request(method.clone(), format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if *method == Method::POST {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// What the merchant's key reads on every `GET` route (its own ids in the
/// path), error bodies without their request id: equal before and after
/// means nothing the merchant can see was changed.
async fn api_view(app: &TestApp, merchant: &Merchant) -> BTreeMap<String, (StatusCode, Value)> {
    let mut view = BTreeMap::new();
    for (method, pattern) in api_routes() {
        if method != Method::GET {
            continue;
        }
        let path = fill(pattern, &merchant.ids);
        let (status, mut body) =
            call_route(app, &method, &path, Some(&merchant.key), &json!({})).await;
        if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
            error.remove("request_id");
        }
        view.insert(path, (status, body));
    }
    view
}

/// Every table's row count: a refused request adds or deletes none.
async fn row_counts(app: &TestApp) -> BTreeMap<String, i64> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let backend = db.get_database_backend();
    let tables = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
    };
    let mut counts = BTreeMap::new();
    for row in db
        .query_all_raw(Statement::from_string(backend, tables))
        .await
        .unwrap()
    {
        let table: String = row.try_get("", "name").unwrap();
        let count = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM \"{table}\""),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.insert(table, count.try_get::<i64>("", "n").unwrap());
    }
    db.close().await.unwrap();
    counts
}

/// The first id in `table`'s rows matching `filter`.
async fn first_id(app: &TestApp, table: &str, filter: &str) -> String {
    let db = Database::connect(&app.database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM {table} WHERE {filter} ORDER BY id"),
        ))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("a row of {table} where {filter}"));
    db.close().await.unwrap();
    row.try_get("", "id").unwrap()
}

/// Once in-flight work has settled, no table gained or lost a row and
/// `merchant` still sees what it saw before the matrix ran.
async fn assert_untouched(
    app: &TestApp,
    merchant: &Merchant,
    view_before: &BTreeMap<String, (StatusCode, Value)>,
    counts_before: &BTreeMap<String, i64>,
) {
    settle(app).await;
    assert_eq!(&row_counts(app).await, counts_before, "nothing was written");
    assert_eq!(
        &api_view(app, merchant).await,
        view_before,
        "the other tenant's objects are unchanged"
    );
}

/// Waits until the emulator has delivered every webhook, then runs what
/// is due: no write lands while a test compares before and after.
async fn settle(app: &TestApp) {
    let pending = format!("{}/_emulator/webhooks", app.emulator.base_url());
    run_jobs_until(app, "the emulator's deliveries", || async {
        let status: Value = reqwest::get(&pending).await.unwrap().json().await.unwrap();
        status["pending"] == 0
    })
    .await;
    run_jobs(app).await;
}

/// The first object's id in a `/v1` list.
async fn first_listed(app: &TestApp, key: &str, list: &str) -> String {
    let page = app.ok_json(list, key).await;
    page["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{list} lists something: {page}"))
        .to_owned()
}

/// A selling merchant `slug` with one object of every kind the routes name:
/// its catalog, a customer who subscribed and paid (invoice, refund), a saved
/// card, a disputed payment, an override, an API key, a webhook endpoint
/// with a delivery, and the audit and domain events all that recorded.
async fn merchant_with_everything(app: &TestApp, slug: &'static str) -> Merchant {
    selling_tenant(app, slug).await;
    let browser = app.browser();
    browser
        .log_in(&merchant_email(slug), &merchant_password(slug))
        .await;
    let key = browser.create_api_key("backend").await;
    let plans = pricing_catalog(app, &key).await;
    let pro = &plans[1];
    let customer = created(
        app,
        "/v1/customers",
        &key,
        json!({"external_id": "user-1", "email": format!("ada@{slug}.example.com")}),
    )
    .await;
    let checkout = created(
        app,
        "/v1/checkout_sessions",
        &key,
        json!({"plan": pro["id"], "customer": "user-1",
               "success_url": format!("{}/thanks", app.address),
               "cancel_url": format!("{}/pricing", app.address)}),
    )
    .await;
    pay(checkout["url"].as_str().unwrap(), "4242424242424242").await;
    run_jobs_until(app, "the paid invoice mirrored", || async {
        app.ok_json("/v1/invoices", &key).await["data"][0]["status"] == "paid"
    })
    .await;
    let invoice = first_listed(app, &key, "/v1/invoices").await;
    api_post(
        app,
        &key,
        "/v1/refunds",
        json!({"invoice": invoice, "amount": 100}),
    )
    .await;
    let (stripe, account) = tenant_stripe(app, slug).await;
    let card = stripe
        .payment_methods()
        .attach(
            "pm_card_visa",
            customer["stripe_customer_id"].as_str().unwrap(),
            stripe::RequestOptions::new().on_account(account),
        )
        .await
        .unwrap();
    let disputed = created(
        app,
        "/v1/payment_intents",
        &key,
        json!({"customer": "user-1", "amount": 4200, "currency": "usd",
               "payment_method": "pm_card_createDispute"}),
    )
    .await;
    run_jobs_until(app, "the dispute mirrored", || async {
        !app.ok_json("/v1/disputes", &key).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let features = app.ok_json("/v1/features", &key).await;
    let feature = features["data"][0]["id"].as_str().unwrap().to_owned();
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    api_post(
        app,
        &key,
        &format!("/v1/customers/{customer_id}/overrides"),
        json!({"feature": feature, "action": {"action": "revoke"}}),
    )
    .await;
    let endpoint = created(
        app,
        "/v1/webhook_endpoints",
        &key,
        json!({"url": "http://127.0.0.1:9/hooks", "event_types": []}),
    )
    .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let delivery = api_post(
        app,
        &key,
        &format!("/v1/webhook_endpoints/{endpoint_id}/test"),
        json!({}),
    )
    .await;
    settle(app).await;

    let tenant = tenant_id(app, slug).await;
    let mut ids = Ids::new();
    for (kind, id) in [
        ("slug", slug.to_owned()),
        ("action", "archive".to_owned()),
        ("api_keys", first_listed(app, &key, "/v1/api_keys").await),
        (
            "audit_events",
            first_listed(app, &key, "/v1/audit_events").await,
        ),
        ("events", first_listed(app, &key, "/v1/events").await),
        ("features", feature.clone()),
        ("overrides", feature),
        ("plans", pro["id"].as_str().unwrap().to_owned()),
        (
            "prices",
            pro["prices"][0]["id"].as_str().unwrap().to_owned(),
        ),
        ("customers", customer_id),
        ("payment_methods", card.id.to_string()),
        (
            "subscriptions",
            first_listed(app, &key, "/v1/subscriptions").await,
        ),
        ("invoices", invoice),
        ("refunds", first_listed(app, &key, "/v1/refunds").await),
        (
            "payment_intents",
            disputed["id"].as_str().unwrap().to_owned(),
        ),
        ("disputes", first_listed(app, &key, "/v1/disputes").await),
        ("webhook_endpoints", endpoint_id.clone()),
        (
            "webhook_deliveries",
            delivery["id"].as_str().unwrap().to_owned(),
        ),
        // The dashboard's names for the same objects.
        ("webhooks", endpoint_id),
        ("deliveries", delivery["id"].as_str().unwrap().to_owned()),
        // The admin console's objects of this tenant.
        ("admin tenants", tenant.to_string()),
        (
            "admin webhooks",
            first_id(app, "webhook_events", &format!("tenant_id = '{tenant}'")).await,
        ),
        (
            "admin mail",
            first_id(app, "mail_outbox", &format!("tenant_id = '{tenant}'")).await,
        ),
    ] {
        ids.insert(kind.to_owned(), id);
    }
    Merchant {
        slug,
        browser,
        key,
        ids,
    }
}

/// Whether `text` shows any of the objects in `ids` (slugs and actions
/// are words anyone may show).
fn shows_any(text: &str, ids: &Ids) -> Option<String> {
    ids.iter()
        .filter(|(kind, _)| !matches!(kind.as_str(), "slug" | "action"))
        .find(|(_, id)| text.contains(id.as_str()))
        .map(|(kind, id)| format!("{kind} {id}"))
}

#[tokio::test]
async fn every_api_route_answers_404_for_another_tenants_ids_and_lists_only_its_own() {
    let app = spawn_app().await;
    let bob = merchant_with_everything(&app, "bob").await;
    let alice = merchant_with_everything(&app, "alice").await;
    let bob_before = api_view(&app, &bob).await;
    let counts_before = row_counts(&app).await;

    let mut checked = 0;
    for (method, pattern) in api_routes() {
        if !has_params(pattern) {
            continue;
        }
        let mut paths = vec![fill(pattern, &bob.ids)];
        if pattern.matches('{').count() > 1 {
            // Alice's own parent with Bob's child.
            paths.push(fill_mixed(pattern, &alice.ids, &bob.ids));
        }
        for path in paths {
            let (status, body) = call_route(
                &app,
                &method,
                &path,
                Some(&alice.key),
                &api_body(pattern, &bob.ids),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "the route table is read: {checked} calls");

    // Alice's lists show none of Bob's objects.
    for (method, pattern) in api_routes() {
        if method != Method::GET || has_params(pattern) {
            continue;
        }
        let (_, body) = call_route(&app, &method, pattern, Some(&alice.key), &json!({})).await;
        assert_eq!(
            shows_any(&body.to_string(), &bob.ids),
            None,
            "GET {pattern}: {body}"
        );
    }

    assert_untouched(&app, &bob, &bob_before, &counts_before).await;
}

/// Every page.
fn pages() -> impl Iterator<Item = &'static web::WebRoute> {
    web::routes().iter()
}

/// A browser signed in as a customer of `merchant` (its `user-1`) on its
/// `/t/{slug}` account pages.
async fn customer_browser(app: &TestApp, merchant: &Merchant) -> Browser {
    let browser = app.browser();
    let link = account_link(app, &merchant.key, &merchant.ids["customers"]).await;
    let opened = open_link(app, &browser, link["url"].as_str().unwrap()).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let account = format!("/t/{}/account", merchant.slug);
    assert_eq!(browser.get(&account).await.status(), StatusCode::OK);
    browser
}

/// A CSRF token valid for `browser` (its page at `path`).
async fn token_of(browser: &Browser, path: &str) -> String {
    csrf_token_in(&browser.page(path).await)
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_foreign_csrf_token_and_writes_nothing() {
    let app = spawn_app().await;
    let bob = merchant_with_everything(&app, "bob").await;
    let admin = signed_in_admin(&app, "root@platform.example").await;
    let customer = customer_browser(&app, &bob).await;
    let anonymous = app.browser();
    let _ = anonymous.page("/login").await; // its bf_csrf cookie
    // Tokens other browsers were given: signed-in ones and an anonymous one.
    let admin_token = token_of(&admin, "/admin").await;
    let merchant_token = token_of(&bob.browser, "/dashboard").await;
    let anonymous_token = token_of(&app.browser(), "/signup").await;
    let bob_before = api_view(&app, &bob).await;
    let counts_before = row_counts(&app).await;

    let mut checked = 0;
    for page in pages().filter(|page| page.method == "post") {
        let path = fill(page.path, &bob.ids);
        let callers: Vec<&Browser> = match page.access {
            Access::Public => vec![&anonymous, &bob.browser],
            Access::Merchant => vec![&bob.browser],
            Access::Admin => vec![&admin],
            Access::Customer => vec![&customer],
        };
        for caller in callers {
            let signed_in_token = if std::ptr::eq(caller, &admin) {
                &merchant_token
            } else {
                &admin_token
            };
            for form in [
                vec![],
                vec![("csrf_token", signed_in_token.as_str())],
                vec![("csrf_token", anonymous_token.as_str())],
            ] {
                let response = caller.post_form(&path, &form).await;
                let status = response.status();
                let text = response.text().await.unwrap();
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "POST {path} {form:?}: {text}"
                );
                assert!(
                    text.contains("did not come from this site"),
                    "POST {path}: {text}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 40, "the page table is read: {checked} posts");

    // Every caller is still signed in; nothing was written.
    assert_eq!(bob.browser.get("/dashboard").await.status(), StatusCode::OK);
    assert_eq!(admin.get("/admin").await.status(), StatusCode::OK);
    let account = format!("/t/{}/account", bob.slug);
    assert_eq!(customer.get(&account).await.status(), StatusCode::OK);
    assert_untouched(&app, &bob, &bob_before, &counts_before).await;
}

/// Where a page sends a visitor it does not let in.
fn login_of(access: Access, slug: &str) -> Option<String> {
    match access {
        Access::Public => None,
        Access::Merchant => Some("/login".to_owned()),
        Access::Admin => Some("/admin/login".to_owned()),
        Access::Customer => Some(format!("/t/{slug}/account/sign-in")),
    }
}

#[tokio::test]
async fn every_page_lets_in_only_the_kind_of_caller_its_table_entry_names() {
    let app = spawn_app().await;
    let bob = merchant_with_everything(&app, "bob").await;
    let admin = signed_in_admin(&app, "root@platform.example").await;
    let customer = customer_browser(&app, &bob).await;
    let anonymous = app.browser();
    let account = format!("/t/{}/account", bob.slug);
    // Each caller with a token of its own, so a refusal is about who calls.
    let callers = [
        (None, &anonymous, token_of(&anonymous, "/login").await),
        (
            Some(Access::Merchant),
            &bob.browser,
            token_of(&bob.browser, "/dashboard").await,
        ),
        (
            Some(Access::Admin),
            &admin,
            token_of(&admin, "/admin").await,
        ),
        (
            Some(Access::Customer),
            &customer,
            token_of(&customer, &account).await,
        ),
    ];
    let bob_before = api_view(&app, &bob).await;
    let counts_before = row_counts(&app).await;

    let (mut checked, mut wrong) = (0, Vec::new());
    for page in pages() {
        let Some(login) = login_of(page.access, bob.slug) else {
            continue;
        };
        let path = fill(page.path, &bob.ids);
        for (kind, caller, token) in &callers {
            if *kind == Some(page.access) {
                continue;
            }
            let response = if page.method == "get" {
                caller.get(&path).await
            } else {
                caller
                    .post_form(&path, &[("csrf_token", token.as_str())])
                    .await
            };
            let location = response.headers().get("location").cloned();
            if response.status() != StatusCode::SEE_OTHER
                || location.as_ref().is_none_or(|to| to != login.as_str())
            {
                let status = response.status();
                let text = response.text().await.unwrap();
                let why: String = text
                    .split("<p>")
                    .nth(1)
                    .unwrap_or(&text)
                    .chars()
                    .take(120)
                    .collect();
                wrong.push(format!(
                    "{} {path} by {kind:?}: {status} {location:?} {why}",
                    page.method
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "let in, or turned away otherwise:\n{}",
        wrong.join("\n")
    );
    assert!(
        checked >= 4 * 40,
        "the page table is read: {checked} requests"
    );

    assert_untouched(&app, &bob, &bob_before, &counts_before).await;
}

#[tokio::test]
async fn every_merchant_and_customer_page_answers_404_for_another_tenants_ids() {
    let app = spawn_app().await;
    let bob = merchant_with_everything(&app, "bob").await;
    let alice = merchant_with_everything(&app, "alice").await;
    let alice_customer = customer_browser(&app, &alice).await;
    // Alice's callers, each on her own pages, naming Bob's objects.
    let mut bobs_objects = bob.ids.clone();
    bobs_objects.insert("slug".to_owned(), alice.slug.to_owned());
    let merchant_token = token_of(&alice.browser, "/dashboard").await;
    let customer_token = token_of(&alice_customer, &format!("/t/{}/account", alice.slug)).await;
    let bob_before = api_view(&app, &bob).await;
    let counts_before = row_counts(&app).await;

    let mut checked = 0;
    for page in pages().filter(|page| names_an_object(page.path)) {
        let (caller, token) = match page.access {
            Access::Merchant => (&alice.browser, &merchant_token),
            Access::Customer => (&alice_customer, &customer_token),
            // Public pages name only the shop; admins see every tenant.
            Access::Public | Access::Admin => continue,
        };
        let path = fill(page.path, &bobs_objects);
        let response = if page.method == "get" {
            caller.get(&path).await
        } else {
            caller
                .post_form(&path, &[("csrf_token", token.as_str())])
                .await
        };
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{} {path}: {text}",
            page.method
        );
        assert_eq!(shows_any(&text, &bob.ids), None, "{} {path}", page.method);
        checked += 1;
    }
    assert!(checked >= 20, "the page table is read: {checked} requests");

    // Alice's own pages list none of Bob's objects.
    for page in pages().filter(|page| page.method == "get" && !has_params(page.path)) {
        if page.access != Access::Merchant {
            continue;
        }
        let html = alice.browser.get(page.path).await.text().await.unwrap();
        assert_eq!(shows_any(&html, &bob.ids), None, "GET {}", page.path);
    }
    let account = alice_customer
        .page(&format!("/t/{}/account", alice.slug))
        .await;
    assert_eq!(
        shows_any(&account, &bob.ids),
        None,
        "Alice's customer's account"
    );

    assert_untouched(&app, &bob, &bob_before, &counts_before).await;
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_unknown_key_and_a_suspended_tenant() {
    let app = spawn_app().await;
    let merchant = app.signed_up_merchant("paused").await;
    let key = merchant.create_api_key("backend").await;
    let tenant_id: billing::ids::TenantId = app.ok_json("/v1/tenant", &key).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Path parameters filled with an id nobody has: the guard answers
    // before any handler looks it up.
    let routes: Vec<(Method, String)> = api_routes()
        .into_iter()
        .map(|(method, pattern)| {
            let path = pattern
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        "obj_01jnobodyhasthis"
                    } else {
                        s
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (method, path)
        })
        .collect();
    assert!(routes.len() >= 40, "the route table is read");
    let body = json!({});
    for (method, path) in &routes {
        let (status, answer) = call_route(&app, method, path, None, &body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_eq!(
            answer["error"]["code"], "missing_api_key",
            "{method} {path}"
        );
        let (status, answer) =
            call_route(&app, method, path, Some("bf_test_notakeyanyonehas"), &body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_eq!(
            answer["error"]["code"], "invalid_api_key",
            "{method} {path}"
        );
    }
    app.platform
        .store()
        .set_tenant_status(
            &tenant_id,
            store::TenantStatus::Suspended,
            &crate::harness::test_ctx(&app, "suspend"),
        )
        .await
        .unwrap()
        .unwrap();
    app.platform.forget_api_callers();
    for (method, path) in &routes {
        let (status, answer) = call_route(&app, method, path, Some(&key), &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(
            answer["error"]["code"], "tenant_suspended",
            "{method} {path}"
        );
    }
}
