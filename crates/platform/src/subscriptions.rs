//! Selling: customers, checkout, plan changes, cancellation and resumption,
//! all on the tenant's connected account.
//!
//! Every Stripe call carries an idempotency key derived from the logical
//! operation (the tenant and the request id, or our own ids), so a retried
//! request never creates a second object; every response is written to the
//! mirror straight away (the webhooks that follow converge on the same
//! state), and the customer's entitlements are recomputed from it, so the
//! caller sees the effect of its change on return.
//!
//! Suspended tenants sell nothing (`tenant_suspended`), and nobody new joins
//! an archived plan or price.

use std::collections::BTreeMap;

use billing::catalog::{PriceModel, PriceType};
use billing::ids::{CustomerId, PlanId, PriceId, SubscriptionId, TenantId};
use billing::money::{Currency, Money};
use billing::subscription::{SubscriptionState, SubscriptionStatus};
use store::mirror::{CustomerDetails, CustomerRow, NewCustomer, SubscriptionRow};
use store::{AuditContext, TenantStatus};
use stripe::{
    CancelSubscription, CheckoutLineItem, CheckoutMode, CheckoutSubscriptionData,
    CreateCheckoutSession, CreateCustomer, Metadata, Percent, PreviewInvoice,
    PreviewSubscriptionDetails, ProrationBehavior, RequestOptions, SubscriptionItemParams,
    UpdateCustomer, UpdateSubscription,
};

use crate::catalog::{PlanDetails, PriceRecord, stored_price_type};
use crate::{Platform, PlatformError, PlatformResult};

/// How long a subscription change may hold its subscription: beyond the
/// Stripe adapter's worst case (3 attempts of 80 s), so a claim never lapses
/// under a change still running; a claim whose process died lapses then.
const CHANGE_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The longest external id, email or name accepted.
const MAX_FIELD_CHARS: usize = 255;

/// A customer as the merchant describes it.
#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    /// The merchant's own id for the customer, unique per tenant.
    pub external_id: Option<String>,
    /// Where receipts and notices go.
    pub email: Option<String>,
    /// How to greet them.
    pub name: Option<String>,
}

