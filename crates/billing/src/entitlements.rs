//! Features, what grants them, and a customer's effective entitlements.
//!
//! A tenant defines [`Feature`]s: boolean flags (`sso`) or numeric limits
//! (`seats`, `api_calls` per billing period), each with a stable
//! [`LookupKey`] that the merchant's code checks. Plans grant features
//! ([`FeatureGrant`]); merchants adjust single customers with
//! [`CustomerOverride`]s.
//!
//! [`effective_entitlements`] computes what a customer may use, by these rules:
//! 1. Each live subscription contributes its plan's grants, according to its
//!    [`Standing`]: in good standing, all of them; degraded by dunning, only
//!    the grants that are in the policy's reduced set, each capped at the
//!    smaller of the plan's and the reduced set's value (dunning never grants
//!    more than the plan did); revoked by dunning, none.
//! 2. When several subscriptions grant the same feature, the largest grant
//!    wins (unlimited > any limit; a flag counts as unlimited). Ties prefer a
//!    plan in good standing over a degraded one, then the smallest plan id, so
//!    the result never depends on input order.
//! 3. Overrides apply on top, after dunning (they are deliberate decisions
//!    about one customer). An override counts only while `now < until`; an
//!    expired one is ignored as if deleted. Any active revoke wins over
//!    everything. Otherwise the active grants (largest wins) replace whatever
//!    the plans gave, so an override can also lower a limit.
//! 4. Features nobody grants are absent: a check for a missing key is "no".
//!
//! The result is stored, so a check is a lookup; [`diff`] turns two stored
//! results into the change set that becomes a domain event.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Plan;
use crate::ids::{CustomerId, FeatureId, PlanId, TenantId};
use crate::subscription::SubscriptionState;

/// Why a feature key, grant or override was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntitlementError {
    #[error(
        "`{0}` is not a valid lookup key (1 to 64 characters: lower-case letters, digits, `_`, `-`, `.`, starting with a letter)"
    )]
    InvalidLookupKey(String),
    #[error("feature `{key}` is a {expected}, so it cannot be granted {given}")]
    KindMismatch {
        key: LookupKey,
        expected: &'static str,
        given: &'static str,
    },
    #[error("a limit cannot be negative (got {0})")]
    NegativeLimit(i64),
}

/// The stable name merchants' code checks (`seats`, `api_calls`, `sso`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LookupKey(String);

impl LookupKey {
    const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, EntitlementError> {
        let valid = (1..=Self::MAX_CHARS).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
        if !valid {
            return Err(EntitlementError::InvalidLookupKey(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LookupKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// When a limit's usage counter starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitReset {
    /// A standing limit, like seats.
    Never,
    /// A quota per billing period, like API calls a month.
    EachBillingPeriod,
}

/// Whether a feature is on/off or a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    Flag,
    Limit { reset: LimitReset },
}

impl FeatureKind {
    fn describe(self) -> &'static str {
        match self {
            FeatureKind::Flag => "flag",
            FeatureKind::Limit { .. } => "limit",
        }
    }
}

/// A capability a tenant sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    /// Billforge's id, stable across renames of the key's display name.
    pub id: FeatureId,
    /// What merchants' code checks; never changes once customers depend on it.
    pub lookup_key: LookupKey,
    /// Shown to merchants and customers.
    pub name: String,
    /// Flag or limit; grants must match it.
    pub kind: FeatureKind,
}

/// How much of a feature a grant gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum GrantValue {
    /// A flag feature, switched on.
    Enabled,
    /// A limit feature, up to this many.
    Limit(i64),
    /// A limit feature, without a cap.
    Unlimited,
}

impl GrantValue {
    fn describe(self) -> &'static str {
        match self {
            GrantValue::Enabled => "on/off",
            GrantValue::Limit(_) | GrantValue::Unlimited => "a limit",
        }
    }

    fn capacity(self) -> Capacity {
        match self {
            GrantValue::Limit(limit) => Capacity::Limited(limit),
            GrantValue::Enabled | GrantValue::Unlimited => Capacity::Unbounded,
        }
    }
}

/// A grant's size, ordered so that `max` picks the more generous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Capacity {
    Limited(i64),
    Unbounded,
}

impl Capacity {
    fn limit(self) -> Option<i64> {
        match self {
            Capacity::Limited(limit) => Some(limit),
            Capacity::Unbounded => None,
        }
    }
}

/// A feature and how much of it, as granted by a plan or a dunning policy's
/// reduced set. Built against the feature, so the kinds always match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "GrantFields")]
pub struct FeatureGrant {
    /// Which feature.
    lookup_key: LookupKey,
    /// How much of it.
    value: GrantValue,
}

