//! The tenant's catalog: plans, prices and features, and their sync to Stripe.
//!
//! So far: features (flags and limits, found by a stable `lookup_key`),
//! validated by `billing::entitlements`, and plans with their prices,
//! validated by `billing::catalog`; all stored tenant-scoped and audited.
//! A plan change stores the rows `pending` and enqueues a `catalog.sync` job
//! that pushes the product and prices to the tenant's connected account
//! with idempotency keys derived from our ids, so a rerun creates nothing
//! twice; a failure is recorded on the plan (visible) and retried.

use std::sync::Arc;

use billing::catalog::{
    Interval, IntervalUnit, Plan, PlanSpec, Price, PriceModel, PriceSpec, PriceType, TierMode,
};
use billing::entitlements::{Feature, FeatureGrant, FeatureKind, GrantValue, LookupKey};
use billing::ids::{FeatureId, PlanId, PriceId, TenantId};
use billing::money::Currency;
use serde::{Deserialize, Serialize};
use store::catalog::{NewFeature, NewPlan, NewPrice};
use store::{Actor, AuditContext, Job, StoreError};
use stripe::{
    BillingScheme, CreatePrice, CreateProduct, Metadata, PriceRecurringParams, PriceTierParams,
    RecurringInterval, RequestOptions, TiersMode, UpTo, UpdatePrice, UpdateProduct,
};

use crate::jobs::{JobError, JobFuture, JobHandlers};
use crate::{Platform, PlatformError, PlatformResult};

pub use store::catalog::{FeatureRecord, GrantRecord, PlanRecord, PriceRecord, SyncStatus};

/// A price as the merchant describes it.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// ISO currency code (`usd`, `EUR`…).
    pub currency: String,
    /// Every interval (subscriptions) or once (payment-mode checkout).
    pub price_type: PriceType,
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
pub(crate) fn new_price(input: PriceInput) -> PlatformResult<NewPrice> {
    let currency = Currency::parse(&input.currency)
        .map_err(|err| PlatformError::invalid("currency", err.to_string()))?;
    if let Some(key) = &input.lookup_key {
        LookupKey::parse(key)
            .map_err(|err| PlatformError::invalid("lookup_key", err.to_string()))?;
    }
    let price = Price::try_from(PriceSpec {
        id: PriceId::generate(),
        currency,
        price_type: input.price_type,
        model: input.model,
        archived: false,
    })
    .map_err(|err| PlatformError::invalid("prices", err.to_string()))?;
    let (interval_unit, interval_count) = match price.price_type() {
        PriceType::Recurring { interval } => {
            let unit = serde_json::to_value(interval.unit())
                .ok()
                .and_then(|unit| unit.as_str().map(str::to_owned))
                .ok_or_else(|| PlatformError::Internal("encoding an interval unit".to_owned()))?;
            (Some(unit), Some(i32::from(interval.count())))
        }
        PriceType::OneTime => (None, None),
    };
    Ok(NewPrice {
        id: price.id().to_string(),
        model: serde_json::to_string(price.model())
            .map_err(|err| PlatformError::Internal(format!("encoding a price model: {err}")))?,
        currency: currency.code().to_owned(),
        interval_unit,
        interval_count,
        lookup_key: input.lookup_key,
        on_stripe: None,
    })
}

/// The longest feature name accepted (as Stripe's product names).
const MAX_NAME_CHARS: usize = 250;

/// The job kind that pushes a plan to Stripe.
pub const SYNC_JOB: &str = "catalog.sync";

/// What a `catalog.sync` job carries.
#[derive(Debug, Serialize, Deserialize)]
struct SyncPayload {
    /// The plan's tenant.
    tenant_id: String,
    /// The plan to push.
    plan_id: String,
}

/// Registers this module's kinds of background work.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        SYNC_JOB,
        Arc::new(|platform: Platform, job: Job| {
            Box::pin(async move {
                let payload: SyncPayload = serde_json::from_str(&job.payload).map_err(|err| {
                    JobError::Permanent(format!("bad catalog.sync payload: {err}"))
                })?;
                let tenant = TenantId::parse(&payload.tenant_id)
                    .map_err(|err| JobError::Permanent(format!("bad tenant id: {err}")))?;
                let plan = PlanId::parse(&payload.plan_id)
                    .map_err(|err| JobError::Permanent(format!("bad plan id: {err}")))?;
                match platform.sync_plan(&tenant, &plan).await {
                    Ok(()) => Ok(()),
                    Err(PlatformError::NotFound(_)) => {
                        Err(JobError::Permanent("plan is gone".into()))
                    }
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }) as JobFuture
        }),
    );
}

