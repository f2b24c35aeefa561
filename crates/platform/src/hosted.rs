//! The merchant's public pages as services: the pricing page's catalog,
//! checkout from it, the success page's verification, and the customer's
//! account page behind signed, short-lived links.
//!
//! Customers have no password. A merchant's backend (API) or the customer
//! (the "email me a sign-in link" form) gets an *account link*: a JWT
//! (HS256) whose audience is the tenant, subject the customer, valid for
//! [`LINK_TTL`]. Opening it exchanges it for a *customer session*: another
//! JWT, signed with a different key so neither can stand in for the other,
//! kept in an `HttpOnly` cookie. Both keys are derived from `SECRET_KEY`,
//! so every process sharing the database accepts them and nothing is stored.
//! Expiry is checked against the platform's one clock, not the wall clock,
//! so tests and the emulator's advanced time agree with the pages.

use std::collections::{BTreeMap, HashSet};

use billing::catalog::{IntervalUnit, PriceModel, PriceType};
use billing::entitlements::{FeatureKind, GrantValue};
use billing::ids::{CustomerId, PlanId, PriceId, SubscriptionId, TenantId};
use billing::money::{Currency, Money};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use store::mirror::{CustomerRow, SubscriptionRow};
use store::{Actor, ActorKind, AuditContext, Tenant, TenantStatus};
use stripe::{CheckoutStatus, Expand, RequestOptions};

use crate::catalog::{FeatureRecord, PriceRecord, domain_price, stored_price_type};
use crate::subscriptions::{CheckoutInput, CheckoutLink, Proration, SubscriptionChange};
use crate::{Platform, PlatformError, PlatformResult, Secret};

/// How long an account link works: long enough to open an email, short
/// enough that a forwarded or leaked one is soon worthless.
pub const LINK_TTL: TimeDelta = TimeDelta::minutes(15);

/// How long a customer stays signed in on the account page.
pub const SESSION_TTL: TimeDelta = TimeDelta::hours(1);

/// Who issues the tokens (checked, so a token of another system is refused).
const ISSUER: &str = "billforge";

/// The two kinds of customer token; each is signed with its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// The link in an email or handed out by the API.
    AccountLink,
    /// The account page's cookie, once a link was opened.
    Session,
}

impl TokenPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            TokenPurpose::AccountLink => b"customer-account-link:v1",
            TokenPurpose::Session => b"customer-session:v1",
        }
    }
}

/// The signing keys of customer tokens, derived once from `SECRET_KEY`.
#[derive(Clone)]
pub struct CustomerTokenKeys {
    /// HMAC key of account links.
    link: Secret,
    /// HMAC key of customer sessions.
    session: Secret,
}

impl CustomerTokenKeys {
    /// Derives both keys from the platform's secret (HMAC-SHA256 of a
    /// purpose label), so a leaked token key never reveals `SECRET_KEY`.
    pub fn derive(secret_key: &Secret) -> Self {
        let derive = |purpose: TokenPurpose| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.expose().as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(purpose.label());
            Secret::new(hex::encode(mac.finalize().into_bytes()))
        };
        Self {
            link: derive(TokenPurpose::AccountLink),
            session: derive(TokenPurpose::Session),
        }
    }

    fn key(&self, purpose: TokenPurpose) -> &[u8] {
        match purpose {
            TokenPurpose::AccountLink => self.link.expose().as_bytes(),
            TokenPurpose::Session => self.session.expose().as_bytes(),
        }
    }
}

/// A customer token's claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// `billforge`.
    iss: String,
    /// The tenant the customer belongs to (`ten_…`).
    aud: String,
    /// The customer (`cus_…`).
    sub: String,
    /// Issued at, Unix seconds on the platform clock.
    iat: i64,
    /// Expiry, Unix seconds on the platform clock.
    exp: i64,
}

/// A signed link to a customer's account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLink {
    /// The page that exchanges the token for a session.
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// One price of a plan as the pricing page offers it.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Billforge's `price_…` id (what the form posts).
    pub price_id: String,
    /// `month`, `year`, … (the switch's sections).
    pub interval: IntervalUnit,
    /// What it costs, in words: `$19.00 per month`, `$5.00 per seat per year`.
    pub label: String,
    /// Whether the customer chooses a number of seats.
    pub per_seat: bool,
}

