//! Hosted pages as real HTML: Checkout's card form (with the 3-D Secure step),
//! the billing portal and Connect onboarding. Plain forms, so a browser or a
//! plain HTTP client posting `application/x-www-form-urlencoded` can drive them.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};
use std::borrow::Cow;

use crate::billing::{price_amount, update_subscription};
use crate::checkout::{self, CardForm, Submission};
use crate::params::Params;
use crate::resources::{attach_payment_method, create_card, save_account};
use crate::state::State;
use crate::store::Scope;

/// Serves one hosted page.
pub fn page(state: &mut State, path: &str, post: bool, form: &Params) -> HttpResponse {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (segments.as_slice(), post) {
        (["checkout", id], false) => checkout_page(state, id, None),
        (["checkout", id], true) => {
            let card = CardForm {
                number: field(form, "card_number"),
                exp_month: field(form, "exp_month").parse().unwrap_or_default(),
                exp_year: field(form, "exp_year").parse().unwrap_or_default(),
                name: field(form, "name"),
                email: field(form, "email"),
            };
            let outcome = checkout::submit(state, id, &card);
            checkout_outcome(state, id, outcome)
        }
        (["checkout", id, "authenticate"], true) => {
            let outcome = checkout::authenticate(state, id, field(form, "decision") == "approve");
            checkout_outcome(state, id, outcome)
        }
        (["checkout", id, "cancel"], _) => match checkout::find_session(state, id) {
            Some((_, session)) => match session["cancel_url"].as_str() {
                Some(url) => redirect(url),
                None => html(
                    StatusCode::OK,
                    "Checkout canceled",
                    "<p>You can close this page.</p>",
                ),
            },
            None => not_found(),
        },
        (["billing_portal", id], false) => portal_page(state, id, None),
        (["billing_portal", id, action], true) => portal_action(state, id, action, form),
        (["connect", "onboarding", token], false) => onboarding_page(state, token),
        (["connect", "onboarding", token], true) => complete_onboarding(state, token),
        _ => not_found(),
    }
}

fn field(form: &Params, key: &str) -> String {
    form.str(key)
        .ok()
        .flatten()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}}label{{display:block;margin:.6rem 0}}input{{width:100%;padding:.4rem}}\
         .error{{color:#b00020;font-weight:bold}}.banner{{background:#fff3cd;padding:.4rem;border-radius:4px}}table{{width:100%;border-collapse:collapse}}td,th{{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}}</style></head>\
         <body><p class=\"banner\">Stripe emulator — test mode</p><h1>{title}</h1>{body}</body></html>",
        title = esc(title)
    ))
}

fn redirect(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", url.to_owned()))
        .finish()
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        "Not found",
        "<p>This link is invalid or has expired.</p>",
    )
}

fn format_amount(amount: i64, currency: &Value) -> String {
    format!(
        "{}.{:02} {}",
        amount / 100,
        (amount % 100).abs(),
        currency.as_str().unwrap_or("").to_uppercase()
    )
}

fn checkout_page(state: &State, id: &str, error: Option<&str>) -> HttpResponse {
    let Some((_, session)) = checkout::find_session(state, id) else {
        return not_found();
    };
    if session["status"] != "open" {
        return html(
            StatusCode::GONE,
            "Checkout",
            "<p>This checkout session has expired or is already complete.</p>",
        );
    }
    let mut lines = String::new();
    for item in session["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
    {
        lines.push_str(&format!(
            "<tr><td>{}</td><td>× {}</td><td>{}</td></tr>",
            esc(item["description"].as_str().unwrap_or("Item")),
            item["quantity"],
            format_amount(
                item["amount_total"].as_i64().unwrap_or_default(),
                &item["currency"]
            ),
        ));
    }
    let total = match session["amount_total"].as_i64() {
        Some(total) => format!(
            "<p>Total: <strong>{}</strong></p>",
            format_amount(total, &session["currency"])
        ),
        None => "<p>Save a card for future payments.</p>".to_owned(),
    };
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(message)))
        .unwrap_or_default();
    let email = session["customer_email"].as_str().unwrap_or_default();
    let cancel = if session["cancel_url"].is_string() {
        format!("<p><a href=\"/checkout/{id}/cancel\">Cancel and return</a></p>")
    } else {
        String::new()
    };
    html(
        if error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::PAYMENT_REQUIRED
        },
        "Checkout",
        &format!(
            "<table>{lines}</table>{total}{error}<form method=\"post\" action=\"/checkout/{id}\">\
             <label>Email <input name=\"email\" type=\"email\" value=\"{email}\" autocomplete=\"email\"></label>\
             <label>Card number <input name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"4242 4242 4242 4242\" required></label>\
             <label>Expiry month <input name=\"exp_month\" inputmode=\"numeric\" placeholder=\"12\" required></label>\
             <label>Expiry year <input name=\"exp_year\" inputmode=\"numeric\" placeholder=\"2034\" required></label>\
             <label>CVC <input name=\"cvc\" inputmode=\"numeric\" placeholder=\"123\" required></label>\
             <label>Name on card <input name=\"name\" autocomplete=\"cc-name\"></label>\
             <button type=\"submit\">Pay</button></form>{cancel}",
            email = esc(email),
        ),
    )
}

