"""Billing flows: hosted checkout, subscriptions, prorations, cancellation, invoices, refunds, test clocks, webhooks."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import stripe

from conftest import wait_for

DAY = 86_400


def card_form(number, email="buyer@example.com"):
    return {"card_number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123", "name": "Ada", "email": email}


def subscribe_by_checkout(price, tag):
    session = stripe.checkout.Session.create(
        mode="subscription",
        line_items=[{"price": price.id, "quantity": 2}],
        success_url="https://example.com/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://example.com/cancel",
        client_reference_id=tag,
        metadata={"tag": tag},
        subscription_data={"metadata": {"plan": "pro"}},
    )
    assert session.status == "open" and session.url
    return session


def test_checkout_subscription_completed_by_posting_the_hosted_form(monthly_price, tag):
    session = subscribe_by_checkout(monthly_price, tag)
    page = requests.get(session.url)
    assert page.status_code == 200 and "card_number" in page.text
    posted = requests.post(session.url, data=card_form("4242 4242 4242 4242"), allow_redirects=False)
    assert posted.status_code == 303
    location = urlparse(posted.headers["Location"])
    assert parse_qs(location.query)["session"] == [session.id]

    done = stripe.checkout.Session.retrieve(session.id)
    assert done.status == "complete" and done.payment_status == "paid"
    assert done.client_reference_id == tag and done.metadata["tag"] == tag
    subscription = stripe.Subscription.retrieve(done.subscription, expand=["latest_invoice", "customer"])
    assert subscription.status == "active"
    assert subscription.metadata["plan"] == "pro"
    assert subscription.customer.id == done.customer
    assert subscription.latest_invoice.status == "paid"
    assert subscription.latest_invoice.amount_paid == 2000
    assert subscription.latest_invoice.parent.subscription_details.subscription == subscription.id
    item = subscription["items"].data[0]
    assert item.quantity == 2 and item.current_period_end > item.current_period_start


def test_checkout_declines_are_shown_on_the_page(monthly_price, tag):
    session = subscribe_by_checkout(monthly_price, tag)
    declined = requests.post(session.url, data=card_form("4000000000000002"), allow_redirects=False)
    assert declined.status_code == 402 and "declined" in declined.text
    poor = requests.post(session.url, data=card_form("4000000000009995"), allow_redirects=False)
    assert "insufficient funds" in poor.text
    assert stripe.checkout.Session.retrieve(session.id).status == "open"


def test_checkout_three_d_secure_step(monthly_price, tag):
    session = subscribe_by_checkout(monthly_price, tag)
    challenge = requests.post(session.url, data=card_form("4000002500003155"), allow_redirects=False)
    assert challenge.status_code == 200 and "authenticate" in challenge.text.lower()
    approved = requests.post(f"{session.url}/authenticate", data={"decision": "approve"}, allow_redirects=False)
    assert approved.status_code == 303
    assert stripe.checkout.Session.retrieve(session.id).status == "complete"


def subscribed_customer(price, tag, **extra):
    customer = stripe.Customer.create(
        email=f"{tag}@example.com",
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
        **extra,
    )
    subscription = stripe.Subscription.create(customer=customer.id, items=[{"price": price.id}])
    assert subscription.status == "active"
    return customer, subscription


def test_price_change_with_proration(monthly_price, tag):
    customer, subscription = subscribed_customer(monthly_price, tag)
    bigger = stripe.Price.create(
        product=monthly_price.product, currency="usd", unit_amount=3000, recurring={"interval": "month"}
    )
    item = subscription["items"].data[0]
    updated = stripe.Subscription.modify(
        subscription.id, items=[{"id": item.id, "price": bigger.id}], proration_behavior="create_prorations"
    )
    assert updated["items"].data[0].price.id == bigger.id
    pending = stripe.InvoiceItem.list(customer=customer.id, pending=True)
    amounts = sorted(i.amount for i in pending.data)
    assert len(amounts) == 2 and all(i.proration for i in pending.data)
    assert -1000 <= amounts[0] < -990 and 2970 < amounts[1] <= 3000
    preview = stripe.Invoice.create_preview(customer=customer.id, subscription=subscription.id)
    assert preview.total == 3000 + sum(amounts)

    immediate = stripe.Subscription.modify(
        subscription.id, items=[{"id": item.id, "price": monthly_price.id}], proration_behavior="always_invoice"
    )
    invoice = stripe.Invoice.retrieve(immediate.latest_invoice)
    assert invoice.billing_reason == "subscription_update"
    assert invoice.status == "paid"
    assert invoice.total == sum(line.amount for line in invoice.lines.data)


def test_cancel_at_period_end_and_now(monthly_price, tag):
    _, subscription = subscribed_customer(monthly_price, tag)
    scheduled = stripe.Subscription.modify(subscription.id, cancel_at_period_end=True)
    assert scheduled.cancel_at_period_end is True and scheduled.status == "active"
    assert scheduled.cancel_at == scheduled["items"].data[0].current_period_end
    canceled = stripe.Subscription.cancel(subscription.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None


def test_invoices_list_void_and_pay(monthly_price, tag):
    customer = stripe.Customer.create(email=f"{tag}@example.com")
    subscription = stripe.Subscription.create(
        customer=customer.id, items=[{"price": monthly_price.id}], payment_behavior="default_incomplete"
    )
    assert subscription.status == "incomplete"
    invoices = stripe.Invoice.list(customer=customer.id)
    assert [i.id for i in invoices.data] == [subscription.latest_invoice]
    assert invoices.data[0].status == "open"
    with pytest.raises(stripe.CardError) as declined:
        stripe.Invoice.pay(subscription.latest_invoice, payment_method="pm_card_chargeDeclined")
    assert declined.value.code == "card_declined"
    paid = stripe.Invoice.pay(subscription.latest_invoice, payment_method="pm_card_visa")
    assert paid.status == "paid"
    assert stripe.Subscription.retrieve(subscription.id).status == "active"
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Invoice.void_invoice(paid.id)


def test_refunds_full_and_partial(tag):
    intent = stripe.PaymentIntent.create(
        amount=2000, currency="usd", payment_method="pm_card_visa", confirm=True, payment_method_types=["card"]
    )
    assert intent.status == "succeeded"
    partial = stripe.Refund.create(payment_intent=intent.id, amount=500)
    assert partial.status == "succeeded" and partial.amount == 500
    charge = stripe.Charge.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 500 and charge.refunded is False
    rest = stripe.Refund.create(charge=charge.id)
    assert rest.amount == 1500
    assert stripe.Charge.retrieve(charge.id).refunded is True
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Refund.create(charge=charge.id)
    with pytest.raises(stripe.CardError) as declined:
        stripe.PaymentIntent.create(
            amount=2000, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
        )
    assert declined.value.error.decline_code == "generic_decline"


def advance(clock, to):
    stripe.test_helpers.TestClock.advance(clock.id, frozen_time=to)
    wait_for(lambda: stripe.test_helpers.TestClock.retrieve(clock.id).status == "ready")


def test_test_clock_renewal_then_failed_renewal(monthly_price, tag):
    start = int(time.time())
    clock = stripe.test_helpers.TestClock.create(frozen_time=start, name=tag)
    customer, subscription = subscribed_customer(monthly_price, tag, test_clock=clock.id)
    first_end = subscription["items"].data[0].current_period_end

    advance(clock, first_end + 3600)
    renewed = stripe.Subscription.retrieve(subscription.id, expand=["latest_invoice"])
    assert renewed.status == "active"
    assert renewed["items"].data[0].current_period_start == first_end
    assert renewed.latest_invoice.billing_reason == "subscription_cycle"
    assert renewed.latest_invoice.status == "paid"
    assert len(stripe.Invoice.list(subscription=subscription.id).data) == 2

    failing = stripe.PaymentMethod.attach("pm_card_chargeCustomerFail", customer=customer.id)
    stripe.Customer.modify(customer.id, invoice_settings={"default_payment_method": failing.id})
    second_end = renewed["items"].data[0].current_period_end
    advance(clock, second_end + 3600)
    past_due = stripe.Subscription.retrieve(subscription.id, expand=["latest_invoice"])
    assert past_due.status == "past_due"
    invoice = past_due.latest_invoice
    assert invoice.status == "open" and invoice.attempt_count == 1
    assert invoice.next_payment_attempt is not None and invoice.next_payment_attempt > second_end

    advance(clock, second_end + 30 * DAY)
    final = stripe.Subscription.retrieve(subscription.id, expand=["latest_invoice"])
    assert final.status == "canceled"
    assert final.latest_invoice.attempt_count == 4 and final.latest_invoice.next_payment_attempt is None


def test_webhook_deliveries_verify_with_construct_event(webhook_receiver, tag):
    url, received = webhook_receiver
    endpoint = stripe.WebhookEndpoint.create(url=url, enabled_events=["customer.created"])
    assert endpoint.secret.startswith("whsec_")
    try:
        customer = stripe.Customer.create(email=f"{tag}@example.com")
        while True:
            payload, signature = received.get(timeout=5)
            event = stripe.Webhook.construct_event(payload, signature, endpoint.secret)
            if event.data.object.id == customer.id:
                break
        assert event.type == "customer.created"
        assert stripe.Event.retrieve(event.id).id == event.id
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload + " ", signature, endpoint.secret)
    finally:
        stripe.WebhookEndpoint.delete(endpoint.id)


def test_checkout_trial_and_billing_portal(monthly_price, tag):
    session = stripe.checkout.Session.create(
        mode="subscription",
        line_items=[{"price": monthly_price.id}],
        success_url="https://example.com/done",
        subscription_data={"trial_period_days": 14},
    )
    posted = requests.post(session.url, data=card_form("4242424242424242"), allow_redirects=False)
    assert posted.status_code == 303
    done = stripe.checkout.Session.retrieve(session.id, expand=["subscription"])
    assert done.payment_status == "no_payment_required"
    assert done.subscription.status == "trialing"
    assert done.subscription.trial_end - done.subscription.trial_start == 14 * DAY

    portal = stripe.billing_portal.Session.create(customer=done.customer, return_url="https://example.com/account")
    page = requests.get(portal.url)
    assert page.status_code == 200 and done.subscription.id in page.text
    cancel = requests.post(f"{portal.url}/cancel", data={"subscription": done.subscription.id}, allow_redirects=False)
    assert cancel.status_code == 303
    assert stripe.Subscription.retrieve(done.subscription.id).cancel_at_period_end is True


def test_connect_checkout_with_application_fee_and_connect_webhook(webhook_receiver, tag):
    url, received = webhook_receiver
    endpoint = stripe.WebhookEndpoint.create(url=url, enabled_events=["checkout.session.completed"], connect=True)
    try:
        account = stripe.Account.create(controller={"stripe_dashboard": {"type": "none"}})
        product = stripe.Product.create(name="Tenant plan", stripe_account=account.id)
        price = stripe.Price.create(
            product=product.id,
            currency="usd",
            unit_amount=4000,
            recurring={"interval": "month"},
            stripe_account=account.id,
        )
        session = stripe.checkout.Session.create(
            mode="subscription",
            line_items=[{"price": price.id}],
            success_url="https://example.com/done",
            subscription_data={"application_fee_percent": 10},
            client_reference_id=tag,
            stripe_account=account.id,
        )
        assert requests.post(session.url, data=card_form("4242424242424242"), allow_redirects=False).status_code == 303
        fees = stripe.ApplicationFee.list(limit=5)
        assert any(fee.account == account.id and fee.amount == 400 for fee in fees.data)
        payload, signature = received.get(timeout=5)
        event = stripe.Webhook.construct_event(payload, signature, endpoint.secret)
        assert event.type == "checkout.session.completed"
        assert event.account == account.id
        assert event.data.object.client_reference_id == tag
    finally:
        stripe.WebhookEndpoint.delete(endpoint.id)