/// A plan on the pricing page.
#[derive(Debug, Clone)]
pub struct PricingPlan {
    /// `plan_…` id.
    pub id: String,
    /// Shown to customers.
    pub name: String,
    /// Free days before the first charge.
    pub trial_days: Option<i32>,
    /// Its prices on offer to new subscribers, on Stripe already.
    pub offers: Vec<Offer>,
    /// What it grants, by feature id, in words (`Included`, `Up to 10`).
    pub grants: BTreeMap<String, String>,
}

impl PricingPlan {
    /// The plan's offer billed every `interval`, if any.
    pub fn offer(&self, interval: IntervalUnit) -> Option<&Offer> {
        self.offers.iter().find(|offer| offer.interval == interval)
    }

    /// The comparison table's cell for `feature`.
    pub fn grant_of(&self, feature: &str) -> &str {
        self.grants.get(feature).map_or("—", String::as_str)
    }
}

/// What the pricing page shows.
#[derive(Debug, Clone)]
pub struct Pricing {
    /// Plans with at least one offer, oldest first.
    pub plans: Vec<PricingPlan>,
    /// The features any of them grants (the comparison table's rows).
    pub features: Vec<FeatureRecord>,
}

/// What the success page found out about a checkout.
#[derive(Debug, Clone)]
pub enum CheckoutOutcome {
    /// Paid, and the subscription is in Billforge's mirror.
    Subscribed(Box<SubscriptionRow>),
    /// Paid (or being paid), but the webhook that tells Billforge has not
    /// been applied yet.
    Confirming,
    /// Not paid: still open, or expired.
    NotPaid,
}

/// Everything the account page shows.
#[derive(Debug, Clone)]
pub struct CustomerAccount {
    /// The customer.
    pub customer: CustomerRow,
    /// Their subscriptions that are not over, oldest first.
    pub subscriptions: Vec<AccountSubscription>,
    /// What they may use: feature name and the limit in words.
    pub entitlements: Vec<(String, String)>,
    /// Their invoices, newest first.
    pub invoices: Vec<AccountInvoice>,
}

/// An invoice on the account page.
#[derive(Debug, Clone)]
pub struct AccountInvoice {
    /// The merchant's invoice number (or Stripe's id before it has one).
    pub number: String,
    /// When its period began.
    pub date: Option<DateTime<Utc>>,
    /// What it charged (or charges), in words.
    pub amount: String,
    /// Stripe's status: `paid`, `open`, …
    pub status: String,
    /// Stripe's hosted invoice page (receipt, PDF, paying an open one).
    pub url: Option<String>,
}

/// A subscription on the account page.
#[derive(Debug, Clone)]
pub struct AccountSubscription {
    /// The mirror row (status, period, cancellation).
    pub row: SubscriptionRow,
    /// Its plan's name (or "Your plan" when the price is not Billforge's).
    pub plan_name: String,
    /// What the next renewal charges, in words, when known.
    pub next_payment: Option<String>,
    /// Whether its price is per seat (the seats form is shown).
    pub per_seat: bool,
    /// The plan it changes to at the period's end (a downgrade), and when.
    pub scheduled_change: Option<(String, DateTime<Utc>)>,
}

impl AccountSubscription {
    /// Whether it still grants access and can be changed.
    pub fn is_live(&self) -> bool {
        matches!(self.row.status.as_str(), "active" | "trialing" | "past_due")
    }
}

/// A change the customer asked for on the account page, and how it is
/// billed: an upgrade (the new price costs at least as much per day) is
/// prorated and invoiced now; a downgrade waits for the end of the period
/// (the customer keeps what they paid for) and is charged from the next
/// period on.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    /// What is sent to Stripe.
    pub change: SubscriptionChange,
    /// Whether it is billed now (upgrade) or from the next period.
    pub upgrade: bool,
    /// The new plan's name.
    pub plan_name: String,
    /// What the subscription will cost per period afterwards, in words.
    pub new_price: String,
    /// The price and seats to confirm (the form's hidden fields).
    pub price_id: String,
    /// Seats after the change.
    pub seats: u64,
}

