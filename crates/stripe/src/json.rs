//! Parsing Stripe JSON tolerantly.
//!
//! Stripe sends `null` for many fields it documents as present, and fixtures
//! and new API versions add `null`s freely. Object fields that are `null` are
//! dropped before typing, so a `null` reads exactly like an absent field: the
//! `#[serde(default)]` of our structs applies, and `Option`s become `None`.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses a Stripe object (or list, or event) from its JSON text.
pub fn from_slice<T: DeserializeOwned>(json: &[u8]) -> Result<T, serde_json::Error> {
    from_value(serde_json::from_slice(json)?)
}

/// Parses a Stripe object from an already parsed JSON value.
pub fn from_value<T: DeserializeOwned>(mut value: Value) -> Result<T, serde_json::Error> {
    drop_nulls(&mut value);
    serde_json::from_value(value)
}

/// Removes `null`-valued object fields, recursively.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            fields.retain(|_, field| !field.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Thing {
        name: String,
        nested: Vec<Inner>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Inner {
        count: i64,
    }

    #[test]
    fn nulls_read_as_absent_fields_at_any_depth() {
        let thing: Thing =
            from_slice(br#"{"name": null, "nested": [{"count": null}, {"count": 2}]}"#).unwrap();
        assert_eq!(thing.name, "");
        assert_eq!(
            thing
                .nested
                .iter()
                .map(|inner| inner.count)
                .collect::<Vec<_>>(),
            [0, 2]
        );
        assert!(
            serde_json::from_str::<Thing>(r#"{"name": null}"#).is_err(),
            "plain serde would fail"
        );
    }
}