/// What a merchant changes of a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    /// New email (also set on the Stripe customer, for receipts).
    pub email: Option<String>,
    /// New name (also set on the Stripe customer).
    pub name: Option<String>,
    /// Metadata keys to set; an empty value removes the key (as on Stripe).
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Most metadata keys a customer keeps (Stripe's limit, so the merchant's
/// habits carry over).
const MAX_METADATA_KEYS: usize = 50;
/// Longest metadata key.
const MAX_METADATA_KEY_CHARS: usize = 40;
/// Longest metadata value.
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// The merchant's metadata after applying `changes` to `stored` (a JSON
/// object, or nothing yet): keys set, empty values removing keys, within
/// Stripe's limits.
fn merged_metadata(
    stored: Option<&str>,
    changes: BTreeMap<String, String>,
) -> PlatformResult<serde_json::Value> {
    let mut merged: BTreeMap<String, String> = match stored {
        Some(raw) => serde_json::from_str(raw)
            .map_err(|err| PlatformError::Internal(format!("stored customer metadata: {err}")))?,
        None => BTreeMap::new(),
    };
    for (key, value) in changes {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS {
            return Err(PlatformError::invalid(
                "metadata",
                format!(
                    "metadata keys are 1 to {MAX_METADATA_KEY_CHARS} characters; `{key}` is not"
                ),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(PlatformError::invalid(
                "metadata",
                format!(
                    "the value of metadata key `{key}` is longer than {MAX_METADATA_VALUE_CHARS} characters"
                ),
            ));
        }
        if value.is_empty() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    if merged.len() > MAX_METADATA_KEYS {
        return Err(PlatformError::invalid(
            "metadata",
            format!("a customer has at most {MAX_METADATA_KEYS} metadata keys"),
        ));
    }
    serde_json::to_value(merged)
        .map_err(|err| PlatformError::Internal(format!("encoding metadata: {err}")))
}

/// What a checkout sells and to whom.
#[derive(Debug, Clone)]
pub struct CheckoutInput {
    /// The plan subscribed to.
    pub plan_id: PlanId,
    /// Which of its prices; the plan's first offered price when `None`.
    pub price_id: Option<PriceId>,
    /// Seats or units, for per-seat and tiered prices (1 when `None`).
    pub quantity: Option<u64>,
    /// An existing customer; otherwise Stripe creates one from `customer_email`.
    pub customer_id: Option<CustomerId>,
    /// Prefilled email for a new customer.
    pub customer_email: Option<String>,
    /// Free days before the first charge; the plan's trial when `None`.
    pub trial_days: Option<u16>,
    /// Where Stripe sends the customer after paying.
    pub success_url: String,
    /// Where Stripe sends the customer who gives up.
    pub cancel_url: String,
}

/// A checkout to send the customer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLink {
    /// Stripe's `cs_…` id.
    pub id: String,
    /// The hosted checkout page.
    pub url: String,
}

/// When and how a plan or quantity change is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proration {
    /// Prorate and invoice the difference now (upgrades).
    InvoiceNow,
    /// Prorate onto the next invoice.
    NextInvoice,
    /// No proration: the new price applies from the next period.
    None,
}

impl Proration {
    fn behavior(self) -> ProrationBehavior {
        match self {
            Proration::InvoiceNow => ProrationBehavior::AlwaysInvoice,
            Proration::NextInvoice => ProrationBehavior::CreateProrations,
            Proration::None => ProrationBehavior::None,
        }
    }
}

/// A change of a subscription's price and/or quantity.
#[derive(Debug, Clone)]
pub struct SubscriptionChange {
    /// The new price (of any of the tenant's live plans); unchanged when `None`.
    pub price_id: Option<PriceId>,
    /// The new quantity; unchanged when `None`.
    pub quantity: Option<u64>,
    /// How the change is billed.
    pub proration: Proration,
}

/// An optional trimmed text field of at most [`MAX_FIELD_CHARS`].
pub(crate) fn optional_text(
    field: &'static str,
    raw: Option<String>,
) -> PlatformResult<Option<String>> {
    let Some(value) = raw.map(|raw| raw.trim().to_owned()) else {
        return Ok(None);
    };
    if value.is_empty() || value.chars().count() > MAX_FIELD_CHARS {
        return Err(PlatformError::invalid(
            field,
            format!("`{field}` is 1 to {MAX_FIELD_CHARS} characters when given"),
        ));
    }
    Ok(Some(value))
}

/// `url` when it is an absolute http(s) URL: where Stripe's hosted pages
/// send the customer back to.
pub(crate) fn absolute_url(field: &'static str, url: &str) -> PlatformResult<()> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            field,
            format!("`{url}` is not an absolute URL"),
        ))
    }
}

/// A plausible email (Stripe checks deliverability; we check the shape).
pub(crate) fn optional_email(raw: Option<String>) -> PlatformResult<Option<String>> {
    let email = optional_text("email", raw)?;
    if let Some(email) = &email {
        let valid = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid {
            return Err(PlatformError::invalid(
                "email",
                format!("`{email}` is not an email address"),
            ));
        }
    }
    Ok(email)
}

/// The quantity to bill on `price`: any positive count for per-seat and
/// tiered prices, only 1 for flat ones.
pub(crate) fn quantity_for(price: &PriceRecord, requested: Option<u64>) -> PlatformResult<u64> {
    let model: PriceModel = serde_json::from_str(&price.model)
        .map_err(|err| PlatformError::Internal(format!("stored price model: {err}")))?;
    let quantity = requested.unwrap_or(1);
    match model {
        PriceModel::Flat { .. } if quantity != 1 => Err(PlatformError::invalid(
            "quantity",
            "a flat price is sold one at a time; use a per-seat or tiered price for quantities",
        )),
        _ if quantity == 0 => Err(PlatformError::invalid(
            "quantity",
            "the quantity must be at least 1",
        )),
        _ => Ok(quantity),
    }
}