/// The unchecked shape of a [`FeatureGrant`], for deserialization.
#[derive(Deserialize)]
struct GrantFields {
    /// As [`FeatureGrant::lookup_key`].
    lookup_key: LookupKey,
    /// As [`FeatureGrant::value`], not yet checked for a negative limit.
    value: GrantValue,
}

impl TryFrom<GrantFields> for FeatureGrant {
    type Error = EntitlementError;
    fn try_from(fields: GrantFields) -> Result<Self, EntitlementError> {
        check_limit(fields.value)?;
        Ok(Self {
            lookup_key: fields.lookup_key,
            value: fields.value,
        })
    }
}

fn check_limit(value: GrantValue) -> Result<(), EntitlementError> {
    match value {
        GrantValue::Limit(limit) if limit < 0 => Err(EntitlementError::NegativeLimit(limit)),
        _ => Ok(()),
    }
}

fn check_kind(feature: &Feature, value: GrantValue) -> Result<(), EntitlementError> {
    check_limit(value)?;
    let matches = matches!(
        (feature.kind, value),
        (FeatureKind::Flag, GrantValue::Enabled)
            | (
                FeatureKind::Limit { .. },
                GrantValue::Limit(_) | GrantValue::Unlimited
            )
    );
    if !matches {
        return Err(EntitlementError::KindMismatch {
            key: feature.lookup_key.clone(),
            expected: feature.kind.describe(),
            given: value.describe(),
        });
    }
    Ok(())
}

impl FeatureGrant {
    pub fn new(feature: &Feature, value: GrantValue) -> Result<Self, EntitlementError> {
        check_kind(feature, value)?;
        Ok(Self {
            lookup_key: feature.lookup_key.clone(),
            value,
        })
    }

    pub fn lookup_key(&self) -> &LookupKey {
        &self.lookup_key
    }

    pub fn value(&self) -> GrantValue {
        self.value
    }
}

/// What an override does to one feature of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum OverrideAction {
    /// Grant the feature, or set its limit (replacing the plans' value, so
    /// it can lower it too).
    Grant(GrantValue),
    /// Take the feature away, whatever the plans say.
    Revoke,
}

/// A merchant's exception for one customer and one feature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerOverride {
    /// Which feature.
    lookup_key: LookupKey,
    /// Grant, set a limit, or revoke.
    action: OverrideAction,
    /// The override stops applying at this instant, if set (e.g. a trial of
    /// a premium feature).
    until: Option<DateTime<Utc>>,
}

impl CustomerOverride {
    pub fn new(
        feature: &Feature,
        action: OverrideAction,
        until: Option<DateTime<Utc>>,
    ) -> Result<Self, EntitlementError> {
        if let OverrideAction::Grant(value) = action {
            check_kind(feature, value)?;
        }
        Ok(Self {
            lookup_key: feature.lookup_key.clone(),
            action,
            until,
        })
    }

    pub fn lookup_key(&self) -> &LookupKey {
        &self.lookup_key
    }

    pub fn action(&self) -> OverrideAction {
        self.action
    }

    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.until
    }

    /// Whether the override counts at `now` (it stops at `until`, exclusive).
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// How dunning affects one subscription's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing<'a> {
    /// Paid up, or in a grace period that keeps full entitlements.
    Good,
    /// In a grace period that degrades to this reduced set.
    Degraded(&'a [FeatureGrant]),
    /// Dunning ended by revoking the subscription's entitlements.
    Revoked,
}

/// One subscription that can grant entitlements (trialing, active or
/// past due), with its plan.
#[derive(Debug, Clone, Copy)]
pub struct LiveSubscription<'a> {
    /// The plan whose grants the subscription carries.
    pub plan: &'a Plan,
    /// How dunning currently affects it.
    pub standing: Standing<'a>,
}

/// The mirrored subscriptions of one customer that grant entitlements, as
/// [`effective_entitlements`] takes them.
#[derive(Debug, Clone, Default)]
pub struct CustomerSubscriptions<'a> {
    /// One entry per item of a subscription whose status grants
    /// entitlements, with the plan of the item's price.
    pub live: Vec<LiveSubscription<'a>>,
    /// Stripe prices of live subscriptions that no plan of the catalog has
    /// (e.g. created in the Stripe dashboard); they grant nothing, and the
    /// caller should report them to the merchant.
    pub unknown_prices: Vec<&'a str>,
}

