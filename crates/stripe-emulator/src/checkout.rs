//! Checkout sessions and billing portal sessions: the API side, and what
//! completing the hosted pages creates.

use serde_json::{Value, json};
use std::borrow::Cow;

use crate::billing::{self, NewSubscription, check_fee_percent, price_amount};
use crate::error::{ApiError, ApiResult};
use crate::payments::{self, ChargeSpec, Outcome, card_failure};
use crate::resources::{attach_payment_method, create_card, validate_url};
use crate::server::{Call, list, list_of};
use crate::state::{Action, CardBehavior, State};
use crate::store::{Scope, new_id, new_secret, template};

/// Sessions expire after 24 hours unless `expires_at` says sooner.
const SESSION_LIFETIME_SECS: i64 = 24 * 3600;

/// Routes `/v1/checkout/sessions` and `/v1/billing_portal/sessions`.
pub fn route(
    state: &mut State,
    call: &Call,
    get: bool,
    post: bool,
    path: &[&str],
) -> ApiResult<Option<Value>> {
    let value = match path {
        ["checkout", "sessions"] if post => create_session(state, call)?,
        ["checkout", "sessions"] if get => {
            let customer = call.params.str("customer")?.map(str::to_owned);
            let intent = call.params.str("payment_intent")?.map(str::to_owned);
            let sub = call.params.str("subscription")?.map(str::to_owned);
            list(
                state,
                call,
                "checkout.session",
                "/v1/checkout/sessions",
                &["customer", "payment_intent", "subscription", "status"],
                |session| {
                    customer
                        .as_ref()
                        .is_none_or(|value| session["customer"] == value.as_str())
                        && intent
                            .as_ref()
                            .is_none_or(|value| session["payment_intent"] == value.as_str())
                        && sub
                            .as_ref()
                            .is_none_or(|value| session["subscription"] == value.as_str())
                },
            )?
        }
        ["checkout", "sessions", id] if get => {
            state
                .store
                .fetch(&call.scope, "checkout.session", id, "session")?
        }
        ["checkout", "sessions", id, "line_items"] if get => {
            call.params
                .allow(&["limit", "starting_after", "ending_before"])?;
            state
                .store
                .fetch(&call.scope, "checkout.session", id, "session")?["line_items"]
                .clone()
        }
        ["checkout", "sessions", id, "expire"] if post => {
            call.params.allow(&[])?;
            let session = state
                .store
                .fetch(&call.scope, "checkout.session", id, "session")?;
            if session["status"] != "open" {
                return Err(ApiError::state(format!(
                    "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                    session["status"].as_str().unwrap_or_default()
                )));
            }
            let now = state.now();
            expire(state, &call.scope, id, now)?;
            state
                .store
                .fetch(&call.scope, "checkout.session", id, "session")?
        }
        ["billing_portal", "sessions"] if post => create_portal_session(state, call)?,
        _ => return Ok(None),
    };
    Ok(Some(value))
}

