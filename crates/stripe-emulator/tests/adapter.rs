//! Billforge's own adapter (`crates/stripe`) driving the emulator, unchanged:
//! the flows `billforge serve` relies on.

mod common;

use common::Harness;
use stripe::{
    AccountLinkType, CheckoutLineItem, CheckoutMode, Client, ControllerDashboard, ControllerFees,
    ControllerLosses, ControllerParams, CreateAccount, CreateAccountLink, CreateCheckoutSession,
    CreateCustomer, CreatePrice, CreateProduct, CreateSubscription, CreateTestClock,
    CreateWebhookEndpoint, Expand, InvoiceSettingsParams, PriceRecurringParams, ProrationBehavior,
    RecurringInterval, RequestOptions, SubscriptionItemParams, UpdateSubscription,
};

fn client(harness: &Harness) -> Client {
    Client::builder("sk_test_adapter")
        .base_url(harness.base.clone())
        .max_retries(0)
        .without_rate_limit()
        .build()
        .expect("client")
}

async fn monthly_price(
    client: &Client,
    amount: i64,
    options: impl Fn() -> RequestOptions,
) -> stripe::Price {
    let product = client
        .products()
        .create(
            &CreateProduct {
                name: "Pro".into(),
                ..CreateProduct::default()
            },
            options(),
        )
        .await
        .expect("product");
    client
        .prices()
        .create(
            &CreatePrice {
                product: Some(product.id),
                currency: "usd".into(),
                unit_amount: Some(amount),
                recurring: Some(PriceRecurringParams {
                    interval: RecurringInterval::Month,
                    interval_count: None,
                }),
                ..CreatePrice::default()
            },
            options(),
        )
        .await
        .expect("price")
}

#[tokio::test]
async fn checkout_subscription_change_and_cancel_through_the_adapter() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let harness = Harness::start().await;
    let client = client(&harness);
    let endpoint = client
        .webhook_endpoints()
        .create(
            &CreateWebhookEndpoint::platform(receiver.uri(), ["checkout.session.completed"]),
            RequestOptions::new(),
        )
        .await
        .expect("endpoint");
    let price = monthly_price(&client, 1000, RequestOptions::new).await;
    let session = client
        .checkout_sessions()
        .create(
            &CreateCheckoutSession {
                mode: CheckoutMode::Subscription,
                line_items: vec![CheckoutLineItem {
                    price: price.id.clone(),
                    quantity: Some(1),
                }],
                success_url: Some("https://app.example/done/{CHECKOUT_SESSION_ID}".into()),
                cancel_url: Some("https://app.example/back".into()),
                client_reference_id: Some("cust_42".into()),
                ..CreateCheckoutSession::default()
            },
            RequestOptions::new().idempotency_key("checkout:cust_42"),
        )
        .await
        .expect("session");
    let paid = harness
        .pay_hosted_checkout(session.url.as_deref().expect("url"), "4242424242424242")
        .await;
    assert_eq!(paid.status().as_u16(), 303);

    let done = client
        .checkout_sessions()
        .retrieve(
            &session.id,
            &Expand::paths(["subscription"]),
            RequestOptions::new(),
        )
        .await
        .expect("completed session");
    let subscription = done.subscription.expect("subscription");
    let subscription = subscription.as_object().expect("expanded").clone();
    assert_eq!(subscription.items.data[0].price.id, price.id);

    let bigger = monthly_price(&client, 3000, RequestOptions::new).await;
    let changed = client
        .subscriptions()
        .update(
            &subscription.id,
            &UpdateSubscription {
                items: vec![SubscriptionItemParams {
                    id: Some(subscription.items.data[0].id.clone()),
                    price: Some(bigger.id.clone()),
                    ..SubscriptionItemParams::default()
                }],
                proration_behavior: Some(ProrationBehavior::AlwaysInvoice),
                expand: vec!["latest_invoice".into()],
                ..UpdateSubscription::default()
            },
            RequestOptions::new(),
        )
        .await
        .expect("price change");
    let invoice = changed.latest_invoice.expect("invoice");
    let invoice = invoice.as_object().expect("expanded invoice");
    assert_eq!(
        invoice.billing_reason.as_deref(),
        Some("subscription_update")
    );
    assert!(
        (1990..=2000).contains(&invoice.amount_paid),
        "proration of 30.00 - 10.00: {}",
        invoice.amount_paid
    );
    assert_eq!(invoice.subscription_id(), Some(subscription.id.as_str()));

    let scheduled = client
        .subscriptions()
        .cancel_at_period_end(&subscription.id, true, RequestOptions::new())
        .await
        .expect("cancel at end");
    assert!(scheduled.cancel_at_period_end);
    let canceled = client
        .subscriptions()
        .cancel(&subscription.id, &Default::default(), RequestOptions::new())
        .await
        .expect("cancel");
    assert!(canceled.ended_at.is_some());

    let secret = endpoint.secret.expect("secret on creation");
    let verifier = stripe::webhook::WebhookVerifier::new([secret]).expect("verifier");
    let requests = common::wait_for_requests(&receiver, 1).await;
    let request = requests
        .first()
        .expect("checkout.session.completed delivered");
    let header = request
        .headers
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok());
    let event = verifier
        .construct_event(header, &request.body)
        .expect("the adapter accepts the delivery");
    assert_eq!(event.api_version.as_deref(), Some(stripe::API_VERSION));
    harness.emulator.stop().await;
}

