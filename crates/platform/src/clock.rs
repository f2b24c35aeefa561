//! The one clock: every "now" in Billforge comes from the [`Platform`]'s
//! clock. With real Stripe that is the wall clock. With the Stripe emulator
//! it is the wall clock plus an offset kept in `platform_settings`
//! (`clock.offset_seconds`), so every `serve` and `worker` process sharing
//! the database reads the same time, and `clock advance` moves Billforge and
//! the emulator together ([`Platform::advance_clock`]).
//!
//! Advancing steps through time in order so that a year of renewals,
//! failures, dunning, mail and cancellations plays out as it would have in
//! real time, only faster, and the same start and duration always give the
//! same outcome. Each step goes to the next instant anything happens: the
//! earliest queued Billforge job, the emulator's next scheduled work
//! (renewal, retry, trial end), the target, or a day on at most. At a step:
//!
//! 1. Billforge's clock moves to [`STRIPE_FIRST`] before the stop, the
//!    emulator to the stop: its renewals and retries run and it signs their
//!    webhooks at the stop's time, which Billforge accepts (well inside the
//!    signature tolerance) while none of Billforge's own jobs at the stop is
//!    due yet;
//! 2. once the emulator reports no delivery pending (every event is in the
//!    inbox), Billforge's offset becomes the emulator's, so both read the
//!    same instant;
//! 3. every due job runs (inbox applies first, as they were enqueued
//!    earlier, then dunning steps, mail, outbound webhooks), and again until
//!    neither a job nor a webhook is left, since jobs call Stripe and Stripe
//!    answers with more events.
//!
//! So at one instant Stripe's facts are applied before Billforge acts on
//! them. Offsets only grow, in memory and in the database: time never goes
//! back, which would let "newer wins" comparisons and schedules disagree.

use std::time::Duration as StdDuration;

use billing::clock::OffsetClock;
use chrono::{DateTime, TimeDelta, Utc};
use store::AuditContext;

use crate::jobs::JobHandlers;
use crate::{Platform, PlatformError, PlatformResult};

/// The `platform_settings` key of the emulator-mode clock's offset.
pub const OFFSET_SETTING: &str = "clock.offset_seconds";

/// How far behind a step's stop Billforge's clock stays while the emulator
/// moves to it (step 1 above): long enough that the step's deliveries are
/// in before Billforge's jobs at the stop fall due, far inside the 300 s the
/// webhook signature check tolerates.
pub const STRIPE_FIRST: TimeDelta = TimeDelta::seconds(60);

/// The longest step: time never jumps more than a day without Billforge's
/// workers and the emulator catching up (periodic work, lease expiries).
const MAX_STEP: TimeDelta = TimeDelta::days(1);

/// How long a step waits for the emulator's deliveries or for jobs another
/// worker runs, without any of them finishing, before giving up with
/// [`PlatformError::ClockStalled`].
const SETTLE_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// How often the waits look again.
const POLL: StdDuration = StdDuration::from_millis(20);

/// The longest advance accepted at once (a decade): more is surely a typo.
const MAX_ADVANCE: TimeDelta = TimeDelta::days(3653);

/// What one `clock advance` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockAdvance {
    /// Billforge's time before.
    pub from: DateTime<Utc>,
    /// The time advanced to (Billforge's clock reads at least this now).
    pub to: DateTime<Utc>,
    /// Stops made on the way.
    pub steps: u32,
    /// Jobs this process ran on the way.
    pub jobs_run: u64,
}

/// Parses a duration as the CLI and the admin form take it: `30d`, `12h`,
/// `1y`, `1w 2d`, `90s` (humantime syntax; a year is 365.25 days).
pub fn parse_advance(raw: &str) -> PlatformResult<TimeDelta> {
    let invalid = |why: String| {
        PlatformError::invalid(
            "duration",
            format!("{why}; write a duration such as 30d, 12h, 1w or 1y"),
        )
    };
    let parsed = humantime::parse_duration(raw.trim())
        .map_err(|err| invalid(format!("`{raw}` is not a duration ({err})")))?;
    let by = TimeDelta::from_std(parsed)
        .ok()
        .filter(|by| *by <= MAX_ADVANCE)
        .ok_or_else(|| invalid(format!("`{raw}` is more than ten years")))?;
    if by < TimeDelta::seconds(1) {
        return Err(invalid(format!("`{raw}` is less than a second")));
    }
    Ok(by)
}

impl Platform {
    /// Whether `clock advance` can move this platform's time: only on the
    /// emulator.
    pub fn clock_is_adjustable(&self) -> bool {
        self.inner.emulated.is_some()
    }

