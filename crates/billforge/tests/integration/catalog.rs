//! Catalog and Connect onboarding through the test's own Stripe emulator.

use billing::connect::ConnectStatus;
use billing::ids::TenantId;
use platform::connect::OnboardingUrls;
use platform::records::TenantStatus;

use billing::catalog::{Interval, IntervalUnit, PriceModel, Tier, TierMode};
use platform::catalog::{PlanInput, PriceInput};

use crate::harness::{TestApp, spawn_app};

/// An audit context for calls made by the test itself.
fn system_ctx(app: &TestApp) -> store::AuditContext {
    store::AuditContext {
        actor: store::Actor::system(),
        request_id: "test".to_owned(),
        now: app.platform.now(),
    }
}

/// Signs up `slug`; returns its tenant id.
async fn tenant(app: &TestApp, slug: &str) -> TenantId {
    app.signed_up_merchant(slug).await;
    let tenant = app
        .platform
        .store()
        .tenant_by_slug(slug)
        .await
        .unwrap()
        .unwrap();
    TenantId::parse(&tenant.id).unwrap()
}

fn urls(app: &TestApp) -> OnboardingUrls {
    OnboardingUrls {
        return_url: format!("{}/dashboard", app.address),
        refresh_url: format!("{}/dashboard/stripe", app.address),
    }
}

