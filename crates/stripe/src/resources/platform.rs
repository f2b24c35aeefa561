//! Platform plumbing: customer portal sessions, webhook endpoints and test clocks.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{CreateBillingPortalSession, CreateTestClock, CreateWebhookEndpoint, RequestOptions};
//! let portal = client
//!     .billing_portal_sessions()
//!     .create(
//!         &CreateBillingPortalSession {
//!             customer: "cus_123".into(),
//!             return_url: Some("https://shop.example/account".into()),
//!             ..Default::default()
//!         },
//!         RequestOptions::new().on_account("acct_123"),
//!     )
//!     .await?;
//! // Connected accounts' events reach a `connect` endpoint, rendered at our pinned version.
//! let endpoint = client
//!     .webhook_endpoints()
//!     .create(
//!         &CreateWebhookEndpoint::connect("https://billforge.example/webhooks/stripe/connect", ["*"]),
//!         RequestOptions::new().idempotency_key("webhook-endpoint:connect"),
//!     )
//!     .await?;
//! let secret = endpoint.secret.expect("only returned on creation");
//! let clock = client
//!     .test_clocks()
//!     .create(&CreateTestClock { frozen_time: 1_700_000_000, name: Some("renewal".into()) }, RequestOptions::new())
//!     .await?;
//! client.test_clocks().advance(&clock.id, 1_702_592_000, RequestOptions::new()).await?;
//! # let _ = (portal, secret);
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::client::API_VERSION;
use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{Client, Deleted, Error, ListParams, Metadata, RequestOptions, Secret};

/// A customer portal session (`bps_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BillingPortalSession {
    /// Stripe's id.
    pub id: String,
    /// Short-lived URL to redirect the customer to.
    pub url: String,
    /// The customer it is for.
    pub customer: String,
    /// Where the portal sends the customer back.
    pub return_url: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// `POST /v1/billing_portal/sessions`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateBillingPortalSession {
    /// The customer.
    pub customer: String,
    /// Where the portal sends the customer back.
    pub return_url: Option<String>,
    /// A portal configuration other than the default (`bpc_...`).
    pub configuration: Option<String>,
    /// Portal language (`auto`, `en`, ...).
    pub locale: Option<String>,
}

stripe_enum! {
    /// Whether an endpoint receives events.
    pub enum WebhookEndpointStatus {
        /// Receiving.
        Enabled = "enabled",
        /// Disabled (by us, or by Stripe after failing for days).
        Disabled = "disabled",
    }
}

/// A webhook endpoint (`we_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WebhookEndpoint {
    /// Stripe's id.
    pub id: String,
    /// Where events are sent.
    pub url: String,
    /// Event types sent (`*` for all).
    pub enabled_events: Vec<String>,
    /// The version events are rendered at (`None`: the account's default).
    pub api_version: Option<String>,
    /// Receiving or not.
    pub status: Option<WebhookEndpointStatus>,
    /// The signing secret (`whsec_...`): only in the answer to creation.
    pub secret: Option<Secret>,
    /// Shown in the Dashboard.
    pub description: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// `POST /v1/webhook_endpoints`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateWebhookEndpoint {
    /// Where events are sent.
    pub url: String,
    /// Event types to send (`*` for all).
    pub enabled_events: Vec<String>,
    /// Receive connected accounts' events instead of the platform's.
    pub connect: Option<bool>,
    /// Render events at this version; [`CreateWebhookEndpoint::platform`] and
    /// [`CreateWebhookEndpoint::connect`] pin [`API_VERSION`].
    pub api_version: Option<String>,
    /// Shown in the Dashboard.
    pub description: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
}

impl CreateWebhookEndpoint {
    /// An endpoint for the platform account's own events, at our API version.
    pub fn platform<I: IntoIterator<Item = S>, S: Into<String>>(
        url: impl Into<String>,
        events: I,
    ) -> Self {
        Self {
            url: url.into(),
            enabled_events: events.into_iter().map(Into::into).collect(),
            api_version: Some(API_VERSION.to_owned()),
            ..Self::default()
        }
    }

    /// An endpoint for connected accounts' events, at our API version.
    pub fn connect<I: IntoIterator<Item = S>, S: Into<String>>(
        url: impl Into<String>,
        events: I,
    ) -> Self {
        Self {
            connect: Some(true),
            ..Self::platform(url, events)
        }
    }
}

stripe_enum! {
    /// Where a test clock stands.
    pub enum TestClockStatus {
        /// Idle; may be advanced.
        Ready = "ready",
        /// Advancing; objects are being updated.
        Advancing = "advancing",
        /// Advancing failed.
        InternalFailure = "internal_failure",
    }
}

