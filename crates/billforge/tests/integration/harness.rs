//! `spawn_app`: one isolated Billforge per test, plus browser-like helpers.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

use billing::clock::ManualClock;

use platform::{Platform, Settings};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};

/// Everything any test's app has logged (the subscriber is process-wide).
static CAPTURED_LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED_LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=warn,sea_orm=info,actix_server=warn,actix_http=info,hyper_util=warn,reqwest=warn,rustls=warn,h2=warn,cookie_store=warn")
            .with_writer(|| CaptureWriter)
            .with_ansi(false)
            .init();
    });
}

/// The logs captured so far, as text.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&CAPTURED_LOGS.lock().unwrap()).into_owned()
}

/// The test's own database; dropped with the test.
pub(crate) enum TestDatabase {
    /// A SQLite file in a temporary directory.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A fresh database on the `TEST_DATABASE_URL` server.
    Postgres { server_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // Best effort, on its own runtime: Drop cannot be async.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(db) = Database::connect(&server_url).await {
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// `postgres://…/anything` with the database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// An empty database of the test's own (SQLite, or PostgreSQL with
/// `TEST_DATABASE_URL`): its URL, and the guard that drops it.
pub(crate) async fn fresh_database() -> (String, TestDatabase) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(url) => {
            let name = format!("bf_test_{}", ulid::Ulid::new().to_string().to_lowercase());
            let server_url = with_database(&url, "postgres");
            let admin = Database::connect(&server_url)
                .await
                .expect("TEST_DATABASE_URL server reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            (
                with_database(&url, &name),
                TestDatabase::Postgres { server_url, name },
            )
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}/billforge.sqlite?mode=rwc",
                dir.path().display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
    }
}

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The app's platform, for looking at the database directly.
    pub platform: Platform,
    /// The app's clock: stopped at start-up, moved forward by tests. An app
    /// from [`spawn_one_clock_app`] does not read it: its time is the
    /// emulator's, moved with `Platform::advance_clock`.
    pub clock: ManualClock,
    /// The database URL (for CLI tests against the same database).
    pub database_url: String,
    /// The test's own Stripe: an in-process emulator on a free port.
    pub emulator: stripe_emulator::RunningEmulator,
    /// Kept so the database lives as long as the app.
    _database: TestDatabase,
}

/// The app on default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with `adjust` applied to its settings first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(adjust, |_| {}, |client| client, false).await
}

/// The app with its Stripe client configured by `client` (timeouts, retries).
pub async fn spawn_app_with_stripe(
    client: impl FnOnce(stripe::ClientBuilder) -> stripe::ClientBuilder,
) -> TestApp {
    spawn(|_| {}, |_| {}, client, false).await
}

/// The app as `serve` runs it on the emulator: on the one clock (the
/// emulator's time, which `Platform::advance_clock` moves with the
/// emulator), its webhook endpoints registered so the emulator's signed
/// deliveries reach it, and the emulator configured by `emulator`.
pub async fn spawn_one_clock_app(
    emulator: impl FnOnce(&mut stripe_emulator::EmulatorConfig),
) -> TestApp {
    let app = spawn(|_| {}, emulator, |client| client, true).await;
    app.platform.ensure_webhook_endpoints().await.unwrap();
    app
}

async fn spawn(
    adjust: impl FnOnce(&mut Settings),
    adjust_emulator: impl FnOnce(&mut stripe_emulator::EmulatorConfig),
    adjust_client: impl FnOnce(stripe::ClientBuilder) -> stripe::ClientBuilder,
    one_clock: bool,
) -> TestApp {
    capture_logs();
    let (database_url, database) = fresh_database().await;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = Settings::with_defaults(&database_url);
    settings.public_url = address.clone();
    adjust(&mut settings);
    let clock = ManualClock::new(chrono::Utc::now());
    let mut emulator_config = stripe_emulator::EmulatorConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        ..Default::default()
    };
    adjust_emulator(&mut emulator_config);
    let emulator = stripe_emulator::start(emulator_config)
        .await
        .expect("emulator starts");
    let stripe = adjust_client(
        stripe::Client::builder("sk_test_billforge_tests").base_url(emulator.base_url()),
    )
    .build()
    .expect("Stripe client");
    let platform = if one_clock {
        Platform::start_on_emulator_time(settings, stripe).await
    } else {
        Platform::start(settings, Arc::new(clock.clone()), stripe).await
    }
    .expect("platform starts");
    let server =
        billforge::app::build_server(platform.clone(), listener, 1).expect("server builds");
    tokio::spawn(server);
    TestApp {
        address,
        platform,
        clock,
        database_url,
        emulator,
        _database: database,
    }
}

