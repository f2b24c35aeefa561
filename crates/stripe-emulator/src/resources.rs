//! Plain resources: accounts and account links, customers, products, prices,
//! payment methods, webhook endpoints and events.

use serde_json::{Value, json};
use std::borrow::Cow;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::server::{Call, list};
use crate::state::{API_VERSION, CardBehavior, EVENT_RETENTION_SECS, State};
use crate::store::{Scope, new_id, new_secret, template};

/// Id of the platform's own account (`GET /v1/account` without `Stripe-Account`).
pub const PLATFORM_ACCOUNT: &str = "acct_emulatorplatform";

/// Routes the plain resources; `None` when the path is not one of theirs.
pub fn route(
    state: &mut State,
    call: &Call,
    get: bool,
    post: bool,
    delete: bool,
    path: &[&str],
) -> ApiResult<Option<Value>> {
    let value = match path {
        ["account"] if get => current_account(state, call)?,
        ["accounts"] if post => create_account(state, call)?,
        ["accounts"] if get => platform_only(call)
            .and_then(|_| list(state, call, "account", "/v1/accounts", &[], |_| true))?,
        ["accounts", id] if get => {
            platform_only(call).and_then(|_| state.store.fetch(&None, "account", id, "account"))?
        }
        ["accounts", id] if post => update_account(state, call, id)?,
        ["accounts", id] if delete => {
            platform_only(call)?;
            state.store.fetch(&None, "account", id, "account")?;
            state.store.remove(&None, id);
            json!({"id": id, "object": "account", "deleted": true})
        }
        ["account_links"] if post => create_account_link(state, call)?,
        ["customers"] if post => create_customer(state, call)?,
        ["customers"] if get => {
            let email = call.params.str("email")?.map(str::to_owned);
            let clock = call.params.str("test_clock")?.map(str::to_owned);
            list(
                state,
                call,
                "customer",
                "/v1/customers",
                &["email", "test_clock"],
                |customer| {
                    email
                        .as_ref()
                        .is_none_or(|email| customer["email"] == email.as_str())
                        && clock
                            .as_ref()
                            .is_none_or(|clock| customer["test_clock"] == clock.as_str())
                },
            )?
        }
        ["customers", id] if get => state.store.fetch(&call.scope, "customer", id, "id")?,
        ["customers", id] if post => update_customer(state, call, id)?,
        ["customers", id] if delete => delete_customer(state, call, id)?,
        ["customers", id, "payment_methods"] if get => {
            state.store.fetch(&call.scope, "customer", id, "customer")?;
            let id = id.to_string();
            list(
                state,
                call,
                "payment_method",
                "/v1/customers/payment_methods",
                &["type"],
                |pm| pm["customer"] == id.as_str(),
            )?
        }
        ["products"] if post => create_product(state, &call.scope, &call.params)?,
        ["products"] if get => {
            let active = call.params.bool("active")?;
            list(
                state,
                call,
                "product",
                "/v1/products",
                &["active", "ids", "url", "shippable"],
                |product| active.is_none_or(|active| product["active"] == active),
            )?
        }
        ["products", id] if get => state.store.fetch(&call.scope, "product", id, "id")?,
        ["products", id] if post => update_product(state, call, id)?,
        ["products", id] if delete => {
            let product = state.store.fetch(&call.scope, "product", id, "id")?;
            state.store.remove(&call.scope, id);
            state.emit(&call.scope, "product.deleted", &product, None);
            json!({"id": id, "object": "product", "deleted": true})
        }
        ["prices"] if post => create_price(state, call)?,
        ["prices"] if get => list_prices(state, call)?,
        ["prices", id] if get => state.store.fetch(&call.scope, "price", id, "id")?,
        ["prices", id] if post => update_price(state, call, id)?,
        ["payment_methods"] if post => create_payment_method(state, call)?,
        ["payment_methods"] if get => {
            let customer = call.params.str("customer")?.map(str::to_owned);
            list(
                state,
                call,
                "payment_method",
                "/v1/payment_methods",
                &["customer", "type"],
                |pm| {
                    customer
                        .as_ref()
                        .is_none_or(|customer| pm["customer"] == customer.as_str())
                },
            )?
        }
        ["payment_methods", id] if get => {
            state.store.fetch(&call.scope, "payment_method", id, "id")?
        }
        ["payment_methods", id, "attach"] if post => {
            call.params.allow(&["customer"])?;
            let customer = call.params.req_str("customer")?;
            state
                .store
                .fetch(&call.scope, "customer", customer, "customer")?;
            let pm = resolve_payment_method(state, &call.scope, id, "payment_method")?;
            attach_payment_method(state, &call.scope, &pm, customer)?
        }
        ["payment_methods", id, "detach"] if post => {
            call.params.allow(&[])?;
            let before = state.store.fetch(&call.scope, "payment_method", id, "id")?;
            let mut pm = before.clone();
            pm["customer"] = Value::Null;
            state.store.put(&call.scope, pm.clone());
            state.emit(
                &call.scope,
                "payment_method.detached",
                &pm,
                Some(json!({"customer": before["customer"]})),
            );
            pm
        }
        ["webhook_endpoints"] if post => create_webhook_endpoint(state, call)?,
        ["webhook_endpoints"] if get => list(
            state,
            call,
            "webhook_endpoint",
            "/v1/webhook_endpoints",
            &[],
            |_| true,
        )?,
        ["webhook_endpoints", id] if get => {
            state
                .store
                .fetch(&call.scope, "webhook_endpoint", id, "id")?
        }
        ["webhook_endpoints", id] if post => update_webhook_endpoint(state, call, id)?,
        ["webhook_endpoints", id] if delete => {
            state
                .store
                .fetch(&call.scope, "webhook_endpoint", id, "id")?;
            state.store.remove(&call.scope, id);
            state.endpoint_secrets.remove(*id);
            state.connect_endpoints.remove(*id);
            json!({"id": id, "object": "webhook_endpoint", "deleted": true})
        }
        ["events"] if get => {
            let types = call.params.strings("types")?;
            let kind = call.params.str("type")?.map(str::to_owned);
            let oldest = state.now() - EVENT_RETENTION_SECS;
            list(
                state,
                call,
                "event",
                "/v1/events",
                &["type", "types", "delivery_success"],
                |event| {
                    event["created"].as_i64().unwrap_or_default() >= oldest
                        && kind
                            .as_ref()
                            .is_none_or(|kind| event_type_matches(kind, &event["type"]))
                        && (types.is_empty()
                            || types.iter().any(|kind| event["type"] == kind.as_str()))
                },
            )?
        }
        ["events", id] if get => {
            let event = state.store.fetch(&call.scope, "event", id, "id")?;
            if event["created"].as_i64().unwrap_or_default() < state.now() - EVENT_RETENTION_SECS {
                return Err(ApiError::no_such("event", id, "id"));
            }
            event
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// `type` filters accept a trailing `*` wildcard (`invoice.*`).
fn event_type_matches(filter: &str, kind: &Value) -> bool {
    let kind = kind.as_str().unwrap_or_default();
    match filter.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => kind == filter,
    }
}

fn platform_only(call: &Call) -> ApiResult<()> {
    match &call.scope {
        None => Ok(()),
        Some(_) => Err(
            ApiError::state("Connected accounts cannot manage other accounts.").with_status(403),
        ),
    }
}

/// Copies a nested hash parameter over a template field (string leaves, as sent).
fn merge_into(target: &mut Value, sent: &Value) {
    match (target, sent) {
        (Value::Object(target), Value::Object(sent)) => {
            for (key, value) in sent {
                merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, sent) => *target = sent.clone(),
    }
}

/// Copies simple string parameters onto an object (an empty string unsets).
fn copy_strings(params: &Params, object: &mut Value, keys: &[&str]) -> ApiResult<()> {
    for key in keys {
        if params.has(key) {
            object[*key] = params.str(key)?.map_or(Value::Null, |text| json!(text));
        }
    }
    Ok(())
}

fn copy_hashes(params: &Params, object: &mut Value, keys: &[&str]) {
    for key in keys {
        if let Some(sent) = params.raw(key) {
            merge_into(&mut object[*key], sent);
        }
    }
}

fn current_account(state: &State, call: &Call) -> ApiResult<Value> {
    match &call.scope {
        Some(account) => state.store.fetch(&None, "account", account, "account"),
        None => {
            let mut platform = template("account", PLATFORM_ACCOUNT, 0);
            platform["charges_enabled"] = json!(true);
            platform["details_submitted"] = json!(true);
            platform["payouts_enabled"] = json!(true);
            platform["type"] = json!("standard");
            platform["controller"] = json!({"type": "account"});
            Ok(platform)
        }
    }
}

const ACCOUNT_PARAMS: &[&str] = &[
    "type",
    "controller",
    "country",
    "email",
    "business_type",
    "capabilities",
    "metadata",
    "business_profile",
    "default_currency",
    "tos_acceptance",
    "settings",
    "individual",
    "company",
    "external_account",
];

fn create_account(state: &mut State, call: &Call) -> ApiResult<Value> {
    platform_only(call)?;
    let params = &call.params;
    params.allow(ACCOUNT_PARAMS)?;
    let kind = params.one_of("type", &["standard", "express", "custom"])?;
    let controller = params.hash("controller")?;
    if kind.is_some() && controller.is_some() {
        return Err(ApiError::invalid(
            "type",
            "You cannot specify both `type` and `controller`: `type` is deprecated, prefer `controller`.",
        ));
    }
    let dashboard = match &controller {
        Some(controller) => controller
            .hash("stripe_dashboard")?
            .map(|dashboard| dashboard.one_of("type", &["full", "express", "none"]))
            .transpose()?
            .flatten()
            .unwrap_or("full"),
        None => match kind.unwrap_or("standard") {
            "standard" => "full",
            "express" => "express",
            _ => "none",
        },
    };
    let account_type = kind.unwrap_or(match dashboard {
        "full" => "standard",
        "express" => "express",
        _ => "custom",
    });
    let id = new_id("acct");
    let mut account = template("account", &id, state.now());
    account["type"] = json!(account_type);
    account["controller"] = json!({
        "type": "application",
        "is_controller": true,
        "fees": {"payer": if dashboard == "full" { "account" } else { "application" }},
        "losses": {"payments": if dashboard == "full" { "stripe" } else { "application" }},
        "requirement_collection": if dashboard == "none" { "application" } else { "stripe" },
        "stripe_dashboard": {"type": dashboard},
    });
    if let Some(sent) = params.raw("controller") {
        merge_into(&mut account["controller"], sent);
    }
    account["country"] = json!(params.str("country")?.unwrap_or("US"));
    account["default_currency"] = json!(params.str("default_currency")?.unwrap_or("usd"));
    account["capabilities"] = json!({});
    if let Some(capabilities) = params.hash("capabilities")? {
        for name in ["card_payments", "transfers"] {
            if capabilities.has(name) {
                account["capabilities"][name] = json!("inactive");
            }
        }
    }
    account["external_accounts"]["url"] = json!(format!("/v1/accounts/{id}/external_accounts"));
    copy_strings(params, &mut account, &["email", "business_type"])?;
    copy_hashes(
        params,
        &mut account,
        &["business_profile", "tos_acceptance", "settings"],
    );
    params.apply_metadata(&mut account["metadata"])?;
    state.store.insert(&None, account.clone());
    Ok(account)
}

fn update_account(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    if call.scope.as_deref().is_some_and(|scope| scope != id) {
        return Err(ApiError::account_invalid(id));
    }
    let params = &call.params;
    params.allow(&[
        "email",
        "business_type",
        "metadata",
        "business_profile",
        "settings",
        "tos_acceptance",
        "capabilities",
        "default_currency",
        "individual",
        "company",
        "external_account",
    ])?;
    let before = state.store.fetch(&None, "account", id, "account")?;
    let mut account = before.clone();
    copy_strings(
        params,
        &mut account,
        &["email", "business_type", "default_currency"],
    )?;
    copy_hashes(
        params,
        &mut account,
        &["business_profile", "tos_acceptance", "settings"],
    );
    params.apply_metadata(&mut account["metadata"])?;
    save_account(state, &before, account.clone());
    Ok(account)
}

/// Saves an account and sends `account.updated` to Connect endpoints.
pub fn save_account(state: &mut State, before: &Value, account: Value) {
    let id = account["id"].as_str().unwrap_or_default().to_owned();
    let previous = crate::state::changed_attributes(before, &account);
    state.store.put(&None, account.clone());
    if !previous.is_empty() {
        state.emit(
            &Some(id),
            "account.updated",
            &account,
            Some(Value::Object(previous)),
        );
    }
}

fn create_account_link(state: &mut State, call: &Call) -> ApiResult<Value> {
    platform_only(call)?;
    let params = &call.params;
    params.allow(&[
        "account",
        "type",
        "refresh_url",
        "return_url",
        "collect",
        "collection_options",
    ])?;
    let account = params.req_str("account")?;
    params
        .one_of("type", &["account_onboarding", "account_update"])?
        .ok_or_else(|| ApiError::missing_param("type"))?;
    let refresh_url = params.req_str("refresh_url")?.to_owned();
    let return_url = params.req_str("return_url")?.to_owned();
    state.store.fetch(&None, "account", account, "account")?;
    let now = state.now();
    let token = new_secret(24);
    state.account_links.insert(
        token.clone(),
        crate::state::AccountLinkTarget {
            account: account.to_owned(),
            return_url,
            refresh_url,
            expires_at: now + 300,
            used: false,
        },
    );
    let mut link = template("account_link", "", now);
    link["expires_at"] = json!(now + 300);
    link["url"] = json!(format!("{}/connect/onboarding/{token}", call.base_url));
    Ok(link)
}

const CUSTOMER_PARAMS: &[&str] = &[
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "payment_method",
    "invoice_settings",
    "address",
    "preferred_locales",
    "shipping",
    "tax_exempt",
    "balance",
];

fn create_customer(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    let mut allowed = CUSTOMER_PARAMS.to_vec();
    allowed.push("test_clock");
    params.allow(&allowed)?;
    let clock = params.str("test_clock")?;
    if let Some(clock) = clock {
        let clock =
            state
                .store
                .fetch(&call.scope, "test_helpers.test_clock", clock, "test_clock")?;
        state.time_override = clock["frozen_time"].as_i64();
    }
    let id = new_id("cus");
    let mut customer = template("customer", &id, state.now());
    customer["invoice_prefix"] = json!(new_secret(8).to_uppercase());
    customer["test_clock"] = clock.map_or(Value::Null, |clock| json!(clock));
    customer["preferred_locales"] = json!(params.strings("preferred_locales")?);
    fill_customer(params, &mut customer)?;
    state.store.insert(&call.scope, customer.clone());
    state.emit(&call.scope, "customer.created", &customer, None);
    apply_customer_payment_settings(state, &call.scope, params, customer)
}

fn fill_customer(params: &Params, customer: &mut Value) -> ApiResult<()> {
    copy_strings(params, customer, &["email", "name", "description", "phone"])?;
    copy_hashes(params, customer, &["address", "shipping"]);
    if let Some(balance) = params.int("balance")? {
        customer["balance"] = json!(balance);
    }
    if let Some(exempt) = params.one_of("tax_exempt", &["none", "exempt", "reverse"])? {
        customer["tax_exempt"] = json!(exempt);
    }
    params.apply_metadata(&mut customer["metadata"])
}

/// Handles `payment_method` (attach) and `invoice_settings[default_payment_method]`.
fn apply_customer_payment_settings(
    state: &mut State,
    scope: &Scope,
    params: &Params,
    mut customer: Value,
) -> ApiResult<Value> {
    let id = customer["id"].as_str().unwrap_or_default().to_owned();
    let mut attached = None;
    if let Some(pm) = params.str("payment_method")? {
        let resolved = resolve_payment_method(state, scope, pm, "payment_method")?;
        attach_payment_method(state, scope, &resolved, &id)?;
        attached = Some((pm.to_owned(), resolved));
    }
    if let Some(settings) = params.hash("invoice_settings")? {
        settings.allow(&[
            "default_payment_method",
            "custom_fields",
            "footer",
            "rendering_options",
        ])?;
        if settings.has("default_payment_method") {
            let before = state.store.fetch(scope, "customer", &id, "id")?;
            customer = before.clone();
            let default = match settings.str("default_payment_method")? {
                None => Value::Null,
                Some(pm) => {
                    let param = settings.name("default_payment_method");
                    // `payment_method=pm_card_visa` with the same shortcut as default means the card just attached.
                    let pm = match &attached {
                        Some((sent, resolved)) if sent == pm => state.store.fetch(
                            scope,
                            "payment_method",
                            resolved["id"].as_str().unwrap_or_default(),
                            &param,
                        )?,
                        _ => resolve_payment_method(state, scope, pm, &param)?,
                    };
                    if pm["customer"] != id.as_str() {
                        return Err(ApiError::invalid(
                            &param,
                            format!(
                                "The customer does not have a payment method with the ID {}. The payment method must be attached to the customer.",
                                pm["id"].as_str().unwrap_or_default()
                            ),
                        ));
                    }
                    pm["id"].clone()
                }
            };
            customer["invoice_settings"]["default_payment_method"] = default;
            if before != customer {
                state.save_updated(scope, "customer.updated", &before, customer.clone());
            }
        }
    }
    state.store.fetch(scope, "customer", &id, "id")
}

fn update_customer(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(CUSTOMER_PARAMS)?;
    let before = state.store.fetch(&call.scope, "customer", id, "id")?;
    state.enter_customer_time(&call.scope, id);
    let mut customer = before.clone();
    fill_customer(params, &mut customer)?;
    if params.has("preferred_locales") {
        customer["preferred_locales"] = json!(params.strings("preferred_locales")?);
    }
    state.save_updated(&call.scope, "customer.updated", &before, customer.clone());
    apply_customer_payment_settings(state, &call.scope, params, customer)
}

fn delete_customer(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let customer = state.store.fetch(&call.scope, "customer", id, "id")?;
    crate::billing::cancel_customer_subscriptions(state, &call.scope, id);
    state.store.remove(&call.scope, id);
    state.emit(&call.scope, "customer.deleted", &customer, None);
    Ok(json!({"id": id, "object": "customer", "deleted": true}))
}

const PRODUCT_PARAMS: &[&str] = &[
    "id",
    "name",
    "description",
    "active",
    "metadata",
    "images",
    "unit_label",
    "url",
    "tax_code",
    "statement_descriptor",
    "marketing_features",
    "shippable",
    "type",
    "package_dimensions",
];

/// Creates a product (also used for `product_data` on prices).
pub fn create_product(state: &mut State, scope: &Scope, params: &Params) -> ApiResult<Value> {
    params.allow(PRODUCT_PARAMS)?;
    let name = params.req_str("name")?;
    let id = match params.str("id")? {
        Some(id) if state.store.get_any(id).is_some() => {
            return Err(ApiError::invalid(
                &params.name("id"),
                format!("Product already exists: {id}"),
            ));
        }
        Some(id) => id.to_owned(),
        None => new_id("prod"),
    };
    let now = state.now();
    let mut product = template("product", &id, now);
    product["name"] = json!(name);
    product["updated"] = json!(now);
    product["images"] = json!(params.strings("images")?);
    fill_product(params, &mut product)?;
    state.store.insert(scope, product.clone());
    state.emit(scope, "product.created", &product, None);
    Ok(product)
}

fn fill_product(params: &Params, product: &mut Value) -> ApiResult<()> {
    copy_strings(
        params,
        product,
        &[
            "description",
            "unit_label",
            "url",
            "tax_code",
            "statement_descriptor",
        ],
    )?;
    if let Some(active) = params.bool("active")? {
        product["active"] = json!(active);
    }
    params.apply_metadata(&mut product["metadata"])
}

fn update_product(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let params = &call.params;
    let mut allowed = PRODUCT_PARAMS.to_vec();
    allowed.push("default_price");
    allowed.retain(|key| *key != "id");
    params.allow(&allowed)?;
    let before = state.store.fetch(&call.scope, "product", id, "id")?;
    let mut product = before.clone();
    if let Some(name) = params.str("name")? {
        product["name"] = json!(name);
    }
    if let Some(price) = params.str("default_price")? {
        state
            .store
            .fetch(&call.scope, "price", price, "default_price")?;
        product["default_price"] = json!(price);
    }
    fill_product(params, &mut product)?;
    product["updated"] = json!(state.now());
    state.save_updated(&call.scope, "product.updated", &before, product.clone());
    Ok(product)
}

fn create_price(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "currency",
        "product",
        "product_data",
        "unit_amount",
        "unit_amount_decimal",
        "recurring",
        "billing_scheme",
        "tiers",
        "tiers_mode",
        "lookup_key",
        "transfer_lookup_key",
        "nickname",
        "metadata",
        "active",
        "tax_behavior",
    ])?;
    let currency = params.req_str("currency")?.to_lowercase();
    let product = match (params.str("product")?, params.hash("product_data")?) {
        (Some(product), None) => state
            .store
            .fetch(&call.scope, "product", product, "product")?,
        (None, Some(data)) => create_product(state, &call.scope, &data)?,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "product_data",
                "You may only specify one of these parameters: product, product_data.",
            ));
        }
        (None, None) => return Err(ApiError::missing_param("product")),
    };
    let id = new_id("price");
    let mut price = template("price", &id, state.now());
    price["currency"] = json!(currency);
    price["product"] = product["id"].clone();
    let scheme = params
        .one_of("billing_scheme", &["per_unit", "tiered"])?
        .unwrap_or("per_unit");
    price["billing_scheme"] = json!(scheme);
    if scheme == "tiered" {
        let mode = params
            .one_of("tiers_mode", &["volume", "graduated"])?
            .ok_or_else(|| ApiError::missing_param("tiers_mode"))?;
        price["tiers_mode"] = json!(mode);
        price["tiers"] = parse_tiers(params)?;
        price["unit_amount"] = Value::Null;
        price["unit_amount_decimal"] = Value::Null;
    } else {
        let amount = match params.int("unit_amount")? {
            Some(amount) => amount,
            None => params
                .decimal("unit_amount_decimal")?
                .map(|amount| amount.round() as i64)
                .ok_or_else(|| ApiError::missing_param("unit_amount"))?,
        };
        if amount < 0 {
            return Err(ApiError::invalid(
                "unit_amount",
                "Invalid unit_amount: must be at least 0",
            ));
        }
        price["unit_amount"] = json!(amount);
        price["unit_amount_decimal"] = json!(amount.to_string());
        price["tiers_mode"] = Value::Null;
    }
    match params.hash("recurring")? {
        Some(recurring) => {
            recurring.allow(&[
                "interval",
                "interval_count",
                "usage_type",
                "trial_period_days",
                "meter",
                "aggregate_usage",
            ])?;
            let interval = recurring
                .one_of("interval", &["day", "week", "month", "year"])?
                .ok_or_else(|| ApiError::missing_param("recurring[interval]"))?;
            let count = recurring.int("interval_count")?.unwrap_or(1);
            let max = match interval {
                "day" => 1095,
                "week" => 156,
                "month" => 36,
                _ => 3,
            };
            if !(1..=max).contains(&count) {
                return Err(ApiError::invalid(
                    "recurring[interval_count]",
                    "Invalid recurring[interval_count]: the maximum interval is three years.",
                ));
            }
            price["type"] = json!("recurring");
            price["recurring"] = json!({
                "interval": interval,
                "interval_count": count,
                "meter": null,
                "usage_type": recurring.one_of("usage_type", &["licensed", "metered"])?.unwrap_or("licensed"),
                "trial_period_days": recurring.int("trial_period_days")?,
            });
        }
        None => {
            price["type"] = json!("one_time");
            price["recurring"] = Value::Null;
        }
    }
    copy_strings(params, &mut price, &["nickname"])?;
    if let Some(behavior) =
        params.one_of("tax_behavior", &["inclusive", "exclusive", "unspecified"])?
    {
        price["tax_behavior"] = json!(behavior);
    }
    if let Some(active) = params.bool("active")? {
        price["active"] = json!(active);
    }
    params.apply_metadata(&mut price["metadata"])?;
    if let Some(key) = params.str("lookup_key")? {
        claim_lookup_key(
            state,
            &call.scope,
            key,
            params.bool("transfer_lookup_key")?.unwrap_or(false),
        )?;
        price["lookup_key"] = json!(key);
    }
    state.store.insert(&call.scope, price.clone());
    state.emit(&call.scope, "price.created", &price, None);
    Ok(price)
}

