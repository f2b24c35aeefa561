//! Stripe's form encoding: `application/x-www-form-urlencoded` with bracketed,
//! indexed nesting (`metadata[k]=v`, `line_items[0][price]=p`, `expand[0]=x`).
//!
//! Neither `serde_qs` nor `serde_html_form` produces exactly this (unindexed
//! arrays or percent-encoded brackets), so parameters are serialised to a
//! `serde_json::Value` first and flattened here, as Stripe's own clients do:
//! structural brackets stay literal, while each key and value component is
//! percent-encoded (so a `[` inside a metadata key cannot fake nesting).
//! Rules: `null` (a `None`) is omitted, an empty string is sent (it unsets a
//! field), booleans are `true`/`false`, arrays are indexed from 0, and empty
//! arrays and maps send nothing.

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Encodes `params` (which must serialise to a JSON object) as a Stripe form body
/// or query string, without a leading `?`.
pub fn encode<T: Serialize + ?Sized>(params: &T) -> Result<String, Error> {
    let value = serde_json::to_value(params)
        .map_err(|err| Error::InvalidArgument(format!("parameters do not serialise: {err}")))?;
    encode_value(&value)
}

/// Encodes an already built JSON object (see [`encode`]).
pub fn encode_value(value: &Value) -> Result<String, Error> {
    let object = match value {
        Value::Object(object) => object,
        Value::Null => return Ok(String::new()),
        other => {
            return Err(Error::InvalidArgument(format!(
                "parameters must be an object, not {other}"
            )));
        }
    };
    let mut pairs = Vec::new();
    for (key, value) in object {
        flatten(escape(key), value, &mut pairs);
    }
    Ok(pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Appends the `key=value` pairs of `value` under the (already escaped) `prefix`.
fn flatten(prefix: String, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => pairs.push((prefix, flag.to_string())),
        Value::Number(number) => pairs.push((prefix, number.to_string())),
        Value::String(text) => pairs.push((prefix, escape(text))),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten(format!("{prefix}[{index}]"), item, pairs);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                flatten(format!("{prefix}[{}]", escape(key)), item, pairs);
            }
        }
    }
}

