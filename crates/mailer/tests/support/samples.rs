//! One realistic message of every kind, with fixed dates and amounts so
//! rendered output is stable enough to snapshot.

use billing::money::{Currency, Money};
use chrono::{DateTime, TimeZone, Utc};
use mailer::message::*;
use mailer::{AccentColour, Branding, Link, Recipient, parse_address};

pub fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 9, 30, 0).unwrap()
}

pub fn link(path: &str) -> Link {
    Link::parse(&format!("https://pay.shop.example/{path}")).unwrap()
}

pub fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::USD)
}

pub fn monthly(cents: i64) -> Price {
    Price {
        amount: usd(cents),
        interval: "month".into(),
    }
}

pub fn branding_named(name: &str) -> Branding {
    Branding::new(
        name,
        Some(Link::parse("https://cdn.shop.example/logo.png").unwrap()),
        AccentColour::parse("#635bff").unwrap(),
        parse_address("support@shop.example").unwrap(),
        "Acme Widgets Ltd\n1 Market Street\nSpringfield",
    )
    .unwrap()
}

pub fn branding() -> Branding {
    branding_named("Acme Widgets")
}

pub fn recipient() -> Recipient {
    Recipient::new(
        parse_address("jane@customer.example").unwrap(),
        Some("Jane Doe"),
    )
}

pub fn every_mail() -> Vec<Mail> {
    vec![
        Receipt {
            invoice_number: "ACME-0042".into(),
            amount_paid: usd(1999),
            plan_name: "Pro".into(),
            period_start: at(1),
            period_end: at(31),
            paid_at: at(1),
            invoice_url: link("invoices/in_42"),
        }
        .into(),
        SubscriptionStarted {
            plan_name: "Pro".into(),
            price: Some(monthly(1999)),
            started_at: at(1),
            manage_url: Some(link("portal")),
        }
        .into(),
        TrialStarted {
            plan_name: "Pro".into(),
            trial_ends_at: at(15),
            price: Some(monthly(1999)),
            manage_url: Some(link("portal")),
        }
        .into(),
        TrialEnding {
            plan_name: "Pro".into(),
            trial_ends_at: at(15),
            price: Some(monthly(1999)),
            has_payment_method: false,
            payment_method_url: Some(link("portal/payment-method")),
        }
        .into(),
        CancellationScheduled {
            plan_name: "Pro".into(),
            access_until: at(31),
            manage_url: Some(link("portal")),
        }
        .into(),
        SubscriptionCanceled {
            plan_name: "Pro".into(),
            ended_at: at(31),
            resubscribe_url: Some(link("plans")),
        }
        .into(),
        SubscriptionEndedUnpaid {
            plan_name: "Pro".into(),
            ended_at: at(28),
            amount_due: Some(usd(1999)),
            resubscribe_url: Some(link("plans")),
        }
        .into(),
        PaymentFailed {
            invoice_number: "ACME-0043".into(),
            amount_due: usd(1999),
            attempt: 2,
            next_attempt_at: Some(at(8)),
            update_payment_url: link("portal/payment-method"),
        }
        .into(),
        AuthenticationRequired {
            invoice_number: "ACME-0043".into(),
            amount_due: usd(1999),
            authenticate_url: link("invoices/in_43/confirm"),
        }
        .into(),
        FinalNotice {
            invoice_number: "ACME-0043".into(),
            amount_due: usd(1999),
            ends_at: at(21),
            update_payment_url: link("portal/payment-method"),
        }
        .into(),
        RefundIssued {
            invoice_number: Some("ACME-0042".into()),
            refunded: usd(500),
            charged: usd(1999),
            refunded_at: at(3),
            receipt_url: Some(link("receipts/ch_42")),
        }
        .into(),
        NewSubscriber {
            customer_email: "jane@customer.example".into(),
            customer_name: Some("Jane Doe".into()),
            plan_name: "Pro".into(),
            price: Some(monthly(1999)),
            trial_ends_at: None,
            dashboard_url: link("console/customers/cus_1"),
        }
        .into(),
        MerchantCancellation {
            customer_email: "jane@customer.example".into(),
            plan_name: "Pro".into(),
            ends_at: at(31),
            for_non_payment: false,
            dashboard_url: link("console/customers/cus_1"),
        }
        .into(),
        DisputeOpened {
            amount: usd(1999),
            reason: "fraudulent".into(),
            customer_email: "jane@customer.example".into(),
            evidence_due_by: at(20),
            dashboard_url: link("console/disputes/dp_1"),
        }
        .into(),
        WebhookEndpointDisabled {
            endpoint_url: "https://hooks.shop.example/billforge".into(),
            disabled_at: at(5),
            last_error: "HTTP 500 Internal Server Error".into(),
            settings_url: link("console/webhooks"),
        }
        .into(),
        SignInLink {
            sign_in_url: link("t/acme/account/enter?token=signed"),
            expires_at: at(1),
        }
        .into(),
    ]
}
