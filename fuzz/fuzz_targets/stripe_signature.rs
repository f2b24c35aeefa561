//! `Stripe-Signature` header parsing and verification: any header and body
//! gives a verdict, never a panic; a header signed with the secret for this
//! body and time is always accepted, and a tampered body never is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe::webhook::{WebhookVerifier, signature_header};

const SECRET: &str = "whsec_fuzz";
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let verifier = WebhookVerifier::new([SECRET]).expect("a valid secret");
    if let Ok(header) = std::str::from_utf8(header) {
        // Arbitrary headers: rejected or accepted, never a panic.
        let _ = verifier.verify_at(Some(header), body, NOW);
    }
    let signed = signature_header(&[SECRET], NOW, body);
    assert!(verifier.verify_at(Some(&signed), body, NOW).is_ok());
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    assert!(verifier.verify_at(Some(&signed), &tampered, NOW).is_err());
});
