//! A merchant's public pages under `/t/{slug}`: pricing and checkout, the
//! checkout's success page, and the customer's account page (reached by a
//! signed link, see `platform::hosted`).
//!
//! Every form goes through [`CsrfForm`]; the pre-login `bf_csrf` cookie
//! binds the tokens, so a customer needs no account to get one. Every
//! lookup is scoped to the tenant named by the slug: another tenant's
//! session, subscription or link is "not found" or "invalid".

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use billing::catalog::IntervalUnit;
use billing::ids::CustomerId;
use chrono::{DateTime, Utc};
use platform::catalog::FeatureRecord;
use platform::hosted::{
    CheckoutOutcome, CustomerAccount, Offer, PlannedChange, PricingPlan, SESSION_TTL, TokenPurpose,
};
use platform::records::{SubscriptionRow, Tenant, TenantStatus};
use platform::{PlatformError, RequestId};
use serde::Deserialize;

use crate::browser::{Browser, CsrfForm, TokenOnly};
use crate::error::WebError;
use crate::views::Layout;

type PageResult = Result<HttpResponse, WebError>;

/// This module's pages, registered by [`crate::configure`].
pub(crate) const ROUTES: &[crate::WebRoute] = crate::web_routes![
    Public get "/t/{slug}/pricing" => pricing,
    Public post "/t/{slug}/checkout" => checkout,
    Public get "/t/{slug}/checkout/success" => success,
    Customer get "/t/{slug}/account" => account,
    Public get "/t/{slug}/account/sign-in" => sign_in_page,
    Public post "/t/{slug}/account/sign-in" => sign_in,
    Public get "/t/{slug}/account/enter" => enter,
    Customer post "/t/{slug}/account/sign-out" => sign_out,
    Customer post "/t/{slug}/account/payment-method" => payment_method,
    Customer post "/t/{slug}/account/subscriptions/{id}/preview" => preview_change,
    Customer post "/t/{slug}/account/subscriptions/{id}/change" => change,
    Customer post "/t/{slug}/account/subscriptions/{id}/keep-plan" => keep_plan,
    Customer post "/t/{slug}/account/subscriptions/{id}/cancel" => cancel,
    Customer post "/t/{slug}/account/subscriptions/{id}/resume" => resume,
];

/// The merchant as its public pages show it.
pub struct Shop {
    /// Display name.
    pub name: String,
    /// URL name (`/t/{slug}`).
    pub slug: String,
    /// The merchant's accent colour (`#rrggbb`, validated when saved).
    pub accent: Option<String>,
    /// The merchant's logo (https, validated when saved).
    pub logo_url: Option<String>,
}

impl From<&Tenant> for Shop {
    fn from(tenant: &Tenant) -> Self {
        Self {
            name: tenant.name.clone(),
            slug: tenant.slug.clone(),
            accent: tenant.brand_color.clone(),
            logo_url: tenant.logo_url.clone(),
        }
    }
}

/// `/t/{slug}/pricing`.
#[derive(Template)]
#[template(path = "pricing.html")]
pub struct PricingPage {
    layout: Layout,
    shop: Shop,
    /// Whether the tenant sells (not suspended).
    selling: bool,
    /// The yearly section instead of the monthly one.
    yearly: bool,
    /// The plans offered for the chosen period, with that offer.
    offers: Vec<(PricingPlan, Offer)>,
    /// Rows of the comparison table.
    features: Vec<FeatureRecord>,
    /// Why the last subscribe attempt failed.
    error: Option<String>,
    /// The email typed in the failed attempt.
    email: String,
}

/// `/t/{slug}/checkout/success`.
#[derive(Template)]
#[template(path = "checkout_success.html")]
pub struct SuccessPage {
    shop: Shop,
    /// The subscription, once the webhook landed.
    subscription: Option<SubscriptionRow>,
    /// Its plan's name.
    plan_name: String,
    /// Paid, waiting for the webhook: the page refreshes itself.
    confirming: bool,
}

/// `/t/{slug}/account/sign-in`.
#[derive(Template)]
#[template(path = "account_sign_in.html")]
pub struct SignInPage {
    layout: Layout,
    shop: Shop,
    /// The form was sent: the same answer whatever the email.
    sent: bool,
    /// Why the form was refused (a malformed email).
    error: Option<String>,
}

