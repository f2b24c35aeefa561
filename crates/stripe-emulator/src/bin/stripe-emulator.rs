//! Standalone Stripe emulator: `stripe-emulator [--host 127.0.0.1] [--port 12111] [--data-dir DIR]`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use stripe_emulator::{EmulatorConfig, start};

fn usage() -> ! {
    eprintln!("usage: stripe-emulator [--host ADDR] [--port N] [--data-dir DIR]");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut host: IpAddr = [127, 0, 0, 1].into();
    let mut port: u16 = 12111;
    let mut data_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--host" => host = value.parse().unwrap_or_else(|_| usage()),
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            _ => usage(),
        }
    }
    let emulator = start(EmulatorConfig {
        bind: SocketAddr::new(host, port),
        data_dir,
        ..EmulatorConfig::default()
    })
    .await?;
    println!("stripe-emulator listening on {}", emulator.base_url());
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
