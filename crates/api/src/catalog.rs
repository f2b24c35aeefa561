//! `/v1/features` and `/v1/plans` (with their prices and grants): thin
//! translations to `platform::catalog`, which validates and audits.

use actix_web::{HttpRequest, HttpResponse, web};
use billing::catalog::{Interval, PriceModel, PriceType};
use billing::entitlements::{FeatureKind, GrantValue};
use billing::ids::{FeatureId, PlanId, PriceId};
use chrono::{DateTime, Utc};
use platform::catalog::{
    FeatureRecord, GrantRecord, PlanDetails, PlanInput, PriceInput, PriceRecord, stored_price_type,
};
use platform::{Platform, PlatformError, RequestId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::docs::ErrorResponse;
use crate::extract::Json;
use crate::list::{List, ListParams};
use crate::{ApiResult, Caller};

/// The JSON value of a column the platform wrote (kinds, models, grants).
pub(crate) fn stored(raw: &str) -> Result<serde_json::Value, PlatformError> {
    serde_json::from_str(raw)
        .map_err(|err| PlatformError::Internal(format!("stored JSON column: {err}")))
}

/// A feature: a flag or a limit plans grant.
#[derive(Serialize, ToSchema)]
pub(crate) struct FeatureView {
    /// `feat_…` id.
    id: String,
    /// Always `feature`.
    object: &'static str,
    /// What your code checks (`GET /v1/entitlements/check?feature=…`).
    lookup_key: String,
    /// Display name.
    name: String,
    /// `{"kind":"flag"}` or `{"kind":"limit","reset":"never"|"each_billing_period"}`.
    #[schema(value_type = Object)]
    kind: serde_json::Value,
    /// Archived features are not granted to new plans.
    archived: bool,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

impl TryFrom<FeatureRecord> for FeatureView {
    type Error = PlatformError;

    fn try_from(record: FeatureRecord) -> Result<Self, PlatformError> {
        Ok(Self {
            kind: stored(&record.kind)?,
            id: record.id,
            object: "feature",
            lookup_key: record.lookup_key,
            name: record.name,
            archived: record.archived,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

/// A price of a plan.
#[derive(Serialize, ToSchema)]
pub(crate) struct PriceView {
    /// `price_…` id.
    id: String,
    /// Always `price`.
    object: &'static str,
    /// The plan it prices.
    plan: String,
    /// Lower-case ISO currency of every amount.
    currency: String,
    /// `recurring` (subscribed to) or `one_time` (sold in a payment-mode checkout).
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    price_type: PriceTypeName,
    /// `day`, `week`, `month` or `year`; `null` for a one-time price.
    interval_unit: Option<String>,
    /// Units per billing period; `null` for a one-time price.
    interval_count: Option<i32>,
    /// `{"kind":"flat","amount_minor":…}`, `per_seat` or `tiered`; amounts in minor units.
    #[schema(value_type = Object)]
    model: serde_json::Value,
    /// Archived prices keep billing their subscribers, nobody new.
    archived: bool,
    /// Your stable handle, if any.
    lookup_key: Option<String>,
    /// The Stripe price, once synced.
    stripe_price_id: Option<String>,
    /// Creation time.
    created_at: DateTime<Utc>,
}

impl TryFrom<PriceRecord> for PriceView {
    type Error = PlatformError;

    fn try_from(record: PriceRecord) -> Result<Self, PlatformError> {
        Ok(Self {
            model: stored(&record.model)?,
            price_type: match stored_price_type(&record)? {
                PriceType::Recurring { .. } => PriceTypeName::Recurring,
                PriceType::OneTime => PriceTypeName::OneTime,
            },
            id: record.id,
            object: "price",
            plan: record.plan_id,
            currency: record.currency,
            interval_unit: record.interval_unit,
            interval_count: record.interval_count,
            archived: record.archived,
            lookup_key: record.lookup_key,
            stripe_price_id: record.stripe_price_id,
            created_at: record.created_at,
        })
    }
}

/// A plan with its prices.
#[derive(Serialize, ToSchema)]
pub(crate) struct PlanView {
    /// `plan_…` id.
    id: String,
    /// Always `plan`.
    object: &'static str,
    /// Shown to customers.
    name: String,
    /// Archived plans keep subscribers but take no new ones.
    archived: bool,
    /// Free days before the first charge.
    trial_days: Option<i32>,
    /// `pending`, `synced` or `failed`: whether Stripe has caught up.
    #[schema(value_type = String)]
    sync_status: platform::catalog::SyncStatus,
    /// Why the last sync failed.
    sync_error: Option<String>,
    /// The Stripe product, once synced.
    stripe_product_id: Option<String>,
    /// All prices, archived ones included.
    prices: Vec<PriceView>,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

impl TryFrom<PlanDetails> for PlanView {
    type Error = PlatformError;

    fn try_from(details: PlanDetails) -> Result<Self, PlatformError> {
        let plan = details.plan;
        Ok(Self {
            prices: details
                .prices
                .into_iter()
                .map(PriceView::try_from)
                .collect::<Result<_, _>>()?,
            id: plan.id,
            object: "plan",
            name: plan.name,
            archived: plan.archived,
            trial_days: plan.trial_days,
            sync_status: plan.sync_status,
            sync_error: plan.sync_error,
            stripe_product_id: plan.stripe_product_id,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
        })
    }
}

/// A feature a plan grants.
#[derive(Serialize, ToSchema)]
pub(crate) struct GrantView {
    /// Always `grant`.
    object: &'static str,
    /// The granting plan.
    plan: String,
    /// The granted feature.
    feature: String,
    /// `{"kind":"enabled"}`, `{"kind":"limit","value":10}` or `{"kind":"unlimited"}`.
    #[schema(value_type = Object)]
    value: serde_json::Value,
}

impl TryFrom<GrantRecord> for GrantView {
    type Error = PlatformError;

    fn try_from(record: GrantRecord) -> Result<Self, PlatformError> {
        Ok(Self {
            value: stored(&record.value)?,
            object: "grant",
            plan: record.plan_id,
            feature: record.feature_id,
        })
    }
}

/// `POST /v1/features` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateFeature {
    /// Stable handle your code checks: lower-case letters, digits, `_`, `-`, `.`.
    lookup_key: String,
    /// Display name, 1 to 250 characters.
    name: String,
    /// `{"kind":"flag"}` or `{"kind":"limit","reset":"never"|"each_billing_period"}`.
    #[schema(value_type = Object)]
    kind: FeatureKind,
}

/// Whether a price bills every period or once (Stripe's price `type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PriceTypeName {
    /// Billed every `interval` of a subscription.
    #[default]
    Recurring,
    /// Sold once, in a payment-mode checkout (`price` without `plan`).
    OneTime,
}

/// A price in a request body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceBody {
    /// ISO currency code, e.g. `usd`.
    currency: String,
    /// `recurring` (the default) or `one_time`.
    #[serde(rename = "type", default)]
    price_type: PriceTypeName,
    /// `{"unit":"month","count":1}`: required for a recurring price, absent
    /// for a one-time one.
    #[schema(value_type = Option<Object>)]
    interval: Option<Interval>,
    /// `{"kind":"flat","amount_minor":1000}`, `{"kind":"per_seat","unit_amount_minor":500}`
    /// or `{"kind":"tiered","mode":"volume"|"graduated","tiers":[…]}`.
    #[schema(value_type = Object)]
    model: PriceModel,
    /// Optional stable handle.
    lookup_key: Option<String>,
}

impl TryFrom<PriceBody> for PriceInput {
    type Error = PlatformError;

    /// Parses `type` and `interval` into one [`PriceType`]: an interval
    /// exactly when the price is recurring.
    fn try_from(body: PriceBody) -> Result<Self, PlatformError> {
        let price_type = match (body.price_type, body.interval) {
            (PriceTypeName::Recurring, Some(interval)) => PriceType::Recurring { interval },
            (PriceTypeName::OneTime, None) => PriceType::OneTime,
            (PriceTypeName::Recurring, None) => {
                return Err(PlatformError::invalid(
                    "interval",
                    "a recurring price needs an `interval`, e.g. {\"unit\":\"month\",\"count\":1}; or set `\"type\": \"one_time\"`",
                ));
            }
            (PriceTypeName::OneTime, Some(_)) => {
                return Err(PlatformError::invalid(
                    "interval",
                    "a one-time price is billed once: leave out `interval`",
                ));
            }
        };
        Ok(Self {
            currency: body.currency,
            price_type,
            model: body.model,
            lookup_key: body.lookup_key,
        })
    }
}

/// `POST /v1/plans` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePlan {
    /// Shown to customers.
    name: String,
    /// Free days before the first charge.
    trial_days: Option<u16>,
    /// Its first prices.
    #[serde(default)]
    prices: Vec<PriceBody>,
}

/// `POST /v1/plans/{id}/grants` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateGrant {
    /// The `feat_…` id to grant.
    feature: String,
    /// `{"kind":"enabled"}`, `{"kind":"limit","value":10}` or `{"kind":"unlimited"}`.
    #[schema(value_type = Object)]
    value: GrantValue,
}

fn feature_id(raw: &str) -> Result<FeatureId, PlatformError> {
    FeatureId::parse(raw).map_err(|_| PlatformError::NotFound("feature"))
}

fn plan_id(raw: &str) -> Result<PlanId, PlatformError> {
    PlanId::parse(raw).map_err(|_| PlatformError::NotFound("plan"))
}

fn plan_view(details: PlanDetails) -> ApiResult {
    Ok(HttpResponse::Ok().json(PlanView::try_from(details)?))
}

/// Lists features.
#[utoipa::path(get, path = "/v1/features", tag = "catalog", params(ListParams),
    responses((status = 200, body = List<FeatureView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_features(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let mut all = platform.features(&caller.tenant_id).await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let page = List::page_of(&req, all, |f| &f.id, &params)?.try_map(FeatureView::try_from)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Creates a feature.
#[utoipa::path(post, path = "/v1/features", tag = "catalog", request_body = CreateFeature,
    responses((status = 201, body = FeatureView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_feature(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<CreateFeature>,
) -> ApiResult {
    let body = body.into_inner();
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let feature = platform
        .create_feature(
            &caller.tenant_id,
            &ctx,
            &body.lookup_key,
            &body.name,
            body.kind,
        )
        .await?;
    Ok(HttpResponse::Created().json(FeatureView::try_from(feature)?))
}

/// Retrieves a feature.
#[utoipa::path(get, path = "/v1/features/{id}", tag = "catalog", params(("id" = String, Path, description = "`feat_…`")),
    responses((status = 200, body = FeatureView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_feature(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let feature = platform
        .feature(&caller.tenant_id, &feature_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(FeatureView::try_from(feature)?))
}

async fn set_feature_archived(
    platform: &Platform,
    caller: &platform::api_keys::ApiCaller,
    id: &str,
    archived: bool,
) -> ApiResult {
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let feature = platform
        .set_feature_archived(&caller.tenant_id, &ctx, &feature_id(id)?, archived)
        .await?;
    Ok(HttpResponse::Ok().json(FeatureView::try_from(feature)?))
}

/// Archives a feature (features are never deleted).
#[utoipa::path(post, path = "/v1/features/{id}/archive", tag = "catalog", params(("id" = String, Path, description = "`feat_…`")),
    responses((status = 200, body = FeatureView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn archive_feature(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    set_feature_archived(&platform, &caller, &id, true).await
}

/// Restores an archived feature.
#[utoipa::path(post, path = "/v1/features/{id}/unarchive", tag = "catalog", params(("id" = String, Path, description = "`feat_…`")),
    responses((status = 200, body = FeatureView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn unarchive_feature(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    set_feature_archived(&platform, &caller, &id, false).await
}

/// Lists plans with their prices.
#[utoipa::path(get, path = "/v1/plans", tag = "catalog", params(ListParams),
    responses((status = 200, body = List<PlanView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_plans(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let mut all = platform.plans(&caller.tenant_id).await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let page = List::page_of(&req, all, |p| &p.id, &params)?;
    let mut data = Vec::with_capacity(page.data.len());
    for plan in &page.data {
        let details = platform
            .plan(&caller.tenant_id, &plan_id(&plan.id)?)
            .await?;
        data.push(PlanView::try_from(details)?);
    }
    Ok(HttpResponse::Ok().json(page.map_data(data)))
}

/// Creates a plan with its first prices; it is pushed to Stripe in the background.
#[utoipa::path(post, path = "/v1/plans", tag = "catalog", request_body = CreatePlan,
    responses((status = 201, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn create_plan(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<CreatePlan>,
) -> ApiResult {
    let body = body.into_inner();
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let input = PlanInput {
        name: body.name,
        trial_days: body.trial_days,
        prices: body
            .prices
            .into_iter()
            .map(PriceInput::try_from)
            .collect::<Result<_, _>>()?,
    };
    let details = platform.create_plan(&caller.tenant_id, &ctx, input).await?;
    Ok(HttpResponse::Created().json(PlanView::try_from(details)?))
}

/// Retrieves a plan with its prices.
#[utoipa::path(get, path = "/v1/plans/{id}", tag = "catalog", params(("id" = String, Path, description = "`plan_…`")),
    responses((status = 200, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_plan(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    plan_view(platform.plan(&caller.tenant_id, &plan_id(&id)?).await?)
}

async fn set_plan_archived(
    platform: &Platform,
    caller: &platform::api_keys::ApiCaller,
    id: &str,
    archived: bool,
) -> ApiResult {
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let id = plan_id(id)?;
    platform
        .set_plan_archived(&caller.tenant_id, &ctx, &id, archived)
        .await?;
    plan_view(platform.plan(&caller.tenant_id, &id).await?)
}

/// Archives a plan: subscribers stay, nobody new joins.
#[utoipa::path(post, path = "/v1/plans/{id}/archive", tag = "catalog", params(("id" = String, Path, description = "`plan_…`")),
    responses((status = 200, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn archive_plan(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    set_plan_archived(&platform, &caller, &id, true).await
}

/// Restores an archived plan.
#[utoipa::path(post, path = "/v1/plans/{id}/unarchive", tag = "catalog", params(("id" = String, Path, description = "`plan_…`")),
    responses((status = 200, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn unarchive_plan(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    set_plan_archived(&platform, &caller, &id, false).await
}

/// Adds a price to a plan.
#[utoipa::path(post, path = "/v1/plans/{id}/prices", tag = "catalog", params(("id" = String, Path, description = "`plan_…`")),
    request_body = PriceBody,
    responses((status = 201, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn add_price(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
    body: Json<PriceBody>,
) -> ApiResult {
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let details = platform
        .add_price(
            &caller.tenant_id,
            &ctx,
            &plan_id(&id)?,
            body.into_inner().try_into()?,
        )
        .await?;
    Ok(HttpResponse::Created().json(PlanView::try_from(details)?))
}

/// Replaces a price: the new one is offered from now on, the old one is
/// archived and keeps billing its subscribers (Stripe prices are immutable).
#[utoipa::path(post, path = "/v1/plans/{id}/prices/{price}", tag = "catalog",
    params(("id" = String, Path, description = "`plan_…`"), ("price" = String, Path, description = "`price_…` to replace")),
    request_body = PriceBody,
    responses((status = 200, body = PlanView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn replace_price(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
    body: Json<PriceBody>,
) -> ApiResult {
    let (plan, price) = path.into_inner();
    let price = PriceId::parse(&price).map_err(|_| PlatformError::NotFound("price"))?;
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    plan_view(
        platform
            .change_price(
                &caller.tenant_id,
                &ctx,
                &plan_id(&plan)?,
                &price,
                body.into_inner().try_into()?,
            )
            .await?,
    )
}

/// Grants a feature to a plan (or changes the grant); answers the plan's grants.
#[utoipa::path(post, path = "/v1/plans/{id}/grants", tag = "catalog", params(("id" = String, Path, description = "`plan_…`")),
    request_body = CreateGrant,
    responses((status = 200, body = List<GrantView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn grant_feature(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    id: web::Path<String>,
    body: Json<CreateGrant>,
) -> ApiResult {
    let body = body.into_inner();
    let ctx = platform.audit_context(caller.actor.clone(), &RequestId::current_or_new());
    let grants = platform
        .grant_feature(
            &caller.tenant_id,
            &ctx,
            &plan_id(&id)?,
            &feature_id(&body.feature)?,
            body.value,
        )
        .await?
        .into_iter()
        .map(GrantView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let limit = grants.len() as u64;
    Ok(HttpResponse::Ok().json(List::from_fetched(&req, grants, limit)))
}