impl<'a> CustomerSubscriptions<'a> {
    /// Picks the subscriptions that grant entitlements (trialing, active,
    /// past due) and resolves each item's price to its plan with
    /// `plan_for_price` (a catalog lookup by Stripe price id).
    pub fn resolve(
        subscriptions: impl IntoIterator<Item = (&'a SubscriptionState, Standing<'a>)>,
        plan_for_price: impl Fn(&str) -> Option<&'a Plan>,
    ) -> Self {
        let mut resolved = Self::default();
        for (subscription, standing) in subscriptions {
            if !subscription.status.grants_entitlements() {
                continue;
            }
            for item in &subscription.items {
                match plan_for_price(&item.stripe_price_id) {
                    Some(plan) => resolved.live.push(LiveSubscription { plan, standing }),
                    None => resolved.unknown_prices.push(&item.stripe_price_id),
                }
            }
        }
        resolved
    }
}

/// Where an entitlement comes from, for merchants asking "why".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "plan_id", rename_all = "snake_case")]
pub enum Source {
    /// Granted by this plan, in good standing.
    Plan(PlanId),
    /// Set by a customer override.
    Override,
    /// This plan's grant, reduced by dunning.
    Dunning(PlanId),
}

/// What a customer may use of one feature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entitlement {
    /// Whether the customer may use the feature at all; `false` only when an
    /// override revokes it (features nobody grants are simply absent).
    pub allowed: bool,
    /// The cap for a limit feature; `None` for flags, unlimited grants and
    /// revoked features.
    pub limit: Option<i64>,
    /// Why the customer has (or lacks) it.
    pub source: Source,
}

impl Entitlement {
    /// Whether one more unit may be used when `used` are in use already
    /// (for flags pass 0): the check merchants' code makes.
    pub fn permits_one_more(&self, used: i64) -> bool {
        self.allowed && self.limit.is_none_or(|limit| used < limit)
    }
}

/// A customer's effective entitlements, by feature.
pub type Entitlements = BTreeMap<LookupKey, Entitlement>;

/// A candidate grant from one subscription, with what decides between two
/// candidates for the same feature.
struct Candidate {
    /// How much the grant gives.
    capacity: Capacity,
    /// Whether dunning reduced it.
    degraded: bool,
    /// The plan it comes from.
    plan: PlanId,
}

impl Candidate {
    /// Larger capacity first; on a tie good standing beats degraded, then the
    /// smaller plan id wins. A total order, so input order never matters.
    fn preference(&self, other: &Candidate) -> Ordering {
        self.capacity
            .cmp(&other.capacity)
            .then_with(|| other.degraded.cmp(&self.degraded))
            .then_with(|| other.plan.cmp(&self.plan))
    }

    fn into_entitlement(self) -> Entitlement {
        Entitlement {
            allowed: true,
            limit: self.capacity.limit(),
            source: if self.degraded {
                Source::Dunning(self.plan)
            } else {
                Source::Plan(self.plan)
            },
        }
    }
}

/// The grant one subscription contributes for one plan grant, if any.
fn contribution(subscription: &LiveSubscription<'_>, grant: &FeatureGrant) -> Option<Candidate> {
    let plan = subscription.plan.id().clone();
    match subscription.standing {
        Standing::Good => Some(Candidate {
            capacity: grant.value.capacity(),
            degraded: false,
            plan,
        }),
        Standing::Degraded(reduced) => {
            let allowed = reduced
                .iter()
                .find(|reduced| reduced.lookup_key == grant.lookup_key)?;
            Some(Candidate {
                capacity: grant.value.capacity().min(allowed.value.capacity()),
                degraded: true,
                plan,
            })
        }
        Standing::Revoked => None,
    }
}

