//! Keeping a local copy of a Stripe object current, whatever order updates
//! arrive in.
//!
//! Stripe delivers webhooks at least once and in no particular order, and
//! API responses race with them. So an update is never applied blindly: every
//! [`Observed`] state carries the time it was true (`observed_at`: the event's
//! `created`, or the moment an API response or refetch was received), and
//! [`apply`] keeps whichever of the stored and incoming states is *newer* by
//! this total order, compared field by field:
//! 1. a terminal state (a canceled subscription, a paid invoice) beats any
//!    non-terminal one: terminal states never regress;
//! 2. the object's own progress counter, if it has one (an invoice's
//!    `attempt_count` only grows);
//! 3. `observed_at`;
//! 4. the status's rank in its lifecycle (at the same second, `active` is
//!    after `incomplete`);
//! 5. the state itself, an arbitrary but fixed order, as a last resort.
//!
//! Keeping the maximum of a total order is commutative, associative and
//! idempotent, so any arrival order, with any duplicates, converges to the
//! same record; the property tests of each mirrored type check exactly that.
//! When step 5 decided, the true order is unknown: [`Applied`] says so, and
//! the caller should refetch the object. A refetched state (and likewise the
//! object in the response to our own API call) is the truth as of now, newer
//! than anything already stored, so [`Observed::refetched`] dates it after
//! the stored record even if our clock lags Stripe's by a little.
//!
//! Known limit: an event that was already in flight when an API response
//! arrived is ordered by comparing Stripe's `created` with our clock. Stripe
//! floors `created` to the second, so with a clock kept by NTP the response
//! wins; a clock running a second or more behind Stripe's could let such an
//! event win until the next update or refetch.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A Stripe object state that can be mirrored.
pub trait Mirrored: Clone + Ord {
    /// The Stripe id of the object (`sub_…`, `in_…`), to refuse mixing two.
    fn stripe_id(&self) -> &str;

    /// Whether the object can never leave this state.
    fn is_terminal(&self) -> bool;

    /// A counter the object itself only ever increases; 0 if it has none.
    fn progress(&self) -> u64 {
        0
    }

    /// The status's position in its lifecycle, the tie-breaker for two
    /// states observed in the same second.
    fn status_rank(&self) -> u8;
}

/// An object's state and when it was true; the stored record is the newest
/// observation seen so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed<S> {
    /// The object as observed, in domain terms.
    pub state: S,
    /// When the state was true: the event's `created` for webhooks; for API
    /// responses and refetches, see [`Observed::refetched`].
    pub observed_at: DateTime<Utc>,
}

/// What decides between two observations, everything before the final
/// arbitrary tie-breaker.
type Evidence = (bool, u64, DateTime<Utc>, u8);

impl<S: Mirrored> Observed<S> {
    pub fn new(state: S, observed_at: DateTime<Utc>) -> Self {
        Self { state, observed_at }
    }

    /// A state just retrieved from Stripe at `now`: dated at `now`, or one
    /// second after the stored record if that is later (Stripe's timestamps
    /// have one-second resolution and its clock may run ahead of ours).
    pub fn refetched(state: S, now: DateTime<Utc>, stored: Option<&Observed<S>>) -> Self {
        let after_stored = stored.map(|record| record.observed_at + TimeDelta::seconds(1));
        let observed_at = after_stored.map_or(now, |after| after.max(now));
        Self { state, observed_at }
    }

    fn evidence(&self) -> Evidence {
        (
            self.state.is_terminal(),
            self.state.progress(),
            self.observed_at,
            self.state.status_rank(),
        )
    }
}

/// Why an observation changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// Exactly the stored record again (a redelivered event).
    Duplicate,
    /// Older than the stored record.
    Stale,
    /// As new as the stored record but different; the stored one was kept
    /// by the arbitrary tie-breaker, so the caller should refetch.
    Tie,
}

/// The outcome of [`apply`]: what the caller should store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied<S> {
    /// The object was unknown: store this record.
    Created(Observed<S>),
    /// The observation is newer: replace the record with it.
    Updated {
        /// The new record.
        record: Observed<S>,
        /// Whether only the arbitrary tie-breaker made it newer, in which
        /// case the caller should refetch the object to learn the truth.
        needs_refetch: bool,
    },
    /// Keep the stored record.
    Ignored(Ignored),
}

impl<S> Applied<S> {
    /// The record to store, if the observation changed it.
    pub fn into_record(self) -> Option<Observed<S>> {
        match self {
            Applied::Created(record) | Applied::Updated { record, .. } => Some(record),
            Applied::Ignored(_) => None,
        }
    }

