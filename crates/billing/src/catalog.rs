//! A tenant's catalog: plans, their prices, and what a price costs.
//!
//! Rules (Stripe's, so what we preview is what Stripe bills):
//! - A price is [`PriceType::Recurring`] (billed every interval of a
//!   subscription) or [`PriceType::OneTime`] (sold once, in payment mode).
//!   Only recurring prices can be subscribed to; a one-time price is flat
//!   or per unit, never tiered (tiers are a subscription's).
//! - A billing [`Interval`] is a unit (day/week/month/year) times a count, at
//!   most three years in total (1095 days, 156 weeks, 36 months, 3 years).
//! - A [`PriceModel`] is flat (one amount per interval), per seat (unit amount
//!   × quantity), or tiered. Every amount is a non-negative integer of the
//!   price's currency, which is stated once per price, so a price cannot mix
//!   currencies. A plan may hold prices in several currencies, as a Stripe
//!   product may.
//! - Tiers: each `up_to` is inclusive, strictly ascending, and the last tier is
//!   unbounded (`up_to: None`, Stripe's `inf`). *Volume*: the whole quantity is
//!   billed at the single tier it falls in (`quantity × unit + flat`).
//!   *Graduated*: each tier bills the units that fall inside it, plus its flat
//!   amount if any unit does. A quantity of 0 bills nothing here; these are
//!   previews, and the invoice Stripe builds stays authoritative.
//! - Stripe prices are immutable, so changing an amount means a new price:
//!   [`Plan::supersede_price`] archives the old one (existing subscribers keep
//!   it: grandfathering) and adds the new one for new subscriptions.
//! - Plans are archived, never deleted.
//!
//! Validation is by construction: [`Price`] and [`Plan`] can only be built
//! (or deserialized) from a spec that passes the rules, so any value of those
//! types is valid.

use std::collections::HashSet;

use chrono::{DateTime, Days, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::entitlements::{FeatureGrant, LookupKey};
use crate::ids::{PlanId, PriceId};
use crate::money::{Currency, Money, MoneyError};

/// Why a catalog entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("an interval of {count} {unit:?}s is out of range (1 to {max})")]
    IntervalCountOutOfRange {
        unit: IntervalUnit,
        count: u16,
        max: u16,
    },
    #[error("{field} must not be negative (got {amount_minor})")]
    NegativeAmount {
        field: &'static str,
        amount_minor: i64,
    },
    #[error("a tiered price needs at least one tier")]
    NoTiers,
    #[error("tier {index} has `up_to` 0; tiers hold at least one unit")]
    EmptyTier { index: usize },
    #[error("tier {index} (up to {up_to}) must be above the previous tier (up to {previous})")]
    TiersNotAscending {
        index: usize,
        up_to: u64,
        previous: u64,
    },
    #[error("only the last tier may be unbounded, but tier {index} is")]
    UnboundedTierNotLast { index: usize },
    #[error("the last tier must be unbounded (`up_to: inf`)")]
    LastTierBounded,
    #[error("a plan needs a name")]
    EmptyName,
    #[error("a plan name is at most {max} characters")]
    NameTooLong { max: usize },
    #[error("a trial lasts 1 to {max} days (got {days})")]
    TrialDaysOutOfRange { days: u16, max: u16 },
    #[error("price {0} appears twice in the plan")]
    DuplicatePrice(PriceId),
    #[error("feature `{0}` is granted twice by the plan")]
    DuplicateGrant(LookupKey),
    #[error("the plan has no price {0}")]
    UnknownPrice(PriceId),
    #[error("a one-time price is flat or per unit; tiered prices must be recurring")]
    TieredOneTime,
}

/// The unit of a billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    /// Stripe's ceiling: an interval spans at most three years.
    fn max_count(self) -> u16 {
        match self {
            IntervalUnit::Day => 1095,
            IntervalUnit::Week => 156,
            IntervalUnit::Month => 36,
            IntervalUnit::Year => 3,
        }
    }
}

/// How often a price bills: `count` × `unit` (e.g. every 3 months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "IntervalFields")]
pub struct Interval {
    /// The unit (Stripe's `recurring.interval`).
    unit: IntervalUnit,
    /// How many units per period (Stripe's `recurring.interval_count`).
    count: u16,
}

