//! A merchant's choice of which customer emails to send.

use std::collections::BTreeSet;

use crate::message::MailKind;

/// The kinds a tenant switched off. Stored as the kinds' stable names;
/// everything not listed is on, so a kind added later starts enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailPreferences {
    /// Switched-off kinds; only customer-facing kinds are ever kept here.
    disabled: BTreeSet<MailKind>,
}

/// A kind a merchant may not switch off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is sent to the merchant and cannot be switched off")]
pub struct NotOptional(pub MailKind);

impl MailPreferences {
    /// Rebuilds preferences from stored names, skipping names no longer
    /// known or no longer optional, so old settings never block sending.
    pub fn from_stored<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let disabled = names
            .into_iter()
            .filter_map(|name| name.parse::<MailKind>().ok())
            .filter(|kind| kind.can_be_disabled())
            .collect();
        Self { disabled }
    }

    /// The names to store.
    pub fn stored(&self) -> Vec<&'static str> {
        self.disabled.iter().map(|kind| kind.as_str()).collect()
    }

    pub fn disable(&mut self, kind: MailKind) -> Result<(), NotOptional> {
        if !kind.can_be_disabled() {
            return Err(NotOptional(kind));
        }
        self.disabled.insert(kind);
        Ok(())
    }

    pub fn enable(&mut self, kind: MailKind) {
        self.disabled.remove(&kind);
    }

    /// Whether a message of this kind should be sent.
    pub fn allows(&self, kind: MailKind) -> bool {
        !self.disabled.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_on_until_switched_off() {
        let mut preferences = MailPreferences::default();
        assert!(MailKind::ALL.iter().all(|kind| preferences.allows(*kind)));
        preferences.disable(MailKind::Receipt).unwrap();
        assert!(!preferences.allows(MailKind::Receipt));
        assert!(preferences.allows(MailKind::PaymentFailed));
        preferences.enable(MailKind::Receipt);
        assert!(preferences.allows(MailKind::Receipt));
    }

    #[test]
    fn merchant_mail_cannot_be_switched_off() {
        let mut preferences = MailPreferences::default();
        assert_eq!(
            preferences.disable(MailKind::DisputeOpened),
            Err(NotOptional(MailKind::DisputeOpened))
        );
        assert!(preferences.allows(MailKind::DisputeOpened));
    }

    #[test]
    fn stored_names_round_trip_and_stale_ones_are_ignored() {
        let preferences = MailPreferences::from_stored([
            "trial_ending",
            "no_such_kind",
            "merchant_dispute_opened",
        ]);
        assert_eq!(preferences.stored(), ["trial_ending"]);
        assert!(!preferences.allows(MailKind::TrialEnding));
        assert!(preferences.allows(MailKind::DisputeOpened));
    }
}
