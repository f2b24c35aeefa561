//! The `billforge` command line.

use std::io::{BufRead, IsTerminal};
use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use platform::{Platform, Secret};

use crate::config::{self, LoadedConfig};
use crate::stripe_backend::{StripeBackend, start_emulator};

/// Billforge: multi-tenant SaaS billing on Stripe.
#[derive(Debug, Parser)]
#[command(name = "billforge", version)]
pub struct Cli {
    /// Optional TOML config file (environment variables take precedence).
    #[arg(long, global = true, env = "BILLFORGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server and the background workers (migrates first).
    Serve {
        /// Serve HTTP only and leave the background work (applying
        /// webhooks, mail, dunning…) to `billforge worker` processes on the
        /// same database: a web tier that answers Stripe at full speed while
        /// the apply work runs elsewhere.
        #[arg(long, env = "SERVE_WITHOUT_WORKERS")]
        no_workers: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Run only the background workers (to scale them out).
    Worker,
    /// Run only the Stripe emulator (the offline Stripe `serve` embeds), for
    /// pointing any Stripe client at it.
    StripeEmulator {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 12111)]
        port: u16,
        /// Where its state survives restarts; in memory when absent.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Webhook deliveries in flight at once: 1 delivers in event order;
        /// more, as Stripe does, for load.
        #[arg(long, default_value_t = 1)]
        webhook_concurrency: usize,
    },
    /// Platform administration.
    Admin {
        /// The admin action.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// One merchant's account on the platform.
    Tenant {
        /// The tenant action.
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The one clock (emulator only: with real Stripe time is the wall clock).
    Clock {
        /// The clock action.
        #[command(subcommand)]
        command: ClockCommand,
    },
}

/// `billforge tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Pull the products, prices, customers and subscriptions of the
    /// tenant's already-running Stripe account into Billforge. Resumable
    /// (an interrupted run continues where it stopped) and idempotent.
    Import {
        /// The tenant's URL name.
        slug: String,
    },
    /// Set the platform's fee on the tenant's new subscriptions.
    SetFee {
        /// The tenant's URL name.
        slug: String,
        /// Percent of each payment, e.g. `2.5`.
        percent: String,
    },
}

/// `billforge clock …`.
#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Move Billforge and the Stripe emulator forward together, running the
    /// renewals, payment retries, dunning steps, mail and webhooks that fall
    /// due, in time order. Needs the `serve` whose emulator and webhooks
    /// this uses to be running (or STRIPE_API_BASE pointing at an emulator
    /// that delivers to a running Billforge).
    Advance {
        /// How far: `30d`, `12h`, `1w`, `1y`, `1w 2d`...
        duration: String,
    },
}

/// `billforge admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform admin. The password is prompted for (no echo), or
    /// read from the first line of stdin when stdin is not a terminal.
    Create {
        /// The admin's login email.
        #[arg(long)]
        email: String,
    },
}

/// Runs a parsed command. `env` and `stdin` are parameters so tests can drive
/// the real code path.
pub async fn execute(
    cli: Cli,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn BufRead,
    stdin_is_terminal: bool,
) -> anyhow::Result<()> {
    let LoadedConfig {
        settings,
        defaults_in_use,
    } = config::load(cli.config.as_deref(), env)?;
    crate::telemetry::init(settings.log_format);
    match cli.command {
        Command::Migrate => {
            store::Store::connect(settings.database_url.expose())
                .await?
                .migrate()
                .await
                .context("applying migrations")?;
            println!(
                "Migrations applied to {}",
                config::redacted_database_url(settings.database_url.expose())
            );
        }
        Command::Serve { no_workers } => serve(settings, &defaults_in_use, !no_workers).await?,
        Command::Worker => {
            let stripe = StripeBackend::connect(&settings, false).await?;
            tracing::info!("talking to {}", stripe.description);
            let platform = start_platform(settings, stripe.client).await?;
            tracing::info!("background workers running; Ctrl-C to stop");
            tokio::select! {
                () = crate::worker::run(platform, crate::worker::job_handlers()) => {}
                _ = tokio::signal::ctrl_c() => tracing::info!("stopping workers"),
            }
        }
        Command::StripeEmulator {
            host,
            port,
            data_dir,
            webhook_concurrency,
        } => {
            let emulator = start_emulator(
                std::net::SocketAddr::new(host, port),
                data_dir,
                webhook_concurrency,
            )
            .await?;
            println!(
                "Stripe emulator listening on {} (any sk_test_ key; Ctrl-C to stop)",
                emulator.base_url()
            );
            tokio::signal::ctrl_c().await?;
            emulator.stop().await;
        }
        Command::Admin {
            command: AdminCommand::Create { email },
        } => {
            let password = if stdin_is_terminal {
                Secret::new(rpassword::prompt_password("Password for the new admin: ")?)
            } else {
                read_password_line(stdin)?
            };
            let stripe = StripeBackend::connect(&settings, false).await?;
            let platform = start_platform(settings, stripe.client).await?;
            let admin = platform.create_admin(&email, &password).await?;
            println!(
                "Created platform admin {} ({}). Log in at /admin/login.",
                admin.email, admin.id
            );
        }
        Command::Tenant { command } => {
            let stripe = StripeBackend::connect(&settings, false).await?;
            let platform = start_platform(settings, stripe.client).await?;
            crate::tenant_cli::execute(&platform, command).await?;
        }
        Command::Clock {
            command: ClockCommand::Advance { duration },
        } => clock_advance(settings, &duration).await?,
    }
    Ok(())
}