/// `/t/{slug}/account`.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    layout: Layout,
    shop: Shop,
    account: CustomerAccount,
    /// The plans one can switch to: `(price id, label)`.
    choices: Vec<(String, String)>,
    /// What just happened.
    notice: Option<String>,
    /// Why the last action failed.
    error: Option<String>,
}

/// The change preview, before confirming.
#[derive(Template)]
#[template(path = "account_preview.html")]
pub struct PreviewPage {
    layout: Layout,
    shop: Shop,
    subscription_id: String,
    planned: PlannedChange,
    /// What an upgrade charges now (prorated), in words.
    due_now: String,
    /// When a downgrade's price starts applying.
    period_end: Option<DateTime<Utc>>,
}

/// The tenant of `/t/{slug}`, or the 404 page.
async fn shop_of(browser: &Browser, slug: &str) -> Result<Tenant, WebError> {
    browser
        .platform()
        .public_tenant(slug)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))
}

/// `?interval=year` shows the yearly prices; anything else the monthly ones.
#[derive(Deserialize)]
pub(crate) struct PricingQuery {
    #[serde(default)]
    interval: String,
}

/// Renders the pricing page (also after a refused subscribe attempt).
async fn render_pricing(
    browser: &Browser,
    tenant: &Tenant,
    yearly: bool,
    status: StatusCode,
    error: Option<String>,
    email: String,
) -> PageResult {
    let selling = tenant.status != TenantStatus::Suspended;
    let (offers, features) = if selling {
        let pricing = browser.platform().public_pricing(tenant).await?;
        let unit = if yearly {
            IntervalUnit::Year
        } else {
            IntervalUnit::Month
        };
        let offers = pricing
            .plans
            .into_iter()
            .filter_map(|plan| {
                let offer = plan.offer(unit)?.clone();
                Some((plan, offer))
            })
            .collect();
        (offers, pricing.features)
    } else {
        (Vec::new(), Vec::new())
    };
    // Visiting a suspended tenant's page: the service is unavailable.
    let status = if !selling && status == StatusCode::OK {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status
    };
    browser.page(
        status,
        &PricingPage {
            layout: browser.layout(),
            shop: Shop::from(tenant),
            selling,
            yearly,
            offers,
            features,
            error,
            email,
        },
    )
}

/// `GET /t/{slug}/pricing`: the plans, or "unavailable" for a suspended
/// tenant (503, no form).
async fn pricing(
    browser: Browser,
    slug: web::Path<String>,
    query: web::Query<PricingQuery>,
) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    render_pricing(
        &browser,
        &tenant,
        query.interval == "year",
        StatusCode::OK,
        None,
        String::new(),
    )
    .await
    .map_err(|err| err.with_browser(&browser))
}

/// The pricing page's subscribe form.
#[derive(Deserialize)]
pub(crate) struct CheckoutForm {
    /// The chosen `price_…`.
    #[serde(default)]
    price: String,
    #[serde(default)]
    email: String,
    /// Seats for a per-seat price (ignored otherwise).
    #[serde(default)]
    seats: String,
}

/// `POST /t/{slug}/checkout`: opens the Stripe-hosted checkout (303 to it);
/// a refusal re-shows the pricing page with the reason.
async fn checkout(
    CsrfForm { form, browser }: CsrfForm<CheckoutForm>,
    slug: web::Path<String>,
) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    let seats = parse_seats(&form.seats);
    let platform = browser.platform();
    let ctx = platform.audit_context(
        platform::records::Actor::system(),
        &RequestId::current_or_new(),
    );
    let result = match seats {
        Ok(seats) => {
            platform
                .public_checkout(&tenant, &form.price, &form.email, seats, &ctx)
                .await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(link) => Ok(HttpResponse::SeeOther()
            .insert_header(("location", link.url))
            .finish()),
        Err(err @ (PlatformError::Invalid { .. } | PlatformError::TenantSuspended)) => {
            let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
            render_pricing(
                &browser,
                &tenant,
                false,
                status,
                Some(err.to_string()),
                form.email,
            )
            .await
        }
        Err(err) => Err(WebError::from(err).with_browser(&browser)),
    }
}

