//! Background workers: run inside `serve`, or alone with `billforge worker`
//! to scale out. Today: periodic maintenance (expired sessions, old login
//! failures); later issues add job queue consumers here.

use std::time::Duration;

use platform::Platform;

/// How often maintenance runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5 * 60);

/// Runs the workers until the task is dropped or aborted.
pub async fn run(platform: Platform) {
    let mut ticker = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        ticker.tick().await;
        if let Err(err) = platform.run_maintenance().await {
            tracing::warn!(error = %err, "maintenance failed; retrying at the next tick");
        }
    }
}