/// `billforge clock advance <duration>`: steps time forward with the
/// emulator and runs what falls due (`Platform::advance_clock`).
async fn clock_advance(settings: platform::Settings, duration: &str) -> anyhow::Result<()> {
    let by = platform::clock::parse_advance(duration)?;
    let stripe = StripeBackend::connect(&settings, false).await?;
    let platform = start_platform(settings, stripe.client).await?;
    let audit = platform.audit_context(
        store::Actor::system(),
        &platform::RequestId::for_task("clock-advance"),
    );
    let advance = platform
        .advance_clock(by, &crate::worker::job_handlers(), &audit)
        .await
        .map_err(|err| anyhow::anyhow!("{err} ({})", err.code()))?;
    println!(
        "Clock advanced by {duration}: {} -> {} ({} steps, {} jobs run here)",
        advance.from.format("%Y-%m-%d %H:%M:%S UTC"),
        advance.to.format("%Y-%m-%d %H:%M:%S UTC"),
        advance.steps,
        advance.jobs_run
    );
    Ok(())
}

/// The first line of a non-interactive stdin, without its line ending.
fn read_password_line(stdin: &mut dyn BufRead) -> anyhow::Result<Secret> {
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(
        !password.is_empty(),
        "no password on stdin: pipe it in, e.g. `billforge admin create --email … < password.txt`"
    );
    Ok(Secret::new(password))
}

/// `billforge serve`: migrate, start workers (unless `with_workers` is
/// off) and the HTTP server, print the banner, and shut down gracefully on
/// Ctrl-C / SIGTERM.
async fn serve(
    settings: platform::Settings,
    defaults_in_use: &[String],
    with_workers: bool,
) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    let public_url = settings.public_url.clone();
    let database = config::redacted_database_url(settings.database_url.expose());
    let stripe = StripeBackend::connect(&settings, true).await?;
    let stripe_description = stripe.description.clone();
    let platform = start_platform(settings, stripe.client.clone()).await?;
    platform.ensure_webhook_endpoints().await.context(
        "registering the Stripe webhook endpoints (or set STRIPE_WEBHOOK_SECRETS and STRIPE_CONNECT_WEBHOOK_SECRETS)",
    )?;
    if platform.clock_is_adjustable()
        && let Err(err) = platform.sync_clock_with_emulator().await
    {
        // Not fatal: an emulator without the clock endpoints still serves
        // the API; only `clock advance` will not work with it.
        tracing::warn!(error = %err, "could not agree on the time with the Stripe emulator");
    }
    let listener = TcpListener::bind(&bind).with_context(|| format!("binding {bind}"))?;
    let server = crate::app::build_server(platform.clone(), listener, default_workers())?;
    let workers = with_workers
        .then(|| tokio::spawn(crate::worker::run(platform, crate::worker::job_handlers())));

    println!("Billforge is running. Open {public_url}");
    println!("  listening on {bind}, database {database}");
    println!("  Stripe: {stripe_description}");
    if workers.is_none() {
        println!("  background work: left to `billforge worker` processes (--no-workers)");
    }
    if !defaults_in_use.is_empty() {
        println!("  defaults in use:");
        for default in defaults_in_use {
            println!("    - {default}");
        }
    }
    let outcome = server.await;
    if let Some(workers) = workers {
        workers.abort();
    }
    stripe.stop().await;
    tracing::info!("stopped");
    outcome.context("running the HTTP server")
}

/// Starts the platform on the one clock: the wall clock with real Stripe
/// (`STRIPE_SECRET_KEY`), otherwise the emulator's time, which
/// `billforge clock advance` moves.
async fn start_platform(
    settings: platform::Settings,
    stripe: stripe::Client,
) -> anyhow::Result<Platform> {
    let started = if settings.stripe_secret_key.is_some() {
        Platform::start(
            settings,
            std::sync::Arc::new(billing::clock::SystemClock),
            stripe,
        )
        .await
    } else {
        Platform::start_on_emulator_time(settings, stripe).await
    };
    started.context("starting the platform")
}

/// One HTTP worker per core.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The real process's stdin, for `main`.
pub fn process_stdin() -> (std::io::StdinLock<'static>, bool) {
    let stdin = std::io::stdin();
    let is_terminal = stdin.is_terminal();
    (stdin.lock(), is_terminal)
}