fn checkout_outcome(state: &State, id: &str, outcome: Submission) -> HttpResponse {
    match outcome {
        Submission::Redirect(url) => redirect(&url),
        Submission::Rejected(message) => checkout_page(state, id, Some(&message)),
        Submission::NeedsAuthentication => html(
            StatusCode::OK,
            "Authenticate your payment",
            &format!(
                "<p>Your bank requires you to confirm this payment (3-D Secure test page).</p>\
                 <form method=\"post\" action=\"/checkout/{id}/authenticate\"><button name=\"decision\" value=\"approve\">Complete authentication</button> \
                 <button name=\"decision\" value=\"fail\">Fail authentication</button></form>"
            ),
        ),
    }
}

fn find_portal(state: &State, id: &str) -> Option<(Scope, Value)> {
    state
        .store
        .get_any(id)
        .filter(|stored| stored.value()["object"] == "billing_portal.session")
        .map(|stored| (stored.scope.clone(), stored.value().into_owned()))
}

fn portal_page(state: &State, id: &str, error: Option<&str>) -> HttpResponse {
    let Some((scope, session)) = find_portal(state, id) else {
        return not_found();
    };
    let customer = session["customer"].as_str().unwrap_or_default();
    let mut body = String::new();
    if let Some(message) = error {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(message)
        ));
    }
    body.push_str("<h2>Subscriptions</h2>");
    for sub in state
        .store
        .iter_by(&scope, "subscription", "customer", customer)
    {
        let sub_id = sub["id"].as_str().unwrap_or_default();
        let item = &sub["items"]["data"][0];
        let price = &item["price"];
        body.push_str(&format!(
            "<section><p><strong>{}</strong> — {} ({} / {}){}</p>",
            esc(sub_id),
            esc(sub["status"].as_str().unwrap_or_default()),
            format_amount(
                price_amount(price, item["quantity"].as_i64().unwrap_or(1)),
                &price["currency"]
            ),
            esc(price["recurring"]["interval"].as_str().unwrap_or("month")),
            if sub["cancel_at_period_end"] == true {
                " — cancels at period end"
            } else {
                ""
            },
        ));
        let live = !matches!(
            sub["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        );
        if live && sub["cancel_at_period_end"] != true {
            body.push_str(&format!("<form method=\"post\" action=\"/billing_portal/{id}/cancel\"><input type=\"hidden\" name=\"subscription\" value=\"{sub_id}\"><button>Cancel at period end</button></form>"));
        }
        if live {
            let alternatives: Vec<Value> = state
                .store
                .iter_by(
                    &scope,
                    "price",
                    "product",
                    price["product"].as_str().unwrap_or_default(),
                )
                .filter(|other| {
                    other["active"] == true
                        && other["type"] == "recurring"
                        && other["id"] != price["id"]
                })
                .map(Cow::into_owned)
                .collect();
            for other in alternatives {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/billing_portal/{id}/switch\"><input type=\"hidden\" name=\"subscription\" value=\"{sub_id}\"><input type=\"hidden\" name=\"price\" value=\"{}\"><button>Switch to {} / {}</button></form>",
                    esc(other["id"].as_str().unwrap_or_default()),
                    format_amount(other["unit_amount"].as_i64().unwrap_or_default(), &other["currency"]),
                    esc(other["recurring"]["interval"].as_str().unwrap_or("month")),
                ));
            }
        }
        body.push_str("</section>");
    }
    body.push_str("<h2>Invoices</h2><table><tr><th>Number</th><th>Amount</th><th>Status</th></tr>");
    for invoice in state.store.iter_by(&scope, "invoice", "customer", customer) {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(invoice["number"].as_str().unwrap_or("draft")),
            format_amount(
                invoice["total"].as_i64().unwrap_or_default(),
                &invoice["currency"]
            ),
            esc(invoice["status"].as_str().unwrap_or_default()),
        ));
    }
    body.push_str(&format!(
        "</table><h2>Payment method</h2><form method=\"post\" action=\"/billing_portal/{id}/card\">\
         <label>Card number <input name=\"card_number\" required></label><label>Expiry month <input name=\"exp_month\" required></label>\
         <label>Expiry year <input name=\"exp_year\" required></label><label>CVC <input name=\"cvc\"></label><button>Update card</button></form>"
    ));
    if let Some(url) = session["return_url"].as_str() {
        body.push_str(&format!("<p><a href=\"{}\">Return</a></p>", esc(url)));
    }
    html(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "Billing",
        &body,
    )
}