/// The unchecked shape of an [`Interval`], for deserialization.
#[derive(Deserialize)]
struct IntervalFields {
    /// As [`Interval::unit`].
    unit: IntervalUnit,
    /// As [`Interval::count`], not yet range-checked.
    count: u16,
}

impl TryFrom<IntervalFields> for Interval {
    type Error = CatalogError;
    fn try_from(fields: IntervalFields) -> Result<Self, CatalogError> {
        Interval::new(fields.unit, fields.count)
    }
}

impl Interval {
    pub fn new(unit: IntervalUnit, count: u16) -> Result<Self, CatalogError> {
        let max = unit.max_count();
        if count == 0 || count > max {
            return Err(CatalogError::IntervalCountOutOfRange { unit, count, max });
        }
        Ok(Self { unit, count })
    }

    pub fn monthly() -> Self {
        Self {
            unit: IntervalUnit::Month,
            count: 1,
        }
    }

    pub fn yearly() -> Self {
        Self {
            unit: IntervalUnit::Year,
            count: 1,
        }
    }

    pub fn unit(self) -> IntervalUnit {
        self.unit
    }

    pub fn count(self) -> u16 {
        self.count
    }

    /// The start of the `n`-th period of a subscription anchored at
    /// `anchor` (`n = 0` is the anchor itself), or `None` past the end of
    /// time. Counted from the anchor rather than from the previous period,
    /// as Stripe's billing cycle anchor does: monthly from January 31 gives
    /// February 28 (or 29), then March 31, never drifting to the 28th.
    pub fn period_start(self, anchor: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        let periods = n.checked_mul(self.count.into())?;
        match self.unit {
            IntervalUnit::Day => anchor.checked_add_days(Days::new(periods.into())),
            IntervalUnit::Week => anchor.checked_add_days(Days::new(u64::from(periods) * 7)),
            IntervalUnit::Month => anchor.checked_add_months(Months::new(periods)),
            IntervalUnit::Year => anchor.checked_add_months(Months::new(periods.checked_mul(12)?)),
        }
    }
}

/// Whether a price bills every period of a subscription or once (Stripe's
/// price `type`), so that "can this be subscribed to?" is a match, not a
/// missing interval to remember to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PriceType {
    /// Billed every `interval` (Stripe's `type=recurring`).
    Recurring { interval: Interval },
    /// Billed once, at a payment-mode checkout (Stripe's `type=one_time`).
    OneTime,
}

impl PriceType {
    /// The billing interval of a recurring price.
    pub fn interval(self) -> Option<Interval> {
        match self {
            PriceType::Recurring { interval } => Some(interval),
            PriceType::OneTime => None,
        }
    }
}

/// How tiers turn a quantity into an amount (Stripe's `tiers_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMode {
    /// The whole quantity is billed at the one tier it falls in.
    Volume,
    /// Each tier bills the units inside it.
    Graduated,
}

/// One step of a tiered price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tier {
    /// Inclusive upper bound of the tier; `None` is Stripe's `inf`, the last tier.
    pub up_to: Option<u64>,
    /// Amount per unit billed in this tier, in minor units.
    pub unit_amount_minor: i64,
    /// Amount billed once when the tier applies, in minor units.
    pub flat_amount_minor: i64,
}

/// What a price charges per interval, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriceModel {
    /// A fixed amount per interval (quantity 1).
    Flat { amount_minor: i64 },
    /// An amount per seat; the subscription's quantity is the seat count.
    PerSeat { unit_amount_minor: i64 },
    /// Tiers over the quantity.
    Tiered { mode: TierMode, tiers: Vec<Tier> },
}

impl PriceModel {
    fn validate(&self) -> Result<(), CatalogError> {
        match self {
            PriceModel::Flat { amount_minor } => non_negative("amount", *amount_minor),
            PriceModel::PerSeat { unit_amount_minor } => {
                non_negative("unit amount", *unit_amount_minor)
            }
            PriceModel::Tiered { tiers, .. } => validate_tiers(tiers),
        }
    }