/// Lookup keys are unique per account; `transfer_lookup_key` moves one from its holder.
fn claim_lookup_key(state: &mut State, scope: &Scope, key: &str, transfer: bool) -> ApiResult<()> {
    let holder = state
        .store
        .iter_by(scope, "price", "lookup_key", key)
        .next()
        .map(Cow::into_owned);
    if let Some(before) = holder {
        if !transfer {
            return Err(ApiError::invalid(
                "lookup_key",
                format!(
                    "A price (`{}`) already uses that lookup key. Pass `transfer_lookup_key=true` to move it.",
                    before["id"].as_str().unwrap_or_default()
                ),
            ));
        }
        let mut moved = before.clone();
        moved["lookup_key"] = Value::Null;
        state.save_updated(scope, "price.updated", &before, moved);
    }
    Ok(())
}

fn parse_tiers(params: &Params) -> ApiResult<Value> {
    let tiers = params.hashes("tiers")?;
    if tiers.is_empty() {
        return Err(ApiError::missing_param("tiers"));
    }
    let mut parsed = Vec::new();
    for (index, tier) in tiers.iter().enumerate() {
        tier.allow(&[
            "up_to",
            "unit_amount",
            "unit_amount_decimal",
            "flat_amount",
            "flat_amount_decimal",
        ])?;
        let up_to = match tier.req_str("up_to")? {
            "inf" => Value::Null,
            _ => json!(tier.req_int("up_to")?),
        };
        let last = index + 1 == tiers.len();
        if up_to.is_null() != last {
            return Err(ApiError::invalid(
                &tier.name("up_to"),
                "Only the last tier may (and must) have `up_to=inf`.",
            ));
        }
        let unit = tier.int("unit_amount")?;
        let flat = tier.int("flat_amount")?;
        parsed.push(json!({
            "up_to": up_to,
            "unit_amount": unit,
            "unit_amount_decimal": unit.map(|amount| amount.to_string()),
            "flat_amount": flat,
            "flat_amount_decimal": flat.map(|amount| amount.to_string()),
        }));
    }
    Ok(Value::Array(parsed))
}

