//! Decoding of Stripe's form bodies (`a[b][0][c]=v`) into a JSON tree.
//!
//! Handlers then read one nested value instead of re-parsing bracket keys.
//! Leaves stay strings (the wire has no types); maps whose keys are all
//! indexes become arrays, ordered by index.

use serde_json::{Map, Value};

/// Decodes a `application/x-www-form-urlencoded` string with bracketed nesting.
pub fn decode(input: &str) -> Result<Map<String, Value>, String> {
    let mut root = Map::new();
    for (key, value) in url::form_urlencoded::parse(input.as_bytes()) {
        let path = split_key(&key)?;
        insert(&mut root, &path, value.into_owned())?;
    }
    Ok(root
        .into_iter()
        .map(|(key, value)| (key, arrays_from_indexes(value)))
        .collect())
}

/// Splits `a[b][0]` into `["a", "b", "0"]`; `a[]` appends (an empty segment).
fn split_key(key: &str) -> Result<Vec<String>, String> {
    let (head, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(format!("Invalid parameter name: '{key}'"));
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let close = rest
            .find(']')
            .filter(|_| rest.starts_with('['))
            .ok_or_else(|| format!("Invalid parameter name: '{key}'"))?;
        path.push(rest[1..close].to_owned());
        rest = &rest[close + 1..];
    }
    Ok(path)
}

fn insert(map: &mut Map<String, Value>, path: &[String], value: String) -> Result<(), String> {
    let segment = if path[0].is_empty() {
        map.len().to_string()
    } else {
        path[0].clone()
    };
    if path.len() == 1 {
        map.insert(segment, Value::String(value));
        return Ok(());
    }
    let child = map
        .entry(segment)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::String(existing) = child {
        if existing.is_empty() {
            *child = Value::Object(Map::new());
        } else {
            return Err(format!("Invalid nesting for parameter '{}'", path[0]));
        }
    }
    match child {
        Value::Object(inner) => insert(inner, &path[1..], value),
        _ => Err(format!("Invalid nesting for parameter '{}'", path[0])),
    }
}

fn arrays_from_indexes(value: Value) -> Value {
    let Value::Object(map) = value else {
        return value;
    };
    let all_indexes = !map.is_empty() && map.keys().all(|key| key.parse::<usize>().is_ok());
    if all_indexes {
        let mut entries: Vec<(usize, Value)> = map
            .into_iter()
            .map(|(key, value)| (key.parse().unwrap_or_default(), arrays_from_indexes(value)))
            .collect();
        entries.sort_by_key(|(index, _)| *index);
        Value::Array(entries.into_iter().map(|(_, value)| value).collect())
    } else {
        Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, arrays_from_indexes(value)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nests_brackets_and_builds_arrays_in_index_order() {
        let decoded = decode(
            "metadata[order]=42&items[1][price]=p2&items[0][price]=p1&items[0][quantity]=3&expand[]=a&expand[]=b&email=a%40b.c",
        )
        .unwrap();
        assert_eq!(
            Value::Object(decoded),
            json!({
                "metadata": {"order": "42"},
                "items": [{"price": "p1", "quantity": "3"}, {"price": "p2"}],
                "expand": ["a", "b"],
                "email": "a@b.c",
            })
        );
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(decode("a[b=1").is_err());
        assert!(decode("[a]=1").is_err());
        assert!(decode("a=1&a[b]=2").is_err());
    }
}
