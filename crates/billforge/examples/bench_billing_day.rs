//! The billing day (issue #10): N monthly subscriptions renew at the same
//! instant, a share of them on a card that fails, and the clock is advanced
//! past it; how long until every renewal invoice is mirrored, every
//! entitlement recomputed and every receipt and dunning mail queued.
//!
//! `bash bench/billing-day/run.sh` builds the release binary and this
//! example and runs it (see docs/BENCHMARKS.md); directly:
//! `bench_billing_day --subscriptions 10000 --database sqlite|postgres --workers 1
//! --webhook-concurrency 16`.
//!
//! It starts its own processes from the built `billforge` binary: the Stripe
//! emulator (`billforge stripe-emulator`, state in memory, delivering
//! `--webhook-concurrency` webhooks at once, as Stripe does), the web tier
//! (`serve --no-workers`, which receives the emulator's webhooks) and
//! `--workers` × `billforge worker`, on a fresh database (a temporary SQLite
//! file, or a new database on `--postgres`, dropped afterwards). Set-up,
//! timed on its own: a merchant connected to Stripe with a plan granting
//! features (through the API, synced to the emulator by the workers), then N
//! customers subscribed on the emulator directly (concurrent requests,
//! `billing_cycle_anchor` two days on, so every subscription renews at that
//! instant; every 1/failing-th customer's card then switched to the
//! `4000 0000 0000 0341` card, which fails every charge). Their events reach
//! Billforge as webhooks like any others; the set-up ends when the mirror
//! holds N active subscriptions and no job is due.
//!
//! The billing day: `billforge clock advance` to two minutes before the
//! anchor (set-up), the idle resident size of every process, then
//! `billforge clock advance 5m` through the anchor, the real path: the
//! emulator renews and delivers signed webhooks, the web tier ingests, the
//! workers (and the clock command, which runs due jobs as it steps) apply
//! them. It polls the database until the renewal invoices are mirrored
//! (N − F paid, F open), the receipts and the first dunning reminders are
//! in the mail outbox, a dunning run exists per failed invoice and no job is
//! due or running (domain-event dispatch recomputes entitlements); it
//! samples VmRSS/VmHWM from /proc meanwhile. It exits non-zero when the
//! run is incomplete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, ValueEnum};
use platform::accounts::SignUp;
use platform::{Platform, RequestId, Secret, Settings};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// Which database the run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The billing-day benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Subscriptions that renew at the same instant.
    #[arg(long, default_value_t = 10_000)]
    subscriptions: usize,
    /// The database.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    database: Backend,
    /// `billforge worker` processes beside the web tier.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// One customer in this many pays with the failing card (20: 5 %).
    #[arg(long, default_value_t = 20)]
    failing_one_in: usize,
    /// The PostgreSQL server (a database is created on it and dropped).
    #[arg(
        long,
        env = "PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// Webhook deliveries the emulator has in flight at once (Stripe sends
    /// many at once; 1 delivers in event order, the emulator's default).
    #[arg(long, default_value_t = 16)]
    webhook_concurrency: usize,
    /// Concurrent requests of the set-up's bulk subscribe.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The `billforge` binary; by default the one built beside this example.
    #[arg(long, env = "BILLFORGE_BIN")]
    billforge: Option<PathBuf>,
}

/// What is known of the run so far, for the report.
#[derive(Debug, Default)]
struct Counts {
    invoices: BTreeMap<String, i64>,
    mail: BTreeMap<String, i64>,
    dunning_runs: i64,
    inbox: i64,
    inbox_pending: i64,
    domain_events: i64,
    jobs: BTreeMap<String, i64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.subscriptions > 0, "--subscriptions must be positive");
    ensure!(args.failing_one_in > 0, "--failing-one-in must be positive");
    let binary = match &args.billforge {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .context("the example's directory")?
            .join("billforge"),
    };
    ensure!(
        binary.exists(),
        "{} is missing: build it (`cargo build --release -p billforge`) or pass --billforge",
        binary.display()
    );
    let data = tempfile::tempdir()?;
    let (database_url, drop_database) = match args.database {
        Backend::Sqlite => (
            format!("sqlite://{}/bench.sqlite?mode=rwc", data.path().display()),
            None,
        ),
        Backend::Postgres => {
            let name = format!("bench_billing_day_{}", std::process::id());
            let server = Database::connect(&args.postgres).await?;
            server
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            server.close().await?;
            (format!("{}/{name}", args.postgres), Some(name))
        }
    };
    let outcome = run(&args, &binary, &database_url, data.path()).await;
    if let Some(name) = drop_database {
        let server = Database::connect(&args.postgres).await?;
        server
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        server.close().await?;
    }
    outcome
}

