//! Subscribe, change plan, cancel: the full flow with entitlements (issue #5),
//! through the test's own Stripe emulator and its signed webhooks.

use billing::catalog::{Interval, PriceModel, PriceType, Tier, TierMode};
use billing::entitlements::{FeatureKind, GrantValue, LimitReset, OverrideAction, Source};
use billing::ids::{CustomerId, FeatureId, PlanId, PriceId, SubscriptionId, TenantId};
use chrono::TimeDelta;
use platform::catalog::{PlanDetails, PlanInput, PriceInput};
use platform::subscriptions::{CheckoutInput, CustomerInput, Proration, SubscriptionChange};

use crate::harness::{TestApp, run_jobs_until, selling_tenant, spawn_app, test_ctx};

/// A price in US dollars.
fn usd(interval: Interval, model: PriceModel) -> PriceInput {
    PriceInput {
        currency: "usd".to_owned(),
        price_type: PriceType::Recurring { interval },
        model,
        lookup_key: None,
    }
}

/// The tenant's catalog: features and three plans.
struct Catalog {
    /// `seats`, a standing limit.
    seats: FeatureId,
    /// `sso`, a flag.
    sso: FeatureId,
    /// `api_calls`, a quota per period.
    api_calls: FeatureId,
    /// Monthly and yearly flat prices; 3 seats.
    basic: PlanDetails,
    /// A per-seat monthly price; 10 seats and SSO.
    team: PlanDetails,
    /// A tiered (volume) monthly price; unlimited seats, SSO, API calls.
    scale: PlanDetails,
}

/// Creates the catalog and syncs it to the tenant's connected account.
async fn catalog(app: &TestApp, tenant: &TenantId) -> Catalog {
    let ctx = test_ctx(app, "catalog");
    let platform = &app.platform;
    let feature = |key: &'static str, kind| async move {
        let created = platform
            .create_feature(tenant, &test_ctx(app, key), key, key, kind)
            .await
            .unwrap();
        FeatureId::parse(&created.id).unwrap()
    };
    let seats = feature(
        "seats",
        FeatureKind::Limit {
            reset: LimitReset::Never,
        },
    )
    .await;
    let sso = feature("sso", FeatureKind::Flag).await;
    let api_calls = feature(
        "api_calls",
        FeatureKind::Limit {
            reset: LimitReset::EachBillingPeriod,
        },
    )
    .await;
    let plan = |name: &str, prices: Vec<PriceInput>| PlanInput {
        name: name.to_owned(),
        trial_days: None,
        prices,
    };
    let mut plans = Vec::new();
    for (input, grants) in [
        (
            plan(
                "Basic",
                vec![
                    usd(
                        Interval::monthly(),
                        PriceModel::Flat {
                            amount_minor: 1_000,
                        },
                    ),
                    usd(
                        Interval::yearly(),
                        PriceModel::Flat {
                            amount_minor: 10_000,
                        },
                    ),
                ],
            ),
            vec![(seats.clone(), GrantValue::Limit(3))],
        ),
        (
            plan(
                "Team",
                vec![usd(
                    Interval::monthly(),
                    PriceModel::PerSeat {
                        unit_amount_minor: 800,
                    },
                )],
            ),
            vec![
                (seats.clone(), GrantValue::Limit(10)),
                (sso.clone(), GrantValue::Enabled),
            ],
        ),
        (
            plan(
                "Scale",
                vec![usd(
                    Interval::monthly(),
                    PriceModel::Tiered {
                        mode: TierMode::Volume,
                        tiers: vec![
                            Tier {
                                up_to: Some(10),
                                unit_amount_minor: 700,
                                flat_amount_minor: 0,
                            },
                            Tier {
                                up_to: None,
                                unit_amount_minor: 500,
                                flat_amount_minor: 0,
                            },
                        ],
                    },
                )],
            ),
            vec![
                (seats.clone(), GrantValue::Unlimited),
                (sso.clone(), GrantValue::Enabled),
                (api_calls.clone(), GrantValue::Limit(100_000)),
            ],
        ),
    ] {
        let created = platform.create_plan(tenant, &ctx, input).await.unwrap();
        let id = PlanId::parse(&created.plan.id).unwrap();
        for (feature, value) in grants {
            platform
                .grant_feature(tenant, &ctx, &id, &feature, value)
                .await
                .unwrap();
        }
        platform.sync_plan(tenant, &id).await.unwrap();
        plans.push(platform.plan(tenant, &id).await.unwrap());
    }
    let scale = plans.pop().unwrap();
    let team = plans.pop().unwrap();
    let basic = plans.pop().unwrap();
    Catalog {
        seats,
        sso,
        api_calls,
        basic,
        team,
        scale,
    }
}

