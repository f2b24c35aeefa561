//! Typed reads of decoded request parameters, with Stripe's error for each misuse.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The parameters of one request (or one nested hash of it).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The decoded values; leaves are strings as sent on the wire.
    values: Map<String, Value>,
    /// Bracketed name of this hash inside the request (`items[0]`), so errors name the full parameter.
    prefix: String,
}

impl Params {
    /// Wraps the top level of a decoded request.
    pub fn new(values: Map<String, Value>) -> Self {
        Params {
            values,
            prefix: String::new(),
        }
    }

    /// The full wire name of `key` (`items[0][price]`).
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    /// Rejects any key not in `allowed` (`expand` is always allowed at the top level).
    pub fn allow(&self, allowed: &[&str]) -> ApiResult<()> {
        for key in self.values.keys() {
            let top_level_expand = self.prefix.is_empty() && key == "expand";
            if !top_level_expand && !allowed.contains(&key.as_str()) {
                return Err(ApiError::unknown_param(&self.name(key)));
            }
        }
        Ok(())
    }

    /// Whether the key was sent at all (even as an empty string).
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The raw value.
    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// A non-empty string value.
    pub fn str(&self, key: &str) -> ApiResult<Option<&str>> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(ApiError::invalid(
                &self.name(key),
                format!("Invalid string: {} must be a string", self.name(key)),
            )),
        }
    }

    /// A required non-empty string.
    pub fn req_str(&self, key: &str) -> ApiResult<&str> {
        self.str(key)?
            .ok_or_else(|| ApiError::missing_param(&self.name(key)))
    }

    /// An integer value.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::invalid(&self.name(key), format!("Invalid integer: {text}"))
            }),
        }
    }

    /// A required integer.
    pub fn req_int(&self, key: &str) -> ApiResult<i64> {
        self.int(key)?
            .ok_or_else(|| ApiError::missing_param(&self.name(key)))
    }

    /// A decimal value (e.g. `application_fee_percent`).
    pub fn decimal(&self, key: &str) -> ApiResult<Option<f64>> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(&self.name(key), format!("Invalid decimal: {text}"))
                }),
        }
    }

    /// A boolean (`true` / `false`).
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.str(key)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(text) => Err(ApiError::invalid(
                &self.name(key),
                format!("Invalid boolean: {text}"),
            )),
        }
    }

    /// One value out of a fixed set.
    pub fn one_of(&self, key: &str, choices: &[&'static str]) -> ApiResult<Option<&'static str>> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => choices
                .iter()
                .find(|choice| **choice == text)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &self.name(key),
                        format!(
                            "Invalid {}: must be one of {}",
                            self.name(key),
                            choices.join(", ")
                        ),
                    )
                }),
        }
    }

    /// A nested hash, if sent.
    pub fn hash(&self, key: &str) -> ApiResult<Option<Params>> {
        match self.values.get(key) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::Object(values)) => Ok(Some(Params {
                values: values.clone(),
                prefix: self.name(key),
            })),
            Some(_) => Err(ApiError::invalid(
                &self.name(key),
                format!("Invalid object: {} must be a hash", self.name(key)),
            )),
        }
    }

    /// A nested array of hashes (`items[0][price]`).
    pub fn hashes(&self, key: &str) -> ApiResult<Vec<Params>> {
        match self.values.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::Object(values) => Ok(Params {
                        values: values.clone(),
                        prefix: format!("{}[{index}]", self.name(key)),
                    }),
                    _ => Err(ApiError::invalid(
                        &self.name(key),
                        format!(
                            "Invalid array: {} must be an array of hashes",
                            self.name(key)
                        ),
                    )),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(
                &self.name(key),
                format!("Invalid array: {} must be an array", self.name(key)),
            )),
        }
    }

    /// A nested array of strings (`expand[0]`, `enabled_events[0]`).
    pub fn strings(&self, key: &str) -> ApiResult<Vec<String>> {
        match self.values.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
            Some(Value::String(text)) => Ok(vec![text.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::invalid(
                            &self.name(key),
                            format!("Invalid array: {} must hold strings", self.name(key)),
                        )
                    })
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(
                &self.name(key),
                format!("Invalid array: {} must be an array", self.name(key)),
            )),
        }
    }

    /// Applies Stripe's `metadata` update rules onto `target`: keys merge, an
    /// empty value deletes its key, `metadata=""` clears everything.
    pub fn apply_metadata(&self, target: &mut Value) -> ApiResult<()> {
        let Some(sent) = self.values.get("metadata") else {
            return Ok(());
        };
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Value::Object(existing) = target else {
            return Ok(());
        };
        match sent {
            Value::String(text) if text.is_empty() => existing.clear(),
            Value::Object(pairs) => {
                for (key, value) in pairs {
                    match value {
                        Value::String(text) if text.is_empty() => {
                            existing.remove(key);
                        }
                        Value::String(_) => {
                            existing.insert(key.clone(), value.clone());
                        }
                        _ => {
                            return Err(ApiError::invalid(
                                &self.name("metadata"),
                                "Invalid metadata: values must be strings",
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    &self.name("metadata"),
                    "Invalid metadata: must be a hash",
                ));
            }
        }
        Ok(())
    }
}
