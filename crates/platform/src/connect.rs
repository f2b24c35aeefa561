//! Stripe Connect onboarding of a tenant: connected account and account links.
//!
//! The rules of where a tenant stands live in `billing::connect`; this module
//! feeds them Stripe's answers and stores the outcome. Account state is taken
//! from a freshly retrieved account (the caller's job), never from a possibly
//! stale event copy.

use billing::connect::{AccountEvent, ConnectStatus};
use billing::ids::TenantId;
use store::AuditContext;
use store::catalog::{ConnectionChange, ConnectionStatus, StripeConnection};
use stripe::{
    AccountLinkType, ControllerDashboard, ControllerFees, ControllerLosses, ControllerParams,
    CreateAccount, CreateAccountLink, Metadata, RequestOptions,
};

use crate::{Platform, PlatformError, PlatformResult};

pub use store::catalog::{ConnectionStatus as StoredConnectStatus, StripeConnection as Connection};

/// Where Stripe sends the merchant after onboarding.
#[derive(Debug, Clone)]
pub struct OnboardingUrls {
    /// Where the merchant lands when they leave the flow (not proof of completion).
    pub return_url: String,
    /// Where Stripe sends them when the link expired or was used: a page that
    /// calls [`Platform::connect_stripe`] again for a fresh link.
    pub refresh_url: String,
}

/// The domain view of a stored connection.
fn status_of(connection: Option<&StripeConnection>) -> ConnectStatus {
    let Some(connection) = connection else {
        return ConnectStatus::NotConnected;
    };
    let account = connection.account_id.clone();
    match connection.status {
        ConnectionStatus::Onboarding => ConnectStatus::Onboarding(account),
        ConnectionStatus::Active => ConnectStatus::Active(account),
        ConnectionStatus::Restricted => ConnectStatus::Restricted(account),
        ConnectionStatus::Disconnected => ConnectStatus::Disconnected(account),
    }
}

/// The stored form of a domain status; `None` for `NotConnected`.
fn stored(status: &ConnectStatus) -> Option<(String, ConnectionStatus)> {
    let stored = match status {
        ConnectStatus::NotConnected => return None,
        ConnectStatus::Onboarding(_) => ConnectionStatus::Onboarding,
        ConnectStatus::Active(_) => ConnectionStatus::Active,
        ConnectStatus::Restricted(_) => ConnectionStatus::Restricted,
        ConnectStatus::Disconnected(_) => ConnectionStatus::Disconnected,
    };
    Some((status.account()?.to_owned(), stored))
}

/// The idempotency key of creating `tenant`'s connected account. Derived
/// from the tenant (and the account it replaces, after a disconnection), so
/// a retry or a double click gets the same account back from Stripe.
fn account_create_key(tenant: &TenantId, replaced: Option<&str>) -> String {
    match replaced {
        Some(previous) => format!("account-create:{tenant}:after:{previous}"),
        None => format!("account-create:{tenant}"),
    }
}

impl Platform {
    /// The tenant's Connect status.
    pub async fn stripe_connect_status(&self, tenant: &TenantId) -> PlatformResult<ConnectStatus> {
        let connection = self.store().scoped(tenant).stripe_connection().await?;
        Ok(status_of(connection.as_ref()))
    }

    /// Starts (or resumes) Stripe onboarding: creates the tenant's connected
    /// account unless it has a live one, and returns a fresh account link
    /// URL (links are single-use, so every call makes a new one).
    pub async fn connect_stripe(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        urls: &OnboardingUrls,
    ) -> PlatformResult<String> {
        let scope = self.store().scoped(tenant);
        let status = status_of(scope.stripe_connection().await?.as_ref());
        let account = match &status {
            ConnectStatus::Onboarding(account)
            | ConnectStatus::Active(account)
            | ConnectStatus::Restricted(account) => account.clone(),
            ConnectStatus::NotConnected | ConnectStatus::Disconnected(_) => {
                let key = account_create_key(tenant, status.account());
                let created = self
                    .stripe()
                    .accounts()
                    .create(
                        &platform_controlled_account(tenant),
                        RequestOptions::new().idempotency_key(key),
                    )
                    .await?;
                let onboarding = status.on(AccountEvent::Created {
                    account: created.id.clone(),
                });
                self.save_connection(tenant, &onboarding, false, "stripe.account_created", ctx)
                    .await?;
                // Events of the new account that arrived before it was linked
                // were kept in the inbox; now they have a tenant to apply to.
                self.requeue_events_for_account(&created.id).await?;
                created.id
            }
        };
        let link = self
            .stripe()
            .account_links()
            .create(
                &CreateAccountLink {
                    account,
                    link_type: AccountLinkType::AccountOnboarding,
                    refresh_url: urls.refresh_url.clone(),
                    return_url: urls.return_url.clone(),
                },
                RequestOptions::new(),
            )
            .await?;
        Ok(link.url)
    }

    /// Applies a connected account's current state (after `account.updated`,
    /// from a freshly retrieved account): the tenant becomes active once
    /// charges are enabled. Returns the tenant's new status, or `None` when
    /// no tenant owns the account (the event is not ours to apply).
    pub async fn apply_account_state(
        &self,
        account_id: &str,
        charges_enabled: bool,
        details_submitted: bool,
        ctx: &AuditContext,
    ) -> PlatformResult<Option<ConnectStatus>> {
        self.apply_account_event(
            account_id,
            AccountEvent::Updated {
                account: account_id.to_owned(),
                charges_enabled,
            },
            Some(details_submitted),
            "stripe.account_updated",
            ctx,
        )
        .await
    }

