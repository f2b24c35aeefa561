//! Money movement: payment intents and charges (with the test cards'
//! outcomes), setup intents, refunds, disputes and application fees.

use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::resources::{attach_payment_method, resolve_payment_method};
use crate::server::{Call, list};
use crate::state::{CardBehavior, State};
use crate::store::{Scope, new_id, new_secret, template};

/// What a charge attempt should do.
#[derive(Debug, Clone, Default)]
pub struct ChargeSpec {
    /// Amount in minor units.
    pub amount: i64,
    /// Lower-case ISO currency.
    pub currency: String,
    /// Customer charged, if any.
    pub customer: Option<String>,
    /// Payment method id; `None` fails like a missing card.
    pub payment_method: Option<String>,
    /// Shown on the charge.
    pub description: Option<String>,
    /// Whether the customer is present (3-D Secure cards then need authentication).
    pub on_session: bool,
    /// Platform fee taken from a connected account's charge.
    pub application_fee_amount: Option<i64>,
    /// Metadata for the payment intent.
    pub metadata: Value,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Paid.
    Succeeded,
    /// Waiting for 3-D Secure (on-session only).
    RequiresAction,
    /// Declined or impossible; the error is Stripe's card error.
    Failed(ApiError),
}

/// The failure charging this payment method produces (per the test-card table), if any.
pub fn card_failure(state: &State, payment_method: Option<&str>) -> Option<ApiError> {
    let Some(pm) = payment_method else {
        return Some(ApiError::state(
            "This customer has no attached payment source or default payment method.",
        ));
    };
    match state
        .cards
        .get(pm)
        .copied()
        .unwrap_or(CardBehavior::Succeeds)
    {
        CardBehavior::Succeeds | CardBehavior::Disputed => None,
        // On-session 3-D Secure is handled before charging; saved cards pass off-session.
        CardBehavior::RequiresAuthentication => None,
        CardBehavior::Declined | CardBehavior::AttachesButFails => Some(ApiError::card(
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
        )),
        CardBehavior::InsufficientFunds => Some(ApiError::card(
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
        )),
    }
}

/// Creates a payment intent and tries to charge it. Emits `payment_intent.created`,
/// `charge.succeeded|failed` and, on failure, `payment_intent.payment_failed`; the
/// caller emits `payment_intent.succeeded` where Stripe places it.
pub fn charge(state: &mut State, scope: &Scope, spec: &ChargeSpec) -> (Value, Outcome) {
    let now = state.now();
    let pi_id = new_id("pi");
    let mut intent = template("payment_intent", &pi_id, now);
    intent["amount"] = json!(spec.amount);
    intent["currency"] = json!(spec.currency);
    intent["customer"] = json!(spec.customer);
    intent["description"] = json!(spec.description);
    intent["client_secret"] = json!(format!("{pi_id}_secret_{}", new_secret(24)));
    intent["payment_method"] = json!(spec.payment_method);
    intent["application_fee_amount"] = json!(spec.application_fee_amount);
    intent["automatic_payment_methods"] = Value::Null;
    intent["metadata"] = if spec.metadata.is_object() {
        spec.metadata.clone()
    } else {
        json!({})
    };
    intent["status"] = json!("requires_confirmation");
    state.store.insert(scope, intent.clone());
    state.emit(scope, "payment_intent.created", &intent, None);
    let (intent, outcome) = confirm(state, scope, intent, spec.on_session);
    (intent, outcome)
}

/// Confirms a payment intent with its payment method.
pub fn confirm(
    state: &mut State,
    scope: &Scope,
    mut intent: Value,
    on_session: bool,
) -> (Value, Outcome) {
    let pm = intent["payment_method"].as_str().map(str::to_owned);
    if on_session
        && pm.as_ref().and_then(|pm| state.cards.get(pm))
            == Some(&CardBehavior::RequiresAuthentication)
    {
        intent["status"] = json!("requires_action");
        intent["next_action"] = json!({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}});
        state.store.put(scope, intent.clone());
        return (intent, Outcome::RequiresAction);
    }
    complete(state, scope, intent, card_failure(state, pm.as_deref()))
}

