//! Random tokens, their hashes, and CSRF tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::Secret;

/// 256 bits from the OS generator, URL-safe: session tokens, API key bodies
/// and the generated `SECRET_KEY`.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Hex SHA-256. Right for *high-entropy* secrets (session tokens, API keys):
/// they cannot be guessed, so a fast hash loses nothing, and look-ups stay a
/// single indexed query. Passwords use argon2 instead.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes and checks CSRF synchronizer tokens: an HMAC of the browser's
/// session (or pre-login) token under `SECRET_KEY`, so nothing extra is stored
/// and a token from one browser is worthless in another.
#[derive(Clone)]
pub struct CsrfTokens {
    /// The platform's `SECRET_KEY`.
    key: Secret,
}

impl CsrfTokens {
    pub fn new(key: Secret) -> Self {
        Self { key }
    }

    fn mac(&self, binding: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(b"csrf:");
        mac.update(binding.as_bytes());
        mac
    }

    /// The token to put in forms for the browser identified by `binding`.
    pub fn token_for(&self, binding: &str) -> String {
        hex::encode(self.mac(binding).finalize().into_bytes())
    }

    /// Whether `token` was issued for `binding` (constant-time).
    pub fn verify(&self, binding: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(raw) => self.mac(binding).verify_slice(&raw).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_browser_and_the_key() {
        let tokens = CsrfTokens::new(Secret::new("k1"));
        let token = tokens.token_for("browser-a");
        assert!(tokens.verify("browser-a", &token));
        assert!(!tokens.verify("browser-b", &token));
        assert!(!tokens.verify("browser-a", "not-hex"));
        assert!(!CsrfTokens::new(Secret::new("k2")).verify("browser-a", &token));
    }

    #[test]
    fn random_tokens_differ_and_hash_to_hex() {
        assert_ne!(random_token(), random_token());
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
