//! The object store: every Stripe object by id, plus ordered per-account,
//! per-kind indexes so lists page without scanning unrelated objects.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Which account an object lives on: `None` is the platform, `Some(acct_…)` a connected account.
pub type Scope = Option<String>;

/// One stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    /// The account the object belongs to; lookups from another account miss it.
    pub scope: Scope,
    /// Insertion order, the sort key of lists (newest first).
    pub seq: u64,
    /// The object exactly as the API returns it (snapshots keep the key `value`).
    #[serde(rename = "value")]
    body: Body,
}

impl Stored {
    /// The object exactly as the API returns it.
    pub fn value(&self) -> Cow<'_, Value> {
        self.body.value()
    }
}

/// Kinds kept as a `Value` (see [`Body::Live`]): few objects per account
/// (catalog, endpoints, clocks) read by many requests, so parsing them on every
/// read would cost time and keeping them parsed costs little memory.
const LIVE_KINDS: &[&str] = &[
    "account",
    "product",
    "price",
    "webhook_endpoint",
    "test_helpers.test_clock",
];

/// A stored object's representation.
#[derive(Debug, Clone)]
enum Body {
    /// A parsed `Value`, read without parsing.
    Live(Value),
    /// Compact JSON text, parsed on every read. A `Value` takes about eight
    /// times the memory of its text, and per-customer objects and their events
    /// (a dozen per subscription, each copying its object) are nearly all of
    /// the store: issue #10's billing day needs 100,000 subscriptions.
    Text(Box<str>),
}

impl Body {
    fn new(value: Value) -> Body {
        if LIVE_KINDS.contains(&value["object"].as_str().unwrap_or_default()) {
            Body::Live(value)
        } else {
            Body::Text(value.to_string().into_boxed_str())
        }
    }

    fn value(&self) -> Cow<'_, Value> {
        match self {
            Body::Live(value) => Cow::Borrowed(value),
            Body::Text(json) => Cow::Owned(
                serde_json::from_str(json).expect("stored text is JSON written by Body::new"),
            ),
        }
    }
}

/// Snapshots hold plain objects whatever the representation, so old and new
/// snapshots load alike.
impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Body::new)
    }
}

/// All objects, by id, with their list indexes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    /// Every object by id: O(1) retrieve.
    objects: HashMap<String, Stored>,
    /// Ids per (account, object kind) ordered by `seq`: lists and pagination walk only these.
    #[serde(skip)]
    index: HashMap<(Scope, String), BTreeMap<u64, String>>,
    /// Ids per (account, kind, field, value) for the fields lists filter on
    /// ([`INDEXED_FIELDS`]), so `?customer=…` walks that customer's objects only.
    #[serde(skip)]
    by_field: HashMap<SecondaryKey, BTreeMap<u64, String>>,
    /// Next insertion sequence number.
    next_seq: u64,
}

/// (account, kind, field, value) of a secondary index.
type SecondaryKey = (Scope, String, &'static str, String);

/// Fields with a secondary index. `subscription` also covers invoices'
/// `parent.subscription_details.subscription`.
pub const INDEXED_FIELDS: &[&str] = &[
    "customer",
    "subscription",
    "product",
    "lookup_key",
    "email",
    "invoice",
];

/// The (field, value) pairs of `value` that [`INDEXED_FIELDS`] index.
fn indexed_values(value: &Value) -> Vec<(&'static str, String)> {
    INDEXED_FIELDS
        .iter()
        .filter_map(|field| {
            let found = match *field {
                "subscription" => value["subscription"]
                    .as_str()
                    .or_else(|| value["parent"]["subscription_details"]["subscription"].as_str()),
                _ => value[*field].as_str(),
            };
            found.map(|found| (*field, found.to_owned()))
        })
        .collect()
}

/// A page request: Stripe's `limit`, `starting_after`, `ending_before`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// How many objects to return (1–100).
    pub limit: usize,
    /// Return objects older than this id.
    pub starting_after: Option<String>,
    /// Return objects newer than this id.
    pub ending_before: Option<String>,
}

impl Store {
    /// Rebuilds the indexes after loading a snapshot.
    pub fn reindex(&mut self) {
        self.index.clear();
        self.by_field.clear();
        let objects: Vec<(String, Scope, u64, Value)> = self
            .objects
            .iter()
            .map(|(id, stored)| {
                (
                    id.clone(),
                    stored.scope.clone(),
                    stored.seq,
                    stored.value().into_owned(),
                )
            })
            .collect();
        for (id, scope, seq, value) in objects {
            self.add_to_indexes(&scope, seq, &id, &value);
        }
    }

    /// Stores a new object (its `id` and `object` keys must be set).
    pub fn insert(&mut self, scope: &Scope, value: Value) {
        let id = value["id"].as_str().unwrap_or_default().to_owned();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.add_to_indexes(scope, seq, &id, &value);
        self.objects.insert(
            id,
            Stored {
                scope: scope.clone(),
                seq,
                body: Body::new(value),
            },
        );
    }