/// `?session_id=cs_…` (Stripe fills it in).
#[derive(Deserialize)]
pub(crate) struct SuccessQuery {
    #[serde(default)]
    session_id: String,
}

/// `GET /t/{slug}/checkout/success`: verifies the session with Stripe.
async fn success(
    browser: Browser,
    slug: web::Path<String>,
    query: web::Query<SuccessQuery>,
) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    let platform = browser.platform();
    let outcome = platform
        .public_checkout_outcome(&tenant, &query.session_id)
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    let (subscription, confirming) = match outcome {
        CheckoutOutcome::Subscribed(row) => (Some(*row), false),
        CheckoutOutcome::Confirming => (None, true),
        CheckoutOutcome::NotPaid => (None, false),
    };
    let plan_name = match subscription.as_ref().and_then(|row| row.plan_id.as_deref()) {
        Some(plan) => platform
            .public_pricing(&tenant)
            .await?
            .plans
            .into_iter()
            .find(|candidate| candidate.id == plan)
            .map_or_else(|| "your plan".to_owned(), |found| found.name),
        None => "your plan".to_owned(),
    };
    browser.page(
        StatusCode::OK,
        &SuccessPage {
            shop: Shop::from(&tenant),
            subscription,
            plan_name,
            confirming,
        },
    )
}

/// `GET /t/{slug}/account/sign-in`.
async fn sign_in_page(browser: Browser, slug: web::Path<String>) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    render_sign_in(&browser, &tenant, StatusCode::OK, false, None)
}

fn render_sign_in(
    browser: &Browser,
    tenant: &Tenant,
    status: StatusCode,
    sent: bool,
    error: Option<String>,
) -> PageResult {
    browser.page(
        status,
        &SignInPage {
            layout: browser.layout(),
            shop: Shop::from(tenant),
            sent,
            error,
        },
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    email: String,
}

/// `POST /t/{slug}/account/sign-in`: emails a link when the address is a
/// customer's, and answers the same in every case.
async fn sign_in(
    CsrfForm { form, browser }: CsrfForm<SignInForm>,
    slug: web::Path<String>,
) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    let platform = browser.platform();
    let ctx = platform.audit_context(
        platform::records::Actor::system(),
        &RequestId::current_or_new(),
    );
    match platform
        .email_sign_in_link(&tenant, &form.email, &ctx)
        .await
    {
        Ok(()) => render_sign_in(&browser, &tenant, StatusCode::OK, true, None),
        Err(err @ PlatformError::Invalid { .. }) => render_sign_in(
            &browser,
            &tenant,
            StatusCode::BAD_REQUEST,
            false,
            Some(err.to_string()),
        ),
        Err(err) => Err(WebError::from(err).with_browser(&browser)),
    }
}

/// `?token=…` of an account link.
#[derive(Deserialize)]
pub(crate) struct EnterQuery {
    #[serde(default)]
    token: String,
}

/// `GET /t/{slug}/account/enter?token=…`: exchanges a valid link for the
/// customer session cookie (on this tenant's pages only), then shows the
/// account page; an invalid, expired or other tenant's link is a 401 page.
async fn enter(
    browser: Browser,
    slug: web::Path<String>,
    query: web::Query<EnterQuery>,
) -> PageResult {
    let tenant = shop_of(&browser, &slug).await?;
    let session = browser
        .platform()
        .open_customer_session(&tenant, &query.token)
        .await
        .map_err(|err| WebError::from(err).with_browser(&browser))?;
    let base = format!("/t/{}", tenant.slug);
    Ok(browser.redirect_with_customer_session(
        &format!("{base}/account"),
        &base,
        session,
        SESSION_TTL.num_seconds(),
    ))
}

/// The signed-in customer of `tenant`, from the session cookie; `None`
/// without a valid one.
fn customer_of(browser: &Browser, tenant: &Tenant) -> Option<CustomerId> {
    let token = browser.customer_token.as_deref()?;
    browser
        .platform()
        .verify_customer_token(TokenPurpose::Session, tenant, token)
        .ok()
}

