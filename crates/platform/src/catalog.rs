//! The tenant's catalog: plans, prices and features, and their sync to Stripe.
//!
//! So far: features (flags and limits, found by a stable `lookup_key`),
//! validated by `billing::entitlements`, and plans with their prices,
//! validated by `billing::catalog`; all stored tenant-scoped and audited.
//! Plans are stored `pending`: the Stripe sync job is not written yet.

use billing::catalog::{Interval, Plan, PlanSpec, Price, PriceModel, PriceSpec};
use billing::entitlements::{FeatureKind, LookupKey};
use billing::ids::{FeatureId, PlanId, PriceId, TenantId};
use billing::money::Currency;
use store::catalog::{NewFeature, NewPlan, NewPrice};
use store::{AuditContext, StoreError};

use crate::jobs::JobHandlers;
use crate::{Platform, PlatformError, PlatformResult};

pub use store::catalog::{FeatureRecord, PlanRecord, PriceRecord, SyncStatus};

/// A price as the merchant describes it.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// ISO currency code (`usd`, `EUR`…).
    pub currency: String,
    /// How often it bills.
    pub interval: Interval,
    /// Flat, per seat or tiered.
    pub model: PriceModel,
    /// Optional stable handle for the merchant's code.
    pub lookup_key: Option<String>,
}

/// A plan as the merchant describes it.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Shown to customers.
    pub name: String,
    /// Free days before the first charge.
    pub trial_days: Option<u16>,
    /// Its first prices.
    pub prices: Vec<PriceInput>,
}

/// A plan with its prices, as pages and the API show it.
#[derive(Debug, Clone)]
pub struct PlanDetails {
    /// The plan row (sync status, Stripe product id…).
    pub plan: PlanRecord,
    /// All its prices, archived (grandfathered) ones included.
    pub prices: Vec<PriceRecord>,
}

/// Validates a price through `billing::catalog` and turns it into a row.
fn new_price(input: PriceInput) -> PlatformResult<NewPrice> {
    let currency = Currency::parse(&input.currency)
        .map_err(|err| PlatformError::invalid("currency", err.to_string()))?;
    if let Some(key) = &input.lookup_key {
        LookupKey::parse(key)
            .map_err(|err| PlatformError::invalid("lookup_key", err.to_string()))?;
    }
    let price = Price::try_from(PriceSpec {
        id: PriceId::generate(),
        currency,
        interval: input.interval,
        model: input.model,
        archived: false,
    })
    .map_err(|err| PlatformError::invalid("prices", err.to_string()))?;
    let unit = serde_json::to_value(price.interval().unit())
        .ok()
        .and_then(|unit| unit.as_str().map(str::to_owned))
        .ok_or_else(|| PlatformError::Internal("encoding an interval unit".to_owned()))?;
    Ok(NewPrice {
        id: price.id().to_string(),
        model: serde_json::to_string(price.model())
            .map_err(|err| PlatformError::Internal(format!("encoding a price model: {err}")))?,
        currency: currency.code().to_owned(),
        interval_unit: unit,
        interval_count: i32::from(price.interval().count()),
        lookup_key: input.lookup_key,
    })
}

/// The longest feature name accepted (as Stripe's product names).
const MAX_NAME_CHARS: usize = 250;

/// Registers this module's kinds of background work.
pub fn register_jobs(_handlers: &mut JobHandlers) {}

/// A trimmed, non-empty display name of at most [`MAX_NAME_CHARS`].
fn display_name(raw: &str) -> PlatformResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(PlatformError::invalid(
            "name",
            format!("a name is 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

impl Platform {
    /// Creates a feature. The lookup key is what merchants' code checks, so
    /// it is validated and unique per tenant.
    pub async fn create_feature(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        lookup_key: &str,
        name: &str,
        kind: FeatureKind,
    ) -> PlatformResult<FeatureRecord> {
        let lookup_key = LookupKey::parse(lookup_key)
            .map_err(|err| PlatformError::invalid("lookup_key", err.to_string()))?;
        let new_feature = NewFeature {
            id: FeatureId::generate().to_string(),
            lookup_key: lookup_key.to_string(),
            name: display_name(name)?,
            kind: serde_json::to_string(&kind).map_err(|err| {
                PlatformError::Internal(format!("encoding a feature kind: {err}"))
            })?,
        };
        match self
            .store()
            .scoped(tenant)
            .create_feature(new_feature, ctx)
            .await
        {
            Err(StoreError::Duplicate) => Err(PlatformError::invalid(
                "lookup_key",
                format!("a feature with lookup key `{lookup_key}` already exists"),
            )),
            other => Ok(other?),
        }
    }

    /// The tenant's features, by lookup key.
    pub async fn features(&self, tenant: &TenantId) -> PlatformResult<Vec<FeatureRecord>> {
        Ok(self.store().scoped(tenant).features().await?)
    }

    /// One of the tenant's features; another tenant's is `not_found`.
    pub async fn feature(
        &self,
        tenant: &TenantId,
        id: &FeatureId,
    ) -> PlatformResult<FeatureRecord> {
        self.store()
            .scoped(tenant)
            .feature(id)
            .await?
            .ok_or(PlatformError::NotFound("feature"))
    }

    /// Creates a plan with its prices, validated by `billing::catalog`
    /// before anything is written.
    pub async fn create_plan(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        input: PlanInput,
    ) -> PlatformResult<PlanDetails> {
        let plan = Plan::try_from(PlanSpec {
            id: PlanId::generate(),
            name: input.name,
            archived: false,
            trial_days: input.trial_days,
            prices: vec![],
            grants: vec![],
        })
        .map_err(|err| PlatformError::invalid("plan", err.to_string()))?;
        let prices = input
            .prices
            .into_iter()
            .map(new_price)
            .collect::<PlatformResult<Vec<_>>>()?;
        let new_plan = NewPlan {
            id: plan.id().to_string(),
            name: plan.name().to_owned(),
            trial_days: plan.trial_days().map(i32::from),
            prices,
        };
        self.store()
            .scoped(tenant)
            .create_plan(new_plan, ctx)
            .await?;
        self.plan(tenant, plan.id()).await
    }

    /// The tenant's plans (without prices), oldest first.
    pub async fn plans(&self, tenant: &TenantId) -> PlatformResult<Vec<PlanRecord>> {
        Ok(self.store().scoped(tenant).plans().await?)
    }

    /// One of the tenant's plans with its prices; another tenant's is
    /// `not_found`.
    pub async fn plan(&self, tenant: &TenantId, id: &PlanId) -> PlatformResult<PlanDetails> {
        let scope = self.store().scoped(tenant);
        let plan = scope
            .plan(id)
            .await?
            .ok_or(PlatformError::NotFound("plan"))?;
        let prices = scope.prices_of(id).await?;
        Ok(PlanDetails { plan, prices })
    }

    /// Archives (`true`) or restores a plan: subscribers stay, nobody new
    /// joins an archived plan. Plans are never deleted.
    pub async fn set_plan_archived(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &PlanId,
        archived: bool,
    ) -> PlatformResult<PlanRecord> {
        self.store()
            .scoped(tenant)
            .set_plan_archived(id, archived, ctx)
            .await?
            .ok_or(PlatformError::NotFound("plan"))
    }

    /// Archives (`true`) or restores a feature; features are never deleted
    /// because plans and customers refer to them.
    pub async fn set_feature_archived(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &FeatureId,
        archived: bool,
    ) -> PlatformResult<FeatureRecord> {
        self.store()
            .scoped(tenant)
            .set_feature_archived(id, archived, ctx)
            .await?
            .ok_or(PlatformError::NotFound("feature"))
    }
}