fn portal_action(state: &mut State, id: &str, action: &str, form: &Params) -> HttpResponse {
    let Some((scope, session)) = find_portal(state, id) else {
        return not_found();
    };
    let customer = session["customer"].as_str().unwrap_or_default().to_owned();
    state.enter_customer_time(&scope, &customer);
    let result = match action {
        "cancel" | "switch" => {
            let sub_id = field(form, "subscription");
            let owned = state
                .store
                .get(&scope, &sub_id)
                .filter(|sub| sub["customer"] == customer.as_str())
                .map(Cow::into_owned);
            match owned {
                None => Err("No such subscription.".to_owned()),
                Some(sub) => {
                    let change = if action == "cancel" {
                        json!({"cancel_at_period_end": "true"})
                    } else {
                        let price_id = field(form, "price");
                        let allowed = state.store.get(&scope, &price_id).is_some_and(|price| {
                            price["product"] == sub["items"]["data"][0]["price"]["product"]
                                && price["type"] == "recurring"
                        });
                        if !allowed {
                            return portal_page(
                                state,
                                id,
                                Some("That price is not available for this subscription."),
                            );
                        }
                        json!({
                            "items": [{"id": sub["items"]["data"][0]["id"], "price": price_id}],
                            "proration_behavior": "create_prorations",
                        })
                    };
                    let params = Params::new(change.as_object().cloned().unwrap_or_default());
                    update_subscription(state, &scope, &params, &sub_id)
                        .map(|_| ())
                        .map_err(|error| error.message.clone())
                }
            }
        }
        "card" => {
            let expiry = (
                field(form, "exp_month").parse().unwrap_or(12),
                field(form, "exp_year").parse().unwrap_or(2034),
            );
            create_card(
                state,
                &scope,
                &field(form, "card_number"),
                expiry,
                json!({}),
            )
            .and_then(|pm| attach_payment_method(state, &scope, &pm, &customer))
            .map(|pm| {
                if let Some(before) = state.store.get(&scope, &customer).map(Cow::into_owned) {
                    let mut updated = before.clone();
                    updated["invoice_settings"]["default_payment_method"] = pm["id"].clone();
                    state.save_updated(&scope, "customer.updated", &before, updated);
                }
            })
            .map_err(|error| error.message.clone())
        }
        _ => return not_found(),
    };
    match result {
        Ok(()) => redirect(&format!("/billing_portal/{id}")),
        Err(message) => portal_page(state, id, Some(&message)),
    }
}

fn onboarding_page(state: &State, token: &str) -> HttpResponse {
    let Some(link) = state.account_links.get(token) else {
        return not_found();
    };
    if link.used || link.expires_at < state.now() {
        return redirect(&link.refresh_url);
    }
    html(
        StatusCode::OK,
        "Connect onboarding",
        &format!(
            "<p>Onboard account <strong>{}</strong> with test data.</p><form method=\"post\" action=\"/connect/onboarding/{token}\"><button>Complete onboarding</button></form>",
            esc(&link.account)
        ),
    )
}

fn complete_onboarding(state: &mut State, token: &str) -> HttpResponse {
    let now = state.now();
    let Some(link) = state.account_links.get_mut(token) else {
        return not_found();
    };
    if link.used || link.expires_at < now {
        return redirect(&link.refresh_url.clone());
    }
    link.used = true;
    let link = link.clone();
    if let Some(before) = state.store.get(&None, &link.account).map(Cow::into_owned) {
        let mut account = before.clone();
        account["charges_enabled"] = json!(true);
        account["payouts_enabled"] = json!(true);
        account["details_submitted"] = json!(true);
        for key in ["requirements", "future_requirements"] {
            account[key]["currently_due"] = json!([]);
            account[key]["eventually_due"] = json!([]);
            account[key]["past_due"] = json!([]);
            account[key]["disabled_reason"] = Value::Null;
        }
        if let Some(capabilities) = account["capabilities"].as_object_mut() {
            for status in capabilities.values_mut() {
                *status = json!("active");
            }
        }
        account["tos_acceptance"]["date"] = json!(now);
        save_account(state, &before, account);
    }
    redirect(&link.return_url)
}