#[tokio::test]
async fn connect_onboarding_and_scoping_through_the_adapter() {
    let harness = Harness::start().await;
    let client = client(&harness);
    let account = client
        .accounts()
        .create(
            &CreateAccount {
                controller: Some(ControllerParams {
                    fees: Some(ControllerFees {
                        payer: "application".into(),
                    }),
                    losses: Some(ControllerLosses {
                        payments: "application".into(),
                    }),
                    stripe_dashboard: Some(ControllerDashboard {
                        dashboard_type: "express".into(),
                    }),
                }),
                ..CreateAccount::default()
            },
            RequestOptions::new(),
        )
        .await
        .expect("account");
    let link = client
        .account_links()
        .create(
            &CreateAccountLink {
                account: account.id.clone(),
                link_type: AccountLinkType::AccountOnboarding,
                refresh_url: "https://app.example/refresh".into(),
                return_url: "https://app.example/return".into(),
            },
            RequestOptions::new(),
        )
        .await
        .expect("link");
    let completed = harness
        .http
        .post(&link.url)
        .send()
        .await
        .expect("onboarding post");
    assert_eq!(
        completed.headers()["Location"],
        "https://app.example/return"
    );
    let onboarded = client
        .accounts()
        .retrieve(&account.id, &Expand::default(), RequestOptions::new())
        .await
        .expect("account");
    assert!(onboarded.charges_enabled && onboarded.details_submitted);

    let on_tenant = || RequestOptions::new().on_account(account.id.clone());
    let customer = client
        .customers()
        .create(&CreateCustomer::default(), on_tenant())
        .await
        .expect("customer");
    assert!(
        client
            .customers()
            .retrieve(&customer.id, &Expand::default(), on_tenant())
            .await
            .is_ok()
    );
    let hidden = client
        .customers()
        .retrieve(&customer.id, &Expand::default(), RequestOptions::new())
        .await
        .expect_err("invisible");
    assert_eq!(hidden.as_api().map(|api| api.status), Some(404));
    harness.emulator.stop().await;
}

#[tokio::test]
async fn test_clock_renewal_through_the_adapter() {
    let harness = Harness::start().await;
    let client = client(&harness);
    let clock = client
        .test_clocks()
        .create(
            &CreateTestClock {
                frozen_time: 1_800_000_000,
                name: Some("renewal".into()),
            },
            RequestOptions::new(),
        )
        .await
        .expect("clock");
    let customer = client
        .customers()
        .create(
            &CreateCustomer {
                payment_method: Some("pm_card_visa".into()),
                invoice_settings: Some(InvoiceSettingsParams {
                    default_payment_method: Some("pm_card_visa".into()),
                }),
                test_clock: Some(clock.id.clone()),
                ..CreateCustomer::default()
            },
            RequestOptions::new(),
        )
        .await
        .expect("customer");
    let price = monthly_price(&client, 1000, RequestOptions::new).await;
    let subscription = client
        .subscriptions()
        .create(
            &CreateSubscription {
                customer: customer.id.clone(),
                items: vec![SubscriptionItemParams {
                    price: Some(price.id.clone()),
                    ..SubscriptionItemParams::default()
                }],
                ..CreateSubscription::default()
            },
            RequestOptions::new(),
        )
        .await
        .expect("subscription");
    let first_end = subscription.current_period_end().expect("period end");
    assert_eq!(
        subscription.start_date, 1_800_000_000,
        "objects on a test clock live at its frozen time"
    );
    client
        .test_clocks()
        .advance(&clock.id, first_end + 60, RequestOptions::new())
        .await
        .expect("advance");
    let renewed = client
        .subscriptions()
        .retrieve(
            &subscription.id,
            &Expand::paths(["latest_invoice"]),
            RequestOptions::new(),
        )
        .await
        .expect("renewed");
    assert!(renewed.current_period_end().expect("end") > first_end);
    let invoice = renewed.latest_invoice.expect("invoice");
    let invoice = invoice.as_object().expect("expanded");
    assert_eq!(
        invoice.billing_reason.as_deref(),
        Some("subscription_cycle")
    );
    assert_eq!(invoice.amount_paid, 1000);
    harness.emulator.stop().await;
}