fn price_id(plan: &PlanDetails, index: usize) -> PriceId {
    PriceId::parse(&plan.prices[index].id).unwrap()
}

fn plan_id(plan: &PlanDetails) -> PlanId {
    PlanId::parse(&plan.plan.id).unwrap()
}

/// A checkout of the plan's first price on offer for the customer.
fn checkout(app: &TestApp, plan: PlanId, customer: &CustomerId) -> CheckoutInput {
    CheckoutInput {
        plan_id: plan,
        price_id: None,
        quantity: None,
        customer_id: Some(customer.clone()),
        customer_email: None,
        trial_days: None,
        success_url: format!("{}/thanks", app.address),
        cancel_url: format!("{}/pricing", app.address),
    }
}

/// Pays a hosted checkout page with `card`, as the customer's browser would.
pub(crate) async fn pay(url: &str, card: &str) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(url)
        .form(&[
            ("card_number", card),
            ("exp_month", "12"),
            ("exp_year", "2034"),
            ("cvc", "123"),
            ("name", "Ada Lovelace"),
            ("email", "ada@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_redirection(),
        "checkout: {}",
        response.status()
    );
}

/// `(allowed, limit)` of a feature for the customer, `None` when absent.
async fn entitlement(
    app: &TestApp,
    tenant: &TenantId,
    customer: &CustomerId,
    key: &str,
) -> (bool, Option<i64>) {
    let check = app
        .platform
        .check_entitlement(tenant, customer, key)
        .await
        .unwrap();
    (check.allowed, check.limit)
}

/// Moves the emulator's and the app's clocks forward together.
async fn advance(app: &TestApp, by: TimeDelta) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_emulator/clock/advance",
            app.emulator.base_url()
        ))
        .bearer_auth("sk_test_billforge_tests")
        .form(&[("seconds", by.num_seconds().to_string())])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    app.clock.advance(by).unwrap();
}

/// The application fee percent on the subscription, as Stripe holds it.
async fn fee_on_stripe(
    app: &TestApp,
    account: &str,
    stripe_subscription: &str,
) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!(
            "{}/v1/subscriptions/{stripe_subscription}",
            app.emulator.base_url()
        ))
        .bearer_auth("sk_test_billforge_tests")
        .header("Stripe-Account", account)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["application_fee_percent"]
        .clone()
}