/// `GET path` on the emulator as the platform, optionally on a connected account.
pub(crate) async fn emulator_get(
    app: &TestApp,
    path: &str,
    account: Option<&str>,
) -> serde_json::Value {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", app.emulator.base_url()))
        .bearer_auth("sk_test_billforge_tests");
    if let Some(account) = account {
        request = request.header("Stripe-Account", account);
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn onboarding_creates_one_account_and_activates_the_tenant_once_charges_are_enabled() {
    let app = spawn_app().await;
    let tenant = tenant(&app, "acme").await;
    let ctx = system_ctx(&app);

    assert_eq!(
        app.platform
            .connected_account(&tenant)
            .await
            .unwrap_err()
            .code(),
        "stripe_not_connected"
    );
    let first_link = app
        .platform
        .connect_stripe(&tenant, &ctx, &urls(&app))
        .await
        .unwrap();
    let account = app.platform.connected_account(&tenant).await.unwrap();
    assert!(account.starts_with("acct_"), "{account}");

    // A second click reuses the account but gets a fresh single-use link.
    let second_link = app
        .platform
        .connect_stripe(&tenant, &ctx, &urls(&app))
        .await
        .unwrap();
    assert_ne!(first_link, second_link);
    assert_eq!(
        app.platform.connected_account(&tenant).await.unwrap(),
        account
    );
    let accounts = emulator_get(&app, "/v1/accounts", None).await;
    assert_eq!(accounts["data"].as_array().unwrap().len(), 1, "{accounts}");
    assert_eq!(
        accounts["data"][0]["metadata"]["tenant_id"],
        tenant.as_str()
    );
    let stored = app.platform.store().tenant(&tenant).await.unwrap().unwrap();
    assert_eq!(stored.stripe_account_id.as_deref(), Some(account.as_str()));
    assert_eq!(stored.status, TenantStatus::Onboarding);

    // The merchant completes Stripe's hosted onboarding (a plain form post).
    let completed = crate::harness::post_without_redirects(&second_link).await;
    assert!(
        completed.status().is_redirection(),
        "{}",
        completed.status()
    );

    // `account.updated` is applied from a freshly retrieved account.
    let retrieved = app
        .platform
        .stripe()
        .accounts()
        .retrieve(&account, &Default::default(), Default::default())
        .await
        .unwrap();
    assert!(retrieved.charges_enabled);
    let status = app
        .platform
        .apply_account_state(
            &account,
            retrieved.charges_enabled,
            retrieved.details_submitted,
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(status, Some(ConnectStatus::Active(account.clone())));
    let stored = app.platform.store().tenant(&tenant).await.unwrap().unwrap();
    assert_eq!(stored.status, TenantStatus::Active);

    // Unknown accounts are not ours to apply.
    assert_eq!(
        app.platform
            .apply_account_state("acct_unknown", true, true, &ctx)
            .await
            .unwrap(),
        None
    );

    // Deauthorization flags the tenant; nothing is deleted.
    let status = app
        .platform
        .disconnect_stripe(&account, &ctx)
        .await
        .unwrap();
    assert_eq!(status, Some(ConnectStatus::Disconnected(account.clone())));
    assert_eq!(
        app.platform
            .connected_account(&tenant)
            .await
            .unwrap_err()
            .code(),
        "stripe_not_connected"
    );
    let stored = app.platform.store().tenant(&tenant).await.unwrap().unwrap();
    assert_eq!(stored.stripe_account_id.as_deref(), Some(account.as_str()));
    // Late updates of a disconnected account change nothing.
    let status = app
        .platform
        .apply_account_state(&account, true, true, &ctx)
        .await
        .unwrap();
    assert_eq!(status, Some(ConnectStatus::Disconnected(account.clone())));

    // Reconnecting creates a new account.
    app.platform
        .connect_stripe(&tenant, &ctx, &urls(&app))
        .await
        .unwrap();
    let reconnected = app.platform.connected_account(&tenant).await.unwrap();
    assert_ne!(reconnected, account);
    let actions: Vec<String> = app
        .platform
        .store()
        .scoped(&tenant)
        .audit_events(50)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect();
    for action in [
        "stripe.account_created",
        "stripe.account_updated",
        "stripe.account_deauthorized",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn features_are_validated_unique_per_tenant_and_invisible_to_other_tenants() {
    use billing::entitlements::{FeatureKind, LimitReset};
    use billing::ids::FeatureId;

    let app = spawn_app().await;
    let acme = tenant(&app, "acme").await;
    let globex = tenant(&app, "globex").await;
    let ctx = system_ctx(&app);
    let seats_kind = FeatureKind::Limit {
        reset: LimitReset::Never,
    };

    let seats = app
        .platform
        .create_feature(&acme, &ctx, "seats", "  Seats ", seats_kind)
        .await
        .unwrap();
    assert_eq!(seats.name, "Seats");
    let bad_key = app
        .platform
        .create_feature(&acme, &ctx, "Bad Key", "Bad", FeatureKind::Flag)
        .await
        .unwrap_err();
    assert_eq!((bad_key.code(), bad_key.status()), ("invalid_request", 400));
    let empty_name = app
        .platform
        .create_feature(&acme, &ctx, "sso", "   ", FeatureKind::Flag)
        .await
        .unwrap_err();
    assert_eq!(empty_name.code(), "invalid_request");
    let duplicate = app
        .platform
        .create_feature(&acme, &ctx, "seats", "Seats again", seats_kind)
        .await
        .unwrap_err();
    assert!(duplicate.to_string().contains("seats"), "{duplicate}");
    // Another tenant may use the same key.
    app.platform
        .create_feature(&globex, &ctx, "seats", "Seats", seats_kind)
        .await
        .unwrap();
    assert_eq!(app.platform.features(&acme).await.unwrap().len(), 1);

    let id = FeatureId::parse(&seats.id).unwrap();
    let not_found = app.platform.feature(&globex, &id).await.unwrap_err();
    assert_eq!((not_found.code(), not_found.status()), ("not_found", 404));
    let not_found = app
        .platform
        .set_feature_archived(&globex, &ctx, &id, true)
        .await
        .unwrap_err();
    assert_eq!(not_found.status(), 404);
    assert!(!app.platform.feature(&acme, &id).await.unwrap().archived);

    let archived = app
        .platform
        .set_feature_archived(&acme, &ctx, &id, true)
        .await
        .unwrap();
    assert!(archived.archived);
    let restored = app
        .platform
        .set_feature_archived(&acme, &ctx, &id, false)
        .await
        .unwrap();
    assert!(!restored.archived);
    let actions: Vec<String> = app
        .platform
        .store()
        .scoped(&acme)
        .audit_events(50)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.action)
        .collect();
    for action in ["feature.created", "feature.archived", "feature.unarchived"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn plans_store_every_price_model_pending_sync_and_stay_within_their_tenant() {
    use billing::catalog::{Interval, PriceModel, TierMode};
    use billing::ids::PlanId;
    use platform::catalog::SyncStatus;

    let app = spawn_app().await;
    let acme = tenant(&app, "acme").await;
    let globex = tenant(&app, "globex").await;
    let ctx = system_ctx(&app);
    let input = pro_plan();
    let created = app
        .platform
        .create_plan(&acme, &ctx, input.clone())
        .await
        .unwrap();
    assert_eq!(created.plan.name, "Pro");
    assert_eq!(created.plan.trial_days, Some(14));
    assert_eq!(created.plan.sync_status, SyncStatus::Pending);
    assert_eq!(created.prices.len(), 5);
    let intervals: Vec<(&str, i32)> = created
        .prices
        .iter()
        .map(|p| (p.interval_unit.as_str(), p.interval_count))
        .collect();
    assert!(
        intervals.contains(&("year", 1)) && intervals.contains(&("week", 2)),
        "{intervals:?}"
    );
    let models: Vec<PriceModel> = created
        .prices
        .iter()
        .map(|p| serde_json::from_str(&p.model).unwrap())
        .collect();
    for mode in [TierMode::Volume, TierMode::Graduated] {
        assert!(
            models
                .iter()
                .any(|m| matches!(m, PriceModel::Tiered { mode: stored, .. } if *stored == mode)),
            "{mode:?} in {models:?}"
        );
    }

    // Invalid input is rejected before anything is written.
    let mut bad = input.clone();
    bad.prices.push(usd(
        Interval::monthly(),
        PriceModel::Tiered {
            mode: TierMode::Volume,
            tiers: vec![],
        },
    ));
    let err = app
        .platform
        .create_plan(&acme, &ctx, bad)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("invalid_request", 400));
    let mut bad = input.clone();
    bad.prices[0].currency = "dollars".to_owned();
    assert_eq!(
        app.platform
            .create_plan(&acme, &ctx, bad)
            .await
            .unwrap_err()
            .code(),
        "invalid_request"
    );
    let mut bad = input.clone();
    bad.name = "  ".to_owned();
    assert_eq!(
        app.platform
            .create_plan(&acme, &ctx, bad)
            .await
            .unwrap_err()
            .code(),
        "invalid_request"
    );
    assert_eq!(app.platform.plans(&acme).await.unwrap().len(), 1);

    // Cross-tenant: invisible and unchangeable.
    let id = PlanId::parse(&created.plan.id).unwrap();
    assert_eq!(
        app.platform.plan(&globex, &id).await.unwrap_err().status(),
        404
    );
    assert_eq!(
        app.platform
            .set_plan_archived(&globex, &ctx, &id, true)
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert!(app.platform.plans(&globex).await.unwrap().is_empty());

    let archived = app
        .platform
        .set_plan_archived(&acme, &ctx, &id, true)
        .await
        .unwrap();
    assert!(archived.archived);
    assert_eq!(archived.version, created.plan.version + 1);
    let again = app
        .platform
        .set_plan_archived(&acme, &ctx, &id, true)
        .await
        .unwrap();
    assert_eq!(
        again.version, archived.version,
        "archiving twice is a no-op"
    );
}

/// A price in dollars.
fn usd(interval: Interval, model: PriceModel) -> PriceInput {
    PriceInput {
        currency: "usd".to_owned(),
        interval,
        model,
        lookup_key: None,
    }
}

/// "Pro": monthly and yearly flat, per seat every two weeks, volume and
/// graduated tiers.
fn pro_plan() -> PlanInput {
    let tiers = vec![
        Tier {
            up_to: Some(10),
            unit_amount_minor: 500,
            flat_amount_minor: 0,
        },
        Tier {
            up_to: None,
            unit_amount_minor: 400,
            flat_amount_minor: 1000,
        },
    ];
    PlanInput {
        name: " Pro ".to_owned(),
        trial_days: Some(14),
        prices: vec![
            usd(Interval::monthly(), PriceModel::Flat { amount_minor: 2900 }),
            usd(
                Interval::yearly(),
                PriceModel::Flat {
                    amount_minor: 29000,
                },
            ),
            usd(
                Interval::new(IntervalUnit::Week, 2).unwrap(),
                PriceModel::PerSeat {
                    unit_amount_minor: 1200,
                },
            ),
            usd(
                Interval::monthly(),
                PriceModel::Tiered {
                    mode: TierMode::Volume,
                    tiers: tiers.clone(),
                },
            ),
            usd(
                Interval::monthly(),
                PriceModel::Tiered {
                    mode: TierMode::Graduated,
                    tiers,
                },
            ),
        ],
    }
}

/// Runs every due job.
async fn run_due_jobs(app: &TestApp) {
    let handlers = billforge::worker::job_handlers();
    while app.platform.run_next_job(&handlers).await.unwrap() {}
}

#[tokio::test]
async fn sync_pushes_plans_to_the_connected_account_once_and_records_stripe_ids() {
    use billing::ids::PlanId;
    use platform::catalog::SyncStatus;

    let app = spawn_app().await;
    let acme = tenant(&app, "acme").await;
    let unconnected = tenant(&app, "globex").await;
    let ctx = system_ctx(&app);
    app.platform
        .connect_stripe(&acme, &ctx, &urls(&app))
        .await
        .unwrap();
    let account = app.platform.connected_account(&acme).await.unwrap();

    let created = app
        .platform
        .create_plan(&acme, &ctx, pro_plan())
        .await
        .unwrap();
    let stranded = app
        .platform
        .create_plan(&unconnected, &ctx, pro_plan())
        .await
        .unwrap();
    run_due_jobs(&app).await;

    // A tenant without Stripe: the failure is visible, and retried later.
    let stranded_id = PlanId::parse(&stranded.plan.id).unwrap();
    let stranded = app.platform.plan(&unconnected, &stranded_id).await.unwrap();
    assert_eq!(stranded.plan.sync_status, SyncStatus::Failed);
    assert!(
        stranded
            .plan
            .sync_error
            .as_deref()
            .unwrap_or_default()
            .contains("connect your Stripe account"),
        "{:?}",
        stranded.plan.sync_error
    );
    assert!(stranded.prices.iter().all(|p| p.stripe_price_id.is_none()));

    let id = PlanId::parse(&created.plan.id).unwrap();
    let synced = app.platform.plan(&acme, &id).await.unwrap();
    assert_eq!(
        synced.plan.sync_status,
        SyncStatus::Synced,
        "{:?}",
        synced.plan.sync_error
    );
    let product = synced
        .plan
        .stripe_product_id
        .clone()
        .expect("product id recorded");
    assert!(synced.prices.iter().all(|p| p.stripe_price_id.is_some()));

    // The objects exist on the connected account, not on the platform.
    let on_stripe = emulator_get(
        &app,
        &format!("/v1/prices?product={product}&limit=100&expand[]=data.tiers"),
        Some(&account),
    )
    .await;
    let stripe_prices = on_stripe["data"].as_array().unwrap();
    assert_eq!(stripe_prices.len(), 5, "{on_stripe}");
    let find = |model: &str| {
        let ours = synced
            .prices
            .iter()
            .find(|p| p.model.contains(model))
            .unwrap();
        stripe_prices
            .iter()
            .find(|p| p["id"].as_str() == ours.stripe_price_id.as_deref())
            .unwrap()
            .clone()
    };
    let seats = find("per_seat");
    assert_eq!(seats["unit_amount"], 1200);
    assert_eq!(seats["recurring"]["interval"], "week");
    assert_eq!(seats["recurring"]["interval_count"], 2);
    let yearly = find("29000");
    assert_eq!(yearly["recurring"]["interval"], "year");
    let graduated = find("graduated");
    assert_eq!(graduated["billing_scheme"], "tiered");
    assert_eq!(graduated["tiers_mode"], "graduated");
    assert_eq!(graduated["tiers"][0]["up_to"], 10);
    assert_eq!(graduated["tiers"][0]["unit_amount"], 500);
    assert_eq!(graduated["tiers"][1]["up_to"], serde_json::Value::Null);
    assert_eq!(graduated["tiers"][1]["flat_amount"], 1000);
    assert_eq!(find("volume")["tiers_mode"], "volume");
    let platform_products = emulator_get(&app, "/v1/products", None).await;
    assert_eq!(platform_products["data"].as_array().unwrap().len(), 0);

    // Running the sync again creates nothing twice.
    app.platform.sync_plan(&acme, &id).await.unwrap();
    let products = emulator_get(&app, "/v1/products", Some(&account)).await;
    assert_eq!(products["data"].as_array().unwrap().len(), 1, "{products}");
    let again = emulator_get(&app, "/v1/prices?limit=100", Some(&account)).await;
    assert_eq!(again["data"].as_array().unwrap().len(), 5);

    // Archiving is synced too: the product is deactivated.
    app.platform
        .set_plan_archived(&acme, &ctx, &id, true)
        .await
        .unwrap();
    run_due_jobs(&app).await;
    let archived = app.platform.plan(&acme, &id).await.unwrap();
    assert_eq!(archived.plan.sync_status, SyncStatus::Synced);
    let product = emulator_get(&app, &format!("/v1/products/{product}"), Some(&account)).await;
    assert_eq!(product["active"], false);
}

#[tokio::test]
async fn changing_a_price_grandfathers_the_old_one_and_grants_match_feature_kinds() {
    use billing::entitlements::{FeatureKind, GrantValue, LimitReset};
    use billing::ids::{FeatureId, PlanId, PriceId};
    use platform::catalog::SyncStatus;

    let app = spawn_app().await;
    let acme = tenant(&app, "acme").await;
    let globex = tenant(&app, "globex").await;
    let ctx = system_ctx(&app);
    app.platform
        .connect_stripe(&acme, &ctx, &urls(&app))
        .await
        .unwrap();
    let account = app.platform.connected_account(&acme).await.unwrap();
    let basic = PlanInput {
        name: "Basic".to_owned(),
        trial_days: None,
        prices: vec![usd(
            Interval::monthly(),
            PriceModel::Flat { amount_minor: 900 },
        )],
    };
    let created = app.platform.create_plan(&acme, &ctx, basic).await.unwrap();
    let plan = PlanId::parse(&created.plan.id).unwrap();
    run_due_jobs(&app).await;
    let old = created.prices[0].clone();
    let old_id = PriceId::parse(&old.id).unwrap();

    let new_amount = usd(Interval::monthly(), PriceModel::Flat { amount_minor: 1200 });
    let err = app
        .platform
        .change_price(&globex, &ctx, &plan, &old_id, new_amount.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
    let changed = app
        .platform
        .change_price(&acme, &ctx, &plan, &old_id, new_amount)
        .await
        .unwrap();
    assert_eq!(changed.plan.sync_status, SyncStatus::Pending);
    assert_eq!(changed.prices.len(), 2);
    assert!(changed.prices.iter().any(|p| p.id == old.id && p.archived));
    run_due_jobs(&app).await;
    let synced = app.platform.plan(&acme, &plan).await.unwrap();
    assert_eq!(
        synced.plan.sync_status,
        SyncStatus::Synced,
        "{:?}",
        synced.plan.sync_error
    );
    let old_on_stripe = emulator_get(
        &app,
        &format!(
            "/v1/prices/{}",
            synced
                .prices
                .iter()
                .find(|p| p.id == old.id)
                .unwrap()
                .stripe_price_id
                .clone()
                .unwrap()
        ),
        Some(&account),
    )
    .await;
    assert_eq!(
        old_on_stripe["active"], false,
        "the old price is archived, not deleted"
    );
    let new = synced.prices.iter().find(|p| p.id != old.id).unwrap();
    let new_on_stripe = emulator_get(
        &app,
        &format!("/v1/prices/{}", new.stripe_price_id.clone().unwrap()),
        Some(&account),
    )
    .await;
    assert_eq!(
        (
            new_on_stripe["active"].clone(),
            new_on_stripe["unit_amount"].clone()
        ),
        (true.into(), 1200.into())
    );

    // Grants: a limit for a limit feature, a flag for a flag feature.
    let seats = app
        .platform
        .create_feature(
            &acme,
            &ctx,
            "seats",
            "Seats",
            FeatureKind::Limit {
                reset: LimitReset::Never,
            },
        )
        .await
        .unwrap();
    let seats = FeatureId::parse(&seats.id).unwrap();
    let grants = app
        .platform
        .grant_feature(&acme, &ctx, &plan, &seats, GrantValue::Limit(10))
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    let grants = app
        .platform
        .grant_feature(&acme, &ctx, &plan, &seats, GrantValue::Limit(25))
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "a new grant replaces the old one");
    assert_eq!(
        serde_json::from_str::<GrantValue>(&grants[0].value).unwrap(),
        GrantValue::Limit(25)
    );
    let mismatch = app
        .platform
        .grant_feature(&acme, &ctx, &plan, &seats, GrantValue::Enabled)
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), "invalid_request");
    let negative = app
        .platform
        .grant_feature(&acme, &ctx, &plan, &seats, GrantValue::Limit(-1))
        .await
        .unwrap_err();
    assert_eq!(negative.code(), "invalid_request");
    let foreign = app
        .platform
        .grant_feature(&globex, &ctx, &plan, &seats, GrantValue::Limit(1))
        .await
        .unwrap_err();
    assert_eq!(foreign.status(), 404);
}
