//! Which Stripe Billforge talks to: real Stripe when `STRIPE_SECRET_KEY` is set,
//! otherwise the embedded emulator, started in this process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use stripe_emulator::{EmulatorConfig, RunningEmulator};

/// The key Billforge uses against its own emulator. The emulator accepts any
/// `sk_test_…` key, so this is not a secret; it only has to look like one.
const EMULATOR_SECRET_KEY: &str = "sk_test_billforge_embedded_emulator";

/// Where the embedded emulator keeps its state, so `serve` restarts where it left.
pub const EMULATOR_DATA_DIR: &str = "./data/stripe-emulator";

/// A configured Stripe client and, on the embedded default, the emulator behind it.
pub struct StripeBackend {
    /// The adapter every Stripe call goes through.
    pub client: stripe::Client,
    /// The emulator this process runs, kept so it can be stopped cleanly
    /// (its state is flushed to disk on stop).
    pub emulator: Option<RunningEmulator>,
    /// One line for the start-up banner: which Stripe this is.
    pub description: String,
}

impl StripeBackend {
    /// Chooses the Stripe this process talks to:
    /// - `STRIPE_SECRET_KEY` set: real Stripe (or `STRIPE_API_BASE`) with that key;
    /// - no key but `STRIPE_API_BASE`: an emulator running elsewhere;
    /// - neither: the emulator on `STRIPE_EMULATOR_BIND`, started here when
    ///   `embed` (`serve`), or the one a `serve` on this machine runs (`worker`).
    pub async fn connect(settings: &platform::Settings, embed: bool) -> anyhow::Result<Self> {
        if let Some(key) = &settings.stripe_secret_key {
            let base = settings
                .stripe_api_base
                .clone()
                .unwrap_or_else(|| "https://api.stripe.com".to_owned());
            return Ok(Self {
                client: client_for(key.expose(), &base)?,
                emulator: None,
                description: format!("Stripe at {base}"),
            });
        }
        if let Some(base) = &settings.stripe_api_base {
            return Ok(Self {
                client: client_for(EMULATOR_SECRET_KEY, base)?,
                emulator: None,
                description: format!("Stripe emulator at {base} (test mode)"),
            });
        }
        let bind: SocketAddr = settings.stripe_emulator_bind.parse().with_context(|| {
            format!(
                "STRIPE_EMULATOR_BIND `{}` is not host:port",
                settings.stripe_emulator_bind
            )
        })?;
        if !embed {
            let base = format!("http://{bind}");
            return Ok(Self {
                client: client_for(EMULATOR_SECRET_KEY, &base)?,
                emulator: None,
                description: format!("the Stripe emulator of `billforge serve` at {base}"),
            });
        }
        let data_dir = PathBuf::from(EMULATOR_DATA_DIR);
        let emulator = start_emulator(bind, Some(data_dir.clone()), 1).await?;
        let base = emulator.base_url();
        Ok(Self {
            client: client_for(EMULATOR_SECRET_KEY, &base)?,
            emulator: Some(emulator),
            description: format!(
                "embedded Stripe emulator at {base} (test mode, state in {})",
                data_dir.display()
            ),
        })
    }

    /// Stops the embedded emulator, if any, writing its final snapshot.
    pub async fn stop(self) {
        if let Some(emulator) = self.emulator {
            emulator.stop().await;
        }
    }
}

/// Starts the emulator with its defaults on `bind`, persisting under
/// `data_dir`, with `webhook_concurrency` deliveries in flight at once.
pub async fn start_emulator(
    bind: SocketAddr,
    data_dir: Option<PathBuf>,
    webhook_concurrency: usize,
) -> anyhow::Result<RunningEmulator> {
    if let Some(dir) = &data_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    stripe_emulator::start(EmulatorConfig {
        bind,
        data_dir,
        webhook_concurrency,
        ..EmulatorConfig::default()
    })
    .await
    .with_context(|| format!("starting the Stripe emulator on {bind}"))
}

/// The adapter for `base` with `secret_key`.
fn client_for(secret_key: &str, base: &str) -> anyhow::Result<stripe::Client> {
    stripe::Client::builder(secret_key)
        .base_url(base)
        .build()
        .with_context(|| format!("configuring the Stripe client for {base}"))
}