/// What the customer may use now: see the module documentation for the rules.
pub fn effective_entitlements(
    subscriptions: &[LiveSubscription<'_>],
    overrides: &[CustomerOverride],
    now: DateTime<Utc>,
) -> Entitlements {
    let mut best: BTreeMap<LookupKey, Candidate> = BTreeMap::new();
    for subscription in subscriptions {
        for grant in subscription.plan.grants() {
            let Some(candidate) = contribution(subscription, grant) else {
                continue;
            };
            match best.get(&grant.lookup_key) {
                Some(current) if current.preference(&candidate) != Ordering::Less => {}
                _ => {
                    best.insert(grant.lookup_key.clone(), candidate);
                }
            }
        }
    }
    let mut entitlements: Entitlements = best
        .into_iter()
        .map(|(key, candidate)| (key, candidate.into_entitlement()))
        .collect();

    let mut overridden: BTreeMap<&LookupKey, Option<Capacity>> = BTreeMap::new();
    for active in overrides.iter().filter(|o| o.is_active_at(now)) {
        let granted = match active.action {
            OverrideAction::Revoke => None,
            OverrideAction::Grant(value) => Some(value.capacity()),
        };
        overridden
            .entry(&active.lookup_key)
            .and_modify(|current| *current = current.zip(granted).map(|(a, b)| a.max(b)))
            .or_insert(granted);
    }
    for (key, granted) in overridden {
        let entitlement = Entitlement {
            allowed: granted.is_some(),
            limit: granted.and_then(Capacity::limit),
            source: Source::Override,
        };
        entitlements.insert(key.clone(), entitlement);
    }
    entitlements
}

/// When the stored entitlements go stale by themselves: the earliest moment
/// after `now` at which an active override expires. The storage layer
/// schedules a recomputation then; every other cause of change (a
/// subscription, plan or dunning update) triggers one explicitly.
pub fn next_expiry(overrides: &[CustomerOverride], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    overrides
        .iter()
        .filter_map(|o| o.until)
        .filter(|until| *until > now)
        .min()
}

/// How one feature's entitlement changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementChange {
    /// Which feature.
    pub lookup_key: LookupKey,
    /// The entitlement before, `None` if the customer did not have the feature.
    pub before: Option<Entitlement>,
    /// The entitlement after, `None` if the customer no longer has it.
    pub after: Option<Entitlement>,
}

impl EntitlementChange {
    /// Whether the customer can use the feature now but could not before.
    pub fn is_gain(&self) -> bool {
        !allows(&self.before) && allows(&self.after)
    }

    /// Whether the customer could use the feature before but cannot now.
    pub fn is_loss(&self) -> bool {
        allows(&self.before) && !allows(&self.after)
    }
}

fn allows(entitlement: &Option<Entitlement>) -> bool {
    entitlement.as_ref().is_some_and(|e| e.allowed)
}

/// Every feature whose entitlement differs between `old` and `new`
/// (allowed, limit or source), in lookup-key order. Empty when nothing
/// changed, so "no event" is simply "empty diff".
pub fn diff(old: &Entitlements, new: &Entitlements) -> Vec<EntitlementChange> {
    let keys: std::collections::BTreeSet<&LookupKey> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let before = old.get(key);
            let after = new.get(key);
            (before != after).then(|| EntitlementChange {
                lookup_key: key.clone(),
                before: before.cloned(),
                after: after.cloned(),
            })
        })
        .collect()
}

/// The domain event emitted when a customer's effective entitlements
/// change, consumed by the mailer and outbound webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementsChanged {
    /// The tenant the customer belongs to (events are tenant-scoped).
    pub tenant_id: TenantId,
    /// Whose entitlements changed.
    pub customer_id: CustomerId,
    /// When the change took effect (the clock's time at recomputation).
    pub at: DateTime<Utc>,
    /// What changed, never empty.
    pub changes: Vec<EntitlementChange>,
}

