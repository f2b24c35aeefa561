//! A per-account request budget, so bursts queue briefly on our side instead of
//! coming back from Stripe as 429s.
//!
//! Stripe limits operations per second per account (100 live, 25 in test mode).
//! This is a GCRA token bucket per account (the platform account and each
//! connected account separately): a request reserves the next free slot under
//! a lock and then sleeps until it, so waiters are served in arrival order. It
//! is written on `tokio::time` (about forty lines) rather than pulling in
//! `governor`, whose own clock would not follow tokio's paused test time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Above this many tracked accounts, idle ones are forgotten, so the map
/// stays as small as the set of recently busy accounts.
const PRUNE_ABOVE: usize = 1024;

/// How many requests per second the adapter lets through for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests that may go at once after a quiet spell; `per_second + burst`
    /// is the most that can go in any one second.
    pub burst: u32,
}

impl RateLimit {
    /// Stays under Stripe's live-mode limit of 100 operations per second.
    pub const LIVE: RateLimit = RateLimit {
        per_second: 80,
        burst: 20,
    };
    /// Stays under Stripe's test-mode limit of 25 operations per second.
    pub const TEST: RateLimit = RateLimit {
        per_second: 20,
        burst: 5,
    };

    /// The default for a secret key: live limits for `sk_live_`/`rk_live_` keys,
    /// test limits otherwise (test keys, the emulator).
    pub fn for_secret_key(secret_key: &str) -> RateLimit {
        if secret_key.starts_with("sk_live_") || secret_key.starts_with("rk_live_") {
            Self::LIVE
        } else {
            Self::TEST
        }
    }
}

/// The per-account buckets.
#[derive(Debug)]
pub(crate) struct RequestBudget {
    /// Time between two requests at the sustained rate.
    interval: Duration,
    /// How far ahead of real time an account's schedule may run before a
    /// request has to wait (the burst allowance).
    tolerance: Duration,
    /// Per account (`None` = the platform account): the theoretical arrival
    /// time of the next request.
    next_slot: Mutex<HashMap<Option<String>, Instant>>,
}

impl RequestBudget {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let interval = Duration::from_secs(1) / limit.per_second.max(1);
        Self {
            interval,
            tolerance: interval * limit.burst.saturating_sub(1),
            next_slot: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `account` may send one more request, and takes that slot.
    pub(crate) async fn acquire(&self, account: Option<&str>) {
        let start_at = self.reserve(account, Instant::now());
        tokio::time::sleep_until(start_at).await;
    }

    /// Reserves the next slot for `account` at `now`; returns when it starts.
    fn reserve(&self, account: Option<&str>, now: Instant) -> Instant {
        let mut slots = self
            .next_slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.len() >= PRUNE_ABOVE {
            // Accounts whose schedule is in the past would start from `now` anyway.
            slots.retain(|_, slot| *slot > now);
        }
        let slot = slots.entry(account.map(str::to_owned)).or_insert(now);
        let arrival = (*slot).max(now);
        *slot = arrival + self.interval;
        arrival
            .checked_sub(self.tolerance)
            .map_or(now, |start| start.max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_the_allowance_queues_at_the_sustained_rate() {
        let budget = RequestBudget::new(RateLimit {
            per_second: 10,
            burst: 2,
        });
        let began = Instant::now();
        let mut started = Vec::new();
        for _ in 0..5 {
            budget.acquire(Some("acct_1")).await;
            started.push(began.elapsed());
        }
        assert_eq!(
            started,
            [0, 0, 100, 200, 300].map(Duration::from_millis),
            "two go at once, the rest every 100 ms"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn accounts_have_separate_budgets() {
        let budget = RequestBudget::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        let began = Instant::now();
        budget.acquire(Some("acct_1")).await;
        budget.acquire(Some("acct_2")).await;
        budget.acquire(None).await;
        assert_eq!(began.elapsed(), Duration::ZERO);
        budget.acquire(Some("acct_1")).await;
        assert_eq!(began.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_spell_refills_the_burst_but_not_beyond_it() {
        let budget = RequestBudget::new(RateLimit {
            per_second: 10,
            burst: 2,
        });
        tokio::time::advance(Duration::from_secs(60)).await;
        let began = Instant::now();
        for _ in 0..3 {
            budget.acquire(None).await;
        }
        assert_eq!(began.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_accounts_are_forgotten_without_losing_busy_ones() {
        let budget = RequestBudget::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        let now = Instant::now();
        for account in 0..PRUNE_ABOVE {
            budget.reserve(Some(&format!("acct_{account}")), now);
        }
        let later = now + Duration::from_secs(10);
        budget.reserve(Some("acct_busy"), later);
        let slots = budget.next_slot.lock().unwrap();
        assert_eq!(
            slots.len(),
            1,
            "only the account reserved after the idle ones expired"
        );
        assert!(slots.contains_key(&Some("acct_busy".to_owned())));
    }

    #[test]
    fn live_keys_get_live_limits() {
        assert_eq!(RateLimit::for_secret_key("sk_live_x"), RateLimit::LIVE);
        assert_eq!(RateLimit::for_secret_key("rk_live_x"), RateLimit::LIVE);
        assert_eq!(RateLimit::for_secret_key("sk_test_x"), RateLimit::TEST);
    }
}
