//! `billforge tenant import`: an account that already sells on Stripe is
//! pulled into Billforge, resumably and idempotently (issue #5).

use billing::entitlements::{FeatureKind, GrantValue};
use billing::ids::{CustomerId, PlanId, TenantId};
use platform::import::{ImportOutcome, ImportPhase, ImportProgress};
use std::sync::Mutex;

use crate::harness::{TestApp, run_jobs_until, selling_tenant, spawn_app, test_ctx};

/// Creates `path` on the tenant's Stripe account directly (as the merchant
/// did before Billforge existed); returns the object.
async fn on_stripe(
    app: &TestApp,
    account: &str,
    path: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/{path}", app.emulator.base_url()))
        .bearer_auth("sk_test_billforge_tests")
        .header("Stripe-Account", account)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {body}");
    body
}

/// Records what the import reported, as the CLI's progress bar sees it.
#[derive(Default)]
struct Recorded {
    /// `(phase, resumed)` per started phase.
    started: Mutex<Vec<(ImportPhase, bool)>>,
    /// `(phase, stripe id, outcome)` per object.
    objects: Mutex<Vec<(ImportPhase, String, ImportOutcome)>>,
}

impl ImportProgress for Recorded {
    fn phase_started(&self, phase: ImportPhase, resumed: bool) {
        self.started.lock().unwrap().push((phase, resumed));
    }
    fn object_done(&self, phase: ImportPhase, stripe_id: &str, outcome: &ImportOutcome) {
        self.objects
            .lock()
            .unwrap()
            .push((phase, stripe_id.to_owned(), outcome.clone()));
    }
    fn phase_finished(&self, _phase: ImportPhase) {}
}

/// The running account: one product with a monthly and a graduated price
/// (and a one-time price, not a plan price), two customers, one subscribed.
async fn running_account(app: &TestApp, account: &str) -> (String, String, String) {
    let product = on_stripe(app, account, "products", &[("name", "Legacy Pro")]).await;
    let product = product["id"].as_str().unwrap().to_owned();
    let monthly = on_stripe(
        app,
        account,
        "prices",
        &[
            ("product", &product),
            ("currency", "eur"),
            ("unit_amount", "1500"),
            ("recurring[interval]", "month"),
            ("lookup_key", "legacy_monthly"),
        ],
    )
    .await;
    on_stripe(
        app,
        account,
        "prices",
        &[
            ("product", &product),
            ("currency", "eur"),
            ("recurring[interval]", "year"),
            ("billing_scheme", "tiered"),
            ("tiers_mode", "graduated"),
            ("tiers[0][up_to]", "5"),
            ("tiers[0][unit_amount]", "1000"),
            ("tiers[1][up_to]", "inf"),
            ("tiers[1][unit_amount]", "800"),
        ],
    )
    .await;
    on_stripe(
        app,
        account,
        "prices",
        &[
            ("product", &product),
            ("currency", "eur"),
            ("unit_amount", "9900"),
        ],
    )
    .await;
    on_stripe(app, account, "customers", &[("email", "early@example.com")]).await;
    let customer = on_stripe(
        app,
        account,
        "customers",
        &[
            ("email", "grace@example.com"),
            ("payment_method", "pm_card_visa"),
            ("invoice_settings[default_payment_method]", "pm_card_visa"),
        ],
    )
    .await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let monthly = monthly["id"].as_str().unwrap().to_owned();
    on_stripe(
        app,
        account,
        "subscriptions",
        &[("customer", &customer), ("items[0][price]", &monthly)],
    )
    .await;
    (product, monthly, customer)
}

