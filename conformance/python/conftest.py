"""Points the official Stripe client at the emulator started by scripts/conformance-python.sh."""

import http.server
import os
import queue
import threading
import time
import uuid

import pytest
import stripe

BASE_URL = os.environ.get("STRIPE_EMULATOR_URL", "http://127.0.0.1:12111")


@pytest.fixture(autouse=True, scope="session")
def configure_stripe():
    stripe.api_key = "sk_test_conformance"
    stripe.api_base = BASE_URL
    stripe.max_network_retries = 0
    yield


@pytest.fixture
def tag():
    """A unique marker so tests do not see each other's objects."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def monthly_price():
    product = stripe.Product.create(name="Pro plan")
    return stripe.Price.create(
        product=product.id, currency="usd", unit_amount=1000, recurring={"interval": "month"}, nickname="Pro"
    )


@pytest.fixture
def webhook_receiver():
    """A local HTTP server recording webhook deliveries (raw body + signature header)."""
    received = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((body.decode("utf-8"), self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", received
    server.shutdown()


def wait_for(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