/// The tenant and its signed-in customer, or a redirect to the sign-in page.
async fn signed_in_customer(
    browser: &Browser,
    slug: &str,
) -> Result<Result<(Tenant, CustomerId), HttpResponse>, WebError> {
    let tenant = shop_of(browser, slug).await?;
    Ok(match customer_of(browser, &tenant) {
        Some(customer) => Ok((tenant, customer)),
        None => Err(HttpResponse::SeeOther()
            .insert_header(("location", format!("/t/{}/account/sign-in", tenant.slug)))
            .finish()),
    })
}

async fn render_account(
    browser: &Browser,
    tenant: &Tenant,
    customer: &CustomerId,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let platform = browser.platform();
    let account = platform.customer_account(tenant, customer).await?;
    let choices = platform.customer_plan_choices(tenant).await?;
    browser.page(
        status,
        &AccountPage {
            layout: browser.layout(),
            shop: Shop::from(tenant),
            account,
            choices,
            notice,
            error,
        },
    )
}

/// `GET /t/{slug}/account`.
async fn account(browser: Browser, slug: web::Path<String>) -> PageResult {
    let (tenant, customer) = match signed_in_customer(&browser, &slug).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    render_account(&browser, &tenant, &customer, StatusCode::OK, None, None)
        .await
        .map_err(|err| err.with_browser(&browser))
}

/// `POST /t/{slug}/account/sign-out`.
async fn sign_out(form: CsrfForm<TokenOnly>, slug: web::Path<String>) -> PageResult {
    let tenant = shop_of(&form.browser, &slug).await?;
    let base = format!("/t/{}", tenant.slug);
    Ok(form
        .browser
        .redirect_clearing_customer_session(&format!("{base}/account/sign-in"), &base))
}

/// `POST /t/{slug}/account/payment-method`: to Stripe's billing portal,
/// which comes back to the account page.
async fn payment_method(form: CsrfForm<TokenOnly>, slug: web::Path<String>) -> PageResult {
    let browser = &form.browser;
    let (tenant, customer) = match signed_in_customer(browser, &slug).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let platform = browser.platform();
    let ctx = platform.audit_context(
        platform::records::Actor::system(),
        &RequestId::current_or_new(),
    );
    let url = platform
        .customer_payment_portal(&tenant, &customer, &ctx)
        .await
        .map_err(|err| WebError::from(err).with_browser(browser))?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", url))
        .finish())
}

/// The account page's change form (and the preview's confirm form).
#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    /// The new `price_…` (empty: keep the price).
    #[serde(default)]
    price: String,
    /// The new number of seats (empty: keep them).
    #[serde(default)]
    seats: String,
}

impl ChangeForm {
    fn seats(&self) -> Result<Option<u64>, PlatformError> {
        parse_seats(&self.seats)
    }
}

/// A form's seats field: empty is "not given".
fn parse_seats(raw: &str) -> Result<Option<u64>, PlatformError> {
    match raw.trim() {
        "" => Ok(None),
        raw => raw
            .parse()
            .map(Some)
            .map_err(|_| PlatformError::invalid("seats", "enter a number of seats")),
    }
}

/// Runs an account action of the signed-in customer; a refusal re-shows
/// the account page with the reason, success shows it with `done`.
async fn account_action<F, Fut>(browser: &Browser, slug: &str, done: &str, action: F) -> PageResult
where
    F: FnOnce(Tenant, CustomerId) -> Fut,
    Fut: std::future::Future<Output = Result<(), PlatformError>>,
{
    let (tenant, customer) = match signed_in_customer(browser, slug).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let (status, notice, error) = match action(tenant.clone(), customer.clone()).await {
        Ok(()) => (StatusCode::OK, Some(done.to_owned()), None),
        Err(err @ PlatformError::Invalid { .. }) => {
            (StatusCode::BAD_REQUEST, None, Some(err.to_string()))
        }
        Err(err) => return Err(WebError::from(err).with_browser(browser)),
    };
    render_account(browser, &tenant, &customer, status, notice, error)
        .await
        .map_err(|err| err.with_browser(browser))
}