fn list_prices(state: &State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    let active = params.bool("active")?;
    let product = params.str("product")?.map(str::to_owned);
    let kind = params.one_of("type", &["one_time", "recurring"])?;
    let keys = params.strings("lookup_keys")?;
    let currency = params.str("currency")?.map(str::to_lowercase);
    list(
        state,
        call,
        "price",
        "/v1/prices",
        &[
            "active",
            "product",
            "type",
            "lookup_keys",
            "currency",
            "recurring",
        ],
        |price| {
            active.is_none_or(|active| price["active"] == active)
                && product
                    .as_ref()
                    .is_none_or(|product| price["product"] == product.as_str())
                && kind.is_none_or(|kind| price["type"] == kind)
                && currency
                    .as_ref()
                    .is_none_or(|currency| price["currency"] == currency.as_str())
                && (keys.is_empty() || keys.iter().any(|key| price["lookup_key"] == key.as_str()))
        },
    )
}

fn update_price(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "active",
        "metadata",
        "nickname",
        "lookup_key",
        "transfer_lookup_key",
        "tax_behavior",
    ])?;
    let before = state.store.fetch(&call.scope, "price", id, "id")?;
    let mut price = before.clone();
    if let Some(active) = params.bool("active")? {
        price["active"] = json!(active);
    }
    copy_strings(params, &mut price, &["nickname"])?;
    if params.has("lookup_key") {
        match params.str("lookup_key")? {
            Some(key) if before["lookup_key"] != key => {
                claim_lookup_key(
                    state,
                    &call.scope,
                    key,
                    params.bool("transfer_lookup_key")?.unwrap_or(false),
                )?;
                price["lookup_key"] = json!(key);
            }
            Some(_) => {}
            None => price["lookup_key"] = Value::Null,
        }
    }
    params.apply_metadata(&mut price["metadata"])?;
    state.save_updated(&call.scope, "price.updated", &before, price.clone());
    Ok(price)
}