impl EntitlementsChanged {
    /// The event for going from `old` to `new`, or `None` when nothing
    /// changed (so no event is emitted).
    pub fn between(
        tenant_id: TenantId,
        customer_id: CustomerId,
        old: &Entitlements,
        new: &Entitlements,
        at: DateTime<Utc>,
    ) -> Option<Self> {
        let changes = diff(old, new);
        (!changes.is_empty()).then_some(Self {
            tenant_id,
            customer_id,
            at,
            changes,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::PlanSpec;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    pub(crate) fn feature(key: &str) -> Feature {
        let kind = if key == "sso" || key == "exports" {
            FeatureKind::Flag
        } else {
            FeatureKind::Limit {
                reset: LimitReset::EachBillingPeriod,
            }
        };
        Feature {
            id: FeatureId::generate(),
            lookup_key: key_of(key),
            name: key.to_owned(),
            kind,
        }
    }

    fn key_of(key: &str) -> LookupKey {
        LookupKey::parse(key).unwrap()
    }

    /// A plan id that sorts by `index`, so tests can reason about ties.
    pub(crate) fn plan_id(index: usize) -> PlanId {
        PlanId::parse(&format!("plan_{index:0>26}")).unwrap()
    }

    pub(crate) fn grant(key: &str, value: GrantValue) -> FeatureGrant {
        FeatureGrant::new(&feature(key), value).unwrap()
    }

    pub(crate) fn plan(index: usize, grants: Vec<FeatureGrant>) -> Plan {
        Plan::try_from(PlanSpec {
            id: plan_id(index),
            name: format!("Plan {index}"),
            archived: false,
            trial_days: None,
            prices: vec![],
            grants,
        })
        .unwrap()
    }

    fn good(plan: &Plan) -> LiveSubscription<'_> {
        LiveSubscription {
            plan,
            standing: Standing::Good,
        }
    }

    fn overriding(
        key: &str,
        action: OverrideAction,
        until: Option<DateTime<Utc>>,
    ) -> CustomerOverride {
        CustomerOverride::new(&feature(key), action, until).unwrap()
    }

    fn entitled(limit: Option<i64>, source: Source) -> Entitlement {
        Entitlement {
            allowed: true,
            limit,
            source,
        }
    }

    /// Plan 1: 5 seats and SSO.
    fn basic_plan() -> Plan {
        plan(
            1,
            vec![
                grant("seats", GrantValue::Limit(5)),
                grant("sso", GrantValue::Enabled),
            ],
        )
    }

    /// Plan 2: `seats` seats and unlimited API calls, no SSO.
    fn bigger_plan(seats: i64) -> Plan {
        plan(
            2,
            vec![
                grant("seats", GrantValue::Limit(seats)),
                grant("api_calls", GrantValue::Unlimited),
            ],
        )
    }

    #[test]
    fn limits_from_two_plans_combine_by_max() {
        let basic = basic_plan();
        let addon = bigger_plan(20);
        let result = effective_entitlements(&[good(&basic), good(&addon)], &[], now());
        assert_eq!(
            result[&key_of("seats")],
            entitled(Some(20), Source::Plan(plan_id(2)))
        );
        assert_eq!(
            result[&key_of("sso")],
            entitled(None, Source::Plan(plan_id(1)))
        );
        assert_eq!(
            result[&key_of("api_calls")],
            entitled(None, Source::Plan(plan_id(2)))
        );
        assert!(!result.contains_key(&key_of("exports")), "nobody grants it");
    }

    #[test]
    fn equal_grants_credit_the_smaller_plan_id() {
        let a = plan(7, vec![grant("seats", GrantValue::Limit(5))]);
        let b = plan(3, vec![grant("seats", GrantValue::Limit(5))]);
        for order in [[good(&a), good(&b)], [good(&b), good(&a)]] {
            let result = effective_entitlements(&order, &[], now());
            assert_eq!(result[&key_of("seats")].source, Source::Plan(plan_id(3)));
        }
    }

    #[test]
    fn dunning_degrades_to_the_reduced_set_never_above_the_plan() {
        let pro = plan(
            1,
            vec![
                grant("seats", GrantValue::Limit(50)),
                grant("api_calls", GrantValue::Limit(1_000)),
                grant("sso", GrantValue::Enabled),
            ],
        );
        let reduced = [
            grant("seats", GrantValue::Limit(5)),
            grant("api_calls", GrantValue::Unlimited),
            grant("exports", GrantValue::Enabled),
        ];
        let degraded = LiveSubscription {
            plan: &pro,
            standing: Standing::Degraded(&reduced),
        };
        let result = effective_entitlements(&[degraded], &[], now());
        assert_eq!(
            result[&key_of("seats")],
            entitled(Some(5), Source::Dunning(plan_id(1)))
        );
        assert_eq!(
            result[&key_of("api_calls")],
            entitled(Some(1_000), Source::Dunning(plan_id(1)))
        );
        assert!(
            !result.contains_key(&key_of("sso")),
            "not in the reduced set"
        );
        assert!(
            !result.contains_key(&key_of("exports")),
            "the plan never granted it"
        );

        let revoked = LiveSubscription {
            plan: &pro,
            standing: Standing::Revoked,
        };
        assert!(effective_entitlements(&[revoked], &[], now()).is_empty());
    }

    #[test]
    fn overrides_replace_plan_values_until_they_expire() {
        let pro = plan(1, vec![grant("seats", GrantValue::Limit(50))]);
        let later = now() + TimeDelta::days(1);
        let lowered = overriding(
            "seats",
            OverrideAction::Grant(GrantValue::Limit(3)),
            Some(later),
        );
        let result = effective_entitlements(&[good(&pro)], std::slice::from_ref(&lowered), now());
        assert_eq!(
            result[&key_of("seats")],
            entitled(Some(3), Source::Override)
        );

        let result = effective_entitlements(&[good(&pro)], &[lowered], later);
        assert_eq!(
            result[&key_of("seats")],
            entitled(Some(50), Source::Plan(plan_id(1))),
            "`until` is exclusive: at that instant the override is over"
        );

        let gift = overriding("sso", OverrideAction::Grant(GrantValue::Enabled), None);
        let result = effective_entitlements(&[], &[gift], now());
        assert_eq!(result[&key_of("sso")], entitled(None, Source::Override));
    }

    #[test]
    fn the_next_expiry_is_the_earliest_future_until() {
        let until = |days| Some(now() + TimeDelta::days(days));
        let overrides = [
            overriding("seats", OverrideAction::Revoke, until(-1)),
            overriding("seats", OverrideAction::Revoke, None),
            overriding("sso", OverrideAction::Revoke, until(5)),
            overriding("sso", OverrideAction::Revoke, until(2)),
        ];
        assert_eq!(next_expiry(&overrides, now()), until(2));
        assert_eq!(next_expiry(&overrides[..2], now()), None);
    }

    #[test]
    fn revoke_beats_plans_and_other_overrides() {
        let pro = plan(1, vec![grant("seats", GrantValue::Limit(50))]);
        let overrides = [
            overriding("seats", OverrideAction::Grant(GrantValue::Unlimited), None),
            overriding("seats", OverrideAction::Revoke, None),
        ];
        let result = effective_entitlements(&[good(&pro)], &overrides, now());
        assert_eq!(
            result[&key_of("seats")],
            Entitlement {
                allowed: false,
                limit: None,
                source: Source::Override
            }
        );
    }

    #[test]
    fn only_live_subscriptions_resolve_to_their_plans() {
        use crate::subscription::{SubscriptionItem, SubscriptionStatus};
        let basic = basic_plan();
        let item = |price: &str| SubscriptionItem {
            stripe_item_id: format!("si_{price}"),
            stripe_price_id: price.to_owned(),
            quantity: 1,
            current_period_start: now(),
            current_period_end: now() + TimeDelta::days(30),
        };
        let subscription = |status, prices: &[&str]| SubscriptionState {
            stripe_id: "sub_1".to_owned(),
            stripe_customer_id: "cus_1".to_owned(),
            status,
            items: prices.iter().map(|price| item(price)).collect(),
            trial_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
        };
        let past_due = subscription(
            SubscriptionStatus::PastDue,
            &["price_basic", "price_legacy"],
        );
        let canceled = subscription(SubscriptionStatus::Canceled, &["price_basic"]);
        let resolved = CustomerSubscriptions::resolve(
            [(&past_due, Standing::Good), (&canceled, Standing::Good)],
            |price| (price == "price_basic").then_some(&basic),
        );
        assert_eq!(resolved.live.len(), 1);
        assert_eq!(resolved.live[0].plan.id(), basic.id());
        assert_eq!(resolved.unknown_prices, ["price_legacy"]);
        let entitlements = effective_entitlements(&resolved.live, &[], now());
        assert_eq!(entitlements[&key_of("seats")].limit, Some(5));
    }

    #[test]
    fn checks_compare_usage_with_the_limit() {
        let seats = entitled(Some(3), Source::Override);
        assert!(seats.permits_one_more(2));
        assert!(!seats.permits_one_more(3));
        assert!(entitled(None, Source::Override).permits_one_more(i64::MAX));
        let revoked = Entitlement {
            allowed: false,
            limit: None,
            source: Source::Override,
        };
        assert!(!revoked.permits_one_more(0));
        assert!(!entitled(Some(0), Source::Override).permits_one_more(0));
    }

    #[test]
    fn grants_and_overrides_must_match_the_feature_kind() {
        assert_eq!(
            FeatureGrant::new(&feature("sso"), GrantValue::Limit(3)),
            Err(EntitlementError::KindMismatch {
                key: key_of("sso"),
                expected: "flag",
                given: "a limit"
            })
        );
        assert!(FeatureGrant::new(&feature("seats"), GrantValue::Enabled).is_err());
        assert_eq!(
            FeatureGrant::new(&feature("seats"), GrantValue::Limit(-1)),
            Err(EntitlementError::NegativeLimit(-1))
        );
        assert!(
            CustomerOverride::new(
                &feature("sso"),
                OverrideAction::Grant(GrantValue::Unlimited),
                None
            )
            .is_err()
        );
        assert!(CustomerOverride::new(&feature("sso"), OverrideAction::Revoke, None).is_ok());
    }

    #[test]
    fn lookup_keys_are_stable_identifiers() {
        for good in ["seats", "api_calls", "v2.export-csv", "a"] {
            assert!(LookupKey::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Seats",
            "1seats",
            "_x",
            "api calls",
            "é",
            &"x".repeat(65),
        ] {
            assert_eq!(
                LookupKey::parse(bad),
                Err(EntitlementError::InvalidLookupKey(bad.to_owned()))
            );
        }
        assert!(serde_json::from_str::<LookupKey>(r#""Bad Key""#).is_err());
    }

    #[test]
    fn stored_json_round_trips_and_is_revalidated() {
        let pro = plan(
            1,
            vec![
                grant("seats", GrantValue::Limit(5)),
                grant("sso", GrantValue::Enabled),
            ],
        );
        let result = effective_entitlements(&[good(&pro)], &[], now());
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json["seats"],
            serde_json::json!({"allowed": true, "limit": 5, "source": {"kind": "plan", "plan_id": plan_id(1)}})
        );
        assert_eq!(
            serde_json::from_value::<Entitlements>(json).unwrap(),
            result
        );
        let negative =
            serde_json::json!({"lookup_key": "seats", "value": {"kind": "limit", "value": -4}});
        assert!(serde_json::from_value::<FeatureGrant>(negative).is_err());
    }

    #[test]
    fn an_event_only_when_something_changed() {
        let before = effective_entitlements(&[good(&basic_plan())], &[], now());
        let tenant = TenantId::generate();
        let customer = CustomerId::generate();
        let same =
            EntitlementsChanged::between(tenant.clone(), customer.clone(), &before, &before, now());
        assert_eq!(same, None);
        let event = EntitlementsChanged::between(
            tenant,
            customer.clone(),
            &before,
            &Entitlements::new(),
            now(),
        )
        .expect("everything was lost");
        assert_eq!(event.changes.len(), 2);
        assert!(event.changes.iter().all(EntitlementChange::is_loss));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["customer_id"], customer.as_str());
        assert_eq!(json["changes"][0]["lookup_key"], "seats");
        assert_eq!(json["changes"][0]["after"], serde_json::Value::Null);
    }

    #[test]
    fn diff_reports_gains_losses_and_changes() {
        let basic = basic_plan();
        let pro = bigger_plan(50);
        let before = effective_entitlements(&[good(&basic)], &[], now());
        let after = effective_entitlements(&[good(&pro)], &[], now());
        let changes = diff(&before, &after);
        let keys: Vec<&str> = changes.iter().map(|c| c.lookup_key.as_str()).collect();
        assert_eq!(keys, ["api_calls", "seats", "sso"]);
        assert!(changes[0].is_gain());
        assert!(
            !changes[1].is_gain() && !changes[1].is_loss(),
            "a limit change"
        );
        assert!(changes[2].is_loss());
        assert!(diff(&after, &after).is_empty());

        let revoked = effective_entitlements(
            &[good(&pro)],
            &[overriding("seats", OverrideAction::Revoke, None)],
            now(),
        );
        assert!(
            diff(&after, &revoked)[0].is_loss(),
            "revoked but still present is a loss"
        );
    }

    const KEYS: [&str; 4] = ["seats", "api_calls", "sso", "exports"];

    fn grant_strategy(key: &'static str) -> BoxedStrategy<FeatureGrant> {
        if feature(key).kind == FeatureKind::Flag {
            Just(grant(key, GrantValue::Enabled)).boxed()
        } else {
            prop_oneof![
                (0i64..100).prop_map(move |n| grant(key, GrantValue::Limit(n))),
                Just(grant(key, GrantValue::Unlimited)),
            ]
            .boxed()
        }
    }

    fn grants_strategy() -> impl Strategy<Value = Vec<FeatureGrant>> {
        KEYS.map(|key| proptest::option::of(grant_strategy(key)))
            .prop_map(|grants| grants.into_iter().flatten().collect())
    }

    /// Plans with ids 0..n (so equal grants in different plans happen), each
    /// with a standing: 0 good, 1 degraded, 2 revoked.
    fn plans_strategy() -> impl Strategy<Value = Vec<(Plan, u8)>> {
        prop::collection::vec((grants_strategy(), 0u8..3), 0..5).prop_map(|plans| {
            plans
                .into_iter()
                .enumerate()
                .map(|(index, (grants, standing))| (plan(index, grants), standing))
                .collect()
        })
    }

    fn override_strategy() -> impl Strategy<Value = CustomerOverride> {
        let action = |key: &'static str| {
            prop_oneof![
                1 => Just(OverrideAction::Revoke),
                3 => grant_strategy(key).prop_map(|grant| OverrideAction::Grant(grant.value())),
            ]
        };
        let until = proptest::option::of((-3i64..3).prop_map(|days| now() + TimeDelta::days(days)));
        (prop::sample::select(KEYS.to_vec()), until).prop_flat_map(move |(key, until)| {
            action(key).prop_map(move |action| overriding(key, action, until))
        })
    }

    fn subscriptions<'a>(
        plans: &'a [(Plan, u8)],
        reduced: &'a [FeatureGrant],
    ) -> Vec<LiveSubscription<'a>> {
        plans
            .iter()
            .map(|(plan, standing)| LiveSubscription {
                plan,
                standing: match standing {
                    0 => Standing::Good,
                    1 => Standing::Degraded(reduced),
                    _ => Standing::Revoked,
                },
            })
            .collect()
    }

