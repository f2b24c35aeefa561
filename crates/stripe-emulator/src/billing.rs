//! Subscriptions and invoices: creation, renewal, prorations, dunning and the
//! invoice actions (`pay`, `void`, `mark_uncollectible`, preview).

use chrono::{DateTime, Months, TimeDelta};
use serde_json::{Value, json};
use std::borrow::Cow;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::payments::{self, ChargeSpec, Outcome};
use crate::resources::resolve_payment_method;
use crate::server::{Call, list};
use crate::state::{Action, FinalAction, State};
use crate::store::{Scope, new_id, template};

/// Seconds before a trial's end at which `customer.subscription.trial_will_end` fires.
const TRIAL_WARNING_SECS: i64 = 3 * 86_400;
/// Parameters of one `items[n]` entry when creating or updating a subscription.
const ITEM_PARAMS: &[&str] = &[
    "id",
    "price",
    "quantity",
    "metadata",
    "deleted",
    "clear_usage",
    "tax_rates",
    "discounts",
];
/// How long before a renewal `invoice.upcoming` is sent (Stripe's setting, 3 days here).
const UPCOMING_NOTICE_SECS: i64 = 3 * 86_400;
/// An `incomplete` subscription expires after this long without payment.
const INCOMPLETE_EXPIRY_SECS: i64 = 23 * 3600;