/// Percent-encodes one key or value component.
fn escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// The decoded pairs, sorted: key order follows serde_json's map, which
    /// depends on a cargo feature another crate may turn on.
    fn decoded(encoded: &str) -> Vec<(String, String)> {
        let mut pairs: Vec<_> = url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
        pairs.sort();
        pairs
    }

    fn pairs<const N: usize>(expected: [(&str, &str); N]) -> Vec<(String, String)> {
        expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
    }

    #[test]
    fn nested_maps_and_arrays_of_maps_use_indexed_brackets() {
        let encoded = encode_value(&json!({
            "mode": "subscription",
            "line_items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "metadata": {"order_id": "42"},
            "subscription_data": {"application_fee_percent": 12.5, "metadata": {"tenant": "t1"}},
            "expand": ["subscription", "customer"],
        }))
        .unwrap();
        assert_eq!(
            decoded(&encoded),
            pairs([
                ("expand[0]", "subscription"),
                ("expand[1]", "customer"),
                ("line_items[0][price]", "price_1"),
                ("line_items[0][quantity]", "2"),
                ("line_items[1][price]", "price_2"),
                ("metadata[order_id]", "42"),
                ("mode", "subscription"),
                ("subscription_data[application_fee_percent]", "12.5"),
                ("subscription_data[metadata][tenant]", "t1"),
            ])
        );
    }

    #[test]
    fn structural_brackets_stay_literal_like_the_official_clients_send_them() {
        let encoded = encode_value(&json!({"metadata": {"k[1]": "v"}})).unwrap();
        assert_eq!(encoded, "metadata[k%5B1%5D]=v");
    }

    #[test]
    fn none_is_omitted_and_empty_string_is_sent_to_unset() {
        let encoded =
            encode_value(&json!({"email": null, "description": "", "name": "Ann"})).unwrap();
        assert_eq!(
            decoded(&encoded),
            pairs([("description", ""), ("name", "Ann")])
        );
    }

    #[test]
    fn booleans_and_negative_numbers_are_plain_text() {
        let encoded =
            encode_value(&json!({"cancel_at_period_end": true, "connect": false, "balance": -5}))
                .unwrap();
        assert_eq!(
            decoded(&encoded),
            pairs([
                ("balance", "-5"),
                ("cancel_at_period_end", "true"),
                ("connect", "false")
            ])
        );
    }

    #[test]
    fn reserved_characters_in_values_are_percent_encoded() {
        let encoded = encode_value(&json!({
            "success_url": "https://x.test/ok?session_id={CHECKOUT_SESSION_ID}&a=b c",
        }))
        .unwrap();
        assert!(!encoded.contains('&'), "{encoded}");
        assert_eq!(
            decoded(&encoded),
            pairs([(
                "success_url",
                "https://x.test/ok?session_id={CHECKOUT_SESSION_ID}&a=b c"
            )])
        );
    }

    #[test]
    fn metadata_keys_with_reserved_characters_are_escaped() {
        let mut metadata = BTreeMap::new();
        metadata.insert("a&b=c", "1");
        #[derive(Serialize)]
        struct Params<'a> {
            metadata: BTreeMap<&'a str, &'a str>,
        }
        let encoded = encode(&Params { metadata }).unwrap();
        assert_eq!(decoded(&encoded), pairs([("metadata[a&b=c]", "1")]));
    }

    #[test]
    fn empty_arrays_and_maps_send_nothing() {
        let encoded = encode_value(&json!({"expand": [], "metadata": {}})).unwrap();
        assert_eq!(encoded, "");
    }

    /// The same parameters as encoded by stripe-python 16.1.0
    /// (`urlencode(list(_api_encode(params)))`, then `%5B`/`%5D` back to brackets).
    #[test]
    fn matches_what_stripe_python_sends_token_for_token() {
        let python = "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=2\
            &line_items[1][price]=price_2&metadata[order_id]=42&metadata[a%26b]=x+y\
            &subscription_data[application_fee_percent]=12.50&subscription_data[metadata][tenant]=t1\
            &expand[0]=subscription&expand[1]=customer\
            &success_url=https%3A%2F%2Fx.test%2Fok%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D\
            &allow_promotion_codes=true&description=";
        let ours = encode_value(&json!({
            "mode": "subscription",
            "line_items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "metadata": {"order_id": "42", "a&b": "x y"},
            "subscription_data": {"application_fee_percent": "12.50", "metadata": {"tenant": "t1"}},
            "expand": ["subscription", "customer"],
            "success_url": "https://x.test/ok?session_id={CHECKOUT_SESSION_ID}",
            "allow_promotion_codes": true,
            "description": "",
            "email": null,
        }))
        .unwrap();
        let tokens = |encoded: &str| {
            let mut tokens: Vec<String> = encoded.split('&').map(str::to_owned).collect();
            tokens.sort();
            tokens
        };
        assert_eq!(tokens(&ours), tokens(python));
    }

    proptest::proptest! {
        /// Whatever the characters, each metadata pair decodes back to
        /// `metadata[<key>]` = value, and nothing else is produced.
        #[test]
        fn any_metadata_survives_encoding(
            metadata in proptest::collection::btree_map(".{1,12}", ".{0,12}", 0..6)
        ) {
            let encoded = encode_value(&json!({ "metadata": metadata })).unwrap();
            let expected: Vec<(String, String)> = metadata
                .iter()
                .map(|(key, value)| (format!("metadata[{key}]"), value.clone()))
                .collect();
            let mut expected = expected;
            expected.sort();
            proptest::prop_assert_eq!(decoded(&encoded), expected);
        }
    }

    #[test]
    fn non_object_parameters_are_rejected() {
        assert!(matches!(
            encode_value(&json!([1, 2])),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(encode_value(&Value::Null).unwrap(), "");
    }
}
