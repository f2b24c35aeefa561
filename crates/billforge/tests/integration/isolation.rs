//! A user or key of tenant A gets 404 for every resource of tenant B.

use reqwest::{Method, StatusCode};

use crate::harness::{assert_api_error, spawn_app};

#[tokio::test]
async fn tenants_cannot_see_or_touch_each_others_resources() {
    let app = spawn_app().await;
    let alice = app.signed_up_merchant("alice").await;
    let bob = app.signed_up_merchant("bob").await;
    let alice_key = alice.create_api_key("alice key").await;
    let bob_key = bob.create_api_key("bob key").await;

    let bob_keys = app.ok_json("/v1/api_keys", &bob_key).await;
    let bob_key_id = bob_keys["data"][0]["id"].as_str().unwrap().to_owned();

    let bob_audit = app.ok_json("/v1/audit_events", &bob_key).await;
    let bob_event_id = bob_audit["data"][0]["id"].as_str().unwrap().to_owned();
    let own = app
        .ok_json(&format!("/v1/audit_events/{bob_event_id}"), &bob_key)
        .await;
    assert_eq!(own["id"], bob_event_id.as_str());

    // API: Alice's key.
    let path = format!("/v1/audit_events/{bob_event_id}");
    assert_api_error(
        app.call(Method::GET, &path, &alice_key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for method in [Method::GET, Method::DELETE] {
        let path = format!("/v1/api_keys/{bob_key_id}");
        assert_api_error(
            app.call(method, &path, &alice_key).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let alice_keys = app.ok_json("/v1/api_keys", &alice_key).await;
    assert_eq!(alice_keys["data"].as_array().unwrap().len(), 1);
    assert!(!alice_keys.to_string().contains(&bob_key_id));
    let alice_audit = app.ok_json("/v1/audit_events", &alice_key).await;
    assert!(!alice_audit["data"].as_array().unwrap().is_empty());
    assert!(!alice_audit.to_string().contains(&bob_key_id));
    assert!(!alice_audit.to_string().contains(&bob_event_id));

    // Web: Alice's session.
    let revoke = alice
        .submit(
            "/dashboard",
            &format!("/dashboard/api_keys/{bob_key_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NOT_FOUND);
    assert!(revoke.text().await.unwrap().contains("no such api key"));
    let alice_audit_page = alice.page("/dashboard/audit").await;
    let alice_key_id = alice_keys["data"][0]["id"].as_str().unwrap();
    assert!(
        alice_audit_page.contains(alice_key_id),
        "the page lists key targets"
    );
    assert!(!alice_audit_page.contains(&bob_key_id));
    assert!(!alice.page("/dashboard").await.contains("bob key"));

    // Bob's key survived both attempts.
    assert_eq!(
        app.api(Method::GET, "/v1/tenant", &bob_key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// Every `/v1` route as a request: path parameters filled with an id nobody
/// has (the guard answers before any handler looks it up).
fn every_route() -> Vec<(Method, String)> {
    api::ROUTES
        .iter()
        .map(|(method, path)| {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let path = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "obj_01jnobodyhasthis"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (method, path)
        })
        .collect()
}

/// `method path` with `key` (or no key) and a JSON body for writes; the
/// status and JSON answer.
async fn call_route(
    app: &crate::harness::TestApp,
    method: &Method,
    path: &str,
    key: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut request =
        reqwest::Client::new().request(method.clone(), format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if *method == Method::POST {
        request = request.json(&serde_json::json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
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
    let routes = every_route();
    assert!(routes.len() >= 40, "the route table is read");
    for (method, path) in &routes {
        let (status, body) = call_route(&app, method, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "missing_api_key", "{method} {path}");
        let (status, body) = call_route(&app, method, path, Some("bf_test_notakeyanyonehas")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_api_key", "{method} {path}");
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
        let (status, body) = call_route(&app, method, path, Some(&key)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "tenant_suspended", "{method} {path}");
    }
}
