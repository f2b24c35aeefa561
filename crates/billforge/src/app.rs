//! Composition: the one place web, api and ops are put together. `serve` and
//! the integration tests both build the server here.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use platform::Platform;

use crate::ops::{self, Metrics};

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE_SECS: u64 = 10;

/// Builds the HTTP server on an already-bound listener (port 0 in tests).
pub fn build_server(
    platform: Platform,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<Server> {
    let json_body_limit = platform.settings().json_body_limit;
    // Entitlement checks are served from memory; this keeps them in step
    // with changes made by other processes.
    platform.spawn_entitlement_poll();
    let platform = web::Data::new(platform);
    let metrics = web::Data::new(Metrics::new());
    // The admin console's clock button runs due jobs as it steps time.
    let job_handlers = web::Data::new(crate::worker::job_handlers());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(platform.clone())
            .app_data(metrics.clone())
            .app_data(job_handlers.clone())
            .wrap(from_fn(ops::request_context))
            .route("/healthz", web::get().to(ops::healthz))
            .route("/readyz", web::get().to(ops::readyz))
            .route("/metrics", web::get().to(ops::metrics))
            .configure(|cfg| api::configure(cfg, json_body_limit))
            .configure(::web::configure)
            .default_service(web::to(::web::not_found_page))
    })
    .workers(workers)
    // Each response leaves as soon as it is written: with Nagle's algorithm
    // a response written in two parts waits for the client's delayed ACK
    // (~40 ms) whenever the previous one is still unacknowledged.
    .tcp_nodelay(true)
    .shutdown_timeout(SHUTDOWN_GRACE_SECS)
    .listen(listener)?
    .run();
    Ok(server)
}
