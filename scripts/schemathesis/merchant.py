"""Makes the merchant the API fuzzing runs as, the way a person would: signs
up on the web pages, connects Stripe (the embedded emulator's hosted
onboarding), creates an API key on the dashboard, and seeds a feature, a plan
with a price, a grant and a customer through the API, so the fuzzer's lists
and lookups meet real objects. Prints only the API key on stdout.

Usage: python merchant.py http://127.0.0.1:PORT
"""

import re
import sys
import time

import requests

SLUG = "fuzz"


def csrf_token(session: requests.Session, base: str, page: str) -> str:
    """The CSRF token of the first form on `page`."""
    response = session.get(base + page)
    response.raise_for_status()
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    if not match:
        sys.exit(f"merchant: no CSRF field on {page}")
    return match.group(1)


def submit(session: requests.Session, base: str, page: str, action: str, fields: dict) -> requests.Response:
    """Posts a form with the CSRF token from `page`, as a browser would."""
    form = {"csrf_token": csrf_token(session, base, page), **fields}
    return session.post(base + action, data=form)


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        sys.exit(f"merchant: {what} answered {response.status_code}, not {status}: {response.text[:500]}")
    return response


def main() -> None:
    base = sys.argv[1].rstrip("/")
    browser = requests.Session()

    expect(
        submit(browser, base, "/signup", "/signup", {
            "business_name": "Fuzz Ltd",
            "slug": SLUG,
            "email": f"owner@{SLUG}.example.com",
            "password": f"{SLUG}-correct-horse-battery",
        }),
        200,
        "sign-up (followed to the dashboard)",
    )
    # Connect: the dashboard redirects to the emulator's onboarding page, whose
    # form completes it and comes back to /dashboard/connect/return.
    onboarding = expect(
        submit(browser, base, "/dashboard", "/dashboard/connect", {}), 200, "Connect with Stripe"
    )
    expect(browser.post(onboarding.url), 200, "completing the emulator's onboarding")

    page = expect(
        submit(browser, base, "/dashboard", "/dashboard/api_keys", {"name": "schemathesis"}),
        201,
        "creating an API key",
    )
    match = re.search(r'id="new-key">([^<]+)<', page.text)
    if not match:
        sys.exit("merchant: the new API key is not on the page")
    key = match.group(1)

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    deadline = time.monotonic() + 30
    while api.get(base + "/v1/tenant").json().get("status") != "active":
        if time.monotonic() > deadline:
            sys.exit("merchant: the tenant did not become active after onboarding")
        time.sleep(0.2)

    def create(path: str, body: dict) -> dict:
        response = api.post(base + path, json=body)
        if not response.ok:
            sys.exit(f"merchant: POST {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    feature = create("/v1/features", {"lookup_key": "seats", "name": "Seats", "kind": {"kind": "limit", "reset": "never"}})
    plan = create("/v1/plans", {"name": "Pro", "prices": [{"currency": "usd", "model": {"kind": "flat", "amount_minor": 1500}, "interval": {"unit": "month", "count": 1}}]})
    create(f"/v1/plans/{plan['id']}/grants", {"feature": feature["id"], "value": {"kind": "limit", "value": 10}})
    create("/v1/customers", {"email": "ada@example.com", "name": "Ada"})
    print(key)


if __name__ == "__main__":
    main()
