//! The one clock every component reads the time from.
//!
//! Billforge never calls `Utc::now()` directly: services take a [`Clock`]. In
//! production that is [`SystemClock`]; with the Stripe emulator it is a
//! [`ManualClock`] that the `clock advance` command moves forward together
//! with the emulator, so a year of renewals and dunning plays out in seconds
//! and deterministically. The manual clock never moves backwards: time going
//! back would let "newer wins" comparisons and job schedules disagree.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time, shared by every component of one process.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The clock as components hold it: one instance shared by the whole process.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock, used with real Stripe.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Why a manual clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock only moves forward (asked to go from {from} back to {to})")]
    Backwards {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("advancing the clock by {by} would overflow the representable time range")]
    Overflow { by: TimeDelta },
}

/// A clock that only moves when told to. Clones share the same time, so the
/// composition root can hand one copy to every component and keep one to
/// advance.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// The shared current instant; a lock rather than an atomic because
    /// `DateTime` does not fit one, and reads vastly outnumber writes.
    now: Arc<RwLock<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(RwLock::new(start)),
        }
    }

    /// Moves the clock forward by `by` (which must not be negative) and
    /// returns the new time.
    pub fn advance(&self, by: TimeDelta) -> Result<DateTime<Utc>, ClockError> {
        let mut now = self.write();
        let target = now
            .checked_add_signed(by)
            .ok_or(ClockError::Overflow { by })?;
        Self::move_to(&mut now, target)
    }

    /// Moves the clock forward to `target` (which must not be in the past)
    /// and returns it.
    pub fn set(&self, target: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        Self::move_to(&mut self.write(), target)
    }

    fn move_to(
        now: &mut DateTime<Utc>,
        target: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ClockError> {
        if target < *now {
            return Err(ClockError::Backwards {
                from: *now,
                to: target,
            });
        }
        *now = target;
        Ok(target)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, DateTime<Utc>> {
        // A poisoned lock only means another thread panicked mid-write of a
        // plain value that is always valid, so the value is still usable.
        self.now
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The clock of emulator mode: the wall clock plus an offset that only
/// grows. The Stripe emulator keeps time the same way (wall clock plus the
/// sum of its advances), so when both hold the same offset they read the same
/// instant and keep ticking together between advances: a webhook the emulator
/// signs "now" is also "now" for Billforge. Clones share the offset, so the
/// process that moves it and every component reading it agree at once.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    /// Milliseconds added to the wall clock; an atomic because every request
    /// and job reads it and only `clock advance` (or the refresh from the
    /// database) writes it.
    offset_ms: Arc<AtomicI64>,
}

impl OffsetClock {
    /// A clock `offset` ahead of the wall clock (negative offsets are
    /// treated as zero: emulated time never runs behind real time).
    pub fn new(offset: TimeDelta) -> Self {
        let clock = Self::default();
        clock.move_offset_to(offset);
        clock
    }

    /// How far ahead of the wall clock this clock is.
    pub fn offset(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.offset_ms.load(Ordering::Acquire))
    }

    /// Moves the offset to `offset` if that is further ahead, and returns
    /// the offset in force. Never moves backwards, so a stale value read from
    /// elsewhere cannot undo an advance.
    pub fn move_offset_to(&self, offset: TimeDelta) -> TimeDelta {
        let wanted = offset.num_milliseconds().max(0);
        let before = self.offset_ms.fetch_max(wanted, Ordering::AcqRel);
        TimeDelta::milliseconds(before.max(wanted))
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.offset())
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn clones_share_the_same_time() {
        let clock = ManualClock::new(start());
        let seen_by_a_service = clock.clone();
        clock.advance(TimeDelta::days(30)).unwrap();
        assert_eq!(seen_by_a_service.now(), start() + TimeDelta::days(30));
    }

    #[test]
    fn never_moves_backwards() {
        let clock = ManualClock::new(start());
        assert_eq!(
            clock.advance(TimeDelta::seconds(-1)),
            Err(ClockError::Backwards {
                from: start(),
                to: start() - TimeDelta::seconds(1)
            })
        );
        assert!(clock.set(start() - TimeDelta::days(1)).is_err());
        assert_eq!(clock.now(), start());
        assert_eq!(clock.set(start()), Ok(start()), "standing still is fine");
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let clock = ManualClock::new(DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(1));
        assert!(matches!(
            clock.advance(TimeDelta::days(1)),
            Err(ClockError::Overflow { .. })
        ));
    }

    #[test]
    fn the_offset_clock_runs_ahead_and_only_moves_forward() {
        let clock = OffsetClock::new(TimeDelta::days(30));
        let shared = clock.clone();
        let ahead = clock.now() - Utc::now();
        assert!(
            ahead > TimeDelta::days(30) - TimeDelta::seconds(5),
            "{ahead}"
        );
        assert_eq!(
            clock.move_offset_to(TimeDelta::days(1)),
            TimeDelta::days(30)
        );
        assert_eq!(
            clock.move_offset_to(TimeDelta::days(31)),
            TimeDelta::days(31)
        );
        assert_eq!(
            shared.offset(),
            TimeDelta::days(31),
            "clones share the offset"
        );
        assert_eq!(
            OffsetClock::new(TimeDelta::days(-1)).offset(),
            TimeDelta::zero()
        );
    }

    #[test]
    fn usable_as_a_shared_trait_object() {
        let clock: SharedClock = Arc::new(SystemClock);
        let before = Utc::now();
        assert!(clock.now() >= before);
    }
}
