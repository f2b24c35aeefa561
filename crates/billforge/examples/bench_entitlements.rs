//! The entitlement check under load, beside a minimal actix-web endpoint.
//!
//! `cargo run --release -p billforge --example bench_entitlements` (see
//! docs/BENCHMARKS.md). It loads 10,000 customers × 20 features into a fresh
//! database (SQLite in a temporary directory, or `DATABASE_URL`), starts the
//! real Billforge app and a minimal actix-web app that answers a constant JSON
//! body, and drives each in turn with 64 keep-alive connections for
//! `BENCH_SECONDS` (default 10), first flat out (throughput), then at a fixed
//! rate, half the check's throughput or `BENCH_RATE` (latency), reporting
//! requests/s and p50/p99 latency. It exits non-zero when the check reaches
//! less than half the minimal endpoint's throughput or its p99 at the fixed
//! rate is 2 ms or more.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use billing::entitlements::Source;
use billing::ids::CustomerId;
use hdrhistogram::Histogram;
use platform::accounts::SignUp;
use platform::{Platform, RequestId, Secret, Settings};
use store::entitlements::NewEntitlement;
use store::mirror::NewCustomer;

const CUSTOMERS: usize = 10_000;
const FEATURES: usize = 20;
const CONNECTIONS: usize = 64;

/// What one side of the comparison achieved.
struct Outcome {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(10);
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let data = tempfile::tempdir()?;
    let database_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.sqlite?mode=rwc", data.path().display()));
    let mut settings = Settings::with_defaults(&database_url);
    // The per-key rate limit would measure itself, not the check.
    settings.api_rate_limit.per_second = u32::MAX;
    settings.api_rate_limit.burst = u32::MAX;
    // The check never calls Stripe; a client pointed nowhere suffices.
    let stripe = stripe::Client::builder("sk_test_bench")
        .base_url("http://127.0.0.1:9")
        .build()?;
    let platform = Platform::start(settings, Arc::new(billing::clock::SystemClock), stripe).await?;

    eprintln!("loading {CUSTOMERS} customers x {FEATURES} features into {database_url} ...");
    let started = Instant::now();
    let (key, external_ids) = seed(&platform).await?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let billforge_url = format!("http://{}", listener.local_addr()?);
    let server = billforge::app::build_server(platform.clone(), listener, workers)?;
    let billforge_handle = server.handle();
    tokio::spawn(server);

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let minimal_url = format!("http://{}", listener.local_addr()?);
    let minimal = HttpServer::new(|| {
        App::new().route(
            "/check",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(r#"{"object":"entitlement","allowed":true,"limit":null}"#)
            }),
        )
    })
    .workers(workers)
    // As Billforge's server, so the comparison is of the handlers alone.
    .tcp_nodelay(true)
    .listen(listener)?
    .run();
    let minimal_handle = minimal.handle();
    tokio::spawn(minimal);

    let paths: Arc<dyn Fn(u64) -> String + Send + Sync> = Arc::new(move |n: u64| {
        let n = usize::try_from(n).unwrap_or_default();
        let customer = &external_ids[n.wrapping_mul(7919) % external_ids.len()];
        format!(
            "/v1/entitlements/check?customer={customer}&feature=feature_{}",
            n % FEATURES
        )
    });
    let constant: Arc<dyn Fn(u64) -> String + Send + Sync> = Arc::new(|_| "/check".to_owned());
    let duration = Duration::from_secs(seconds);
    // Warm both (connections, the caches of the check) before measuring.
    drive(
        &billforge_url,
        Some(&key),
        paths.clone(),
        Duration::from_secs(2),
        None,
    )
    .await?;
    drive(
        &minimal_url,
        None,
        constant.clone(),
        Duration::from_secs(1),
        None,
    )
    .await?;
    // Throughput: every connection flat out.
    let check = drive(&billforge_url, Some(&key), paths.clone(), duration, None).await?;
    let baseline = drive(&minimal_url, None, constant.clone(), duration, None).await?;
    // Latency: flat out, 64 connections queue behind each other and the
    // latency is just connections / throughput (Little's law), for any
    // endpoint; what a merchant's app sees is the latency at a load the
    // server is not saturated by. Both endpoints get the same fixed rate,
    // half the check's own throughput unless `BENCH_RATE` says otherwise.
    let rate = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|raw| raw.parse::<f64>().ok())
        .unwrap_or(check.requests_per_second / 2.0);
    let check_at_rate = drive(&billforge_url, Some(&key), paths, duration, Some(rate)).await?;
    let baseline_at_rate = drive(&minimal_url, None, constant, duration, Some(rate)).await?;

    billforge_handle.stop(true).await;
    minimal_handle.stop(true).await;

    let ratio = check.requests_per_second / baseline.requests_per_second;
    println!("| endpoint | load | requests/s | p50 | p99 |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let flat_out = format!("flat out, {CONNECTIONS} connections");
    let fixed = format!("{rate:.0} req/s, {CONNECTIONS} connections");
    for (name, load, outcome) in [
        ("GET /v1/entitlements/check (Billforge)", &flat_out, &check),
        ("minimal actix-web constant JSON", &flat_out, &baseline),
        (
            "GET /v1/entitlements/check (Billforge)",
            &fixed,
            &check_at_rate,
        ),
        ("minimal actix-web constant JSON", &fixed, &baseline_at_rate),
    ] {
        println!(
            "| {name} | {load} | {:.0} | {:.3} ms | {:.3} ms |",
            outcome.requests_per_second,
            outcome.p50.as_secs_f64() * 1000.0,
            outcome.p99.as_secs_f64() * 1000.0
        );
    }
    println!(
        "check / minimal throughput: {:.0}% (target >= 50%); check p99 at {rate:.0} req/s {:.3} ms (target < 2 ms); {seconds} s each, {workers} server workers",
        ratio * 100.0,
        check_at_rate.p99.as_secs_f64() * 1000.0
    );
    anyhow::ensure!(
        ratio >= 0.5,
        "the check is below half the minimal endpoint's throughput"
    );
    anyhow::ensure!(
        check_at_rate.requests_per_second >= 0.95 * rate,
        "the load generator could not keep up the fixed rate"
    );
    anyhow::ensure!(
        check_at_rate.p99 < Duration::from_millis(2),
        "the check's p99 is 2 ms or more"
    );
    Ok(())
}

