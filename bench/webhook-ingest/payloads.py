"""Writes N signed `payment_intent.succeeded` deliveries, one per line as
`<Stripe-Signature>\t<body>`, built from Stripe's own example payment intent
(`shared/stripe/fixtures3.json`). Each event and payment intent id is
distinct; the signature is Stripe's scheme (`t=…,v1=HMAC-SHA256(secret,
"t.body")`), made with stripe-python's own signer."""

import json
import sys
import time

from stripe import WebhookSignature

fixtures, count, secret, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
payment_intent = json.load(open(fixtures))["resources"]["payment_intent"]
now = int(time.time())
with open(out, "w") as lines:
    for n in range(count):
        obj = dict(payment_intent, id=f"pi_bench{n:08d}", customer=f"cus_bench{n % 997:05d}",
                   amount=1000 + n % 5000, amount_received=1000 + n % 5000, status="succeeded",
                   created=now)
        event = {
            "id": f"evt_bench{now}{n:08d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": now,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "payment_intent.succeeded",
        }
        body = json.dumps(event, separators=(",", ":"))
        signature = WebhookSignature._compute_signature(f"{now}.{body}", secret)
        assert "\t" not in body and "\n" not in body
        lines.write(f"t={now},v1={signature}\t{body}\n")