/// The CSRF token in a page's first form.
pub fn csrf_token_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The `id="new-key"` secret shown once after creating a key.
pub fn new_key_in(html: &str) -> Option<String> {
    let marker = "id=\"new-key\">";
    let start = html.find(marker)? + marker.len();
    Some(html[start..].split('<').next().unwrap().to_owned())
}

/// A browser: its own cookie jar, redirects not followed (tests check them).
pub struct Browser {
    /// The HTTP client with the cookie jar.
    pub client: reqwest::Client,
    /// The app's base URL.
    pub base: String,
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }

    /// An API request with `key` as bearer token.
    pub fn api(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(key)
    }

    /// Calls the API with `key`; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> (StatusCode, serde_json::Value) {
        let response = self.api(method, path, key).send().await.unwrap();
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// `GET path` with `key`, asserting success; returns the JSON body.
    pub async fn ok_json(&self, path: &str, key: &str) -> serde_json::Value {
        let (status, body) = self.call(reqwest::Method::GET, path, key).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Signs up a merchant in a new browser; returns the logged-in browser.
    pub async fn signed_up_merchant(&self, slug: &str) -> Browser {
        let browser = self.browser();
        let response = browser.sign_up(slug, &merchant_password(slug)).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "sign-up of {slug} failed"
        );
        browser
    }
}

/// The password tests use for a merchant.
pub fn merchant_password(slug: &str) -> String {
    format!("{slug}-correct-horse-battery")
}

/// The email tests use for a merchant.
pub fn merchant_email(slug: &str) -> String {
    format!("owner@{slug}.example.com")
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// Posts a form as-is (the caller includes or omits `csrf_token`).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with the CSRF token from `token_page`.
    pub async fn submit(
        &self,
        token_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = csrf_token_in(&self.page(token_page).await);
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.post_form(path, &form).await
    }

    pub async fn sign_up(&self, slug: &str, password: &str) -> reqwest::Response {
        let email = merchant_email(slug);
        self.submit(
            "/signup",
            "/signup",
            &[
                ("business_name", slug),
                ("slug", slug),
                ("email", &email),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.log_in_at("/login", email, password).await
    }

    /// Logs in to the admin console.
    pub async fn log_in_admin(&self, email: &str, password: &str) -> reqwest::Response {
        self.log_in_at("/admin/login", email, password).await
    }

    async fn log_in_at(&self, page: &str, email: &str, password: &str) -> reqwest::Response {
        self.submit(page, page, &[("email", email), ("password", password)])
            .await
    }

    /// Creates an API key on the dashboard; returns the secret shown once.
    pub async fn create_api_key(&self, name: &str) -> String {
        let response = self
            .submit("/dashboard", "/dashboard/api_keys", &[("name", name)])
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "secret not cached"
        );
        new_key_in(&response.text().await.unwrap()).expect("new key shown")
    }
}

/// Asserts an API answer is the JSON error `code` with `status`.
pub fn assert_api_error(
    (status, body): (StatusCode, serde_json::Value),
    expected: StatusCode,
    code: &str,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["request_id"].is_string(), "{body}");
}

/// Records `event` for `cause` as a producer would (with its dispatch
/// job), returning it as consumers see it; `None` when the cause and kind
/// were recorded before.
pub async fn record_domain_event(
    app: &TestApp,
    tenant: &billing::ids::TenantId,
    cause: &str,
    event: billing::events::DomainEvent,
    occurred_at: chrono::DateTime<chrono::Utc>,
) -> Option<platform::domain_events::RecordedEvent> {
    let id = app
        .platform
        .store()
        .record_domain_event(
            store::domain_events::NewDomainEvent {
                tenant_id: tenant.clone(),
                cause: cause.to_owned(),
                event: event.clone(),
                occurred_at,
            },
            app.platform.now(),
        )
        .await
        .unwrap()?;
    Some(platform::domain_events::RecordedEvent {
        id,
        tenant_id: tenant.clone(),
        occurred_at,
        event,
    })
}