/// Days in one `unit`, to compare prices of different periods (approximate
/// on purpose: it only decides upgrade versus downgrade).
fn unit_days(unit: IntervalUnit) -> i128 {
    match unit {
        IntervalUnit::Day => 1,
        IntervalUnit::Week => 7,
        IntervalUnit::Month => 30,
        IntervalUnit::Year => 365,
    }
}

/// What `quantity` of `record` costs per period, in minor units, and the
/// period's length in days.
/// A one-time price has no period: it cannot be subscribed to.
fn cost_per_period(record: &PriceRecord, quantity: u64) -> PlatformResult<(i128, i128)> {
    let price = domain_price(record)?;
    let PriceType::Recurring { interval } = price.price_type() else {
        return Err(PlatformError::PriceNotRecurring(record.id.clone()));
    };
    let amount = price
        .amount_for(quantity)
        .map_err(|err| PlatformError::Internal(err.to_string()))?;
    let days = unit_days(interval.unit()) * i128::from(interval.count());
    Ok((i128::from(amount.amount_minor), days))
}

/// The period of a unit, as it reads after "per".
fn unit_word(unit: IntervalUnit) -> &'static str {
    match unit {
        IntervalUnit::Day => "day",
        IntervalUnit::Week => "week",
        IntervalUnit::Month => "month",
        IntervalUnit::Year => "year",
    }
}

/// What `quantity` of `record` costs per period (or once), in words.
fn price_label(record: &PriceRecord, quantity: u64) -> PlatformResult<String> {
    let price = domain_price(record)?;
    let period = match price.price_type() {
        PriceType::Recurring { interval } if interval.count() == 1 => {
            format!("per {}", unit_word(interval.unit()))
        }
        PriceType::Recurring { interval } => {
            format!("per {} {}s", interval.count(), unit_word(interval.unit()))
        }
        PriceType::OneTime => "once".to_owned(),
    };
    let label = match price.model() {
        PriceModel::PerSeat { .. } if quantity == 1 => {
            let unit = price
                .amount_for(1)
                .map_err(|err| PlatformError::Internal(err.to_string()))?;
            format!("{unit} per seat {period}")
        }
        PriceModel::Tiered { .. } if quantity == 1 => format!("tiered, {period}"),
        _ => {
            let amount = price
                .amount_for(quantity)
                .map_err(|err| PlatformError::Internal(err.to_string()))?;
            format!("{amount} {period}")
        }
    };
    Ok(label)
}

/// A grant in words, for the comparison table and the account page.
fn grant_words(value: GrantValue) -> String {
    match value {
        GrantValue::Enabled => "Included".to_owned(),
        GrantValue::Limit(limit) => format!("Up to {limit}"),
        GrantValue::Unlimited => "Unlimited".to_owned(),
    }
}

/// Checkout session ids come from a URL: only Stripe's shape is looked up.
fn checkout_session_id(raw: &str) -> PlatformResult<&str> {
    let plausible = raw.starts_with("cs_")
        && raw.len() <= 255
        && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plausible {
        Ok(raw)
    } else {
        Err(PlatformError::NotFound("checkout session"))
    }
}

/// The audit actor of a customer's own changes on the account page.
fn customer_actor(customer: &CustomerId) -> Actor {
    Actor {
        kind: ActorKind::System,
        id: format!("customer:{customer}"),
    }
}

impl Platform {
    /// The tenant whose public pages live under `/t/{slug}`; `not_found`
    /// for an unknown slug.
    pub async fn public_tenant(&self, slug: &str) -> PlatformResult<Tenant> {
        self.store()
            .tenant_by_slug(slug)
            .await?
            .ok_or(PlatformError::NotFound("page"))
    }

    /// The tenant's id, parsed from its row.
    fn tenant_id_of(tenant: &Tenant) -> PlatformResult<TenantId> {
        TenantId::parse(&tenant.id)
            .map_err(|err| PlatformError::Internal(format!("stored tenant id: {err}")))
    }

