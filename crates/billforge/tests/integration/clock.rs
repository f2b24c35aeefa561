//! The one clock (issue #6): `billforge clock advance` and the admin
//! console's button move Billforge and the Stripe emulator forward
//! together; with real Stripe they refuse.

use chrono::TimeDelta;
use reqwest::StatusCode;

use crate::dunning::{stripe_subscription, subscribe};
use crate::harness::{
    TestApp, advance_one_clock, connected_tenant, signed_in_admin, spawn_app, spawn_one_clock_app,
};

/// Runs `billforge clock advance <duration>` against the app's database
/// and emulator, with `extra` environment variables.
async fn clock_advance(
    app: &TestApp,
    duration: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<()> {
    let cli = <billforge::cli::Cli as clap::Parser>::try_parse_from([
        "billforge",
        "clock",
        "advance",
        duration,
    ])
    .unwrap();
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), app.database_url.clone()),
        ("STRIPE_API_BASE".to_owned(), app.emulator.base_url()),
    ];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let env = move |name: &str| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    billforge::cli::execute(cli, &env, &mut std::io::empty(), false).await
}

/// The newest audit entries' actions and actor kinds.
async fn audited(app: &TestApp) -> Vec<(String, String)> {
    app.platform
        .store()
        .audit_events_all(20)
        .await
        .unwrap()
        .into_iter()
        .map(|event| (event.action, format!("{:?}", event.actor_kind)))
        .collect()
}

#[tokio::test]
async fn the_command_moves_billforge_and_the_emulator_through_a_renewal() {
    let app = spawn_one_clock_app(|_| {}).await;
    let (tenant, account, _) = connected_tenant(&app, "clock-cli").await;
    let billed = subscribe(&app, &account, "pm_card_visa").await;
    let customer = billed.facts.customer.stripe_customer_id.clone();
    let before = app.platform.now();

    clock_advance(&app, "40d", &[])
        .await
        .expect("clock advance");

    // This process learns the new time from the database, as workers do.
    app.platform.refresh_clock().await.unwrap();
    let now = app.platform.now();
    assert!(now - before >= TimeDelta::days(40), "{before} -> {now}");
    assert!(now - before < TimeDelta::days(40) + TimeDelta::minutes(5));
    let emulator_now = chrono::DateTime::from_timestamp(app.emulator.now(), 0).unwrap();
    assert!(
        (emulator_now - now).abs() <= TimeDelta::seconds(2),
        "one time for both: emulator {emulator_now}, Billforge {now}"
    );
    let offset = app
        .platform
        .store()
        .platform_setting(platform::clock::OFFSET_SETTING)
        .await
        .unwrap()
        .expect("the offset is shared through the database");
    // The offset is the target (rounded up to whole seconds) less the wall
    // time that passed meanwhile.
    let offset = offset.parse::<i64>().unwrap();
    assert!(
        (40 * 86_400 - 300..=40 * 86_400 + 2).contains(&offset),
        "{offset}"
    );

    // The renewal happened on the emulator and its webhooks were applied
    // on the way: the mirror has the second, paid invoice.
    let scope = app.platform.store().scoped(&tenant);
    let customer_id = billing::ids::CustomerId::parse(
        &scope
            .customer_by_stripe_id(&customer)
            .await
            .unwrap()
            .expect("the customer is mirrored")
            .id,
    )
    .unwrap();
    let invoices = scope.invoices_of(&customer_id).await.unwrap();
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    assert!(
        invoices.iter().all(|invoice| invoice.status == "paid"),
        "{invoices:?}"
    );
    let subscription = stripe_subscription(
        &app,
        &account,
        billed.facts.stripe_subscription_id.as_deref().unwrap(),
    )
    .await;
    assert!(subscription.current_period_end().unwrap() > now.timestamp());
    assert!(
        audited(&app)
            .await
            .contains(&("clock.advanced".into(), "System".into()))
    );
}

