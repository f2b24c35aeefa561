//! `billforge tenant import <slug>`: pulls a Stripe account that already
//! sells (products, prices, customers, subscriptions) into Billforge.
//!
//! Each phase pages through one Stripe list, oldest pages last, and moves a
//! cursor (the last id it finished, in `platform_settings`) after every
//! object, so an interrupted import resumes where it stopped. Every write is
//! keyed by the Stripe id (a product already imported is not imported again,
//! the mirror upserts by Stripe id), so rerunning an import, finished or
//! not, creates nothing twice. A finished import clears its cursors, so the
//! next run walks the account again and picks up what changed.

use billing::catalog::{Interval, IntervalUnit, PriceModel, Tier, TierMode};
use billing::ids::{CustomerId, PlanId, TenantId};
use futures::StreamExt;
use store::catalog::{ImportedProduct, NewPlan};
use store::{Actor, AuditContext};
use stripe::{
    BillingScheme, ListCustomers, ListParams, ListPrices, ListProducts, ListSubscriptions,
    PriceType, RecurringInterval, RequestOptions, TiersMode, UsageType,
};

use crate::catalog::{PriceInput, new_price};
use crate::{Platform, PlatformError, PlatformResult};

/// The import's phases, in the order they run (prices need their products,
/// subscriptions their prices and customers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    /// Stripe products become plans.
    Products,
    /// Recurring prices become the plans' prices.
    Prices,
    /// Customers are mirrored.
    Customers,
    /// Subscriptions (all statuses) are mirrored and entitle their customers.
    Subscriptions,
}

impl ImportPhase {
    /// Every phase, in order.
    pub const ALL: [ImportPhase; 4] = [
        ImportPhase::Products,
        ImportPhase::Prices,
        ImportPhase::Customers,
        ImportPhase::Subscriptions,
    ];

    /// A lower-case name for progress lines and cursor keys.
    pub fn name(self) -> &'static str {
        match self {
            ImportPhase::Products => "products",
            ImportPhase::Prices => "prices",
            ImportPhase::Customers => "customers",
            ImportPhase::Subscriptions => "subscriptions",
        }
    }
}

/// What happened to one Stripe object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Written to Billforge (new, or its mirror refreshed).
    Imported,
    /// Already in Billforge from an earlier run: nothing written.
    AlreadyThere,
    /// Not importable, with the reason (e.g. a metered price).
    Skipped(String),
}

/// Receives the import's progress (the CLI draws a progress bar from it).
pub trait ImportProgress: Send + Sync {
    /// A phase starts; `resumed` when it continues an interrupted run.
    fn phase_started(&self, phase: ImportPhase, resumed: bool);
    /// One object of the phase was handled.
    fn object_done(&self, phase: ImportPhase, stripe_id: &str, outcome: &ImportOutcome);
    /// A phase finished.
    fn phase_finished(&self, phase: ImportPhase);
}

/// Counts of one phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhaseCounts {
    /// Objects written.
    pub imported: u64,
    /// Objects an earlier run had already imported.
    pub already_there: u64,
    /// Objects not importable, with their reason.
    pub skipped: Vec<(String, String)>,
}

/// What an import did, per phase (in [`ImportPhase::ALL`] order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Counts of each phase that ran.
    pub phases: Vec<(ImportPhase, PhaseCounts)>,
}

impl ImportReport {
    /// The counts of `phase` (zero when it did not run).
    pub fn of(&self, phase: ImportPhase) -> PhaseCounts {
        self.phases
            .iter()
            .find(|(ran, _)| *ran == phase)
            .map(|(_, counts)| counts.clone())
            .unwrap_or_default()
    }
}

/// The cursor value of a phase that finished in a run still in progress.
const PHASE_DONE: &str = "done";
/// Page size of the Stripe lists (Stripe's maximum).
const PAGE: u8 = 100;

impl Platform {
    /// Imports the tenant's connected Stripe account; see the module doc.
    pub async fn import_tenant(
        &self,
        tenant: &TenantId,
        progress: &dyn ImportProgress,
    ) -> PlatformResult<ImportReport> {
        let account = self.connected_account(tenant).await?;
        let mut report = ImportReport::default();
        for phase in ImportPhase::ALL {
            let key = format!("import.{tenant}.{}", phase.name());
            let cursor = self.store().platform_setting(&key).await?;
            if cursor.as_deref() == Some(PHASE_DONE) {
                continue;
            }
            let cursor = cursor.filter(|value| !value.is_empty());
            progress.phase_started(phase, cursor.is_some());
            let counts = self
                .import_phase(tenant, &account, phase, &key, cursor, progress)
                .await?;
            progress.phase_finished(phase);
            report.phases.push((phase, counts));
        }
        for phase in ImportPhase::ALL {
            let key = format!("import.{tenant}.{}", phase.name());
            self.set_cursor(&key, "").await?;
        }
        Ok(report)
    }