    /// The emulator-mode clock, or why time cannot be moved.
    fn offset_clock(&self) -> PlatformResult<&OffsetClock> {
        self.inner
            .emulated
            .as_ref()
            .ok_or(PlatformError::ClockNotAdjustable)
    }

    /// Catches up with an advance another process made: reads the shared
    /// offset from the database. The workers call it about every second;
    /// a no-op on the wall clock.
    pub async fn refresh_clock(&self) -> PlatformResult<()> {
        let Some(clock) = &self.inner.emulated else {
            return Ok(());
        };
        let stored = self.store().platform_setting(OFFSET_SETTING).await?;
        if let Some(seconds) = stored.and_then(|raw| raw.parse::<i64>().ok()) {
            clock.move_offset_to(TimeDelta::seconds(seconds));
        }
        Ok(())
    }

    /// Moves Billforge's offset to `seconds` (never back), in this process
    /// and in the database, with an audit entry when `audit` is given.
    async fn raise_offset(
        &self,
        clock: &OffsetClock,
        seconds: i64,
        audit: Option<(&AuditContext, &str, &str)>,
    ) -> PlatformResult<()> {
        let in_force = self
            .store()
            .raise_platform_setting(OFFSET_SETTING, seconds, audit, self.now())
            .await?;
        clock.move_offset_to(TimeDelta::seconds(in_force));
        Ok(())
    }

    /// Brings Billforge and the emulator to the same time, the later of
    /// the two: after a restart on a fresh emulator state (its clock back at
    /// the wall clock) or another Billforge database, the one behind catches
    /// up, so the emulator's signatures are neither too old nor too new for
    /// Billforge.
    pub async fn sync_clock_with_emulator(&self) -> PlatformResult<()> {
        let clock = self.offset_clock()?;
        self.refresh_clock().await?;
        let emulator = self.stripe().emulator().clock().await?;
        let ours = clock.offset().num_seconds();
        if emulator.offset > ours {
            self.raise_offset(clock, emulator.offset, None).await?;
        } else if ours > emulator.offset {
            let caught_up = self
                .stripe()
                .emulator()
                .advance_to(emulator.now + (ours - emulator.offset))
                .await?;
            self.raise_offset(clock, caught_up.offset, None).await?;
        }
        Ok(())
    }

    /// `clock advance`: moves Billforge and the emulator forward by `by`
    /// together, running everything that falls due in time order (see the
    /// module documentation). `audit` names who asked (admin console, CLI).
    /// Fails with [`PlatformError::ClockNotAdjustable`] on real Stripe.
    pub async fn advance_clock(
        &self,
        by: TimeDelta,
        handlers: &JobHandlers,
        audit: &AuditContext,
    ) -> PlatformResult<ClockAdvance> {
        let clock = self.offset_clock()?;
        if by <= TimeDelta::zero() || by > MAX_ADVANCE {
            return Err(PlatformError::invalid(
                "duration",
                "the clock moves forward by a second to ten years",
            ));
        }
        let _one_at_a_time = self.inner.advancing.lock().await;
        self.sync_clock_with_emulator().await?;
        let from = self.now();
        let to = from + by;
        let target = format!("{} to {}", humantime_of(by), to.to_rfc3339());
        self.raise_offset(
            clock,
            clock.offset().num_seconds(),
            Some((audit, "clock.advanced", &target)),
        )
        .await?;
        let mut advance = ClockAdvance {
            from,
            to,
            steps: 0,
            jobs_run: 0,
        };
        loop {
            advance.jobs_run += self.settle(handlers).await?;
            let now = self.now();
            if now >= to {
                break;
            }
            let stop = self.next_stop(now, to).await?;
            self.step_to(clock, stop).await?;
            advance.steps += 1;
        }
        tracing::info!(
            from = %advance.from, to = %advance.to, steps = advance.steps,
            jobs = advance.jobs_run, "clock advanced"
        );
        Ok(advance)
    }