/// Settles a payment intent: `failure` decides between a failed and a succeeded charge.
pub fn complete(
    state: &mut State,
    scope: &Scope,
    mut intent: Value,
    failure: Option<ApiError>,
) -> (Value, Outcome) {
    let now = state.now();
    let pi_id = intent["id"].as_str().unwrap_or_default().to_owned();
    let amount = intent["amount"].as_i64().unwrap_or_default();
    let charge_id = new_id("ch");
    let mut charge = template("charge", &charge_id, now);
    charge["amount"] = json!(amount);
    charge["currency"] = intent["currency"].clone();
    charge["customer"] = intent["customer"].clone();
    charge["description"] = intent["description"].clone();
    charge["payment_intent"] = json!(pi_id);
    charge["payment_method"] = intent["payment_method"].clone();
    charge["billing_details"]["name"] = Value::Null;
    charge["refunds"]["url"] = json!(format!("/v1/charges/{charge_id}/refunds"));
    if let Some(card) = intent["payment_method"]
        .as_str()
        .and_then(|pm| state.store.get(scope, pm))
        .map(|pm| pm["card"].clone())
    {
        for key in ["brand", "last4", "exp_month", "exp_year", "fingerprint"] {
            charge["payment_method_details"]["card"][key] = card[key].clone();
        }
    }
    intent["latest_charge"] = json!(charge_id);
    let disputed = intent["payment_method"]
        .as_str()
        .and_then(|pm| state.cards.get(pm))
        == Some(&CardBehavior::Disputed);
    let outcome = match failure {
        None => {
            charge["status"] = json!("succeeded");
            charge["paid"] = json!(true);
            charge["captured"] = json!(true);
            charge["amount_captured"] = json!(amount);
            charge["outcome"] = json!({"network_status": "approved_by_network", "reason": null, "risk_level": "normal", "seller_message": "Payment complete.", "type": "authorized", "advice_code": null, "network_advice_code": null, "network_decline_code": null});
            if let (Some(fee), Some(account)) = (intent["application_fee_amount"].as_i64(), scope) {
                let fee_id =
                    create_application_fee(state, account, &charge_id, fee, &charge["currency"]);
                charge["application_fee"] = json!(fee_id);
                charge["application_fee_amount"] = json!(fee);
            }
            intent["status"] = json!("succeeded");
            intent["amount_received"] = json!(amount);
            intent["last_payment_error"] = Value::Null;
            intent["next_action"] = Value::Null;
            state.store.insert(scope, charge.clone());
            state.emit(scope, "charge.succeeded", &charge, None);
            if disputed {
                open_dispute_on(state, scope, &mut charge);
                state.store.put(scope, charge);
            }
            Outcome::Succeeded
        }
        Some(error) => {
            let error = error
                .with_related("payment_intent", &pi_id)
                .with_related("charge", &charge_id);
            charge["status"] = json!("failed");
            charge["paid"] = json!(false);
            charge["captured"] = json!(false);
            charge["failure_code"] = json!(error.code);
            charge["failure_message"] = json!(error.message);
            charge["outcome"] = json!({"network_status": "declined_by_network", "reason": error.decline_code, "risk_level": "normal", "seller_message": "The bank did not return any further details with this decline.", "type": "issuer_declined", "advice_code": null, "network_advice_code": null, "network_decline_code": null});
            intent["status"] = json!("requires_payment_method");
            intent["last_payment_error"] = json!({
                "type": error.kind, "code": error.code, "decline_code": error.decline_code,
                "message": error.message, "payment_method": intent["payment_method"].clone(),
            });
            intent["next_action"] = Value::Null;
            state.store.insert(scope, charge.clone());
            state.emit(scope, "charge.failed", &charge, None);
            state.store.put(scope, intent.clone());
            state.emit(scope, "payment_intent.payment_failed", &intent, None);
            Outcome::Failed(error)
        }
    };
    state.store.put(scope, intent.clone());
    (intent, outcome)
}

/// A list of refunds or disputes, filtered by `charge` and `payment_intent`.
fn list_by_payment(state: &State, call: &Call, kind: &str, url: &str) -> ApiResult<Value> {
    let charge = call.params.str("charge")?.map(str::to_owned);
    let intent = call.params.str("payment_intent")?.map(str::to_owned);
    list(
        state,
        call,
        kind,
        url,
        &["charge", "payment_intent"],
        |object| {
            charge
                .as_ref()
                .is_none_or(|charge| object["charge"] == charge.as_str())
                && intent
                    .as_ref()
                    .is_none_or(|intent| object["payment_intent"] == intent.as_str())
        },
    )
}