/// A test clock (`clock_...`): simulated time for test-mode billing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TestClock {
    /// Stripe's id.
    pub id: String,
    /// The simulated now, Unix seconds.
    pub frozen_time: i64,
    /// Where it stands.
    pub status: Option<TestClockStatus>,
    /// Label.
    pub name: Option<String>,
    /// When Stripe deletes it, Unix seconds.
    pub deletes_after: i64,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Always `false`.
    pub livemode: bool,
}

/// `POST /v1/test_helpers/test_clocks`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateTestClock {
    /// The simulated start time, Unix seconds.
    pub frozen_time: i64,
    /// Label.
    pub name: Option<String>,
}

/// `POST /v1/test_helpers/test_clocks/:id/advance`.
#[derive(Debug, Clone, Serialize)]
struct AdvanceTestClock {
    /// The new simulated now, Unix seconds.
    frozen_time: i64,
}

impl_object!(BillingPortalSession, WebhookEndpoint, TestClock);

/// `client.billing_portal_sessions()`.
#[derive(Debug, Clone, Copy)]
pub struct BillingPortalSessions<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.webhook_endpoints()`.
#[derive(Debug, Clone, Copy)]
pub struct WebhookEndpoints<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.test_clocks()`.
#[derive(Debug, Clone, Copy)]
pub struct TestClocks<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Customer portal operations.
    pub fn billing_portal_sessions(&self) -> BillingPortalSessions<'_> {
        BillingPortalSessions { client: self }
    }

    /// Webhook endpoint operations.
    pub fn webhook_endpoints(&self) -> WebhookEndpoints<'_> {
        WebhookEndpoints { client: self }
    }

    /// Test clock operations (test mode only).
    pub fn test_clocks(&self) -> TestClocks<'_> {
        TestClocks { client: self }
    }
}

impl BillingPortalSessions<'_> {
    /// Creates a portal session; redirect the customer to its `url`.
    pub async fn create(
        &self,
        params: &CreateBillingPortalSession,
        options: RequestOptions,
    ) -> Result<BillingPortalSession, Error> {
        self.client
            .post(&["billing_portal", "sessions"], params, options)
            .await
    }
}

impl WebhookEndpoints<'_> {
    /// Creates an endpoint; store the returned `secret`, it is never shown again.
    pub async fn create(
        &self,
        params: &CreateWebhookEndpoint,
        options: RequestOptions,
    ) -> Result<WebhookEndpoint, Error> {
        self.client
            .post(&["webhook_endpoints"], params, options)
            .await
    }

    /// Retrieves an endpoint (without its secret).
    pub async fn retrieve(
        &self,
        id: &str,
        options: RequestOptions,
    ) -> Result<WebhookEndpoint, Error> {
        self.client
            .get(&["webhook_endpoints", id], &(), options)
            .await
    }

    /// Every endpoint.
    pub fn list(
        &self,
        params: &ListParams,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<WebhookEndpoint, Error>> {
        self.client
            .paginate(&["webhook_endpoints"], params, options)
    }

    /// Deletes an endpoint.
    pub async fn delete(&self, id: &str, options: RequestOptions) -> Result<Deleted, Error> {
        self.client
            .delete(&["webhook_endpoints", id], &(), options)
            .await
    }
}

impl TestClocks<'_> {
    /// Creates a test clock.
    pub async fn create(
        &self,
        params: &CreateTestClock,
        options: RequestOptions,
    ) -> Result<TestClock, Error> {
        self.client
            .post(&["test_helpers", "test_clocks"], params, options)
            .await
    }

    /// Retrieves a test clock (poll until `status` is `ready` after advancing).
    pub async fn retrieve(&self, id: &str, options: RequestOptions) -> Result<TestClock, Error> {
        self.client
            .get(&["test_helpers", "test_clocks", id], &(), options)
            .await
    }

    /// Moves simulated time forward to `frozen_time` (Unix seconds).
    pub async fn advance(
        &self,
        id: &str,
        frozen_time: i64,
        options: RequestOptions,
    ) -> Result<TestClock, Error> {
        let params = AdvanceTestClock { frozen_time };
        self.client
            .post(
                &["test_helpers", "test_clocks", id, "advance"],
                &params,
                options,
            )
            .await
    }

    /// Deletes a test clock and everything attached to it.
    pub async fn delete(&self, id: &str, options: RequestOptions) -> Result<Deleted, Error> {
        self.client
            .delete(&["test_helpers", "test_clocks", id], &(), options)
            .await
    }

    /// Every test clock.
    pub fn list(
        &self,
        params: &ListParams,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<TestClock, Error>> {
        self.client
            .paginate(&["test_helpers", "test_clocks"], params, options)
    }
}
