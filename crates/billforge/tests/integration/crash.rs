//! Faults: `billforge serve` killed with SIGKILL in the middle of a burst of
//! webhook deliveries, and a `billforge worker` killed in the middle of a job.
//!
//! The emulator's real events of many paid subscriptions are delivered once,
//! in order, to an in-process app: that is the reference. The same events,
//! each 1–3 times and shuffled, go to a real `billforge serve` child process
//! on its own database, which is killed mid-burst and started again on the
//! same database; the rest of the burst and every delivery it did not
//! acknowledge are then sent again, as Stripe would. The child must end with
//! the reference's mirror, domain events, inbox outcomes and mail outbox:
//! every event applied once, no mail twice, none missing.
//!
//! `CRASH_DELIVERIES` sets the burst's size (default 1,200);
//! docs/BENCHMARKS.md runs it with 10,000.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billing::ids::TenantId;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

use platform::jobs::LEASE;
use store::outbound::DELIVER_JOB;

use crate::harness::{
    TestApp, billforge_binary, connected_tenant, free_port, repoint_connection, run_jobs,
    spawn_app, wait_ready, wait_until,
};
use crate::mirror::{customer, domain_events, emulator_events, price, snapshot, subscribe};
use crate::outbound;
use crate::webhooks::{self, CONNECT_SECRET, app_with_secrets};

/// The Connect endpoint secret the child process is started with.
const CHILD_CONNECT_SECRET: &str = "whsec_crash_test_connect";
/// Concurrent senders of the burst (Stripe delivers in parallel too).
const SENDERS: usize = 16;

/// A `billforge serve` child process.
struct Serve {
    child: tokio::process::Child,
    address: String,
}

impl Serve {
    /// Starts the built binary on `database_url`, talking to the emulator at
    /// `stripe_base`, and waits until it is ready.
    async fn start(database_url: &str, stripe_base: &str, dir: &Path, run: &str) -> Self {
        let port = free_port();
        let address = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join(format!("serve-{run}.log"))).unwrap();
        let child = billforge_binary(database_url, stripe_base)
            .current_dir(dir)
            .arg("serve")
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &address)
            .env("STRIPE_WEBHOOK_SECRETS", "whsec_crash_test_platform")
            .env("STRIPE_CONNECT_WEBHOOK_SECRETS", CHILD_CONNECT_SECRET)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the billforge binary starts");
        wait_ready(&address).await;
        Self { child, address }
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is cut.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Delivers `body` to the child's Connect endpoint, signed now; true when
/// acknowledged (2xx).
async fn deliver(client: &reqwest::Client, address: &str, body: &str) -> bool {
    let signature = stripe::webhook::signature_header(
        &[CHILD_CONNECT_SECRET],
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    client
        .post(format!("{address}/webhooks/stripe/connect"))
        .header("content-type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
}

/// Sends `queue` (event indexes) from [`SENDERS`] concurrent senders until it
/// is empty or `stop` is set; returns the indexes acknowledged and how many
/// deliveries were taken from the queue.
async fn send_burst(
    address: &str,
    bodies: &Arc<Vec<String>>,
    queue: &Arc<Vec<usize>>,
    stop: &Arc<AtomicBool>,
) -> (BTreeSet<usize>, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (client, address, bodies, queue) = (
            client.clone(),
            address.to_owned(),
            bodies.clone(),
            queue.clone(),
        );
        let (next, acknowledged, stop) = (next.clone(), acknowledged.clone(), stop.clone());
        senders.spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(&event) = queue.get(n) else { return };
                if deliver(&client, &address, &bodies[event]).await {
                    acknowledged.lock().unwrap().insert(event);
                }
            }
        });
    }
    while let Some(sender) = senders.join_next().await {
        sender.unwrap();
    }
    let taken = next.load(Ordering::SeqCst).min(queue.len());
    let acknowledged = acknowledged.lock().unwrap().clone();
    (acknowledged, taken)
}

/// Everything the deliveries should have produced for `tenant`: the mirror,
/// the domain events, each event's inbox outcome and the mail outbox (kind,
/// recipient, subject and the domain event it came from). Billforge's own ids
/// and write times are left out: they differ between databases by design.
async fn outcome(app: &TestApp, tenant: &TenantId) -> Vec<String> {
    let mut lines = snapshot(app, tenant).await;
    lines.extend(
        domain_events(app, tenant)
            .await
            .into_iter()
            .map(|(kind, cause)| format!("domain event {kind} {cause}")),
    );
    let db = Database::connect(&app.database_url).await.unwrap();
    for query in [
        format!(
            "SELECT 'inbox ' || id || ' ' || status AS line FROM webhook_events \
             WHERE tenant_id = '{tenant}'"
        ),
        format!(
            "SELECT 'mail ' || o.kind || ' ' || o.recipient || ' ' || o.subject || ' for ' \
             || COALESCE(d.kind || ' ' || d.cause, '-') AS line \
             FROM mail_outbox o LEFT JOIN domain_events d ON d.id = o.domain_event_id \
             WHERE o.tenant_id = '{tenant}'"
        ),
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), query))
            .await
            .unwrap();
        lines.extend(
            rows.iter()
                .map(|row| row.try_get::<String>("", "line").unwrap()),
        );
    }
    db.close().await.unwrap();
    // Sorted but not deduplicated: a second mail or inbox row would show.
    lines.sort();
    lines
}