    /// Runs one phase from `cursor`, moving the cursor after each object.
    async fn import_phase(
        &self,
        tenant: &TenantId,
        account: &str,
        phase: ImportPhase,
        key: &str,
        cursor: Option<String>,
        progress: &dyn ImportProgress,
    ) -> PlatformResult<PhaseCounts> {
        let page = ListParams {
            limit: Some(PAGE),
            starting_after: cursor,
            ..ListParams::default()
        };
        let on_account = RequestOptions::new().on_account(account.to_owned());
        let mut counts = PhaseCounts::default();
        let ctx = AuditContext {
            actor: Actor::system(),
            request_id: format!("import:{tenant}"),
            now: self.now(),
        };
        macro_rules! walk {
            ($stream:expr, $import:ident) => {{
                let mut stream = $stream;
                while let Some(object) = stream.next().await {
                    let object = object?;
                    let outcome = self.$import(tenant, &object, &ctx).await?;
                    progress.object_done(phase, &object.id, &outcome);
                    match outcome {
                        ImportOutcome::Imported => counts.imported += 1,
                        ImportOutcome::AlreadyThere => counts.already_there += 1,
                        ImportOutcome::Skipped(reason) => {
                            counts.skipped.push((object.id.clone(), reason))
                        }
                    }
                    self.set_cursor(key, &object.id).await?;
                }
            }};
        }
        match phase {
            ImportPhase::Products => walk!(
                self.stripe()
                    .products()
                    .list(&ListProducts { active: None, page }, on_account),
                import_product
            ),
            ImportPhase::Prices => walk!(
                self.stripe().prices().list(
                    &ListPrices {
                        price_type: Some(PriceType::Recurring),
                        page: ListParams {
                            expand: vec!["data.tiers".to_owned()],
                            ..page
                        },
                        ..ListPrices::default()
                    },
                    on_account
                ),
                import_price
            ),
            ImportPhase::Customers => walk!(
                self.stripe().customers().list(
                    &ListCustomers {
                        page,
                        ..ListCustomers::default()
                    },
                    on_account
                ),
                import_customer
            ),
            ImportPhase::Subscriptions => walk!(
                self.stripe().subscriptions().list(
                    &ListSubscriptions {
                        status: Some("all".to_owned()),
                        page,
                        ..ListSubscriptions::default()
                    },
                    on_account
                ),
                import_subscription
            ),
        }
        self.set_cursor(key, PHASE_DONE).await?;
        Ok(counts)
    }

    /// Stores a cursor value, whatever it was.
    async fn set_cursor(&self, key: &str, value: &str) -> PlatformResult<()> {
        let current = self.store().platform_setting(key).await?;
        self.store()
            .swap_platform_setting(key, current.as_deref(), value, self.now())
            .await?;
        Ok(())
    }

    /// A product becomes a plan (archived if the product is).
    async fn import_product(
        &self,
        tenant: &TenantId,
        product: &stripe::Product,
        ctx: &AuditContext,
    ) -> PlatformResult<ImportOutcome> {
        let scope = self.store().scoped(tenant);
        if scope.plan_by_stripe_product(&product.id).await?.is_some() {
            return Ok(ImportOutcome::AlreadyThere);
        }
        let name = product.name.trim();
        if name.is_empty() {
            return Ok(ImportOutcome::Skipped("the product has no name".to_owned()));
        }
        scope
            .create_plan(
                NewPlan {
                    id: PlanId::generate().to_string(),
                    name: name.to_owned(),
                    trial_days: None,
                    prices: vec![],
                    imported_from: Some(ImportedProduct {
                        stripe_product_id: product.id.clone(),
                        archived: !product.active,
                    }),
                },
                ctx,
            )
            .await?;
        Ok(ImportOutcome::Imported)
    }

