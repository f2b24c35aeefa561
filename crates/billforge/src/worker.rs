//! Background workers: run inside `serve`, or alone with `billforge worker`
//! to scale out. They work the job queue and run periodic maintenance
//! (expired sessions, old login failures) and schedule webhook
//! reconciliation (`platform::reconcile`) as often. On the emulator they
//! also keep the process's clock in step with the shared offset.

use std::time::{Duration, Instant};

use platform::Platform;
use platform::jobs::JobHandlers;

/// How often maintenance runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5 * 60);
/// How long an idle worker waits before looking for jobs again.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often the emulator-mode clock re-reads the shared offset, so an
/// advance made by another process (`billforge clock advance`, the admin
/// button on another instance) reaches this one within about a second.
const CLOCK_REFRESH: Duration = Duration::from_secs(1);

/// The job handlers of this build: the composition root where each
/// capability registers its kinds of background work.
pub fn job_handlers() -> JobHandlers {
    let mut handlers = JobHandlers::default();
    platform::catalog::register_jobs(&mut handlers);
    platform::webhooks::register_jobs(&mut handlers);
    platform::domain_events::register_jobs(&mut handlers);
    platform::dunning::register_jobs(&mut handlers);
    platform::outbound::register_jobs(&mut handlers);
    platform::reconcile::register_jobs(&mut handlers);
    platform::entitlements::register_jobs(&mut handlers);
    platform::mail::register_jobs(&mut handlers);
    platform::scheduled_changes::register_jobs(&mut handlers);
    handlers
}

/// Runs the workers until the task is dropped or aborted. A job is never
/// interrupted by maintenance: both run in turn on this one task.
pub async fn run(platform: Platform, handlers: JobHandlers) {
    let mut next_maintenance = Instant::now();
    let mut next_clock_refresh = Instant::now();
    loop {
        if Instant::now() >= next_clock_refresh {
            if let Err(err) = platform.refresh_clock().await {
                tracing::warn!(error = %err, "could not read the shared clock offset");
            }
            next_clock_refresh = Instant::now() + CLOCK_REFRESH;
        }
        if Instant::now() >= next_maintenance {
            if let Err(err) = platform.run_maintenance().await {
                tracing::warn!(error = %err, "maintenance failed; retrying at the next round");
            }
            if let Err(err) = platform.schedule_webhook_reconcile().await {
                tracing::warn!(error = %err, "could not schedule webhook reconciliation");
            }
            next_maintenance = Instant::now() + MAINTENANCE_EVERY;
        }
        match platform
            .run_due_jobs(&handlers, platform::jobs::CLAIM_BATCH)
            .await
        {
            Ok(ran) if ran > 0 => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not work the job queue"),
        }
        tokio::time::sleep(IDLE_POLL).await;
    }
}