/// Returns once the inbox at `database_url` holds `events` events.
async fn inbox_reaches(database_url: &str, events: usize) {
    let db = Database::connect(database_url).await.unwrap();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stored = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM webhook_events".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        if stored as usize >= events {
            db.close().await.unwrap();
            return;
        }
    }
}

/// The lines `actual` lacks and those it has too many of, against `expected`
/// (both sorted, repeats counted).
fn difference(actual: &[String], expected: &[String]) -> (Vec<String>, Vec<String>) {
    let mut counts = BTreeMap::<&String, i64>::new();
    for line in expected {
        *counts.entry(line).or_default() += 1;
    }
    for line in actual {
        *counts.entry(line).or_default() -= 1;
    }
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    for (line, count) in counts {
        let list = if count > 0 { &mut missing } else { &mut extra };
        for _ in 0..count.abs() {
            list.push(line.clone());
        }
    }
    (missing, extra)
}

#[tokio::test]
async fn a_server_killed_mid_burst_applies_every_event_once_and_mails_once() {
    let deliveries: usize = std::env::var("CRASH_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_200);
    // The reference: one tenant on the emulator's account, its real events
    // delivered once each, in order, to the in-process app.
    let reference = app_with_secrets().await;
    let (reference_tenant, account, _) = connected_tenant(&reference, "crashco").await;
    let monthly = price(&reference, &account, 2_500).await;
    // Each paid subscription makes a handful of events; the burst sends each
    // event twice on average.
    let mut events = Vec::new();
    let mut subscribers = 0;
    while events.len() * 2 < deliveries {
        for _ in 0..10 {
            let email = format!("subscriber{subscribers}@example.com");
            let cus = customer(&reference, &account, &email, "pm_card_visa").await;
            subscribe(&reference, &account, &cus, &monthly).await;
            subscribers += 1;
        }
        events = emulator_events(&reference, &account).await;
    }
    let bodies: Arc<Vec<String>> = Arc::new(events.iter().map(Value::to_string).collect());
    for body in bodies.iter() {
        let (status, answer) =
            webhooks::deliver(&reference, "/webhooks/stripe/connect", CONNECT_SECRET, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    run_jobs(&reference).await;
    let expected = outcome(&reference, &reference_tenant).await;
    assert!(
        expected.iter().any(|line| line.starts_with("mail ")),
        "the reference mails someone: {expected:#?}"
    );

    // The crash run: a second database with the same tenant on the same
    // account, served by real `billforge serve` processes.
    let crashed = spawn_app().await;
    let (crash_tenant, _, _) = connected_tenant(&crashed, "crashco").await;
    repoint_connection(&crashed, &crash_tenant, &account).await;
    let copies = proptest::collection::vec(1..=3usize, bodies.len());
    let mut runner = TestRunner::deterministic();
    let copies = copies.new_tree(&mut runner).unwrap().current();
    let burst: Vec<usize> = copies
        .iter()
        .enumerate()
        .flat_map(|(event, &n)| std::iter::repeat_n(event, n))
        .collect();
    let burst = Just(burst)
        .prop_shuffle()
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let dir = tempfile::tempdir().unwrap();
    let stripe_base = reference.emulator.base_url();

    let started = Instant::now();
    let first = Serve::start(&crashed.database_url, &stripe_base, dir.path(), "first").await;
    let stop = Arc::new(AtomicBool::new(false));
    let queue = Arc::new(burst.clone());
    let (acknowledged_before, taken) = {
        let address = first.address.clone();
        let sending = send_burst(&address, &bodies, &queue, &stop);
        tokio::pin!(sending);
        tokio::select! {
            result = &mut sending => result,
            () = inbox_reaches(&crashed.database_url, bodies.len() / 2) => {
                first.kill().await;
                stop.store(true, Ordering::SeqCst);
                sending.await
            }
        }
    };
    let killed_at = Instant::now();

    // Restarted at once on the same database: the rest of the burst, then
    // every event not acknowledged so far, as Stripe retries it. A job the
    // killed process had leased is taken again once its lease (30 s, no
    // longer renewed) lapses, well within the wait for the outcome below.
    let second = Serve::start(&crashed.database_url, &stripe_base, dir.path(), "second").await;
    let rest = Arc::new(burst[taken..].to_vec());
    let (acknowledged_after, _) = send_burst(
        &second.address,
        &bodies,
        &rest,
        &Arc::new(AtomicBool::new(false)),
    )
    .await;
    let unacknowledged: Vec<usize> = (0..bodies.len())
        .filter(|event| !acknowledged_before.contains(event) && !acknowledged_after.contains(event))
        .collect();
    let retries = Arc::new(unacknowledged.clone());
    let (retried, _) = send_burst(
        &second.address,
        &bodies,
        &retries,
        &Arc::new(AtomicBool::new(false)),
    )
    .await;
    assert_eq!(
        retried.len(),
        unacknowledged.len(),
        "every retry is acknowledged by the restarted server"
    );

    // The restarted server's worker applies what is left; wait for it to
    // reach the reference, then compare.
    let mut actual = outcome(&crashed, &crash_tenant).await;
    // Half-second polls: two minutes, or more for a long run (the debug
    // build applies a few dozen events a second on two cores).
    for _ in 0..(deliveries / 10).max(240) {
        if actual == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        actual = outcome(&crashed, &crash_tenant).await;
    }
    let settled = Instant::now();
    second.kill().await;
    eprintln!(
        "crash burst: {} events, {} deliveries; killed after {} taken, {} acknowledged; \
         {} unacknowledged resent; killed {:.1}s after start, settled {:.1}s after",
        bodies.len(),
        burst.len(),
        taken,
        acknowledged_before.len(),
        unacknowledged.len(),
        (killed_at - started).as_secs_f64(),
        (settled - killed_at).as_secs_f64(),
    );
    assert!(
        taken < burst.len(),
        "the server was killed before the burst ended"
    );
    assert_eq!(
        difference(&actual, &expected),
        (vec![], vec![]),
        "(missing, extra) after the crash, against the in-order delivery"
    );
}

/// A `billforge worker` child process on the test's database and emulator
/// (its output in `dir`), killed when dropped.
fn worker_process(app: &TestApp, dir: &Path, run: &str) -> tokio::process::Child {
    let log = std::fs::File::create(dir.join(format!("worker-{run}.log"))).unwrap();
    billforge_binary(&app.database_url, &app.emulator.base_url())
        .current_dir(dir)
        .arg("worker")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("the billforge binary starts")
}

/// The `status` and `attempts` of every job of `kind`.
async fn jobs_of_kind(app: &TestApp, kind: &str) -> Vec<(String, i64)> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT status, attempts FROM jobs WHERE kind = '{kind}'"),
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get::<String>("", "status").unwrap(),
                row.try_get::<i32>("", "attempts").unwrap().into(),
            )
        })
        .collect()
}

