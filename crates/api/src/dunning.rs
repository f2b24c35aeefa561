//! `/v1/dunning_policy`: the tenant's rules for failed payments, read, set
//! and previewed through `platform::dunning`, which validates them (the
//! dashboard's dunning page uses the same services).

use actix_web::{HttpResponse, web};
use billing::dunning::{DunningPolicy, DunningPolicySpec, TimelineStep};
use chrono::{DateTime, Utc};
use platform::Platform;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::billing::ctx;
use crate::docs::ErrorResponse;
use crate::extract::{Json, OptionalJson};
use crate::{ApiResult, Caller};

/// The tenant's dunning policy: `object` beside the policy's own fields,
/// exactly those `POST /v1/dunning_policy` takes, so what `GET` answers can
/// be edited and sent back.
#[derive(Serialize, ToSchema)]
pub(crate) struct DunningPolicyView {
    /// Always `dunning_policy`.
    object: &'static str,
    /// `retry_days` (days after the first failure at which Billforge
    /// retries), `grace_days` (when the final action is taken),
    /// `grace_entitlements` (`{"kind":"full"}` or
    /// `{"kind":"degrade","reduced":[…]}`), `reminders` (after which failures
    /// an email goes out: `{"after":"first_failure"}`,
    /// `{"after":"retry","number":1}`), `final_action` (`{"kind":"cancel"}`,
    /// `{"kind":"mark_unpaid_and_revoke"}`,
    /// `{"kind":"move_to_plan","plan_id":"plan_…"}`) and `stripe_retries`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    policy: DunningPolicy,
}

impl DunningPolicyView {
    fn new(policy: DunningPolicy) -> Self {
        Self {
            object: "dunning_policy",
            policy,
        }
    }
}

/// `POST /v1/dunning_policy` body: the policy's fields, as `GET` answers
/// them (without `object`).
#[derive(Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub(crate) struct SetDunningPolicy(DunningPolicySpec);

/// `POST /v1/dunning_policy/preview` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewDunning {
    /// A policy to try (same fields as `POST /v1/dunning_policy`); the
    /// current one when omitted.
    #[schema(value_type = Option<Object>)]
    policy: Option<DunningPolicySpec>,
    /// When the first payment failure happens; now when omitted.
    failed_at: Option<DateTime<Utc>>,
}

/// What a policy would do after a failure, if nothing were ever paid.
#[derive(Serialize, ToSchema)]
pub(crate) struct DunningPreview {
    /// Always `dunning_preview`.
    object: &'static str,
    /// In time order: `{"at": …, "event": {…}}`, where `event` is the first
    /// failure, a degradation, a retry, a reminder, the grace end or the
    /// final action.
    #[schema(value_type = Vec<Object>)]
    timeline: Vec<TimelineStep>,
}

/// Retrieves the dunning policy (the default one until you set yours).
#[utoipa::path(get, path = "/v1/dunning_policy", tag = "dunning",
    responses((status = 200, body = DunningPolicyView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_dunning_policy(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
) -> ApiResult {
    let policy = platform.dunning_policy(&caller.tenant_id).await?;
    Ok(HttpResponse::Ok().json(DunningPolicyView::new(policy)))
}

/// Sets the dunning policy; runs that start from now on follow it.
#[utoipa::path(post, path = "/v1/dunning_policy", tag = "dunning",
    request_body = SetDunningPolicy,
    responses((status = 200, body = DunningPolicyView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn set_dunning_policy(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    body: Json<SetDunningPolicy>,
) -> ApiResult {
    let policy = platform
        .set_dunning_policy(
            &caller.tenant_id,
            body.into_inner().0,
            &ctx(&platform, &caller),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DunningPolicyView::new(policy)))
}

/// The timeline a policy (yours, or one to try) would follow after a
/// payment failure; nothing is changed.
#[utoipa::path(post, path = "/v1/dunning_policy/preview", tag = "dunning",
    request_body = Option<PreviewDunning>,
    responses((status = 200, body = DunningPreview), (status = "default", body = ErrorResponse)))]
pub(crate) async fn preview_dunning_policy(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    OptionalJson(body): OptionalJson<PreviewDunning>,
) -> ApiResult {
    let body = body.unwrap_or_default();
    let timeline = platform
        .preview_dunning(
            &caller.tenant_id,
            body.policy,
            body.failed_at.unwrap_or_else(|| platform.now()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DunningPreview {
        object: "dunning_preview",
        timeline,
    }))
}
