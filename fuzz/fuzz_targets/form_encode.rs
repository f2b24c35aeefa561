//! Stripe's form encoder: any JSON object encodes without a panic, and the
//! output is plain `key=value` pairs joined by `&`, with every key and value
//! percent-encoded (nothing in the input can inject a pair or a nesting).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(encoded) = stripe::form::encode_value(&value) else {
        return;
    };
    for pair in encoded.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').expect("every pair has a `=`");
        assert!(!value.contains('='), "a value was not encoded: {pair}");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"%[]-_.~+*".contains(&b)),
            "a key was not encoded: {pair}"
        );
    }
});
