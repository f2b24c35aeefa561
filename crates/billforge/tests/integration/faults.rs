//! Faults: the database going away in the middle of a burst of deliveries.
//!
//! On PostgreSQL the app reaches its database through a TCP proxy the test
//! cuts (every open connection dropped, new ones refused) and restores; on
//! SQLite another connection holds the write lock for longer than the busy
//! timeout. Either way the promise is the same: a delivery is answered 2xx
//! only once stored, 5xx while it cannot be, and the service recovers by
//! itself when the database is back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::Secret;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseTransaction, TransactionTrait};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::harness::{TestApp, spawn_app_with};
use crate::webhooks::{PLATFORM_SECRET, customer, deliver, event_body};

/// A TCP proxy in front of PostgreSQL that can be cut and restored.
struct DbProxy {
    /// Where the app connects.
    address: SocketAddr,
    /// Whether new connections are let through.
    up: Arc<AtomicBool>,
    /// The piping tasks of the open connections, to drop them on a cut.
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl DbProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (accepting, tasks) = (up.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { address, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The database made unavailable to the app, one way per backend.
enum Outage {
    /// PostgreSQL behind a proxy.
    Proxy(DbProxy),
    /// SQLite: the database URL, to take its write lock from outside.
    Sqlite(String, Option<DatabaseTransaction>),
}

impl Outage {
    async fn begin(&mut self) {
        match self {
            Self::Proxy(proxy) => proxy.cut(),
            Self::Sqlite(url, held) => {
                let db = Database::connect(url.as_str()).await.unwrap();
                let txn = db.begin().await.unwrap();
                txn.execute_unprepared("UPDATE platform_settings SET value = value WHERE key = ''")
                    .await
                    .unwrap();
                *held = Some(txn);
            }
        }
    }

    async fn end(&mut self) {
        match self {
            Self::Proxy(proxy) => proxy.restore(),
            Self::Sqlite(_, held) => {
                if let Some(txn) = held.take() {
                    txn.rollback().await.unwrap();
                }
            }
        }
    }
}

/// An app whose database can be taken away.
async fn app_with_outage() -> (TestApp, Outage) {
    let proxy = match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        Some(url) => {
            let parsed = url::Url::parse(&url).unwrap();
            let upstream = format!(
                "{}:{}",
                parsed.host_str().unwrap(),
                parsed.port().unwrap_or(5432)
            );
            Some(DbProxy::start(upstream).await)
        }
        None => None,
    };
    let proxy_address = proxy.as_ref().map(|proxy| proxy.address);
    let app = spawn_app_with(|settings| {
        settings.stripe_webhook_secrets = vec![Secret::new(PLATFORM_SECRET)];
        if let Some(address) = proxy_address {
            let mut url = url::Url::parse(settings.database_url.expose()).unwrap();
            url.set_port(Some(address.port())).unwrap();
            settings.database_url = Secret::new(url.to_string());
        }
    })
    .await;
    let outage = match proxy {
        Some(proxy) => Outage::Proxy(proxy),
        None => Outage::Sqlite(app.database_url.clone(), None),
    };
    (app, outage)
}

/// Delivers event `n` of the burst, signed now; returns the answer's status.
async fn deliver_nth(app: &TestApp, n: usize) -> StatusCode {
    let body = event_body(
        &format!("evt_outage_{n:04}"),
        "customer.discount.created",
        None,
        customer("cus_outage"),
    );
    deliver(app, "/webhooks/stripe", PLATFORM_SECRET, &body)
        .await
        .0
}

#[tokio::test]
async fn a_database_outage_answers_5xx_loses_nothing_acknowledged_and_recovers() {
    let (app, mut outage) = app_with_outage().await;
    let app = Arc::new(app);
    let answers = Arc::new(Mutex::new(BTreeMap::<usize, StatusCode>::new()));
    const EVENTS: usize = 120;
    // Eight senders work through the burst while the database goes away
    // and comes back.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, answers, next) = (app.clone(), answers.clone(), next.clone());
        senders.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= EVENTS {
                    return;
                }
                let status = deliver_nth(&app, n).await;
                answers.lock().unwrap().insert(n, status);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    outage.begin().await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    outage.end().await;
    while let Some(sender) = senders.join_next().await {
        sender.unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    let refused: Vec<usize> = answers
        .iter()
        .filter(|(_, status)| status.is_server_error())
        .map(|(n, _)| *n)
        .collect();
    assert!(
        !refused.is_empty(),
        "deliveries during the outage are answered 5xx: {answers:?}"
    );
    assert!(
        answers
            .values()
            .all(|status| *status == StatusCode::OK || status.is_server_error()),
        "only 200 or 5xx: {answers:?}"
    );
    // Recovered by itself: a fresh delivery is stored again.
    let mut recovered = false;
    for _ in 0..100 {
        if deliver_nth(&app, EVENTS).await == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service recovers once the database is back");
    // Everything acknowledged is stored.
    let store = app.platform.store();
    for (n, status) in &answers {
        if *status == StatusCode::OK {
            let id = format!("evt_outage_{n:04}");
            assert!(
                store.webhook_event(&id).await.unwrap().is_some(),
                "{id} was acknowledged, so it is stored"
            );
        }
    }
    // Stripe redelivers what was refused; each is then stored once.
    for n in refused {
        assert_eq!(deliver_nth(&app, n).await, StatusCode::OK);
        assert!(
            store
                .webhook_event(&format!("evt_outage_{n:04}"))
                .await
                .unwrap()
                .is_some()
        );
    }
}
