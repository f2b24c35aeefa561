//! Measures create-customer requests per second over HTTP (keep-alive, several
//! concurrent connections): `cargo run --release -p stripe-emulator --example bench_customers`.

use std::time::{Duration, Instant};

use stripe_emulator::{EmulatorConfig, start};

const CONNECTIONS: usize = 8;
const DURATION: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let emulator = start(EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        ..EmulatorConfig::default()
    })
    .await?;
    let url = format!("{}/v1/customers", emulator.base_url());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut done = 0u64;
            while started.elapsed() < DURATION {
                let response = client
                    .post(&url)
                    .bearer_auth("sk_test_bench")
                    .form(&[("email", "bench@example.com"), ("metadata[run]", "bench")])
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success());
                response.bytes().await.expect("body");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("worker");
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{total} create-customer requests in {seconds:.2} s over {CONNECTIONS} connections: {:.0} requests/s",
        total as f64 / seconds
    );
    emulator.stop().await;
    Ok(())
}
