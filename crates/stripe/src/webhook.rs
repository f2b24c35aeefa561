//! Webhook signatures (`Stripe-Signature`), as Stripe computes and checks them.
//!
//! Verify a delivery before trusting a byte of it, on the exact raw body:
//!
//! ```
//! use stripe::webhook::{WebhookError, WebhookVerifier, signature_header};
//! let body = br#"{"id":"evt_1","object":"event","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1","object":"invoice"}}}"#;
//! // While a rolled secret is still live, accept both.
//! let verifier = WebhookVerifier::new(["whsec_new", "whsec_old"])?;
//! let header = signature_header(&["whsec_old"], 1_700_000_000, body);
//! let event = verifier.construct_event_at(Some(&header), body, 1_700_000_060)?;
//! assert_eq!(event.id, "evt_1");
//! assert!(matches!(
//!     verifier.verify_at(Some(&header), body, 1_700_009_999),
//!     Err(WebhookError::TooOld { .. })
//! ));
//! # Ok::<(), WebhookError>(())
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Event, EventEnvelope, Secret, json};

type HmacSha256 = Hmac<Sha256>;

/// Hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with the whole endpoint secret
/// (`whsec_…` included, not decoded), exactly as Stripe signs deliveries.
pub fn compute_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `Stripe-Signature` header value Stripe would send for `body` at `timestamp`,
/// with one `v1` per live secret (several while a rolled secret is still valid).
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&compute_signature(secret, timestamp, body));
    }
    header
}

/// How old a signature may be before it is refused (Stripe's default).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Longest `Stripe-Signature` header accepted: room for many rotated secrets.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 4 * 1024;

/// Largest body accepted; Stripe's events are far smaller.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a delivery was refused. Each kind has a stable [`WebhookError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    MissingHeader,
    /// The header is longer than allowed.
    #[error("the Stripe-Signature header is longer than {limit} bytes")]
    HeaderTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The body is longer than allowed.
    #[error("the webhook body is longer than {limit} bytes")]
    BodyTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The header is not `t=<unix seconds>,v1=<hex>[,...]`.
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    /// No `v1` signature matches any of our secrets: wrong secret, or the body
    /// was altered (even re-serialised) on the way.
    #[error("no signature matches the body and the endpoint secrets")]
    NoMatchingSignature,
    /// Signed longer ago than the tolerance: possibly a replay.
    #[error("the signature is {age_seconds} s old, more than the {tolerance_seconds} s tolerated")]
    TooOld {
        /// Age of the signature.
        age_seconds: i64,
        /// The tolerance in force.
        tolerance_seconds: u64,
    },
    /// Signed further in the future than the tolerance: a clock is badly off,
    /// or the header was made up to outlive the tolerance.
    #[error(
        "the signature is dated {ahead_seconds} s in the future, more than the {tolerance_seconds} s tolerated"
    )]
    TooNew {
        /// How far ahead of our clock.
        ahead_seconds: i64,
        /// The tolerance in force.
        tolerance_seconds: u64,
    },
    /// The verifier was given no secret, or an empty one (which anyone could sign with).
    #[error("a webhook verifier needs at least one non-empty endpoint secret")]
    EmptySecret,
    /// The body is authentic but is not an event this crate can read.
    #[error("the webhook body is not a valid event: {0}")]
    InvalidPayload(String),
}

impl WebhookError {
    /// A stable snake_case code, for our API's error responses and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader => "signature_missing",
            Self::HeaderTooLarge { .. } => "signature_header_too_large",
            Self::BodyTooLarge { .. } => "payload_too_large",
            Self::Malformed(_) => "signature_malformed",
            Self::NoMatchingSignature => "signature_mismatch",
            Self::TooOld { .. } => "signature_too_old",
            Self::TooNew { .. } => "signature_in_future",
            Self::EmptySecret => "secret_missing",
            Self::InvalidPayload(_) => "payload_invalid",
        }
    }
}

/// Checks `Stripe-Signature` headers for one webhook endpoint (all its live
/// secrets) and parses verified bodies into [`Event`]s.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    /// Every secret currently valid for the endpoint (several during rotation).
    secrets: Vec<Secret>,
    /// Maximum age (and future skew) of a signature.
    tolerance: Duration,
    /// Maximum header length, checked before any parsing.
    max_header_bytes: usize,
    /// Maximum body length, checked before any MAC is computed.
    max_body_bytes: usize,
}

