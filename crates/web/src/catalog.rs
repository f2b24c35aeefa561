//! The merchant's catalog editor: plans with their prices and granted
//! features, and the features catalog. Every change goes through the same
//! `platform::catalog` calls as `/v1/plans` and `/v1/features`, so
//! validation, audit and the Stripe sync are the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use billing::catalog::{Interval, PriceModel, PriceType, Tier, TierMode};
use billing::entitlements::{FeatureKind, GrantValue, LimitReset};
use billing::ids::{FeatureId, PlanId, PriceId};
use billing::money::{Currency, Money};
use platform::catalog::{
    FeatureRecord, GrantRecord, PlanDetails, PlanInput, PlanRecord, PriceInput, PriceRecord,
    SyncStatus,
};
use platform::records::AuditContext;
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, MerchantUser, TokenOnly};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Merchant get "/dashboard/plans" => plans_page,
    Merchant post "/dashboard/plans" => create_plan,
    Merchant get "/dashboard/plans/{id}" => plan_page,
    Merchant post "/dashboard/plans/{id}" => update_plan,
    Merchant post "/dashboard/plans/{id}/prices/{price}/{action:(archive|unarchive)}" => set_price_archived,
    Merchant post "/dashboard/plans/{id}/prices" => add_price,
    Merchant post "/dashboard/plans/{id}/grants" => grant_feature,
    Merchant post "/dashboard/plans/{id}/{action:(archive|unarchive)}" => set_plan_archived,
    Merchant post "/dashboard/features" => create_feature,
    Merchant post "/dashboard/features/{id}/{action:(archive|unarchive)}" => set_feature_archived,
];

/// A price as typed in a form: amounts in major units (`12.00`), tiers one
/// per line.
#[derive(Deserialize, Clone)]
pub(crate) struct PriceFields {
    /// ISO code.
    #[serde(default = "default_currency")]
    currency: String,
    /// `month` or `year`.
    #[serde(default = "default_interval")]
    interval: String,
    /// `flat`, `per_seat` or `tiered` (volume).
    #[serde(default = "default_pricing")]
    pricing: String,
    /// Flat or per-seat amount, major units.
    #[serde(default)]
    amount: String,
    /// Volume tiers: `up_to unit_amount [flat_amount]` per line, the last
    /// `up_to` being `inf`.
    #[serde(default)]
    tiers: String,
}

fn default_currency() -> String {
    "usd".to_owned()
}

fn default_interval() -> String {
    "month".to_owned()
}

fn default_pricing() -> String {
    "flat".to_owned()
}

impl Default for PriceFields {
    fn default() -> Self {
        Self {
            currency: default_currency(),
            interval: default_interval(),
            pricing: default_pricing(),
            amount: String::new(),
            tiers: String::new(),
        }
    }
}

/// An amount typed in major units, in minor units.
fn minor_units(raw: &str, currency: Currency, field: &'static str) -> Result<i64, PlatformError> {
    if raw.trim().is_empty() {
        return Err(PlatformError::invalid(
            field,
            format!("enter an amount, like {}", Money::new(1200, currency)),
        ));
    }
    Money::parse_major(raw, currency)
        .map(|money| money.amount_minor)
        .map_err(|err| PlatformError::invalid(field, err.to_string()))
}

/// Volume tiers typed one per line: `up_to unit_amount [flat_amount]`.
fn parse_tiers(raw: &str, currency: Currency) -> Result<Vec<Tier>, PlatformError> {
    let lines = raw.lines().map(str::trim).filter(|line| !line.is_empty());
    lines
        .enumerate()
        .map(|(index, line)| {
            let malformed = || {
                PlatformError::invalid(
                    "tiers",
                    format!(
                        "line {}: write the tier's top quantity and unit amount, like `10 5.00`, with `inf` on the last line",
                        index + 1
                    ),
                )
            };
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (up_to, unit, flat) = match parts.as_slice() {
                [up_to, unit] => (up_to, unit, None),
                [up_to, unit, flat] => (up_to, unit, Some(flat)),
                _ => return Err(malformed()),
            };
            let up_to = match *up_to {
                "inf" => None,
                number => Some(number.parse::<u64>().map_err(|_| malformed())?),
            };
            Ok(Tier {
                up_to,
                unit_amount_minor: minor_units(unit, currency, "tiers")?,
                flat_amount_minor: flat
                    .map(|flat| minor_units(flat, currency, "tiers"))
                    .transpose()?
                    .unwrap_or(0),
            })
        })
        .collect()
}

