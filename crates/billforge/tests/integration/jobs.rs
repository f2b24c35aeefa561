//! The job queue on the real database: dedupe, retries with back-off,
//! permanent failures, lease take-over after a crashed worker, leases kept
//! by a live worker's heartbeat and lost by a stalled one, and two workers
//! racing on one queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use platform::jobs::{JobError, JobHandlers, LEASE};
use platform::records::JobStatus;

use crate::harness::{TestApp, spawn_app, wait_until};

async fn status_of(app: &TestApp, id: &str) -> (JobStatus, i32, Option<String>) {
    let job = app
        .platform
        .store()
        .job(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    (job.status, job.attempts, job.last_error)
}

/// A handler failing with `Retry` on its first `failures` runs, then succeeding.
fn flaky(failures: usize, runs: Arc<AtomicUsize>) -> platform::jobs::JobHandler {
    Arc::new(move |_, _| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if run < failures {
                Err(JobError::Retry("upstream unavailable".into()))
            } else {
                Ok(())
            }
        })
    })
}

#[tokio::test]
async fn jobs_are_deduplicated_retried_and_completed() {
    let app = spawn_app().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let mut handlers = JobHandlers::default();
    handlers.register("test.flaky", flaky(1, runs.clone()));

    let payload = serde_json::json!({"n": 1});
    let first = app
        .platform
        .enqueue_job("test.flaky", &payload, None, Some("evt_1".into()))
        .await
        .unwrap();
    let again = app
        .platform
        .enqueue_job("test.flaky", &payload, None, Some("evt_1".into()))
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "same dedupe key, same job");

    assert!(app.platform.run_next_job(&handlers).await.unwrap());
    let (status, attempts, error) = status_of(&app, &first.id).await;
    assert_eq!(
        (status, attempts, error.as_deref()),
        (JobStatus::Queued, 1, Some("upstream unavailable"))
    );
    assert!(
        !app.platform.run_next_job(&handlers).await.unwrap(),
        "not due during back-off"
    );

    app.clock.advance(TimeDelta::seconds(31)).unwrap();
    assert!(app.platform.run_next_job(&handlers).await.unwrap());
    assert_eq!(status_of(&app, &first.id).await.0, JobStatus::Succeeded);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(
        !app.platform.run_next_job(&handlers).await.unwrap(),
        "queue drained"
    );
}

/// A handler whose first attempt waits for `gate`, then succeeds; any
/// later attempt fails with `Retry`.
fn first_attempt_waits_for(gate: Arc<tokio::sync::Notify>) -> platform::jobs::JobHandler {
    Arc::new(move |_, job| {
        let gate = gate.clone();
        Box::pin(async move {
            if job.attempts > 1 {
                return Err(JobError::Retry("the second holder fails".into()));
            }
            gate.notified().await;
            Ok(())
        })
    })
}

/// A job's lease end.
async fn locked_until(app: &TestApp, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let job = app.platform.store().job(&id.parse().unwrap()).await;
    job.unwrap().unwrap().locked_until
}

/// Enqueues a `test.held` job and starts a worker on it in the background
/// (its first attempt waits for the returned gate); returns once the job is
/// running.
async fn a_worker_holding_a_job(
    app: &TestApp,
) -> (
    String,
    Arc<tokio::sync::Notify>,
    JobHandlers,
    tokio::task::JoinHandle<usize>,
) {
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut handlers = JobHandlers::default();
    handlers.register("test.held", first_attempt_waits_for(gate.clone()));
    let job = app
        .platform
        .enqueue_job("test.held", &(), None, None)
        .await
        .unwrap();
    let worker = tokio::spawn({
        let (platform, handlers) = (app.platform.clone(), handlers.clone());
        async move { platform.run_due_jobs(&handlers, 16).await.unwrap() }
    });
    wait_until("the worker holds the job", || async {
        status_of(app, &job.id).await.0 == JobStatus::Running
    })
    .await;
    (job.id, gate, handlers, worker)
}

