//! The Stripe emulator's own endpoints (`/_emulator/…`): its global clock
//! and its webhook deliveries. Real Stripe has neither; Billforge calls them
//! only when it runs on the emulator, to move time for both together.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! let clock = client.emulator().clock().await?;
//! client.emulator().advance_to(clock.now + 86_400).await?;
//! while client.emulator().pending_webhooks().await? > 0 { /* wait */ }
//! # Ok(()) }
//! ```

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::{Client, Error};

/// `GET /_emulator/clock`: the emulator's global time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EmulatorClock {
    /// The emulator's current time, Unix seconds.
    pub now: i64,
    /// How far (seconds) the emulator's clock is ahead of the wall clock.
    pub offset: i64,
    /// When its next scheduled work (renewal, retry, trial end, expiry) is
    /// due, Unix seconds; `None` when nothing is scheduled.
    #[serde(default)]
    pub next_job_at: Option<i64>,
}

/// `GET /_emulator/webhooks`.
#[derive(Debug, Clone, Copy, Deserialize)]
struct Deliveries {
    /// Deliveries queued, in flight or waiting for a retry.
    pending: u64,
}

/// `POST /_emulator/clock/advance` with an absolute target.
#[derive(Debug, Serialize)]
struct AdvanceTo {
    /// Unix seconds.
    to: i64,
}

/// The emulator-only operations; see [`Client::emulator`].
#[derive(Debug, Clone, Copy)]
pub struct Emulator<'a> {
    /// The client.
    client: &'a Client,
}

impl Client {
    /// The emulator's own endpoints. Against real Stripe every call fails
    /// with a 404 API error.
    pub fn emulator(&self) -> Emulator<'_> {
        Emulator { client: self }
    }
}

impl Emulator<'_> {
    /// The emulator's global clock.
    pub async fn clock(self) -> Result<EmulatorClock, Error> {
        self.client
            .emulator_call(Method::GET, &["clock"], &())
            .await
    }

    /// Moves the global clock forward to `to` (Unix seconds), running the
    /// renewals, retries, trial ends and expiries due on the way in time
    /// order and queueing their webhooks; returns the clock after it.
    pub async fn advance_to(self, to: i64) -> Result<EmulatorClock, Error> {
        self.client
            .emulator_call(Method::POST, &["clock", "advance"], &AdvanceTo { to })
            .await
    }

    /// How many webhook deliveries the emulator has not yet made (or given
    /// up on): zero once every event so far reached its endpoints.
    pub async fn pending_webhooks(self) -> Result<u64, Error> {
        let deliveries: Deliveries = self
            .client
            .emulator_call(Method::GET, &["webhooks"], &())
            .await?;
        Ok(deliveries.pending)
    }
}
