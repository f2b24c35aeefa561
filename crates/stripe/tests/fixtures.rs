//! Every object the platform uses parses from Stripe's own examples
//! (`shared/stripe/fixtures3.json`, at a current API version).

use serde::de::DeserializeOwned;
use serde_json::Value;
use stripe::*;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/stripe/fixtures3.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {path}: {err}"));
    serde_json::from_str(&text).expect("fixtures3.json is JSON")
}

fn parse<T: DeserializeOwned>(name: &str) -> T {
    let object = fixtures()["resources"][name].clone();
    assert!(object.is_object(), "fixture {name} is missing");
    json::from_value(object).unwrap_or_else(|err| panic!("fixture {name} does not parse: {err}"))
}

#[test]
fn account_and_account_link() {
    let account: Account = parse("account");
    assert_eq!(account.id, "acct_1PgafTB7WZ01zgkW");
    assert!(!account.charges_enabled);
    assert_eq!(
        account.capabilities.get("card_payments"),
        Some(&CapabilityStatus::Active)
    );
    let requirements = account.requirements.unwrap();
    assert!(
        requirements
            .currently_due
            .contains(&"external_account".to_owned())
    );
    assert_eq!(
        requirements.disabled_reason.as_deref(),
        Some("requirements.past_due")
    );
    let link: AccountLink = parse("account_link");
    assert!(link.url.starts_with("https://"));
    assert_eq!(link.expires_at, 1_234_567_890);
}

#[test]
fn customer() {
    let customer: Customer = parse("customer");
    assert_eq!(customer.id, "cus_QXg1o8vcGmoR32");
    assert_eq!(customer.currency.as_deref(), Some("usd"));
    assert!(
        customer
            .invoice_settings
            .unwrap()
            .default_payment_method
            .is_none()
    );
    assert!(!customer.deleted);
    let deleted: Customer = parse("deleted_customer");
    assert!(deleted.deleted);
    let deleted: Deleted = parse("deleted_customer");
    assert_eq!(
        deleted,
        Deleted {
            id: "cus_QXg1o8vcGmoR32".into(),
            deleted: true
        }
    );
}

#[test]
fn product_and_price() {
    let product: Product = parse("product");
    assert_eq!(product.name, "T-shirt");
    assert_eq!(
        product.default_price.unwrap().id(),
        "price_1PgafmB7WZ01zgkW02Hf9z6c"
    );
    let price: Price = parse("price");
    assert_eq!(price.unit_amount, Some(2000));
    assert_eq!(price.price_type, Some(PriceType::Recurring));
    assert_eq!(price.billing_scheme, Some(BillingScheme::PerUnit));
    let recurring = price.recurring.unwrap();
    assert_eq!(recurring.interval, Some(RecurringInterval::Month));
    assert_eq!(recurring.interval_count, 1);
    assert_eq!(price.product.unwrap().id(), "prod_QXg1hqf4jFNsqG");
}