/// How long the merchant has to answer a dispute (Stripe: 7 to 21 days
/// depending on the network; the emulator takes a week).
const EVIDENCE_WINDOW_SECS: i64 = 7 * 86_400;

/// The cardholder disputes a charge that just succeeded (test card
/// 4000 0000 0000 0259): the dispute waits for the merchant's evidence.
fn open_dispute_on(state: &mut State, scope: &Scope, charge: &mut Value) {
    let now = state.now();
    let mut dispute = template("dispute", &new_id("dp"), now);
    dispute["amount"] = charge["amount"].clone();
    dispute["currency"] = charge["currency"].clone();
    dispute["charge"] = charge["id"].clone();
    dispute["payment_intent"] = charge["payment_intent"].clone();
    dispute["evidence_details"]["due_by"] = json!(now + EVIDENCE_WINDOW_SECS);
    charge["disputed"] = json!(true);
    state.store.insert(scope, dispute.clone());
    state.emit(scope, "charge.dispute.created", &dispute, None);
}

/// A dispute that still takes evidence (`needs_response` or `warning_needs_response`).
fn open_dispute(state: &State, call: &Call, id: &str) -> ApiResult<Value> {
    let dispute = state.store.fetch(&call.scope, "dispute", id, "dispute")?;
    let status = dispute["status"].as_str().unwrap_or_default();
    if !status.ends_with("needs_response") {
        return Err(ApiError::state(format!(
            "This dispute is already {status} and cannot be changed."
        )));
    }
    Ok(dispute)
}

/// `POST /v1/disputes/:id`: saves evidence (merged into what was saved
/// before) and metadata; `submit=true` sends it to the bank (`under_review`).
fn update_dispute(state: &mut State, call: &Call, id: &str) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&["evidence", "metadata", "submit"])?;
    let mut dispute = open_dispute(state, call, id)?;
    if let Some(evidence) = params.hash("evidence")? {
        let known: Vec<String> = dispute["evidence"]
            .as_object()
            .map(|fields| fields.keys().cloned().collect())
            .unwrap_or_default();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        evidence.allow(&known)?;
        for field in known {
            if let Some(value) = evidence.str(field)? {
                dispute["evidence"][field] = json!(value);
                dispute["evidence_details"]["has_evidence"] = json!(true);
            }
        }
    }
    params.apply_metadata(&mut dispute["metadata"])?;
    if params.bool("submit")?.unwrap_or(true) {
        dispute["status"] = json!("under_review");
        let count = dispute["evidence_details"]["submission_count"]
            .as_i64()
            .unwrap_or_default();
        dispute["evidence_details"]["submission_count"] = json!(count + 1);
    }
    state.store.put(&call.scope, dispute.clone());
    state.emit(&call.scope, "charge.dispute.updated", &dispute, None);
    Ok(dispute)
}

/// Records the platform's fee on a connected account's charge.
fn create_application_fee(
    state: &mut State,
    account: &str,
    charge: &str,
    amount: i64,
    currency: &Value,
) -> String {
    let id = new_id("fee");
    let mut fee = template("application_fee", &id, state.now());
    fee["account"] = json!(account);
    fee["amount"] = json!(amount);
    fee["currency"] = currency.clone();
    fee["charge"] = json!(charge);
    fee["fee_source"] = json!({"charge": charge, "type": "charge"});
    fee["refunds"]["url"] = json!(format!("/v1/application_fees/{id}/refunds"));
    state.store.insert(&None, fee.clone());
    state.emit(&None, "application_fee.created", &fee, None);
    id
}