#[tokio::test]
async fn the_command_refuses_with_real_stripe_and_bad_durations() {
    let app = spawn_one_clock_app(|_| {}).await;
    let emulator_before = app.emulator.now();
    let err = clock_advance(&app, "1d", &[("STRIPE_SECRET_KEY", "sk_test_real_account")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("clock_not_adjustable"), "{err}");
    let err = clock_advance(&app, "soon", &[]).await.unwrap_err();
    assert!(err.to_string().contains("30d"), "{err}");
    assert!(app.emulator.now() - emulator_before < 60, "nothing moved");
    assert!(
        !audited(&app)
            .await
            .iter()
            .any(|(action, _)| action == "clock.advanced")
    );
}

#[tokio::test]
async fn the_admin_console_advances_the_clock_for_admins_only() {
    let app = spawn_one_clock_app(|_| {}).await;
    let admin = signed_in_admin(&app, "root@clock.example.com").await;
    let console = admin.page("/admin").await;
    assert!(
        console.contains(r#"action="/admin/clock/advance""#),
        "{console}"
    );

    let before = app.platform.now();
    let emulator_before = app.emulator.now();
    let advanced = admin
        .submit("/admin", "/admin/clock/advance", &[("duration", "6h")])
        .await;
    assert_eq!(advanced.status(), StatusCode::SEE_OTHER);
    assert_eq!(advanced.headers()["location"], "/admin");
    let moved = app.platform.now() - before;
    assert!(
        moved >= TimeDelta::hours(6) && moved < TimeDelta::hours(6) + TimeDelta::minutes(5),
        "{moved}"
    );
    assert!(app.emulator.now() - emulator_before >= 6 * 3600);
    assert!(
        audited(&app)
            .await
            .contains(&("clock.advanced".into(), "Admin".into()))
    );
    // (Sessions last 12 hours of the one clock: a longer advance logs the
    // admin out, as that much real time would.)
    let console = admin.page("/admin").await;
    let marker = "<time datetime=\"";
    let start = console.find(marker).expect("the console shows the time") + marker.len();
    let shown = console[start..].split('"').next().unwrap();
    let shown = chrono::DateTime::parse_from_rfc3339(shown).unwrap();
    assert!(
        (app.platform.now() - shown.to_utc()).abs() < TimeDelta::minutes(1),
        "the console shows the new time, not {shown}"
    );

    // Refused: a bad duration, a missing CSRF token, a merchant.
    let at = app.platform.now();
    let bad = admin
        .submit("/admin", "/admin/clock/advance", &[("duration", "a while")])
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(
        page.contains(
            "value=\"a while\" required pattern=\"[0-9a-z ]+\" title=\"A duration such as 12h, 30d, 1w or 1y\" size=\"8\" aria-invalid=\"true\" aria-describedby=\"clock-duration-error\""
        ),
        "the typed duration, marked invalid: {page}"
    );
    assert!(
        page.contains("id=\"clock-duration-error\" role=\"alert\">`a while` is not a duration")
    );
    let forged = admin
        .post_form("/admin/clock/advance", &[("duration", "1d")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let merchant = app.signed_up_merchant("clock-merchant").await;
    let sneaky = merchant
        .submit("/dashboard", "/admin/clock/advance", &[("duration", "1d")])
        .await;
    assert_eq!(sneaky.status(), StatusCode::SEE_OTHER);
    assert_eq!(sneaky.headers()["location"], "/admin/login");
    assert!(
        app.platform.now() - at < TimeDelta::minutes(1),
        "time did not move"
    );
}

#[tokio::test]
async fn without_the_emulator_clock_the_console_offers_no_button() {
    let app = spawn_app().await;
    let admin = signed_in_admin(&app, "root@wall.example.com").await;
    let console = admin.page("/admin").await;
    assert!(!console.contains("/admin/clock/advance"));
    let refused = admin
        .submit("/admin", "/admin/clock/advance", &[("duration", "1d")])
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("only the Stripe emulator")
    );
}

#[tokio::test]
async fn a_year_of_monthly_renewals_plays_out_in_one_advance() {
    let app = spawn_one_clock_app(|_| {}).await;
    let (tenant, account, _) = connected_tenant(&app, "clock-year").await;
    let billed = subscribe(&app, &account, "pm_card_visa").await;
    let advance = advance_one_clock(&app, TimeDelta::days(365)).await;
    assert!(advance.steps >= 365, "at most a day per step: {advance:?}");

    let scope = app.platform.store().scoped(&tenant);
    let customer = scope
        .customer_by_stripe_id(&billed.facts.customer.stripe_customer_id)
        .await
        .unwrap()
        .expect("the customer is mirrored");
    let invoices = scope
        .invoices_of(&billing::ids::CustomerId::parse(&customer.id).unwrap())
        .await
        .unwrap();
    assert_eq!(
        invoices.len(),
        13,
        "the first and 12 renewals: {invoices:?}"
    );
    assert!(invoices.iter().all(|invoice| invoice.status == "paid"));
    let subscription = scope
        .subscription_by_stripe_id(billed.facts.stripe_subscription_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(subscription.status, "active");
    let dead = app
        .platform
        .webhook_events(platform::webhooks::InboxStatus::Dead, 10)
        .await
        .unwrap();
    assert!(dead.is_empty(), "every webhook applied: {dead:?}");
}
