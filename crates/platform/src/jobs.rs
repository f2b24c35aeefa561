//! Background jobs: enqueue from any service, run by the workers of `serve`
//! and `billforge worker`. Later issues register their handlers (webhook
//! processing, mail sending) in the binary's composition root.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use billing::ids::TenantId;
use chrono::TimeDelta;
use serde::Serialize;
use store::{Job, NewJob};

use crate::{Platform, PlatformError, PlatformResult};

/// How long a worker owns a claimed job before another may take it over,
/// unless it extends the lease: a live worker does every [`HEARTBEAT`], so
/// a job runs as long as it needs while a killed worker's jobs are taken
/// over within this.
pub const LEASE: TimeDelta = TimeDelta::seconds(30);
/// How often a running worker extends the leases of the jobs it holds: a
/// third of the lease, so two heartbeats may be late before one lapses.
const HEARTBEAT: TimeDelta = TimeDelta::seconds(LEASE.num_seconds() / 3);
/// How many due jobs a worker claims at once (see [`Platform::run_due_jobs`]).
pub const CLAIM_BATCH: u64 = 16;
/// Attempts before a failing job is given up.
pub(crate) const MAX_ATTEMPTS: i32 = 8;
/// First retry delay; doubles each attempt, capped at [`MAX_BACKOFF`].
const FIRST_BACKOFF: TimeDelta = TimeDelta::seconds(30);
/// Longest retry delay.
const MAX_BACKOFF: TimeDelta = TimeDelta::hours(1);

/// Why a handler did not finish a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth retrying later (network, rate limit, lock).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (bad payload, unknown kind).
    #[error("{0}")]
    Permanent(String),
}

/// What a handler returns.
pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one kind of job. Must be idempotent: a job can run more than once.
pub type JobHandler = Arc<dyn Fn(Platform, Job) -> JobFuture + Send + Sync>;

/// The handlers a worker knows, by job kind.
#[derive(Clone, Default)]
pub struct JobHandlers {
    /// Handler per `kind`.
    by_kind: HashMap<String, JobHandler>,
}

impl JobHandlers {
    /// Registers `handler` for jobs of `kind`.
    pub fn register(&mut self, kind: &str, handler: JobHandler) -> &mut Self {
        self.by_kind.insert(kind.to_owned(), handler);
        self
    }
}

/// The delay before retry number `attempts` (1-based).
pub(crate) fn backoff(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    (FIRST_BACKOFF * 2_i32.pow(doublings)).min(MAX_BACKOFF)
}

/// The tenant a job (`what`, for the error) works for; a job without one
/// cannot be run.
pub(crate) fn job_tenant(job: &Job, what: &str) -> Result<TenantId, JobError> {
    job.tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|err| JobError::Permanent(format!("{what} tenant: {err}")))?
        .ok_or_else(|| JobError::Permanent(format!("{what} without a tenant")))
}

/// A failed service call as a job outcome: a vanished record cannot come
/// back, anything else may pass.
pub(crate) fn job_error(err: PlatformError) -> JobError {
    match err {
        PlatformError::NotFound(what) => JobError::Permanent(format!("no such {what}")),
        other => JobError::Retry(other.to_string()),
    }
}

impl Platform {
    /// Enqueues a `kind` job with a JSON `payload`. With `dedupe_key`, enqueueing
    /// the same key again returns the first job instead of adding one.
    pub async fn enqueue_job(
        &self,
        kind: &str,
        payload: &impl Serialize,
        tenant_id: Option<&TenantId>,
        dedupe_key: Option<String>,
    ) -> PlatformResult<Job> {
        let payload = serde_json::to_string(payload)
            .map_err(|err| PlatformError::Internal(format!("encoding a {kind} job: {err}")))?;
        let now = self.now();
        let new_job = NewJob {
            kind: kind.to_owned(),
            payload,
            tenant_id: tenant_id.cloned(),
            dedupe_key,
            run_at: now,
            max_attempts: MAX_ATTEMPTS,
        };
        Ok(self.store().enqueue_job(new_job, now).await?)
    }

