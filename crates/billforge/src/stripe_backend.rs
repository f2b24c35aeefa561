//! Which Stripe Billforge talks to: real Stripe when `STRIPE_SECRET_KEY` is set,
//! otherwise the embedded emulator, started in this process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Real Stripe (or `STRIPE_API_BASE`) with the configured key, or the embedded
    /// emulator listening on `STRIPE_EMULATOR_BIND` with its state under `data_dir`.
    pub async fn connect(settings: &platform::Settings, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(key) = &settings.stripe_secret_key {
            let mut builder = stripe::Client::builder(key.expose());
            if let Some(base) = &settings.stripe_api_base {
                builder = builder.base_url(base.clone());
            }
            let base = settings
                .stripe_api_base
                .clone()
                .unwrap_or_else(|| "https://api.stripe.com".to_owned());
            return Ok(Self {
                client: builder.build().context("configuring the Stripe client")?,
                emulator: None,
                description: format!("Stripe at {base}"),
            });
        }
        let bind: SocketAddr = settings
            .stripe_emulator_bind
            .parse()
            .with_context(|| format!("STRIPE_EMULATOR_BIND `{}` is not host:port", settings.stripe_emulator_bind))?;
        let emulator = start_emulator(bind, Some(data_dir.to_path_buf())).await?;
        let base_url = emulator.base_url();
        let client = stripe::Client::builder(EMULATOR_SECRET_KEY)
            .base_url(base_url.clone())
            .build()
            .context("configuring the Stripe client for the emulator")?;
        Ok(Self {
            client,
            emulator: Some(emulator),
            description: format!("embedded Stripe emulator at {base_url} (state in {})", data_dir.display()),
        })
    }

    /// Stops the embedded emulator, if any, writing its final snapshot.
    pub async fn stop(self) {
        if let Some(emulator) = self.emulator {
            emulator.stop().await;
        }
    }
}

/// Starts the emulator with its defaults on `bind`, persisting under `data_dir`.
pub async fn start_emulator(bind: SocketAddr, data_dir: Option<PathBuf>) -> anyhow::Result<RunningEmulator> {
    if let Some(dir) = &data_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    stripe_emulator::start(EmulatorConfig {
        bind,
        data_dir,
        ..EmulatorConfig::default()
    })
    .await
    .with_context(|| format!("starting the Stripe emulator on {bind}"))
}
