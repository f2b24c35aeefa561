//! A string that must never reach a log line, a `Debug` dump or an error message.

use std::fmt;

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// A secret (API key, webhook signing secret, client secret). `Debug` and
/// `Display` print `[redacted]`; the value is only reachable through
/// [`Secret::expose`], so every place that reads it is easy to audit.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for putting it on the wire or into a MAC.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (never a valid key or secret).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` in constant time, so a timing side channel cannot
    /// reveal how many leading bytes matched.
    pub fn constant_time_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("sk_test_supersecret");
        assert!(!format!("{secret:?}").contains("supersecret"));
        assert!(!format!("{secret}").contains("supersecret"));
        assert_eq!(secret.expose(), "sk_test_supersecret");
    }

    #[test]
    fn constant_time_eq_matches_only_the_same_bytes() {
        let secret = Secret::new("whsec_abc");
        assert!(secret.constant_time_eq("whsec_abc"));
        assert!(!secret.constant_time_eq("whsec_abd"));
        assert!(!secret.constant_time_eq("whsec_ab"));
    }
}