/// The Stripe id of a price new subscribers may get, or why not (a
/// one-time price is `price_not_recurring`).
fn sellable(details: &PlanDetails, price: &PriceRecord) -> PlatformResult<String> {
    if stored_price_type(price)? == PriceType::OneTime {
        return Err(PlatformError::PriceNotRecurring(price.id.clone()));
    }
    on_offer(details, price)
}

/// The Stripe id of a price of a plan that is still sold (neither is
/// archived, and the price is on Stripe), or why not.
pub(crate) fn on_offer(details: &PlanDetails, price: &PriceRecord) -> PlatformResult<String> {
    if details.plan.archived {
        return Err(PlatformError::invalid(
            "plan",
            format!(
                "plan `{}` is archived: nobody new can buy it",
                details.plan.id
            ),
        ));
    }
    if price.archived {
        return Err(PlatformError::invalid(
            "price",
            format!("price `{}` is archived: nobody new can buy it", price.id),
        ));
    }
    price.stripe_price_id.clone().ok_or_else(|| {
        PlatformError::invalid(
            "price",
            format!(
                "price `{}` is not on Stripe yet; try again once the plan is synced",
                price.id
            ),
        )
    })
}

impl Platform {
    /// The connected account of a tenant that may sell: `tenant_suspended`
    /// for suspended tenants, `stripe_not_connected` without an account.
    pub(crate) async fn selling_account(
        &self,
        tenant: &TenantId,
    ) -> PlatformResult<(String, store::Tenant)> {
        let record = self
            .store()
            .tenant(tenant)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        if record.status == TenantStatus::Suspended {
            return Err(PlatformError::TenantSuspended);
        }
        Ok((self.connected_account(tenant).await?, record))
    }

    /// One of the tenant's customers (`not_found` otherwise).
    pub async fn customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<CustomerRow> {
        self.store()
            .scoped(tenant)
            .customer(customer)
            .await?
            .ok_or(PlatformError::NotFound("customer"))
    }

    /// One of the tenant's customers by Billforge's id or by the merchant's
    /// own external id (`not_found` otherwise).
    pub async fn find_customer(&self, tenant: &TenantId, raw: &str) -> PlatformResult<CustomerRow> {
        let scope = self.store().scoped(tenant);
        let by_id = match CustomerId::parse(raw) {
            Ok(id) => scope.customer(&id).await?,
            Err(_) => None,
        };
        let found = match by_id {
            Some(found) => Some(found),
            None => scope.customer_by_external_id(raw).await?,
        };
        found.ok_or(PlatformError::NotFound("customer"))
    }

    /// A page of the tenant's customers in id order: up to `limit` after
    /// the cursor (the caller asks one more to learn whether more follow).
    pub async fn customers_page(
        &self,
        tenant: &TenantId,
        page: &store::mirror::Page,
    ) -> PlatformResult<Vec<CustomerRow>> {
        Ok(self.store().scoped(tenant).customers(page).await?)
    }

    /// A page of the tenant's subscriptions (one customer's when given).
    pub async fn subscriptions_page(
        &self,
        tenant: &TenantId,
        customer: Option<&CustomerId>,
        page: &store::mirror::Page,
    ) -> PlatformResult<Vec<SubscriptionRow>> {
        Ok(self
            .store()
            .scoped(tenant)
            .subscriptions(customer, page)
            .await?)
    }