impl PriceFields {
    /// The platform's price input; amounts and tiers are checked for form
    /// syntax here, everything else by the platform.
    fn to_input(&self) -> Result<PriceInput, PlatformError> {
        let currency = Currency::parse(&self.currency)
            .map_err(|err| PlatformError::invalid("currency", err.to_string()))?;
        let interval = match self.interval.as_str() {
            "month" => Interval::monthly(),
            "year" => Interval::yearly(),
            _ => {
                return Err(PlatformError::invalid(
                    "interval",
                    "choose monthly or yearly",
                ));
            }
        };
        let model = match self.pricing.as_str() {
            "flat" => PriceModel::Flat {
                amount_minor: minor_units(&self.amount, currency, "amount")?,
            },
            "per_seat" => PriceModel::PerSeat {
                unit_amount_minor: minor_units(&self.amount, currency, "amount")?,
            },
            "tiered" => PriceModel::Tiered {
                mode: TierMode::Volume,
                tiers: parse_tiers(&self.tiers, currency)?,
            },
            _ => {
                return Err(PlatformError::invalid(
                    "pricing",
                    "choose flat, per seat or tiered",
                ));
            }
        };
        Ok(PriceInput {
            currency: currency.code().to_owned(),
            price_type: PriceType::Recurring { interval },
            model,
            lookup_key: None,
        })
    }

    /// The input of this form a platform price field refers to.
    fn place(&self, field: &'static str) -> &'static str {
        match field {
            "prices" if self.pricing == "tiered" => "tiers",
            "prices" => "amount",
            other => other,
        }
    }
}

/// The "new plan" form: a name, an optional trial and the first price.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct PlanForm {
    /// Shown to customers.
    #[serde(default)]
    name: String,
    /// Free days before the first charge; empty for none.
    #[serde(default)]
    trial_days: String,
    /// The first price.
    #[serde(flatten)]
    price: PriceFields,
}

impl PlanForm {
    fn to_input(&self) -> Result<PlanInput, PlatformError> {
        Ok(PlanInput {
            name: self.name.clone(),
            trial_days: trial_days(&self.trial_days)?,
            prices: vec![self.price.to_input()?],
        })
    }
}

/// The "edit plan" form: name and trial.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct DetailsForm {
    /// Shown to customers.
    #[serde(default)]
    name: String,
    /// Free days before the first charge; empty for none.
    #[serde(default)]
    trial_days: String,
}

/// Trial days as typed: empty for none.
fn trial_days(raw: &str) -> Result<Option<u16>, PlatformError> {
    match raw.trim() {
        "" => Ok(None),
        days => days.parse::<u16>().map(Some).map_err(|_| {
            PlatformError::invalid("trial_days", "trial days are a whole number, like 14")
        }),
    }
}

/// The "add price" form of a plan.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct PriceForm {
    /// The price.
    #[serde(flatten)]
    price: PriceFields,
}

/// The "new feature" form.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct FeatureForm {
    /// What the merchant's code checks.
    #[serde(default)]
    lookup_key: String,
    /// Display name.
    #[serde(default)]
    name: String,
    /// `flag`, `limit` or `quota` (a limit reset each billing period).
    #[serde(default)]
    kind: String,
}

impl FeatureForm {
    fn kind(&self) -> Result<FeatureKind, PlatformError> {
        match self.kind.as_str() {
            "flag" => Ok(FeatureKind::Flag),
            "limit" => Ok(FeatureKind::Limit {
                reset: LimitReset::Never,
            }),
            "quota" => Ok(FeatureKind::Limit {
                reset: LimitReset::EachBillingPeriod,
            }),
            _ => Err(PlatformError::invalid(
                "kind",
                "choose on/off, a limit, or a quota per billing period",
            )),
        }
    }
}