/// Routes subscriptions and invoices, then the payment resources.
pub fn route(
    state: &mut State,
    call: &Call,
    get: bool,
    post: bool,
    delete: bool,
    path: &[&str],
) -> ApiResult<Option<Value>> {
    let value = match path {
        ["subscriptions"] if post => create_subscription(state, call)?,
        ["subscriptions"] if get => list_subscriptions(state, call)?,
        ["subscriptions", id] if get => state.store.fetch(&call.scope, "subscription", id, "id")?,
        ["subscriptions", id] if post => update_subscription(state, &call.scope, &call.params, id)?,
        ["subscriptions", id] if delete => {
            call.params
                .allow(&["invoice_now", "prorate", "cancellation_details"])?;
            let sub = state.store.fetch(&call.scope, "subscription", id, "id")?;
            if sub["status"] == "canceled" {
                return Err(ApiError::state(format!(
                    "A canceled subscription can only update its cancellation_details and metadata. ({id})"
                )));
            }
            enter_subscription_time(state, &call.scope, &sub);
            if call.params.bool("prorate")?.unwrap_or(false) {
                credit_unused_time(state, &call.scope, &sub);
            }
            let canceled = cancel_now(state, &call.scope, id, "cancellation_requested")?;
            if call.params.bool("invoice_now")?.unwrap_or(false)
                && !pending_items(state, &call.scope, id).is_empty()
            {
                let now = state.now();
                bill_now(state, &call.scope, &canceled, Vec::new(), (now, now))?;
            }
            state.store.fetch(&call.scope, "subscription", id, "id")?
        }
        ["subscriptions", id, "resume"] if post => resume_subscription(state, call, id)?,
        ["subscription_items"] if get => {
            let sub = call.params.req_str("subscription")?;
            let sub = state
                .store
                .fetch(&call.scope, "subscription", sub, "subscription")?;
            call.params
                .allow(&["subscription", "limit", "starting_after", "ending_before"])?;
            sub["items"].clone()
        }
        ["invoices"] if get => {
            let params = &call.params;
            let customer = params.str("customer")?.map(str::to_owned);
            let subscription = params.str("subscription")?.map(str::to_owned);
            let status = params.str("status")?.map(str::to_owned);
            list(
                state,
                call,
                "invoice",
                "/v1/invoices",
                &[
                    "customer",
                    "subscription",
                    "status",
                    "collection_method",
                    "due_date",
                ],
                |invoice| {
                    customer
                        .as_ref()
                        .is_none_or(|customer| invoice["customer"] == customer.as_str())
                        && subscription
                            .as_ref()
                            .is_none_or(|sub| invoice_subscription(invoice) == Some(sub.as_str()))
                        && status
                            .as_ref()
                            .is_none_or(|status| invoice["status"] == status.as_str())
                },
            )?
        }
        ["invoices", "create_preview"] if post => preview_invoice(state, call)?,
        ["invoices", "upcoming"] if get => preview_invoice(state, call)?,
        ["invoices", id] if get => state.store.fetch(&call.scope, "invoice", id, "invoice")?,
        ["invoices", id, "lines"] if get => {
            state.store.fetch(&call.scope, "invoice", id, "invoice")?["lines"].clone()
        }
        ["invoices", id, "finalize"] if post => {
            call.params.allow(&["auto_advance"])?;
            let invoice = state.store.fetch(&call.scope, "invoice", id, "invoice")?;
            if invoice["status"] != "draft" {
                return Err(ApiError::state(
                    "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                ));
            }
            finalize_invoice(state, &call.scope, id)?
        }
        ["invoices", id, "pay"] if post => pay_invoice_now(state, call, id)?,
        ["invoices", id, "void"] if post => {
            close_invoice(state, call, id, "void", "invoice.voided", "voided_at")?
        }
        ["invoices", id, "mark_uncollectible"] if post => close_invoice(
            state,
            call,
            id,
            "uncollectible",
            "invoice.marked_uncollectible",
            "marked_uncollectible_at",
        )?,
        ["invoiceitems"] if get => {
            let customer = call.params.str("customer")?.map(str::to_owned);
            let pending = call.params.bool("pending")?;
            let invoice = call.params.str("invoice")?.map(str::to_owned);
            list(
                state,
                call,
                "invoiceitem",
                "/v1/invoiceitems",
                &["customer", "pending", "invoice"],
                |item| {
                    customer
                        .as_ref()
                        .is_none_or(|customer| item["customer"] == customer.as_str())
                        && pending.is_none_or(|pending| item["invoice"].is_null() == pending)
                        && invoice
                            .as_ref()
                            .is_none_or(|invoice| item["invoice"] == invoice.as_str())
                },
            )?
        }
        ["invoice_payments"] if get => {
            let invoice = call.params.str("invoice")?.map(str::to_owned);
            list(
                state,
                call,
                "invoice_payment",
                "/v1/invoice_payments",
                &["invoice"],
                |payment| {
                    invoice
                        .as_ref()
                        .is_none_or(|invoice| payment["invoice"] == invoice.as_str())
                },
            )?
        }
        ["invoice_payments", id] if get => {
            state
                .store
                .fetch(&call.scope, "invoice_payment", id, "id")?
        }
        _ => return payments::route(state, call, get, post, path),
    };
    Ok(Some(value))
}

/// The subscription an invoice bills (`parent.subscription_details.subscription`).
pub fn invoice_subscription(invoice: &Value) -> Option<&str> {
    invoice["parent"]["subscription_details"]["subscription"].as_str()
}

/// The amount of `quantity` units of a price: per-unit, or tiered volume/graduated.
pub fn price_amount(price: &Value, quantity: i64) -> i64 {
    if price["billing_scheme"] != "tiered" {
        return price["unit_amount"].as_i64().unwrap_or_default() * quantity;
    }
    let tiers = price["tiers"].as_array().cloned().unwrap_or_default();
    let tier_cost = |tier: &Value, units: i64| {
        tier["unit_amount"].as_i64().unwrap_or_default() * units
            + tier["flat_amount"].as_i64().unwrap_or_default()
    };
    if price["tiers_mode"] == "volume" {
        return tiers
            .iter()
            .find(|tier| tier["up_to"].as_i64().is_none_or(|up_to| quantity <= up_to))
            .map_or(0, |tier| tier_cost(tier, quantity));
    }
    let mut total = 0;
    let mut floor = 0;
    for tier in &tiers {
        if quantity <= floor {
            break;
        }
        let ceiling = tier["up_to"].as_i64().unwrap_or(i64::MAX);
        total += tier_cost(tier, quantity.min(ceiling) - floor);
        floor = ceiling;
    }
    total
}

/// End of the billing period that starts at or after `after`, counted from the anchor
/// so month lengths do not drift (Jan 31 → Feb 28 → Mar 31).
pub fn period_end(anchor: i64, recurring: &Value, after: i64) -> i64 {
    let interval = recurring["interval"].as_str().unwrap_or("month");
    let count = recurring["interval_count"].as_i64().unwrap_or(1).max(1);
    let start = DateTime::from_timestamp(anchor, 0).unwrap_or_default();
    for step in 1..10_000 {
        let periods = step * count;
        let end = match interval {
            "day" => start.checked_add_signed(TimeDelta::days(periods)),
            "week" => start.checked_add_signed(TimeDelta::weeks(periods)),
            "year" => start.checked_add_months(Months::new(12 * periods as u32)),
            _ => start.checked_add_months(Months::new(periods as u32)),
        };
        match end {
            Some(end) if end.timestamp() > after => return end.timestamp(),
            Some(_) => {}
            None => break,
        }
    }
    after + 30 * 86_400
}

fn enter_subscription_time(state: &mut State, scope: &Scope, sub: &Value) {
    if let Some(customer) = sub["customer"].as_str() {
        state.enter_customer_time(scope, customer);
    }
}

fn item_period(sub: &Value) -> (i64, i64) {
    let item = &sub["items"]["data"][0];
    (
        item["current_period_start"].as_i64().unwrap_or_default(),
        item["current_period_end"].as_i64().unwrap_or_default(),
    )
}

fn set_period(sub: &mut Value, start: i64, end: i64) {
    if let Some(items) = sub["items"]["data"].as_array_mut() {
        for item in items {
            item["current_period_start"] = json!(start);
            item["current_period_end"] = json!(end);
        }
    }
}

fn subscription_clock(state: &State, scope: &Scope, sub: &Value) -> Option<String> {
    sub["customer"]
        .as_str()
        .and_then(|customer| state.customer_clock(scope, customer))
}

fn subscription_item(
    sub_id: &str,
    price: &Value,
    quantity: i64,
    now: i64,
    metadata: Value,
) -> Value {
    let mut item = template("subscription_item", &new_id("si"), now);
    item["price"] = price.clone();
    item["quantity"] = json!(quantity);
    item["subscription"] = json!(sub_id);
    item["metadata"] = metadata;
    item
}

/// Reads `items[i][price|quantity|metadata]`, checking prices are recurring in one currency.
fn read_items(
    state: &State,
    scope: &Scope,
    items: &[Params],
    currency: &mut Option<String>,
) -> ApiResult<Vec<(Value, i64, Value)>> {
    let mut read = Vec::new();
    for item in items {
        item.allow(ITEM_PARAMS)?;
        let price_id = item.req_str("price")?;
        let price = state
            .store
            .fetch(scope, "price", price_id, &item.name("price"))?;
        check_recurring(&price, currency, &item.name("price"))?;
        let quantity = item.int("quantity")?.unwrap_or(1);
        if quantity < 0 {
            return Err(ApiError::invalid(
                &item.name("quantity"),
                "Invalid quantity: must be at least 0",
            ));
        }
        let mut metadata = json!({});
        item.apply_metadata(&mut metadata)?;
        read.push((price, quantity, metadata));
    }
    Ok(read)
}

fn check_recurring(price: &Value, currency: &mut Option<String>, param: &str) -> ApiResult<()> {
    if price["type"] != "recurring" {
        return Err(ApiError::invalid(
            param,
            format!(
                "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`. ({})",
                price["id"].as_str().unwrap_or_default()
            ),
        ));
    }
    let price_currency = price["currency"].as_str().unwrap_or_default().to_owned();
    match currency {
        Some(currency) if *currency != price_currency => Err(ApiError::invalid(
            param,
            "All prices on a subscription must have the same currency.",
        )),
        _ => {
            *currency = Some(price_currency);
            Ok(())
        }
    }
}

/// Everything needed to start a subscription (from the API or from Checkout).
#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    /// Customer billed.
    pub customer: String,
    /// (price, quantity, metadata) per item.
    pub items: Vec<(Value, i64, Value)>,
    /// Subscription metadata.
    pub metadata: Value,
    /// Trial end, when trialing.
    pub trial_end: Option<i64>,
    /// A `billing_cycle_anchor` in the future (no trial): the first period
    /// ends there and is billed prorated (nothing with
    /// `proration_behavior=none`), then every cycle starts at the anchor.
    pub billing_cycle_anchor: Option<(i64, bool)>,
    /// Payment method to bill instead of the customer's default.
    pub default_payment_method: Option<String>,
    /// Platform fee percentage on a connected account.
    pub application_fee_percent: Option<f64>,
    /// Whether the customer is present for the first payment.
    pub on_session: bool,
    /// Stripe's `payment_behavior`.
    pub payment_behavior: &'static str,
    /// `cancel_at_period_end` at creation.
    pub cancel_at_period_end: bool,
    /// What happens when a trial ends without a payment method.
    pub missing_payment_method: &'static str,
    /// `send_invoice` subscriptions are not charged automatically.
    pub collection_method: &'static str,
    /// Free-text description.
    pub description: Option<String>,
}

fn create_subscription(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "customer",
        "items",
        "metadata",
        "trial_period_days",
        "trial_end",
        "default_payment_method",
        "application_fee_percent",
        "payment_behavior",
        "cancel_at_period_end",
        "collection_method",
        "days_until_due",
        "proration_behavior",
        "trial_settings",
        "description",
        "off_session",
        "payment_settings",
        "trial_from_plan",
        "billing_cycle_anchor",
        "automatic_tax",
        "currency",
    ])?;
    let customer = params.req_str("customer")?.to_owned();
    state
        .store
        .fetch(&call.scope, "customer", &customer, "customer")?;
    state.enter_customer_time(&call.scope, &customer);
    let items = params.hashes("items")?;
    if items.is_empty() {
        return Err(ApiError::missing_param("items"));
    }
    let mut currency = None;
    let items = read_items(state, &call.scope, &items, &mut currency)?;
    let now = state.now();
    let trial_end = match (params.int("trial_period_days")?, params.str("trial_end")?) {
        (Some(days), _) if days > 0 => Some(now + days * 86_400),
        (_, Some("now")) => None,
        (_, Some(_)) => {
            let end = params.req_int("trial_end")?;
            if end <= now {
                return Err(ApiError::invalid(
                    "trial_end",
                    "Invalid timestamp: must be in the future",
                ));
            }
            Some(end)
        }
        _ => None,
    };
    let default_payment_method = match params.str("default_payment_method")? {
        Some(pm) => Some(
            resolve_payment_method(state, &call.scope, pm, "default_payment_method")?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        None => None,
    };
    let billing_cycle_anchor = match params.int("billing_cycle_anchor")? {
        None => None,
        Some(_) if trial_end.is_some() => {
            return Err(ApiError::invalid(
                "billing_cycle_anchor",
                "The emulator does not combine billing_cycle_anchor with a trial.",
            ));
        }
        Some(anchor) => {
            let natural = period_end(now, &items[0].0["recurring"], now);
            if anchor <= now || anchor > natural {
                return Err(ApiError::invalid(
                    "billing_cycle_anchor",
                    "billing_cycle_anchor must be in the future and no later than the end of the first full billing period.",
                ));
            }
            let prorate = params.one_of(
                "proration_behavior",
                &["create_prorations", "none", "always_invoice"],
            )? != Some("none");
            Some((anchor, prorate))
        }
    };
    let fee = params.decimal("application_fee_percent")?;
    check_fee_percent(fee, &call.scope, "application_fee_percent")?;
    let mut metadata = json!({});
    params.apply_metadata(&mut metadata)?;
    let missing = params
        .hash("trial_settings")?
        .and_then(|settings| settings.hash("end_behavior").ok().flatten())
        .map(|behavior| {
            behavior.one_of(
                "missing_payment_method",
                &["cancel", "pause", "create_invoice"],
            )
        })
        .transpose()?
        .flatten()
        .unwrap_or("create_invoice");
    let spec = NewSubscription {
        customer,
        items,
        metadata,
        trial_end,
        billing_cycle_anchor,
        default_payment_method,
        application_fee_percent: fee,
        on_session: !params.bool("off_session")?.unwrap_or(false),
        payment_behavior: params
            .one_of(
                "payment_behavior",
                &[
                    "allow_incomplete",
                    "default_incomplete",
                    "error_if_incomplete",
                    "pending_if_incomplete",
                ],
            )?
            .unwrap_or("allow_incomplete"),
        cancel_at_period_end: params.bool("cancel_at_period_end")?.unwrap_or(false),
        missing_payment_method: missing,
        collection_method: params
            .one_of(
                "collection_method",
                &["charge_automatically", "send_invoice"],
            )?
            .unwrap_or("charge_automatically"),
        description: params.str("description")?.map(str::to_owned),
    };
    start_subscription(state, &call.scope, spec)
}

/// Checks `application_fee_percent` (0–100, connected accounts only).
pub fn check_fee_percent(fee: Option<f64>, scope: &Scope, param: &str) -> ApiResult<()> {
    match fee {
        Some(_) if scope.is_none() => Err(ApiError::invalid(
            param,
            "application_fee_percent can only be set on subscriptions of a connected account (use the Stripe-Account header).",
        )),
        Some(percent) if !(0.0..=100.0).contains(&percent) => Err(ApiError::invalid(
            param,
            "application_fee_percent must be between 0 and 100.",
        )),
        _ => Ok(()),
    }
}