    /// Claims and runs one due job; `false` when none was due.
    pub async fn run_next_job(&self, handlers: &JobHandlers) -> PlatformResult<bool> {
        Ok(self.run_due_jobs(handlers, 1).await? > 0)
    }

    /// Claims up to `limit` due jobs and runs them in order; how many ran.
    /// First it enqueues the apply jobs of newly stored webhook events, which
    /// ingestion leaves to the workers so that Stripe's acknowledgement
    /// waits for the inbox row alone. The batch costs one claim and one
    /// completion statement (each a durable commit) instead of one of each
    /// per job, plus one heartbeat statement every [`HEARTBEAT`] while it
    /// runs, extending the batch's leases. Jobs not yet started when half
    /// the lease is spent go back to the queue for other workers rather than
    /// wait behind a slow one.
    pub async fn run_due_jobs(&self, handlers: &JobHandlers, limit: u64) -> PlatformResult<usize> {
        // As many as a full claim takes: enqueueing far ahead of what the
        // workers run would only move a backlog from the inbox to the queue.
        self.enqueue_received_events(limit.max(CLAIM_BATCH)).await?;
        let claimed = self.store().claim_jobs(self.now(), LEASE, limit).await?;
        let Some(token) = claimed.first().and_then(|job| job.lease_token.clone()) else {
            return Ok(0);
        };
        let batch = self.run_claimed_batch(handlers, &claimed, &token);
        tokio::pin!(batch);
        let every = HEARTBEAT.to_std().unwrap_or_default();
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ran = &mut batch => return ran,
                _ = heartbeat.tick() => {
                    if let Err(err) = self.store().extend_leases(&token, self.now() + LEASE).await {
                        tracing::warn!(error = %err, "could not extend the leases of running jobs");
                    }
                }
            }
        }
    }

    /// Runs the jobs of the claim `token` in order and completes the
    /// successes; how many ran.
    async fn run_claimed_batch(
        &self,
        handlers: &JobHandlers,
        claimed: &[Job],
        token: &str,
    ) -> PlatformResult<usize> {
        let started = std::time::Instant::now();
        let lease_budget = (LEASE / 2).to_std().unwrap_or_default();
        let mut succeeded = Vec::with_capacity(claimed.len());
        let mut ran = 0;
        for (index, job) in claimed.iter().enumerate() {
            if index > 0 && started.elapsed() > lease_budget {
                let unstarted: Vec<String> =
                    claimed[index..].iter().map(|job| job.id.clone()).collect();
                self.store()
                    .release_jobs(token, &unstarted, self.now())
                    .await?;
                break;
            }
            if self.run_claimed_job(handlers, job).await? {
                succeeded.push(job.id.clone());
            }
            ran += 1;
        }
        let completed = self
            .store()
            .complete_jobs(token, &succeeded, self.now())
            .await?;
        if completed < succeeded.len() as u64 {
            tracing::warn!(
                lost = succeeded.len() as u64 - completed,
                "jobs ran past a lapsed lease and were taken over; their new holder settles them"
            );
        }
        Ok(ran)
    }

    /// Runs one claimed job; `true` when it succeeded (the caller completes
    /// it), otherwise its failure is recorded here.
    async fn run_claimed_job(&self, handlers: &JobHandlers, job: &Job) -> PlatformResult<bool> {
        let outcome = match handlers.by_kind.get(&job.kind) {
            Some(handler) => handler(self.clone(), job.clone()).await,
            None => Err(JobError::Permanent(format!(
                "no handler for job kind `{}`",
                job.kind
            ))),
        };
        let now = self.now();
        match outcome {
            Ok(()) => return Ok(true),
            Err(JobError::Retry(reason)) if job.attempts < job.max_attempts => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, %reason, "job failed; will retry");
                let retry_at = now + backoff(job.attempts);
                self.store()
                    .fail_job(job, &reason, Some(retry_at), now)
                    .await?;
            }
            Err(err) => {
                tracing::error!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, error = %err, "job failed for good");
                self.store()
                    .fail_job(job, &err.to_string(), None, now)
                    .await?;
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), TimeDelta::seconds(30));
        assert_eq!(backoff(2), TimeDelta::seconds(60));
        assert_eq!(backoff(4), TimeDelta::seconds(240));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