/// The behaviour and brand of a test card number, or `None` when it is not a valid number.
pub fn test_card(number: &str) -> Option<(CardBehavior, &'static str)> {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() < 12 || !digits.chars().all(|c| c.is_ascii_digit()) || !luhn_valid(&digits) {
        return None;
    }
    let behavior = match digits.as_str() {
        "4000000000000002" => CardBehavior::Declined,
        "4000000000009995" => CardBehavior::InsufficientFunds,
        "4000002500003155" | "4000002760003184" => CardBehavior::RequiresAuthentication,
        "4000000000000341" => CardBehavior::AttachesButFails,
        "4000000000000259" => CardBehavior::Disputed,
        _ => CardBehavior::Succeeds,
    };
    let brand = match digits.as_bytes()[0] {
        b'4' => "visa",
        b'5' | b'2' => "mastercard",
        b'3' => "amex",
        _ => "unknown",
    };
    Some((behavior, brand))
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(index, byte)| {
            let digit = u32::from(byte - b'0');
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The card number behind a `pm_card_…` / `tok_…` shortcut.
fn shortcut_number(id: &str) -> Option<&'static str> {
    let name = id
        .strip_prefix("pm_card_")
        .or_else(|| id.strip_prefix("tok_"))?;
    Some(match name {
        "visa" => "4242424242424242",
        "mastercard" => "5555555555554444",
        "chargeDeclined" => "4000000000000002",
        "chargeDeclinedInsufficientFunds" => "4000000000009995",
        "authenticationRequired" | "threeDSecure2Required" => "4000002500003155",
        "chargeCustomerFail" => "4000000000000341",
        "createDispute" => "4000000000000259",
        _ => return None,
    })
}