#[tokio::test]
async fn subscribe_upgrade_cancel_and_entitlements_follow_each_step() {
    let app = spawn_app().await;
    let (tenant, account) = selling_tenant(&app, "acme").await;
    platform_fee(&app, &tenant, "2.5").await;
    let catalog = catalog(&app, &tenant).await;
    let platform = &app.platform;

    let customer = platform
        .create_customer(
            &tenant,
            &test_ctx(&app, "req_customer"),
            CustomerInput {
                external_id: Some("user-42".to_owned()),
                email: Some("ada@example.com".to_owned()),
                name: Some("Ada".to_owned()),
            },
        )
        .await
        .unwrap();
    let customer_id = CustomerId::parse(&customer.id).unwrap();
    assert!(
        customer
            .stripe_customer_id
            .as_deref()
            .unwrap()
            .starts_with("cus_")
    );
    assert_eq!(
        platform
            .customer_entitlements(&tenant, &customer_id)
            .await
            .unwrap()
            .len(),
        0
    );

    // Subscribe to Basic monthly through the hosted checkout with 4242.
    let link = platform
        .create_checkout_session(
            &tenant,
            &test_ctx(&app, "req_checkout"),
            CheckoutInput {
                price_id: Some(price_id(&catalog.basic, 0)),
                ..checkout(&app, plan_id(&catalog.basic), &customer_id)
            },
        )
        .await
        .unwrap();
    pay(&link.url, "4242424242424242").await;
    let scope = platform.store().scoped(&tenant);
    run_jobs_until(
        &app,
        "the subscription mirrored and seats granted",
        || async { entitlement(&app, &tenant, &customer_id, "seats").await == (true, Some(3)) },
    )
    .await;
    let subscriptions = scope.subscriptions_of(&customer_id).await.unwrap();
    assert_eq!(subscriptions.len(), 1);
    let subscription = &subscriptions[0];
    assert_eq!(subscription.status, "active");
    assert_eq!(
        subscription.plan_id.as_deref(),
        Some(catalog.basic.plan.id.as_str())
    );
    let subscription_id = SubscriptionId::parse(&subscription.id).unwrap();
    let stripe_subscription = subscription.stripe_subscription_id.clone();
    assert_eq!(
        fee_on_stripe(&app, &account, &stripe_subscription).await,
        serde_json::json!(2.5)
    );
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "sso").await,
        (false, None)
    );

    // A new monthly amount for Basic: the subscriber keeps the old price
    // (grandfathered) until the merchant migrates them, from the next period.
    let old_price = price_id(&catalog.basic, 0);
    let repriced = platform
        .change_price(
            &tenant,
            &test_ctx(&app, "req_reprice"),
            &plan_id(&catalog.basic),
            &old_price,
            usd(
                Interval::monthly(),
                PriceModel::Flat {
                    amount_minor: 1_200,
                },
            ),
        )
        .await
        .unwrap();
    platform
        .sync_plan(&tenant, &plan_id(&catalog.basic))
        .await
        .unwrap();
    let basic = platform
        .plan(&tenant, &plan_id(&catalog.basic))
        .await
        .unwrap();
    let new_price = basic
        .prices
        .iter()
        .find(|p| !p.archived && p.model.contains("1200"))
        .unwrap();
    assert_eq!(repriced.prices.len(), 3);
    let on_price = |id: &str| {
        let id = id.to_owned();
        let scope = platform.store().scoped(&tenant);
        let subscription_id = subscription_id.clone();
        async move {
            scope
                .subscription(&subscription_id)
                .await
                .unwrap()
                .unwrap()
                .price_id
                .unwrap()
                == id
        }
    };
    assert!(on_price(old_price.as_str()).await, "grandfathered");
    let new_price_id = PriceId::parse(&new_price.id).unwrap();
    let ctx = test_ctx(&app, "req_migrate");
    let moved = platform
        .migrate_price_subscribers(&tenant, &ctx, &old_price, &new_price_id)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert!(on_price(new_price.id.as_str()).await, "migrated");
    assert_eq!(
        platform
            .migrate_price_subscribers(&tenant, &ctx, &old_price, &new_price_id)
            .await
            .unwrap(),
        0
    );
    let across = platform
        .migrate_price_subscribers(&tenant, &ctx, &new_price_id, &price_id(&catalog.team, 0))
        .await
        .unwrap_err();
    assert_eq!(across.code(), "invalid_request");

    // The merchant grants Basic an API quota: its subscriber gets it.
    platform
        .grant_feature(
            &tenant,
            &test_ctx(&app, "req_grant"),
            &plan_id(&catalog.basic),
            &catalog.api_calls,
            GrantValue::Limit(500),
        )
        .await
        .unwrap();
    run_jobs_until(&app, "Basic's new grant reached its subscriber", || async {
        entitlement(&app, &tenant, &customer_id, "api_calls").await == (true, Some(500))
    })
    .await;

    // Upgrade to Team with 5 seats, prorated and invoiced now.
    let upgrade = SubscriptionChange {
        price_id: Some(price_id(&catalog.team, 0)),
        quantity: Some(5),
        proration: Proration::InvoiceNow,
    };
    let preview = platform
        .preview_subscription_change(&tenant, &subscription_id, &upgrade)
        .await
        .unwrap();
    assert_eq!(preview.currency.code(), "usd");
    assert!(
        preview.amount_minor > 0,
        "an upgrade costs something now: {preview:?}"
    );
    let changed = platform
        .change_subscription(
            &tenant,
            &test_ctx(&app, "req_upgrade"),
            &subscription_id,
            upgrade,
        )
        .await
        .unwrap();
    assert_eq!(
        changed.plan_id.as_deref(),
        Some(catalog.team.plan.id.as_str())
    );
    assert_eq!(changed.quantity, 5);
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "seats").await,
        (true, Some(10))
    );
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "sso").await,
        (true, None)
    );
    let sources = platform
        .customer_entitlements(&tenant, &customer_id)
        .await
        .unwrap();
    assert!(
        sources
            .values()
            .all(|e| e.source == Source::Plan(plan_id(&catalog.team))),
        "{sources:?}"
    );
    assert_eq!(
        fee_on_stripe(&app, &account, &stripe_subscription).await,
        serde_json::json!(2.5)
    );

    // Cancel at period end: access stays until then; resuming undoes it.
    let ctx = test_ctx(&app, "req_cancel_later");
    let ending = platform
        .cancel_subscription(&tenant, &ctx, &subscription_id, true)
        .await
        .unwrap();
    assert!(ending.cancel_at_period_end);
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "seats").await,
        (true, Some(10))
    );
    let resumed = platform
        .resume_subscription(&tenant, &test_ctx(&app, "req_resume"), &subscription_id)
        .await
        .unwrap();
    assert!(!resumed.cancel_at_period_end);
    platform
        .cancel_subscription(
            &tenant,
            &test_ctx(&app, "req_cancel_again"),
            &subscription_id,
            true,
        )
        .await
        .unwrap();
    let period_end = ending.current_period_end.unwrap();
    advance(&app, period_end - platform.now() - TimeDelta::days(1)).await;
    run_jobs_until(
        &app,
        "still entitled the day before the period ends",
        || async { true },
    )
    .await;
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "sso").await,
        (true, None)
    );
    advance(&app, TimeDelta::days(2)).await;
    run_jobs_until(&app, "entitlements gone after the period ended", || async {
        platform
            .customer_entitlements(&tenant, &customer_id)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let ended = scope.subscription(&subscription_id).await.unwrap().unwrap();
    assert_eq!(ended.status, "canceled");

    // A second subscription, on the tiered Scale plan, canceled now.
    let link = platform
        .create_checkout_session(
            &tenant,
            &test_ctx(&app, "req_checkout_scale"),
            CheckoutInput {
                quantity: Some(12),
                ..checkout(&app, plan_id(&catalog.scale), &customer_id)
            },
        )
        .await
        .unwrap();
    pay(&link.url, "4242424242424242").await;
    run_jobs_until(&app, "Scale's API calls granted", || async {
        entitlement(&app, &tenant, &customer_id, "api_calls").await == (true, Some(100_000))
    })
    .await;
    assert_eq!(
        entitlement(&app, &tenant, &customer_id, "seats").await,
        (true, None)
    );
    let scale = scope
        .subscriptions_of(&customer_id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.status == "active")
        .unwrap();
    assert_eq!(scale.quantity, 12);
    let canceled = platform
        .cancel_subscription(
            &tenant,
            &test_ctx(&app, "req_cancel_now"),
            &SubscriptionId::parse(&scale.id).unwrap(),
            false,
        )
        .await
        .unwrap();
    assert_eq!(canceled.status, "canceled");
    assert!(
        platform
            .customer_entitlements(&tenant, &customer_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Every change was announced once, with its facts.
    run_jobs_until(&app, "events dispatched", || async { true }).await;
    let events = scope
        .domain_events(Some(&customer_id), None, 200)
        .await
        .unwrap();
    let updates: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "entitlements.updated")
        .collect();
    assert!(
        updates.len() >= 5,
        "{:?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
}

/// Sets the tenant's platform fee as the operator does (admin console, CLI).
async fn platform_fee(app: &TestApp, tenant: &TenantId, percent: &str) {
    let updated = app
        .platform
        .set_platform_fee(tenant, percent, &test_ctx(app, "req_fee"))
        .await
        .unwrap();
    assert_eq!(updated.platform_fee_bps, 250);
    let refused = app
        .platform
        .set_platform_fee(tenant, "101", &test_ctx(app, "req_fee"))
        .await
        .unwrap_err();
    assert_eq!((refused.code(), refused.status()), ("invalid_request", 400));
}

#[tokio::test]
async fn overrides_grant_lower_and_revoke_until_they_expire() {
    let app = spawn_app().await;
    let (tenant, _) = selling_tenant(&app, "acme").await;
    let catalog = catalog(&app, &tenant).await;
    let platform = &app.platform;
    let ctx = test_ctx(&app, "req_overrides");
    let customer = platform
        .create_customer(
            &tenant,
            &ctx,
            CustomerInput {
                email: Some("bo@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let customer = CustomerId::parse(&customer.id).unwrap();

    // A trial of SSO for a week.
    let until = platform.now() + TimeDelta::days(7);
    let after = platform
        .set_entitlement_override(
            &tenant,
            &ctx,
            &customer,
            &catalog.sso,
            OverrideAction::Grant(GrantValue::Enabled),
            Some(until),
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    let check = platform
        .check_entitlement(&tenant, &customer, "sso")
        .await
        .unwrap();
    assert_eq!(
        (check.allowed, check.source),
        (true, Some(Source::Override))
    );

    // A revoke wins; a kind mismatch and a past end are refused, nothing written.
    platform
        .set_entitlement_override(
            &tenant,
            &ctx,
            &customer,
            &catalog.seats,
            OverrideAction::Revoke,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        entitlement(&app, &tenant, &customer, "seats").await,
        (false, None)
    );
    let mismatch = platform
        .set_entitlement_override(
            &tenant,
            &ctx,
            &customer,
            &catalog.sso,
            OverrideAction::Grant(GrantValue::Limit(3)),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (mismatch.code(), mismatch.status()),
        ("invalid_request", 400)
    );
    let past = platform
        .set_entitlement_override(
            &tenant,
            &ctx,
            &customer,
            &catalog.api_calls,
            OverrideAction::Grant(GrantValue::Limit(5)),
            Some(platform.now()),
        )
        .await
        .unwrap_err();
    assert_eq!(past.code(), "invalid_request");
    assert_eq!(
        platform
            .entitlement_overrides(&tenant, &customer)
            .await
            .unwrap()
            .len(),
        2
    );

    // Removing the revoke; another tenant sees nothing of this customer.
    platform
        .delete_entitlement_override(&tenant, &ctx, &customer, &catalog.seats)
        .await
        .unwrap();
    assert_eq!(
        entitlement(&app, &tenant, &customer, "seats").await,
        (false, None)
    );
    let again = platform
        .delete_entitlement_override(&tenant, &ctx, &customer, &catalog.seats)
        .await
        .unwrap_err();
    assert_eq!(again.status(), 404);
    let (other, _) = selling_tenant(&app, "globex").await;
    assert_eq!(
        platform
            .check_entitlement(&other, &customer, "sso")
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        platform
            .check_entitlement(&tenant, &customer, "Not A Key")
            .await
            .unwrap_err()
            .code(),
        "invalid_request"
    );

    // The expiry job takes the trial away when it ends, with one event.
    app.clock
        .advance(TimeDelta::days(7) + TimeDelta::seconds(1))
        .unwrap();
    run_jobs_until(&app, "the SSO trial expired", || async {
        entitlement(&app, &tenant, &customer, "sso").await == (false, None)
    })
    .await;
    let scope = platform.store().scoped(&tenant);
    let events = scope
        .domain_events(Some(&customer), None, 50)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    // The SSO grant and its expiry changed something; the revoke of seats
    // and its removal did not (no plan gives this customer seats): no event.
    assert_eq!(kinds, ["entitlements.updated"; 2], "{kinds:?}");
    let audit: Vec<String> = scope
        .audit_events(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        audit.iter().any(|a| a == "entitlement_override.set"),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|a| a == "entitlement_override.deleted"),
        "{audit:?}"
    );

    // Suspended tenants sell nothing; archived plans take nobody new.
    platform
        .set_plan_archived(&tenant, &ctx, &plan_id(&catalog.basic), true)
        .await
        .unwrap();
    let checkout = |plan: PlanId| checkout(&app, plan, &customer);
    let archived = platform
        .create_checkout_session(&tenant, &ctx, checkout(plan_id(&catalog.basic)))
        .await
        .unwrap_err();
    assert_eq!(archived.code(), "invalid_request");
    assert!(archived.to_string().contains("archived"), "{archived}");
    let flat_seats = platform
        .create_checkout_session(
            &tenant,
            &ctx,
            CheckoutInput {
                quantity: Some(4),
                ..checkout(plan_id(&catalog.team))
            },
        )
        .await;
    assert!(
        flat_seats.is_ok(),
        "per-seat takes a quantity: {flat_seats:?}"
    );
    platform
        .store()
        .set_tenant_status(&tenant, store::TenantStatus::Suspended, &ctx)
        .await
        .unwrap();
    let suspended = platform
        .create_checkout_session(&tenant, &ctx, checkout(plan_id(&catalog.team)))
        .await
        .unwrap_err();
    assert_eq!(
        (suspended.code(), suspended.status()),
        ("tenant_suspended", 403)
    );
}
