//! The only crate that knows Stripe's wire format: client, resources, webhook
//! verification and events. See `../shared/stripe/README.md` for the contract.
//!
//! Other crates see typed values only: [`Client`] sends requests (pinned
//! [`API_VERSION`], Connect header, idempotency keys, retries, per-account
//! rate budget), the [`resources`] type what goes in and out, [`webhook`]
//! verifies and signs deliveries, and [`Event`] types what arrives.
//!
//! ```no_run
//! # async fn example() -> Result<(), stripe::Error> {
//! use stripe::{Client, CreateCustomer, RequestOptions};
//! let client = Client::builder("sk_test_123").base_url("http://127.0.0.1:12111").build()?;
//! let customer = client
//!     .customers()
//!     .create(&CreateCustomer::default(), RequestOptions::new().on_account("acct_123").idempotency_key("customer:42"))
//!     .await?;
//! # let _ = customer;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod budget;
mod client;
mod enums;
mod error;
mod event;
pub mod form;
pub mod json;
mod list;
pub mod resources;
mod secret;
pub mod webhook;

pub use budget::RateLimit;
pub use client::{API_VERSION, Client, ClientBuilder, DEFAULT_BASE_URL, RequestOptions};
pub use error::{ApiError, ApiErrorKind, Error};
pub use event::{
    Event, EventData, EventEnvelope, EventJson, EventObject, EventRequest, EventType, Events,
    ListEvents,
};
pub use list::{
    Address, Deleted, Expand, Expandable, List, ListParams, Metadata, Object, Percent, RangeQuery,
};
pub use resources::catalog::*;
pub use resources::checkout::*;
pub use resources::connect::*;
pub use resources::customers::*;
pub use resources::emulator::{Emulator, EmulatorClock};
pub use resources::invoices::*;
pub use resources::payments::*;
pub use resources::platform::*;
pub use resources::refunds::*;
pub use resources::subscriptions::*;
pub use secret::Secret;