    fn add_to_indexes(&mut self, scope: &Scope, seq: u64, id: &str, value: &Value) {
        let kind = kind_of(value);
        for (field, found) in indexed_values(value) {
            self.by_field
                .entry((scope.clone(), kind.clone(), field, found))
                .or_default()
                .insert(seq, id.to_owned());
        }
        self.index
            .entry((scope.clone(), kind))
            .or_default()
            .insert(seq, id.to_owned());
    }

    fn remove_from_indexes(&mut self, scope: &Scope, seq: u64, value: &Value) {
        let kind = kind_of(value);
        for (field, found) in indexed_values(value) {
            if let Some(ids) = self
                .by_field
                .get_mut(&(scope.clone(), kind.clone(), field, found))
            {
                ids.remove(&seq);
            }
        }
        if let Some(ids) = self.index.get_mut(&(scope.clone(), kind)) {
            ids.remove(&seq);
        }
    }

    /// The object with this id on this account.
    pub fn get(&self, scope: &Scope, id: &str) -> Option<Cow<'_, Value>> {
        self.objects
            .get(id)
            .filter(|stored| &stored.scope == scope)
            .map(Stored::value)
    }

    /// The object and the account it lives on, whatever the account (internal jobs).
    pub fn get_any(&self, id: &str) -> Option<&Stored> {
        self.objects.get(id)
    }

    /// The object of an expected kind, or Stripe's `resource_missing`.
    pub fn fetch(&self, scope: &Scope, kind: &str, id: &str, param: &str) -> ApiResult<Value> {
        self.get(scope, id)
            .filter(|value| value["object"] == kind)
            .map(Cow::into_owned)
            .ok_or_else(|| ApiError::no_such(kind, id, param))
    }

    /// Replaces a stored object, keeping its place in lists.
    pub fn put(&mut self, scope: &Scope, value: Value) {
        let id = value["id"].as_str().unwrap_or_default().to_owned();
        let Some(stored) = self
            .objects
            .get(&id)
            .filter(|stored| &stored.scope == scope)
        else {
            self.insert(scope, value);
            return;
        };
        let (seq, old) = (stored.seq, stored.value().into_owned());
        if indexed_values(&old) != indexed_values(&value) {
            self.remove_from_indexes(scope, seq, &old);
            self.add_to_indexes(scope, seq, &id, &value);
        }
        if let Some(stored) = self.objects.get_mut(&id) {
            stored.body = Body::new(value);
        }
    }

    /// Deletes an object.
    pub fn remove(&mut self, scope: &Scope, id: &str) -> Option<Value> {
        let stored = self
            .objects
            .get(id)
            .filter(|stored| &stored.scope == scope)?;
        let key = (scope.clone(), kind_of(&stored.value()));
        let seq = stored.seq;
        if let Some(ids) = self.index.get_mut(&key) {
            ids.remove(&seq);
        }
        self.objects
            .remove(id)
            .map(|stored| stored.value().into_owned())
    }

    /// All objects of a kind on an account, newest first, that pass `keep`.
    pub fn iter_kind<'a>(
        &'a self,
        scope: &Scope,
        kind: &str,
    ) -> impl Iterator<Item = Cow<'a, Value>> + 'a {
        self.index
            .get(&(scope.clone(), kind.to_owned()))
            .into_iter()
            .flat_map(|ids| ids.values().rev())
            .filter_map(|id| self.objects.get(id).map(Stored::value))
    }

    /// Objects of a kind on an account whose indexed `field` equals `value`, newest first.
    pub fn iter_by<'a>(
        &'a self,
        scope: &Scope,
        kind: &str,
        field: &'static str,
        value: &str,
    ) -> impl Iterator<Item = Cow<'a, Value>> + 'a {
        self.by_field
            .get(&(scope.clone(), kind.to_owned(), field, value.to_owned()))
            .into_iter()
            .flat_map(|ids| ids.values().rev())
            .filter_map(|id| self.objects.get(id).map(Stored::value))
    }

    /// One page of a list, newest first, and whether more objects lie beyond it.
    pub fn page(
        &self,
        scope: &Scope,
        kind: &str,
        page: &Page,
        narrow: Option<(&'static str, &str)>,
        keep: impl Fn(&Value) -> bool,
    ) -> ApiResult<(Vec<Value>, bool)> {
        let empty = BTreeMap::new();
        let ids = match narrow {
            Some((field, value)) => {
                self.by_field
                    .get(&(scope.clone(), kind.to_owned(), field, value.to_owned()))
            }
            None => self.index.get(&(scope.clone(), kind.to_owned())),
        }
        .unwrap_or(&empty);
        let cursor = |id: &str, param: &str| -> ApiResult<u64> {
            self.objects
                .get(id)
                .filter(|stored| &stored.scope == scope && kind_of(&stored.value()) == kind)
                .map(|stored| stored.seq)
                .ok_or_else(|| ApiError::no_such(kind, id, param))
        };
        let resolve = |id: &String| self.objects.get(id).map(Stored::value);
        let mut taken: Vec<Value> = Vec::new();
        let mut has_more = false;
        let mut collect = |values: &mut dyn Iterator<Item = Cow<'_, Value>>| {
            for value in values.filter(|value| keep(value)) {
                if taken.len() == page.limit {
                    has_more = true;
                    break;
                }
                taken.push(value.into_owned());
            }
        };
        if let Some(before) = &page.ending_before {
            let seq = cursor(before, "ending_before")?;
            collect(&mut ids.range(seq + 1..).filter_map(|(_, id)| resolve(id)));
            taken.reverse();
        } else {
            let upper = match &page.starting_after {
                Some(after) => cursor(after, "starting_after")?,
                None => u64::MAX,
            };
            collect(&mut ids.range(..upper).rev().filter_map(|(_, id)| resolve(id)));
        }
        Ok((taken, has_more))
    }
}