/// Stripe's recurring interval of a unit.
fn recurring_interval(unit: IntervalUnit) -> RecurringInterval {
    match unit {
        IntervalUnit::Day => RecurringInterval::Day,
        IntervalUnit::Week => RecurringInterval::Week,
        IntervalUnit::Month => RecurringInterval::Month,
        IntervalUnit::Year => RecurringInterval::Year,
    }
}

/// A stored price's type: both interval columns for a recurring price,
/// neither for a one-time one.
pub fn stored_price_type(price: &PriceRecord) -> PlatformResult<PriceType> {
    let internal = |err: String| PlatformError::Internal(format!("stored price interval: {err}"));
    match (&price.interval_unit, price.interval_count) {
        (Some(unit), Some(count)) => {
            let unit: IntervalUnit =
                serde_json::from_value(serde_json::Value::String(unit.clone()))
                    .map_err(|err| internal(err.to_string()))?;
            let count = u16::try_from(count).map_err(|err| internal(err.to_string()))?;
            let interval = Interval::new(unit, count).map_err(|err| internal(err.to_string()))?;
            Ok(PriceType::Recurring { interval })
        }
        (None, None) => Ok(PriceType::OneTime),
        _ => Err(internal(format!("price {} has half an interval", price.id))),
    }
}

/// A stored price as the domain's [`Price`].
pub(crate) fn domain_price(record: &PriceRecord) -> PlatformResult<Price> {
    let internal = |what: &str, err: String| PlatformError::Internal(format!("{what}: {err}"));
    let model: PriceModel = serde_json::from_str::<PriceModel>(&record.model)
        .map_err(|err| internal("stored price model", err.to_string()))?;
    Price::try_from(PriceSpec {
        id: PriceId::parse(&record.id)
            .map_err(|err| internal("stored price id", err.to_string()))?,
        currency: Currency::parse(&record.currency)
            .map_err(|err| internal("stored currency", err.to_string()))?,
        price_type: stored_price_type(record)?,
        model,
        archived: record.archived,
    })
    .map_err(|err| internal("stored price", err.to_string()))
}

/// The `POST /v1/prices` of a stored price on `product`: with `recurring`
/// for a recurring price, without for a one-time one (Stripe then makes it
/// `type=one_time`).
fn create_price_params(price: &PriceRecord, product: &str) -> PlatformResult<CreatePrice> {
    let model: PriceModel = serde_json::from_str(&price.model)
        .map_err(|err| PlatformError::Internal(format!("stored price model: {err}")))?;
    let recurring = match stored_price_type(price)? {
        PriceType::Recurring { interval } => Some(PriceRecurringParams {
            interval: recurring_interval(interval.unit()),
            interval_count: Some(u32::from(interval.count())),
        }),
        PriceType::OneTime => None,
    };
    let mut params = CreatePrice {
        product: Some(product.to_owned()),
        currency: price.currency.clone(),
        recurring,
        lookup_key: price.lookup_key.clone(),
        metadata: Metadata::from([("price_id".to_owned(), price.id.clone())]),
        ..CreatePrice::default()
    };
    match model {
        PriceModel::Flat {
            amount_minor: unit_amount,
        }
        | PriceModel::PerSeat {
            unit_amount_minor: unit_amount,
        } => {
            params.unit_amount = Some(unit_amount);
        }
        PriceModel::Tiered { mode, tiers } => {
            params.billing_scheme = Some(BillingScheme::Tiered);
            params.tiers_mode = Some(match mode {
                TierMode::Volume => TiersMode::Volume,
                TierMode::Graduated => TiersMode::Graduated,
            });
            params.tiers = tiers
                .iter()
                .map(|tier| PriceTierParams {
                    up_to: tier.up_to.map_or(UpTo::Infinity, UpTo::Quantity),
                    unit_amount: Some(tier.unit_amount_minor),
                    flat_amount: Some(tier.flat_amount_minor),
                })
                .collect();
        }
    }
    Ok(params)
}

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