/// The payment method a subscription's invoices are charged to.
fn billing_payment_method(state: &State, scope: &Scope, sub: &Value) -> Option<String> {
    sub["default_payment_method"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            let customer = sub["customer"].as_str()?;
            state.store.get(scope, customer)?["invoice_settings"]["default_payment_method"]
                .as_str()
                .map(str::to_owned)
        })
}

/// Creates a subscription, its first invoice, and charges it (shared by the API and Checkout).
pub fn start_subscription(
    state: &mut State,
    scope: &Scope,
    spec: NewSubscription,
) -> ApiResult<Value> {
    let now = state.now();
    let id = new_id("sub");
    let clock = state.customer_clock(scope, &spec.customer);
    let recurring = spec.items[0].0["recurring"].clone();
    let natural_end = period_end(now, &recurring, now);
    let first_end = spec
        .trial_end
        .or(spec.billing_cycle_anchor.map(|(anchor, _)| anchor))
        .unwrap_or(natural_end);
    if spec.payment_behavior == "error_if_incomplete" && spec.trial_end.is_none() {
        let probe = json!({"customer": spec.customer, "default_payment_method": spec.default_payment_method});
        let pm = billing_payment_method(state, scope, &probe);
        if let Some(error) = payments::card_failure(state, pm.as_deref()) {
            return Err(error);
        }
    }
    let mut sub = template("subscription", &id, now);
    sub["customer"] = json!(spec.customer);
    sub["currency"] = spec.items[0].0["currency"].clone();
    sub["billing_cycle_anchor"] = json!(first_end.min(
        if spec.trial_end.is_some() || spec.billing_cycle_anchor.is_some() {
            first_end
        } else {
            now
        }
    ));
    sub["start_date"] = json!(now);
    sub["status"] = json!("incomplete");
    sub["metadata"] = spec.metadata.clone();
    sub["default_payment_method"] = json!(spec.default_payment_method);
    sub["application_fee_percent"] = json!(spec.application_fee_percent);
    sub["cancel_at_period_end"] = json!(spec.cancel_at_period_end);
    sub["cancel_at"] = if spec.cancel_at_period_end {
        json!(first_end)
    } else {
        Value::Null
    };
    sub["collection_method"] = json!(spec.collection_method);
    sub["days_until_due"] = if spec.collection_method == "send_invoice" {
        json!(30)
    } else {
        Value::Null
    };
    sub["description"] = json!(spec.description);
    sub["test_clock"] = json!(clock);
    sub["trial_settings"] =
        json!({"end_behavior": {"missing_payment_method": spec.missing_payment_method}});
    let items: Vec<Value> = spec
        .items
        .iter()
        .map(|(price, quantity, metadata)| {
            subscription_item(&id, price, *quantity, now, metadata.clone())
        })
        .collect();
    sub["items"] = json!({"object": "list", "data": items, "has_more": false, "total_count": spec.items.len(), "url": format!("/v1/subscription_items?subscription={id}")});
    set_period(&mut sub, now, first_end);
    if let Some(trial_end) = spec.trial_end {
        sub["status"] = json!("trialing");
        sub["trial_start"] = json!(now);
        sub["trial_end"] = json!(trial_end);
        sub["billing_cycle_anchor"] = json!(trial_end);
    }
    state.store.insert(scope, sub.clone());
    state.emit(scope, "customer.subscription.created", &sub, None);
    let mut lines = subscription_lines(&sub, now, first_end, spec.trial_end.is_some());
    if let Some((_, prorate)) = spec.billing_cycle_anchor {
        // The part of a full period before the anchor.
        for line in &mut lines {
            line.amount = if prorate {
                line.amount * (first_end - now) / (natural_end - now).max(1)
            } else {
                0
            };
            line.proration = true;
        }
    }
    let invoice = create_invoice(state, scope, &sub, lines, "subscription_create", (now, now))?;
    let invoice_id = invoice["id"].as_str().unwrap_or_default().to_owned();
    let mut latest = state.store.fetch(scope, "subscription", &id, "id")?;
    latest["latest_invoice"] = json!(invoice_id);
    state.store.put(scope, latest);
    finalize_invoice(state, scope, &invoice_id)?;
    if spec.trial_end.is_some() {
        if first_end - TRIAL_WARNING_SECS > now {
            state.schedule(
                clock.clone(),
                first_end - TRIAL_WARNING_SECS,
                scope,
                Action::TrialWillEnd {
                    subscription: id.clone(),
                },
            );
        }
    } else if spec.collection_method == "send_invoice" {
        // Invoices sent for manual payment do not hold the subscription back.
        set_status(state, scope, &id, "active");
    } else if spec.payment_behavior != "default_incomplete" {
        attempt_invoice(state, scope, &invoice_id, None, spec.on_session);
    }
    let status = state.store.get(scope, &id).map(|sub| sub["status"].clone());
    if status == Some(json!("incomplete")) {
        state.schedule(
            clock.clone(),
            now + INCOMPLETE_EXPIRY_SECS,
            scope,
            Action::ExpireIncomplete {
                subscription: id.clone(),
            },
        );
    }
    schedule_period_end(state, clock, scope, &id, first_end);
    state.store.fetch(scope, "subscription", &id, "id")
}

/// Schedules a period's end, and `invoice.upcoming` some days before it.
fn schedule_period_end(
    state: &mut State,
    clock: Option<String>,
    scope: &Scope,
    sub_id: &str,
    end: i64,
) {
    if end - UPCOMING_NOTICE_SECS > state.now() {
        state.schedule(
            clock.clone(),
            end - UPCOMING_NOTICE_SECS,
            scope,
            Action::InvoiceUpcoming {
                subscription: sub_id.to_owned(),
            },
        );
    }
    state.schedule(
        clock,
        end,
        scope,
        Action::PeriodEnd {
            subscription: sub_id.to_owned(),
        },
    );
}

/// Sends `invoice.upcoming` (a preview of the renewal) if the period still ends as planned.
pub fn invoice_upcoming(state: &mut State, scope: &Scope, id: &str, at: i64) -> ApiResult<()> {
    let sub = state.store.fetch(scope, "subscription", id, "id")?;
    let live = matches!(
        sub["status"].as_str(),
        Some("active" | "trialing" | "past_due")
    );
    if live
        && sub["cancel_at_period_end"] != true
        && item_period(&sub).1 == at + UPCOMING_NOTICE_SECS
    {
        let mut preview = upcoming_invoice(state, scope, &sub, Vec::new());
        preview["id"] = Value::Null;
        state.emit(scope, "invoice.upcoming", &preview, None);
    }
    Ok(())
}

/// One invoice line to bill.
struct Line {
    /// Minor units; negative for proration credits.
    amount: i64,
    /// Text shown on the invoice.
    description: String,
    /// The price billed (its id and product appear in `pricing`).
    price: Value,
    /// Units billed.
    quantity: i64,
    /// Service period covered, Unix seconds.
    period: (i64, i64),
    /// Whether this is a proration adjustment.
    proration: bool,
    /// The subscription item billed, for `parent.subscription_item_details`.
    subscription_item: Option<String>,
    /// The invoice item the line came from, for `parent.invoice_item_details`.
    invoice_item: Option<String>,
}

fn money(amount: i64, currency: &Value) -> String {
    let symbol = if currency == "usd" { "$" } else { "" };
    format!("{symbol}{}.{:02}", amount / 100, (amount % 100).abs())
}

fn subscription_lines(sub: &Value, start: i64, end: i64, trial: bool) -> Vec<Line> {
    sub["items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let price = item["price"].clone();
            let quantity = item["quantity"].as_i64().unwrap_or(1);
            let amount = if trial {
                0
            } else {
                price_amount(&price, quantity)
            };
            let name = price["nickname"].as_str().unwrap_or("plan").to_owned();
            let description = if trial {
                format!("Trial period for {name}")
            } else {
                format!(
                    "{quantity} × {name} (at {} / {})",
                    money(
                        price["unit_amount"].as_i64().unwrap_or_default(),
                        &price["currency"]
                    ),
                    price["recurring"]["interval"].as_str().unwrap_or("month")
                )
            };
            Line {
                amount,
                description,
                price,
                quantity,
                period: (start, end),
                proration: false,
                subscription_item: item["id"].as_str().map(str::to_owned),
                invoice_item: None,
            }
        })
        .collect()
}