fn kind_of(value: &Value) -> String {
    value["object"].as_str().unwrap_or_default().to_owned()
}

/// A fresh id with Stripe's prefix (`cus_…`, `price_…`, `cs_test_…`).
pub fn new_id(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{prefix}_{suffix}")
}

/// A random secret suffix (client secrets, link tokens, webhook secrets).
pub fn new_secret(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A fresh object of `kind`, built from Stripe's own example so its keys match
/// Stripe's, with `id`, `created` and `livemode` set.
pub fn template(kind: &str, id: &str, created: i64) -> Value {
    static TEMPLATES: OnceLock<Map<String, Value>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(|| {
        serde_json::from_str(include_str!("templates/templates.json"))
            .expect("templates.json is valid JSON")
    });
    let mut value = templates
        .get(kind)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if !id.is_empty() {
        value["id"] = Value::String(id.to_owned());
    }
    value["object"] = Value::String(kind.to_owned());
    if value.get("created").is_some() {
        value["created"] = created.into();
    }
    if value.get("livemode").is_some() {
        value["livemode"] = false.into();
    }
    if value.get("metadata").is_some() {
        value["metadata"] = Value::Object(Map::new());
    }
    value
}

/// The kinds [`template`] knows: the kinds the emulator emits.
pub fn template_kinds() -> Vec<String> {
    let templates: Map<String, Value> =
        serde_json::from_str(include_str!("templates/templates.json")).unwrap_or_default();
    templates.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store_with(count: usize) -> (Store, Vec<String>) {
        let mut store = Store::default();
        let ids: Vec<String> = (0..count).map(|n| format!("cus_{n}")).collect();
        for id in &ids {
            store.insert(&None, json!({"id": id, "object": "customer"}));
        }
        (store, ids)
    }

    fn ids_of(values: &[Value]) -> Vec<&str> {
        values
            .iter()
            .map(|value| value["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_newest_first_in_both_directions() {
        let (store, _) = store_with(5);
        let page = |after: Option<&str>, before: Option<&str>| {
            store
                .page(
                    &None,
                    "customer",
                    &Page {
                        limit: 2,
                        starting_after: after.map(Into::into),
                        ending_before: before.map(Into::into),
                    },
                    None,
                    |_| true,
                )
                .unwrap()
        };
        let (first, more) = page(None, None);
        assert_eq!((ids_of(&first), more), (vec!["cus_4", "cus_3"], true));
        let (last, more) = page(Some("cus_1"), None);
        assert_eq!((ids_of(&last), more), (vec!["cus_0"], false));
        let (back, more) = page(None, Some("cus_1"));
        assert_eq!((ids_of(&back), more), (vec!["cus_3", "cus_2"], true));
        let (top, more) = page(None, Some("cus_3"));
        assert_eq!((ids_of(&top), more), (vec!["cus_4"], false));
    }

    #[test]
    fn secondary_indexes_follow_updates_and_deletes() {
        let mut store = Store::default();
        store.insert(
            &None,
            json!({"id": "sub_1", "object": "subscription", "customer": "cus_a"}),
        );
        store.insert(
            &None,
            json!({"id": "sub_2", "object": "subscription", "customer": "cus_b"}),
        );
        let of = |store: &Store, customer: &str| -> Vec<String> {
            store
                .iter_by(&None, "subscription", "customer", customer)
                .map(|value| value["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(of(&store, "cus_a"), ["sub_1"]);
        store.put(
            &None,
            json!({"id": "sub_2", "object": "subscription", "customer": "cus_a"}),
        );
        assert_eq!(of(&store, "cus_a"), ["sub_2", "sub_1"]);
        assert!(of(&store, "cus_b").is_empty());
        store.remove(&None, "sub_1");
        assert_eq!(of(&store, "cus_a"), ["sub_2"]);
        store.reindex();
        assert_eq!(of(&store, "cus_a"), ["sub_2"]);
    }

    #[test]
    fn other_accounts_do_not_see_objects() {
        let (mut store, _) = store_with(1);
        store.insert(
            &Some("acct_1".into()),
            json!({"id": "cus_x", "object": "customer"}),
        );
        assert!(store.get(&None, "cus_x").is_none());
        assert!(store.get(&Some("acct_1".into()), "cus_x").is_some());
        let error = store
            .page(
                &None,
                "customer",
                &Page {
                    limit: 10,
                    starting_after: Some("cus_x".into()),
                    ending_before: None,
                },
                None,
                |_| true,
            )
            .unwrap_err();
        assert_eq!(error.status, 404);
    }
}
