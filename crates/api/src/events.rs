//! `/v1/events`: the tenant's domain events (subscription, invoice,
//! entitlement changes…), the same feed outbound webhooks deliver.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use platform::api_support::StoredDomainEvent;
use platform::{Platform, PlatformError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::stored;
use crate::docs::ErrorResponse;
use crate::list::{List, ListParams};
use crate::{ApiResult, Caller};

/// Something that happened to one of your customers.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventView {
    /// `ev_…` id; ids sort in the order events were recorded.
    id: String,
    /// Always `event`.
    object: &'static str,
    /// e.g. `subscription.created`, `invoice.paid`, `entitlements.updated`.
    #[serde(rename = "type")]
    kind: String,
    /// The `cus_…` customer it is about, if any.
    customer: Option<String>,
    /// The event's facts, as `{"type": …, "data": {…}}`.
    #[schema(value_type = Object)]
    data: serde_json::Value,
    /// When it happened.
    occurred_at: DateTime<Utc>,
    /// When Billforge recorded it.
    created_at: DateTime<Utc>,
}

impl TryFrom<StoredDomainEvent> for EventView {
    type Error = PlatformError;

    fn try_from(event: StoredDomainEvent) -> Result<Self, PlatformError> {
        Ok(Self {
            data: stored(&event.payload)?,
            id: event.id,
            object: "event",
            kind: event.kind,
            customer: event.customer_id,
            occurred_at: event.occurred_at,
            created_at: event.created_at,
        })
    }
}

/// Lists events, oldest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(ListParams),
    responses((status = 200, body = List<EventView>), (status = "default", body = ErrorResponse)))]
pub(crate) async fn list_events(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    req: HttpRequest,
    params: web::Query<ListParams>,
) -> ApiResult {
    let limit = params.limit()?;
    let fetched = platform
        .domain_events_page(&caller.tenant_id, params.starting_after(), limit + 1)
        .await?;
    let page = List::from_fetched(&req, fetched, limit).try_map(EventView::try_from)?;
    Ok(HttpResponse::Ok().json(page))
}

/// Retrieves an event.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path, description = "`ev_…`")),
    responses((status = 200, body = EventView), (status = "default", body = ErrorResponse)))]
pub(crate) async fn get_event(
    platform: web::Data<Platform>,
    Caller(caller): Caller,
    id: web::Path<String>,
) -> ApiResult {
    let event = platform.domain_event_of(&caller.tenant_id, &id).await?;
    Ok(HttpResponse::Ok().json(EventView::try_from(event)?))
}
