//! Migrations on a database that already holds data: the one-time prices
//! migration rebuilds `prices` without losing a row, then takes prices
//! without an interval; going back drops only those.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::harness::fresh_database;

/// How many migrations come before the one-time prices migration.
const BEFORE_ONE_TIME_PRICES: u32 = 11;

const NOW: &str = "2026-11-27T12:00:00Z";

async fn price_ids(db: &DatabaseConnection) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM prices ORDER BY id",
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get("", "id").unwrap())
    .collect()
}

/// A flat price row of the test's plan; `interval` is the two interval columns.
fn insert_price(id: &str, interval: &str) -> String {
    format!(
        "INSERT INTO prices (id, tenant_id, plan_id, model, currency, interval_unit, interval_count, archived, stripe_active, created_at, updated_at) \
         VALUES ('{id}', 'ten_1', 'plan_1', '{{\"kind\":\"flat\",\"amount_minor\":900}}', 'usd', {interval}, false, true, '{NOW}', '{NOW}')"
    )
}

#[tokio::test]
async fn prices_survive_the_one_time_prices_migration() {
    let (url, _guard) = fresh_database().await;
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, Some(BEFORE_ONE_TIME_PRICES))
        .await
        .unwrap();
    for statement in [
        format!(
            "INSERT INTO tenants (id, slug, name, status, platform_fee_bps, created_at, updated_at) VALUES ('ten_1', 'acme', 'Acme', 'active', 0, '{NOW}', '{NOW}')"
        ),
        format!(
            "INSERT INTO plans (id, tenant_id, name, archived, sync_status, version, created_at, updated_at) VALUES ('plan_1', 'ten_1', 'Pro', false, 'synced', 1, '{NOW}', '{NOW}')"
        ),
        insert_price("price_monthly", "'month', 1"),
    ] {
        db.execute_unprepared(&statement).await.unwrap();
    }
    assert!(
        db.execute_unprepared(&insert_price("price_once", "NULL, NULL"))
            .await
            .is_err(),
        "before the migration every price has an interval"
    );

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(price_ids(&db).await, ["price_monthly"]);
    db.execute_unprepared(&insert_price("price_once", "NULL, NULL"))
        .await
        .unwrap();
    assert_eq!(price_ids(&db).await, ["price_monthly", "price_once"]);

    // Back to before it, through the migrations that came after it.
    let since = Migrator::migrations().len() as u32 - BEFORE_ONE_TIME_PRICES;
    Migrator::down(&db, Some(since)).await.unwrap();
    assert_eq!(price_ids(&db).await, ["price_monthly"]);
    db.close().await.unwrap();
}
