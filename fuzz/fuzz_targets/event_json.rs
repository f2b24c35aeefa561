//! Event JSON parsing (what a delivery's body and the inbox hold): any bytes
//! parse into a typed event or give an error, never a panic; a parsed event
//! keeps the id and type it was sent with.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = stripe::json::from_slice::<stripe::Event>(data) {
        let raw: serde_json::Value = serde_json::from_slice(data).expect("an event is JSON");
        assert_eq!(raw["id"].as_str(), Some(event.id.as_str()));
        assert_eq!(raw["type"].as_str(), Some(event.event_type.as_str()));
    }
});
