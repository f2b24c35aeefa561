//! The `/v1` API: bearer keys, suspended tenants, body validation, and the
//! `admin create` command that makes the admin who suspends.

use reqwest::{Method, StatusCode};

use crate::harness::{TestApp, assert_api_error, spawn_app};

async fn merchant_with_key(app: &TestApp, slug: &str) -> String {
    app.signed_up_merchant(slug)
        .await
        .create_api_key("main")
        .await
}

async fn key_count(app: &TestApp) -> usize {
    let tenant_id = app.platform.store().tenants().await.unwrap()[0]
        .id
        .parse()
        .unwrap();
    app.platform.api_keys(&tenant_id).await.unwrap().len()
}

#[tokio::test]
async fn a_bearer_key_resolves_its_tenant() {
    let app = spawn_app().await;
    let key = merchant_with_key(&app, "resolver").await;
    let response = app
        .api(Method::GET, "/v1/tenant", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tenant: serde_json::Value = response.json().await.unwrap();
    assert_eq!(tenant["slug"], "resolver");
    assert_eq!(tenant["object"], "tenant");
    assert_eq!(tenant["status"], "onboarding");

    let lower_case_scheme = reqwest::Client::new()
        .get(format!("{}/v1/tenant", app.address))
        .header("authorization", format!("bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case_scheme.status(), StatusCode::OK);

    let keys = app.ok_json("/v1/api_keys", &key).await;
    assert!(
        keys["data"][0]["last_used_at"].is_string(),
        "last use is recorded"
    );

    for (header, code) in [
        (None, "missing_api_key"),
        (Some("Bearer bf_test_nope"), "invalid_api_key"),
        (Some("Bearer sk_test_x"), "invalid_api_key"),
    ] {
        let mut request = reqwest::Client::new().get(format!("{}/v1/tenant", app.address));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
}

#[tokio::test]
async fn an_admin_created_on_the_command_line_can_suspend_a_tenant() {
    let app = spawn_app().await;
    let suspect = app.signed_up_merchant("suspect").await;
    let key = suspect.create_api_key("main").await;

    let cli = <billforge::cli::Cli as clap::Parser>::try_parse_from([
        "billforge",
        "admin",
        "create",
        "--email",
        "root@platform.example.com",
    ])
    .unwrap();
    let database_url = app.database_url.clone();
    let env = move |name: &str| (name == "DATABASE_URL").then(|| database_url.clone());
    let mut stdin = std::io::Cursor::new(b"admin-password-1234\n".to_vec());
    billforge::cli::execute(cli, &env, &mut stdin, false)
        .await
        .expect("admin create");

    let admin = app.browser();
    // The merchant door does not let admins in, the admin door does.
    assert_eq!(
        admin
            .log_in("root@platform.example.com", "admin-password-1234")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let login = admin
        .submit(
            "/admin/login",
            "/admin/login",
            &[
                ("email", "root@platform.example.com"),
                ("password", "admin-password-1234"),
            ],
        )
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let tenants_page = admin.page("/admin").await;
    assert!(tenants_page.contains("suspect"));

    let tenant_id = app.platform.store().tenants().await.unwrap()[0].id.clone();
    let suspend = admin
        .submit(
            "/admin",
            &format!("/admin/tenants/{tenant_id}/suspend"),
            &[],
        )
        .await;
    assert_eq!(suspend.status(), StatusCode::SEE_OTHER);

    assert_api_error(
        app.call(Method::GET, "/v1/tenant", &key).await,
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    );
    assert!(
        suspect
            .page("/dashboard")
            .await
            .contains("This account is suspended")
    );

    let reactivate = admin
        .submit(
            "/admin",
            &format!("/admin/tenants/{tenant_id}/reactivate"),
            &[],
        )
        .await;
    assert_eq!(reactivate.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.api(Method::GET, "/v1/tenant", &key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The platform fee: set from the console, refused when malformed.
    let fee = admin
        .submit(
            "/admin",
            &format!("/admin/tenants/{tenant_id}/fee"),
            &[("fee_percent", "1.75")],
        )
        .await;
    assert_eq!(fee.status(), StatusCode::SEE_OTHER);
    let fee_of = || async { app.platform.store().tenants().await.unwrap()[0].platform_fee_bps };
    assert_eq!(fee_of().await, 175);
    assert!(admin.page("/admin").await.contains("value=\"1.75\""));
    let refused = admin
        .submit(
            "/admin",
            &format!("/admin/tenants/{tenant_id}/fee"),
            &[("fee_percent", "12.345")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(
            "value=\"12.345\" aria-invalid=\"true\" aria-describedby=\"fee_percent-error\""
        ),
        "the tenant's page, with the typed fee: {page}"
    );
    assert!(page.contains("id=\"fee_percent-error\" role=\"alert\">"));
    assert_eq!(fee_of().await, 175);

    let audit = admin.page("/admin/audit").await;
    assert!(audit.contains("tenant.fee_changed"));
    assert!(
        audit.contains("tenant.suspended")
            && audit.contains("tenant.active")
            && audit.contains("admin.created")
    );

    // A merchant session cannot reach the console.
    let merchant = app.signed_up_merchant("curious").await;
    let denied = merchant.get("/admin").await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    assert_eq!(denied.headers()["location"], "/admin/login");
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors_and_write_nothing() {
    let app = spawn_app().await;
    let key = merchant_with_key(&app, "strict").await;
    let before = key_count(&app).await;

    let cases: [(&str, Vec<u8>, StatusCode, &str); 5] = [
        (
            "application/json",
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        // Serde reads a struct from an array too, field by field: the API
        // takes objects only.
        (
            "application/json",
            b"[\"x\"]".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "application/json",
            b"{\"name\": \"x\", \"admin\": true}".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "application/json",
            format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "text/plain",
            b"{\"name\": \"x\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let response = app
            .api(Method::POST, "/v1/api_keys", &key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{code}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code);
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(error["error"]["request_id"], request_id.as_str());
    }
    let nameless = app
        .api(Method::POST, "/v1/api_keys", &key)
        .json(&serde_json::json!({"name": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(nameless.status(), StatusCode::BAD_REQUEST);
    let error: serde_json::Value = nameless.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_request");
    assert_eq!(error["error"]["param"], "name");
    assert_eq!(key_count(&app).await, before, "nothing written");

    let created = app
        .api(Method::POST, "/v1/api_keys", &key)
        .json(&serde_json::json!({"name": "from api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.unwrap();
    let new_secret = created["secret"].as_str().unwrap();
    assert_eq!(
        app.api(Method::GET, "/v1/tenant", new_secret)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn responses_keep_their_documented_shape() {
    let app = spawn_app().await;
    let key = merchant_with_key(&app, "shapely").await;

    let tenant = app.ok_json("/v1/tenant", &key).await;
    insta::assert_json_snapshot!("tenant", tenant, {".id" => "[id]", ".created_at" => "[time]"});

    let (status, created) = app.call(Method::POST, "/v1/api_keys", &key).await;
    assert_eq!(
        status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a POST without a body is refused"
    );
    insta::assert_json_snapshot!("error", created, {".error.request_id" => "[request id]"});

    let keys = app.ok_json("/v1/api_keys", &key).await;
    insta::assert_json_snapshot!("api_keys", keys, {
        ".data[].id" => "[id]",
        ".data[].prefix" => "[prefix]",
        ".data[].created_at" => "[time]",
        ".data[].last_used_at" => "[time]",
    });

    let mut events = app.ok_json("/v1/audit_events", &key).await;
    // Entries written in the same millisecond have no defined order.
    events["data"]
        .as_array_mut()
        .unwrap()
        .sort_by_key(|event| event["action"].to_string());
    insta::assert_json_snapshot!("audit_events", events, {
        ".data[].id" => "[id]",
        ".data[].actor_id" => "[id]",
        ".data[].target_id" => "[id]",
        ".data[].request_id" => "[request id]",
        ".data[].created_at" => "[time]",
    });
}