/// Invoice items of a subscription not yet on an invoice, oldest first.
fn pending_items(state: &State, scope: &Scope, sub_id: &str) -> Vec<Value> {
    let mut pending: Vec<Value> = state
        .store
        .iter_by(scope, "invoiceitem", "subscription", sub_id)
        .filter(|item| item["invoice"].is_null())
        .map(Cow::into_owned)
        .collect();
    pending.reverse();
    pending
}

impl Line {
    /// The line an invoice item becomes on the invoice that bills it. Invoice
    /// items name their price and subscription item only under `pricing` and
    /// `parent` (their top-level `price` and `subscription_item` are gone since
    /// 2025-03-31.basil), which is all a line needs.
    fn from_invoice_item(item: &Value) -> Line {
        let pricing = &item["pricing"];
        Line {
            amount: item["amount"].as_i64().unwrap_or_default(),
            description: item["description"].as_str().unwrap_or_default().to_owned(),
            price: json!({
                "id": pricing["price_details"]["price"],
                "product": pricing["price_details"]["product"],
                "unit_amount_decimal": pricing["unit_amount_decimal"],
            }),
            quantity: item["quantity"].as_i64().unwrap_or(1),
            period: (
                item["period"]["start"].as_i64().unwrap_or_default(),
                item["period"]["end"].as_i64().unwrap_or_default(),
            ),
            proration: item["proration"].as_bool().unwrap_or(false),
            subscription_item: item["parent"]["subscription_details"]["subscription_item"]
                .as_str()
                .map(str::to_owned),
            invoice_item: item["id"].as_str().map(str::to_owned),
        }
    }
}

/// Pending invoice items of a subscription become lines of its next invoice.
fn take_pending_items(
    state: &mut State,
    scope: &Scope,
    sub_id: &str,
    invoice_id: &str,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for mut item in pending_items(state, scope, sub_id) {
        item["invoice"] = json!(invoice_id);
        state.store.put(scope, item.clone());
        lines.push(Line::from_invoice_item(&item));
    }
    lines
}

fn render_line(line: &Line, invoice_id: &str, sub_id: &str, currency: &Value) -> Value {
    let mut rendered = template("line_item", &new_id("il"), 0);
    rendered["amount"] = json!(line.amount);
    rendered["subtotal"] = json!(line.amount);
    rendered["currency"] = currency.clone();
    rendered["description"] = json!(line.description);
    rendered["invoice"] = json!(invoice_id);
    rendered["period"] = json!({"start": line.period.0, "end": line.period.1});
    rendered["quantity"] = json!(line.quantity);
    rendered["subscription"] = json!(sub_id);
    rendered["pricing"] = json!({
        "type": "price_details",
        "price_details": {"price": line.price["id"], "product": line.price["product"]},
        "unit_amount_decimal": line.price["unit_amount_decimal"],
    });
    let credited = if line.proration {
        json!({"credited_items": null})
    } else {
        Value::Null
    };
    rendered["parent"] = match &line.invoice_item {
        Some(invoice_item) => json!({
            "type": "invoice_item_details",
            "invoice_item_details": {"invoice_item": invoice_item, "proration": line.proration, "proration_details": credited, "subscription": sub_id},
            "subscription_item_details": null,
        }),
        None => json!({
            "type": "subscription_item_details",
            "invoice_item_details": null,
            "subscription_item_details": {"invoice_item": null, "proration": line.proration, "proration_details": credited, "subscription": sub_id, "subscription_item": line.subscription_item},
        }),
    };
    rendered
}