#[test]
fn checkout_session() {
    let session: CheckoutSession = parse("checkout.session");
    assert_eq!(session.mode, Some(CheckoutMode::Payment));
    assert_eq!(session.status, Some(CheckoutStatus::Open));
    assert_eq!(session.payment_status, Some(CheckoutPaymentStatus::Unpaid));
    assert_eq!(
        session.payment_intent.unwrap().id(),
        "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    );
    assert!(session.url.unwrap().contains(&session.id));
}

#[test]
fn subscription_with_periods_on_items() {
    let subscription: Subscription = parse("subscription");
    assert_eq!(subscription.status, Some(SubscriptionStatus::Active));
    assert_eq!(
        subscription.customer.as_ref().map(Expandable::id),
        Some("cus_QXg1o8vcGmoR32")
    );
    let item = &subscription.items.data[0];
    assert_eq!(item.id, "si_QXhVnC2h0Jczwc");
    assert_eq!(item.price.id, "price_1PgafmB7WZ01zgkW6dKueIc5");
    assert_eq!(item.current_period_end, 976_287_773);
    assert_eq!(subscription.current_period_end(), Some(976_287_773));
    let item: SubscriptionItem = parse("subscription_item");
    assert_eq!(item.id, "si_QXhVBoJ7NQdNXh");
}

#[test]
fn invoice_with_subscription_in_parent() {
    let invoice: Invoice = parse("invoice");
    assert_eq!(invoice.status, Some(InvoiceStatus::Draft));
    assert_eq!(invoice.amount_due, 1000);
    assert_eq!(invoice.subscription_id(), Some("subscription"));
    assert_eq!(invoice.next_payment_attempt, Some(1_234_567_890));
    assert_eq!(invoice.lines.data[0].period.end, 1_721_954_054);
}

#[test]
fn payment_and_setup_intents_hide_their_client_secret() {
    let intent: PaymentIntent = parse("payment_intent");
    assert_eq!(
        intent.status,
        Some(PaymentIntentStatus::RequiresPaymentMethod)
    );
    assert_eq!(intent.amount, 1099);
    let secret = intent.client_secret.as_ref().unwrap();
    assert!(
        secret
            .expose()
            .starts_with("pi_1PgafyB7WZ01zgkWSjxsAJo3_secret_")
    );
    assert!(!format!("{intent:?}").contains("_secret_"));
    assert_eq!(
        intent.last_payment_error.unwrap().error_type.as_deref(),
        Some("idempotency_error")
    );
    let setup: SetupIntent = parse("setup_intent");
    assert_eq!(setup.status, Some(SetupIntentStatus::RequiresPaymentMethod));
    assert_eq!(setup.usage.as_deref(), Some("off_session"));
}

#[test]
fn payment_method_charge_refund_dispute() {
    let method: PaymentMethod = parse("payment_method");
    let card = method.card.unwrap();
    assert_eq!(
        (card.brand.as_str(), card.last4.as_str(), card.exp_year),
        ("visa", "4242", 2030)
    );
    let charge: Charge = parse("charge");
    assert_eq!(charge.amount, 100);
    let refund: Refund = parse("refund");
    assert_eq!(refund.status, Some(RefundStatus::Succeeded));
    assert_eq!(refund.charge.unwrap().id(), "ch_1PgafuB7WZ01zgkWXYmPNZs8");
    let dispute: Dispute = parse("dispute");
    assert_eq!(dispute.status, Some(DisputeStatus::WarningNeedsResponse));
    assert_eq!(
        dispute.evidence_details.unwrap().due_by,
        Some(1_723_679_999)
    );
}

#[test]
fn portal_session_webhook_endpoint_test_clock() {
    let portal: BillingPortalSession = parse("billing_portal.session");
    assert_eq!(portal.customer, "cus_QXg1o8vcGmoR32");
    let endpoint: WebhookEndpoint = parse("webhook_endpoint");
    assert_eq!(endpoint.status, Some(WebhookEndpointStatus::Enabled));
    assert_eq!(
        endpoint.enabled_events,
        ["charge.failed", "charge.succeeded"]
    );
    assert!(endpoint.secret.is_none());
    let clock: TestClock = parse("test_helpers.test_clock");
    assert_eq!(clock.status, Some(TestClockStatus::Ready));
}

#[test]
fn event_of_an_unmodelled_type_keeps_its_raw_object() {
    let event: Event = parse("event");
    assert_eq!(event.id, "evt_1Pgc76B7WZ01zgkWwyRHS12y");
    assert_eq!(event.event_type, EventType::Unknown("plan.created".into()));
    let EventObject::Other(raw) = &event.data.object else {
        panic!("a plan is not modelled: {:?}", event.data.object);
    };
    assert_eq!(raw["object"], "plan");
}

#[test]
fn events_wrapping_each_modelled_fixture_are_typed() {
    let fixtures = fixtures();
    for (name, event_type) in [
        ("checkout.session", "checkout.session.completed"),
        ("subscription", "customer.subscription.updated"),
        ("invoice", "invoice.payment_failed"),
        ("payment_intent", "payment_intent.succeeded"),
        ("setup_intent", "setup_intent.succeeded"),
        ("charge", "charge.refunded"),
        ("refund", "refund.created"),
        ("dispute", "charge.dispute.created"),
        ("customer", "customer.updated"),
        ("payment_method", "payment_method.attached"),
        ("account", "account.updated"),
        ("product", "product.updated"),
        ("price", "price.updated"),
        ("test_helpers.test_clock", "test_helpers.test_clock.ready"),
    ] {
        let wrapped = serde_json::json!({
            "id": "evt_1", "object": "event", "type": event_type, "created": 1,
            "api_version": API_VERSION, "livemode": false, "account": "acct_1",
            "data": {"object": fixtures["resources"][name]},
        });
        let event: Event = json::from_value(wrapped).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(event.event_type.as_str(), event_type);
        assert!(
            !matches!(event.event_type, EventType::Unknown(_)),
            "{event_type} is modelled"
        );
        assert!(
            !matches!(event.data.object, EventObject::Other(_)),
            "{name} should be typed, got {:?}",
            event.data.object
        );
    }
}