/// The "grant a feature" form of a plan.
#[derive(Deserialize, Clone, Default)]
pub(crate) struct GrantForm {
    /// The `feat_…` id.
    #[serde(default)]
    feature: String,
    /// The limit for a limit feature: a number, `unlimited`, or empty for a
    /// flag.
    #[serde(default)]
    limit: String,
}

impl GrantForm {
    fn value(&self) -> Result<GrantValue, PlatformError> {
        match self.limit.trim() {
            "" => Ok(GrantValue::Enabled),
            "unlimited" => Ok(GrantValue::Unlimited),
            number => number.parse::<i64>().map(GrantValue::Limit).map_err(|_| {
                PlatformError::invalid(
                    "limit",
                    "a limit is a whole number or `unlimited`; leave it empty for an on/off feature",
                )
            }),
        }
    }
}

/// A price as the editor lists it.
pub struct PriceRow {
    /// The stored price.
    pub record: PriceRecord,
    /// What it charges, in words (`$12.00 per seat`).
    pub charges: String,
}

/// A feature grant as the editor lists it.
pub struct GrantRow {
    /// The feature's display name.
    pub feature: String,
    /// Its lookup key.
    pub lookup_key: String,
    /// The granted value in words.
    pub value: String,
}

/// `/dashboard/plans`.
#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    /// Shared layout.
    layout: Layout,
    /// The tenant's plans, oldest first.
    plans: Vec<PlanRecord>,
    /// The features catalog.
    features: Vec<FeatureView>,
    /// The "new plan" form's values.
    plan_form: PlanForm,
    /// Why the "new plan" form was refused.
    plan_errors: FieldErrors,
    /// The "new feature" form's values.
    feature_form: FeatureForm,
    /// Why the "new feature" form was refused.
    feature_errors: FieldErrors,
}

/// Whether Stripe has caught up with a plan, in words.
fn sync_word(plan: &PlanRecord) -> &'static str {
    match plan.sync_status {
        SyncStatus::Pending => "pending",
        SyncStatus::Synced => "synced",
        SyncStatus::Failed => "failed (retrying)",
    }
}

impl PlansPage {
    fn sync_word(&self, plan: &PlanRecord) -> &'static str {
        sync_word(plan)
    }
}

impl PlanPage {
    fn sync_word(&self, plan: &PlanRecord) -> &'static str {
        sync_word(plan)
    }
}

/// A feature with its kind in words.
pub struct FeatureView {
    /// The stored feature.
    pub record: FeatureRecord,
    /// `on/off`, `limit` or `quota per billing period`.
    pub kind: &'static str,
}

/// `/dashboard/plans/{id}`.
#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    /// Shared layout.
    layout: Layout,
    /// The plan.
    plan: PlanRecord,
    /// Its prices, archived ones included.
    prices: Vec<PriceRow>,
    /// What it grants.
    grants: Vec<GrantRow>,
    /// Features that can be granted (not archived).
    features: Vec<FeatureView>,
    /// The "edit plan" form's values (the stored ones unless refused).
    details_form: DetailsForm,
    /// Why the "edit plan" form was refused.
    details_errors: FieldErrors,
    /// The "add price" form's values.
    price_form: PriceFields,
    /// Why the "add price" form was refused.
    price_errors: FieldErrors,
    /// The "grant" form's values.
    grant_form: GrantForm,
    /// Why the "grant" form was refused.
    grant_errors: FieldErrors,
}

/// What a plan's page shows in its forms: blank (or stored) values, or the
/// one refused form's values and error.
#[derive(Default)]
struct PlanForms {
    /// The "edit plan" form, `None` for the stored values.
    details: Option<(DetailsForm, FieldErrors)>,
    /// The "add price" form.
    price: (PriceFields, FieldErrors),
    /// The "grant" form.
    grant: (GrantForm, FieldErrors),
}

/// Stored JSON the platform wrote; bad JSON is a bug.
fn decode<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T, PlatformError> {
    serde_json::from_str(raw)
        .map_err(|err| PlatformError::Internal(format!("stored {what}: {err}")))
}