fn build_invoice(
    state: &State,
    scope: &Scope,
    sub: &Value,
    lines: &[Line],
    reason: &str,
    period: (i64, i64),
    invoice_id: &str,
) -> Value {
    let now = state.now();
    let sub_id = sub["id"].as_str().unwrap_or_default();
    let currency = sub["currency"].clone();
    let customer_id = sub["customer"].as_str().unwrap_or_default();
    let customer = state
        .store
        .get(scope, customer_id)
        .map(Cow::into_owned)
        .unwrap_or(Value::Null);
    let mut invoice = template("invoice", invoice_id, now);
    let total: i64 = lines.iter().map(|line| line.amount).sum();
    let data: Vec<Value> = lines
        .iter()
        .map(|line| render_line(line, invoice_id, sub_id, &currency))
        .collect();
    invoice["customer"] = json!(customer_id);
    invoice["customer_email"] = customer["email"].clone();
    invoice["customer_name"] = customer["name"].clone();
    invoice["currency"] = currency;
    invoice["lines"] = json!({"object": "list", "data": data, "has_more": false, "total_count": lines.len(), "url": format!("/v1/invoices/{invoice_id}/lines")});
    for key in [
        "subtotal",
        "subtotal_excluding_tax",
        "total",
        "total_excluding_tax",
    ] {
        invoice[key] = json!(total);
    }
    invoice["amount_due"] = json!(total.max(0));
    invoice["amount_remaining"] = json!(total.max(0));
    invoice["amount_paid"] = json!(0);
    invoice["billing_reason"] = json!(reason);
    invoice["collection_method"] = sub["collection_method"].clone();
    invoice["period_start"] = json!(period.0);
    invoice["period_end"] = json!(period.1);
    invoice["parent"] = json!({"type": "subscription_details", "quote_details": null, "subscription_details": {"subscription": sub_id, "metadata": sub["metadata"]}});
    invoice["status"] = json!("draft");
    invoice["auto_advance"] = json!(true);
    invoice["test_clock"] = sub["test_clock"].clone();
    invoice["account_country"] = json!("US");
    invoice["status_transitions"] = json!({"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null});
    invoice
}

fn create_invoice(
    state: &mut State,
    scope: &Scope,
    sub: &Value,
    mut lines: Vec<Line>,
    reason: &str,
    period: (i64, i64),
) -> ApiResult<Value> {
    let invoice_id = new_id("in");
    let sub_id = sub["id"].as_str().unwrap_or_default();
    lines.extend(take_pending_items(state, scope, sub_id, &invoice_id));
    let invoice = build_invoice(state, scope, sub, &lines, reason, period, &invoice_id);
    state.store.insert(scope, invoice.clone());
    state.emit(scope, "invoice.created", &invoice, None);
    Ok(invoice)
}

/// Finalizes a draft: `open` with a number (or `paid` straight away when nothing is due).
pub fn finalize_invoice(state: &mut State, scope: &Scope, id: &str) -> ApiResult<Value> {
    let mut invoice = state.store.fetch(scope, "invoice", id, "invoice")?;
    let now = state.now();
    let customer = invoice["customer"].as_str().unwrap_or_default().to_owned();
    if let Some(mut record) = state.store.get(scope, &customer).map(Cow::into_owned) {
        let number = record["next_invoice_sequence"].as_i64().unwrap_or(1);
        record["next_invoice_sequence"] = json!(number + 1);
        invoice["number"] = json!(format!(
            "{}-{number:04}",
            record["invoice_prefix"].as_str().unwrap_or("EMU")
        ));
        state.store.put(scope, record);
    }
    invoice["status"] = json!("open");
    invoice["effective_at"] = json!(now);
    invoice["status_transitions"]["finalized_at"] = json!(now);
    invoice["hosted_invoice_url"] = json!(format!("https://invoice.stripe.com/i/emulator/{id}"));
    state.store.put(scope, invoice.clone());
    state.emit(scope, "invoice.finalized", &invoice, None);
    if invoice["amount_due"] == 0 {
        mark_paid(state, scope, invoice.clone(), None);
        return state.store.fetch(scope, "invoice", id, "invoice");
    }
    Ok(invoice)
}

fn mark_paid(state: &mut State, scope: &Scope, mut invoice: Value, intent: Option<&Value>) {
    let now = state.now();
    invoice["status"] = json!("paid");
    invoice["amount_paid"] = invoice["amount_due"].clone();
    invoice["amount_remaining"] = json!(0);
    invoice["attempted"] = json!(true);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["auto_advance"] = json!(false);
    invoice["status_transitions"]["paid_at"] = json!(now);
    state.store.put(scope, invoice.clone());
    if let Some(intent) = intent {
        settle_invoice_payment(state, scope, &invoice, intent, now);
    }
    state.emit(scope, "invoice.paid", &invoice, None);
    state.emit(scope, "invoice.payment_succeeded", &invoice, None);
    if let Some(intent) = intent {
        state.emit(scope, "payment_intent.succeeded", intent, None);
    }
    if let Some(sub_id) = invoice_subscription(&invoice)
        && let Some(before) = state.store.get(scope, sub_id).map(Cow::into_owned)
        && matches!(
            before["status"].as_str(),
            Some("incomplete" | "past_due" | "unpaid")
        )
    {
        let mut sub = before.clone();
        sub["status"] = json!("active");
        state.save_updated(scope, "customer.subscription.updated", &before, sub);
    }
}

/// Records an attempt to pay `invoice` with `intent` as an `invoice_payment`
/// (the endive way an invoice names its payments: `invoice.payments`, not
/// `invoice.payment_intent`). The newest attempt is the default; earlier open
/// ones are canceled.
fn record_invoice_payment(state: &mut State, scope: &Scope, invoice: &Value, intent: &Value) {
    let now = state.now();
    let invoice_id = invoice["id"].as_str().unwrap_or_default();
    let earlier: Vec<Value> = state
        .store
        .iter_by(scope, "invoice_payment", "invoice", invoice_id)
        .filter(|payment| payment["status"] == "open")
        .map(Cow::into_owned)
        .collect();
    for mut payment in earlier {
        payment["status"] = json!("canceled");
        payment["is_default"] = json!(false);
        payment["status_transitions"]["canceled_at"] = json!(now);
        state.store.put(scope, payment);
    }
    let mut payment = template("invoice_payment", &new_id("inpay"), now);
    payment["amount_paid"] = Value::Null;
    payment["amount_requested"] = intent["amount"].clone();
    payment["currency"] = intent["currency"].clone();
    payment["invoice"] = json!(invoice_id);
    payment["is_default"] = json!(true);
    payment["payment"] = json!({"type": "payment_intent", "payment_intent": intent["id"]});
    payment["status"] = json!("open");
    state.store.insert(scope, payment);
}

/// Marks the invoice payment made with `intent` paid.
fn settle_invoice_payment(
    state: &mut State,
    scope: &Scope,
    invoice: &Value,
    intent: &Value,
    now: i64,
) {
    let invoice_id = invoice["id"].as_str().unwrap_or_default();
    let found = state
        .store
        .iter_by(scope, "invoice_payment", "invoice", invoice_id)
        .find(|payment| payment["payment"]["payment_intent"] == intent["id"])
        .map(Cow::into_owned);
    if let Some(mut payment) = found {
        payment["status"] = json!("paid");
        payment["amount_paid"] = intent["amount"].clone();
        payment["status_transitions"]["paid_at"] = json!(now);
        state.store.put(scope, payment);
    }
}

/// `invoice.payments`, included when expanded: the invoice's payments, newest first.
pub fn invoice_payments(state: &State, scope: &Scope, invoice_id: &str) -> Value {
    let data: Vec<Value> = state
        .store
        .iter_by(scope, "invoice_payment", "invoice", invoice_id)
        .map(Cow::into_owned)
        .collect();
    json!({"object": "list", "data": data, "has_more": false, "url": format!("/v1/invoice_payments?invoice={invoice_id}")})
}

/// Charges an open invoice once. Updates `attempt_count` and the subscription on the way.
fn attempt_invoice(
    state: &mut State,
    scope: &Scope,
    id: &str,
    payment_method: Option<String>,
    on_session: bool,
) -> Outcome {
    let Ok(mut invoice) = state.store.fetch(scope, "invoice", id, "invoice") else {
        return Outcome::Failed(ApiError::no_such("invoice", id, "invoice"));
    };
    let sub = invoice_subscription(&invoice)
        .and_then(|sub| state.store.get(scope, sub))
        .map(Cow::into_owned)
        .unwrap_or(Value::Null);
    let pm = payment_method.or_else(|| billing_payment_method(state, scope, &json!({"customer": invoice["customer"], "default_payment_method": sub["default_payment_method"]})));
    let spec = ChargeSpec {
        amount: invoice["amount_remaining"].as_i64().unwrap_or_default(),
        currency: invoice["currency"].as_str().unwrap_or("usd").to_owned(),
        customer: invoice["customer"].as_str().map(str::to_owned),
        payment_method: pm,
        description: Some(if invoice["billing_reason"] == "subscription_create" {
            "Subscription creation".into()
        } else {
            "Subscription update".into()
        }),
        on_session,
        // The platform's cut of a connected account's invoice (Stripe keeps it
        // off the endive invoice object).
        application_fee_amount: sub["application_fee_percent"]
            .as_f64()
            .filter(|_| scope.is_some())
            .map(|percent| {
                (invoice["total"].as_i64().unwrap_or_default() as f64 * percent / 100.0).round()
                    as i64
            }),
        metadata: json!({}),
    };
    let (intent, outcome) = payments::charge(state, scope, &spec);
    record_invoice_payment(state, scope, &invoice, &intent);
    invoice["attempt_count"] = json!(invoice["attempt_count"].as_i64().unwrap_or_default() + 1);
    invoice["attempted"] = json!(true);
    match &outcome {
        Outcome::Succeeded => mark_paid(state, scope, invoice, Some(&intent)),
        Outcome::RequiresAction => {
            state.store.put(scope, invoice.clone());
            state.emit(scope, "invoice.payment_action_required", &invoice, None);
        }
        Outcome::Failed(_) => {
            state.store.put(scope, invoice.clone());
        }
    }
    outcome
}

/// Emits `invoice.payment_failed` after scheduling the next retry (or none).
fn record_failure(state: &mut State, scope: &Scope, id: &str, clock: Option<String>) -> bool {
    let Ok(mut invoice) = state.store.fetch(scope, "invoice", id, "invoice") else {
        return false;
    };
    let attempts = invoice["attempt_count"].as_i64().unwrap_or(1).max(1) as usize;
    let retry = state
        .dunning
        .retry_delays_secs
        .get(attempts - 1)
        .map(|delay| state.now() + delay);
    invoice["next_payment_attempt"] = json!(retry);
    state.store.put(scope, invoice.clone());
    state.emit(scope, "invoice.payment_failed", &invoice, None);
    if let Some(at) = retry {
        state.schedule(
            clock,
            at,
            scope,
            Action::RetryInvoice {
                invoice: id.to_owned(),
            },
        );
    }
    retry.is_some()
}

fn pay_invoice_now(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    call.params.allow(&[
        "paid_out_of_band",
        "payment_method",
        "off_session",
        "forgive",
        "source",
        "mandate",
    ])?;
    let invoice = state.store.fetch(&call.scope, "invoice", id, "invoice")?;
    if let Some(customer) = invoice["customer"].as_str() {
        state.enter_customer_time(&call.scope, customer);
    }
    match invoice["status"].as_str() {
        Some("draft") => {
            finalize_invoice(state, &call.scope, id)?;
        }
        Some("open") => {}
        _ => return Err(ApiError::state("Invoice is already paid")),
    }
    let invoice = state.store.fetch(&call.scope, "invoice", id, "invoice")?;
    if invoice["status"] == "paid" {
        return Ok(invoice);
    }
    if call.params.bool("paid_out_of_band")?.unwrap_or(false) {
        mark_paid(state, &call.scope, invoice, None);
        return state.store.fetch(&call.scope, "invoice", id, "invoice");
    }
    let pm = match call.params.str("payment_method")? {
        Some(pm) => Some(
            resolve_payment_method(state, &call.scope, pm, "payment_method")?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        None => None,
    };
    let on_session = !call.params.bool("off_session")?.unwrap_or(true);
    match attempt_invoice(state, &call.scope, id, pm, on_session) {
        Outcome::Failed(error) => {
            let mut invoice = state.store.fetch(&call.scope, "invoice", id, "invoice")?;
            invoice["next_payment_attempt"] = Value::Null;
            state.store.put(&call.scope, invoice.clone());
            state.emit(&call.scope, "invoice.payment_failed", &invoice, None);
            Err(error)
        }
        _ => state.store.fetch(&call.scope, "invoice", id, "invoice"),
    }
}

fn close_invoice(
    state: &mut State,
    call: &Call,
    id: &str,
    status: &str,
    event: &str,
    transition: &str,
) -> ApiResult<Value> {
    call.params.allow(&[])?;
    let mut invoice = state.store.fetch(&call.scope, "invoice", id, "invoice")?;
    if invoice["status"] != "open" {
        return Err(ApiError::state(format!(
            "You can only {} an open invoice; this invoice is {}.",
            if status == "void" {
                "void"
            } else {
                "mark as uncollectible"
            },
            invoice["status"].as_str().unwrap_or_default()
        )));
    }
    invoice["status"] = json!(status);
    invoice["next_payment_attempt"] = Value::Null;
    invoice["auto_advance"] = json!(false);
    invoice["status_transitions"][transition] = json!(state.now());
    state.store.put(&call.scope, invoice.clone());
    state.emit(&call.scope, event, &invoice, None);
    Ok(invoice)
}

fn list_subscriptions(state: &State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    let customer = params.str("customer")?.map(str::to_owned);
    let price = params.str("price")?.map(str::to_owned);
    let status = params.str("status")?.map(str::to_owned);
    list(
        state,
        call,
        "subscription",
        "/v1/subscriptions",
        &[
            "customer",
            "price",
            "status",
            "collection_method",
            "test_clock",
            "current_period_end",
            "current_period_start",
        ],
        |sub| {
            let status_ok = match status.as_deref() {
                None => !matches!(
                    sub["status"].as_str(),
                    Some("canceled" | "incomplete_expired")
                ),
                Some("all") => true,
                Some(status) => sub["status"] == status,
            };
            status_ok
                && customer
                    .as_ref()
                    .is_none_or(|customer| sub["customer"] == customer.as_str())
                && price.as_ref().is_none_or(|price| {
                    sub["items"]["data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|item| item["price"]["id"] == price.as_str())
                })
        },
    )
}

/// Applies `POST /v1/subscriptions/:id` parameters (also used by the billing portal).
pub fn update_subscription(
    state: &mut State,
    scope: &Scope,
    params: &Params,
    id: &str,
) -> ApiResult<Value> {
    params.allow(&[
        "items",
        "proration_behavior",
        "cancel_at_period_end",
        "default_payment_method",
        "metadata",
        "trial_end",
        "payment_behavior",
        "description",
        "application_fee_percent",
        "proration_date",
        "cancellation_details",
        "off_session",
        "collection_method",
        "days_until_due",
        "billing_cycle_anchor",
    ])?;
    let before = state.store.fetch(scope, "subscription", id, "id")?;
    if matches!(
        before["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Err(ApiError::state(format!(
            "A canceled subscription can only update its cancellation_details and metadata. ({id})"
        )));
    }
    enter_subscription_time(state, scope, &before);
    let now = state.now();
    let mut sub = before.clone();
    let (start, end) = item_period(&sub);
    if let Some(cancel) = params.bool("cancel_at_period_end")? {
        sub["cancel_at_period_end"] = json!(cancel);
        sub["cancel_at"] = if cancel { json!(end) } else { Value::Null };
        sub["canceled_at"] = if cancel { json!(now) } else { Value::Null };
        sub["cancellation_details"]["reason"] = if cancel {
            json!("cancellation_requested")
        } else {
            Value::Null
        };
    }
    if params.has("default_payment_method") {
        sub["default_payment_method"] = match params.str("default_payment_method")? {
            Some(pm) => {
                resolve_payment_method(state, scope, pm, "default_payment_method")?["id"].clone()
            }
            None => Value::Null,
        };
    }
    if let Some(description) = params.str("description")? {
        sub["description"] = json!(description);
    }
    if params.has("application_fee_percent") {
        let fee = params.decimal("application_fee_percent")?;
        check_fee_percent(fee, scope, "application_fee_percent")?;
        sub["application_fee_percent"] = json!(fee);
    }
    params.apply_metadata(&mut sub["metadata"])?;
    let behavior = params
        .one_of(
            "proration_behavior",
            &["create_prorations", "always_invoice", "none"],
        )?
        .unwrap_or("create_prorations");
    let proration_time = params
        .int("proration_date")?
        .unwrap_or(now)
        .clamp(start, end);
    let changes = apply_item_changes(state, scope, &mut sub, &params.hashes("items")?, now)?;
    let trialing = sub["status"] == "trialing";
    let anchor_now = params.one_of("billing_cycle_anchor", &["now", "unchanged"])? == Some("now");
    // A new billing interval (or `billing_cycle_anchor=now`) restarts the cycle now and bills at once, as on Stripe.
    let restarts_cycle = !trialing
        && (anchor_now
            || before["items"]["data"][0]["price"]["recurring"]
                != sub["items"]["data"][0]["price"]["recurring"]);
    let mut prorations = Vec::new();
    if !trialing && behavior != "none" {
        for (old, new) in &changes {
            let mut replacement = new.clone();
            if restarts_cycle {
                replacement["quantity"] = json!(0);
            }
            prorations.extend(proration_lines(
                old,
                &replacement,
                (start, end),
                proration_time,
            ));
        }
        if restarts_cycle && changes.is_empty() {
            for item in sub["items"]["data"].as_array().cloned().unwrap_or_default() {
                let mut gone = item.clone();
                gone["quantity"] = json!(0);
                prorations.extend(proration_lines(&item, &gone, (start, end), proration_time));
            }
        }
    }
    let ends_trial = params.str("trial_end")? == Some("now") && trialing;
    if trialing && params.str("trial_end")?.is_some_and(|end| end != "now") {
        let trial_end = params.req_int("trial_end")?;
        if trial_end <= now {
            return Err(ApiError::invalid(
                "trial_end",
                "Invalid timestamp: must be in the future",
            ));
        }
        sub["trial_end"] = json!(trial_end);
        set_period(&mut sub, start, trial_end);
        let clock = subscription_clock(state, scope, &sub);
        if trial_end - TRIAL_WARNING_SECS > now {
            state.schedule(
                clock.clone(),
                trial_end - TRIAL_WARNING_SECS,
                scope,
                Action::TrialWillEnd {
                    subscription: id.to_owned(),
                },
            );
        }
        schedule_period_end(state, clock, scope, id, trial_end);
    }
    if restarts_cycle {
        let recurring = sub["items"]["data"][0]["price"]["recurring"].clone();
        let new_end = period_end(now, &recurring, now);
        set_period(&mut sub, now, new_end);
        sub["billing_cycle_anchor"] = json!(now);
        if sub["cancel_at_period_end"] == true {
            sub["cancel_at"] = json!(new_end);
        }
        let clock = subscription_clock(state, scope, &sub);
        schedule_period_end(state, clock, scope, id, new_end);
    }
    state.save_updated(scope, "customer.subscription.updated", &before, sub.clone());
    if restarts_cycle {
        let (_, new_end) = item_period(&sub);
        let mut lines = prorations;
        lines.extend(subscription_lines(&sub, now, new_end, false));
        bill_now(state, scope, &sub, lines, (now, new_end))?;
        return state.store.fetch(scope, "subscription", id, "id");
    }
    if behavior == "always_invoice" && !prorations.is_empty() {
        bill_now(state, scope, &sub, prorations, (proration_time, end))?;
    } else {
        for line in &prorations {
            create_invoice_item(state, scope, &sub, line);
        }
    }
    if ends_trial {
        renew(state, scope, id, now, true)?;
    }
    state.store.fetch(scope, "subscription", id, "id")
}

/// Cancelling with `prorate=true`: pending credits for the unused rest of the period.
fn credit_unused_time(state: &mut State, scope: &Scope, sub: &Value) {
    let (start, end) = item_period(sub);
    let now = state.now().clamp(start, end);
    for item in sub["items"]["data"].as_array().cloned().unwrap_or_default() {
        let mut gone = item.clone();
        gone["quantity"] = json!(0);
        for line in proration_lines(&item, &gone, (start, end), now) {
            create_invoice_item(state, scope, sub, &line);
        }
    }
}

/// Invoices a plan change immediately (with any pending items) and charges it.
fn bill_now(
    state: &mut State,
    scope: &Scope,
    sub: &Value,
    lines: Vec<Line>,
    period: (i64, i64),
) -> ApiResult<()> {
    let sub_id = sub["id"].as_str().unwrap_or_default();
    let invoice = create_invoice(state, scope, sub, lines, "subscription_update", period)?;
    let invoice_id = invoice["id"].as_str().unwrap_or_default().to_owned();
    set_latest_invoice(state, scope, sub_id, &invoice_id);
    let invoice = finalize_invoice(state, scope, &invoice_id)?;
    if invoice["status"] == "open"
        && invoice["amount_due"].as_i64().unwrap_or_default() > 0
        && let Outcome::Failed(_) = attempt_invoice(state, scope, &invoice_id, None, false)
    {
        let clock = subscription_clock(state, scope, sub);
        record_failure(state, scope, &invoice_id, clock);
    }
    Ok(())
}

fn set_latest_invoice(state: &mut State, scope: &Scope, sub_id: &str, invoice_id: &str) {
    if let Some(mut sub) = state.store.get(scope, sub_id).map(Cow::into_owned) {
        sub["latest_invoice"] = json!(invoice_id);
        state.store.put(scope, sub);
    }
}

/// Applies `items[…]` to the subscription; returns (old item, new item) per changed item.
fn apply_item_changes(
    state: &State,
    scope: &Scope,
    sub: &mut Value,
    items: &[Params],
    now: i64,
) -> ApiResult<Vec<(Value, Value)>> {
    let mut changes = Vec::new();
    let mut currency = sub["currency"].as_str().map(str::to_owned);
    let sub_id = sub["id"].as_str().unwrap_or_default().to_owned();
    let (start, end) = item_period(sub);
    for item in items {
        item.allow(ITEM_PARAMS)?;
        let data = sub["items"]["data"]
            .as_array_mut()
            .ok_or_else(|| ApiError::state("subscription has no items"))?;
        let price = match item.str("price")? {
            Some(price) => {
                let price = state
                    .store
                    .fetch(scope, "price", price, &item.name("price"))?;
                check_recurring(&price, &mut currency, &item.name("price"))?;
                Some(price)
            }
            None => None,
        };
        let quantity = item.int("quantity")?;
        match item.str("id")? {
            Some(item_id) => {
                let position = data
                    .iter()
                    .position(|existing| existing["id"] == item_id)
                    .ok_or_else(|| {
                        ApiError::no_such("subscription_item", item_id, &item.name("id"))
                    })?;
                let old = data[position].clone();
                if item.bool("deleted")?.unwrap_or(false) {
                    data.remove(position);
                    let mut gone = old.clone();
                    gone["quantity"] = json!(0);
                    changes.push((old, gone));
                    continue;
                }
                let mut new = old.clone();
                if let Some(price) = price {
                    new["price"] = price;
                }
                if let Some(quantity) = quantity {
                    new["quantity"] = json!(quantity);
                }
                item.apply_metadata(&mut new["metadata"])?;
                data[position] = new.clone();
                if old["price"]["id"] != new["price"]["id"] || old["quantity"] != new["quantity"] {
                    changes.push((old, new));
                }
            }
            None => {
                let price = price.ok_or_else(|| ApiError::missing_param(&item.name("price")))?;
                let mut metadata = json!({});
                item.apply_metadata(&mut metadata)?;
                let mut new =
                    subscription_item(&sub_id, &price, quantity.unwrap_or(1), now, metadata);
                new["current_period_start"] = json!(start);
                new["current_period_end"] = json!(end);
                let mut none = new.clone();
                none["quantity"] = json!(0);
                data.push(new.clone());
                changes.push((none, new));
            }
        }
    }
    let count = sub["items"]["data"].as_array().map_or(0, Vec::len);
    sub["items"]["total_count"] = json!(count);
    if count == 0 {
        return Err(ApiError::invalid(
            "items",
            "A subscription must have at least one item.",
        ));
    }
    Ok(changes)
}

/// Stripe's proration: credit the unused time of the old item, charge the remaining
/// time of the new one, each rounded to the minor unit.
fn proration_lines(old: &Value, new: &Value, period: (i64, i64), at: i64) -> Vec<Line> {
    let length = (period.1 - period.0).max(1) as f64;
    let remaining = (period.1 - at).max(0) as f64;
    let share = |item: &Value| {
        let amount = price_amount(
            &item["price"],
            item["quantity"].as_i64().unwrap_or_default(),
        );
        (amount as f64 * remaining / length).round() as i64
    };
    let when = DateTime::from_timestamp(at, 0)
        .map(|at| at.format("%d %b %Y").to_string())
        .unwrap_or_default();
    let mut lines = Vec::new();
    let name = |item: &Value| {
        item["price"]["nickname"]
            .as_str()
            .unwrap_or("plan")
            .to_owned()
    };
    if old["quantity"].as_i64().unwrap_or_default() > 0 {
        lines.push(Line {
            amount: -share(old),
            description: format!(
                "Unused time on {} × {} after {when}",
                old["quantity"],
                name(old)
            ),
            price: old["price"].clone(),
            quantity: old["quantity"].as_i64().unwrap_or_default(),
            period: (at, period.1),
            proration: true,
            subscription_item: old["id"].as_str().map(str::to_owned),
            invoice_item: None,
        });
    }
    if new["quantity"].as_i64().unwrap_or_default() > 0 {
        lines.push(Line {
            amount: share(new),
            description: format!(
                "Remaining time on {} × {} after {when}",
                new["quantity"],
                name(new)
            ),
            price: new["price"].clone(),
            quantity: new["quantity"].as_i64().unwrap_or_default(),
            period: (at, period.1),
            proration: true,
            subscription_item: new["id"].as_str().map(str::to_owned),
            invoice_item: None,
        });
    }
    lines
}

fn create_invoice_item(state: &mut State, scope: &Scope, sub: &Value, line: &Line) {
    let now = state.now();
    let id = new_id("ii");
    let mut item = template("invoiceitem", &id, now);
    item["amount"] = json!(line.amount);
    item["net_amount"] = json!(line.amount);
    item["currency"] = sub["currency"].clone();
    item["customer"] = sub["customer"].clone();
    item["date"] = json!(now);
    item["description"] = json!(line.description);
    item["period"] = json!({"start": line.period.0, "end": line.period.1});
    item["proration"] = json!(line.proration);
    item["quantity"] = json!(line.quantity);
    item["test_clock"] = sub["test_clock"].clone();
    item["parent"] = json!({"type": "subscription_details", "subscription_details": {"subscription": sub["id"], "subscription_item": line.subscription_item}});
    item["pricing"] = json!({"type": "price_details", "price_details": {"price": line.price["id"], "product": line.price["product"]}, "unit_amount_decimal": line.price["unit_amount_decimal"]});
    state.store.insert(scope, item.clone());
    state.emit(scope, "invoiceitem.created", &item, None);
}

/// Cancels immediately and emits `customer.subscription.deleted`.
pub fn cancel_now(state: &mut State, scope: &Scope, id: &str, reason: &str) -> ApiResult<Value> {
    let mut sub = state.store.fetch(scope, "subscription", id, "id")?;
    let now = state.now();
    sub["status"] = json!("canceled");
    sub["canceled_at"] = json!(sub["canceled_at"].as_i64().unwrap_or(now));
    sub["ended_at"] = json!(now);
    sub["cancel_at"] = Value::Null;
    sub["cancel_at_period_end"] = json!(false);
    sub["cancellation_details"]["reason"] = json!(reason);
    state.store.put(scope, sub.clone());
    state.emit(scope, "customer.subscription.deleted", &sub, None);
    Ok(sub)
}

/// Cancels every live subscription of a deleted customer.
pub fn cancel_customer_subscriptions(state: &mut State, scope: &Scope, customer: &str) {
    let live: Vec<String> = state
        .store
        .iter_by(scope, "subscription", "customer", customer)
        .filter(|sub| {
            !matches!(
                sub["status"].as_str(),
                Some("canceled" | "incomplete_expired")
            )
        })
        .filter_map(|sub| sub["id"].as_str().map(str::to_owned))
        .collect();
    for id in live {
        let _ = cancel_now(state, scope, &id, "cancellation_requested");
    }
}

fn resume_subscription(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    call.params.allow(&[
        "billing_cycle_anchor",
        "proration_behavior",
        "proration_date",
    ])?;
    let before = state.store.fetch(&call.scope, "subscription", id, "id")?;
    if before["status"] != "paused" {
        return Err(ApiError::state("Only paused subscriptions can be resumed."));
    }
    enter_subscription_time(state, &call.scope, &before);
    let now = state.now();
    let mut sub = before.clone();
    sub["status"] = json!("active");
    state.store.put(&call.scope, sub.clone());
    state.emit(&call.scope, "customer.subscription.resumed", &sub, None);
    sub["billing_cycle_anchor"] = json!(now);
    state.store.put(&call.scope, sub);
    let (_, end) = item_period(&before);
    renew(state, &call.scope, id, end.min(now), true)?;
    state.store.fetch(&call.scope, "subscription", id, "id")
}

/// A period (or trial) ended: cancel at period end, pause, or invoice the next period.
pub fn renew(state: &mut State, scope: &Scope, id: &str, at: i64, forced: bool) -> ApiResult<()> {
    let before = state.store.fetch(scope, "subscription", id, "id")?;
    let (_, end) = item_period(&before);
    let live = matches!(
        before["status"].as_str(),
        Some("active" | "trialing" | "past_due" | "unpaid" | "paused")
    );
    if !live || (!forced && end != at) {
        return Ok(());
    }
    if before["cancel_at_period_end"] == true {
        cancel_now(state, scope, id, "cancellation_requested")?;
        return Ok(());
    }
    let was_trialing = before["status"] == "trialing";
    let pm = billing_payment_method(state, scope, &before);
    if was_trialing && pm.is_none() {
        match before["trial_settings"]["end_behavior"]["missing_payment_method"].as_str() {
            Some("cancel") => {
                cancel_now(state, scope, id, "cancellation_requested")?;
                return Ok(());
            }
            Some("pause") => {
                let mut sub = before.clone();
                sub["status"] = json!("paused");
                state.store.put(scope, sub.clone());
                state.emit(scope, "customer.subscription.paused", &sub, None);
                return Ok(());
            }
            _ => {}
        }
    }
    let anchor = before["billing_cycle_anchor"].as_i64().unwrap_or(at);
    let anchor = if forced { at } else { anchor };
    let recurring = before["items"]["data"][0]["price"]["recurring"].clone();
    let next_end = period_end(anchor, &recurring, at);
    let mut sub = before.clone();
    set_period(&mut sub, at, next_end);
    sub["billing_cycle_anchor"] = json!(anchor);
    if was_trialing {
        sub["status"] = json!("active");
        if forced {
            sub["trial_end"] = json!(at);
        }
    }
    state.save_updated(scope, "customer.subscription.updated", &before, sub.clone());
    let clock = subscription_clock(state, scope, &sub);
    // An early end (trial ended now, resumed) bills like a plan change; the rest is a regular cycle.
    let reason = if forced && !was_trialing {
        "subscription_update"
    } else {
        "subscription_cycle"
    };
    let lines = subscription_lines(&sub, at, next_end, false);
    let invoice = create_invoice(state, scope, &sub, lines, reason, (at, next_end))?;
    let invoice_id = invoice["id"].as_str().unwrap_or_default().to_owned();
    set_latest_invoice(state, scope, id, &invoice_id);
    let invoice = finalize_invoice(state, scope, &invoice_id)?;
    schedule_period_end(state, clock.clone(), scope, id, next_end);
    if invoice["status"] != "open"
        || sub["collection_method"] != "charge_automatically"
        || sub["status"] == "unpaid"
    {
        return Ok(());
    }
    if let Outcome::Failed(_) = attempt_invoice(state, scope, &invoice_id, None, false) {
        record_failure(state, scope, &invoice_id, clock);
        set_status(state, scope, id, "past_due");
    }
    Ok(())
}

fn set_status(state: &mut State, scope: &Scope, id: &str, status: &str) {
    if let Some(before) = state.store.get(scope, id).map(Cow::into_owned)
        && before["status"] != status
    {
        let mut sub = before.clone();
        sub["status"] = json!(status);
        state.save_updated(scope, "customer.subscription.updated", &before, sub);
    }
}

/// A scheduled retry of an open renewal invoice.
pub fn retry_invoice(state: &mut State, scope: &Scope, id: &str, at: i64) -> ApiResult<()> {
    let invoice = state.store.fetch(scope, "invoice", id, "invoice")?;
    if invoice["status"] != "open" || invoice["next_payment_attempt"].as_i64() != Some(at) {
        return Ok(());
    }
    let sub_id = invoice_subscription(&invoice).map(str::to_owned);
    let sub = sub_id
        .as_ref()
        .and_then(|sub| state.store.get(scope, sub))
        .map(Cow::into_owned)
        .unwrap_or(Value::Null);
    if matches!(
        sub["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Ok(());
    }
    if let Outcome::Failed(_) = attempt_invoice(state, scope, id, None, false) {
        let clock = subscription_clock(state, scope, &sub);
        let retrying = record_failure(state, scope, id, clock);
        if let (false, Some(sub_id)) = (retrying, sub_id) {
            match state.dunning.final_action {
                FinalAction::Cancel => {
                    cancel_now(state, scope, &sub_id, "payment_failed")?;
                }
                FinalAction::MarkUnpaid => set_status(state, scope, &sub_id, "unpaid"),
                FinalAction::LeavePastDue => {}
            }
        }
    }
    Ok(())
}

/// Sends `customer.subscription.trial_will_end` if the trial still ends as planned.
pub fn trial_will_end(state: &mut State, scope: &Scope, id: &str, at: i64) -> ApiResult<()> {
    let sub = state.store.fetch(scope, "subscription", id, "id")?;
    if sub["status"] == "trialing" && sub["trial_end"].as_i64() == Some(at + TRIAL_WARNING_SECS) {
        state.emit(scope, "customer.subscription.trial_will_end", &sub, None);
    }
    Ok(())
}

/// An unpaid `incomplete` subscription expires; its first invoice is voided.
pub fn expire_incomplete(state: &mut State, scope: &Scope, id: &str) -> ApiResult<()> {
    let before = state.store.fetch(scope, "subscription", id, "id")?;
    if before["status"] != "incomplete" {
        return Ok(());
    }
    let mut sub = before.clone();
    sub["status"] = json!("incomplete_expired");
    sub["ended_at"] = json!(state.now());
    state.save_updated(scope, "customer.subscription.updated", &before, sub.clone());
    if let Some(invoice) = sub["latest_invoice"].as_str()
        && let Some(mut open) = state
            .store
            .get(scope, invoice)
            .map(Cow::into_owned)
            .filter(|invoice| invoice["status"] == "open")
    {
        open["status"] = json!("void");
        open["status_transitions"]["voided_at"] = json!(state.now());
        state.store.put(scope, open.clone());
        state.emit(scope, "invoice.voided", &open, None);
    }
    state.emit(scope, "customer.subscription.deleted", &sub, None);
    Ok(())
}

/// `POST /v1/invoices/create_preview`: the next invoice of a subscription, with pending prorations.
fn preview_invoice(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "customer",
        "subscription",
        "subscription_details",
        "automatic_tax",
        "preview_mode",
    ])?;
    let sub_id = params
        .str("subscription")?
        .ok_or_else(|| ApiError::missing_param("subscription"))?;
    let sub = state
        .store
        .fetch(&call.scope, "subscription", sub_id, "subscription")?;
    if let Some(customer) = params.str("customer")?
        && sub["customer"] != customer
    {
        return Err(ApiError::invalid(
            "subscription",
            "The subscription does not belong to that customer.",
        ));
    }
    enter_subscription_time(state, &call.scope, &sub);
    let Some(details) = params.hash("subscription_details")? else {
        return Ok(upcoming_invoice(state, &call.scope, &sub, Vec::new()));
    };
    preview_update(state, &call.scope, sub, &details)
}

/// A preview of `subscription_details` applied to `sub`, as the update
/// would bill it: with `always_invoice`, the invoice created at once (the
/// prorations and pending items); otherwise the next renewal on the new
/// items with the prorations pending. A change of interval (which restarts
/// the cycle) is previewed as a renewal, not as the restart.
fn preview_update(
    state: &State,
    scope: &Scope,
    mut sub: Value,
    details: &Params,
) -> ApiResult<Value> {
    details.allow(&["items", "proration_behavior", "proration_date"])?;
    let behavior = details
        .one_of(
            "proration_behavior",
            &["create_prorations", "always_invoice", "none"],
        )?
        .unwrap_or("create_prorations");
    let now = state.now();
    let (start, end) = item_period(&sub);
    let at = details
        .int("proration_date")?
        .unwrap_or(now)
        .clamp(start, end);
    let changes = apply_item_changes(state, scope, &mut sub, &details.hashes("items")?, now)?;
    let prorations: Vec<Line> = if behavior == "none" || sub["status"] == "trialing" {
        Vec::new()
    } else {
        changes
            .iter()
            .flat_map(|(old, new)| proration_lines(old, new, (start, end), at))
            .collect()
    };
    if behavior == "always_invoice" && !prorations.is_empty() {
        let sub_id = sub["id"].as_str().unwrap_or_default();
        let mut lines: Vec<Line> = pending_items(state, scope, sub_id)
            .iter()
            .map(Line::from_invoice_item)
            .collect();
        lines.extend(prorations);
        let id = format!("upcoming_{}", new_id("in"));
        return Ok(build_invoice(
            state,
            scope,
            &sub,
            &lines,
            "subscription_update",
            (at, end),
            &id,
        ));
    }
    Ok(upcoming_invoice(state, scope, &sub, prorations))
}

/// The invoice the next renewal will create: the next period plus pending
/// items and `extra` lines (previewed prorations).
fn upcoming_invoice(state: &State, scope: &Scope, sub: &Value, extra: Vec<Line>) -> Value {
    let sub_id = sub["id"].as_str().unwrap_or_default();
    let (_, end) = item_period(sub);
    let recurring = sub["items"]["data"][0]["price"]["recurring"].clone();
    let anchor = sub["billing_cycle_anchor"].as_i64().unwrap_or(end);
    let next_end = period_end(anchor, &recurring, end);
    let mut lines = subscription_lines(sub, end, next_end, false);
    lines.extend(
        pending_items(state, scope, sub_id)
            .iter()
            .map(Line::from_invoice_item),
    );
    lines.extend(extra);
    let id = format!("upcoming_{}", new_id("in"));
    let mut invoice = build_invoice(state, scope, sub, &lines, "upcoming", (end, next_end), &id);
    invoice["created"] = json!(end);
    invoice["next_payment_attempt"] = json!(end);
    invoice
}