/// Routes payment intents, setup intents, charges, refunds and application fees.
pub fn route(
    state: &mut State,
    call: &Call,
    get: bool,
    post: bool,
    path: &[&str],
) -> ApiResult<Option<Value>> {
    let value = match path {
        ["payment_intents"] if post => create_payment_intent(state, call)?,
        ["payment_intents"] if get => {
            let customer = call.params.str("customer")?.map(str::to_owned);
            list(
                state,
                call,
                "payment_intent",
                "/v1/payment_intents",
                &["customer"],
                |pi| {
                    customer
                        .as_ref()
                        .is_none_or(|customer| pi["customer"] == customer.as_str())
                },
            )?
        }
        ["payment_intents", id] if get => {
            state
                .store
                .fetch(&call.scope, "payment_intent", id, "intent")?
        }
        ["payment_intents", id, "confirm"] if post => {
            call.params
                .allow(&["payment_method", "off_session", "return_url"])?;
            let mut intent = state
                .store
                .fetch(&call.scope, "payment_intent", id, "intent")?;
            if !matches!(
                intent["status"].as_str(),
                Some("requires_payment_method" | "requires_confirmation")
            ) {
                return Err(ApiError::state(format!(
                    "You cannot confirm this PaymentIntent because it has a status of {}.",
                    intent["status"].as_str().unwrap_or_default()
                )));
            }
            if let Some(pm) = call.params.str("payment_method")? {
                intent["payment_method"] =
                    resolve_payment_method(state, &call.scope, pm, "payment_method")?["id"].clone();
            }
            let off_session = call.params.bool("off_session")?.unwrap_or(false);
            finish_api_intent(state, &call.scope, intent, !off_session)?
        }
        ["payment_intents", id, "cancel"] if post => {
            call.params.allow(&["cancellation_reason"])?;
            let mut intent = state
                .store
                .fetch(&call.scope, "payment_intent", id, "intent")?;
            if intent["status"] == "succeeded" || intent["status"] == "canceled" {
                return Err(ApiError::state(
                    "You cannot cancel this PaymentIntent because it has a status of succeeded or canceled.",
                ));
            }
            intent["status"] = json!("canceled");
            intent["canceled_at"] = json!(state.now());
            intent["cancellation_reason"] = json!(call.params.str("cancellation_reason")?);
            state.store.put(&call.scope, intent.clone());
            state.emit(&call.scope, "payment_intent.canceled", &intent, None);
            intent
        }
        ["setup_intents"] if post => create_setup_intent(state, call)?,
        ["setup_intents", id] if get => {
            state
                .store
                .fetch(&call.scope, "setup_intent", id, "intent")?
        }
        ["setup_intents", id, "confirm"] if post => {
            call.params
                .allow(&["payment_method", "return_url", "mandate_data"])?;
            let mut intent = state
                .store
                .fetch(&call.scope, "setup_intent", id, "intent")?;
            if intent["status"] == "succeeded" || intent["status"] == "canceled" {
                return Err(ApiError::state(format!(
                    "You cannot confirm this SetupIntent because it has a status of {}.",
                    intent["status"].as_str().unwrap_or_default()
                )));
            }
            let pm_id = match call.params.str("payment_method")? {
                Some(pm) => pm.to_owned(),
                None => intent["payment_method"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::missing_param("payment_method"))?,
            };
            let pm = resolve_payment_method(state, &call.scope, &pm_id, "payment_method")?;
            if let Some(customer) = intent["customer"].as_str().map(str::to_owned) {
                attach_payment_method(state, &call.scope, &pm, &customer)?;
            }
            intent["payment_method"] = pm["id"].clone();
            intent["status"] = json!("succeeded");
            state.store.put(&call.scope, intent.clone());
            state.emit(&call.scope, "setup_intent.succeeded", &intent, None);
            intent
        }
        ["charges"] if get => {
            let customer = call.params.str("customer")?.map(str::to_owned);
            let intent = call.params.str("payment_intent")?.map(str::to_owned);
            list(
                state,
                call,
                "charge",
                "/v1/charges",
                &["customer", "payment_intent"],
                |charge| {
                    customer
                        .as_ref()
                        .is_none_or(|customer| charge["customer"] == customer.as_str())
                        && intent
                            .as_ref()
                            .is_none_or(|intent| charge["payment_intent"] == intent.as_str())
                },
            )?
        }
        ["charges", id] if get => state.store.fetch(&call.scope, "charge", id, "charge")?,
        ["refunds"] if post => create_refund(state, call)?,
        ["refunds"] if get => list_by_payment(state, call, "refund", "/v1/refunds")?,
        ["refunds", id] if get => state.store.fetch(&call.scope, "refund", id, "refund")?,
        ["disputes"] if get => list_by_payment(state, call, "dispute", "/v1/disputes")?,
        ["disputes", id] if get => state.store.fetch(&call.scope, "dispute", id, "dispute")?,
        ["disputes", id] if post => update_dispute(state, call, id)?,
        ["disputes", id, "close"] if post => {
            call.params.allow(&[])?;
            let mut dispute = open_dispute(state, call, id)?;
            dispute["status"] = json!("lost");
            dispute["is_charge_refundable"] = json!(false);
            state.store.put(&call.scope, dispute.clone());
            state.emit(&call.scope, "charge.dispute.closed", &dispute, None);
            dispute
        }
        ["application_fees"] if get => list(
            state,
            call,
            "application_fee",
            "/v1/application_fees",
            &["charge"],
            |_| true,
        )?,
        ["application_fees", id] if get => {
            state
                .store
                .fetch(&call.scope, "application_fee", id, "id")?
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// Confirms an API-created intent; a decline is answered with the 402 card error.
fn finish_api_intent(
    state: &mut State,
    scope: &Scope,
    intent: Value,
    on_session: bool,
) -> ApiResult<Value> {
    let (intent, outcome) = confirm(state, scope, intent, on_session);
    match outcome {
        Outcome::Succeeded => {
            state.emit(scope, "payment_intent.succeeded", &intent, None);
            Ok(intent)
        }
        Outcome::RequiresAction => {
            state.emit(scope, "payment_intent.requires_action", &intent, None);
            Ok(intent)
        }
        Outcome::Failed(error) => Err(error),
    }
}

fn create_payment_intent(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "amount",
        "currency",
        "customer",
        "payment_method",
        "confirm",
        "off_session",
        "metadata",
        "description",
        "application_fee_amount",
        "payment_method_types",
        "automatic_payment_methods",
        "setup_future_usage",
        "receipt_email",
        "statement_descriptor",
        "return_url",
        "capture_method",
    ])?;
    let amount = params.req_int("amount")?;
    if amount < 50 {
        return Err(
            ApiError::invalid("amount", "Amount must be at least $0.50 usd").with_param("amount"),
        );
    }
    let currency = params.req_str("currency")?.to_lowercase();
    let customer = params.str("customer")?.map(str::to_owned);
    if let Some(customer) = &customer {
        state
            .store
            .fetch(&call.scope, "customer", customer, "customer")?;
        state.enter_customer_time(&call.scope, customer);
    }
    let payment_method = match params.str("payment_method")? {
        Some(pm) => {
            let pm = resolve_payment_method(state, &call.scope, pm, "payment_method")?;
            if let (Some(customer), true) = (&customer, pm["customer"].is_null())
                && params.str("setup_future_usage")?.is_some()
            {
                attach_payment_method(state, &call.scope, &pm, customer)?;
            }
            Some(pm["id"].as_str().unwrap_or_default().to_owned())
        }
        None => None,
    };
    let fee = params.int("application_fee_amount")?;
    if fee.is_some() && call.scope.is_none() {
        return Err(ApiError::invalid(
            "application_fee_amount",
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).",
        ));
    }
    let now = state.now();
    let pi_id = new_id("pi");
    let mut intent = template("payment_intent", &pi_id, now);
    intent["amount"] = json!(amount);
    intent["currency"] = json!(currency);
    intent["customer"] = json!(customer);
    intent["payment_method"] = json!(payment_method);
    intent["application_fee_amount"] = json!(fee);
    intent["client_secret"] = json!(format!("{pi_id}_secret_{}", new_secret(24)));
    intent["description"] = json!(params.str("description")?);
    intent["setup_future_usage"] = json!(params.str("setup_future_usage")?);
    intent["status"] = json!(if payment_method.is_some() {
        "requires_confirmation"
    } else {
        "requires_payment_method"
    });
    params.apply_metadata(&mut intent["metadata"])?;
    state.store.insert(&call.scope, intent.clone());
    state.emit(&call.scope, "payment_intent.created", &intent, None);
    if params.bool("confirm")?.unwrap_or(false) {
        if payment_method.is_none() {
            return Err(ApiError::missing_param("payment_method"));
        }
        let off_session = params.bool("off_session")?.unwrap_or(false);
        return finish_api_intent(state, &call.scope, intent, !off_session);
    }
    Ok(intent)
}