impl WebhookVerifier {
    /// A verifier accepting signatures made with any of `secrets`.
    pub fn new<I, S>(secrets: I) -> Result<Self, WebhookError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Secret>,
    {
        let secrets: Vec<Secret> = secrets.into_iter().map(Into::into).collect();
        if secrets.is_empty() || secrets.iter().any(Secret::is_empty) {
            return Err(WebhookError::EmptySecret);
        }
        Ok(Self {
            secrets,
            tolerance: DEFAULT_TOLERANCE,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// Changes the tolerance (default [`DEFAULT_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Changes the header limit (default [`DEFAULT_MAX_HEADER_BYTES`]).
    pub fn max_header_bytes(mut self, limit: usize) -> Self {
        self.max_header_bytes = limit;
        self
    }

    /// Changes the body limit (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Verifies `header` (the `Stripe-Signature` value, if any) against the raw
    /// `body` at the current system time.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
        self.verify_at(header, body, unix_now())
    }

    /// Verifies as of `now` (Unix seconds): the injectable clock for tests and
    /// for callers with their own clock.
    pub fn verify_at(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let header = header.ok_or(WebhookError::MissingHeader)?;
        if header.len() > self.max_header_bytes {
            return Err(WebhookError::HeaderTooLarge {
                limit: self.max_header_bytes,
            });
        }
        if body.len() > self.max_body_bytes {
            return Err(WebhookError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let parsed = ParsedHeader::parse(header)?;
        let matches = self.secrets.iter().any(|secret| {
            let expected = compute_signature(secret.expose(), parsed.timestamp, body);
            // Check every candidate, so timing reveals nothing about which one matched.
            parsed.signatures.iter().fold(false, |found, candidate| {
                found | constant_time_eq(&expected, candidate)
            })
        });
        if !matches {
            return Err(WebhookError::NoMatchingSignature);
        }
        let tolerance_seconds = self.tolerance.as_secs();
        let tolerance = i64::try_from(tolerance_seconds).unwrap_or(i64::MAX);
        let age = now.saturating_sub(parsed.timestamp);
        if age > tolerance {
            return Err(WebhookError::TooOld {
                age_seconds: age,
                tolerance_seconds,
            });
        }
        if -age > tolerance {
            return Err(WebhookError::TooNew {
                ahead_seconds: -age,
                tolerance_seconds,
            });
        }
        Ok(())
    }

    /// Verifies the delivery at the current system time and parses the event.
    pub fn construct_event(
        &self,
        header: Option<&str>,
        body: &[u8],
    ) -> Result<Event, WebhookError> {
        self.construct_event_at(header, body, unix_now())
    }

    /// Verifies the delivery as of `now` (Unix seconds) and parses the event.
    pub fn construct_event_at(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Event, WebhookError> {
        self.verify_at(header, body, now)?;
        json::from_slice(body).map_err(|err| WebhookError::InvalidPayload(err.to_string()))
    }
}

impl WebhookVerifier {
    /// Verifies the delivery as of `now` (Unix seconds) and parses only the
    /// event's envelope, so an event whose object this crate cannot type is
    /// still accepted (and stored) rather than refused.
    pub fn construct_envelope_at(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<EventEnvelope, WebhookError> {
        self.verify_at(header, body, now)?;
        json::from_slice(body).map_err(|err| WebhookError::InvalidPayload(err.to_string()))
    }
}

/// The parts of a `Stripe-Signature` header we use.
struct ParsedHeader<'a> {
    /// `t`: when Stripe signed, Unix seconds.
    timestamp: i64,
    /// Every `v1` value (`v0` and unknown schemes are ignored).
    signatures: Vec<&'a str>,
}

impl<'a> ParsedHeader<'a> {
    fn parse(header: &'a str) -> Result<Self, WebhookError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in header.split(',') {
            let (key, value) = item
                .trim()
                .split_once('=')
                .ok_or(WebhookError::Malformed("every item must be key=value"))?;
            match key {
                "t" if timestamp.is_some() => {
                    return Err(WebhookError::Malformed("more than one timestamp"));
                }
                "t" => {
                    let parsed = value
                        .parse::<i64>()
                        .map_err(|_| WebhookError::Malformed("the timestamp is not an integer"))?;
                    timestamp = Some(parsed);
                }
                "v1" => signatures.push(value),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(WebhookError::Malformed("no timestamp"))?;
        if signatures.is_empty() {
            return Err(WebhookError::Malformed("no v1 signature"));
        }
        Ok(Self {
            timestamp,
            signatures,
        })
    }
}

fn constant_time_eq(expected: &str, candidate: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.as_bytes().ct_eq(candidate.as_bytes()).into()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const T: i64 = 1_700_000_000;
    const VECTOR_BODY: &str = r#"{"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}"#;

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new([SECRET]).unwrap()
    }

    /// The official test vector from `../shared/stripe/README.md`.
    #[test]
    fn matches_the_shared_test_vector() {
        let body = VECTOR_BODY;
        assert_eq!(
            compute_signature("whsec_test_secret", 1_700_000_000, body.as_bytes()),
            "85b233508221859f34d7e76dcbca04f5f685635375f6d5ac7b74a41e3a5d7881"
        );
    }

    #[test]
    fn verifies_the_shared_test_vector() {
        let header =
            "t=1700000000,v1=85b233508221859f34d7e76dcbca04f5f685635375f6d5ac7b74a41e3a5d7881";
        assert_eq!(
            verifier().verify_at(Some(header), VECTOR_BODY.as_bytes(), T + 10),
            Ok(())
        );
        assert_eq!(
            signature_header(&[SECRET], T, VECTOR_BODY.as_bytes()),
            header
        );
    }

    #[test]
    fn any_v1_may_match_during_secret_rotation() {
        let body = VECTOR_BODY.as_bytes();
        let both = signature_header(&["whsec_old", "whsec_new"], T, body);
        let only_new = WebhookVerifier::new(["whsec_new"]).unwrap();
        assert_eq!(only_new.verify_at(Some(&both), body, T), Ok(()));
        let only_old_header = signature_header(&["whsec_old"], T, body);
        let rotating = WebhookVerifier::new(["whsec_new", "whsec_old"]).unwrap();
        assert_eq!(rotating.verify_at(Some(&only_old_header), body, T), Ok(()));
        assert_eq!(
            only_new.verify_at(Some(&only_old_header), body, T),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn v0_and_unknown_schemes_are_ignored() {
        let body = VECTOR_BODY.as_bytes();
        let good = compute_signature(SECRET, T, body);
        let v0_only = format!("t={T},v0={good}");
        assert_eq!(
            verifier().verify_at(Some(&v0_only), body, T),
            Err(WebhookError::Malformed("no v1 signature"))
        );
        let mixed = format!("t={T},v0=deadbeef,v9=zz,v1={good}");
        assert_eq!(verifier().verify_at(Some(&mixed), body, T), Ok(()));
        let spaced = format!("t={T}, v1={good}");
        assert_eq!(verifier().verify_at(Some(&spaced), body, T), Ok(()));
    }

    #[test]
    fn old_signatures_are_refused_at_the_tolerance_boundary() {
        let body = VECTOR_BODY.as_bytes();
        let header = signature_header(&[SECRET], T, body);
        assert_eq!(verifier().verify_at(Some(&header), body, T + 300), Ok(()));
        assert_eq!(
            verifier().verify_at(Some(&header), body, T + 301),
            Err(WebhookError::TooOld {
                age_seconds: 301,
                tolerance_seconds: 300
            })
        );
        let lenient = verifier().tolerance(Duration::from_secs(3600));
        assert_eq!(lenient.verify_at(Some(&header), body, T + 3600), Ok(()));
    }

    #[test]
    fn far_future_signatures_are_refused() {
        let body = VECTOR_BODY.as_bytes();
        let header = signature_header(&[SECRET], T + 86_400, body);
        assert_eq!(
            verifier().verify_at(Some(&header), body, T),
            Err(WebhookError::TooNew {
                ahead_seconds: 86_400,
                tolerance_seconds: 300
            })
        );
        let slightly_ahead = signature_header(&[SECRET], T + 30, body);
        assert_eq!(verifier().verify_at(Some(&slightly_ahead), body, T), Ok(()));
    }

    #[test]
    fn a_tampered_body_fails() {
        let header = signature_header(&[SECRET], T, VECTOR_BODY.as_bytes());
        let tampered = VECTOR_BODY.replace("in_1", "in_2");
        assert_eq!(
            verifier().verify_at(Some(&header), tampered.as_bytes(), T),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_re_serialised_body_fails() {
        let header = signature_header(&[SECRET], T, VECTOR_BODY.as_bytes());
        let value: serde_json::Value = serde_json::from_str(VECTOR_BODY).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised, VECTOR_BODY.as_bytes());
        assert_eq!(
            verifier().verify_at(Some(&header), &reserialised, T),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_signature_from_another_timestamp_fails() {
        let body = VECTOR_BODY.as_bytes();
        let signature = compute_signature(SECRET, T, body);
        let replayed = format!("t={},v1={signature}", T + 1);
        assert_eq!(
            verifier().verify_at(Some(&replayed), body, T),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn malformed_headers_are_named_precisely() {
        let body = VECTOR_BODY.as_bytes();
        let good = compute_signature(SECRET, T, body);
        let cases = [
            ("", "every item must be key=value"),
            ("garbage", "every item must be key=value"),
            (&format!("v1={good}"), "no timestamp"),
            (
                &format!("t=soon,v1={good}"),
                "the timestamp is not an integer",
            ),
            (&format!("t={T},t={T},v1={good}"), "more than one timestamp"),
            (&format!("t={T}"), "no v1 signature"),
        ];
        for (header, reason) in cases {
            assert_eq!(
                verifier().verify_at(Some(header), body, T),
                Err(WebhookError::Malformed(reason)),
                "{header:?}"
            );
        }
        assert_eq!(
            verifier().verify_at(None, body, T),
            Err(WebhookError::MissingHeader)
        );
        let uppercase = format!("t={T},v1={}", good.to_uppercase());
        assert_eq!(
            verifier().verify_at(Some(&uppercase), body, T),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn empty_secrets_are_refused_up_front() {
        assert_eq!(
            WebhookVerifier::new([""]).unwrap_err(),
            WebhookError::EmptySecret
        );
        assert_eq!(
            WebhookVerifier::new(["whsec_ok", ""]).unwrap_err(),
            WebhookError::EmptySecret
        );
        assert_eq!(
            WebhookVerifier::new(Vec::<String>::new()).unwrap_err(),
            WebhookError::EmptySecret
        );
        assert_eq!(WebhookError::EmptySecret.code(), "secret_missing");
    }

    #[test]
    fn oversized_headers_and_bodies_are_refused_before_any_work() {
        let body = VECTOR_BODY.as_bytes();
        let header = signature_header(&[SECRET], T, body);
        let small = verifier().max_header_bytes(10);
        assert_eq!(
            small.verify_at(Some(&header), body, T),
            Err(WebhookError::HeaderTooLarge { limit: 10 })
        );
        let tiny = verifier().max_body_bytes(body.len() - 1);
        assert_eq!(
            tiny.verify_at(Some(&header), body, T),
            Err(WebhookError::BodyTooLarge {
                limit: body.len() - 1
            })
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let rendered = format!(
            "{:?}",
            WebhookVerifier::new(["whsec_very_private"]).unwrap()
        );
        assert!(!rendered.contains("very_private"), "{rendered}");
    }

    #[test]
    fn construct_event_types_the_verified_body() {
        let body = br#"{"id":"evt_9","object":"event","type":"customer.subscription.updated","created":1700000000,"api_version":"2026-10-28.endive","livemode":false,"account":"acct_9","data":{"object":{"id":"sub_9","object":"subscription","status":"past_due","items":{"object":"list","data":[{"id":"si_9","object":"subscription_item","current_period_start":1,"current_period_end":2,"price":{"id":"price_9","object":"price","currency":"eur"}}],"has_more":false}},"previous_attributes":{"status":"active"}}}"#;
        let header = signature_header(&[SECRET], T, body);
        let event = verifier()
            .construct_event_at(Some(&header), body, T)
            .unwrap();
        assert_eq!(
            event.event_type,
            crate::EventType::CustomerSubscriptionUpdated
        );
        assert_eq!(event.account.as_deref(), Some("acct_9"));
        let crate::EventObject::Subscription(subscription) = &event.data.object else {
            panic!("expected a subscription, got {:?}", event.data.object);
        };
        assert_eq!(
            subscription.status,
            Some(crate::SubscriptionStatus::PastDue)
        );
        assert_eq!(subscription.current_period_end(), Some(2));
        assert_eq!(
            event.data.previous_attributes,
            Some(serde_json::json!({"status": "active"}))
        );
        let not_json = b"not json";
        let header = signature_header(&[SECRET], T, not_json);
        assert!(matches!(
            verifier().construct_event_at(Some(&header), not_json, T),
            Err(WebhookError::InvalidPayload(_))
        ));
    }
}
