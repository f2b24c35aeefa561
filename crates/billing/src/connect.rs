//! A tenant's Stripe Connect status: whether it can sell yet.
//!
//! Rules:
//! - Creating the connected account (`POST /v1/accounts`) starts onboarding.
//! - An account update with charges enabled makes the tenant active; one with
//!   charges disabled sends an active tenant to `restricted` (Stripe wants
//!   more verification) and keeps an onboarding tenant onboarding.
//! - `account.application.deauthorized` disconnects the tenant: it is
//!   flagged, nothing is deleted, and later updates of that account are
//!   ignored (the platform no longer has access). Reconnecting creates a new
//!   account and starts onboarding again.
//! - Events about another account than the tenant's are ignored.
//!
//! Account update events can arrive out of order, so the caller feeds the
//! state of a freshly retrieved account (Stripe's advice for
//! `account.updated`), not the event's possibly stale copy.

use serde::{Deserialize, Serialize};

/// Where a tenant's Stripe connection stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "account", rename_all = "snake_case")]
pub enum ConnectStatus {
    /// No Stripe account yet.
    #[default]
    NotConnected,
    /// The account (`acct_…`) exists; charges are not enabled yet.
    Onboarding(String),
    /// Charges are enabled: the tenant can sell.
    Active(String),
    /// Charges were enabled, then Stripe disabled them pending verification.
    Restricted(String),
    /// The merchant disconnected the platform from this account.
    Disconnected(String),
}

/// Something that happened to a tenant's connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AccountEvent {
    /// Billforge created the connected account.
    Created {
        /// The new account's id.
        account: String,
    },
    /// The account's current state (after `account.updated`).
    Updated {
        /// Which account.
        account: String,
        /// Whether it can take payments.
        charges_enabled: bool,
    },
    /// `account.application.deauthorized`.
    Deauthorized {
        /// Which account.
        account: String,
    },
}

impl ConnectStatus {
    /// The tenant's connected account, if it has one (even a disconnected one).
    pub fn account(&self) -> Option<&str> {
        match self {
            ConnectStatus::NotConnected => None,
            ConnectStatus::Onboarding(account)
            | ConnectStatus::Active(account)
            | ConnectStatus::Restricted(account)
            | ConnectStatus::Disconnected(account) => Some(account),
        }
    }

    /// Whether the tenant can sell: create checkouts and subscriptions.
    pub fn can_sell(&self) -> bool {
        matches!(self, ConnectStatus::Active(_))
    }

    /// The status after `event`; unchanged when the event does not apply.
    pub fn on(self, event: AccountEvent) -> ConnectStatus {
        use ConnectStatus::*;
        match (self, event) {
            (NotConnected | Disconnected(_), AccountEvent::Created { account }) => {
                Onboarding(account)
            }
            (
                current @ (Onboarding(_) | Active(_) | Restricted(_)),
                AccountEvent::Updated {
                    account,
                    charges_enabled,
                },
            ) if current.account() == Some(account.as_str()) => match (current, charges_enabled) {
                (_, true) => Active(account),
                (Onboarding(_), false) => Onboarding(account),
                (_, false) => Restricted(account),
            },
            (current, AccountEvent::Deauthorized { account })
                if !matches!(current, Disconnected(_))
                    && current.account() == Some(account.as_str()) =>
            {
                Disconnected(account)
            }
            (current, _) => current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn created(account: &str) -> AccountEvent {
        AccountEvent::Created {
            account: account.to_owned(),
        }
    }

    fn updated(account: &str, charges_enabled: bool) -> AccountEvent {
        AccountEvent::Updated {
            account: account.to_owned(),
            charges_enabled,
        }
    }

    fn deauthorized(account: &str) -> AccountEvent {
        AccountEvent::Deauthorized {
            account: account.to_owned(),
        }
    }

    fn after(events: impl IntoIterator<Item = AccountEvent>) -> ConnectStatus {
        events
            .into_iter()
            .fold(ConnectStatus::NotConnected, ConnectStatus::on)
    }

    #[test]
    fn onboarding_then_active_once_charges_are_enabled() {
        let onboarding = after([created("acct_1"), updated("acct_1", false)]);
        assert_eq!(onboarding, ConnectStatus::Onboarding("acct_1".to_owned()));
        assert!(!onboarding.can_sell());
        let active = onboarding.on(updated("acct_1", true));
        assert_eq!(active, ConnectStatus::Active("acct_1".to_owned()));
        assert!(active.can_sell());
        let restricted = active.on(updated("acct_1", false));
        assert_eq!(restricted, ConnectStatus::Restricted("acct_1".to_owned()));
        assert_eq!(
            restricted.on(updated("acct_1", true)),
            ConnectStatus::Active("acct_1".to_owned())
        );
    }

    #[test]
    fn deauthorization_disconnects_for_good_until_a_new_account() {
        let disconnected = after([
            created("acct_1"),
            updated("acct_1", true),
            deauthorized("acct_1"),
        ]);
        assert_eq!(
            disconnected,
            ConnectStatus::Disconnected("acct_1".to_owned())
        );
        assert_eq!(
            disconnected.account(),
            Some("acct_1"),
            "nothing is forgotten"
        );
        let late_update = disconnected.clone().on(updated("acct_1", true));
        assert_eq!(late_update, disconnected);
        assert_eq!(
            disconnected.on(created("acct_2")),
            ConnectStatus::Onboarding("acct_2".to_owned())
        );
    }

    #[test]
    fn other_accounts_and_duplicates_are_ignored() {
        let active = after([created("acct_1"), updated("acct_1", true)]);
        for event in [
            updated("acct_9", false),
            deauthorized("acct_9"),
            created("acct_2"),
        ] {
            assert_eq!(active.clone().on(event), active);
        }
        assert_eq!(
            after([updated("acct_1", true)]),
            ConnectStatus::NotConnected
        );
        let json = serde_json::to_value(&active).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status": "active", "account": "acct_1"})
        );
    }

    proptest! {
        #[test]
        fn a_deauthorized_account_never_sells_again(
            events in prop::collection::vec((any::<bool>(), any::<bool>()), 0..12),
        ) {
            let mut status = after([created("acct_1"), updated("acct_1", true), deauthorized("acct_1")]);
            for (is_update, charges_enabled) in events {
                let event = if is_update {
                    updated("acct_1", charges_enabled)
                } else {
                    deauthorized("acct_1")
                };
                status = status.on(event);
                prop_assert!(!status.can_sell());
            }
        }
    }
}
