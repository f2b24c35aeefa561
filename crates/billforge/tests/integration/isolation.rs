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