    /// The pricing page's plans: not archived, with prices on offer that
    /// are on Stripe already (nothing unsellable is shown), and the
    /// features they grant.
    pub async fn public_pricing(&self, tenant: &Tenant) -> PlatformResult<Pricing> {
        let tenant_id = Self::tenant_id_of(tenant)?;
        let scope = self.store().scoped(&tenant_id);
        let features: BTreeMap<String, FeatureRecord> = self
            .features(&tenant_id)
            .await?
            .into_iter()
            .map(|feature| (feature.id.clone(), feature))
            .collect();
        let mut plans = Vec::new();
        let mut granted = HashSet::new();
        for plan in self.plans(&tenant_id).await? {
            if plan.archived {
                continue;
            }
            let id = PlanId::parse(&plan.id)
                .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
            let mut offers = Vec::new();
            for price in scope.prices_of(&id).await? {
                if price.archived || price.stripe_price_id.is_none() {
                    continue;
                }
                // One-time prices are sold by the merchant's own checkout,
                // not offered as a plan to subscribe to.
                let PriceType::Recurring { interval } = stored_price_type(&price)? else {
                    continue;
                };
                let per_seat = matches!(
                    serde_json::from_str::<PriceModel>(&price.model),
                    Ok(PriceModel::PerSeat { .. })
                );
                offers.push(Offer {
                    interval: interval.unit(),
                    label: price_label(&price, 1)?,
                    price_id: price.id,
                    per_seat,
                });
            }
            if offers.is_empty() {
                continue;
            }
            let mut grants = BTreeMap::new();
            for grant in scope.grants_of(&id).await? {
                let value: GrantValue = serde_json::from_str(&grant.value)
                    .map_err(|err| PlatformError::Internal(format!("stored grant: {err}")))?;
                granted.insert(grant.feature_id.clone());
                grants.insert(grant.feature_id, grant_words(value));
            }
            plans.push(PricingPlan {
                id: plan.id,
                name: plan.name,
                trial_days: plan.trial_days,
                offers,
                grants,
            });
        }
        let features = features
            .into_values()
            .filter(|feature| granted.contains(&feature.id))
            .collect();
        Ok(Pricing { plans, features })
    }

    /// The pricing page's "subscribe" form: a Stripe-hosted checkout of
    /// `price` on the tenant's connected account, with the platform fee,
    /// coming back to the success page (or to pricing when abandoned).
    /// A suspended tenant sells nothing (`tenant_suspended`).
    pub async fn public_checkout(
        &self,
        tenant: &Tenant,
        price: &str,
        email: &str,
        seats: Option<u64>,
        ctx: &AuditContext,
    ) -> PlatformResult<CheckoutLink> {
        if tenant.status == TenantStatus::Suspended {
            return Err(PlatformError::TenantSuspended);
        }
        if email.trim().is_empty() {
            return Err(PlatformError::invalid("email", "enter your email address"));
        }
        let tenant_id = Self::tenant_id_of(tenant)?;
        let price_id = PriceId::parse(price).map_err(|_| PlatformError::NotFound("price"))?;
        let record = self
            .store()
            .scoped(&tenant_id)
            .price(&price_id)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        let plan_id = PlanId::parse(&record.plan_id)
            .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
        // A flat price is sold one at a time: the seats field is ignored.
        let takes_quantity = !matches!(
            serde_json::from_str::<PriceModel>(&record.model),
            Ok(PriceModel::Flat { .. })
        );
        let seats = seats.filter(|_| takes_quantity);
        let base = format!("{}/t/{}", self.settings().public_url, tenant.slug);
        self.create_checkout_session(
            &tenant_id,
            ctx,
            CheckoutInput {
                plan_id,
                price_id: Some(price_id),
                quantity: seats,
                customer_id: None,
                customer_email: Some(email.to_owned()),
                trial_days: None,
                success_url: format!("{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"),
                cancel_url: format!("{base}/pricing"),
            },
        )
        .await
    }

    /// The success page's check, made server-side: the session is read
    /// from the tenant's own connected account (another tenant's session is
    /// `not_found` there) and must carry the tenant's id.
    pub async fn public_checkout_outcome(
        &self,
        tenant: &Tenant,
        session_id: &str,
    ) -> PlatformResult<CheckoutOutcome> {
        let session_id = checkout_session_id(session_id)?;
        let tenant_id = Self::tenant_id_of(tenant)?;
        let account = self.connected_account(&tenant_id).await?;
        let session = self
            .stripe()
            .checkout_sessions()
            .retrieve(
                session_id,
                &Expand::default(),
                RequestOptions::new().on_account(account),
            )
            .await
            .map_err(|err| match err.as_api() {
                Some(api) if api.status == 404 => PlatformError::NotFound("checkout session"),
                _ => PlatformError::from(err),
            })?;
        if session.metadata.get("tenant_id") != Some(&tenant.id) {
            return Err(PlatformError::NotFound("checkout session"));
        }
        if session.status != Some(CheckoutStatus::Complete) {
            return Ok(CheckoutOutcome::NotPaid);
        }
        let Some(subscription) = session.subscription else {
            return Ok(CheckoutOutcome::Confirming);
        };
        let row = self
            .store()
            .scoped(&tenant_id)
            .subscription_by_stripe_id(subscription.id())
            .await?;
        Ok(row.map_or(CheckoutOutcome::Confirming, |row| {
            CheckoutOutcome::Subscribed(Box::new(row))
        }))
    }

