"""Wire-level behaviour: customers and pagination, products and prices, errors, idempotency, Connect scoping."""

import pytest
import requests
import stripe


def test_customers_paginate_newest_first(tag):
    created = [stripe.Customer.create(email=f"{tag}-{n}@example.com", metadata={"tag": tag}) for n in range(5)]
    first = stripe.Customer.list(limit=2)
    assert [c.id for c in first.data] == [created[4].id, created[3].id]
    assert first.has_more is True
    after = stripe.Customer.list(limit=2, starting_after=created[3].id)
    assert [c.id for c in after.data] == [created[2].id, created[1].id]
    before = stripe.Customer.list(limit=2, ending_before=created[1].id)
    assert [c.id for c in before.data] == [created[3].id, created[2].id]
    walked = [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter() if c.metadata.to_dict().get("tag") == tag]
    assert walked == [c.id for c in reversed(created)]
    only = stripe.Customer.list(email=f"{tag}-0@example.com")
    assert [c.id for c in only.data] == [created[0].id]


def test_customer_update_and_delete(tag):
    customer = stripe.Customer.create(email=f"{tag}@example.com", metadata={"a": "1", "b": "2"})
    updated = stripe.Customer.modify(customer.id, name="Ada", metadata={"a": "", "c": "3"})
    assert updated.name == "Ada"
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    deleted = stripe.Customer.delete(customer.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Customer.retrieve(customer.id)
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_products_and_prices(tag):
    product = stripe.Product.create(name="Seats", metadata={"tag": tag})
    assert product.id.startswith("prod_")
    flat = stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount=1500,
        recurring={"interval": "week", "interval_count": 2},
        lookup_key=f"seats-{tag}",
    )
    assert flat.recurring.interval == "week" and flat.recurring.interval_count == 2
    graduated = stripe.Price.create(
        product=product.id,
        currency="usd",
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 5, "unit_amount": 1000}, {"up_to": "inf", "unit_amount": 500}],
        recurring={"interval": "month"},
    )
    assert graduated.tiers_mode == "graduated" and graduated.unit_amount is None
    once = stripe.Price.create(product_data={"name": "Setup fee"}, currency="usd", unit_amount=5000)
    assert once.type == "one_time" and once.recurring is None
    found = stripe.Price.list(lookup_keys=[f"seats-{tag}"])
    assert [p.id for p in found.data] == [flat.id]
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Price.create(product=product.id, currency="usd", unit_amount=1, lookup_key=f"seats-{tag}")
    moved = stripe.Price.create(
        product=product.id, currency="usd", unit_amount=1, lookup_key=f"seats-{tag}", transfer_lookup_key=True
    )
    assert stripe.Price.retrieve(flat.id).lookup_key is None
    assert stripe.Price.list(lookup_keys=[f"seats-{tag}"]).data[0].id == moved.id


def test_errors_have_stripes_shape():
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe.Customer.create(favourite_colour="blue")
    assert unknown.value.code == "parameter_unknown"
    assert unknown.value.param == "favourite_colour"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Price.create(currency="usd", unit_amount=100)
    assert missing.value.code == "parameter_missing"
    assert missing.value.param == "product"
    with pytest.raises(stripe.AuthenticationError) as live:
        stripe.Customer.list(api_key="sk_live_123456")
    assert live.value.http_status == 401


def test_idempotent_replay_and_mismatch(tag):
    first = stripe.Customer.create(email=f"{tag}@example.com", idempotency_key=f"key-{tag}")
    again = stripe.Customer.create(email=f"{tag}@example.com", idempotency_key=f"key-{tag}")
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        stripe.Customer.create(email=f"other-{tag}@example.com", idempotency_key=f"key-{tag}")


def test_connect_accounts_links_and_scoping(tag):
    account = stripe.Account.create(
        controller={
            "stripe_dashboard": {"type": "express"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
        },
        email=f"{tag}@example.com",
    )
    assert account.id.startswith("acct_") and account.charges_enabled is False
    link = stripe.AccountLink.create(
        account=account.id,
        type="account_onboarding",
        refresh_url="https://example.com/refresh",
        return_url="https://example.com/return",
    )
    page = requests.get(link.url)
    assert page.status_code == 200 and "onboarding" in page.text.lower()
    done = requests.post(link.url, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "https://example.com/return"
    again = requests.get(link.url, allow_redirects=False)
    assert again.headers["Location"] == "https://example.com/refresh"
    onboarded = stripe.Account.retrieve(account.id)
    assert onboarded.charges_enabled is True and onboarded.details_submitted is True

    customer = stripe.Customer.create(email=f"{tag}@example.com", stripe_account=account.id)
    assert stripe.Customer.retrieve(customer.id, stripe_account=account.id).id == customer.id
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        stripe.Customer.retrieve(customer.id)
    assert hidden.value.http_status == 404
    with pytest.raises(stripe.PermissionError) as unknown:
        stripe.Customer.list(stripe_account="acct_doesnotexist")
    assert unknown.value.http_status == 403
