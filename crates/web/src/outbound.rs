//! The merchant's outbound webhooks pages: endpoints (create, secret shown
//! once, send a test event) and each endpoint's delivery log (replay).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use platform::outbound::{EndpointInput, OutboundDelivery, OutboundEndpoint};
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, MerchantUser, TokenOnly};
use crate::error::WebError;
use crate::forms::{FieldErrors, REFUSED};
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// How many deliveries the log page shows.
const LOG_PAGE: u64 = 50;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Merchant get "/dashboard/webhooks" => endpoints_page,
    Merchant post "/dashboard/webhooks" => create_endpoint,
    Merchant get "/dashboard/webhooks/{id}" => deliveries_page,
    Merchant post "/dashboard/webhooks/{id}/test" => send_test,
    Merchant post "/dashboard/webhooks/{id}/deliveries/{delivery}/replay" => replay,
];

/// `/dashboard/webhooks`.
#[derive(Template)]
#[template(path = "webhooks.html")]
struct EndpointsPage {
    /// Shared layout.
    layout: Layout,
    /// The merchant's endpoints.
    endpoints: Vec<OutboundEndpoint>,
    /// A just-created endpoint's secret: its only appearance.
    new_secret: Option<String>,
    /// The "add endpoint" form: empty, or as typed when refused.
    form: CreateEndpointForm,
    /// Why the form was refused.
    errors: FieldErrors,
}

/// `/dashboard/webhooks/{id}`.
#[derive(Template)]
#[template(path = "webhook_deliveries.html")]
struct DeliveriesPage {
    /// Shared layout.
    layout: Layout,
    /// The endpoint.
    endpoint: OutboundEndpoint,
    /// Its latest deliveries, newest first.
    deliveries: Vec<OutboundDelivery>,
}

/// The "add endpoint" form.
#[derive(Deserialize, Default)]
pub(crate) struct CreateEndpointForm {
    /// Where to POST.
    /// Missing: empty, refused by the service after the login check.
    #[serde(default)]
    url: String,
    /// A label, may be empty.
    #[serde(default)]
    description: String,
    /// Comma- or space-separated event types; empty sends all.
    #[serde(default)]
    event_types: String,
}

/// What the page shows besides the endpoints.
#[derive(Default)]
struct Shown {
    /// A just-created endpoint's secret.
    new_secret: Option<String>,
    /// The form's values.
    form: CreateEndpointForm,
    /// Why the form was refused.
    errors: FieldErrors,
}

async fn render(browser: &Browser, status: StatusCode, shown: Shown) -> PageResult {
    let (_, tenant_id) = browser.require_merchant()?;
    let endpoints = browser.platform().outbound_endpoints(&tenant_id).await?;
    browser.page(
        status,
        &EndpointsPage {
            layout: browser.layout(),
            endpoints,
            new_secret: shown.new_secret,
            form: shown.form,
            errors: shown.errors,
        },
    )
}

/// `GET /dashboard/webhooks`.
async fn endpoints_page(user: MerchantUser) -> PageResult {
    render(&user.browser, StatusCode::OK, Shown::default())
        .await
        .map_err(|err| err.with_browser(&user.browser))
}

/// `POST /dashboard/webhooks`: shows the new secret once, on the response page.
async fn create_endpoint(CsrfForm { form, browser }: CsrfForm<CreateEndpointForm>) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let input = EndpointInput {
        url: form.url.clone(),
        description: Some(form.description.clone()),
        event_types: form
            .event_types
            .split([',', ' '])
            .map(str::to_owned)
            .collect(),
    };
    let created = browser
        .platform()
        .create_outbound_endpoint(
            &tenant_id,
            input,
            signed_in.actor()?,
            &RequestId::current_or_new(),
        )
        .await;
    let outcome = match created {
        Ok(created) => {
            let shown = Shown {
                new_secret: Some(created.secret.expose().to_owned()),
                ..Shown::default()
            };
            render(&browser, StatusCode::CREATED, shown).await
        }
        Err(err) => match FieldErrors::placed(err, |field| field) {
            Ok(errors) => {
                let shown = Shown {
                    form,
                    errors,
                    ..Shown::default()
                };
                render(&browser, REFUSED, shown).await
            }
            Err(err) => Err(err.into()),
        },
    };
    outcome
        .map(no_store)
        .map_err(|err| err.with_browser(&browser))
}

/// A page showing a secret must not be cached.
fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /dashboard/webhooks/{id}`: the delivery log.
async fn deliveries_page(user: MerchantUser, id: web::Path<String>) -> PageResult {
    let platform = user.browser.platform();
    let page = async {
        let endpoint = platform.outbound_endpoint(&user.tenant_id, &id).await?;
        let deliveries = platform
            .outbound_deliveries(&user.tenant_id, Some(id.as_str()), None, LOG_PAGE)
            .await?
            .data;
        Ok::<_, PlatformError>((endpoint, deliveries))
    };
    let (endpoint, deliveries) = page
        .await
        .map_err(|err| WebError::from(err).with_browser(&user.browser))?;
    user.browser.page(
        StatusCode::OK,
        &DeliveriesPage {
            layout: user.browser.layout(),
            endpoint,
            deliveries,
        },
    )
}

/// `POST /dashboard/webhooks/{id}/test`.
async fn send_test(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    id: web::Path<String>,
) -> PageResult {
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let actor = signed_in.actor()?;
    browser
        .platform()
        .send_outbound_test(&tenant_id, &id, actor, &RequestId::current_or_new())
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(see_other(&format!("/dashboard/webhooks/{id}")))
}

/// `POST /dashboard/webhooks/{id}/deliveries/{delivery}/replay`.
async fn replay(
    CsrfForm { browser, .. }: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (endpoint, delivery) = path.into_inner();
    let (signed_in, tenant_id) = browser.require_merchant()?;
    let actor = signed_in.actor()?;
    browser
        .platform()
        .replay_outbound_delivery(&tenant_id, &delivery, actor, &RequestId::current_or_new())
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    Ok(see_other(&format!("/dashboard/webhooks/{endpoint}")))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .finish()
}
