//! Connect: tenants' connected accounts and their onboarding links.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{AccountLinkType, CreateAccount, CreateAccountLink, RequestOptions};
//! let account = client
//!     .accounts()
//!     .create(
//!         &CreateAccount { email: Some("owner@tenant.example".into()), ..CreateAccount::default() },
//!         RequestOptions::new().idempotency_key("connect-account:ten_01J..."),
//!     )
//!     .await?;
//! let link = client
//!     .account_links()
//!     .create(
//!         &CreateAccountLink {
//!             account: account.id.clone(),
//!             link_type: AccountLinkType::AccountOnboarding,
//!             refresh_url: "https://billforge.example/connect/refresh".into(),
//!             return_url: "https://billforge.example/connect/done".into(),
//!         },
//!         RequestOptions::new(),
//!     )
//!     .await?;
//! println!("send the tenant to {}", link.url);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{Client, Deleted, Error, Expand, ListParams, Metadata, RequestOptions};

/// A connected account (`acct_...`): one tenant's Stripe account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Account {
    /// Stripe's id, sent as `Stripe-Account` to act on it.
    pub id: String,
    /// The account holder's email.
    pub email: Option<String>,
    /// Two-letter country code.
    pub country: Option<String>,
    /// Currency payouts default to.
    pub default_currency: Option<String>,
    /// Whether the account can take charges: the gate for selling.
    pub charges_enabled: bool,
    /// Whether Stripe pays out to the account.
    pub payouts_enabled: bool,
    /// Whether onboarding was submitted (it may still be under review).
    pub details_submitted: bool,
    /// What Stripe still needs before the account is (or stays) enabled.
    pub requirements: Option<AccountRequirements>,
    /// Capability name (`card_payments`, `transfers`) → status.
    pub capabilities: BTreeMap<String, CapabilityStatus>,
    /// Who controls the account (fees, losses, dashboard).
    pub controller: Option<AccountController>,
    /// The public business details.
    pub business_profile: Option<BusinessProfile>,
    /// Deprecated account type (`standard`, `express`, `custom`), still sent.
    #[serde(rename = "type")]
    pub account_type: Option<String>,
    /// Our own keys (the tenant id).
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
}

stripe_enum! {
    /// A capability's state.
    pub enum CapabilityStatus {
        /// Usable.
        Active = "active",
        /// Requested, not yet usable.
        Pending = "pending",
        /// Not usable.
        Inactive = "inactive",
    }
}

/// What Stripe needs from the account holder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountRequirements {
    /// Due now to keep the account enabled.
    pub currently_due: Vec<String>,
    /// Due eventually.
    pub eventually_due: Vec<String>,
    /// Overdue: the account is (or will be) disabled.
    pub past_due: Vec<String>,
    /// Why the account is disabled, if it is.
    pub disabled_reason: Option<String>,
    /// When `currently_due` becomes `past_due`, Unix seconds.
    pub current_deadline: Option<i64>,
}

/// Who controls the account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountController {
    /// `application` (the platform) or `account` (the holder).
    #[serde(rename = "type")]
    pub controller_type: Option<String>,
}

/// Public business details.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BusinessProfile {
    /// Customer-facing business name.
    pub name: Option<String>,
    /// Website.
    pub url: Option<String>,
    /// Support email shown to customers.
    pub support_email: Option<String>,
}

/// `POST /v1/accounts`. `controller[...]` is preferred over the deprecated `type`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateAccount {
    /// Two-letter country code (defaults to the platform's).
    pub country: Option<String>,
    /// The holder's email.
    pub email: Option<String>,
    /// Who pays fees, bears losses and which dashboard the holder gets.
    pub controller: Option<ControllerParams>,
    /// Capabilities to request (`card_payments`, `transfers`).
    pub capabilities: BTreeMap<String, CapabilityRequest>,
    /// Our own keys (the tenant id).
    pub metadata: Metadata,
}

/// `controller[...]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ControllerParams {
    /// `controller[fees][payer]`: `account` or `application`.
    pub fees: Option<ControllerFees>,
    /// `controller[losses][payments]`: `stripe` or `application`.
    pub losses: Option<ControllerLosses>,
    /// `controller[stripe_dashboard][type]`: `full`, `express` or `none`.
    pub stripe_dashboard: Option<ControllerDashboard>,
}

/// `controller[fees]`.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerFees {
    /// Who pays Stripe's fees.
    pub payer: String,
}

/// `controller[losses]`.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerLosses {
    /// Who bears negative balances.
    pub payments: String,
}

/// `controller[stripe_dashboard]`.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerDashboard {
    /// The dashboard the holder gets.
    #[serde(rename = "type")]
    pub dashboard_type: String,
}

/// `capabilities[name][requested]`.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityRequest {
    /// Whether to request the capability.
    pub requested: bool,
}

/// `POST /v1/accounts/:id`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateAccount {
    /// New email.
    pub email: Option<String>,
    /// Keys to set (an empty value removes a key).
    pub metadata: Metadata,
}

stripe_enum! {
    /// What an account link is for.
    pub enum AccountLinkType {
        /// First onboarding.
        AccountOnboarding = "account_onboarding",
        /// Updating details later.
        AccountUpdate = "account_update",
    }
}

/// `POST /v1/account_links`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateAccountLink {
    /// The connected account.
    pub account: String,
    /// Onboarding or update.
    #[serde(rename = "type")]
    pub link_type: AccountLinkType,
    /// Where Stripe sends the holder when the link expired or was used: make a new link there.
    pub refresh_url: String,
    /// Where Stripe sends the holder when they leave the flow (not proof of completion).
    pub return_url: String,
}

/// A single-use, short-lived onboarding URL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountLink {
    /// Where to redirect the account holder.
    pub url: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// After this (Unix seconds) the link no longer works.
    pub expires_at: i64,
}

impl_object!(Account);

/// `client.accounts()`.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.account_links()`.
#[derive(Debug, Clone, Copy)]
pub struct AccountLinks<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Connected account operations.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { client: self }
    }

    /// Onboarding link operations.
    pub fn account_links(&self) -> AccountLinks<'_> {
        AccountLinks { client: self }
    }
}

impl Accounts<'_> {
    /// Creates a connected account.
    pub async fn create(
        &self,
        params: &CreateAccount,
        options: RequestOptions,
    ) -> Result<Account, Error> {
        self.client.post(&["accounts"], params, options).await
    }

    /// Retrieves a connected account (to check `charges_enabled`).
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Account, Error> {
        self.client.get(&["accounts", id], expand, options).await
    }

    /// Updates a connected account.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdateAccount,
        options: RequestOptions,
    ) -> Result<Account, Error> {
        self.client.post(&["accounts", id], params, options).await
    }

    /// Deletes a connected account (test mode, or accounts the platform controls).
    pub async fn delete(&self, id: &str, options: RequestOptions) -> Result<Deleted, Error> {
        self.client.delete(&["accounts", id], &(), options).await
    }

    /// Every connected account of the platform.
    pub fn list(
        &self,
        params: &ListParams,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Account, Error>> {
        self.client.paginate(&["accounts"], params, options)
    }
}

impl AccountLinks<'_> {
    /// Creates an onboarding (or update) link.
    pub async fn create(
        &self,
        params: &CreateAccountLink,
        options: RequestOptions,
    ) -> Result<AccountLink, Error> {
        self.client.post(&["account_links"], params, options).await
    }
}
