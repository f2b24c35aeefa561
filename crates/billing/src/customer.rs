//! The local mirror of a Stripe customer, in domain terms.
//!
//! A customer has no status, only a deletion (`customer.deleted`), which is
//! terminal: once deleted, later-arriving updates are ignored. Otherwise the
//! newest observation wins (see [`crate::mirror`]).

use serde::{Deserialize, Serialize};

use crate::mirror::{Mirrored, Observed};

/// A customer as Stripe last described it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CustomerState {
    /// Stripe's `cus_…` id, the mirror's key (with the tenant).
    pub stripe_id: String,
    /// Where receipts and dunning emails go.
    pub email: Option<String>,
    /// The name shown to the merchant.
    pub name: Option<String>,
    /// Whether the customer was deleted in Stripe (kept locally for history).
    pub deleted: bool,
}

impl Mirrored for CustomerState {
    fn stripe_id(&self) -> &str {
        &self.stripe_id
    }

    fn is_terminal(&self) -> bool {
        self.deleted
    }

    fn status_rank(&self) -> u8 {
        u8::from(self.deleted)
    }
}

/// The stored mirror of a customer.
pub type CustomerRecord = Observed<CustomerState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::tests::{assert_converges, at, deliveries};
    use crate::mirror::{Applied, Ignored, apply};
    use proptest::prelude::*;

    fn customer(email: &str, deleted: bool) -> CustomerState {
        CustomerState {
            stripe_id: "cus_1".to_owned(),
            email: Some(email.to_owned()),
            name: None,
            deleted,
        }
    }

    #[test]
    fn newer_details_win_and_deletion_is_final() {
        let old = Observed::new(customer("old@example.com", false), at(10));
        let new = Observed::new(customer("new@example.com", false), at(20));
        assert!(matches!(
            apply(Some(&old), new.clone()).unwrap(),
            Applied::Updated { .. }
        ));
        assert_eq!(
            apply(Some(&new), old).unwrap(),
            Applied::Ignored(Ignored::Stale)
        );
        let deleted = Observed::new(customer("new@example.com", true), at(15));
        let late_update = Observed::new(customer("later@example.com", false), at(30));
        assert_eq!(
            apply(Some(&deleted), late_update).unwrap(),
            Applied::Ignored(Ignored::Stale)
        );
    }

    proptest! {
        #[test]
        fn any_delivery_order_converges(
            (in_order, delivered) in deliveries(
                (prop::sample::select(vec!["a@example.com", "b@example.com"]), any::<bool>(), 0i64..4)
                    .prop_map(|(email, deleted, second)| Observed::new(customer(email, deleted), at(second))),
                0..8,
            )
        ) {
            assert_converges(&in_order, &delivered)?;
        }
    }
}