    proptest! {
        #[test]
        fn order_of_plans_and_overrides_does_not_matter(
            (plans, shuffled_plans) in plans_strategy().prop_flat_map(|plans| (Just(plans.clone()), Just(plans).prop_shuffle())),
            reduced in grants_strategy(),
            (overrides, shuffled_overrides) in prop::collection::vec(override_strategy(), 0..6)
                .prop_flat_map(|overrides| (Just(overrides.clone()), Just(overrides).prop_shuffle())),
        ) {
            let expected = effective_entitlements(&subscriptions(&plans, &reduced), &overrides, now());
            let actual = effective_entitlements(&subscriptions(&shuffled_plans, &reduced), &shuffled_overrides, now());
            prop_assert_eq!(actual, expected);
        }

        #[test]
        fn an_active_revoke_always_wins(
            plans in plans_strategy(),
            reduced in grants_strategy(),
            overrides in prop::collection::vec(override_strategy(), 0..6),
        ) {
            let result = effective_entitlements(&subscriptions(&plans, &reduced), &overrides, now());
            for revoke in overrides.iter().filter(|o| o.action() == OverrideAction::Revoke && o.is_active_at(now())) {
                prop_assert!(!result[revoke.lookup_key()].allowed);
            }
        }

        #[test]
        fn an_expired_override_never_applies(
            plans in plans_strategy(),
            reduced in grants_strategy(),
            overrides in prop::collection::vec(override_strategy(), 0..6),
        ) {
            let subscriptions = subscriptions(&plans, &reduced);
            let active: Vec<_> = overrides.iter().filter(|o| o.is_active_at(now())).cloned().collect();
            prop_assert_eq!(
                effective_entitlements(&subscriptions, &overrides, now()),
                effective_entitlements(&subscriptions, &active, now())
            );
        }

        #[test]
        fn nothing_changes_before_the_next_expiry(
            plans in plans_strategy(),
            reduced in grants_strategy(),
            overrides in prop::collection::vec(override_strategy(), 0..6),
            minutes_later in 0i64..(5 * 24 * 60),
        ) {
            let subscriptions = subscriptions(&plans, &reduced);
            let later = now() + TimeDelta::minutes(minutes_later);
            if next_expiry(&overrides, now()).is_none_or(|expiry| later < expiry) {
                prop_assert_eq!(
                    effective_entitlements(&subscriptions, &overrides, later),
                    effective_entitlements(&subscriptions, &overrides, now())
                );
            }
        }

        #[test]
        fn dunning_never_grants_more_than_good_standing(
            plans in plans_strategy(),
            reduced in grants_strategy(),
        ) {
            let all_good: Vec<_> = plans.iter().map(|(plan, _)| (plan.clone(), 0u8)).collect();
            let full = effective_entitlements(&subscriptions(&all_good, &reduced), &[], now());
            let actual = effective_entitlements(&subscriptions(&plans, &reduced), &[], now());
            for (key, entitlement) in &actual {
                let ceiling = &full[key];
                let capacity = |e: &Entitlement| e.limit.map_or(Capacity::Unbounded, Capacity::Limited);
                prop_assert!(capacity(entitlement) <= capacity(ceiling));
            }
        }

        #[test]
        fn diff_turns_old_into_new(
            old_plans in plans_strategy(),
            new_plans in plans_strategy(),
            reduced in grants_strategy(),
        ) {
            let old = effective_entitlements(&subscriptions(&old_plans, &reduced), &[], now());
            let new = effective_entitlements(&subscriptions(&new_plans, &reduced), &[], now());
            let mut rebuilt = old.clone();
            for change in diff(&old, &new) {
                prop_assert_ne!(&change.before, &change.after);
                match change.after {
                    Some(after) => rebuilt.insert(change.lookup_key, after),
                    None => rebuilt.remove(&change.lookup_key),
                };
            }
            prop_assert_eq!(rebuilt, new);
        }
    }
}