    /// Brings the tenant's connection up to date with its account as Stripe
    /// has it now: the dashboard calls this when the merchant comes back
    /// from onboarding, so the status shows without waiting for the
    /// `account.updated` webhook (which applies the same state later).
    pub async fn refresh_stripe_connection(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
    ) -> PlatformResult<ConnectStatus> {
        let Ok(account_id) = self.connected_account(tenant).await else {
            return self.stripe_connect_status(tenant).await;
        };
        match self.apply_current_account_state(&account_id, ctx).await? {
            Some(status) => Ok(status),
            None => self.stripe_connect_status(tenant).await,
        }
    }

    /// Retrieves `account_id` from Stripe and applies its current state
    /// (see [`Platform::apply_account_state`]).
    pub async fn apply_current_account_state(
        &self,
        account_id: &str,
        ctx: &AuditContext,
    ) -> PlatformResult<Option<ConnectStatus>> {
        let account = self
            .stripe()
            .accounts()
            .retrieve(
                account_id,
                &stripe::Expand::default(),
                RequestOptions::new(),
            )
            .await?;
        self.apply_account_state(
            account_id,
            account.charges_enabled,
            account.details_submitted,
            ctx,
        )
        .await
    }

    /// `account.application.deauthorized`: the tenant is flagged
    /// disconnected; nothing is deleted.
    pub async fn disconnect_stripe(
        &self,
        account_id: &str,
        ctx: &AuditContext,
    ) -> PlatformResult<Option<ConnectStatus>> {
        self.apply_account_event(
            account_id,
            AccountEvent::Deauthorized {
                account: account_id.to_owned(),
            },
            None,
            "stripe.account_deauthorized",
            ctx,
        )
        .await
    }

    /// Runs `event` through `billing::connect` for the tenant owning
    /// `account_id` and stores the result if anything changed.
    async fn apply_account_event(
        &self,
        account_id: &str,
        event: AccountEvent,
        details_submitted: Option<bool>,
        action: &'static str,
        ctx: &AuditContext,
    ) -> PlatformResult<Option<ConnectStatus>> {
        let Some(connection) = self
            .store()
            .stripe_connection_by_account(account_id)
            .await?
        else {
            tracing::info!(
                account_id,
                action,
                "no tenant owns this Stripe account; ignored"
            );
            return Ok(None);
        };
        let tenant = TenantId::parse(&connection.tenant_id)
            .map_err(|err| PlatformError::Internal(format!("stored tenant id: {err}")))?;
        let before = status_of(Some(&connection));
        let after = before.clone().on(event);
        let details = details_submitted.unwrap_or(connection.details_submitted);
        if after != before || details != connection.details_submitted {
            self.save_connection(&tenant, &after, details, action, ctx)
                .await?;
        }
        Ok(Some(after))
    }

    /// Stores a (connected) status for `tenant`.
    async fn save_connection(
        &self,
        tenant: &TenantId,
        status: &ConnectStatus,
        details_submitted: bool,
        action: &'static str,
        ctx: &AuditContext,
    ) -> PlatformResult<()> {
        let Some((account_id, status)) = stored(status) else {
            return Ok(());
        };
        let change = ConnectionChange {
            account_id,
            status,
            details_submitted,
            action,
        };
        self.store()
            .scoped(tenant)
            .save_stripe_connection(change, ctx)
            .await?;
        Ok(())
    }

    /// The tenant's connected account if it can be acted on (not
    /// disconnected), or `stripe_not_connected`.
    pub async fn connected_account(&self, tenant: &TenantId) -> PlatformResult<String> {
        match self.stripe_connect_status(tenant).await? {
            ConnectStatus::Onboarding(account)
            | ConnectStatus::Active(account)
            | ConnectStatus::Restricted(account) => Ok(account),
            ConnectStatus::NotConnected | ConnectStatus::Disconnected(_) => {
                Err(PlatformError::StripeNotConnected)
            }
        }
    }
}

/// A connected account the platform controls: the platform pays Stripe's
/// fees and bears losses, and the merchant gets the Express dashboard.
fn platform_controlled_account(tenant: &TenantId) -> CreateAccount {
    let mut metadata = Metadata::new();
    metadata.insert("tenant_id".to_owned(), tenant.to_string());
    CreateAccount {
        controller: Some(ControllerParams {
            fees: Some(ControllerFees {
                payer: "application".to_owned(),
            }),
            losses: Some(ControllerLosses {
                payments: "application".to_owned(),
            }),
            stripe_dashboard: Some(ControllerDashboard {
                dashboard_type: "express".to_owned(),
            }),
        }),
        metadata,
        ..CreateAccount::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_per_tenant_and_per_reconnection() {
        let tenant = TenantId::generate();
        assert_eq!(
            account_create_key(&tenant, None),
            account_create_key(&tenant, None)
        );
        assert_ne!(
            account_create_key(&tenant, None),
            account_create_key(&tenant, Some("acct_1"))
        );
        assert_ne!(
            account_create_key(&tenant, None),
            account_create_key(&TenantId::generate(), None)
        );
    }

    #[test]
    fn stored_status_round_trips() {
        for status in [
            ConnectStatus::Onboarding("acct_1".to_owned()),
            ConnectStatus::Active("acct_1".to_owned()),
            ConnectStatus::Restricted("acct_1".to_owned()),
            ConnectStatus::Disconnected("acct_1".to_owned()),
        ] {
            let (account_id, stored_status) = stored(&status).unwrap();
            let row = StripeConnection {
                tenant_id: TenantId::generate().to_string(),
                account_id,
                status: stored_status,
                details_submitted: false,
                updated_at: chrono::Utc::now(),
            };
            assert_eq!(status_of(Some(&row)), status);
        }
        assert_eq!(stored(&ConnectStatus::NotConnected), None);
    }
}