/// A merchant with an API key, 20 features and 10,000 customers whose
/// entitlements are stored (as recomputation stores them); returns the key
/// and the customers' external ids.
async fn seed(platform: &Platform) -> anyhow::Result<(String, Vec<String>)> {
    let session = platform
        .sign_up(
            SignUp {
                business_name: "Bench".to_owned(),
                slug: "bench".to_owned(),
                email: "owner@bench.example.com".to_owned(),
                password: Secret::new("bench-correct-horse-battery"),
            },
            &RequestId::for_task("bench"),
        )
        .await?;
    let tenant = session
        .signed_in
        .tenant_id()
        .ok_or_else(|| anyhow::anyhow!("a merchant has a tenant"))?;
    let key = platform
        .create_api_key(
            &tenant,
            "bench",
            Some(&session.signed_in.user.id.parse()?),
            session.signed_in.actor()?,
            &RequestId::for_task("bench"),
        )
        .await?;
    let source = serde_json::to_string(&Source::Override)?;
    let mut external_ids = Vec::with_capacity(CUSTOMERS);
    let scope = platform.store().scoped(&tenant);
    for n in 0..CUSTOMERS {
        let external_id = format!("user-{n}");
        let row = platform
            .create_customer_record(
                &tenant,
                NewCustomer {
                    stripe_customer_id: None,
                    external_id: Some(external_id.clone()),
                    email: None,
                    name: None,
                    metadata: None,
                },
            )
            .await?;
        let rows = (0..FEATURES)
            .map(|feature| NewEntitlement {
                lookup_key: format!("feature_{feature}"),
                allowed: (n + feature) % 3 != 0,
                limit: (feature % 2 == 0).then_some(100 * feature as i64),
                source: source.clone(),
            })
            .collect();
        scope
            .replace_entitlements(
                &CustomerId::parse(&row.id)?,
                &[],
                rows,
                None,
                None,
                platform.now(),
            )
            .await?;
        external_ids.push(external_id);
    }
    Ok((key.secret.expose().to_owned(), external_ids))
}

/// Drives `base` with [`CONNECTIONS`] keep-alive connections for `duration`:
/// flat out (each connection sends its next request when the last one is
/// answered) when `rate` is `None`, or at `rate` requests per second spread
/// evenly over the connections. Latency is measured from each request's
/// sending to the end of its answer.
async fn drive(
    base: &str,
    key: Option<&str>,
    path: Arc<dyn Fn(u64) -> String + Send + Sync>,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut total = 0u64;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|connection| {
            let stop = stop.clone();
            let base = base.to_owned();
            let key = key.map(str::to_owned);
            let path = path.clone();
            tokio::spawn(async move {
                // One client per connection, at most one idle connection: the
                // connection is reused for every request (keep-alive).
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()?;
                let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                let mut n = connection as u64;
                // At a fixed rate, each connection sends every `interval`,
                // the connections staggered across one interval.
                let interval = rate.map(|rate| Duration::from_secs_f64(CONNECTIONS as f64 / rate));
                let mut next_send = tokio::time::Instant::now()
                    + interval.map_or(Duration::ZERO, |interval| {
                        interval.mul_f64(connection as f64 / CONNECTIONS as f64)
                    });
                while !stop.load(Ordering::Relaxed) {
                    if let Some(interval) = interval {
                        tokio::time::sleep_until(next_send).await;
                        next_send += interval;
                    }
                    let mut request = client.get(format!("{base}{}", path(n)));
                    if let Some(key) = &key {
                        request = request.bearer_auth(key);
                    }
                    let sent = Instant::now();
                    let response = request.send().await?;
                    let status = response.status();
                    response.bytes().await?;
                    anyhow::ensure!(status.is_success(), "{base}: {status}");
                    local.record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX))?;
                    n += CONNECTIONS as u64;
                }
                anyhow::Ok(local)
            })
        })
        .collect();
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let mut results = Vec::with_capacity(CONNECTIONS);
    for task in tasks {
        results.push(task.await??);
    }
    timer.await?;
    let elapsed = started.elapsed().as_secs_f64();
    for local in results {
        total += local.len();
        histogram.add(local)?;
    }
    Ok(Outcome {
        requests_per_second: total as f64 / elapsed,
        p50: Duration::from_micros(histogram.value_at_quantile(0.50)),
        p99: Duration::from_micros(histogram.value_at_quantile(0.99)),
    })
}