fn feature_view(record: FeatureRecord) -> Result<FeatureView, PlatformError> {
    let kind = match decode::<FeatureKind>("feature kind", &record.kind)? {
        FeatureKind::Flag => "on/off",
        FeatureKind::Limit {
            reset: LimitReset::Never,
        } => "limit",
        FeatureKind::Limit {
            reset: LimitReset::EachBillingPeriod,
        } => "quota per billing period",
    };
    Ok(FeatureView { record, kind })
}

/// What a price charges, in words.
fn describe_price(record: &PriceRecord) -> Result<String, PlatformError> {
    let currency = Currency::parse(&record.currency)
        .map_err(|err| PlatformError::Internal(format!("stored currency: {err}")))?;
    let money = |minor| Money::new(minor, currency);
    // Both interval columns are null exactly for a one-time price.
    let every = match (&record.interval_unit, record.interval_count) {
        (Some(unit), Some(1)) => unit.clone(),
        (Some(unit), Some(count)) => format!("{count} {unit}s"),
        _ => "once".to_owned(),
    };
    let amount = match decode::<PriceModel>("price model", &record.model)? {
        PriceModel::Flat { amount_minor } => format!("{}", money(amount_minor)),
        PriceModel::PerSeat { unit_amount_minor } => {
            format!("{} per seat", money(unit_amount_minor))
        }
        PriceModel::Tiered { mode, tiers } => {
            let steps: Vec<String> = tiers
                .iter()
                .map(|tier| {
                    let upto = tier
                        .up_to
                        .map_or_else(|| "above".to_owned(), |n| format!("up to {n}"));
                    let flat = if tier.flat_amount_minor > 0 {
                        format!(" + {}", money(tier.flat_amount_minor))
                    } else {
                        String::new()
                    };
                    format!("{upto}: {} each{flat}", money(tier.unit_amount_minor))
                })
                .collect();
            let mode = match mode {
                TierMode::Volume => "volume",
                TierMode::Graduated => "graduated",
            };
            format!("{mode} tiers ({})", steps.join("; "))
        }
    };
    Ok(format!("{amount} every {every}"))
}

fn describe_grant(value: GrantValue) -> String {
    match value {
        GrantValue::Enabled => "on".to_owned(),
        GrantValue::Limit(limit) => format!("up to {limit}"),
        GrantValue::Unlimited => "unlimited".to_owned(),
    }
}

fn feature_views(records: Vec<FeatureRecord>) -> Result<Vec<FeatureView>, PlatformError> {
    records.into_iter().map(feature_view).collect()
}

fn plan_id(raw: &str) -> Result<PlanId, PlatformError> {
    PlanId::parse(raw).map_err(|_| PlatformError::NotFound("plan"))
}

fn feature_id(raw: &str) -> Result<FeatureId, PlatformError> {
    FeatureId::parse(raw).map_err(|_| PlatformError::NotFound("feature"))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}

/// The audit context of a merchant's change.
fn merchant_ctx(browser: &Browser) -> Result<(billing::ids::TenantId, AuditContext), WebError> {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let ctx = browser
        .platform()
        .audit_context(signed_in.actor()?, &RequestId::current_or_new());
    Ok((tenant_id, ctx))
}

/// Renders the plans list with the two forms' values and errors.
async fn render_plans(
    browser: &Browser,
    status: StatusCode,
    (plan_form, plan_errors): (PlanForm, FieldErrors),
    (feature_form, feature_errors): (FeatureForm, FieldErrors),
) -> PageResult {
    let (_, tenant_id) = browser.require_merchant()?;
    let platform = browser.platform();
    let plans = platform.plans(&tenant_id).await?;
    let features = feature_views(platform.features(&tenant_id).await?)?;
    browser.page(
        status,
        &PlansPage {
            layout: browser.layout(),
            plans,
            features,
            plan_form,
            plan_errors,
            feature_form,
            feature_errors,
        },
    )
}

/// `GET /dashboard/plans`.
async fn plans_page(user: MerchantUser) -> PageResult {
    render_plans(
        &user.browser,
        StatusCode::OK,
        (PlanForm::default(), FieldErrors::none()),
        (FeatureForm::default(), FieldErrors::none()),
    )
    .await
    .map_err(|err| err.with_browser(&user.browser))
}