    fn sign_customer_token(
        &self,
        purpose: TokenPurpose,
        tenant: &TenantId,
        customer: &CustomerId,
        ttl: TimeDelta,
    ) -> PlatformResult<(String, DateTime<Utc>)> {
        let now = self.now();
        let expires_at = now + ttl;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: tenant.to_string(),
            sub: customer.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.inner.customer_tokens.key(purpose)),
        )
        .map_err(|err| PlatformError::Internal(format!("signing a customer token: {err}")))?;
        Ok((token, expires_at))
    }

    /// The customer a token of `purpose` names, if it is valid for
    /// `tenant` now: signature (HS256 only), issuer, audience, expiry on the
    /// platform clock. Every failure is the same `link_invalid`, so a
    /// prober learns nothing about why.
    pub fn verify_customer_token(
        &self,
        purpose: TokenPurpose,
        tenant: &Tenant,
        token: &str,
    ) -> PlatformResult<CustomerId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[tenant.id.as_str()]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "sub", "iss"]);
        // Expiry is checked below on the one clock, not the wall clock.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(self.inner.customer_tokens.key(purpose)),
            &validation,
        )
        .map_err(|err| {
            tracing::info!(error = %err, "customer token refused");
            PlatformError::LinkInvalid
        })?;
        if data.claims.exp <= self.now().timestamp() {
            return Err(PlatformError::LinkInvalid);
        }
        CustomerId::parse(&data.claims.sub).map_err(|_| PlatformError::LinkInvalid)
    }

    /// A link to `customer`'s account page, valid for [`LINK_TTL`]
    /// (`POST /v1/customers/{id}/account_links`, the sign-in email).
    pub async fn customer_account_link(
        &self,
        tenant_id: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<AccountLink> {
        self.customer(tenant_id, customer).await?;
        let tenant = self
            .store()
            .tenant(tenant_id)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        let (token, expires_at) =
            self.sign_customer_token(TokenPurpose::AccountLink, tenant_id, customer, LINK_TTL)?;
        Ok(AccountLink {
            url: format!(
                "{}/t/{}/account/enter?token={token}",
                self.settings().public_url,
                tenant.slug
            ),
            expires_at,
        })
    }

    /// Exchanges an account link's token for a session token (the cookie's
    /// value) of the same customer, valid for [`SESSION_TTL`].
    pub async fn open_customer_session(
        &self,
        tenant: &Tenant,
        link_token: &str,
    ) -> PlatformResult<String> {
        let customer = self.verify_customer_token(TokenPurpose::AccountLink, tenant, link_token)?;
        let tenant_id = Self::tenant_id_of(tenant)?;
        // A customer deleted since the link was made cannot sign in.
        self.customer(&tenant_id, &customer)
            .await
            .map_err(|_| PlatformError::LinkInvalid)?;
        let (session, _) =
            self.sign_customer_token(TokenPurpose::Session, &tenant_id, &customer, SESSION_TTL)?;
        Ok(session)
    }

    /// The "email me a sign-in link" form: emails a link to each of the
    /// tenant's customers with that address, and does nothing otherwise;
    /// the caller answers the same either way, so the form does not reveal
    /// which emails are customers. Keyed on the request, so a retried
    /// request sends once.
    pub async fn email_sign_in_link(
        &self,
        tenant: &Tenant,
        email: &str,
        ctx: &AuditContext,
    ) -> PlatformResult<()> {
        let email = email.trim();
        if email.is_empty() || !email.contains('@') || email.chars().count() > 255 {
            return Err(PlatformError::invalid("email", "enter your email address"));
        }
        let tenant_id = Self::tenant_id_of(tenant)?;
        let customers = self
            .store()
            .scoped(&tenant_id)
            .customers_by_email(email)
            .await?;
        for customer in customers {
            let id = CustomerId::parse(&customer.id)
                .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))?;
            let link = self.customer_account_link(&tenant_id, &id).await?;
            let url = mailer::Link::parse(&link.url)
                .map_err(|err| PlatformError::Internal(format!("PUBLIC_URL: {err}")))?;
            let mail = mailer::message::SignInLink {
                sign_in_url: url,
                expires_at: link.expires_at,
            };
            let to = customer.email.as_deref().unwrap_or(email);
            self.queue_customer_mail(
                tenant,
                mail.into(),
                (to, customer.name.as_deref()),
                &format!("sign-in:{}:{}", ctx.request_id, customer.id),
            )
            .await?;
        }
        Ok(())
    }

    /// The account page's contents for a signed-in customer.
    pub async fn customer_account(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
    ) -> PlatformResult<CustomerAccount> {
        let tenant_id = Self::tenant_id_of(tenant)?;
        let row = self.customer(&tenant_id, customer).await?;
        let scope = self.store().scoped(&tenant_id);
        let mut subscriptions = Vec::new();
        for subscription in scope.subscriptions_of(customer).await? {
            if matches!(
                subscription.status.as_str(),
                "canceled" | "incomplete_expired"
            ) {
                continue;
            }
            let price = match &subscription.price_id {
                Some(id) => match PriceId::parse(id) {
                    Ok(id) => scope.price(&id).await?,
                    Err(_) => None,
                },
                None => None,
            };
            let plan_name = match &subscription.plan_id {
                Some(id) => match PlanId::parse(id) {
                    Ok(id) => scope.plan(&id).await?.map(|plan| plan.name),
                    Err(_) => None,
                },
                None => None,
            };
            let mut quantity = u64::try_from(subscription.quantity.max(1)).unwrap_or(1);
            let mut price = price;
            let mut scheduled_change = None;
            if let Ok(id) = SubscriptionId::parse(&subscription.id)
                && let Some(change) = self.scheduled_subscription_change(&tenant_id, &id).await?
                && let Ok(new_price_id) = PriceId::parse(&change.price_id)
                && let Some(new_price) = scope.price(&new_price_id).await?
            {
                let new_plan = match PlanId::parse(&new_price.plan_id) {
                    Ok(id) => scope.plan(&id).await?.map(|plan| plan.name),
                    Err(_) => None,
                };
                scheduled_change = Some((
                    new_plan.unwrap_or_else(|| "another plan".to_owned()),
                    change.effective_at,
                ));
                // The renewal bills the new price.
                quantity = change.quantity.unwrap_or(quantity);
                price = Some(new_price);
            }
            let next_payment = match &price {
                Some(price) if !subscription.cancel_at_period_end => {
                    Some(price_label(price, quantity)?)
                }
                _ => None,
            };
            let per_seat = price.as_ref().is_some_and(|price| {
                matches!(
                    serde_json::from_str::<PriceModel>(&price.model),
                    Ok(PriceModel::PerSeat { .. })
                )
            });
            subscriptions.push(AccountSubscription {
                plan_name: plan_name.unwrap_or_else(|| "Your plan".to_owned()),
                next_payment,
                per_seat,
                scheduled_change,
                row: subscription,
            });
        }
        // Name and whether it is a limit (no cap then reads "Unlimited").
        let names: BTreeMap<String, (String, bool)> = self
            .features(&tenant_id)
            .await?
            .into_iter()
            .map(|feature| {
                let is_limit = matches!(
                    serde_json::from_str::<FeatureKind>(&feature.kind),
                    Ok(FeatureKind::Limit { .. })
                );
                (feature.lookup_key, (feature.name, is_limit))
            })
            .collect();
        let entitlements = self
            .customer_entitlements(&tenant_id, customer)
            .await?
            .into_iter()
            .filter(|(_, entitlement)| entitlement.allowed)
            .map(|(key, entitlement)| {
                let (name, is_limit) = names
                    .get(key.as_str())
                    .cloned()
                    .unwrap_or_else(|| (key.to_string(), false));
                let value = match entitlement.limit {
                    Some(limit) => GrantValue::Limit(limit),
                    None if is_limit => GrantValue::Unlimited,
                    None => GrantValue::Enabled,
                };
                (name, grant_words(value))
            })
            .collect();
        let mut invoices = Vec::new();
        for invoice in scope.invoices_of(customer).await?.into_iter().rev() {
            let amount = Currency::parse(&invoice.currency).map_or_else(
                |_| format!("{} {}", invoice.amount_due, invoice.currency),
                |currency| Money::new(invoice.amount_due, currency).to_string(),
            );
            invoices.push(AccountInvoice {
                number: invoice
                    .number
                    .unwrap_or_else(|| invoice.stripe_invoice_id.clone()),
                date: invoice.period_start,
                amount,
                status: invoice.status,
                url: invoice.hosted_invoice_url,
            });
        }
        Ok(CustomerAccount {
            customer: row,
            subscriptions,
            entitlements,
            invoices,
        })
    }

    /// A Stripe billing portal session where the signed-in customer updates
    /// their payment method, coming back to the account page.
    pub async fn customer_payment_portal(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        ctx: &AuditContext,
    ) -> PlatformResult<String> {
        let tenant_id = Self::tenant_id_of(tenant)?;
        let row = self.customer(&tenant_id, customer).await?;
        let stripe_customer = row.stripe_customer_id.ok_or_else(|| {
            PlatformError::invalid("customer", "there is no payment method to update yet")
        })?;
        let account = self.connected_account(&tenant_id).await?;
        let session = self
            .stripe()
            .billing_portal_sessions()
            .create(
                &stripe::CreateBillingPortalSession {
                    customer: stripe_customer,
                    return_url: Some(format!(
                        "{}/t/{}/account",
                        self.settings().public_url,
                        tenant.slug
                    )),
                    ..stripe::CreateBillingPortalSession::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(format!("portal:{customer}:{}", ctx.request_id)),
            )
            .await?;
        Ok(session.url)
    }

    /// One of the signed-in customer's own subscriptions; another
    /// customer's is `not_found`, like another tenant's.
    pub async fn customer_subscription(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        subscription: &str,
    ) -> PlatformResult<(TenantId, SubscriptionId, AuditContext)> {
        let tenant_id = Self::tenant_id_of(tenant)?;
        let id = SubscriptionId::parse(subscription)
            .map_err(|_| PlatformError::NotFound("subscription"))?;
        let row = self.subscription(&tenant_id, &id).await?;
        if row.customer_id != customer.as_str() {
            return Err(PlatformError::NotFound("subscription"));
        }
        let ctx = self.audit_context(
            customer_actor(customer),
            &crate::RequestId::current_or_new(),
        );
        Ok((tenant_id, id, ctx))
    }
}