    /// The amount in minor units for `quantity`; callers wrap it in the
    /// price's currency.
    fn amount_minor_for(&self, quantity: u64) -> Option<i64> {
        let quantity = i64::try_from(quantity).ok()?;
        match self {
            PriceModel::Flat {
                amount_minor: unit_amount_minor,
            }
            | PriceModel::PerSeat { unit_amount_minor } => unit_amount_minor.checked_mul(quantity),
            PriceModel::Tiered { mode, tiers } => {
                if quantity == 0 {
                    return Some(0);
                }
                match mode {
                    TierMode::Volume => volume_amount(tiers, quantity),
                    TierMode::Graduated => graduated_amount(tiers, quantity),
                }
            }
        }
    }
}

fn non_negative(field: &'static str, amount_minor: i64) -> Result<(), CatalogError> {
    if amount_minor < 0 {
        return Err(CatalogError::NegativeAmount {
            field,
            amount_minor,
        });
    }
    Ok(())
}

fn validate_tiers(tiers: &[Tier]) -> Result<(), CatalogError> {
    let Some((last, bounded)) = tiers.split_last() else {
        return Err(CatalogError::NoTiers);
    };
    let mut previous = 0;
    for (index, tier) in tiers.iter().enumerate() {
        non_negative("tier unit amount", tier.unit_amount_minor)?;
        non_negative("tier flat amount", tier.flat_amount_minor)?;
        if index == bounded.len() {
            break;
        }
        let up_to = tier
            .up_to
            .ok_or(CatalogError::UnboundedTierNotLast { index })?;
        if up_to == 0 {
            return Err(CatalogError::EmptyTier { index });
        }
        if up_to <= previous {
            return Err(CatalogError::TiersNotAscending {
                index,
                up_to,
                previous,
            });
        }
        previous = up_to;
    }
    if last.up_to.is_some() {
        return Err(CatalogError::LastTierBounded);
    }
    Ok(())
}

/// The upper bound of a tier as a quantity (unbounded = no limit).
fn upper_bound(tier: &Tier) -> i64 {
    tier.up_to
        .and_then(|up_to| i64::try_from(up_to).ok())
        .unwrap_or(i64::MAX)
}

fn volume_amount(tiers: &[Tier], quantity: i64) -> Option<i64> {
    let tier = tiers.iter().find(|tier| quantity <= upper_bound(tier))?;
    tier.unit_amount_minor
        .checked_mul(quantity)?
        .checked_add(tier.flat_amount_minor)
}

fn graduated_amount(tiers: &[Tier], quantity: i64) -> Option<i64> {
    let mut total: i64 = 0;
    let mut lower = 0;
    for tier in tiers {
        if quantity <= lower {
            break;
        }
        let upper = upper_bound(tier).min(quantity);
        let units = upper - lower;
        total = total
            .checked_add(tier.unit_amount_minor.checked_mul(units)?)?
            .checked_add(tier.flat_amount_minor)?;
        lower = upper;
    }
    Some(total)
}

/// Everything that defines a price, unchecked; turn it into a [`Price`]
/// with `Price::try_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSpec {
    /// Billforge's id for the price (the Stripe id is stored by the sync layer).
    pub id: PriceId,
    /// The one currency all of the model's amounts are in.
    pub currency: Currency,
    /// Every interval, or once.
    pub price_type: PriceType,
    /// What it charges per interval (or once).
    pub model: PriceModel,
    /// Archived prices keep billing their subscribers but are not offered to
    /// new ones (Stripe's `active = false`).
    pub archived: bool,
}

/// A validated price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceSpec", into = "PriceSpec")]
pub struct Price {
    /// The spec, known to satisfy the catalog rules.
    spec: PriceSpec,
}

impl TryFrom<PriceSpec> for Price {
    type Error = CatalogError;
    fn try_from(spec: PriceSpec) -> Result<Self, CatalogError> {
        spec.model.validate()?;
        if spec.price_type == PriceType::OneTime && matches!(spec.model, PriceModel::Tiered { .. })
        {
            return Err(CatalogError::TieredOneTime);
        }
        Ok(Self { spec })
    }
}