/// Creates a card payment method from a card number (hosted form or API).
pub fn create_card(
    state: &mut State,
    scope: &Scope,
    number: &str,
    expiry: (i64, i64),
    billing: Value,
) -> ApiResult<Value> {
    let (behavior, brand) = test_card(number).ok_or_else(|| {
        ApiError::card("incorrect_number", None, "Your card number is incorrect.")
            .with_param("card[number]")
    })?;
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let id = new_id("pm");
    let mut pm = template("payment_method", &id, state.now());
    pm["card"]["brand"] = json!(brand);
    pm["card"]["display_brand"] = json!(brand);
    pm["card"]["last4"] = json!(&digits[digits.len() - 4..]);
    pm["card"]["exp_month"] = json!(expiry.0);
    pm["card"]["exp_year"] = json!(expiry.1);
    pm["card"]["fingerprint"] = json!(format!("fp{}", &digits[digits.len() - 8..]));
    pm["card"]["networks"] = json!({"available": [brand], "preferred": null});
    pm["card"]["wallet"] = Value::Null;
    pm["card"]["generated_from"] = Value::Null;
    merge_into(&mut pm["billing_details"], &billing);
    state.cards.insert(id, behavior);
    state.store.insert(scope, pm.clone());
    Ok(pm)
}

/// The payment method an id names: a stored one, or a fresh one for a test shortcut.
pub fn resolve_payment_method(
    state: &mut State,
    scope: &Scope,
    id: &str,
    param: &str,
) -> ApiResult<Value> {
    if let Some(number) = shortcut_number(id) {
        return create_card(state, scope, number, (12, 2034), json!({}));
    }
    state.store.fetch(scope, "payment_method", id, param)
}

