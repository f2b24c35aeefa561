//! An offline Stripe over real HTTP: the part of Stripe Billforge uses, faithful
//! enough that code written for Stripe (Billforge's adapter, the official client
//! libraries) works against it unchanged.
//!
//! - API: `/v1/…` with Stripe's wire format (form bodies with bracketed nesting,
//!   `Authorization: Bearer sk_test_…`, `Stripe-Account`, `Idempotency-Key`,
//!   `expand[]`, list pagination, Stripe's error shapes). Objects are built from
//!   Stripe's own example objects, so their keys match Stripe's.
//! - Hosted pages: `/checkout/{session}`, `/billing_portal/{session}`,
//!   `/connect/onboarding/{token}` (plain HTML forms).
//! - Emulator-only endpoints (no auth):
//!   - `GET /_emulator/clock` → `{"now": unix, "offset": seconds,
//!     "next_job_at": unix | null}` (the next renewal, retry, trial end or
//!     expiry on the global clock);
//!   - `POST /_emulator/clock/advance` with `seconds=N` or `to=UNIX` moves the
//!     global clock forward, running renewals, trial ends, payment retries and
//!     expiries in time order and sending their webhooks as it goes;
//!   - `GET /_emulator/webhooks` → `{"pending": n}`: webhook deliveries not
//!     yet delivered (or given up), so a receiver moving time with the
//!     emulator knows when a step's events have all reached it;
//!   - `POST /_emulator/reset` forgets everything;
//!   - `POST /_emulator/faults` with `server_error`, `rate_limited`,
//!     `timeout`, `dropped` (shares of `/v1` requests), `timeout_delay_ms`
//!     and `seed` sets the injected faults; `GET` reports them and their
//!     counts (see [`Faults`]).
//!
//! Start it with [`start`]; port 0 picks a free port (tests).

mod billing;
mod checkout;
mod clock;
mod error;
mod faults;
mod form;
mod hosted;
mod params;
mod payments;
mod persist;
mod resources;
mod server;
mod state;
mod store;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use state::{API_VERSION, FinalAction};
pub use store::template_kinds;
pub use webhooks::RetryPolicy;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where the state snapshot lives; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Delays between payment retries of a failed renewal (its length is the retry count).
    pub retry_delays: Vec<Duration>,
    /// What happens to a subscription when the last retry fails.
    pub final_action: FinalAction,
    /// Backoff of failing webhook deliveries.
    pub webhook_retry: RetryPolicy,
    /// Webhook deliveries in flight at once: 1 (the default) delivers in
    /// event order; more, as Stripe does, for load (a billing day).
    pub webhook_concurrency: usize,
    /// HTTP worker threads.
    pub workers: usize,
    /// Faults injected into `/v1` requests (none by default).
    pub faults: Faults,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let dunning = state::Dunning::default();
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 12111)),
            data_dir: None,
            retry_delays: dunning
                .retry_delays_secs
                .iter()
                .map(|secs| Duration::from_secs(*secs as u64))
                .collect(),
            final_action: dunning.final_action,
            webhook_retry: RetryPolicy::default(),
            webhook_concurrency: 1,
            workers: 2,
            faults: Faults::default(),
        }
    }
}

/// A running emulator.
pub struct RunningEmulator {
    /// `http://host:port` of the server.
    base_url: String,
    /// Stops the HTTP server.
    server: actix_web::dev::ServerHandle,
    /// Shared state (reset, final snapshot).
    shared: Arc<Shared>,
    /// Background tasks (server, webhook sender, snapshot writer), aborted on stop.
    tasks: Vec<JoinHandle<()>>,
    /// Snapshot directory, flushed on stop.
    data_dir: Option<PathBuf>,
}

use server::Shared;

impl RunningEmulator {
    /// Base URL to point Stripe clients at (`http://127.0.0.1:12111`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Forgets every object, event and scheduled job (tests).
    pub fn reset(&self) {
        let mut state = self.shared.state.lock();
        let dunning = state.dunning.clone();
        *state = state::State::default();
        state.dunning = dunning;
    }

    /// The emulator's global time (Unix seconds): the wall clock plus every advance.
    pub fn now(&self) -> i64 {
        self.shared.state.lock().global_now()
    }

    /// Moves the global clock forward (like `POST /_emulator/clock/advance`),
    /// running renewals, retries and expiries on the way; returns the new time.
    pub fn advance(&self, by: Duration) -> i64 {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 2);
        self.shared.with_state(true, |state| {
            let target = state.global_now().saturating_add(seconds);
            clock::advance_to(state, target)
        })
    }

    /// Stops the server and writes the final snapshot.
    pub async fn stop(self) {
        self.server.stop(true).await;
        for task in &self.tasks {
            task.abort();
        }
        if let Some(dir) = &self.data_dir {
            self.shared
                .dirty
                .store(true, std::sync::atomic::Ordering::Release);
            if let Err(error) = persist::flush(&self.shared, dir) {
                tracing::warn!(%error, "could not write the final emulator snapshot");
            }
        }
    }
}

/// Starts the emulator in the current Tokio runtime.
pub async fn start(config: EmulatorConfig) -> std::io::Result<RunningEmulator> {
    let mut state = match &config.data_dir {
        Some(dir) => persist::load(dir)?,
        None => state::State::default(),
    };
    state.dunning = state::Dunning {
        retry_delays_secs: config
            .retry_delays
            .iter()
            .map(|delay| delay.as_secs() as i64)
            .collect(),
        final_action: config.final_action,
    };
    let listener = std::net::TcpListener::bind(config.bind)?;
    let address = listener.local_addr()?;
    let base_url = format!("http://{address}");
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let pending_deliveries = webhooks::PendingDeliveries::default();
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        base_url: base_url.clone(),
        deliveries: sender.clone(),
        pending_deliveries: pending_deliveries.clone(),
        dirty: AtomicBool::new(false),
        faults: faults::FaultInjector::new(config.faults.clone()),
    });
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .service(web::scope("/v1").default_service(web::to(server::api)))
            .service(web::scope("/_emulator").default_service(web::to(server::emulator)))
            .default_service(web::to(server::pages))
    })
    .workers(config.workers.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let mut tasks = vec![
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "stripe emulator server stopped");
            }
        }),
        tokio::spawn(webhooks::run_sender(
            receiver,
            sender,
            config.webhook_retry,
            pending_deliveries,
            config.webhook_concurrency,
        )),
    ];
    if let Some(dir) = &config.data_dir {
        tasks.push(tokio::spawn(persist::run_writer(
            shared.clone(),
            dir.clone(),
        )));
    }
    Ok(RunningEmulator {
        base_url,
        server: handle,
        shared,
        tasks,
        data_dir: config.data_dir,
    })
}