impl From<Price> for PriceSpec {
    fn from(price: Price) -> Self {
        price.spec
    }
}

impl Price {
    pub fn id(&self) -> &PriceId {
        &self.spec.id
    }

    pub fn currency(&self) -> Currency {
        self.spec.currency
    }

    pub fn price_type(&self) -> PriceType {
        self.spec.price_type
    }

    pub fn model(&self) -> &PriceModel {
        &self.spec.model
    }

    pub fn is_archived(&self) -> bool {
        self.spec.archived
    }

    /// Whether a customer chooses a quantity (seats, tiered units) or the
    /// price is always bought once.
    pub fn takes_quantity(&self) -> bool {
        !matches!(self.spec.model, PriceModel::Flat { .. })
    }

    /// What `quantity` units cost per interval.
    pub fn amount_for(&self, quantity: u64) -> Result<Money, MoneyError> {
        self.spec
            .model
            .amount_minor_for(quantity)
            .map(|amount| Money::new(amount, self.spec.currency))
            .ok_or(MoneyError::Overflow)
    }
}

/// Stripe's limit on a product name.
const MAX_NAME_CHARS: usize = 250;
/// Stripe's limit on a trial.
const MAX_TRIAL_DAYS: u16 = 730;

/// Everything that defines a plan, unchecked; turn it into a [`Plan`] with
/// `Plan::try_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// Billforge's id for the plan (a Stripe product on the tenant's account).
    pub id: PlanId,
    /// Shown to customers on hosted pages and invoices.
    pub name: String,
    /// Archived plans keep their subscribers but cannot be subscribed to.
    pub archived: bool,
    /// Free days before the first charge, if the plan offers a trial.
    pub trial_days: Option<u16>,
    /// Current and grandfathered prices.
    pub prices: Vec<Price>,
    /// The features a subscription to this plan entitles the customer to.
    pub grants: Vec<FeatureGrant>,
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PlanSpec", into = "PlanSpec")]
pub struct Plan {
    /// The spec, known to satisfy the catalog rules.
    spec: PlanSpec,
}

impl TryFrom<PlanSpec> for Plan {
    type Error = CatalogError;
    fn try_from(mut spec: PlanSpec) -> Result<Self, CatalogError> {
        spec.name = spec.name.trim().to_owned();
        if spec.name.is_empty() {
            return Err(CatalogError::EmptyName);
        }
        if spec.name.chars().count() > MAX_NAME_CHARS {
            return Err(CatalogError::NameTooLong {
                max: MAX_NAME_CHARS,
            });
        }
        if let Some(days) = spec.trial_days
            && !(1..=MAX_TRIAL_DAYS).contains(&days)
        {
            return Err(CatalogError::TrialDaysOutOfRange {
                days,
                max: MAX_TRIAL_DAYS,
            });
        }
        let mut price_ids = HashSet::new();
        if let Some(price) = spec.prices.iter().find(|p| !price_ids.insert(p.id())) {
            return Err(CatalogError::DuplicatePrice(price.id().clone()));
        }
        let mut keys = HashSet::new();
        if let Some(grant) = spec.grants.iter().find(|g| !keys.insert(g.lookup_key())) {
            return Err(CatalogError::DuplicateGrant(grant.lookup_key().clone()));
        }
        Ok(Self { spec })
    }
}

impl From<Plan> for PlanSpec {
    fn from(plan: Plan) -> Self {
        plan.spec
    }
}