impl Platform {
    /// Turns the account page's change form (a new price and/or a new
    /// number of seats) into a change of one of the customer's own
    /// subscriptions, deciding how it is billed.
    pub async fn plan_customer_change(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        subscription: &str,
        price: Option<&str>,
        seats: Option<u64>,
    ) -> PlatformResult<(SubscriptionId, PlannedChange)> {
        let (tenant_id, id, _) = self
            .customer_subscription(tenant, customer, subscription)
            .await?;
        let row = self.subscription(&tenant_id, &id).await?;
        let scope = self.store().scoped(&tenant_id);
        let current_price = match row.price_id.as_deref().map(PriceId::parse) {
            Some(Ok(id)) => scope.price(&id).await?,
            _ => None,
        }
        .ok_or_else(|| {
            PlatformError::invalid("subscription", "this subscription cannot be changed here")
        })?;
        let new_price_id = match price.filter(|raw| !raw.is_empty()) {
            Some(raw) => PriceId::parse(raw).map_err(|_| PlatformError::NotFound("price"))?,
            None => PriceId::parse(&current_price.id)
                .map_err(|err| PlatformError::Internal(format!("stored price id: {err}")))?,
        };
        let new_price = scope
            .price(&new_price_id)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        let old_seats = u64::try_from(row.quantity.max(1)).unwrap_or(1);
        let per_seat = |record: &PriceRecord| {
            !matches!(
                serde_json::from_str::<PriceModel>(&record.model),
                Ok(PriceModel::Flat { .. })
            )
        };
        let new_seats = if per_seat(&new_price) {
            seats.unwrap_or(old_seats)
        } else {
            1
        };
        if new_seats == 0 {
            return Err(PlatformError::invalid("seats", "choose at least 1 seat"));
        }
        if new_price.id == current_price.id && new_seats == old_seats {
            return Err(PlatformError::invalid(
                "price",
                "that is your current plan; choose another plan or number of seats",
            ));
        }
        let (old_amount, old_days) = cost_per_period(&current_price, old_seats)?;
        let (new_amount, new_days) = cost_per_period(&new_price, new_seats)?;
        let upgrade = new_amount * old_days >= old_amount * new_days;
        let plan_id = PlanId::parse(&new_price.plan_id)
            .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
        let plan_name = scope
            .plan(&plan_id)
            .await?
            .map_or_else(|| "Your plan".to_owned(), |plan| plan.name);
        let change = SubscriptionChange {
            price_id: (new_price.id != current_price.id).then(|| new_price_id.clone()),
            quantity: (new_seats != old_seats || per_seat(&new_price)).then_some(new_seats),
            proration: if upgrade {
                Proration::InvoiceNow
            } else {
                Proration::None
            },
        };
        Ok((
            id,
            PlannedChange {
                change,
                upgrade,
                plan_name,
                new_price: price_label(&new_price, new_seats)?,
                price_id: new_price.id,
                seats: new_seats,
            },
        ))
    }

