//! Resident memory of the emulator per subscription (issue #10's billing day):
//! `cargo run --release -p stripe-emulator --example bench_memory -- [N] [--renew]`.
//!
//! Starts the emulator in-process (state in memory, no webhook endpoint) and
//! makes the billing-day bench's set-up calls: N customers created with a card
//! as their default payment method, each subscribed monthly with
//! `billing_cycle_anchor` two days on. Prints VmRSS per subscription after the
//! set-up and, with `--renew`, after advancing the clock through the anchor
//! (all N renew at one instant), with VmHWM, the peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;
use stripe_emulator::{EmulatorConfig, start};

const CONNECTIONS: usize = 8;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .iter()
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(2_000);
    let renew = args.iter().any(|arg| arg == "--renew");
    let emulator = start(EmulatorConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        data_dir: std::env::var_os("DD").map(Into::into),
        ..EmulatorConfig::default()
    })
    .await?;
    let base = emulator.base_url();
    let client = reqwest::Client::new();
    let baseline = memory();
    println!(
        "started: VmRSS {} MiB (subtracted below)",
        baseline.rss / 1024
    );

    let product = post(&client, &base, "/v1/products", &[("name", "Pro".into())]).await;
    let price = post(
        &client,
        &base,
        "/v1/prices",
        &[
            ("product", id(&product)),
            ("currency", "usd".into()),
            ("unit_amount", "3000".into()),
            ("recurring[interval]", "month".into()),
        ],
    )
    .await;
    let (price, anchor) = (id(&price), emulator.now() + 2 * 86_400);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (next, client, base, price) =
            (next.clone(), client.clone(), base.clone(), price.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let customer = post(
                    &client,
                    &base,
                    "/v1/customers",
                    &[
                        ("payment_method", "pm_card_visa".into()),
                        (
                            "invoice_settings[default_payment_method]",
                            "pm_card_visa".into(),
                        ),
                        ("email", "customer@billing-day.example.com".into()),
                    ],
                )
                .await;
                let subscription = post(
                    &client,
                    &base,
                    "/v1/subscriptions",
                    &[
                        ("customer", id(&customer)),
                        ("items[0][price]", price.clone()),
                        ("billing_cycle_anchor", anchor.to_string()),
                    ],
                )
                .await;
                assert_eq!(subscription["status"], "active", "{subscription}");
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.expect("worker");
    }
    println!(
        "set-up: {n} subscriptions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    report("after set-up", n, memory().minus(baseline));

    if renew {
        let started = Instant::now();
        post(
            &client,
            &base,
            "/_emulator/clock/advance",
            &[("to", (anchor + 300).to_string())],
        )
        .await;
        println!(
            "renewal: {n} subscriptions in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        report("after renewal", n, memory().minus(baseline));
    }
    emulator.stop().await;
    Ok(())
}

async fn post(client: &reqwest::Client, base: &str, path: &str, form: &[(&str, String)]) -> Value {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth("sk_test_bench")
        .form(form)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body
}

fn id(object: &Value) -> String {
    object["id"].as_str().expect("an id").to_owned()
}

/// VmRSS and VmHWM of this process, in KiB.
#[derive(Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
}

impl Memory {
    fn minus(self, baseline: Memory) -> Memory {
        Memory {
            rss: self.rss.saturating_sub(baseline.rss),
            hwm: self.hwm.saturating_sub(baseline.rss),
        }
    }
}

fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("a memory field")
    };
    Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

fn report(stage: &str, n: usize, memory: Memory) {
    println!(
        "{stage}: VmRSS {} MiB ({:.0} KiB per subscription), VmHWM {} MiB ({:.0} KiB per subscription)",
        memory.rss / 1024,
        memory.rss as f64 / n as f64,
        memory.hwm / 1024,
        memory.hwm as f64 / n as f64,
    );
}
