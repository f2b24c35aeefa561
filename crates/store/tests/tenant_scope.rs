//! The tenant scope at the SQL boundary: one tenant's scope never sees or
//! changes another tenant's rows, and every mutation leaves an audit entry.

use billing::ids::{ApiKeyId, UserId};
use chrono::Utc;
use store::{
    Actor, ApiKeyMode, AuditContext, NewApiKey, NewTenant, NewUser, Store, StoreError, Tenant,
};

async fn fresh_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}/t.sqlite?mode=rwc", dir.path().display());
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

async fn sign_up(store: &Store, slug: &str) -> Tenant {
    let (tenant, _owner) = store
        .create_tenant_with_owner(
            NewTenant {
                slug: slug.into(),
                name: slug.into(),
            },
            NewUser {
                email: format!("{slug}@example.com"),
                password_hash: "x".into(),
            },
            "req_test",
            Utc::now(),
        )
        .await
        .expect("sign up");
    tenant
}

fn ctx() -> AuditContext {
    AuditContext {
        actor: Actor::user(&UserId::generate()),
        request_id: "req_scope".into(),
        now: Utc::now(),
    }
}

fn new_key(hash: &str) -> NewApiKey {
    NewApiKey {
        name: "ci".into(),
        prefix: "bf_test_abcd".into(),
        key_hash: hash.into(),
        mode: ApiKeyMode::Test,
    }
}

#[tokio::test]
async fn a_scope_never_reaches_another_tenants_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let a = sign_up(&store, "alpha").await;
    let b = sign_up(&store, "beta").await;
    let a_id = a.id.parse().unwrap();
    let b_id = b.id.parse().unwrap();

    let b_key = store
        .scoped(&b_id)
        .create_api_key(new_key("hash-b"), None, &ctx())
        .await
        .unwrap();
    let b_key_id: ApiKeyId = b_key.id.parse().unwrap();

    let a_scope = store.scoped(&a_id);
    assert!(a_scope.api_keys().await.unwrap().is_empty());
    assert_eq!(a_scope.api_key(&b_key_id).await.unwrap(), None);
    assert_eq!(
        a_scope.revoke_api_key(&b_key_id, &ctx()).await.unwrap(),
        None
    );
    let still_live = store
        .scoped(&b_id)
        .api_key(&b_key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still_live.revoked_at, None);

    let a_events = a_scope.audit_events(100).await.unwrap();
    assert!(
        a_events
            .iter()
            .all(|event| event.tenant_id.as_deref() == Some(a.id.as_str()))
    );
    assert!(!a_events.iter().any(|event| event.target_id == b_key.id));
}

#[tokio::test]
async fn mutations_are_audited_and_duplicates_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let tenant = sign_up(&store, "gamma").await;
    let tenant_id = tenant.id.parse().unwrap();
    let scope = store.scoped(&tenant_id);
    let key = scope
        .create_api_key(new_key("hash-g"), None, &ctx())
        .await
        .unwrap();
    scope
        .revoke_api_key(&key.id.parse().unwrap(), &ctx())
        .await
        .unwrap();

    let mut actions: Vec<String> = scope
        .audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "api_key.created",
            "api_key.revoked",
            "tenant.created",
            "user.created"
        ]
    );

    let duplicate = store
        .create_tenant_with_owner(
            NewTenant {
                slug: "gamma".into(),
                name: "again".into(),
            },
            NewUser {
                email: "other@example.com".into(),
                password_hash: "x".into(),
            },
            "req_dup",
            Utc::now(),
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate)));
    assert_eq!(
        store.tenants().await.unwrap().len(),
        1,
        "nothing half-written"
    );
}

#[tokio::test]
async fn the_first_stored_setting_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let first = store
        .setting_or_insert("secret_key", "one", Utc::now())
        .await
        .unwrap();
    let second = store
        .setting_or_insert("secret_key", "two", Utc::now())
        .await
        .unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
}

#[tokio::test]
async fn foreign_keys_are_enforced_on_sqlite_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(&dir).await;
    let tenant = sign_up(&store, "delta").await;
    let mut ghost = store
        .user_by_email("delta@example.com")
        .await
        .unwrap()
        .unwrap();
    ghost.id = UserId::generate().to_string();
    let orphan = store
        .create_session(&ghost, "token-hash".into(), Utc::now(), &ctx())
        .await;
    assert!(
        orphan.is_err(),
        "a session for a missing user must be refused"
    );
    let users = store
        .scoped(&tenant.id.parse().unwrap())
        .users()
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
}