    /// Carries out a confirmed change of one of the customer's own
    /// subscriptions: an upgrade now, replacing any scheduled downgrade; a
    /// downgrade at the end of the period.
    pub async fn apply_customer_change(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        id: &SubscriptionId,
        planned: PlannedChange,
    ) -> PlatformResult<()> {
        let (tenant_id, id, ctx) = self
            .customer_subscription(tenant, customer, id.as_str())
            .await?;
        if planned.upgrade {
            self.withdraw_subscription_change(&tenant_id, &ctx, &id)
                .await?;
            self.change_subscription(&tenant_id, &ctx, &id, planned.change)
                .await?;
        } else {
            let price = PriceId::parse(&planned.price_id)
                .map_err(|err| PlatformError::Internal(format!("stored price id: {err}")))?;
            self.schedule_subscription_change(
                &tenant_id,
                &ctx,
                &id,
                &price,
                planned.change.quantity,
            )
            .await?;
        }
        Ok(())
    }

    /// Withdraws the downgrade scheduled on one of the customer's own
    /// subscriptions; a refusal when there is none.
    pub async fn keep_customer_plan(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        subscription: &str,
    ) -> PlatformResult<()> {
        let (tenant_id, id, ctx) = self
            .customer_subscription(tenant, customer, subscription)
            .await?;
        if self
            .withdraw_subscription_change(&tenant_id, &ctx, &id)
            .await?
        {
            Ok(())
        } else {
            Err(PlatformError::invalid(
                "subscription",
                "no plan change is scheduled on this subscription",
            ))
        }
    }