#[tokio::test]
async fn a_running_account_is_imported_once_and_resumes_where_it_stopped() {
    let app = spawn_app().await;
    let (tenant, account) = selling_tenant(&app, "legacy").await;
    let (product, monthly, stripe_customer) = running_account(&app, &account).await;
    let platform = &app.platform;
    let scope = platform.store().scoped(&tenant);

    let first = Recorded::default();
    let report = platform.import_tenant(&tenant, &first).await.unwrap();
    let counts = |phase| {
        let c = report.of(phase);
        (c.imported, c.already_there, c.skipped.len())
    };
    assert_eq!(counts(ImportPhase::Products), (1, 0, 0));
    assert_eq!(
        counts(ImportPhase::Prices),
        (2, 0, 0),
        "the one-time price is not listed: {report:?}"
    );
    assert_eq!(counts(ImportPhase::Customers), (2, 0, 0));
    assert_eq!(counts(ImportPhase::Subscriptions), (1, 0, 0));

    // The product is a synced plan with both prices, already on Stripe.
    let plan = scope
        .plan_by_stripe_product(&product)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (plan.name.as_str(), plan.sync_status),
        ("Legacy Pro", store::catalog::SyncStatus::Synced)
    );
    let plan_id = PlanId::parse(&plan.id).unwrap();
    let prices = scope.prices_of(&plan_id).await.unwrap();
    assert_eq!(prices.len(), 2);
    assert!(
        prices
            .iter()
            .all(|p| p.stripe_price_id.is_some() && p.currency == "eur" && !p.archived)
    );
    let monthly_row = prices
        .iter()
        .find(|p| p.stripe_price_id.as_deref() == Some(monthly.as_str()))
        .unwrap();
    assert_eq!(monthly_row.lookup_key.as_deref(), Some("legacy_monthly"));
    assert!(monthly_row.model.contains("1500"), "{}", monthly_row.model);
    let tiered = prices
        .iter()
        .find(|p| p.interval_unit.as_deref() == Some("year"))
        .unwrap();
    assert!(
        tiered.model.contains("graduated") && tiered.model.contains("800"),
        "{}",
        tiered.model
    );

    // The subscriber is mirrored with its subscription on the imported plan.
    let customer = scope
        .customer_by_stripe_id(&stripe_customer)
        .await
        .unwrap()
        .unwrap();
    let customer_id = CustomerId::parse(&customer.id).unwrap();
    let subscriptions = scope.subscriptions_of(&customer_id).await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].status, "active");
    assert_eq!(subscriptions[0].plan_id.as_deref(), Some(plan.id.as_str()));

    // Granting the imported plan a feature entitles its existing subscriber.
    let ctx = test_ctx(&app, "req_grant");
    let sso = platform
        .create_feature(&tenant, &ctx, "sso", "SSO", FeatureKind::Flag)
        .await
        .unwrap();
    let sso = billing::ids::FeatureId::parse(&sso.id).unwrap();
    platform
        .grant_feature(&tenant, &ctx, &plan_id, &sso, GrantValue::Enabled)
        .await
        .unwrap();
    run_jobs_until(&app, "the imported subscriber got SSO", || async {
        platform
            .check_entitlement(&tenant, &customer_id, "sso")
            .await
            .unwrap()
            .allowed
    })
    .await;

    // A rerun creates nothing twice.
    let again = platform
        .import_tenant(&tenant, &Recorded::default())
        .await
        .unwrap();
    assert_eq!(
        (
            again.of(ImportPhase::Products).imported,
            again.of(ImportPhase::Products).already_there
        ),
        (0, 1)
    );
    assert_eq!(
        (
            again.of(ImportPhase::Prices).imported,
            again.of(ImportPhase::Prices).already_there
        ),
        (0, 2)
    );
    assert_eq!(platform.plans(&tenant).await.unwrap().len(), 1);
    assert_eq!(scope.prices_of(&plan_id).await.unwrap().len(), 2);
    assert_eq!(scope.subscriptions_of(&customer_id).await.unwrap().len(), 1);

    // Interrupted after the catalog and the newest customer: the next run
    // skips the finished phases and resumes the customers after that one.
    let newest_customer = first
        .objects
        .lock()
        .unwrap()
        .iter()
        .find(|(phase, _, _)| *phase == ImportPhase::Customers)
        .map(|(_, id, _)| id.clone())
        .unwrap();
    let key = |phase: ImportPhase| format!("import.{tenant}.{}", phase.name());
    for (phase, value) in [
        (ImportPhase::Products, "done"),
        (ImportPhase::Prices, "done"),
        (ImportPhase::Customers, newest_customer.as_str()),
    ] {
        let current = platform
            .store()
            .platform_setting(&key(phase))
            .await
            .unwrap();
        platform
            .store()
            .swap_platform_setting(&key(phase), current.as_deref(), value, platform.now())
            .await
            .unwrap();
    }
    let resumed = Recorded::default();
    let report = platform.import_tenant(&tenant, &resumed).await.unwrap();
    assert_eq!(
        *resumed.started.lock().unwrap(),
        [
            (ImportPhase::Customers, true),
            (ImportPhase::Subscriptions, false)
        ]
    );
    assert_eq!(
        report.of(ImportPhase::Customers).imported,
        1,
        "only the older customer is left"
    );
    assert!(
        resumed
            .objects
            .lock()
            .unwrap()
            .iter()
            .all(|(_, id, _)| *id != newest_customer)
    );
    // Finished: the cursors are cleared for the next full run.
    assert_eq!(
        platform
            .store()
            .platform_setting(&key(ImportPhase::Customers))
            .await
            .unwrap()
            .as_deref(),
        Some("")
    );
}

#[tokio::test]
async fn the_cli_imports_by_slug_and_refuses_an_unknown_one() {
    let app = spawn_app().await;
    let (tenant, account) = selling_tenant(&app, "legacy").await;
    running_account(&app, &account).await;
    let run = |slug: &str| {
        let cli = <billforge::cli::Cli as clap::Parser>::try_parse_from([
            "billforge",
            "tenant",
            "import",
            slug,
        ])
        .unwrap();
        let database_url = app.database_url.clone();
        let emulator = app.emulator.base_url().to_string();
        async move {
            let env = |name: &str| match name {
                "DATABASE_URL" => Some(database_url.clone()),
                "STRIPE_API_BASE" => Some(emulator.clone()),
                _ => None,
            };
            billforge::cli::execute(cli, &env, &mut std::io::empty(), false).await
        }
    };
    run("legacy").await.unwrap();
    assert_eq!(app.platform.plans(&tenant).await.unwrap().len(), 1);
    let unknown = run("nobody").await.unwrap_err();
    assert!(unknown.to_string().contains("nobody"), "{unknown:#}");
    let _: &TenantId = &tenant;
}