/// Attaches a payment method to a customer; declining test cards refuse, as on Stripe.
pub fn attach_payment_method(
    state: &mut State,
    scope: &Scope,
    pm: &Value,
    customer: &str,
) -> ApiResult<Value> {
    let id = pm["id"].as_str().unwrap_or_default();
    if let Some(owner) = pm["customer"].as_str() {
        if owner == customer {
            return Ok(pm.clone());
        }
        return Err(ApiError::state(format!(
            "The payment method you provided has already been attached to a customer: {owner}."
        )));
    }
    match state.cards.get(id) {
        Some(CardBehavior::Declined) => {
            return Err(ApiError::card(
                "card_declined",
                Some("generic_decline"),
                "Your card was declined.",
            ));
        }
        Some(CardBehavior::InsufficientFunds) => {
            return Err(ApiError::card(
                "card_declined",
                Some("insufficient_funds"),
                "Your card has insufficient funds.",
            ));
        }
        _ => {}
    }
    let mut attached = pm.clone();
    attached["customer"] = json!(customer);
    state.store.put(scope, attached.clone());
    state.emit(scope, "payment_method.attached", &attached, None);
    Ok(attached)
}

fn create_payment_method(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "type",
        "card",
        "billing_details",
        "metadata",
        "customer",
        "payment_method",
    ])?;
    let kind = params.req_str("type")?;
    if kind != "card" {
        return Err(ApiError::invalid(
            "type",
            format!("The emulator supports card payment methods only, not `{kind}`."),
        ));
    }
    let card = params
        .hash("card")?
        .ok_or_else(|| ApiError::missing_param("card"))?;
    card.allow(&["number", "exp_month", "exp_year", "cvc", "token"])?;
    let billing = params.raw("billing_details").cloned().unwrap_or(json!({}));
    let mut pm = match card.str("token")? {
        Some(token) => {
            let number = shortcut_number(token)
                .ok_or_else(|| ApiError::no_such("token", token, "card[token]"))?;
            create_card(state, &call.scope, number, (12, 2034), billing)?
        }
        None => {
            let number = card.req_str("number")?;
            let month = card.req_int("exp_month")?;
            let year = card.req_int("exp_year")?;
            if !(1..=12).contains(&month) {
                return Err(ApiError::card(
                    "invalid_expiry_month",
                    None,
                    "Your card's expiration month is invalid.",
                )
                .with_param("card[exp_month]"));
            }
            create_card(state, &call.scope, number, (month, year), billing)?
        }
    };
    if params.has("metadata") {
        params.apply_metadata(&mut pm["metadata"])?;
        state.store.put(&call.scope, pm.clone());
    }
    Ok(pm)
}