/// A plan's own details checked by `billing::catalog`; errors name the
/// request field at fault, so forms and the API's `param` point at it.
fn valid_plan(id: PlanId, name: String, trial_days: Option<u16>) -> PlatformResult<Plan> {
    Plan::try_from(PlanSpec {
        id,
        name,
        archived: false,
        trial_days,
        prices: vec![],
        grants: vec![],
    })
    .map_err(|err| {
        let field = match err {
            billing::catalog::CatalogError::TrialDaysOutOfRange { .. } => "trial_days",
            _ => "name",
        };
        PlatformError::invalid(field, err.to_string())
    })
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
        let plan = valid_plan(PlanId::generate(), input.name, input.trial_days)?;
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
            imported_from: None,
        };
        let created = self
            .store()
            .scoped(tenant)
            .create_plan(new_plan, ctx)
            .await?;
        self.enqueue_plan_sync(tenant, &created).await?;
        self.plan(tenant, plan.id()).await
    }

    /// Enqueues the Stripe sync of a plan's current version (one job per
    /// version, so a rerun of the same change is deduplicated).
    async fn enqueue_plan_sync(&self, tenant: &TenantId, plan: &PlanRecord) -> PlatformResult<()> {
        let payload = SyncPayload {
            tenant_id: tenant.to_string(),
            plan_id: plan.id.clone(),
        };
        let dedupe = format!("{SYNC_JOB}:{}:{}", plan.id, plan.version);
        self.enqueue_job(SYNC_JOB, &payload, Some(tenant), Some(dedupe))
            .await?;
        Ok(())
    }

    /// Pushes a plan to the tenant's connected account: the product first,
    /// then its prices (a price never goes up without its product), then
    /// archivals. Every call is idempotent: ids already recorded are not
    /// created again, and creation keys are derived from our ids. The
    /// outcome is recorded on the plan; errors are returned for the retry.
    pub async fn sync_plan(&self, tenant: &TenantId, id: &PlanId) -> PlatformResult<()> {
        let details = self.plan(tenant, id).await?;
        let ctx = AuditContext {
            actor: Actor::system(),
            request_id: format!("{SYNC_JOB}:{id}"),
            now: self.now(),
        };
        let outcome = self.push_plan(tenant, &details).await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        self.store()
            .scoped(tenant)
            .finish_plan_sync(id, details.plan.version, error, &ctx)
            .await?;
        outcome
    }

    /// The Stripe calls of [`Platform::sync_plan`].
    async fn push_plan(&self, tenant: &TenantId, details: &PlanDetails) -> PlatformResult<()> {
        let account = self.connected_account(tenant).await?;
        let on_account = || RequestOptions::new().on_account(account.clone());
        let scope = self.store().scoped(tenant);
        let plan = &details.plan;
        let plan_id = PlanId::parse(&plan.id)
            .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
        let product = match &plan.stripe_product_id {
            Some(product) => {
                let update = UpdateProduct {
                    name: Some(plan.name.clone()),
                    active: Some(!plan.archived),
                    ..UpdateProduct::default()
                };
                let key = format!("product-update:{}:{}", plan.id, plan.version);
                self.stripe()
                    .products()
                    .update(product, &update, on_account().idempotency_key(key))
                    .await?;
                product.clone()
            }
            None => {
                let create = CreateProduct {
                    name: plan.name.clone(),
                    active: Some(!plan.archived),
                    metadata: Metadata::from([("plan_id".to_owned(), plan.id.clone())]),
                    ..CreateProduct::default()
                };
                let key = format!("product-create:{}", plan.id);
                let created = self
                    .stripe()
                    .products()
                    .create(&create, on_account().idempotency_key(key))
                    .await?;
                scope.record_plan_product(&plan_id, &created.id).await?;
                created.id
            }
        };
        for price in &details.prices {
            // A price is created active on Stripe.
            let (stripe_id, stripe_active) = match &price.stripe_price_id {
                Some(stripe_id) => (stripe_id.clone(), price.stripe_active),
                None => {
                    let key = format!("price-create:{}", price.id);
                    let created = self
                        .stripe()
                        .prices()
                        .create(
                            &create_price_params(price, &product)?,
                            on_account().idempotency_key(key),
                        )
                        .await?;
                    scope
                        .record_price_on_stripe(&price.id, &created.id, true)
                        .await?;
                    (created.id, true)
                }
            };
            // Archived here but active there, or restored here: Stripe follows.
            if price.archived == stripe_active {
                let active = !price.archived;
                let change = UpdatePrice {
                    active: Some(active),
                    ..UpdatePrice::default()
                };
                // Per plan version: a price can be archived, restored and
                // archived again, and each is a new request.
                let verb = if active { "restore" } else { "archive" };
                let key = format!("price-{verb}:{}:{}", price.id, plan.version);
                self.stripe()
                    .prices()
                    .update(&stripe_id, &change, on_account().idempotency_key(key))
                    .await?;
                scope
                    .record_price_on_stripe(&price.id, &stripe_id, active)
                    .await?;
            }
        }
        Ok(())
    }

    /// Adds a price to a plan, offered to new subscribers from now on.
    pub async fn add_price(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        plan: &PlanId,
        input: PriceInput,
    ) -> PlatformResult<PlanDetails> {
        self.store_price(tenant, ctx, plan, input, None).await
    }

    /// Changes a price: Stripe prices are immutable, so a new price replaces
    /// `old`, which is archived and keeps billing its subscribers
    /// (grandfathering) until the merchant migrates them.
    pub async fn change_price(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        plan: &PlanId,
        old: &PriceId,
        input: PriceInput,
    ) -> PlatformResult<PlanDetails> {
        self.store_price(tenant, ctx, plan, input, Some(old)).await
    }

    /// Validates and stores a new price (superseding `old` if given), then
    /// enqueues the plan's sync.
    async fn store_price(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        plan: &PlanId,
        input: PriceInput,
        old: Option<&PriceId>,
    ) -> PlatformResult<PlanDetails> {
        let new_price = new_price(input)?;
        let updated = self
            .store()
            .scoped(tenant)
            .add_price(plan, new_price, old.map(PriceId::as_str), ctx)
            .await?
            .ok_or(PlatformError::NotFound(if old.is_some() {
                "price"
            } else {
                "plan"
            }))?;
        self.enqueue_plan_sync(tenant, &updated).await?;
        self.plan(tenant, plan).await
    }

    /// Grants a feature to a plan (`seats = 10`, `sso` on…); the value must
    /// fit the feature's kind. Both must be the tenant's (`not_found`).
    pub async fn grant_feature(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        plan: &PlanId,
        feature: &FeatureId,
        value: GrantValue,
    ) -> PlatformResult<Vec<GrantRecord>> {
        self.plan(tenant, plan).await?;
        let record = self.feature(tenant, feature).await?;
        let domain = Feature {
            id: feature.clone(),
            lookup_key: LookupKey::parse(&record.lookup_key)
                .map_err(|err| PlatformError::Internal(format!("stored lookup key: {err}")))?,
            name: record.name,
            kind: serde_json::from_str(&record.kind)
                .map_err(|err| PlatformError::Internal(format!("stored feature kind: {err}")))?,
        };
        let grant = FeatureGrant::new(&domain, value)
            .map_err(|err| PlatformError::invalid("value", err.to_string()))?;
        let value = serde_json::to_string(&grant.value())
            .map_err(|err| PlatformError::Internal(format!("encoding a grant: {err}")))?;
        let scope = self.store().scoped(tenant);
        scope.grant_feature(plan, feature, value, ctx).await?;
        let cause = format!(
            "grant:{plan}:{feature}:{}",
            ctx.now.timestamp_nanos_opt().unwrap_or_default()
        );
        self.recompute_plan_customers(tenant, plan, &cause).await?;
        Ok(scope.grants_of(plan).await?)
    }

    /// The features a plan grants; another tenant's plan is `not_found`.
    pub async fn plan_grants(
        &self,
        tenant: &TenantId,
        plan: &PlanId,
    ) -> PlatformResult<Vec<GrantRecord>> {
        self.plan(tenant, plan).await?;
        Ok(self.store().scoped(tenant).grants_of(plan).await?)
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

    /// Renames a plan and sets its trial (for new subscriptions); Stripe's
    /// product follows through the sync.
    pub async fn update_plan(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &PlanId,
        name: String,
        trial_days: Option<u16>,
    ) -> PlatformResult<PlanDetails> {
        let plan = valid_plan(id.clone(), name, trial_days)?;
        let updated = self
            .store()
            .scoped(tenant)
            .update_plan(
                id,
                plan.name().to_owned(),
                plan.trial_days().map(i32::from),
                ctx,
            )
            .await?
            .ok_or(PlatformError::NotFound("plan"))?;
        self.enqueue_plan_sync(tenant, &updated).await?;
        self.plan(tenant, id).await
    }

    /// Archives (`true`) or restores one price of a plan: an archived price
    /// keeps billing its subscribers but is offered to nobody new, and is
    /// deactivated on Stripe; restoring reactivates it.
    pub async fn set_price_archived(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        plan: &PlanId,
        price: &PriceId,
        archived: bool,
    ) -> PlatformResult<PlanDetails> {
        let updated = self
            .store()
            .scoped(tenant)
            .set_price_archived(plan, price.as_str(), archived, ctx)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        self.enqueue_plan_sync(tenant, &updated).await?;
        self.plan(tenant, plan).await
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
        let plan = self
            .store()
            .scoped(tenant)
            .set_plan_archived(id, archived, ctx)
            .await?
            .ok_or(PlatformError::NotFound("plan"))?;
        if plan.sync_status == SyncStatus::Pending {
            self.enqueue_plan_sync(tenant, &plan).await?;
        }
        Ok(plan)
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
