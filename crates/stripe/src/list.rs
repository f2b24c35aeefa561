//! Shapes shared by many resources: lists, expandable references, deleted
//! objects, metadata and list filters.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Free-form key/value pairs Stripe stores on an object for us (at most 50
/// keys). A `BTreeMap` so the encoded form is deterministic.
pub type Metadata = BTreeMap<String, String>;

/// A Stripe object with an id: what pagination and [`Expandable::id`] need.
pub trait Object {
    /// The object's id (`cus_...`, `sub_...`).
    fn id(&self) -> &str;
}

/// Implements [`Object`] for structs with an `id: String` field.
macro_rules! impl_object {
    ($($name:ty),+ $(,)?) => {
        $(impl $crate::list::Object for $name {
            fn id(&self) -> &str {
                &self.id
            }
        })+
    };
}
pub(crate) use impl_object;

/// One page of a list endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    /// The objects, newest first.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether another page follows (`starting_after` the last id).
    #[serde(default)]
    pub has_more: bool,
    /// The endpoint the list came from.
    #[serde(default)]
    pub url: String,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            url: String::new(),
        }
    }
}

/// A reference to another object: its id, or the object itself when the
/// request asked to `expand` it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    /// Not expanded: just the id.
    Id(String),
    /// Expanded: the whole object.
    Object(Box<T>),
}

impl<T: Object> Expandable<T> {
    /// The referenced object's id, expanded or not.
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(object) => object.id(),
        }
    }

    /// The object, if it was expanded.
    pub fn as_object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(object) => Some(object),
        }
    }
}

/// What Stripe returns after deleting an object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Deleted {
    /// The deleted object's id.
    pub id: String,
    /// Always `true` on success.
    #[serde(default)]
    pub deleted: bool,
}

/// A range filter on a timestamp (`created[gte]=...`), for list endpoints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RangeQuery {
    /// Strictly after.
    pub gt: Option<i64>,
    /// At or after.
    pub gte: Option<i64>,
    /// Strictly before.
    pub lt: Option<i64>,
    /// At or before.
    pub lte: Option<i64>,
}

/// Pagination and expansion parameters every list endpoint takes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListParams {
    /// Page size, 1 to 100 (Stripe's default is 10).
    pub limit: Option<u8>,
    /// Start after this id (next page); the streaming helpers set it for you.
    pub starting_after: Option<String>,
    /// End before this id (previous page).
    pub ending_before: Option<String>,
    /// Only objects created in this range.
    pub created: Option<RangeQuery>,
    /// Fields to expand, prefixed with `data.`.
    pub expand: Vec<String>,
}

/// Parameters of a plain retrieve: which fields to expand.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expand {
    /// Dotted paths of fields to expand (e.g. `latest_invoice.customer`).
    pub expand: Vec<String>,
}

impl Expand {
    /// Expands `paths`.
    pub fn paths<I: IntoIterator<Item = S>, S: Into<String>>(paths: I) -> Self {
        Self {
            expand: paths.into_iter().map(Into::into).collect(),
        }
    }
}

/// A postal address, as customers, accounts and payment methods carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct Address {
    /// City, district, suburb, town or village.
    pub city: Option<String>,
    /// Two-letter ISO country code.
    pub country: Option<String>,
    /// Street, PO box or company name.
    pub line1: Option<String>,
    /// Apartment, suite, unit or building.
    pub line2: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// State, county, province or region.
    pub state: Option<String>,
}

/// A percentage with two decimals (`application_fee_percent`), held as an
/// integer count of hundredths so no float is ever stored or compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    /// Hundredths of a percent: 1250 is 12.50 %.
    hundredths: u16,
}

impl Percent {
    /// `hundredths` of a percent (1250 = 12.50 %); `None` above 100 %.
    pub fn from_hundredths(hundredths: u16) -> Option<Percent> {
        (hundredths <= 10_000).then_some(Percent { hundredths })
    }

    /// Hundredths of a percent.
    pub fn hundredths(self) -> u16 {
        self.hundredths
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.hundredths / 100, self.hundredths % 100)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percent {
    /// Stripe sends a JSON number such as `12.5`; it is rounded to hundredths.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        let hundredths = (value * 100.0).round();
        if !(0.0..=10_000.0).contains(&hundredths) {
            return Err(serde::de::Error::custom(format!(
                "{value} is not a percentage between 0 and 100"
            )));
        }
        Ok(Percent {
            hundredths: hundredths as u16,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Thing {
        id: String,
    }
    impl_object!(Thing);

    #[test]
    fn expandable_reads_an_id_or_an_object() {
        let id: Expandable<Thing> = serde_json::from_str(r#""th_1""#).unwrap();
        assert_eq!(id.id(), "th_1");
        assert!(id.as_object().is_none());
        let object: Expandable<Thing> = serde_json::from_str(r#"{"id":"th_2","extra":1}"#).unwrap();
        assert_eq!(object.id(), "th_2");
        assert!(object.as_object().is_some());
    }

    #[test]
    fn percent_is_exact_on_the_wire_and_rounds_what_stripe_sends() {
        let fee = Percent::from_hundredths(1250).unwrap();
        assert_eq!(fee.to_string(), "12.50");
        assert_eq!(Percent::from_hundredths(5).unwrap().to_string(), "0.05");
        assert!(Percent::from_hundredths(10_001).is_none());
        let parsed: Percent = serde_json::from_str("12.5").unwrap();
        assert_eq!(parsed, fee);
        let parsed: Percent = serde_json::from_str("0.29").unwrap();
        assert_eq!(parsed.hundredths(), 29);
        assert!(serde_json::from_str::<Percent>("101").is_err());
    }

    #[test]
    fn list_params_encode_as_stripe_expects() {
        let params = ListParams {
            limit: Some(100),
            created: Some(RangeQuery {
                gte: Some(10),
                ..RangeQuery::default()
            }),
            expand: vec!["data.customer".into()],
            ..ListParams::default()
        };
        let encoded = crate::form::encode(&params).unwrap();
        let mut pairs: Vec<&str> = encoded.split('&').collect();
        pairs.sort();
        assert_eq!(
            pairs,
            ["created[gte]=10", "expand[0]=data.customer", "limit=100"]
        );
    }
}