/// `POST /dashboard/plans`: creates the plan and opens it, or shows the
/// form again with the problem beside the field.
async fn create_plan(CsrfForm { form, browser }: CsrfForm<PlanForm>) -> PageResult {
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let created = match form.to_input() {
            Ok(input) => {
                browser
                    .platform()
                    .create_plan(&tenant_id, &ctx, input)
                    .await
            }
            Err(err) => Err(err),
        };
        match created {
            Ok(details) => Ok(see_other(&format!("/dashboard/plans/{}", details.plan.id))),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| form.price.place(field))?;
                render_plans(
                    &browser,
                    REFUSED,
                    (form.clone(), errors),
                    (FeatureForm::default(), FieldErrors::none()),
                )
                .await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// `POST /dashboard/features`.
async fn create_feature(CsrfForm { form, browser }: CsrfForm<FeatureForm>) -> PageResult {
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let created = match form.kind() {
            Ok(kind) => {
                browser
                    .platform()
                    .create_feature(&tenant_id, &ctx, &form.lookup_key, &form.name, kind)
                    .await
            }
            Err(err) => Err(err),
        };
        match created {
            Ok(_) => Ok(see_other("/dashboard/plans#features")),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| field)?;
                render_plans(
                    &browser,
                    REFUSED,
                    (PlanForm::default(), FieldErrors::none()),
                    (form.clone(), errors),
                )
                .await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// Renders a plan's page with its forms' values and errors.
async fn render_plan(
    browser: &Browser,
    status: StatusCode,
    id: &str,
    forms: PlanForms,
) -> PageResult {
    let (_, tenant_id) = browser.require_merchant()?;
    let platform = browser.platform();
    let id = plan_id(id)?;
    let PlanDetails { plan, prices } = platform.plan(&tenant_id, &id).await?;
    let all_features = feature_views(platform.features(&tenant_id).await?)?;
    let grants = platform
        .plan_grants(&tenant_id, &id)
        .await?
        .into_iter()
        .map(|grant: GrantRecord| {
            let feature = all_features
                .iter()
                .find(|feature| feature.record.id == grant.feature_id);
            Ok(GrantRow {
                feature: feature
                    .map_or_else(|| grant.feature_id.clone(), |f| f.record.name.clone()),
                lookup_key: feature
                    .map(|f| f.record.lookup_key.clone())
                    .unwrap_or_default(),
                value: describe_grant(decode("grant", &grant.value)?),
            })
        })
        .collect::<Result<Vec<_>, PlatformError>>()?;
    let prices = prices
        .into_iter()
        .map(|record| {
            Ok(PriceRow {
                charges: describe_price(&record)?,
                record,
            })
        })
        .collect::<Result<Vec<_>, PlatformError>>()?;
    let (details_form, details_errors) = forms.details.unwrap_or_else(|| {
        let stored = DetailsForm {
            name: plan.name.clone(),
            trial_days: plan
                .trial_days
                .map(|days| days.to_string())
                .unwrap_or_default(),
        };
        (stored, FieldErrors::none())
    });
    let (price_form, price_errors) = forms.price;
    let (grant_form, grant_errors) = forms.grant;
    browser.page(
        status,
        &PlanPage {
            layout: browser.layout(),
            plan,
            prices,
            grants,
            features: all_features
                .into_iter()
                .filter(|feature| !feature.record.archived)
                .collect(),
            details_form,
            details_errors,
            price_form,
            price_errors,
            grant_form,
            grant_errors,
        },
    )
}

/// `GET /dashboard/plans/{id}`; another tenant's plan is a 404.
async fn plan_page(user: MerchantUser, id: web::Path<String>) -> PageResult {
    render_plan(&user.browser, StatusCode::OK, &id, PlanForms::default())
        .await
        .map_err(|err| err.with_browser(&user.browser))
}

/// `POST /dashboard/plans/{id}`: renames the plan and sets its trial.
async fn update_plan(
    CsrfForm { form, browser }: CsrfForm<DetailsForm>,
    id: web::Path<String>,
) -> PageResult {
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let plan = plan_id(&id)?;
        let updated = match trial_days(&form.trial_days) {
            Ok(days) => {
                browser
                    .platform()
                    .update_plan(&tenant_id, &ctx, &plan, form.name.clone(), days)
                    .await
            }
            Err(err) => Err(err),
        };
        match updated {
            Ok(_) => Ok(see_other(&format!("/dashboard/plans/{id}"))),
            Err(err) => {
                let forms = PlanForms {
                    details: Some((form.clone(), FieldErrors::placed(err, |field| field)?)),
                    ..PlanForms::default()
                };
                render_plan(&browser, REFUSED, &id, forms).await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// `POST /dashboard/plans/{id}/prices/{price}/archive` or `…/unarchive`.
async fn set_price_archived(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String, String)>,
) -> PageResult {
    let (id, price, action) = path.into_inner();
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let price = PriceId::parse(&price).map_err(|_| PlatformError::NotFound("price"))?;
        let archived = action == "archive";
        browser
            .platform()
            .set_price_archived(&tenant_id, &ctx, &plan_id(&id)?, &price, archived)
            .await?;
        Ok(see_other(&format!("/dashboard/plans/{id}")))
    };
    outcome
        .await
        .map_err(|err: WebError| err.with_browser(&browser))
}

/// `POST /dashboard/plans/{id}/prices`.
async fn add_price(
    CsrfForm { form, browser }: CsrfForm<PriceForm>,
    id: web::Path<String>,
) -> PageResult {
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let plan = plan_id(&id)?;
        let added = match form.price.to_input() {
            Ok(input) => {
                browser
                    .platform()
                    .add_price(&tenant_id, &ctx, &plan, input)
                    .await
            }
            Err(err) => Err(err),
        };
        match added {
            Ok(_) => Ok(see_other(&format!("/dashboard/plans/{id}"))),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| form.price.place(field))?;
                let forms = PlanForms {
                    price: (form.price.clone(), errors),
                    ..PlanForms::default()
                };
                render_plan(&browser, REFUSED, &id, forms).await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// `POST /dashboard/plans/{id}/grants`: grants a feature (or changes the
/// grant's limit).
async fn grant_feature(
    CsrfForm { form, browser }: CsrfForm<GrantForm>,
    id: web::Path<String>,
) -> PageResult {
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let plan = plan_id(&id)?;
        let feature = feature_id(&form.feature)?;
        let granted = match form.value() {
            Ok(value) => {
                browser
                    .platform()
                    .grant_feature(&tenant_id, &ctx, &plan, &feature, value)
                    .await
            }
            Err(err) => Err(err),
        };
        match granted {
            Ok(_) => Ok(see_other(&format!("/dashboard/plans/{id}"))),
            Err(err) => {
                let errors = FieldErrors::placed(err, |field| match field {
                    "value" => "limit",
                    other => other,
                })?;
                let forms = PlanForms {
                    grant: (form.clone(), errors),
                    ..PlanForms::default()
                };
                render_plan(&browser, REFUSED, &id, forms).await
            }
        }
    };
    outcome.await.map_err(|err| err.with_browser(&browser))
}

/// `POST /dashboard/plans/{id}/archive` or `…/unarchive`: archives or
/// restores a plan, then shows it.
async fn set_plan_archived(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (id, action) = path.into_inner();
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let archived = action == "archive";
        browser
            .platform()
            .set_plan_archived(&tenant_id, &ctx, &plan_id(&id)?, archived)
            .await?;
        Ok(see_other(&format!("/dashboard/plans/{id}")))
    };
    outcome
        .await
        .map_err(|err: WebError| err.with_browser(&browser))
}

/// `POST /dashboard/features/{id}/archive` or `…/unarchive`: archives or
/// restores a feature, then shows the catalog.
async fn set_feature_archived(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (id, action) = path.into_inner();
    let outcome = async {
        let (tenant_id, ctx) = merchant_ctx(&browser)?;
        let archived = action == "archive";
        browser
            .platform()
            .set_feature_archived(&tenant_id, &ctx, &feature_id(&id)?, archived)
            .await?;
        Ok(see_other("/dashboard/plans#features"))
    };
    outcome
        .await
        .map_err(|err: WebError| err.with_browser(&browser))
}