    /// Whether the caller should refetch the object from Stripe.
    pub fn needs_refetch(&self) -> bool {
        matches!(
            self,
            Applied::Updated {
                needs_refetch: true,
                ..
            } | Applied::Ignored(Ignored::Tie)
        )
    }
}

/// The observation belongs to another object than the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an observation of {incoming} cannot update the record of {stored}")]
pub struct DifferentObject {
    /// The stored record's Stripe id.
    pub stored: String,
    /// The incoming observation's Stripe id.
    pub incoming: String,
}

/// Decides whether `incoming` replaces the `current` record (see the module
/// documentation for the order). Pure: the caller stores the outcome.
pub fn apply<S: Mirrored>(
    current: Option<&Observed<S>>,
    incoming: Observed<S>,
) -> Result<Applied<S>, DifferentObject> {
    let Some(current) = current else {
        return Ok(Applied::Created(incoming));
    };
    if current.state.stripe_id() != incoming.state.stripe_id() {
        return Err(DifferentObject {
            stored: current.state.stripe_id().to_owned(),
            incoming: incoming.state.stripe_id().to_owned(),
        });
    }
    if *current == incoming {
        return Ok(Applied::Ignored(Ignored::Duplicate));
    }
    let tie = incoming.evidence() == current.evidence();
    let incoming_is_newer =
        (incoming.evidence(), &incoming.state) > (current.evidence(), &current.state);
    Ok(match (incoming_is_newer, tie) {
        (true, needs_refetch) => Applied::Updated {
            record: incoming,
            needs_refetch,
        },
        (false, true) => Applied::Ignored(Ignored::Tie),
        (false, false) => Applied::Ignored(Ignored::Stale),
    })
}

/// Defines a Stripe status enum: known values, plus `Unknown` for values a
/// newer API version may add, so an unexpected status is stored rather than
/// failing the whole update. Serialized as Stripe's string.
macro_rules! stripe_status {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)+
            /// A status this version of Billforge does not know yet.
            Unknown(String),
        }

        impl $name {
            /// Stripe's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(other) => other,
                }
            }

            /// Parses Stripe's spelling; anything else becomes `Unknown`.
            pub fn parse(raw: &str) -> Self {
                match raw {
                    $($wire => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(|raw| Self::parse(&raw))
            }
        }
    };
}

pub(crate) use stripe_status;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;
    use std::fmt::Debug;

    /// A fixed instant plus `second` seconds: observations a few seconds
    /// apart, so ties on time are frequent.
    pub(crate) fn at(second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(second)
    }

    /// Observations in generation order, and the same delivered the way
    /// Stripe may deliver them.
    pub(crate) fn deliveries<T: Clone + Debug>(
        observation: impl Strategy<Value = T>,
        count: std::ops::Range<usize>,
    ) -> impl Strategy<Value = (Vec<T>, Vec<T>)> {
        prop::collection::vec(observation, count).prop_flat_map(redelivered)
    }

    /// Every observation appears at least once, some several times, in any
    /// order: what at-least-once, unordered delivery can produce.
    fn redelivered<T: Clone + Debug>(
        observations: Vec<T>,
    ) -> impl Strategy<Value = (Vec<T>, Vec<T>)> {
        let count = observations.len();
        let extra = prop::collection::vec(0..count.max(1), 0..count * 2 + 1);
        (Just(observations), extra).prop_flat_map(|(observations, extra)| {
            let mut delivered = observations.clone();
            delivered.extend(
                extra
                    .into_iter()
                    .filter_map(|index| observations.get(index).cloned()),
            );
            (Just(observations), Just(delivered).prop_shuffle())
        })
    }

    /// Folds `apply` over the observations, as the store would.
    pub(crate) fn replay<S: Mirrored + Debug>(observations: &[Observed<S>]) -> Option<Observed<S>> {
        observations.iter().cloned().fold(None, |record, incoming| {
            let applied = apply(record.as_ref(), incoming).expect("same object");
            applied.into_record().or(record)
        })
    }

    /// The convergence property, shared by every mirrored type.
    pub(crate) fn assert_converges<S: Mirrored + Debug>(
        in_order: &[Observed<S>],
        delivered: &[Observed<S>],
    ) -> Result<(), TestCaseError> {
        let expected = replay(in_order);
        prop_assert_eq!(&replay(delivered), &expected);
        let newest = in_order
            .iter()
            .max_by(|a, b| (a.evidence(), &a.state).cmp(&(b.evidence(), &b.state)));
        prop_assert_eq!(expected.as_ref(), newest);
        Ok(())
    }
}
