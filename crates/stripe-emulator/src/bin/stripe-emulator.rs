//! Standalone Stripe emulator:
//! `stripe-emulator [--host 127.0.0.1] [--port 12111] [--data-dir DIR] [--faults SPEC]
//! [--webhook-concurrency N]` (webhook deliveries in flight at once; 1, in
//! event order, by default).
//! `--faults` (or `STRIPE_EMULATOR_FAULTS`) injects faults into `/v1`
//! requests, e.g. `server_error=0.05,rate_limited=0.05,timeout=0.02,dropped=0.02,seed=7`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use stripe_emulator::{EmulatorConfig, Faults, start};

fn usage() -> ! {
    eprintln!(
        "usage: stripe-emulator [--host ADDR] [--port N] [--data-dir DIR] [--faults SPEC] [--webhook-concurrency N]"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let mut port: u16 = 12111;
    let mut data_dir: Option<PathBuf> = None;
    let mut webhook_concurrency = 1;
    let mut faults = std::env::var("STRIPE_EMULATOR_FAULTS").unwrap_or_default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--host" => host = value.parse().unwrap_or_else(|_| usage()),
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            "--faults" => faults = value,
            "--webhook-concurrency" => {
                webhook_concurrency = value.parse().unwrap_or_else(|_| usage());
            }
            _ => usage(),
        }
    }
    let faults = Faults::parse(&faults).unwrap_or_else(|message| {
        eprintln!("stripe-emulator: --faults: {message}");
        std::process::exit(2);
    });
    let emulator = start(EmulatorConfig {
        bind: SocketAddr::new(host, port),
        data_dir,
        faults,
        webhook_concurrency,
        ..EmulatorConfig::default()
    })
    .await?;
    println!("stripe-emulator listening on {}", emulator.base_url());
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