fn create_session(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "customer",
        "customer_email",
        "client_reference_id",
        "metadata",
        "subscription_data",
        "payment_intent_data",
        "expires_at",
        "payment_method_types",
        "currency",
        "customer_creation",
        "allow_promotion_codes",
        "billing_address_collection",
        "locale",
        "ui_mode",
        "setup_intent_data",
        "submit_type",
        "automatic_tax",
        "tax_id_collection",
        "phone_number_collection",
        "consent_collection",
        "payment_method_collection",
    ])?;
    let mode = params
        .one_of("mode", &["payment", "subscription", "setup"])?
        .ok_or_else(|| ApiError::missing_param("mode"))?;
    let success_url = params.req_str("success_url")?;
    validate_url(success_url, "success_url")?;
    if let Some(cancel_url) = params.str("cancel_url")? {
        validate_url(cancel_url, "cancel_url")?;
    }
    let customer = params.str("customer")?.map(str::to_owned);
    if let Some(customer) = &customer {
        state
            .store
            .fetch(&call.scope, "customer", customer, "customer")?;
        state.enter_customer_time(&call.scope, customer);
    }
    let now = state.now();
    let id = format!("cs_test_{}", new_secret(58));
    let mut items = Vec::new();
    let mut currency: Option<String> = None;
    let mut total = 0;
    let line_items = params.hashes("line_items")?;
    if mode != "setup" && line_items.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    for item in &line_items {
        item.allow(&["price", "quantity", "adjustable_quantity", "tax_rates"])?;
        let price = state.store.fetch(
            &call.scope,
            "price",
            item.req_str("price")?,
            &item.name("price"),
        )?;
        let quantity = item.int("quantity")?.unwrap_or(1);
        if quantity < 1 {
            return Err(ApiError::invalid(
                &item.name("quantity"),
                "Invalid quantity: must be at least 1",
            ));
        }
        let recurring = price["type"] == "recurring";
        if mode == "payment" && recurring {
            return Err(ApiError::invalid(
                &item.name("price"),
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            ));
        }
        if mode == "subscription" && !recurring && items.is_empty() {
            return Err(ApiError::invalid(
                &item.name("price"),
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        let price_currency = price["currency"].as_str().unwrap_or_default().to_owned();
        if currency
            .as_ref()
            .is_some_and(|currency| *currency != price_currency)
        {
            return Err(ApiError::invalid(
                &item.name("price"),
                "All prices must use the same currency.",
            ));
        }
        currency = Some(price_currency);
        let amount = price_amount(&price, quantity);
        total += amount;
        let product_name = state
            .store
            .get(&call.scope, price["product"].as_str().unwrap_or_default())
            .map(|product| product["name"].clone())
            .unwrap_or(Value::Null);
        let mut line = template("item", &new_id("li"), now);
        line["amount_subtotal"] = json!(amount);
        line["amount_total"] = json!(amount);
        line["currency"] = price["currency"].clone();
        line["description"] = product_name;
        line["price"] = price;
        line["quantity"] = json!(quantity);
        line["metadata"] = json!({});
        line["adjustable_quantity"] = Value::Null;
        items.push(line);
    }
    let mut options = json!({});
    if let Some(data) = params.hash("subscription_data")? {
        if mode != "subscription" {
            return Err(ApiError::invalid(
                "subscription_data",
                "`subscription_data` can only be used in `subscription` mode.",
            ));
        }
        data.allow(&[
            "application_fee_percent",
            "trial_period_days",
            "trial_end",
            "metadata",
            "description",
            "trial_settings",
            "default_tax_rates",
            "on_behalf_of",
            "transfer_data",
            "billing_cycle_anchor",
            "proration_behavior",
        ])?;
        check_fee_percent(
            data.decimal("application_fee_percent")?,
            &call.scope,
            "subscription_data[application_fee_percent]",
        )?;
        if let Some(days) = data.int("trial_period_days")?
            && !(1..=730).contains(&days)
        {
            return Err(ApiError::invalid(
                "subscription_data[trial_period_days]",
                "trial_period_days must be between 1 and 730.",
            ));
        }
        data.int("trial_end")?;
        options["subscription_data"] = params.raw("subscription_data").cloned().unwrap_or_default();
    }
    if let Some(data) = params.hash("payment_intent_data")? {
        data.allow(&[
            "application_fee_amount",
            "metadata",
            "setup_future_usage",
            "description",
            "capture_method",
            "receipt_email",
            "statement_descriptor",
            "transfer_data",
            "on_behalf_of",
        ])?;
        if data.int("application_fee_amount")?.is_some() && call.scope.is_none() {
            return Err(ApiError::invalid(
                "payment_intent_data[application_fee_amount]",
                "application_fee_amount needs a connected account (Stripe-Account header).",
            ));
        }
        options["payment_intent_data"] = params
            .raw("payment_intent_data")
            .cloned()
            .unwrap_or_default();
    }
    let expires_at = match params.int("expires_at")? {
        Some(at) if at < now + 1800 || at > now + SESSION_LIFETIME_SECS => {
            return Err(ApiError::invalid(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            ));
        }
        Some(at) => at,
        None => now + SESSION_LIFETIME_SECS,
    };
    let currency = currency.or(params.str("currency")?.map(str::to_lowercase));
    let mut session = template("checkout.session", &id, now);
    session["mode"] = json!(mode);
    session["url"] = json!(format!("{}/checkout/{id}", call.base_url));
    session["success_url"] = json!(success_url);
    session["cancel_url"] = json!(params.str("cancel_url")?);
    session["customer"] = json!(customer);
    session["customer_email"] = json!(params.str("customer_email")?);
    session["client_reference_id"] = json!(params.str("client_reference_id")?);
    session["currency"] = json!(currency);
    session["amount_subtotal"] = if mode == "setup" {
        Value::Null
    } else {
        json!(total)
    };
    session["amount_total"] = if mode == "setup" {
        Value::Null
    } else {
        json!(total)
    };
    session["expires_at"] = json!(expires_at);
    session["payment_intent"] = Value::Null;
    session["payment_status"] = json!(if mode == "setup" {
        "no_payment_required"
    } else {
        "unpaid"
    });
    session["customer_creation"] = if customer.is_some() || mode == "subscription" {
        Value::Null
    } else {
        json!(params.str("customer_creation")?.unwrap_or("if_required"))
    };
    session["client_secret"] = Value::Null;
    session["locale"] = json!(params.str("locale")?);
    session["payment_method_types"] = json!(["card"]);
    session["line_items"] = list_of(items, &format!("/v1/checkout/sessions/{id}/line_items"));
    params.apply_metadata(&mut session["metadata"])?;
    state.checkout_options.insert(id.clone(), options);
    let clock = customer
        .as_ref()
        .and_then(|customer| state.customer_clock(&call.scope, customer));
    state.schedule(
        clock,
        expires_at,
        &call.scope,
        Action::ExpireCheckout {
            session: id.clone(),
        },
    );
    state.store.insert(&call.scope, session.clone());
    Ok(session)
}

/// Expires a session still open at `at` (scheduled job or `POST …/expire`).
pub fn expire(state: &mut State, scope: &Scope, id: &str, _at: i64) -> ApiResult<()> {
    let mut session = state
        .store
        .fetch(scope, "checkout.session", id, "session")?;
    if session["status"] != "open" {
        return Ok(());
    }
    session["status"] = json!("expired");
    session["url"] = Value::Null;
    state.store.put(scope, session.clone());
    state.pending_authentication.remove(id);
    state.emit(scope, "checkout.session.expired", &session, None);
    Ok(())
}

/// What the buyer typed into the hosted card form.
#[derive(Debug, Clone, Default)]
pub struct CardForm {
    /// Card number (spaces allowed).
    pub number: String,
    /// Expiry month.
    pub exp_month: i64,
    /// Expiry year (four digits).
    pub exp_year: i64,
    /// Cardholder name.
    pub name: String,
    /// Buyer email.
    pub email: String,
}

/// How a submission of the hosted form ended.
#[derive(Debug)]
pub enum Submission {
    /// Done: redirect here.
    Redirect(String),
    /// The card needs a 3-D Secure decision first.
    NeedsAuthentication,
    /// Show the form again with this message.
    Rejected(String),
}

/// Finds a session on whichever account it lives.
pub fn find_session(state: &State, id: &str) -> Option<(Scope, Value)> {
    state
        .store
        .get_any(id)
        .filter(|stored| stored.value()["object"] == "checkout.session")
        .map(|stored| (stored.scope.clone(), stored.value().into_owned()))
}

/// Handles a card-form post: validates the card, then completes the session.
pub fn submit(state: &mut State, id: &str, form: &CardForm) -> Submission {
    let Some((scope, session)) = find_session(state, id) else {
        return Submission::Rejected("This checkout session does not exist.".into());
    };
    if let Some(customer) = session["customer"].as_str() {
        state.enter_customer_time(&scope, customer);
    }
    if session["status"] != "open"
        || session["expires_at"].as_i64().unwrap_or_default() <= state.now()
    {
        return Submission::Rejected(
            "This checkout session has expired or is already complete.".into(),
        );
    }
    let Some((behavior, _)) = crate::resources::test_card(&form.number) else {
        return Submission::Rejected("Your card number is incorrect.".into());
    };
    if form.exp_month < 1 || form.exp_month > 12 {
        return Submission::Rejected("Your card's expiration month is invalid.".into());
    }
    if form.exp_year < i64::from(chrono::Datelike::year(&chrono::Utc::now())) {
        return Submission::Rejected("Your card's expiration year is in the past.".into());
    }
    if behavior == CardBehavior::RequiresAuthentication && session["mode"] != "setup" {
        state.pending_authentication.insert(id.to_owned(), serde_json::to_string(&json!({
            "number": form.number, "exp_month": form.exp_month, "exp_year": form.exp_year, "name": form.name, "email": form.email,
        })).unwrap_or_default());
        return Submission::NeedsAuthentication;
    }
    complete(state, &scope, session, form)
}

/// Handles the 3-D Secure page's decision.
pub fn authenticate(state: &mut State, id: &str, approve: bool) -> Submission {
    let Some(pending) = state.pending_authentication.remove(id) else {
        return Submission::Rejected("No authentication is pending for this session.".into());
    };
    if !approve {
        return Submission::Rejected("We are unable to authenticate your payment method. Please choose a different payment method and try again.".into());
    }
    let Some((scope, session)) = find_session(state, id) else {
        return Submission::Rejected("This checkout session does not exist.".into());
    };
    let saved: Value = serde_json::from_str(&pending).unwrap_or_default();
    let form = CardForm {
        number: saved["number"].as_str().unwrap_or_default().to_owned(),
        exp_month: saved["exp_month"].as_i64().unwrap_or(12),
        exp_year: saved["exp_year"].as_i64().unwrap_or(2034),
        name: saved["name"].as_str().unwrap_or_default().to_owned(),
        email: saved["email"].as_str().unwrap_or_default().to_owned(),
    };
    complete(state, &scope, session, &form)
}

fn decline_message(error: &ApiError) -> String {
    match error.decline_code {
        Some("insufficient_funds") => {
            "Your card has insufficient funds. Try a different card.".into()
        }
        _ => format!("{} Try a different card.", error.message),
    }
}

/// Creates what Stripe creates for a paid session, in Stripe's event order.
fn complete(state: &mut State, scope: &Scope, mut session: Value, form: &CardForm) -> Submission {
    let id = session["id"].as_str().unwrap_or_default().to_owned();
    let mode = session["mode"].as_str().unwrap_or_default().to_owned();
    let email = Some(form.email.trim())
        .filter(|email| !email.is_empty())
        .map(str::to_owned)
        .or_else(|| session["customer_email"].as_str().map(str::to_owned));
    let billing = json!({"name": form.name, "email": email});
    let pm = match create_card(
        state,
        scope,
        &form.number,
        (form.exp_month, form.exp_year),
        billing,
    ) {
        Ok(pm) => pm,
        Err(error) => return Submission::Rejected(error.message.clone()),
    };
    let pm_id = pm["id"].as_str().unwrap_or_default().to_owned();
    if mode != "setup" {
        if let Some(error) = card_failure(state, Some(&pm_id)) {
            state.store.remove(scope, &pm_id);
            return Submission::Rejected(decline_message(&error));
        }
    } else if matches!(
        state.cards.get(&pm_id),
        Some(CardBehavior::Declined | CardBehavior::InsufficientFunds)
    ) {
        state.store.remove(scope, &pm_id);
        return Submission::Rejected("Your card was declined. Try a different card.".into());
    }
    let options = state.checkout_options.get(&id).cloned().unwrap_or_default();
    let needs_customer = mode != "payment"
        || session["customer_creation"] == "always"
        || session["customer"].is_string();
    let customer_id = match session["customer"].as_str() {
        Some(customer) => Some(customer.to_owned()),
        None if needs_customer => {
            let customer_id = new_id("cus");
            let mut customer = template("customer", &customer_id, state.now());
            customer["email"] = json!(email);
            customer["name"] = json!(Some(form.name.trim()).filter(|name| !name.is_empty()));
            customer["invoice_prefix"] = json!(new_secret(8).to_uppercase());
            state.store.insert(scope, customer.clone());
            state.emit(scope, "customer.created", &customer, None);
            Some(customer_id)
        }
        None => None,
    };
    if let Some(customer) = &customer_id {
        if let Err(error) = attach_payment_method(state, scope, &pm, customer) {
            return Submission::Rejected(decline_message(&error));
        }
        if mode != "payment"
            && let Some(before) = state.store.get(scope, customer).map(Cow::into_owned)
        {
            let mut updated = before.clone();
            updated["invoice_settings"]["default_payment_method"] = json!(pm_id);
            state.save_updated(scope, "customer.updated", &before, updated);
        }
    }
    let items: Vec<Value> = session["line_items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match mode.as_str() {
        "subscription" => {
            let data = &options["subscription_data"];
            let now = state.now();
            let trial_end = data["trial_period_days"]
                .as_str()
                .and_then(|days| days.parse::<i64>().ok())
                .map(|days| now + days * 86_400)
                .or_else(|| data["trial_end"].as_str().and_then(|end| end.parse().ok()));
            let spec = NewSubscription {
                customer: customer_id.clone().unwrap_or_default(),
                items: items
                    .iter()
                    .map(|item| {
                        (
                            item["price"].clone(),
                            item["quantity"].as_i64().unwrap_or(1),
                            json!({}),
                        )
                    })
                    .collect(),
                metadata: data
                    .get("metadata")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or(json!({})),
                trial_end,
                billing_cycle_anchor: None,
                default_payment_method: None,
                application_fee_percent: data["application_fee_percent"]
                    .as_str()
                    .and_then(|fee| fee.parse().ok()),
                on_session: false,
                payment_behavior: "allow_incomplete",
                cancel_at_period_end: false,
                missing_payment_method: "create_invoice",
                collection_method: "charge_automatically",
                description: data["description"].as_str().map(str::to_owned),
            };
            match billing::start_subscription(state, scope, spec) {
                Ok(sub) => {
                    session["subscription"] = sub["id"].clone();
                    session["invoice"] = sub["latest_invoice"].clone();
                }
                Err(error) => return Submission::Rejected(error.message.clone()),
            }
            session["payment_status"] = json!(if trial_end.is_some() {
                "no_payment_required"
            } else {
                "paid"
            });
        }
        "payment" => {
            let data = &options["payment_intent_data"];
            let spec = ChargeSpec {
                amount: session["amount_total"].as_i64().unwrap_or_default(),
                currency: session["currency"].as_str().unwrap_or("usd").to_owned(),
                customer: customer_id.clone(),
                payment_method: Some(pm_id.clone()),
                description: data["description"].as_str().map(str::to_owned),
                on_session: false,
                application_fee_amount: data["application_fee_amount"]
                    .as_str()
                    .and_then(|fee| fee.parse().ok()),
                metadata: data
                    .get("metadata")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or(json!({})),
            };
            let (intent, outcome) = payments::charge(state, scope, &spec);
            if let Outcome::Failed(error) = outcome {
                return Submission::Rejected(decline_message(&error));
            }
            state.emit(scope, "payment_intent.succeeded", &intent, None);
            session["payment_intent"] = intent["id"].clone();
            session["payment_status"] = json!("paid");
        }
        _ => {
            let seti = new_id("seti");
            let mut intent = template("setup_intent", &seti, state.now());
            intent["client_secret"] = json!(format!("{seti}_secret_{}", new_secret(24)));
            intent["customer"] = json!(customer_id);
            intent["payment_method"] = json!(pm_id);
            intent["status"] = json!("succeeded");
            state.store.insert(scope, intent.clone());
            state.emit(scope, "setup_intent.succeeded", &intent, None);
            session["setup_intent"] = json!(seti);
        }
    }
    session["status"] = json!("complete");
    session["customer"] = json!(customer_id);
    session["url"] = Value::Null;
    session["customer_details"] = json!({
        "address": null, "email": email, "name": Some(form.name.trim()).filter(|name| !name.is_empty()),
        "phone": null, "tax_exempt": "none", "tax_ids": [], "business_name": null, "individual_name": null,
    });
    state.store.put(scope, session.clone());
    state.emit(scope, "checkout.session.completed", &session, None);
    let success = session["success_url"]
        .as_str()
        .unwrap_or_default()
        .replace("{CHECKOUT_SESSION_ID}", &id);
    Submission::Redirect(success)
}

fn create_portal_session(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "customer",
        "return_url",
        "configuration",
        "flow_data",
        "locale",
        "on_behalf_of",
    ])?;
    let customer = params.req_str("customer")?;
    state
        .store
        .fetch(&call.scope, "customer", customer, "customer")?;
    let return_url = params.str("return_url")?;
    if let Some(url) = return_url {
        validate_url(url, "return_url")?;
    }
    let id = new_id("bps");
    let mut session = template("billing_portal.session", &id, state.now());
    session["customer"] = json!(customer);
    session["return_url"] = json!(return_url);
    session["locale"] = json!(params.str("locale")?);
    session["url"] = json!(format!("{}/billing_portal/{id}", call.base_url));
    state.store.insert(&call.scope, session.clone());
    Ok(session)
}
