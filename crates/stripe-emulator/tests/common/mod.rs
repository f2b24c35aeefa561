//! Shared helpers: an emulator on a free port and a raw HTTP client speaking Stripe's wire format.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use serde_json::Value;
use stripe_emulator::{EmulatorConfig, RunningEmulator, start};

/// A running emulator plus a plain HTTP client.
pub struct Harness {
    /// The emulator under test.
    pub emulator: RunningEmulator,
    /// Keep-alive client without redirects (hosted pages answer 303s).
    pub http: reqwest::Client,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

/// A raw response: status, headers and JSON body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Parsed JSON body (`Null` for non-JSON).
    pub body: Value,
}

impl Harness {
    /// Starts an in-memory emulator on a free port.
    pub async fn start() -> Harness {
        Harness::with_config(EmulatorConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            ..EmulatorConfig::default()
        })
        .await
    }

    /// Starts an emulator with a custom configuration.
    pub async fn with_config(config: EmulatorConfig) -> Harness {
        let emulator = start(config).await.expect("emulator starts");
        let base = emulator.base_url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Harness {
            emulator,
            http,
            base,
        }
    }

    /// Sends a request with a test key; `headers` adds e.g. `Stripe-Account`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.http.get(&url).query(form),
            "DELETE" => self.http.delete(&url).query(form),
            _ => self.http.post(&url).form(form),
        }
        .bearer_auth("sk_test_emulator");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// POST returning the body, asserting success.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let reply = self.call("POST", path, form, &[]).await;
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.body);
        reply.body
    }

    /// GET returning the body, asserting success.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let reply = self.call("GET", path, query, &[]).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    /// A recurring monthly price of `amount` cents.
    pub async fn monthly_price(&self, amount: i64) -> Value {
        let product = self.post("/v1/products", &[("name", "Pro")]).await;
        self.post(
            "/v1/prices",
            &[
                ("product", product["id"].as_str().unwrap()),
                ("currency", "usd"),
                ("unit_amount", &amount.to_string()),
                ("recurring[interval]", "month"),
            ],
        )
        .await
    }

    /// A customer whose default payment method is a fresh 4242 card.
    pub async fn customer_with_card(&self, extra: &[(&str, &str)]) -> Value {
        let mut form = vec![
            ("payment_method", "pm_card_visa"),
            ("invoice_settings[default_payment_method]", "pm_card_visa"),
        ];
        form.extend_from_slice(extra);
        self.post("/v1/customers", &form).await
    }

    /// Subscribes `customer` to `price` (plus `extra` parameters).
    pub async fn subscribe(&self, customer: &str, price: &Value, extra: &[(&str, &str)]) -> Value {
        let mut form = vec![
            ("customer", customer),
            ("items[0][price]", price["id"].as_str().unwrap()),
        ];
        form.extend_from_slice(extra);
        self.post("/v1/subscriptions", &form).await
    }

    /// Pays a checkout session through its hosted card form; returns the redirect target.
    pub async fn pay_hosted_checkout(&self, url: &str, card: &str) -> reqwest::Response {
        self.http
            .post(url)
            .form(&[
                ("card_number", card),
                ("exp_month", "12"),
                ("exp_year", "2034"),
                ("cvc", "123"),
                ("name", "Ada Lovelace"),
                ("email", "ada@example.com"),
            ])
            .send()
            .await
            .expect("form post")
    }

    /// Event types on the platform, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        let events = self.get("/v1/events", &[("limit", "100")]).await;
        let mut types: Vec<String> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["type"].as_str().unwrap().to_owned())
            .collect();
        types.reverse();
        types
    }
}

/// Whether `expected` appears in `actual` in order (other items may sit between).
pub fn in_order(actual: &[String], expected: &[&str]) -> bool {
    let mut remaining = actual.iter();
    expected
        .iter()
        .all(|wanted| remaining.any(|seen| seen == wanted))
}

/// Waits (up to five seconds, CI machines are busy) until `receiver` got at least `count` requests.
pub async fn wait_for_requests(
    receiver: &wiremock::MockServer,
    count: usize,
) -> Vec<wiremock::Request> {
    let mut requests = Vec::new();
    for _ in 0..250 {
        requests = receiver.received_requests().await.unwrap_or_default();
        if requests.len() >= count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    requests
}
