//! Health, readiness, metrics, request ids and the friendly 404s.

use reqwest::StatusCode;

use crate::harness::{assert_api_error, spawn_app};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["database"],
        "ok"
    );

    client
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(text.contains(
        r#"http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200""#
    ));
}

#[tokio::test]
async fn every_response_has_a_request_id_and_errors_quote_it() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let generated = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert!(
        generated.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );

    let echoed = client
        .get(format!("{}/v1/tenant", app.address))
        .header("x-request-id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc_123");
    let body: serde_json::Value = echoed.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "trace-abc_123");

    let unsafe_id = client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert!(
        unsafe_id.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test]
async fn unknown_paths_get_html_404s_on_the_site_and_json_404s_on_the_api() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/nowhere", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("Page not found"));

    let api = client
        .get(format!("{}/v1/nowhere", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "route_not_found");
}

#[tokio::test]
async fn a_wrong_method_on_an_api_path_is_405_with_the_allowed_ones() {
    let app = spawn_app().await;
    let key = app
        .signed_up_merchant("verbs")
        .await
        .create_api_key("verbs")
        .await;
    for (method, path, allowed) in [
        (reqwest::Method::PUT, "/v1/plans", "GET, POST"),
        (reqwest::Method::DELETE, "/v1/plans/plan_anything", "GET"),
        (reqwest::Method::PATCH, "/v1/customers/cus_1", "GET, POST"),
        (reqwest::Method::GET, "/v1/api_keys/key_1/nowhere", ""),
    ] {
        let response = app.api(method.clone(), path, &key).send().await.unwrap();
        let status = response.status();
        let allow = response
            .headers()
            .get("allow")
            .map(|value| value.to_str().unwrap().to_owned());
        let body: serde_json::Value = response.json().await.unwrap();
        if allowed.is_empty() {
            assert_api_error((status, body), StatusCode::NOT_FOUND, "route_not_found");
            assert_eq!(allow, None, "{method} {path}");
        } else {
            assert_api_error(
                (status, body),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            );
            assert_eq!(allow.as_deref(), Some(allowed), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn the_migrate_command_creates_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fresh.sqlite?mode=rwc", dir.path().display());
    let cli =
        <billforge::cli::Cli as clap::Parser>::try_parse_from(["billforge", "migrate"]).unwrap();
    let env = |name: &str| (name == "DATABASE_URL").then(|| url.clone());
    billforge::cli::execute(cli, &env, &mut std::io::empty(), false)
        .await
        .expect("migrate");

    let store = store::Store::connect(&url).await.unwrap();
    assert!(
        store.tenants().await.unwrap().is_empty(),
        "the tenants table exists"
    );
}

/// The platform's Stripe adapter talks to the test's own emulator over HTTP:
/// what the app creates there is visible to any other Stripe client.
#[tokio::test]
async fn the_platform_talks_to_its_stripe_emulator() {
    let app = spawn_app().await;
    let params = stripe::CreateCustomer {
        email: Some("ada@example.com".to_owned()),
        ..Default::default()
    };
    let created = app
        .platform
        .stripe()
        .customers()
        .create(&params, stripe::RequestOptions::new())
        .await
        .expect("customer created on the emulator");

    let seen: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/customers/{}",
            app.emulator.base_url(),
            created.id
        ))
        .bearer_auth("sk_test_another_client")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["object"], "customer");
    assert_eq!(seen["email"], "ada@example.com");
}