/// A `billforge worker` killed with SIGKILL in the middle of a job (an
/// outbound webhook whose receiver has not answered yet): the job's lease
/// is short (`platform::jobs::LEASE`, 30 s) because live workers renew it,
/// so another worker process takes the job over within it and finishes it,
/// once.
#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_within_the_lease_and_the_job_done_once() {
    let app = spawn_app().await;
    let (tenant, key) = outbound::merchant(&app, "acme").await;
    let server = outbound::receiver().await;
    // The first delivery hangs (the kill lands while it does).
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let (endpoint, _) = outbound::endpoint(&app, &key, &server.uri(), &["invoice.paid"]).await;
    let event = outbound::record(
        &app,
        &tenant,
        outbound::invoice_paid(&outbound::customer("cus_ada"), "in_1"),
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();

    let mut first = worker_process(&app, dir.path(), "first");
    wait_until("the first worker is mid-delivery", || async {
        server.received_requests().await.unwrap().len() == 1
    })
    .await;
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let killed_at = Instant::now();
    assert_eq!(
        jobs_of_kind(&app, DELIVER_JOB).await,
        [("running".to_owned(), 1)],
        "the killed worker's lease holds the job"
    );

    let _second = worker_process(&app, dir.path(), "second");
    wait_until("the second worker delivers", || async {
        outbound::deliveries(&app, &key, &endpoint).await[0]["status"] == "succeeded"
    })
    .await;
    let taken_over_after = killed_at.elapsed();
    assert!(
        taken_over_after < LEASE.to_std().unwrap() + Duration::from_secs(5),
        "taken over within the lease: {taken_over_after:?}"
    );
    eprintln!("a killed worker's job was done by another {taken_over_after:?} after the kill");

    // Done once: one job, completed on its second attempt; one delivery,
    // whose log holds the one answered attempt. The receiver saw the cut
    // request and the answered one, both with the event's id (Standard
    // Webhooks' idempotency key), and nothing after.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        jobs_of_kind(&app, DELIVER_JOB).await,
        [("succeeded".to_owned(), 2)]
    );
    let log = outbound::deliveries(&app, &key, &endpoint).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let detail = app
        .ok_json(
            &format!("/v1/webhook_deliveries/{}", log[0]["id"].as_str().unwrap()),
            &key,
        )
        .await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{detail}");
    assert_eq!(attempts[0]["response_status"], 200);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|request| request.headers["webhook-id"] == event.as_str())
    );
}
