//! Prefixed, sortable identifiers (`ten_01hx…`), one type per kind of object.
//!
//! The prefix makes an id self-describing in logs and support tickets, and the
//! type makes it impossible to pass a customer id where a tenant id is expected.
//! The body is a ULID (time-ordered, 26 Crockford base32 characters, lower-cased).

use std::fmt;
use std::sync::Mutex;

/// One ULID generator for the process, monotonic: ids made in the same
/// millisecond still sort in the order they were made, so "newest first" and
/// cursor pagination by id follow creation order exactly.
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// The next ULID of [`GENERATOR`]; a fresh random one in the (2^80 ids in
/// one millisecond) case the generator cannot go higher.
fn next_ulid() -> ulid::Ulid {
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
}

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix { expected: &'static str },
    #[error("the id's body is not a valid ULID")]
    MalformedBody,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with (before the `_`).
            pub const PREFIX: &'static str = $prefix;

            /// A new, unique id whose order follows creation time.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, next_ulid().to_string().to_lowercase()))
            }

            /// The smallest id that can be generated at `unix_millis` or
            /// later (ids are ULIDs, ordered by time): a time-window cursor.
            pub fn lower_bound_at(unix_millis: u64) -> String {
                format!("{}_{}", $prefix, ulid::Ulid::from_parts(unix_millis, 0).to_string().to_lowercase())
            }

            /// Parses an id received from outside (URL, JSON, database).
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let body = raw
                    .strip_prefix(concat!($prefix, "_"))
                    .ok_or(IdError::WrongPrefix { expected: $prefix })?;
                ulid::Ulid::from_string(body).map_err(|_| IdError::MalformedBody)?;
                Ok(Self(raw.to_ascii_lowercase()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(raw: &str) -> Result<Self, IdError> {
                Self::parse(raw)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A merchant: the unit of isolation. Every tenant-owned row carries one.
    TenantId, "ten"
);
prefixed_id!(
    /// A person who logs in: a merchant user (one tenant) or a platform admin (none).
    UserId, "usr"
);
prefixed_id!(
    /// A merchant's API key (the id, not the secret).
    ApiKeyId, "key"
);
prefixed_id!(
    /// A logged-in browser session.
    SessionId, "ses"
);
prefixed_id!(
    /// An entry of the audit log.
    AuditId, "aud"
);
prefixed_id!(
    /// A plan in a tenant's catalog (a Stripe product on the connected account).
    PlanId, "plan"
);
prefixed_id!(
    /// A price of a plan (a Stripe price on the connected account).
    PriceId, "pri"
);
prefixed_id!(
    /// A feature a plan can grant (flag or numeric limit).
    FeatureId, "feat"
);
prefixed_id!(
    /// An end customer of a tenant.
    CustomerId, "cus"
);
prefixed_id!(
    /// A subscription mirrored from Stripe.
    SubscriptionId, "sub"
);
prefixed_id!(
    /// A background job.
    JobId, "job"
);
prefixed_id!(
    /// A domain event: something that happened to a tenant's customer, told
    /// to the mailer, the dunning engine and outbound webhooks.
    DomainEventId, "ev"
);
prefixed_id!(
    /// A merchant's outbound webhook endpoint (where Billforge POSTs events).
    OutboundEndpointId, "we"
);
prefixed_id!(
    /// One event to send to one outbound endpoint, with its retries.
    OutboundDeliveryId, "wd"
);
prefixed_id!(
    /// One HTTP attempt of an outbound delivery, for the delivery log.
    OutboundAttemptId, "wda"
);

prefixed_id!(
    /// One invoice's dunning: from its first failed payment to recovery or the final action.
    DunningRunId, "dun"
);
prefixed_id!(
    /// One recorded step of a dunning run (retry, reminder, final action, …).
    DunningStepId, "dstep"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_a_row_sort_in_the_order_they_were_made() {
        let ids: Vec<DomainEventId> = (0..2_000).map(|_| DomainEventId::generate()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn generated_ids_parse_back() {
        let id = TenantId::generate();
        assert!(id.as_str().starts_with("ten_"));
        assert_eq!(TenantId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn wrong_prefix_and_garbage_are_rejected() {
        let user = UserId::generate();
        assert_eq!(
            TenantId::parse(user.as_str()),
            Err(IdError::WrongPrefix { expected: "ten" })
        );
        assert_eq!(TenantId::parse("ten_nope"), Err(IdError::MalformedBody));
        assert!(serde_json::from_str::<TenantId>("\"ten_\"").is_err());
    }
}