fn create_setup_intent(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "customer",
        "payment_method",
        "confirm",
        "usage",
        "payment_method_types",
        "metadata",
        "automatic_payment_methods",
        "description",
        "return_url",
    ])?;
    let customer = params.str("customer")?.map(str::to_owned);
    if let Some(customer) = &customer {
        state
            .store
            .fetch(&call.scope, "customer", customer, "customer")?;
    }
    let id = new_id("seti");
    let mut intent = template("setup_intent", &id, state.now());
    intent["client_secret"] = json!(format!("{id}_secret_{}", new_secret(24)));
    intent["customer"] = json!(customer);
    intent["usage"] = json!(
        params
            .one_of("usage", &["on_session", "off_session"])?
            .unwrap_or("off_session")
    );
    intent["description"] = json!(params.str("description")?);
    params.apply_metadata(&mut intent["metadata"])?;
    if let Some(pm) = params.str("payment_method")? {
        let pm = resolve_payment_method(state, &call.scope, pm, "payment_method")?;
        intent["payment_method"] = pm["id"].clone();
        intent["status"] = json!("requires_confirmation");
        if params.bool("confirm")?.unwrap_or(false) {
            if let Some(customer) = &customer {
                attach_payment_method(state, &call.scope, &pm, customer)?;
            }
            intent["status"] = json!("succeeded");
        }
    }
    state.store.insert(&call.scope, intent.clone());
    state.emit(&call.scope, "setup_intent.created", &intent, None);
    if intent["status"] == "succeeded" {
        state.emit(&call.scope, "setup_intent.succeeded", &intent, None);
    }
    Ok(intent)
}