#[tokio::test]
async fn a_live_workers_heartbeat_keeps_its_job_past_the_lease() {
    let app = spawn_app().await;
    let (id, gate, handlers, worker) = a_worker_holding_a_job(&app).await;
    let claimed_until = locked_until(&app, &id).await.unwrap();

    // The worker's next heartbeat (a third of the lease in) dates the lease
    // from the clock's time then.
    app.clock.advance(LEASE - TimeDelta::seconds(5)).unwrap();
    wait_until("the heartbeat extends the lease", || async {
        locked_until(&app, &id).await > Some(claimed_until)
    })
    .await;
    // Past the lease as claimed: another worker still finds nothing to take.
    app.clock.advance(TimeDelta::seconds(10)).unwrap();
    assert!(app.platform.now() > claimed_until);
    app.platform.run_due_jobs(&handlers, 16).await.unwrap();
    assert_eq!(status_of(&app, &id).await, (JobStatus::Running, 1, None));

    gate.notify_one();
    assert_eq!(worker.await.unwrap(), 1);
    assert_eq!(status_of(&app, &id).await, (JobStatus::Succeeded, 1, None));
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_does_not_settle_the_job() {
    let app = spawn_app().await;
    let (id, gate, handlers, worker) = a_worker_holding_a_job(&app).await;

    // The holder stalls past its lease (before any heartbeat): another
    // worker takes the job over, and its attempt fails for a retry.
    app.clock.advance(LEASE + TimeDelta::seconds(1)).unwrap();
    assert_eq!(app.platform.run_due_jobs(&handlers, 16).await.unwrap(), 1);
    let retrying = (
        JobStatus::Queued,
        2,
        Some("the second holder fails".to_owned()),
    );
    assert_eq!(status_of(&app, &id).await, retrying);

    // The first holder finishes: its success no longer settles the job.
    gate.notify_one();
    assert_eq!(worker.await.unwrap(), 1);
    assert_eq!(
        status_of(&app, &id).await,
        retrying,
        "the job waits for its retry, not completed by the holder that lost it"
    );
}

#[tokio::test]
async fn unknown_kinds_fail_for_good_and_lapsed_leases_are_taken_over() {
    let app = spawn_app().await;
    let handlers = {
        let mut handlers = JobHandlers::default();
        handlers.register("test.ok", flaky(0, Arc::new(AtomicUsize::new(0))));
        handlers
    };
    let orphan = app
        .platform
        .enqueue_job("test.nobody", &(), None, None)
        .await
        .unwrap();
    assert!(app.platform.run_next_job(&handlers).await.unwrap());
    let (status, _, error) = status_of(&app, &orphan.id).await;
    assert_eq!(status, JobStatus::Failed);
    assert!(
        error
            .unwrap()
            .contains("no handler for job kind `test.nobody`")
    );

    // A worker claims a job and dies: nobody else may take it until the lease lapses.
    let job = app
        .platform
        .enqueue_job("test.ok", &(), None, None)
        .await
        .unwrap();
    let lease = TimeDelta::minutes(5);
    let claimed = app
        .platform
        .store()
        .claim_job(app.platform.now(), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, job.id);
    assert!(!app.platform.run_next_job(&handlers).await.unwrap());
    app.clock.advance(TimeDelta::minutes(6)).unwrap();
    assert!(app.platform.run_next_job(&handlers).await.unwrap());
    let (status, attempts, _) = status_of(&app, &job.id).await;
    assert_eq!(
        (status, attempts),
        (JobStatus::Succeeded, 2),
        "the crashed attempt counts"
    );
}

#[tokio::test]
async fn a_batch_is_claimed_most_overdue_first_and_released_jobs_return_unspent() {
    let app = spawn_app().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let mut handlers = JobHandlers::default();
    handlers.register("test.ok", flaky(0, runs.clone()));
    let mut enqueued = Vec::new();
    for n in 0..5 {
        enqueued.push(
            app.platform
                .enqueue_job("test.ok", &n, None, None)
                .await
                .unwrap()
                .id,
        );
        app.clock.advance(TimeDelta::seconds(1)).unwrap();
    }
    let store = app.platform.store();
    let lease = TimeDelta::minutes(5);
    let first = store
        .claim_jobs(app.platform.now(), lease, 3)
        .await
        .unwrap();
    let ids = |jobs: &[store::Job]| jobs.iter().map(|job| job.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&first),
        enqueued[..3],
        "the three most overdue, in order"
    );
    assert!(
        first
            .iter()
            .all(|job| job.attempts == 1 && job.status == JobStatus::Running)
    );
    let rest = store
        .claim_jobs(app.platform.now(), lease, 3)
        .await
        .unwrap();
    assert_eq!(
        ids(&rest),
        enqueued[3..],
        "a claimed job is never handed out twice"
    );

    let token = |jobs: &[store::Job]| jobs[0].lease_token.clone().unwrap();
    store
        .release_jobs(&token(&rest), &ids(&rest), app.platform.now())
        .await
        .unwrap();
    for id in &enqueued[3..] {
        assert_eq!(status_of(&app, id).await, (JobStatus::Queued, 0, None));
    }
    store
        .complete_jobs(&token(&first), &ids(&first), app.platform.now())
        .await
        .unwrap();
    assert_eq!(
        app.platform.run_due_jobs(&handlers, 16).await.unwrap(),
        2,
        "only the released jobs are left to run"
    );
    for id in &enqueued {
        assert_eq!(status_of(&app, id).await.0, JobStatus::Succeeded);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_database_never_run_a_job_twice() {
    let app = spawn_app().await;
    const JOBS: usize = 300;
    for n in 0..JOBS {
        app.platform
            .enqueue_job("test.count", &serde_json::json!({ "n": n }), None, None)
            .await
            .unwrap();
    }
    // Two platforms with their own connection pools, as two processes
    // (`serve` and `worker`) on the same database would have.
    let second = platform::Platform::start(
        platform::Settings::with_defaults(&app.database_url),
        Arc::new(app.clock.clone()),
        app.platform.stripe().clone(),
    )
    .await
    .unwrap();
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let worker = |platform: platform::Platform, name: &'static str| {
        let runs = runs.clone();
        let mut handlers = JobHandlers::default();
        handlers.register(
            "test.count",
            Arc::new(move |_, job| {
                let runs = runs.clone();
                Box::pin(async move {
                    let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
                    tokio::task::yield_now().await;
                    runs.lock()
                        .unwrap()
                        .push((payload["n"].as_u64().unwrap() as usize, name));
                    Ok(())
                })
            }),
        );
        async move {
            // Claims in batches, as the worker loop does.
            let mut ran = 0;
            loop {
                match platform.run_due_jobs(&handlers, 8).await.unwrap() {
                    0 => break ran,
                    batch => ran += batch,
                }
            }
        }
    };
    let (first_ran, second_ran) = tokio::join!(
        tokio::spawn(worker(app.platform.clone(), "first")),
        tokio::spawn(worker(second, "second")),
    );
    let (first_ran, second_ran) = (first_ran.unwrap(), second_ran.unwrap());
    let mut executed: Vec<usize> = runs.lock().unwrap().iter().map(|(n, _)| *n).collect();
    executed.sort_unstable();
    assert_eq!(executed, (0..JOBS).collect::<Vec<_>>(), "each job once");
    assert_eq!(first_ran + second_ran, JOBS);
    // On PostgreSQL (`FOR UPDATE SKIP LOCKED`) both claim side by side; on
    // SQLite one writer at a time may happen to win every claim.
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        assert!(
            first_ran > 0 && second_ran > 0,
            "both workers took jobs: {first_ran} and {second_ran}"
        );
    }
}