    /// One of the tenant's subscriptions (`not_found` otherwise).
    pub async fn subscription(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> PlatformResult<SubscriptionRow> {
        Ok(self.subscription_state(tenant, id).await?.0)
    }

    /// Creates a customer: the Stripe customer on the tenant's account, then
    /// Billforge's record, found later by `external_id`. Retrying with the
    /// same external id reuses the same Stripe customer (idempotency key).
    pub async fn create_customer(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        input: CustomerInput,
    ) -> PlatformResult<CustomerRow> {
        let external_id = optional_text("external_id", input.external_id)?;
        let email = optional_email(input.email)?;
        let name = optional_text("name", input.name)?;
        let scope = self.store().scoped(tenant);
        if let Some(external_id) = &external_id
            && scope.customer_by_external_id(external_id).await?.is_some()
        {
            return Err(PlatformError::invalid(
                "external_id",
                format!("a customer with external id `{external_id}` already exists"),
            ));
        }
        let (account, _) = self.selling_account(tenant).await?;
        let mut metadata = Metadata::from([("tenant_id".to_owned(), tenant.to_string())]);
        if let Some(external_id) = &external_id {
            metadata.insert("external_id".to_owned(), external_id.clone());
        }
        // Hashed: an external id may hold any character and be longer than
        // an idempotency key (a header of at most 255 characters) may be.
        let key = match &external_id {
            Some(external_id) => format!(
                "customer-create:{tenant}:{}",
                &crate::tokens::sha256_hex(external_id)[..32]
            ),
            None => format!("customer-create:{tenant}:{}", ctx.request_id),
        };
        let created = self
            .stripe()
            .customers()
            .create(
                &CreateCustomer {
                    email: email.clone(),
                    name: name.clone(),
                    metadata,
                    ..CreateCustomer::default()
                },
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(key),
            )
            .await?;
        let new = NewCustomer {
            stripe_customer_id: Some(created.id),
            external_id,
            email,
            name,
            metadata: None,
        };
        match scope.create_customer(new, ctx.now).await {
            Err(store::StoreError::Duplicate) => Err(PlatformError::invalid(
                "external_id",
                "a customer with this external id already exists",
            )),
            other => Ok(other?),
        }
    }

    /// Changes a customer's email, name and/or metadata. Email and name go
    /// to the Stripe customer first (receipts and invoices use them), under
    /// an idempotency key of this request; the merchant's metadata stays in
    /// Billforge, because the Stripe customer's metadata holds our own keys
    /// (`tenant_id`, `external_id`) that a merchant's key must not clobber.
    pub async fn update_customer(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        request_key: &str,
        id: &CustomerId,
        update: CustomerUpdate,
    ) -> PlatformResult<CustomerRow> {
        let row = self.customer(tenant, id).await?;
        let email = optional_email(update.email)?;
        let name = optional_text("name", update.name)?;
        let metadata = update
            .metadata
            .map(|changes| merged_metadata(row.metadata.as_deref(), changes))
            .transpose()?;
        if email.is_none() && name.is_none() && metadata.is_none() {
            return Err(PlatformError::invalid(
                "email",
                "give an `email`, a `name` or `metadata` to change",
            ));
        }
        if let Some(stripe_customer) = &row.stripe_customer_id
            && (email.is_some() || name.is_some())
        {
            let (account, _) = self.selling_account(tenant).await?;
            self.stripe()
                .customers()
                .update(
                    stripe_customer,
                    &UpdateCustomer {
                        email: email.clone(),
                        name: name.clone(),
                        ..UpdateCustomer::default()
                    },
                    RequestOptions::new()
                        .on_account(account)
                        .idempotency_key(format!("customer-update:{}:{request_key}", row.id)),
                )
                .await?;
        }
        self.store()
            .scoped(tenant)
            .update_customer_details(
                id,
                CustomerDetails {
                    email,
                    name,
                    metadata,
                },
                ctx,
            )
            .await?
            .ok_or(PlatformError::NotFound("customer"))
    }

    /// Opens a Stripe-hosted checkout that starts a subscription to a plan's
    /// price, with the tenant's platform fee on the subscription
    /// (`application_fee_percent` = `platform_fee_bps` / 100) and our ids in
    /// its metadata. Returns the page to send the customer to.
    pub async fn create_checkout_session(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        input: CheckoutInput,
    ) -> PlatformResult<CheckoutLink> {
        let details = self.plan(tenant, &input.plan_id).await?;
        let price = match &input.price_id {
            Some(id) => details
                .prices
                .iter()
                .find(|price| price.id == id.as_str())
                .ok_or(PlatformError::NotFound("price"))?,
            None => details
                .prices
                .iter()
                .find(|price| {
                    !price.archived
                        && matches!(stored_price_type(price), Ok(PriceType::Recurring { .. }))
                })
                .ok_or_else(|| {
                    PlatformError::invalid("plan", "the plan has no recurring price on offer")
                })?,
        };
        let stripe_price = sellable(&details, price)?;
        let quantity = quantity_for(price, input.quantity)?;
        let customer = match &input.customer_id {
            Some(id) => Some(self.customer(tenant, id).await?),
            None => None,
        };
        let customer_email = optional_email(input.customer_email)?;
        absolute_url("success_url", &input.success_url)?;
        absolute_url("cancel_url", &input.cancel_url)?;
        let (account, record) = self.selling_account(tenant).await?;
        let fee = u16::try_from(record.platform_fee_bps)
            .ok()
            .filter(|bps| *bps > 0)
            .and_then(Percent::from_hundredths);
        let mut metadata = Metadata::from([
            ("tenant_id".to_owned(), tenant.to_string()),
            ("plan_id".to_owned(), details.plan.id.clone()),
            ("price_id".to_owned(), price.id.clone()),
        ]);
        if let Some(customer) = &customer {
            metadata.insert("customer_id".to_owned(), customer.id.clone());
        }
        let params = CreateCheckoutSession {
            mode: CheckoutMode::Subscription,
            line_items: vec![CheckoutLineItem {
                price: stripe_price,
                quantity: Some(quantity),
            }],
            success_url: Some(input.success_url),
            cancel_url: Some(input.cancel_url),
            client_reference_id: customer.as_ref().map(|c| c.id.clone()),
            customer: customer.as_ref().and_then(|c| c.stripe_customer_id.clone()),
            customer_email: customer_email.filter(|_| customer.is_none()),
            subscription_data: Some(CheckoutSubscriptionData {
                application_fee_percent: fee,
                trial_period_days: input
                    .trial_days
                    .or(details.plan.trial_days.and_then(|d| u16::try_from(d).ok()))
                    .map(u32::from),
                metadata: metadata.clone(),
                ..CheckoutSubscriptionData::default()
            }),
            metadata,
            ..CreateCheckoutSession::default()
        };
        let key = format!("checkout:{tenant}:{}", ctx.request_id);
        let session = self
            .stripe()
            .checkout_sessions()
            .create(
                &params,
                RequestOptions::new()
                    .on_account(account)
                    .idempotency_key(key),
            )
            .await?;
        let url = session
            .url
            .ok_or_else(|| PlatformError::Stripe("the checkout session has no URL".to_owned()))?;
        Ok(CheckoutLink {
            id: session.id,
            url,
        })
    }

    /// One of the tenant's mirrored subscriptions with its state.
    async fn subscription_state(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> PlatformResult<(SubscriptionRow, SubscriptionState)> {
        let row = self
            .store()
            .scoped(tenant)
            .subscription(id)
            .await?
            .ok_or(PlatformError::NotFound("subscription"))?;
        let state = serde_json::from_str(&row.mirror_state)
            .map_err(|err| PlatformError::Internal(format!("stored subscription state: {err}")))?;
        Ok((row, state))
    }

    /// The Stripe item update a change makes (the subscription's first item
    /// gets the new price and/or quantity).
    async fn change_items(
        &self,
        tenant: &TenantId,
        state: &SubscriptionState,
        change: &SubscriptionChange,
    ) -> PlatformResult<Vec<SubscriptionItemParams>> {
        let item = state.items.first().ok_or_else(|| {
            PlatformError::invalid("subscription", "the subscription has no item to change")
        })?;
        let price = match &change.price_id {
            Some(price_id) => {
                let record = self
                    .store()
                    .scoped(tenant)
                    .price(price_id)
                    .await?
                    .ok_or(PlatformError::NotFound("price"))?;
                let plan = PlanId::parse(&record.plan_id)
                    .map_err(|err| PlatformError::Internal(format!("stored plan id: {err}")))?;
                let details = self.plan(tenant, &plan).await?;
                let stripe_price = sellable(&details, &record)?;
                quantity_for(&record, change.quantity.or(Some(item.quantity)))?;
                Some(stripe_price)
            }
            None => None,
        };
        if price.is_none() && change.quantity.is_none() {
            return Err(PlatformError::invalid(
                "price",
                "give a new price, a new quantity or both",
            ));
        }
        if change.quantity == Some(0) {
            return Err(PlatformError::invalid(
                "quantity",
                "the quantity must be at least 1",
            ));
        }
        Ok(vec![SubscriptionItemParams {
            id: Some(item.stripe_item_id.clone()),
            price,
            quantity: change.quantity,
            ..SubscriptionItemParams::default()
        }])
    }

    /// Moves every live subscriber of `old`, a price kept for its existing
    /// subscribers after a change (grandfathering), to `new` of the same
    /// plan, from their next period (no proration): the merchant's explicit
    /// migration. Returns how many moved; a rerun moves only those still on
    /// `old` (each change's Stripe key is derived from the subscription and
    /// the request).
    pub async fn migrate_price_subscribers(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        old: &PriceId,
        new: &PriceId,
    ) -> PlatformResult<usize> {
        let scope = self.store().scoped(tenant);
        let old_record = scope
            .price(old)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        let new_record = scope
            .price(new)
            .await?
            .ok_or(PlatformError::NotFound("price"))?;
        if old_record.plan_id != new_record.plan_id || old == new {
            return Err(PlatformError::invalid(
                "price",
                "subscribers move to another price of the same plan",
            ));
        }
        let mut moved = 0;
        for row in scope.subscriptions_on_price(old.as_str()).await? {
            if !matches!(row.status.as_str(), "active" | "trialing" | "past_due") {
                continue;
            }
            let id = SubscriptionId::parse(&row.id)
                .map_err(|err| PlatformError::Internal(format!("stored subscription id: {err}")))?;
            let change = SubscriptionChange {
                price_id: Some(new.clone()),
                quantity: None,
                proration: Proration::None,
            };
            self.change_subscription(tenant, ctx, &id, change).await?;
            moved += 1;
        }
        Ok(moved)
    }

    /// What a change would bill now: the prorated amount of the invoice
    /// Stripe would create (nothing is changed).
    pub async fn preview_subscription_change(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        change: &SubscriptionChange,
    ) -> PlatformResult<Money> {
        let (row, state) = self.subscription_state(tenant, id).await?;
        let items = self.change_items(tenant, &state, change).await?;
        let (account, _) = self.selling_account(tenant).await?;
        let preview = self
            .stripe()
            .invoices()
            .preview(
                &PreviewInvoice {
                    subscription: Some(row.stripe_subscription_id.clone()),
                    subscription_details: Some(PreviewSubscriptionDetails {
                        items,
                        proration_behavior: Some(change.proration.behavior()),
                        ..PreviewSubscriptionDetails::default()
                    }),
                    ..PreviewInvoice::default()
                },
                RequestOptions::new().on_account(account),
            )
            .await?;
        let currency = Currency::parse(&preview.currency)
            .map_err(|err| PlatformError::Stripe(format!("preview currency: {err}")))?;
        Ok(Money::new(preview.amount_due, currency))
    }

    /// Changes a subscription's price and/or quantity, billed per
    /// `change.proration`; the mirror and the entitlements follow at once.
    pub async fn change_subscription(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &SubscriptionId,
        change: SubscriptionChange,
    ) -> PlatformResult<SubscriptionRow> {
        self.one_change_at_a_time(tenant, id, async {
            let (row, state) = self.subscription_state(tenant, id).await?;
            if !state.status.grants_entitlements() {
                return Err(PlatformError::invalid(
                    "subscription",
                    format!("a {} subscription cannot be changed", state.status.as_str()),
                ));
            }
            let items = self.change_items(tenant, &state, &change).await?;
            let params = UpdateSubscription {
                items,
                proration_behavior: Some(change.proration.behavior()),
                ..UpdateSubscription::default()
            };
            let (account, _) = self.selling_account(tenant).await?;
            let key = format!("subscription-change:{}:{}", row.id, ctx.request_id);
            let updated = self
                .stripe()
                .subscriptions()
                .update(
                    &row.stripe_subscription_id,
                    &params,
                    RequestOptions::new()
                        .on_account(account)
                        .idempotency_key(key),
                )
                .await?;
            self.mirror_and_recompute(tenant, ctx, &updated).await
        })
        .await
    }

    /// Cancels a subscription: at the end of the paid period (access stays
    /// until then) or now (access ends now).
    pub async fn cancel_subscription(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &SubscriptionId,
        at_period_end: bool,
    ) -> PlatformResult<SubscriptionRow> {
        self.one_change_at_a_time(tenant, id, async {
            let (row, state) = self.subscription_state(tenant, id).await?;
            if matches!(
                state.status,
                SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
            ) {
                return Err(PlatformError::invalid(
                    "subscription",
                    "the subscription has ended already",
                ));
            }
            let (account, _) = self.selling_account(tenant).await?;
            let key = format!("subscription-cancel:{}:{}", row.id, ctx.request_id);
            let options = RequestOptions::new()
                .on_account(account)
                .idempotency_key(key);
            let subscriptions = self.stripe().subscriptions();
            let updated = if at_period_end {
                subscriptions
                    .cancel_at_period_end(&row.stripe_subscription_id, true, options)
                    .await?
            } else {
                subscriptions
                    .cancel(
                        &row.stripe_subscription_id,
                        &CancelSubscription::default(),
                        options,
                    )
                    .await?
            };
            // An ending subscription changes plan no more.
            self.withdraw_subscription_change(tenant, ctx, id).await?;
            self.mirror_and_recompute(tenant, ctx, &updated).await
        })
        .await
    }

    /// Withdraws a scheduled cancellation: the subscription renews again.
    pub async fn resume_subscription(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        id: &SubscriptionId,
    ) -> PlatformResult<SubscriptionRow> {
        self.one_change_at_a_time(tenant, id, async {
            let (row, state) = self.subscription_state(tenant, id).await?;
            if !state.is_ending() || !state.status.grants_entitlements() {
                return Err(PlatformError::invalid(
                    "subscription",
                    "only a live subscription with a scheduled cancellation can be resumed",
                ));
            }
            let (account, _) = self.selling_account(tenant).await?;
            let key = format!("subscription-resume:{}:{}", row.id, ctx.request_id);
            let updated = self
                .stripe()
                .subscriptions()
                .cancel_at_period_end(
                    &row.stripe_subscription_id,
                    false,
                    RequestOptions::new()
                        .on_account(account)
                        .idempotency_key(key),
                )
                .await?;
            self.mirror_and_recompute(tenant, ctx, &updated).await
        })
        .await
    }

    /// Runs `change` (a price, quantity, cancellation or resumption change
    /// of subscription `id`) while no other change of it runs, in any
    /// process; `subscription_busy` when one does. Stripe applies
    /// concurrent updates in an order its answers do not tell, so two
    /// changes at once could leave the mirror on the one Stripe overwrote;
    /// one at a time, each change reads the state the previous one
    /// mirrored and Stripe's answers arrive in the order Stripe applied them.
    async fn one_change_at_a_time<T>(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        change: impl std::future::Future<Output = PlatformResult<T>>,
    ) -> PlatformResult<T> {
        let scope = self.store().scoped(tenant);
        scope
            .subscription(id)
            .await?
            .ok_or(PlatformError::NotFound("subscription"))?;
        let now = self.now();
        let claim = scope
            .claim_subscription_change(id, now, now + CHANGE_CLAIM)
            .await?
            .ok_or(PlatformError::SubscriptionBusy)?;
        let outcome = change.await;
        if let Err(err) = scope.release_subscription_change(claim).await {
            // The claim lapses by itself; the change itself is done.
            tracing::warn!(subscription = %id, error = %err, "could not release a subscription change claim");
        }
        outcome
    }

    /// Writes Stripe's answer to the mirror and recomputes the customer's
    /// entitlements from it, so the caller sees the effect on return.
    async fn mirror_and_recompute(
        &self,
        tenant: &TenantId,
        ctx: &AuditContext,
        subscription: &stripe::Subscription,
    ) -> PlatformResult<SubscriptionRow> {
        let row = self.mirror_subscription(tenant, subscription).await?;
        let customer = CustomerId::parse(&row.customer_id)
            .map_err(|err| PlatformError::Internal(format!("stored customer id: {err}")))?;
        self.recompute_entitlements(tenant, &customer, &format!("api:{}", ctx.request_id))
            .await?;
        Ok(row)
    }
}