    /// Every offer of the tenant's plans a customer may switch to (the
    /// account page's plan choice).
    pub async fn customer_plan_choices(
        &self,
        tenant: &Tenant,
    ) -> PlatformResult<Vec<(String, String)>> {
        Ok(self
            .public_pricing(tenant)
            .await?
            .plans
            .into_iter()
            .flat_map(|plan| {
                plan.offers
                    .into_iter()
                    .map(move |offer| (offer.price_id, format!("{} — {}", plan.name, offer.label)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_token_keys_differ_and_depend_on_the_secret() {
        let a = CustomerTokenKeys::derive(&Secret::new("one"));
        let b = CustomerTokenKeys::derive(&Secret::new("two"));
        assert_ne!(
            a.key(TokenPurpose::AccountLink),
            a.key(TokenPurpose::Session)
        );
        assert_ne!(
            a.key(TokenPurpose::AccountLink),
            b.key(TokenPurpose::AccountLink)
        );
    }

    #[test]
    fn only_stripe_shaped_session_ids_are_looked_up() {
        assert!(checkout_session_id("cs_test_abc123").is_ok());
        for bad in ["", "sub_123", "cs_../../v1/customers", "cs_a?b=c"] {
            assert!(checkout_session_id(bad).is_err(), "{bad}");
        }
    }
}