impl Plan {
    pub fn id(&self) -> &PlanId {
        &self.spec.id
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn is_archived(&self) -> bool {
        self.spec.archived
    }

    pub fn trial_days(&self) -> Option<u16> {
        self.spec.trial_days
    }

    /// All prices, including archived (grandfathered) ones.
    pub fn prices(&self) -> &[Price] {
        &self.spec.prices
    }

    /// The prices a new subscriber may choose.
    pub fn offered_prices(&self) -> impl Iterator<Item = &Price> {
        self.spec
            .prices
            .iter()
            .filter(|price| !self.spec.archived && !price.is_archived())
    }

    pub fn price(&self, id: &PriceId) -> Option<&Price> {
        self.spec.prices.iter().find(|price| price.id() == id)
    }

    pub fn grants(&self) -> &[FeatureGrant] {
        &self.spec.grants
    }

    /// The plan, archived: existing subscribers stay, nobody new can join.
    pub fn archived(mut self) -> Self {
        self.spec.archived = true;
        self
    }

    /// Replaces a price by a new one (Stripe prices are immutable): the old
    /// price is archived and keeps billing its subscribers, the new one is
    /// offered from now on.
    pub fn supersede_price(mut self, old: &PriceId, new: Price) -> Result<Self, CatalogError> {
        if self.price(new.id()).is_some() {
            return Err(CatalogError::DuplicatePrice(new.id().clone()));
        }
        let old_price = self
            .spec
            .prices
            .iter_mut()
            .find(|price| price.id() == old)
            .ok_or_else(|| CatalogError::UnknownPrice(old.clone()))?;
        old_price.spec.archived = true;
        self.spec.prices.push(new);
        Ok(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::entitlements::{Feature, FeatureKind, GrantValue, LimitReset};
    use crate::ids::FeatureId;
    use chrono::TimeZone;
    use proptest::prelude::*;

    pub(crate) fn price(model: PriceModel) -> Result<Price, CatalogError> {
        Price::try_from(PriceSpec {
            id: PriceId::generate(),
            currency: Currency::USD,
            price_type: PriceType::Recurring {
                interval: Interval::monthly(),
            },
            model,
            archived: false,
        })
    }

    fn tier(up_to: Option<u64>, unit: i64, flat: i64) -> Tier {
        Tier {
            up_to,
            unit_amount_minor: unit,
            flat_amount_minor: flat,
        }
    }

    fn tiered(mode: TierMode) -> Price {
        // 1–5: $10 each + $5 flat; 6–10: $8 each; 11+: $6 each + $1 flat.
        price(PriceModel::Tiered {
            mode,
            tiers: vec![
                tier(Some(5), 1000, 500),
                tier(Some(10), 800, 0),
                tier(None, 600, 100),
            ],
        })
        .unwrap()
    }

    fn amount(price: &Price, quantity: u64) -> i64 {
        price.amount_for(quantity).unwrap().amount_minor
    }

    fn plan_spec() -> PlanSpec {
        PlanSpec {
            id: PlanId::generate(),
            name: "  Pro ".to_owned(),
            archived: false,
            trial_days: Some(14),
            prices: vec![price(PriceModel::Flat { amount_minor: 2900 }).unwrap()],
            grants: vec![],
        }
    }

    #[test]
    fn flat_and_per_seat() {
        let flat = price(PriceModel::Flat { amount_minor: 2900 }).unwrap();
        assert_eq!(flat.amount_for(1), Ok(Money::new(2900, Currency::USD)));
        assert!(!flat.takes_quantity());
        let seats = price(PriceModel::PerSeat {
            unit_amount_minor: 1200,
        })
        .unwrap();
        assert_eq!(amount(&seats, 7), 8400);
        assert!(seats.takes_quantity());
        assert_eq!(seats.amount_for(u64::MAX), Err(MoneyError::Overflow));
    }

    #[test]
    fn one_time_prices_are_flat_or_per_unit() {
        let once = |model| {
            Price::try_from(PriceSpec {
                id: PriceId::generate(),
                currency: Currency::EUR,
                price_type: PriceType::OneTime,
                model,
                archived: false,
            })
        };
        let setup_fee = once(PriceModel::Flat { amount_minor: 9900 }).unwrap();
        assert_eq!(setup_fee.price_type().interval(), None);
        let json = serde_json::to_value(&setup_fee).unwrap();
        assert_eq!(json["price_type"], serde_json::json!({"type": "one_time"}));
        assert_eq!(serde_json::from_value::<Price>(json).unwrap(), setup_fee);
        let credits = once(PriceModel::PerSeat {
            unit_amount_minor: 500,
        })
        .unwrap();
        assert_eq!(amount(&credits, 3), 1500);
        assert_eq!(
            once(PriceModel::Tiered {
                mode: TierMode::Volume,
                tiers: vec![tier(None, 100, 0)],
            }),
            Err(CatalogError::TieredOneTime)
        );
        let monthly = price(PriceModel::Flat { amount_minor: 100 }).unwrap();
        assert_eq!(monthly.price_type().interval(), Some(Interval::monthly()));
    }

    #[test]
    fn volume_bills_everything_at_one_tier() {
        let price = tiered(TierMode::Volume);
        assert_eq!(amount(&price, 0), 0);
        assert_eq!(amount(&price, 1), 1000 + 500);
        assert_eq!(amount(&price, 5), 5 * 1000 + 500, "up_to is inclusive");
        assert_eq!(amount(&price, 6), 6 * 800);
        assert_eq!(amount(&price, 10), 10 * 800);
        assert_eq!(amount(&price, 11), 11 * 600 + 100);
    }

    #[test]
    fn graduated_bills_each_tier_its_units() {
        let price = tiered(TierMode::Graduated);
        assert_eq!(amount(&price, 0), 0);
        assert_eq!(amount(&price, 1), 1000 + 500);
        assert_eq!(amount(&price, 5), 5 * 1000 + 500);
        assert_eq!(amount(&price, 6), 5 * 1000 + 500 + 800);
        assert_eq!(amount(&price, 10), 5 * 1000 + 500 + 5 * 800);
        assert_eq!(amount(&price, 12), 5 * 1000 + 500 + 5 * 800 + 2 * 600 + 100);
    }

    /// The example of Stripe's tiered-pricing guide: fonts at $7 (1–5),
    /// $6.50 (6–10) and $6 (11+).
    #[test]
    fn matches_stripes_documented_example() {
        let fonts = |mode| {
            price(PriceModel::Tiered {
                mode,
                tiers: vec![
                    tier(Some(5), 700, 0),
                    tier(Some(10), 650, 0),
                    tier(None, 600, 0),
                ],
            })
            .unwrap()
        };
        let volume = fonts(TierMode::Volume);
        for (quantity, total) in [(1, 700), (5, 3500), (6, 3900), (20, 12_000), (25, 15_000)] {
            assert_eq!(amount(&volume, quantity), total, "volume, {quantity} fonts");
        }
        let graduated = fonts(TierMode::Graduated);
        for (quantity, total) in [(5, 3500), (6, 4150), (20, 3500 + 3250 + 6000)] {
            assert_eq!(
                amount(&graduated, quantity),
                total,
                "graduated, {quantity} fonts"
            );
        }
    }

    #[test]
    fn tier_rules() {
        let tiered = |tiers| {
            price(PriceModel::Tiered {
                mode: TierMode::Graduated,
                tiers,
            })
        };
        assert_eq!(tiered(vec![]), Err(CatalogError::NoTiers));
        assert_eq!(
            tiered(vec![tier(Some(5), 1, 0)]),
            Err(CatalogError::LastTierBounded)
        );
        assert_eq!(
            tiered(vec![tier(None, 1, 0), tier(None, 1, 0)]),
            Err(CatalogError::UnboundedTierNotLast { index: 0 })
        );
        assert_eq!(
            tiered(vec![
                tier(Some(5), 1, 0),
                tier(Some(5), 1, 0),
                tier(None, 1, 0)
            ]),
            Err(CatalogError::TiersNotAscending {
                index: 1,
                up_to: 5,
                previous: 5
            })
        );
        assert_eq!(
            tiered(vec![tier(Some(0), 1, 0), tier(None, 1, 0)]),
            Err(CatalogError::EmptyTier { index: 0 })
        );
        assert_eq!(
            tiered(vec![tier(Some(3), 1, -1), tier(None, 1, 0)]),
            Err(CatalogError::NegativeAmount {
                field: "tier flat amount",
                amount_minor: -1
            })
        );
        assert!(tiered(vec![tier(None, 0, 0)]).is_ok());
        assert!(
            price(PriceModel::PerSeat {
                unit_amount_minor: -5
            })
            .is_err()
        );
    }

    #[test]
    fn intervals_are_bounded_to_three_years() {
        assert!(Interval::new(IntervalUnit::Month, 36).is_ok());
        assert_eq!(
            Interval::new(IntervalUnit::Month, 37),
            Err(CatalogError::IntervalCountOutOfRange {
                unit: IntervalUnit::Month,
                count: 37,
                max: 36
            })
        );
        assert!(Interval::new(IntervalUnit::Week, 0).is_err());
        assert!(serde_json::from_str::<Interval>(r#"{"unit":"year","count":4}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Interval>(r#"{"unit":"year","count":1}"#).unwrap(),
            Interval::yearly()
        );
    }

    #[test]
    fn periods_follow_the_anchor_without_drifting() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap();
        let monthly = Interval::monthly();
        let anchor = at(2026, 1, 31);
        assert_eq!(monthly.period_start(anchor, 0), Some(anchor));
        assert_eq!(monthly.period_start(anchor, 1), Some(at(2026, 2, 28)));
        assert_eq!(monthly.period_start(anchor, 2), Some(at(2026, 3, 31)));
        assert_eq!(monthly.period_start(anchor, 13), Some(at(2027, 2, 28)));
        let leap_day = at(2028, 2, 29);
        assert_eq!(
            Interval::yearly().period_start(leap_day, 1),
            Some(at(2029, 2, 28))
        );
        assert_eq!(
            Interval::yearly().period_start(leap_day, 4),
            Some(at(2032, 2, 29))
        );
        let quarterly = Interval::new(IntervalUnit::Month, 3).unwrap();
        assert_eq!(quarterly.period_start(anchor, 1), Some(at(2026, 4, 30)));
        let fortnightly = Interval::new(IntervalUnit::Week, 2).unwrap();
        assert_eq!(fortnightly.period_start(anchor, 2), Some(at(2026, 2, 28)));
        let daily = Interval::new(IntervalUnit::Day, 1).unwrap();
        assert_eq!(daily.period_start(anchor, 1), Some(at(2026, 2, 1)));
        assert_eq!(Interval::yearly().period_start(anchor, u32::MAX), None);
    }

    #[test]
    fn deserializing_revalidates() {
        let good = tiered(TierMode::Volume);
        let json = serde_json::to_value(&good).unwrap();
        assert_eq!(json["model"]["kind"], "tiered");
        assert_eq!(serde_json::from_value::<Price>(json.clone()).unwrap(), good);
        let mut bad = json;
        bad["model"]["tiers"][2]["up_to"] = 99.into();
        let error = serde_json::from_value::<Price>(bad).unwrap_err();
        assert!(error.to_string().contains("unbounded"), "{error}");
    }

    #[test]
    fn plan_rules() {
        let plan = Plan::try_from(plan_spec()).unwrap();
        assert_eq!(plan.name(), "Pro", "names are trimmed");

        let mut spec = plan_spec();
        spec.name = " ".to_owned();
        assert_eq!(Plan::try_from(spec), Err(CatalogError::EmptyName));

        let mut spec = plan_spec();
        spec.name = "x".repeat(251);
        assert_eq!(
            Plan::try_from(spec),
            Err(CatalogError::NameTooLong { max: 250 })
        );

        let mut spec = plan_spec();
        spec.trial_days = Some(0);
        assert!(matches!(
            Plan::try_from(spec),
            Err(CatalogError::TrialDaysOutOfRange { days: 0, .. })
        ));

        let mut spec = plan_spec();
        spec.prices.push(spec.prices[0].clone());
        assert!(matches!(
            Plan::try_from(spec),
            Err(CatalogError::DuplicatePrice(_))
        ));

        let seats = Feature {
            id: FeatureId::generate(),
            lookup_key: LookupKey::parse("seats").unwrap(),
            name: "Seats".to_owned(),
            kind: FeatureKind::Limit {
                reset: LimitReset::Never,
            },
        };
        let grant = FeatureGrant::new(&seats, GrantValue::Limit(5)).unwrap();
        let mut spec = plan_spec();
        spec.grants = vec![grant.clone(), grant];
        assert_eq!(
            Plan::try_from(spec),
            Err(CatalogError::DuplicateGrant(seats.lookup_key))
        );
    }

    #[test]
    fn superseding_a_price_grandfathers_the_old_one() {
        let plan = Plan::try_from(plan_spec()).unwrap();
        let old = plan.prices()[0].id().clone();
        let new = price(PriceModel::Flat { amount_minor: 3900 }).unwrap();
        let new_id = new.id().clone();
        let plan = plan.supersede_price(&old, new).unwrap();
        assert!(plan.price(&old).unwrap().is_archived());
        let offered: Vec<_> = plan.offered_prices().map(Price::id).collect();
        assert_eq!(offered, vec![&new_id]);
        assert_eq!(plan.prices().len(), 2, "the old price keeps billing");

        let again = price(PriceModel::Flat { amount_minor: 1 }).unwrap();
        assert!(matches!(
            plan.clone().supersede_price(&PriceId::generate(), again),
            Err(CatalogError::UnknownPrice(_))
        ));
        let archived = plan.archived();
        assert_eq!(archived.offered_prices().count(), 0);
    }

    /// Tiers generated valid by construction: ascending bounds, last unbounded.
    fn tiers_strategy() -> impl Strategy<Value = Vec<Tier>> {
        prop::collection::vec((1u64..50, 0i64..10_000, 0i64..10_000), 1..5).prop_map(|steps| {
            let mut bound = 0;
            let last = steps.len() - 1;
            steps
                .into_iter()
                .enumerate()
                .map(|(index, (width, unit, flat))| {
                    bound += width;
                    tier((index < last).then_some(bound), unit, flat)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn stored_prices_read_back_identical(tiers in tiers_strategy(), graduated in any::<bool>(), count in 1u16..13) {
            let mode = if graduated { TierMode::Graduated } else { TierMode::Volume };
            let original = Price::try_from(PriceSpec {
                id: PriceId::generate(),
                currency: Currency::JPY,
                price_type: PriceType::Recurring { interval: Interval::new(IntervalUnit::Month, count).unwrap() },
                model: PriceModel::Tiered { mode, tiers },
                archived: graduated,
            })
            .unwrap();
            let json = serde_json::to_string(&original).unwrap();
            prop_assert_eq!(serde_json::from_str::<Price>(&json).unwrap(), original);
        }

        #[test]
        fn graduated_grows_with_quantity(tiers in tiers_strategy(), quantity in 0u64..500) {
            let price = price(PriceModel::Tiered { mode: TierMode::Graduated, tiers }).unwrap();
            prop_assert!(amount(&price, quantity + 1) >= amount(&price, quantity));
        }

        #[test]
        fn one_tier_models_agree_with_per_unit(unit in 0i64..100_000, quantity in 1u64..10_000) {
            let single = vec![tier(None, unit, 0)];
            let seats = price(PriceModel::PerSeat { unit_amount_minor: unit }).unwrap();
            for mode in [TierMode::Volume, TierMode::Graduated] {
                let tiered = price(PriceModel::Tiered { mode, tiers: single.clone() }).unwrap();
                prop_assert_eq!(tiered.amount_for(quantity), seats.amount_for(quantity));
            }
        }

        #[test]
        fn periods_are_strictly_increasing(unit in prop::sample::select(vec![IntervalUnit::Day, IntervalUnit::Week, IntervalUnit::Month, IntervalUnit::Year]), count in 1u16..4, n in 0u32..200, anchor_days in 0u64..3000) {
            let interval = Interval::new(unit, count).unwrap();
            let anchor = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + Days::new(anchor_days);
            let this = interval.period_start(anchor, n).unwrap();
            let next = interval.period_start(anchor, n + 1).unwrap();
            prop_assert!(next > this);
        }

        #[test]
        fn volume_is_one_tier_times_quantity(tiers in tiers_strategy(), quantity in 1u64..500) {
            let price = price(PriceModel::Tiered { mode: TierMode::Volume, tiers: tiers.clone() }).unwrap();
            let billed = amount(&price, quantity);
            let matches_a_tier = tiers.iter().any(|tier| {
                billed == tier.unit_amount_minor * quantity as i64 + tier.flat_amount_minor
            });
            prop_assert!(matches_a_tier);
        }
    }
}