/// Creates a platform admin and logs it in on the admin door; returns its
/// browser.
pub async fn signed_in_admin(app: &TestApp, email: &str) -> Browser {
    let password = platform::Secret::new(format!("{email}-admin-password"));
    app.platform.create_admin(email, &password).await.unwrap();
    let admin = app.browser();
    let login = admin.log_in_admin(email, password.expose()).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "admin login");
    admin
}

/// Advances a one-clock app's time by `by` (as `billforge clock advance`
/// does), running everything due on the way.
pub async fn advance_one_clock(
    app: &TestApp,
    by: chrono::TimeDelta,
) -> platform::clock::ClockAdvance {
    let audit = store::AuditContext {
        actor: store::Actor::system(),
        request_id: "test-clock".to_owned(),
        now: app.platform.now(),
    };
    app.platform
        .advance_clock(by, &billforge::worker::job_handlers(), &audit)
        .await
        .expect("the clock advances")
}

/// Runs every due job, as a worker would.
pub async fn run_jobs(app: &TestApp) {
    let handlers = billforge::worker::job_handlers();
    while app.platform.run_next_job(&handlers).await.unwrap() {}
}

/// An audit context for calls the test itself makes, under `request_id`
/// (operations derive their Stripe idempotency keys from it).
pub fn test_ctx(app: &TestApp, request_id: &str) -> store::AuditContext {
    store::AuditContext {
        actor: store::Actor::system(),
        request_id: request_id.to_owned(),
        now: app.platform.now(),
    }
}

/// Signs up `slug` and starts its Connect onboarding on the test's emulator;
/// returns the tenant, its connected account and the onboarding link.
pub async fn connected_tenant(
    app: &TestApp,
    slug: &str,
) -> (billing::ids::TenantId, String, String) {
    app.signed_up_merchant(slug).await;
    let (tenant, link) = start_onboarding(app, slug).await;
    let account = app.platform.connected_account(&tenant).await.unwrap();
    (tenant, account, link)
}

/// The id of the tenant `slug`.
pub async fn tenant_id(app: &TestApp, slug: &str) -> billing::ids::TenantId {
    let tenant = app
        .platform
        .store()
        .tenant_by_slug(slug)
        .await
        .unwrap()
        .unwrap();
    billing::ids::TenantId::parse(&tenant.id).unwrap()
}

/// Starts the signed-up tenant `slug`'s Connect onboarding on the test's
/// emulator (as the dashboard would); returns the tenant and the hosted
/// onboarding link, which comes back to the dashboard.
pub async fn start_onboarding(app: &TestApp, slug: &str) -> (billing::ids::TenantId, String) {
    let tenant = tenant_id(app, slug).await;
    let urls = platform::connect::OnboardingUrls {
        return_url: format!("{}/dashboard", app.address),
        refresh_url: format!("{}/dashboard", app.address),
    };
    let link = app
        .platform
        .connect_stripe(&tenant, &test_ctx(app, "onboarding"), &urls)
        .await
        .unwrap();
    (tenant, link)
}

/// Signs up `slug`, connects it to a Stripe account on the test's emulator
/// and completes the hosted onboarding, so the tenant can sell; returns the
/// tenant and its account. The app's webhook endpoints are registered first,
/// so the emulator's events reach the app.
pub async fn selling_tenant(app: &TestApp, slug: &str) -> (billing::ids::TenantId, String) {
    app.platform.ensure_webhook_endpoints().await.unwrap();
    let (tenant, account, link) = connected_tenant(app, slug).await;
    let completed = post_without_redirects(&link).await;
    assert!(
        completed.status().is_redirection(),
        "{}",
        completed.status()
    );
    app.platform
        .apply_account_state(&account, true, true, &test_ctx(app, "onboarding"))
        .await
        .unwrap();
    (tenant, account)
}