    /// A licensed recurring price becomes a price of its product's plan.
    async fn import_price(
        &self,
        tenant: &TenantId,
        price: &stripe::Price,
        ctx: &AuditContext,
    ) -> PlatformResult<ImportOutcome> {
        let scope = self.store().scoped(tenant);
        if scope.price_by_stripe_id(&price.id).await?.is_some() {
            return Ok(ImportOutcome::AlreadyThere);
        }
        let Some(product) = price
            .product
            .as_ref()
            .map(|product| product.id().to_owned())
        else {
            return Ok(ImportOutcome::Skipped(
                "the price has no product".to_owned(),
            ));
        };
        let Some(plan) = scope.plan_by_stripe_product(&product).await? else {
            return Ok(ImportOutcome::Skipped(format!(
                "its product {product} was not imported"
            )));
        };
        let input = match price_input(price) {
            Ok(input) => input,
            Err(reason) => return Ok(ImportOutcome::Skipped(reason)),
        };
        let mut new = match new_price(input) {
            Ok(new) => new,
            Err(err) => return Ok(ImportOutcome::Skipped(err.to_string())),
        };
        new.on_stripe = Some((price.id.clone(), price.active));
        let plan_id = PlanId::parse(&plan.id)
            .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
        scope.import_price(&plan_id, new, ctx).await?;
        Ok(ImportOutcome::Imported)
    }

    /// A customer is mirrored (refreshed if already there).
    async fn import_customer(
        &self,
        tenant: &TenantId,
        customer: &stripe::Customer,
        _ctx: &AuditContext,
    ) -> PlatformResult<ImportOutcome> {
        self.mirror_customer(tenant, customer).await?;
        Ok(ImportOutcome::Imported)
    }

    /// A subscription is mirrored and its customer's entitlements are
    /// recomputed (they are stored, so a check right after the import sees them).
    async fn import_subscription(
        &self,
        tenant: &TenantId,
        subscription: &stripe::Subscription,
        ctx: &AuditContext,
    ) -> PlatformResult<ImportOutcome> {
        let row = self.mirror_subscription(tenant, subscription).await?;
        let customer = CustomerId::parse(&row.customer_id)
            .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))?;
        let cause = format!(
            "import:{}:{}",
            subscription.id,
            ctx.now.timestamp_nanos_opt().unwrap_or_default()
        );
        self.recompute_entitlements(tenant, &customer, &cause)
            .await?;
        Ok(ImportOutcome::Imported)
    }
}

/// A Stripe price as the merchant would have described it here, or why it
/// cannot be one of our prices.
fn price_input(price: &stripe::Price) -> Result<PriceInput, String> {
    let recurring = price
        .recurring
        .as_ref()
        .ok_or_else(|| "one-time prices are not plan prices".to_owned())?;
    if matches!(recurring.usage_type, Some(UsageType::Metered)) {
        return Err("metered prices are not supported yet".to_owned());
    }
    let unit = match &recurring.interval {
        Some(RecurringInterval::Day) => IntervalUnit::Day,
        Some(RecurringInterval::Week) => IntervalUnit::Week,
        Some(RecurringInterval::Month) => IntervalUnit::Month,
        Some(RecurringInterval::Year) => IntervalUnit::Year,
        other => return Err(format!("unknown interval {other:?}")),
    };
    let count = u16::try_from(recurring.interval_count.max(1))
        .map_err(|_| "interval count out of range".to_owned())?;
    let interval = Interval::new(unit, count).map_err(|err| err.to_string())?;
    let model = match &price.billing_scheme {
        Some(BillingScheme::Tiered) => {
            let mode = match &price.tiers_mode {
                Some(TiersMode::Volume) => TierMode::Volume,
                Some(TiersMode::Graduated) => TierMode::Graduated,
                other => return Err(format!("unknown tiers mode {other:?}")),
            };
            let tiers = price
                .tiers
                .as_ref()
                .ok_or_else(|| "tiers were not returned".to_owned())?
                .iter()
                .map(|tier| Tier {
                    up_to: tier.up_to,
                    unit_amount_minor: tier.unit_amount.unwrap_or(0),
                    flat_amount_minor: tier.flat_amount.unwrap_or(0),
                })
                .collect();
            PriceModel::Tiered { mode, tiers }
        }
        _ => PriceModel::PerSeat {
            unit_amount_minor: price
                .unit_amount
                .ok_or_else(|| "a per-unit price without an amount".to_owned())?,
        },
    };
    Ok(PriceInput {
        currency: price.currency.clone(),
        price_type: billing::catalog::PriceType::Recurring { interval },
        model,
        lookup_key: price.lookup_key.clone(),
    })
}
