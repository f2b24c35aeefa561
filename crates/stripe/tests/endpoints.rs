//! Every operation of every resource group goes to Stripe's method and path.

use std::time::Duration;

use futures::TryStreamExt;
use serde_json::json;
use stripe::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A body every object type, list and deletion parses from; events need their own.
fn answer(request: &Request) -> ResponseTemplate {
    let body = if request.url.path() == "/v1/events/evt_1" {
        json!({"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {"id": "in_1", "object": "invoice"}}})
    } else {
        json!({"id": "obj_1", "object": "any", "data": [], "has_more": false, "deleted": true})
    };
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn every_operation_uses_stripes_method_and_path() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&server).await;
    let client = Client::builder("sk_test_1")
        .base_url(server.uri())
        .retry_delays(Duration::from_millis(1), Duration::from_millis(1))
        .without_rate_limit()
        .build()
        .unwrap();
    let c = &client;
    let o = RequestOptions::new;
    let e = &Expand::default();
    let mut expected = Vec::new();
    macro_rules! call {
        ($route:literal, $call:expr) => {{
            $call
                .await
                .unwrap_or_else(|err| panic!("{}: {err}", $route));
            expected.push($route);
        }};
    }
    macro_rules! list {
        ($route:literal, $stream:expr) => {
            call!($route, $stream.try_collect::<Vec<_>>())
        };
    }

    call!(
        "POST /v1/accounts",
        c.accounts().create(&CreateAccount::default(), o())
    );
    call!(
        "GET /v1/accounts/acct_1",
        c.accounts().retrieve("acct_1", e, o())
    );
    call!(
        "POST /v1/accounts/acct_1",
        c.accounts()
            .update("acct_1", &UpdateAccount::default(), o())
    );
    call!(
        "DELETE /v1/accounts/acct_1",
        c.accounts().delete("acct_1", o())
    );
    list!(
        "GET /v1/accounts",
        c.accounts().list(&ListParams::default(), o())
    );
    let link = CreateAccountLink {
        account: "acct_1".into(),
        link_type: AccountLinkType::AccountOnboarding,
        refresh_url: "https://r.test".into(),
        return_url: "https://d.test".into(),
    };
    call!(
        "POST /v1/account_links",
        c.account_links().create(&link, o())
    );

    call!(
        "POST /v1/customers",
        c.customers().create(&CreateCustomer::default(), o())
    );
    call!(
        "GET /v1/customers/cus_1",
        c.customers().retrieve("cus_1", e, o())
    );
    call!(
        "POST /v1/customers/cus_1",
        c.customers()
            .update("cus_1", &UpdateCustomer::default(), o())
    );
    call!(
        "POST /v1/customers/cus_1",
        c.customers()
            .set_default_payment_method("cus_1", "pm_1", o())
    );
    call!(
        "DELETE /v1/customers/cus_1",
        c.customers().delete("cus_1", o())
    );
    list!(
        "GET /v1/customers",
        c.customers().list(&ListCustomers::default(), o())
    );

    call!(
        "POST /v1/products",
        c.products().create(&CreateProduct::default(), o())
    );
    call!(
        "GET /v1/products/prod_1",
        c.products().retrieve("prod_1", e, o())
    );
    call!(
        "POST /v1/products/prod_1",
        c.products()
            .update("prod_1", &UpdateProduct::default(), o())
    );
    list!(
        "GET /v1/products",
        c.products().list(&ListProducts::default(), o())
    );
    call!(
        "POST /v1/prices",
        c.prices().create(&CreatePrice::default(), o())
    );
    call!(
        "GET /v1/prices/price_1",
        c.prices().retrieve("price_1", e, o())
    );
    call!(
        "POST /v1/prices/price_1",
        c.prices().update("price_1", &UpdatePrice::default(), o())
    );
    list!(
        "GET /v1/prices",
        c.prices().list(&ListPrices::default(), o())
    );

    call!(
        "POST /v1/checkout/sessions",
        c.checkout_sessions()
            .create(&CreateCheckoutSession::default(), o())
    );
    call!(
        "GET /v1/checkout/sessions/cs_1",
        c.checkout_sessions().retrieve("cs_1", e, o())
    );
    call!(
        "POST /v1/checkout/sessions/cs_1/expire",
        c.checkout_sessions().expire("cs_1", o())
    );

    call!(
        "POST /v1/subscriptions",
        c.subscriptions()
            .create(&CreateSubscription::default(), o())
    );
    call!(
        "GET /v1/subscriptions/sub_1",
        c.subscriptions().retrieve("sub_1", e, o())
    );
    call!(
        "POST /v1/subscriptions/sub_1",
        c.subscriptions()
            .update("sub_1", &UpdateSubscription::default(), o())
    );
    call!(
        "POST /v1/subscriptions/sub_1",
        c.subscriptions().cancel_at_period_end("sub_1", true, o())
    );
    call!(
        "DELETE /v1/subscriptions/sub_1",
        c.subscriptions()
            .cancel("sub_1", &CancelSubscription::default(), o())
    );
    call!(
        "POST /v1/subscriptions/sub_1/resume",
        c.subscriptions()
            .resume("sub_1", &ResumeSubscription::default(), o())
    );
    list!(
        "GET /v1/subscriptions",
        c.subscriptions().list(&ListSubscriptions::default(), o())
    );

    call!(
        "GET /v1/invoices/in_1",
        c.invoices().retrieve("in_1", e, o())
    );
    list!(
        "GET /v1/invoices",
        c.invoices().list(&ListInvoices::default(), o())
    );
    call!(
        "POST /v1/invoices/in_1/finalize",
        c.invoices().finalize("in_1", o())
    );
    call!(
        "POST /v1/invoices/in_1/pay",
        c.invoices().pay("in_1", &PayInvoice::default(), o())
    );
    call!(
        "POST /v1/invoices/in_1/void",
        c.invoices().void("in_1", o())
    );
    call!(
        "POST /v1/invoices/in_1/mark_uncollectible",
        c.invoices().mark_uncollectible("in_1", o())
    );
    call!(
        "POST /v1/invoices/create_preview",
        c.invoices().preview(&PreviewInvoice::default(), o())
    );

    call!(
        "POST /v1/payment_intents",
        c.payment_intents()
            .create(&CreatePaymentIntent::default(), o())
    );
    call!(
        "GET /v1/payment_intents/pi_1",
        c.payment_intents().retrieve("pi_1", e, o())
    );
    call!(
        "POST /v1/payment_intents/pi_1/confirm",
        c.payment_intents()
            .confirm("pi_1", &ConfirmPaymentIntent::default(), o())
    );
    call!(
        "POST /v1/payment_intents/pi_1/cancel",
        c.payment_intents().cancel("pi_1", o())
    );
    call!(
        "POST /v1/setup_intents",
        c.setup_intents().create(&CreateSetupIntent::default(), o())
    );
    call!(
        "GET /v1/setup_intents/seti_1",
        c.setup_intents().retrieve("seti_1", e, o())
    );
    call!(
        "POST /v1/setup_intents/seti_1/cancel",
        c.setup_intents().cancel("seti_1", o())
    );
    call!(
        "GET /v1/payment_methods/pm_1",
        c.payment_methods().retrieve("pm_1", o())
    );
    call!(
        "POST /v1/payment_methods/pm_1/attach",
        c.payment_methods().attach("pm_1", "cus_1", o())
    );
    call!(
        "POST /v1/payment_methods/pm_1/detach",
        c.payment_methods().detach("pm_1", o())
    );
    list!(
        "GET /v1/payment_methods",
        c.payment_methods()
            .list(&ListPaymentMethods::default(), o())
    );

    let refund = CreateRefund {
        payment_intent: Some("pi_1".into()),
        ..CreateRefund::default()
    };
    call!("POST /v1/refunds", c.refunds().create(&refund, o()));
    call!("GET /v1/refunds/re_1", c.refunds().retrieve("re_1", e, o()));
    list!(
        "GET /v1/refunds",
        c.refunds().list(&ListRefunds::default(), o())
    );
    call!(
        "GET /v1/disputes/dp_1",
        c.disputes().retrieve("dp_1", e, o())
    );
    call!(
        "POST /v1/disputes/dp_1",
        c.disputes().update("dp_1", &UpdateDispute::default(), o())
    );
    call!(
        "POST /v1/disputes/dp_1/close",
        c.disputes().close("dp_1", o())
    );
    list!(
        "GET /v1/disputes",
        c.disputes().list(&ListParams::default(), o())
    );

    call!(
        "POST /v1/billing_portal/sessions",
        c.billing_portal_sessions()
            .create(&CreateBillingPortalSession::default(), o())
    );
    let endpoint = CreateWebhookEndpoint::platform("https://h.test", ["invoice.paid"]);
    call!(
        "POST /v1/webhook_endpoints",
        c.webhook_endpoints().create(&endpoint, o())
    );
    call!(
        "GET /v1/webhook_endpoints/we_1",
        c.webhook_endpoints().retrieve("we_1", o())
    );
    list!(
        "GET /v1/webhook_endpoints",
        c.webhook_endpoints().list(&ListParams::default(), o())
    );
    call!(
        "DELETE /v1/webhook_endpoints/we_1",
        c.webhook_endpoints().delete("we_1", o())
    );
    call!("GET /v1/events/evt_1", c.events().retrieve("evt_1", o()));
    list!(
        "GET /v1/events",
        c.events().list(&ListEvents::default(), o())
    );
    call!(
        "POST /v1/test_helpers/test_clocks",
        c.test_clocks().create(&CreateTestClock::default(), o())
    );
    call!(
        "GET /v1/test_helpers/test_clocks/clock_1",
        c.test_clocks().retrieve("clock_1", o())
    );
    call!(
        "POST /v1/test_helpers/test_clocks/clock_1/advance",
        c.test_clocks().advance("clock_1", 1_700_000_000, o())
    );
    call!(
        "DELETE /v1/test_helpers/test_clocks/clock_1",
        c.test_clocks().delete("clock_1", o())
    );
    list!(
        "GET /v1/test_helpers/test_clocks",
        c.test_clocks().list(&ListParams::default(), o())
    );

    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| format!("{} {}", request.method, request.url.path()))
        .collect();
    assert_eq!(sent, expected);
}