/// `POST …/subscriptions/{id}/preview`: what the change would cost, with a
/// confirm button; nothing changes yet.
async fn preview_change(
    CsrfForm { form, browser }: CsrfForm<ChangeForm>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (slug, subscription) = path.into_inner();
    let (tenant, customer) = match signed_in_customer(&browser, &slug).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let platform = browser.platform();
    let planned = match form.seats() {
        Ok(seats) => {
            platform
                .plan_customer_change(
                    &tenant,
                    &customer,
                    &subscription,
                    Some(form.price.as_str()),
                    seats,
                )
                .await
        }
        Err(err) => Err(err),
    };
    let (id, planned) = match planned {
        Ok(planned) => planned,
        Err(err @ PlatformError::Invalid { .. }) => {
            return render_account(
                &browser,
                &tenant,
                &customer,
                StatusCode::BAD_REQUEST,
                None,
                Some(err.to_string()),
            )
            .await;
        }
        Err(err) => return Err(WebError::from(err).with_browser(&browser)),
    };
    let tenant_id = billing::ids::TenantId::parse(&tenant.id)
        .map_err(|err| PlatformError::Internal(format!("stored tenant id: {err}")))?;
    let due_now = if planned.upgrade {
        platform
            .preview_subscription_change(&tenant_id, &id, &planned.change)
            .await
            .map_err(|err| WebError::from(err).with_browser(&browser))?
            .to_string()
    } else {
        String::new()
    };
    let period_end = platform
        .subscription(&tenant_id, &id)
        .await?
        .current_period_end;
    browser.page(
        StatusCode::OK,
        &PreviewPage {
            layout: browser.layout(),
            shop: Shop::from(&tenant),
            subscription_id: id.to_string(),
            planned,
            due_now,
            period_end,
        },
    )
}

/// `POST …/subscriptions/{id}/change`: the confirmed change.
async fn change(
    CsrfForm { form, browser }: CsrfForm<ChangeForm>,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (slug, subscription) = path.into_inner();
    let platform = browser.platform();
    account_action(
        &browser,
        &slug,
        "Your plan was changed.",
        |tenant, customer| async move {
            let seats = form.seats()?;
            let (id, planned) = platform
                .plan_customer_change(
                    &tenant,
                    &customer,
                    &subscription,
                    Some(form.price.as_str()),
                    seats,
                )
                .await?;
            platform
                .apply_customer_change(&tenant, &customer, &id, planned)
                .await
        },
    )
    .await
}

/// `POST …/subscriptions/{id}/keep-plan`: withdraws a scheduled downgrade.
async fn keep_plan(form: CsrfForm<TokenOnly>, path: web::Path<(String, String)>) -> PageResult {
    let (slug, subscription) = path.into_inner();
    let platform = form.browser.platform();
    account_action(
        &form.browser,
        &slug,
        "You keep your current plan.",
        |tenant, customer| async move {
            platform
                .keep_customer_plan(&tenant, &customer, &subscription)
                .await
        },
    )
    .await
}

/// `POST …/subscriptions/{id}/cancel`: cancels at the end of the period.
async fn cancel(form: CsrfForm<TokenOnly>, path: web::Path<(String, String)>) -> PageResult {
    end_or_keep(form, path, true).await
}

/// `POST …/subscriptions/{id}/resume`: withdraws a scheduled cancellation.
async fn resume(form: CsrfForm<TokenOnly>, path: web::Path<(String, String)>) -> PageResult {
    end_or_keep(form, path, false).await
}

/// Schedules the end of one of the customer's subscriptions (`cancel`) or
/// withdraws it.
async fn end_or_keep(
    form: CsrfForm<TokenOnly>,
    path: web::Path<(String, String)>,
    cancel: bool,
) -> PageResult {
    let (slug, subscription) = path.into_inner();
    let platform = form.browser.platform();
    let done = if cancel {
        "Your subscription will end at the end of the current period."
    } else {
        "Your subscription continues."
    };
    account_action(&form.browser, &slug, done, |tenant, customer| async move {
        let (tenant_id, id, ctx) = platform
            .customer_subscription(&tenant, &customer, &subscription)
            .await?;
        if cancel {
            platform
                .cancel_subscription(&tenant_id, &ctx, &id, true)
                .await?;
        } else {
            platform.resume_subscription(&tenant_id, &ctx, &id).await?;
        }
        Ok(())
    })
    .await
}