fn create_refund(state: &mut State, call: &Call) -> ApiResult<Value> {
    let params = &call.params;
    params.allow(&[
        "charge",
        "payment_intent",
        "amount",
        "reason",
        "metadata",
        "refund_application_fee",
    ])?;
    let charge_id = match (params.str("charge")?, params.str("payment_intent")?) {
        (Some(charge), _) => charge.to_owned(),
        (None, Some(intent)) => {
            let intent =
                state
                    .store
                    .fetch(&call.scope, "payment_intent", intent, "payment_intent")?;
            intent["latest_charge"]
                .as_str()
                .map(str::to_owned)
                .filter(|_| intent["status"] == "succeeded")
                .ok_or_else(|| {
                    ApiError::invalid(
                        "payment_intent",
                        "This PaymentIntent does not have a successful charge to refund.",
                    )
                })?
        }
        (None, None) => return Err(ApiError::missing_param("charge")),
    };
    let before = state
        .store
        .fetch(&call.scope, "charge", &charge_id, "charge")?;
    if before["status"] != "succeeded" {
        return Err(ApiError::invalid(
            "charge",
            "This charge was not successful and cannot be refunded.",
        ));
    }
    let captured = before["amount"].as_i64().unwrap_or_default();
    let refunded = before["amount_refunded"].as_i64().unwrap_or_default();
    let remaining = captured - refunded;
    if remaining == 0 {
        return Err(
            ApiError::state(format!("Charge {charge_id} has already been refunded."))
                .with_code("charge_already_refunded"),
        );
    }
    let amount = params.int("amount")?.unwrap_or(remaining);
    if amount <= 0 || amount > remaining {
        return Err(ApiError::invalid(
            "amount",
            format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})."),
        )
        .with_code("amount_too_large"));
    }
    let id = new_id("re");
    let mut refund = template("refund", &id, state.now());
    refund["amount"] = json!(amount);
    refund["charge"] = json!(charge_id);
    refund["currency"] = before["currency"].clone();
    refund["payment_intent"] = before["payment_intent"].clone();
    refund["customer"] = before["customer"].clone();
    refund["payment_method"] = before["payment_method"].clone();
    refund["reason"] = json!(params.one_of(
        "reason",
        &["duplicate", "fraudulent", "requested_by_customer"]
    )?);
    refund["destination_details"] = json!({"card": {"type": "refund", "reference_status": "pending", "reference_type": "acquirer_reference_number", "reference": null}, "type": "card"});
    params.apply_metadata(&mut refund["metadata"])?;
    state.store.insert(&call.scope, refund.clone());
    let mut charge = before.clone();
    charge["amount_refunded"] = json!(refunded + amount);
    charge["refunded"] = json!(refunded + amount == captured);
    state.store.put(&call.scope, charge.clone());
    state.emit(&call.scope, "refund.created", &refund, None);
    state.emit(
        &call.scope,
        "charge.refunded",
        &charge,
        Some(json!({"amount_refunded": refunded, "refunded": before["refunded"]})),
    );
    Ok(refund)
}