    /// The next instant anything happens after `now`, at most a day on and
    /// never past `to`.
    async fn next_stop(
        &self,
        now: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PlatformResult<DateTime<Utc>> {
        let ours = self.store().next_queued_job_at().await?;
        let emulators = self
            .stripe()
            .emulator()
            .clock()
            .await?
            .next_job_at
            .and_then(|at| DateTime::from_timestamp(at, 0));
        Ok([ours, emulators]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .fold((now + MAX_STEP).min(to), std::cmp::min))
    }

    /// Steps 1 and 2 of the module documentation: the emulator to `stop`
    /// with Billforge just behind it, then Billforge onto the emulator's
    /// time once its webhooks are in.
    async fn step_to(&self, clock: &OffsetClock, stop: DateTime<Utc>) -> PlatformResult<()> {
        // Whole seconds, rounded up: the emulator keeps Unix seconds.
        let stop_secs = stop.timestamp() + i64::from(stop.timestamp_subsec_nanos() > 0);
        let behind = stop_secs - STRIPE_FIRST.num_seconds() - Utc::now().timestamp();
        self.raise_offset(clock, behind, None).await?;
        let emulator = self.stripe().emulator().advance_to(stop_secs).await?;
        self.wait_for_webhooks().await?;
        self.raise_offset(clock, emulator.offset, None).await
    }

    /// Runs due jobs until neither a job nor an emulator delivery is left;
    /// returns how many ran here.
    async fn settle(&self, handlers: &JobHandlers) -> PlatformResult<u64> {
        let mut ran = 0;
        loop {
            self.wait_for_webhooks().await?;
            while self.run_next_job(handlers).await? {
                ran += 1;
            }
            self.wait_for_other_workers().await?;
            if !self.job_due().await? && self.stripe().emulator().pending_webhooks().await? == 0 {
                return Ok(ran);
            }
        }
    }

    /// Whether a queued job is due now, or a stored webhook event waits for
    /// its apply job (which the next job run enqueues).
    async fn job_due(&self) -> PlatformResult<bool> {
        let next = self.store().next_queued_job_at().await?;
        Ok(next.is_some_and(|at| at <= self.now())
            || self.store().webhook_events_received().await?)
    }

    /// Waits until the emulator has delivered (or given up on) every
    /// webhook so far: they are then in the inbox.
    async fn wait_for_webhooks(&self) -> PlatformResult<()> {
        wait_until_none(
            || self.stripe().emulator().pending_webhooks(),
            |pending| {
                format!(
                    "{pending} webhook deliveries of the Stripe emulator have not reached Billforge and none did in the last {}s: is `billforge serve` running and reachable at its PUBLIC_URL? The time reached so far stays; advance again once it is",
                    SETTLE_TIMEOUT.as_secs()
                )
            },
        )
        .await
    }

    /// Waits while other processes (a `serve`, `worker`s) run jobs they
    /// claimed, so the next step does not overtake them, or until a job
    /// falls due for this process to help with. Busy workers keep claiming
    /// batches, so the count of running jobs may never drop: progress is
    /// the set of claimed jobs changing. The same jobs claimed for
    /// [`SETTLE_TIMEOUT`] (a worker that died holding them) stall the step.
    async fn wait_for_other_workers(&self) -> PlatformResult<()> {
        let mut deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        let mut claimed = Vec::new();
        loop {
            let running = self.store().running_job_ids(self.now()).await?;
            if running.is_empty() || self.job_due().await? {
                return Ok(());
            }
            if running != claimed {
                claimed = running;
                deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PlatformError::ClockStalled(format!(
                    "{} jobs claimed by other workers did not finish within {}s; advance again once they have",
                    claimed.len(),
                    SETTLE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Polls `outstanding` until it counts nothing, or fails with
/// [`PlatformError::ClockStalled`] and the message `stalled` makes of the
/// last count once it has not gone down for [`SETTLE_TIMEOUT`]. The wait is
/// on progress, not on the total: a billing day of 100,000 renewals is
/// hundreds of thousands of deliveries, which take longer than the timeout
/// while every poll sees fewer left.
async fn wait_until_none<F, E>(
    outstanding: impl Fn() -> F,
    stalled: impl Fn(u64) -> String,
) -> PlatformResult<()>
where
    F: std::future::Future<Output = Result<u64, E>>,
    PlatformError: From<E>,
{
    let mut deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    let mut lowest = u64::MAX;
    loop {
        let count = outstanding().await?;
        if count == 0 {
            return Ok(());
        }
        if count < lowest {
            lowest = count;
            deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PlatformError::ClockStalled(stalled(count)));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `by` as humantime writes it (`30days`, `1year 2h`), for the audit entry.
fn humantime_of(by: TimeDelta) -> String {
    by.to_std()
        .map(|std| humantime::format_duration(std).to_string())
        .unwrap_or_else(|_| format!("{}s", by.num_seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_cli_takes_them() {
        assert_eq!(parse_advance("30d").unwrap(), TimeDelta::days(30));
        assert_eq!(parse_advance(" 12h ").unwrap(), TimeDelta::hours(12));
        assert_eq!(parse_advance("1w 2d").unwrap(), TimeDelta::days(9));
        assert_eq!(
            parse_advance("1y").unwrap(),
            TimeDelta::seconds(31_557_600),
            "humantime's year is 365.25 days"
        );
        for bad in ["", "tomorrow", "-3d", "0s", "11y", "500ms"] {
            let err = parse_advance(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{bad}: {err}");
        }
    }
}