/// POSTs to `url` as a browser's form submit would, without following the
/// redirect (the hosted onboarding and checkout pages answer with one).
pub async fn post_without_redirects(url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(url)
        .send()
        .await
        .unwrap()
}

/// Points a tenant's connection at another account id (test set-up only).
pub async fn repoint_connection(app: &TestApp, tenant: &billing::ids::TenantId, account: &str) {
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let changed = db
        .execute_unprepared(&format!(
            "UPDATE stripe_connections SET account_id = '{account}' WHERE tenant_id = '{tenant}'"
        ))
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
    db.close().await.unwrap();
}

/// Runs due jobs until `done` holds, for up to ten seconds (webhooks from the
/// emulator arrive asynchronously); panics with `what` otherwise.
pub async fn run_jobs_until<F, Fut>(app: &TestApp, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let handlers = billforge::worker::job_handlers();
    for _ in 0..200 {
        while app.platform.run_next_job(&handlers).await.unwrap() {}
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `POST path` on the API with a JSON body; asserts success, returns the body.
pub async fn api_post(
    app: &TestApp,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = app
        .api(reqwest::Method::POST, path, key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

/// The public catalog the hosted-page tests sell, made through the API with
/// `key` and synced to Stripe: `Basic` ($10 a month or $100 a year, up to
/// 3 projects), `Pro` ($30 a month, unlimited projects and SSO) and `Team`
/// ($12 a seat a month, SSO), in that order.
pub async fn pricing_catalog(app: &TestApp, key: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    let price = |unit: &str, amount: i64| {
        json!({"currency": "usd", "interval": {"unit": unit, "count": 1},
               "model": {"kind": "flat", "amount_minor": amount}})
    };
    let projects = api_post(
        app,
        key,
        "/v1/features",
        json!({"lookup_key": "projects", "name": "Projects", "kind": {"kind": "limit", "reset": "never"}}),
    )
    .await;
    let sso = api_post(
        app,
        key,
        "/v1/features",
        json!({"lookup_key": "sso", "name": "Single sign-on", "kind": {"kind": "flag"}}),
    )
    .await;
    let mut plans = Vec::new();
    for (name, prices, grants) in [
        (
            "Basic",
            vec![price("month", 1_000), price("year", 10_000)],
            vec![(&projects, json!({"kind": "limit", "value": 3}))],
        ),
        (
            "Pro",
            vec![price("month", 3_000)],
            vec![
                (&projects, json!({"kind": "unlimited"})),
                (&sso, json!({"kind": "enabled"})),
            ],
        ),
        (
            "Team",
            vec![
                json!({"currency": "usd", "interval": {"unit": "month", "count": 1},
                        "model": {"kind": "per_seat", "unit_amount_minor": 1_200}}),
            ],
            vec![(&sso, json!({"kind": "enabled"}))],
        ),
    ] {
        let plan = api_post(
            app,
            key,
            "/v1/plans",
            json!({"name": name, "prices": prices}),
        )
        .await;
        let id = plan["id"].as_str().unwrap();
        for (feature, value) in grants {
            api_post(
                app,
                key,
                &format!("/v1/plans/{id}/grants"),
                json!({"feature": feature["id"], "value": value}),
            )
            .await;
        }
        plans.push(plan);
    }
    run_jobs(app).await;
    plans
}

/// The built `billforge` binary on `database_url` and the emulator at
/// `stripe_base`, with nothing else of the test's environment (tests that
/// run the real process: crash recovery, the web tier).
pub fn billforge_binary(database_url: &str, stripe_base: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_billforge"));
    command
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("STRIPE_API_BASE", stripe_base)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// A free local port for a child process to bind.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `done` every 100 ms until it holds; panics naming `what` after 60 s.
pub async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Waits until the process at `address` answers `/readyz` with 200.
pub async fn wait_ready(address: &str) {
    let client = reqwest::Client::new();
    wait_until(&format!("{address} is ready"), || async {
        client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK)
    })
    .await;
}
