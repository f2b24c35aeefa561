"""The seed's webhook handler (../shared/seed/stripe-integration.md), verbatim
in what it does, as the ingest benchmark's baseline. One change the issue
names: stripe-python 16's StripeObject has no `.get`, so the customer is read
with item access (`payment_intent['customer']`)."""

import os

import stripe
from flask import Flask, request

app = Flask(__name__)
endpoint_secret = os.environ["SEED_WEBHOOK_SECRET"]


@app.route("/webhook", methods=["POST"])
def webhook():
    payload = request.data
    sig_header = request.headers.get("Stripe-Signature")

    try:
        event = stripe.Webhook.construct_event(payload, sig_header, endpoint_secret)
    except ValueError:
        return "Invalid payload", 400
    except stripe.error.SignatureVerificationError:
        return "Invalid signature", 400

    if event["type"] == "payment_intent.succeeded":
        payment_intent = event["data"]["object"]
        handle_successful_payment(payment_intent)

    return "Success", 200


def handle_successful_payment(payment_intent):
    customer_id = payment_intent["customer"]
    amount = payment_intent["amount"]
    metadata = payment_intent["metadata"]
    # The seed prints here; stdout goes to /dev/null in the benchmark.
    print(f"Payment succeeded: {payment_intent['id']} {customer_id} {amount} {metadata}")