/// The processes of a run; each is killed when dropped.
struct Processes {
    emulator: Child,
    web: Child,
    workers: Vec<Child>,
}

impl Processes {
    /// (name, pid) of every process, for the memory samples.
    fn pids(&self) -> Vec<(String, u32)> {
        let mut pids = vec![
            (
                "emulator".to_owned(),
                self.emulator.id().unwrap_or_default(),
            ),
            ("web".to_owned(), self.web.id().unwrap_or_default()),
        ];
        for (n, worker) in self.workers.iter().enumerate() {
            pids.push((format!("worker{}", n + 1), worker.id().unwrap_or_default()));
        }
        pids
    }

    /// Fails if any process has exited (crashed) before the end.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        let mut all: Vec<(&str, &mut Child)> = vec![
            ("emulator", &mut self.emulator),
            ("web tier", &mut self.web),
        ];
        all.extend(self.workers.iter_mut().map(|child| ("worker", child)));
        for (name, child) in all {
            if let Some(status) = child.try_wait()? {
                bail!("the {name} process exited during the run: {status}");
            }
        }
        Ok(())
    }
}

async fn run(args: &Args, binary: &Path, database_url: &str, dir: &Path) -> anyhow::Result<()> {
    let n = args.subscriptions;
    let failing = n.div_ceil(args.failing_one_in);
    let machine = machine();
    println!(
        "billing day: {n} subscriptions ({failing} failing), {:?}, {} worker(s), {} webhook deliveries at once; {machine}",
        args.database, args.workers, args.webhook_concurrency
    );

    // The processes.
    let emulator_port = free_port()?;
    let stripe_base = format!("http://127.0.0.1:{emulator_port}");
    let emulator = Command::new(binary)
        .args([
            "stripe-emulator",
            "--port",
            &emulator_port.to_string(),
            "--webhook-concurrency",
            &args.webhook_concurrency.to_string(),
        ])
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    wait_for(&format!("{stripe_base}/_emulator/clock"), "the emulator").await?;
    let web_port = free_port()?;
    let web_url = format!("http://127.0.0.1:{web_port}");
    let billforge = |args: &[&str]| {
        let mut command = billforge_command(binary, database_url, &stripe_base, dir);
        command
            .args(args)
            .env("BIND", format!("127.0.0.1:{web_port}"))
            .env("PUBLIC_URL", &web_url)
            .stdout(Stdio::null());
        command
    };
    let web = billforge(&["serve", "--no-workers"]).spawn()?;
    wait_for(&format!("{web_url}/readyz"), "the web tier").await?;
    let workers = (0..args.workers)
        .map(|_| billforge(&["worker"]).spawn())
        .collect::<Result<Vec<_>, _>>()?;
    let mut processes = Processes {
        emulator,
        web,
        workers,
    };

    // Set-up.
    let setup_started = Instant::now();
    let stripe = stripe::Client::builder("sk_test_bench")
        .base_url(&stripe_base)
        .build()?;
    let platform =
        Platform::start_on_emulator_time(Settings::with_defaults(database_url), stripe).await?;
    let db = Database::connect(database_url).await?;
    let http = reqwest::Client::new();
    let (account, key) = merchant(&platform, &web_url).await?;
    let price = plan(&http, &web_url, &key).await?;
    let emulator_now = emulator_clock(&http, &stripe_base).await?["now"]
        .as_i64()
        .context("the emulator's time")?;
    // Within three days, so no `invoice.upcoming` is scheduled before it.
    let anchor = emulator_now + 2 * 86_400;
    subscribe_all(args, &http, &stripe_base, &account, &price, anchor).await?;
    let subscribed = setup_started.elapsed();
    println!(
        "set-up: merchant, plan and {n} subscriptions on the emulator in {:.1} s; waiting for Billforge to mirror them",
        subscribed.as_secs_f64()
    );
    let active = "SELECT count(*) FROM subscriptions WHERE status = 'active'";
    let settle_limit = Duration::from_secs(600 + n as u64 / 10);
    let deadline = Instant::now() + settle_limit;
    loop {
        processes.check_alive()?;
        let mirrored = scalar(&db, active).await?;
        if mirrored >= n as i64 && quiet(&platform, &http, &stripe_base).await? {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "set-up incomplete after {} s: {mirrored} of {n} subscriptions mirrored active",
            settle_limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let setup = setup_started.elapsed();
    platform.refresh_clock().await?;
    let to_anchor = anchor - platform.now().timestamp() - 120;
    let pre = clock_advance(
        binary,
        database_url,
        &stripe_base,
        dir,
        &format!("{to_anchor}s"),
    )
    .await?;
    ensure!(pre.success(), "the set-up's clock advance failed: {pre}");
    println!(
        "set-up done in {:.1} s ({:.1} s subscribing on the emulator); clock two minutes before the renewals",
        setup.as_secs_f64(),
        subscribed.as_secs_f64()
    );

    // Idle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle: Vec<(String, Memory)> = processes
        .pids()
        .into_iter()
        .map(|(name, pid)| (name, memory(pid)))
        .collect();
    for (_, pid) in processes.pids() {
        // Resets VmHWM, so the peak below is the billing day's.
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    let before = counts(&db).await?;
    let load_before = load_average();

    // The billing day.
    println!("billing day: `billforge clock advance 5m` through the renewals");
    let started = Instant::now();
    let mut advance = billforge_command(binary, database_url, &stripe_base, dir)
        .args(["clock", "advance", "5m"])
        .stdout(Stdio::piped())
        .spawn()?;
    let advance_pid = advance.id().unwrap_or_default();
    let mut peak: BTreeMap<String, u64> = BTreeMap::new();
    let mut advance_done: Option<(Duration, std::process::ExitStatus)> = None;
    let mut settled_at: Option<Duration> = None;
    let mut load_peak = 0.0_f64;
    let limit = Duration::from_secs(900 + n as u64 / 20);
    let mut last = Counts::default();
    let mut next_count = Instant::now();
    let mut next_report = Instant::now() + Duration::from_secs(5);
    while advance_done.is_none() || settled_at.is_none() {
        processes.check_alive()?;
        let mut pids = processes.pids();
        if advance_done.is_none() {
            pids.push(("clock advance".to_owned(), advance_pid));
        }
        for (name, pid) in pids {
            let sample = memory(pid);
            let entry = peak.entry(name).or_default();
            *entry = (*entry).max(sample.hwm_kb).max(sample.rss_kb);
        }
        load_peak = load_peak.max(load_average().0);
        if advance_done.is_none()
            && let Some(status) = advance.try_wait()?
        {
            advance_done = Some((started.elapsed(), status));
            ensure!(
                status.success(),
                "`billforge clock advance 5m` failed: {status}"
            );
        }
        if settled_at.is_none() && Instant::now() >= next_count {
            last = counts(&db).await?;
            if Instant::now() >= next_report {
                // Where the time goes: deliveries still in the emulator,
                // events stored but not applied, renewals mirrored.
                eprintln!(
                    "  {:>6.1} s: {} deliveries pending in the emulator, {} events stored ({} not applied), {} invoices paid, {} open",
                    started.elapsed().as_secs_f64(),
                    pending_deliveries(&http, &stripe_base)
                        .await
                        .map_or_else(|_| "?".to_owned(), |pending| pending.to_string()),
                    last.inbox - before.inbox,
                    last.inbox_pending,
                    last.invoices.get("paid").copied().unwrap_or_default()
                        - before.invoices.get("paid").copied().unwrap_or_default(),
                    last.invoices.get("open").copied().unwrap_or_default()
                        - before.invoices.get("open").copied().unwrap_or_default(),
                );
                next_report = Instant::now() + Duration::from_secs(5);
            }
            if complete(&before, &last, n, failing) && quiet(&platform, &http, &stripe_base).await?
            {
                settled_at = Some(started.elapsed());
            }
            next_count = Instant::now() + Duration::from_millis(500);
        }
        if started.elapsed() > limit {
            let _ = advance.kill().await;
            bail!(
                "incomplete after {} s: {}",
                limit.as_secs(),
                progress(&before, &last, n, failing)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (advance_took, _) = advance_done.context("the advance finished")?;
    let settled = settled_at.context("the run settled")?;
    let done = settled.max(advance_took);
    let mut output = String::new();
    if let Some(mut stdout) = advance.stdout.take() {
        use tokio::io::AsyncReadExt;
        stdout.read_to_string(&mut output).await?;
    }
    let after = counts(&db).await?;
    let events = after.inbox - before.inbox;
    let delta = |map: fn(&Counts) -> &BTreeMap<String, i64>| -> BTreeMap<String, i64> {
        let mut changed = map(&after).clone();
        for (key, value) in map(&before) {
            *changed.entry(key.clone()).or_default() -= value;
        }
        changed.retain(|_, value| *value != 0);
        changed
    };

    println!("clock advance said: {}", output.trim());
    println!(
        "set-up {:.1} s; billing day {:.1} s (everything mirrored and queued at {:.1} s, `clock advance` returned at {:.1} s)",
        setup.as_secs_f64(),
        done.as_secs_f64(),
        settled.as_secs_f64(),
        advance_took.as_secs_f64()
    );
    println!(
        "{events} webhook events: {:.0} events/s; {:.2} ms per subscription",
        events as f64 / done.as_secs_f64(),
        done.as_secs_f64() * 1000.0 / n as f64
    );
    println!("invoices (change): {:?}", delta(|counts| &counts.invoices));
    println!("mail outbox (change): {:?}", delta(|counts| &counts.mail));
    println!(
        "dunning runs started: {}; domain events recorded: {}",
        after.dunning_runs - before.dunning_runs,
        after.domain_events - before.domain_events
    );
    println!("jobs (change): {:?}", delta(|counts| &counts.jobs));
    println!(
        "load average: {:.2} before, {:.2} at most during the run",
        load_before.0, load_peak
    );
    println!("| process | idle RSS | peak RSS (billing day) |");
    println!("| --- | ---: | ---: |");
    for (name, sample) in &idle {
        println!(
            "| {name} | {} | {} |",
            mib(sample.rss_kb),
            mib(peak.get(name).copied().unwrap_or_default())
        );
    }
    if let Some(kb) = peak.get("clock advance") {
        println!("| clock advance | - | {} |", mib(*kb));
    }
    println!(
        "RESULT n={n} db={:?} workers={} webhook_concurrency={} setup_s={:.1} billing_day_s={:.1} events={events} events_per_s={:.0} ms_per_subscription={:.2}",
        args.database,
        args.workers,
        args.webhook_concurrency,
        setup.as_secs_f64(),
        done.as_secs_f64(),
        events as f64 / done.as_secs_f64(),
        done.as_secs_f64() * 1000.0 / n as f64
    );
    db.close().await?;
    drop(processes);
    Ok(())
}

/// Whether the billing day's effects are all there: N renewal invoices
/// (paid or open as their card says), a receipt per paid one, a dunning run
/// and its first reminder per failed one.
fn complete(before: &Counts, now: &Counts, n: usize, failing: usize) -> bool {
    let grew = |map: &BTreeMap<String, i64>, old: &BTreeMap<String, i64>, key: &str| {
        map.get(key).copied().unwrap_or_default() - old.get(key).copied().unwrap_or_default()
    };
    let (n, failing) = (n as i64, failing as i64);
    grew(&now.invoices, &before.invoices, "paid") >= n - failing
        && grew(&now.invoices, &before.invoices, "open") >= failing
        && grew(&now.mail, &before.mail, "receipt") >= n - failing
        && grew(&now.mail, &before.mail, "payment_failed") >= failing
        && now.dunning_runs - before.dunning_runs >= failing
        && now.inbox_pending == 0
}

/// One line on what is missing, for a failed run.
fn progress(before: &Counts, now: &Counts, n: usize, failing: usize) -> String {
    format!(
        "expected {} paid and {failing} open renewal invoices, as many receipts and payment-failed mails, {failing} dunning runs; have invoices {:?} (before {:?}), mail {:?} (before {:?}), dunning runs {} (before {}), {} inbox events pending",
        n - failing,
        now.invoices,
        before.invoices,
        now.mail,
        before.mail,
        now.dunning_runs,
        before.dunning_runs,
        now.inbox_pending
    )
}

/// Whether nothing is left to do: the emulator has delivered every
/// webhook, and no Billforge job is due or running.
async fn quiet(
    platform: &Platform,
    http: &reqwest::Client,
    stripe_base: &str,
) -> anyhow::Result<bool> {
    // An emulator busy renewing thousands may not answer this poll.
    if pending_deliveries(http, stripe_base).await.ok() != Some(0) {
        return Ok(false);
    }
    platform.refresh_clock().await?;
    let now = platform.now();
    let store = platform.store();
    let due = store
        .next_queued_job_at()
        .await?
        .is_some_and(|at| at <= now);
    Ok(!due && store.running_jobs(now).await? == 0)
}

/// Webhook deliveries the emulator has not made yet.
async fn pending_deliveries(http: &reqwest::Client, stripe_base: &str) -> anyhow::Result<u64> {
    let pending: Value = http
        .get(format!("{stripe_base}/_emulator/webhooks"))
        .send()
        .await?
        .json()
        .await?;
    pending["pending"]
        .as_u64()
        .context("the emulator's pending deliveries")
}

async fn counts(db: &DatabaseConnection) -> anyhow::Result<Counts> {
    Ok(Counts {
        invoices: grouped(db, "SELECT status, count(*) FROM invoices GROUP BY status").await?,
        mail: grouped(db, "SELECT kind, count(*) FROM mail_outbox GROUP BY kind").await?,
        dunning_runs: scalar(db, "SELECT count(*) FROM dunning_runs").await?,
        inbox: scalar(db, "SELECT count(*) FROM webhook_events").await?,
        inbox_pending: scalar(
            db,
            "SELECT count(*) FROM webhook_events WHERE status IN ('received', 'pending')",
        )
        .await?,
        domain_events: scalar(db, "SELECT count(*) FROM domain_events").await?,
        jobs: grouped(
            db,
            "SELECT kind || ' ' || status, count(*) FROM jobs GROUP BY kind, status",
        )
        .await?,
    })
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("a count")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn grouped(db: &DatabaseConnection, sql: &str) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get_by_index::<String>(0)?,
                row.try_get_by_index::<i64>(1)?,
            ))
        })
        .collect()
}

/// A merchant connected to an onboarded account on the emulator, with an
/// API key; returns the account and the key.
async fn merchant(platform: &Platform, web_url: &str) -> anyhow::Result<(String, String)> {
    let request = RequestId::for_task("bench-billing-day");
    let session = platform
        .sign_up(
            SignUp {
                business_name: "Billing Day".to_owned(),
                slug: "billing-day".to_owned(),
                email: "owner@billing-day.example.com".to_owned(),
                password: Secret::new("bench-correct-horse-battery"),
            },
            &request,
        )
        .await?;
    let tenant = session
        .signed_in
        .tenant_id()
        .context("a merchant has a tenant")?;
    let ctx = platform.audit_context(session.signed_in.actor()?, &request);
    let urls = platform::connect::OnboardingUrls {
        return_url: format!("{web_url}/dashboard"),
        refresh_url: format!("{web_url}/dashboard"),
    };
    let link = platform.connect_stripe(&tenant, &ctx, &urls).await?;
    let onboarded = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(&link)
        .send()
        .await?;
    ensure!(
        onboarded.status().is_redirection(),
        "the emulator's onboarding page answered {}",
        onboarded.status()
    );
    let account = platform.connected_account(&tenant).await?;
    platform
        .apply_account_state(&account, true, true, &ctx)
        .await?;
    let key = platform
        .create_api_key(
            &tenant,
            "bench",
            Some(&session.signed_in.user.id.parse()?),
            session.signed_in.actor()?,
            &request,
        )
        .await?;
    Ok((account, key.secret.expose().to_owned()))
}

/// A `Pro` plan, $30 a month, granting 10 projects and single sign-on,
/// made through the API; returns its Stripe price once the workers synced it.
async fn plan(http: &reqwest::Client, web_url: &str, key: &str) -> anyhow::Result<String> {
    let post = |path: &str, body: Value| {
        let request = http
            .post(format!("{web_url}/v1{path}"))
            .bearer_auth(key)
            .json(&body);
        let path = path.to_owned();
        async move {
            let response = request.send().await?;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            ensure!(status.is_success(), "POST {path}: {status} {body}");
            anyhow::Ok(body)
        }
    };
    let projects = post(
        "/features",
        json!({"lookup_key": "projects", "name": "Projects", "kind": {"kind": "limit", "reset": "never"}}),
    )
    .await?;
    let sso = post(
        "/features",
        json!({"lookup_key": "sso", "name": "Single sign-on", "kind": {"kind": "flag"}}),
    )
    .await?;
    let plan = post(
        "/plans",
        json!({"name": "Pro", "prices": [{"currency": "usd", "interval": {"unit": "month", "count": 1},
               "model": {"kind": "flat", "amount_minor": 3000}}]}),
    )
    .await?;
    let id = plan["id"].as_str().context("the plan's id")?;
    for (feature, value) in [
        (&projects, json!({"kind": "limit", "value": 10})),
        (&sso, json!({"kind": "enabled"})),
    ] {
        post(
            &format!("/plans/{id}/grants"),
            json!({"feature": feature["id"], "value": value}),
        )
        .await?;
    }
    for _ in 0..600 {
        let plan: Value = http
            .get(format!("{web_url}/v1/plans/{id}"))
            .bearer_auth(key)
            .send()
            .await?
            .json()
            .await?;
        if let Some(price) = plan["prices"][0]["stripe_price_id"].as_str() {
            return Ok(price.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the plan was not synced to the emulator within a minute")
}

/// Subscribes N customers of `account` to `price` on the emulator with
/// `--concurrency` requests at a time; every `failing_one_in`-th customer's
/// card is then switched to one whose charges fail.
async fn subscribe_all(
    args: &Args,
    http: &reqwest::Client,
    stripe_base: &str,
    account: &str,
    price: &str,
    anchor: i64,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (next, http) = (next.clone(), http.clone());
        let (base, account, price) = (stripe_base.to_owned(), account.to_owned(), price.to_owned());
        let (n, failing_one_in) = (args.subscriptions, args.failing_one_in);
        tasks.spawn(async move {
            let call = |path: String, form: Vec<(&'static str, String)>| {
                let request = http
                    .post(format!("{base}/v1{path}"))
                    .bearer_auth("sk_test_bench")
                    .header("Stripe-Account", &account)
                    .form(&form);
                async move {
                    let response = request.send().await?;
                    let status = response.status();
                    let body: Value = response.json().await?;
                    ensure!(status.is_success(), "POST {path}: {status} {body}");
                    anyhow::Ok(body)
                }
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let card = |pm: &str| {
                    vec![
                        ("payment_method", pm.to_owned()),
                        ("invoice_settings[default_payment_method]", pm.to_owned()),
                    ]
                };
                let mut form = card("pm_card_visa");
                form.push(("email", format!("customer{i}@billing-day.example.com")));
                let customer = call("/customers".to_owned(), form).await?;
                let customer = customer["id"].as_str().context("a customer id")?.to_owned();
                let sub = call(
                    "/subscriptions".to_owned(),
                    vec![
                        ("customer", customer.clone()),
                        ("items[0][price]", price.clone()),
                        ("billing_cycle_anchor", anchor.to_string()),
                    ],
                )
                .await?;
                ensure!(sub["status"] == "active", "subscription {i}: {sub}");
                if i % failing_one_in == 0 {
                    call(
                        format!("/customers/{customer}"),
                        card("pm_card_chargeCustomerFail"),
                    )
                    .await?;
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// `billforge clock advance <by>` on the run's database and emulator.
async fn clock_advance(
    binary: &Path,
    database_url: &str,
    stripe_base: &str,
    dir: &Path,
    by: &str,
) -> anyhow::Result<std::process::ExitStatus> {
    Ok(billforge_command(binary, database_url, stripe_base, dir)
        .args(["clock", "advance", by])
        .stdout(Stdio::null())
        .status()
        .await?)
}

fn billforge_command(binary: &Path, database_url: &str, stripe_base: &str, dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("STRIPE_API_BASE", stripe_base)
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .kill_on_drop(true);
    command
}

async fn emulator_clock(http: &reqwest::Client, stripe_base: &str) -> anyhow::Result<Value> {
    Ok(http
        .get(format!("{stripe_base}/_emulator/clock"))
        .send()
        .await?
        .json()
        .await?)
}

/// Polls `url` until it answers 200, for up to a minute.
async fn wait_for(url: &str, what: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not start within a minute ({url})")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Resident size now and its high-water mark, in KiB (zero once gone).
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_default()
    };
    Memory {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
    }
}

fn mib(kb: u64) -> String {
    format!("{:.0} MiB", kb as f64 / 1024.0)
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> (f64, f64, f64) {
    let raw = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = raw
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0.0));
    (
        fields.next().unwrap_or(0.0),
        fields.next().unwrap_or(0.0),
        fields.next().unwrap_or(0.0),
    )
}

/// Cores and memory of this machine, for the report.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("MemTotal:")
                .map(str::trim)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    format!("{cores} cores, {memory} memory")
}