fn create_webhook_endpoint(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "url",
        "enabled_events",
        "connect",
        "api_version",
        "description",
        "metadata",
    ])?;
    let url = params.req_str("url")?;
    validate_url(url, "url")?;
    let events = params.strings("enabled_events")?;
    if events.is_empty() {
        return Err(ApiError::missing_param("enabled_events"));
    }
    let id = new_id("we");
    let mut endpoint = template("webhook_endpoint", &id, state.now());
    endpoint["url"] = json!(url);
    endpoint["enabled_events"] = json!(events);
    endpoint["api_version"] = json!(params.str("api_version")?.unwrap_or(API_VERSION));
    if params.bool("connect")?.unwrap_or(false) {
        state.connect_endpoints.insert(id.clone());
    }
    copy_strings(params, &mut endpoint, &["description"])?;
    params.apply_metadata(&mut endpoint["metadata"])?;
    let secret = format!("whsec_{}", new_secret(32));
    state
        .endpoint_secrets
        .insert(id, crate::state::Redacted(secret.clone()));
    state.store.insert(&call.scope, endpoint.clone());
    endpoint["secret"] = json!(secret);
    Ok(endpoint)
}

fn update_webhook_endpoint(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "url",
        "enabled_events",
        "disabled",
        "description",
        "metadata",
    ])?;
    let mut endpoint = state
        .store
        .fetch(&call.scope, "webhook_endpoint", id, "id")?;
    if let Some(url) = params.str("url")? {
        validate_url(url, "url")?;
        endpoint["url"] = json!(url);
    }
    if params.has("enabled_events") {
        endpoint["enabled_events"] = json!(params.strings("enabled_events")?);
    }
    if let Some(disabled) = params.bool("disabled")? {
        endpoint["status"] = json!(if disabled { "disabled" } else { "enabled" });
    }
    copy_strings(params, &mut endpoint, &["description"])?;
    params.apply_metadata(&mut endpoint["metadata"])?;
    state.store.put(&call.scope, endpoint.clone());
    Ok(endpoint)
}

/// Rejects URLs that are not absolute http(s) URLs.
pub fn validate_url(url: &str, param: &str) -> ApiResult<()> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        _ => Err(ApiError::invalid(param, format!("Invalid URL: {url}"))),
    }
}
