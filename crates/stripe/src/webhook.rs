//! Webhook signatures (`Stripe-Signature`), as Stripe computes and checks them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The official test vector from `../shared/stripe/README.md`.
    #[test]
    fn matches_the_shared_test_vector() {
        let body = r#"{"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}"#;
        assert_eq!(
            compute_signature("whsec_test_secret", 1_700_000_000, body.as_bytes()),
            "85b233508221859f34d7e76dcbca04f5f685635375f6d5ac7b74a41e3a5d7881"
        );
    }
}
