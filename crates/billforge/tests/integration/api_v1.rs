//! The tenant API's conventions and routes over HTTP: pagination,
//! idempotency keys, rate limits, catalog and events, the OpenAPI spec.

use billing::events::DomainEvent;
use billing::ids::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::domain_events::NewDomainEvent;

use crate::harness::{TestApp, assert_api_error, spawn_app, spawn_app_with};

/// A merchant's API key and tenant id.
async fn merchant(app: &TestApp, slug: &str) -> (String, TenantId) {
    let key = app
        .signed_up_merchant(slug)
        .await
        .create_api_key("main")
        .await;
    let tenant = app.ok_json("/v1/tenant", &key).await;
    (key, tenant["id"].as_str().unwrap().parse().unwrap())
}

/// `POST path` with a JSON body and optional idempotency key.
async fn post(
    app: &TestApp,
    path: &str,
    key: &str,
    body: &Value,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut request = app.api(Method::POST, path, key).json(body);
    if let Some(idempotency_key) = idempotency_key {
        request = request.header("idempotency-key", idempotency_key);
    }
    request.send().await.unwrap()
}

/// Status and JSON of a response.
async fn parts(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn flag(lookup_key: &str) -> Value {
    json!({"lookup_key": lookup_key, "name": lookup_key, "kind": {"kind": "flag"}})
}

fn monthly(amount_minor: i64) -> Value {
    json!({"currency": "usd", "interval": {"unit": "month", "count": 1},
           "model": {"kind": "flat", "amount_minor": amount_minor}})
}

#[tokio::test]
async fn catalog_routes_create_read_archive_and_stay_within_the_tenant() {
    let app = spawn_app().await;
    let (key, _) = merchant(&app, "acme").await;
    let (other, _) = merchant(&app, "rival").await;

    let (status, feature) = parts(post(&app, "/v1/features", &key, &flag("sso"), None).await).await;
    assert_eq!(status, StatusCode::CREATED, "{feature}");
    assert_eq!(feature["object"], "feature");
    assert_eq!(feature["kind"]["kind"], "flag");
    let feature_id = feature["id"].as_str().unwrap();
    assert_eq!(
        app.ok_json(&format!("/v1/features/{feature_id}"), &key)
            .await["lookup_key"],
        "sso"
    );

    let (status, plan) = parts(
        post(
            &app,
            "/v1/plans",
            &key,
            &json!({"name": "Pro", "trial_days": 14, "prices": [monthly(2900)]}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["prices"][0]["model"]["amount_minor"], 2900);
    assert_eq!(plan["sync_status"], "pending");
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let price_id = plan["prices"][0]["id"].as_str().unwrap().to_owned();

    let (status, with_yearly) = parts(
        post(
            &app,
            &format!("/v1/plans/{plan_id}/prices"),
            &key,
            &monthly(29000),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{with_yearly}");
    assert_eq!(with_yearly["prices"].as_array().unwrap().len(), 2);
    let (status, replaced) = parts(
        post(
            &app,
            &format!("/v1/plans/{plan_id}/prices/{price_id}"),
            &key,
            &monthly(3900),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let old = replaced["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == price_id.as_str())
        .unwrap();
    assert_eq!(
        old["archived"], true,
        "a replaced price is archived (grandfathered)"
    );

    let (status, grants) = parts(
        post(
            &app,
            &format!("/v1/plans/{plan_id}/grants"),
            &key,
            &json!({"feature": feature_id, "value": {"kind": "enabled"}}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{grants}");
    assert_eq!(grants["data"][0]["feature"], feature_id);

    let (status, archived) = parts(
        post(
            &app,
            &format!("/v1/plans/{plan_id}/archive"),
            &key,
            &json!({}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, archived["archived"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (_, restored) = parts(
        post(
            &app,
            &format!("/v1/plans/{plan_id}/unarchive"),
            &key,
            &json!({}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(restored["archived"], false);
    let (_, archived) = parts(
        post(
            &app,
            &format!("/v1/features/{feature_id}/archive"),
            &key,
            &json!({}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(archived["archived"], true);
    let (_, restored) = parts(
        post(
            &app,
            &format!("/v1/features/{feature_id}/unarchive"),
            &key,
            &json!({}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(restored["archived"], false);
    let plans = app.ok_json("/v1/plans", &key).await;
    assert_eq!(plans["data"][0]["id"], plan_id.as_str());
    assert_eq!(plans["data"][0]["prices"].as_array().unwrap().len(), 3);

    // Another tenant's objects do not exist for this key, reading or writing.
    for path in [
        format!("/v1/features/{feature_id}"),
        format!("/v1/plans/{plan_id}"),
    ] {
        assert_api_error(
            app.call(Method::GET, &path, &other).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    for path in [
        format!("/v1/features/{feature_id}/archive"),
        format!("/v1/plans/{plan_id}/archive"),
        format!("/v1/plans/{plan_id}/prices"),
    ] {
        let body = if path.ends_with("prices") {
            monthly(1)
        } else {
            json!({})
        };
        assert_api_error(
            parts(post(&app, &path, &other, &body, None).await).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_eq!(app.ok_json("/v1/plans", &other).await["data"], json!([]));
    let (status, _) = parts(
        post(
            &app,
            "/v1/plans/plan_nope/grants",
            &key,
            &json!({"feature": feature_id, "value": {"kind": "enabled"}}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // No key, no access.
    let anonymous = reqwest::Client::new()
        .get(format!("{}/v1/features", app.address))
        .send()
        .await
        .unwrap();
    assert_api_error(
        parts(anonymous).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
    );
}

#[tokio::test]
async fn invalid_catalog_input_is_a_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let (key, _) = merchant(&app, "strict").await;
    let (status, body) =
        parts(post(&app, "/v1/features", &key, &flag("Not A Key!"), None).await).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    assert_eq!(body["error"]["param"], "lookup_key");
    let bad_currency = json!({"name": "Pro", "prices": [{"currency": "xx", "interval": {"unit": "month", "count": 1}, "model": {"kind": "flat", "amount_minor": 1}}]});
    let (status, body) = parts(post(&app, "/v1/plans", &key, &bad_currency, None).await).await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("currency"))
    );
    let (status, body) = parts(
        post(
            &app,
            "/v1/plans",
            &key,
            &json!({"name": "Pro", "colour": "red"}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_json"))
    );
    assert_eq!(app.ok_json("/v1/features", &key).await["data"], json!([]));
    assert_eq!(app.ok_json("/v1/plans", &key).await["data"], json!([]));
}

#[tokio::test]
async fn lists_page_with_limit_and_starting_after() {
    let app = spawn_app().await;
    let (key, _) = merchant(&app, "pager").await;
    let (other, _) = merchant(&app, "stranger").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (_, feature) =
            parts(post(&app, "/v1/features", &key, &flag(&format!("f{n}")), None).await).await;
        ids.push(feature["id"].as_str().unwrap().to_owned());
    }
    let (_, foreign) = parts(post(&app, "/v1/features", &other, &flag("theirs"), None).await).await;

    let first = app.ok_json("/v1/features?limit=2", &key).await;
    assert_eq!(first["object"], "list");
    assert_eq!(first["url"], "/v1/features");
    assert_eq!(first["has_more"], true);
    assert_eq!(
        first["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(ids[0]), json!(ids[1])]
    );
    let rest = app
        .ok_json(
            &format!("/v1/features?limit=2&starting_after={}", ids[1]),
            &key,
        )
        .await;
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"][0]["id"], ids[2].as_str());
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    let exact = app.ok_json("/v1/features?limit=3", &key).await;
    assert_eq!(
        (
            exact["data"].as_array().unwrap().len(),
            exact["has_more"].clone()
        ),
        (3, json!(false))
    );
    assert_eq!(
        app.ok_json("/v1/features", &key).await["data"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "default limit 10"
    );
    let end = app
        .ok_json(&format!("/v1/features?starting_after={}", ids[2]), &key)
        .await;
    assert_eq!(
        (end["data"].clone(), end["has_more"].clone()),
        (json!([]), json!(false))
    );

    for query in ["limit=0", "limit=101", "limit=-1"] {
        let (status, body) = app
            .call(Method::GET, &format!("/v1/features?{query}"), &key)
            .await;
        assert_eq!(
            (status, body["error"]["param"].clone()),
            (StatusCode::BAD_REQUEST, json!("limit")),
            "{query}"
        );
    }
    assert_eq!(
        app.ok_json("/v1/features?limit=100", &key).await["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (status, body) = app.call(Method::GET, "/v1/features?limit=ten", &key).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    // Another tenant's id is not a cursor here.
    let foreign_cursor = format!(
        "/v1/features?starting_after={}",
        foreign["id"].as_str().unwrap()
    );
    let (status, body) = app.call(Method::GET, &foreign_cursor, &key).await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("starting_after"))
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_refuses_reuse_and_expires_after_a_day() {
    let app = spawn_app().await;
    let (key, tenant) = merchant(&app, "retrier").await;
    let (other, _) = merchant(&app, "neighbour").await;

    let first = post(&app, "/v1/features", &key, &flag("seats"), Some("req-1")).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (status, created) = parts(first).await;
    assert_eq!(status, StatusCode::CREATED);
    let again = post(&app, "/v1/features", &key, &flag("seats"), Some("req-1")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (status, replayed) = parts(again).await;
    assert_eq!(
        (status, replayed["id"].clone()),
        (StatusCode::CREATED, created["id"].clone())
    );
    assert_eq!(
        app.ok_json("/v1/features", &key).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "ran once"
    );

    // Same key, another request: refused, nothing written.
    let (status, body) =
        parts(post(&app, "/v1/features", &key, &flag("other"), Some("req-1")).await).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_reused"))
    );
    let (status, body) =
        parts(post(&app, "/v1/plans", &key, &flag("seats"), Some("req-1")).await).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_reused"))
    );
    // Keys are per tenant.
    let (status, _) =
        parts(post(&app, "/v1/features", &other, &flag("seats"), Some("req-1")).await).await;
    assert_eq!(status, StatusCode::CREATED);
    // Errors are replayed too: the client sees the same answer on retry.
    let (status, error) =
        parts(post(&app, "/v1/features", &key, &flag("seats"), Some("req-2")).await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "duplicate lookup key: {error}"
    );
    let (status, replayed) =
        parts(post(&app, "/v1/features", &key, &flag("seats"), Some("req-2")).await).await;
    assert_eq!(
        (status, replayed["error"]["message"].clone()),
        (StatusCode::BAD_REQUEST, error["error"]["message"].clone())
    );

    // A request still running holds its key.
    app.platform
        .claim_idempotency_key(&tenant, "in-flight", "some-other-request")
        .await
        .unwrap();
    let (status, body) =
        parts(post(&app, "/v1/features", &key, &flag("late"), Some("in-flight")).await).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("idempotency_key_in_use"))
    );
    let (status, body) = parts(
        post(
            &app,
            "/v1/features",
            &key,
            &flag("x"),
            Some(&"k".repeat(256)),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("Idempotency-Key"))
    );

    // After 24 hours the key is forgotten and the request runs again.
    app.clock.advance(chrono::TimeDelta::hours(25)).unwrap();
    let (status, body) =
        parts(post(&app, "/v1/features", &key, &flag("seats"), Some("req-1")).await).await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("lookup_key")),
        "ran again: {body}"
    );
}

#[tokio::test]
async fn each_key_is_rate_limited_with_retry_after() {
    let app = spawn_app_with(|settings| {
        settings.api_rate_limit = platform::ApiRateLimit {
            per_second: 1,
            burst: 3,
        };
    })
    .await;
    let (key, _) = merchant(&app, "hasty").await;
    let second_key: String = {
        let (status, body) =
            parts(post(&app, "/v1/api_keys", &key, &json!({"name": "second"}), None).await).await;
        assert_eq!(status, StatusCode::CREATED);
        body["secret"].as_str().unwrap().to_owned()
    };
    // `merchant` used one request of this key's burst, creating the second key another.
    app.ok_json("/v1/tenant", &key).await;
    let response = app
        .api(Method::GET, "/v1/tenant", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_api_error(
        parts(response).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
    app.ok_json("/v1/tenant", &second_key).await;
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once_despite_the_cache() {
    let app = spawn_app().await;
    let (key, _) = merchant(&app, "revoker").await;
    let (_, created) =
        parts(post(&app, "/v1/api_keys", &key, &json!({"name": "temp"}), None).await).await;
    let temp = created["secret"].as_str().unwrap().to_owned();
    app.ok_json("/v1/tenant", &temp).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/api_keys/{}", created["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_api_error(
        app.call(Method::GET, "/v1/tenant", &temp).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    );
}

#[tokio::test]
async fn events_are_listed_paged_and_scoped() {
    let app = spawn_app().await;
    let (key, tenant) = merchant(&app, "watcher").await;
    let (other, _) = merchant(&app, "peer").await;
    for n in 0..3 {
        app.platform
            .store()
            .record_domain_event(
                NewDomainEvent {
                    tenant_id: tenant.clone(),
                    cause: format!("test:{n}"),
                    event: DomainEvent::WebhookEndpointDisabled {
                        endpoint_id: format!("we_{n}"),
                        url: "https://example.com/hook".into(),
                        reason: "HTTP 500".into(),
                    },
                    occurred_at: app.platform.now(),
                },
                app.platform.now(),
            )
            .await
            .unwrap()
            .unwrap();
    }
    let page = app.ok_json("/v1/events?limit=2", &key).await;
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["type"], "webhook_endpoint.disabled");
    assert_eq!(page["data"][0]["data"]["data"]["endpoint_id"], "we_0");
    let last = page["data"][1]["id"].as_str().unwrap();
    let rest = app
        .ok_json(&format!("/v1/events?starting_after={last}"), &key)
        .await;
    assert_eq!(
        (
            rest["data"].as_array().unwrap().len(),
            rest["has_more"].clone()
        ),
        (1, json!(false))
    );
    let id = rest["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.ok_json(&format!("/v1/events/{id}"), &key).await["data"]["data"]["endpoint_id"],
        "we_2"
    );

    assert_api_error(
        app.call(Method::GET, &format!("/v1/events/{id}"), &other)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.ok_json("/v1/events", &other).await["data"], json!([]));
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/v1/events?starting_after={id}"),
            &other,
        )
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("starting_after"))
    );
    let (status, _) = app.call(Method::GET, "/v1/events?limit=101", &key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_spec_and_reference_page_are_served() {
    let app = spawn_app().await;
    let spec: Value = reqwest::get(format!("{}/openapi.json", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for (method, path) in api::ROUTES {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    let page = reqwest::get(format!("{}/docs/api", app.address))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/v1/plans/{id}/prices") && html.contains("PlanView"),
        "{html}"
    );
    assert!(!html.contains("<script"), "no scripts, no CDN");
}
