"""Regenerates templates.json from Stripe's fixtures3.json.

Each emitted object starts from Stripe's own example so its key set matches
Stripe's by construction; the example's placeholder values are reset here to
the neutral values a freshly created object carries.
Run: python3 extract.py ../../../../../shared/stripe/fixtures3.json > templates.json
"""
import json
import sys

KINDS = {
    "customer": {"discount": None, "currency": None},
    "product": {"tax_details": None, "default_price": None, "description": None, "package_dimensions": None, "type": "service"},
    "price": {"transform_quantity": None, "custom_unit_amount": None},
    "account": {"email": None, "type": "custom"},
    "account_link": {},
    "payment_method": {"metadata": {}, "billing_details": {"address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}, "email": None, "name": None, "phone": None, "tax_id": None}},
    "setup_intent": {"allowed_payment_method_types": None, "last_setup_error": None, "next_action": None, "payment_method_configuration_details": None},
    "payment_intent": {"allowed_payment_method_types": None, "payment_record": None, "last_payment_error": None, "next_action": None, "canceled_at": None, "payment_method_configuration_details": None, "processing": None, "shipping": None, "transfer_data": None, "automatic_payment_methods": None, "managed_payments": None},
    "checkout.session": {"allowed_payment_method_types": None, "after_expiration": None, "shipping_address_collection": None, "shipping_cost": None, "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}, "custom_text": {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None}, "payment_method_configuration_details": None, "collected_information": None, "currency_conversion": None, "customer_details": None, "adaptive_pricing": {"enabled": False}, "managed_payments": None, "invoice_creation": None},
    "subscription": {"cancel_at": None, "canceled_at": None, "ended_at": None, "trial_end": None, "trial_start": None, "billing_cycle_anchor_config": None, "next_pending_invoice_item_invoice": None, "pause_collection": None, "pending_invoice_item_interval": None, "pending_update": None, "transfer_data": None, "cancel_at_period_end": False, "billing_thresholds": None, "billing_mode": {"type": "classic", "flexible": None}, "cancellation_details": {"comment": None, "feedback": None, "feedback_option": None, "reason": None}, "managed_payments": None, "billing_schedules": [], "payment_settings": {"payment_method_options": None, "payment_method_types": None, "save_default_payment_method": "off"}},
    "subscription_item": {"current_trial": None, "billing_thresholds": None, "plan": None},
    "invoice": {"from_invoice": None, "last_finalization_error": None, "shipping_cost": None, "shipping_details": None, "webhooks_delivered_at": None, "amount_overpaid": 0, "due_date": None, "effective_at": None, "next_payment_attempt": None, "customer_shipping": None, "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None}},
    "line_item": {},
    "item": {"adjustable_quantity": None},
    "charge": {"balance_transaction": None, "source": None, "transfer_data": None, "receipt_url": None, "description": None, "captured": True},
    "refund": {"destination_details": None},
    "application_fee": {"balance_transaction": None, "application": None},
    "billing_portal.session": {"configuration": "bpc_emulator", "flow": None, "livemode": False},
    "event": {},
    "invoiceitem": {"net_amount": 0, "quantity_decimal": None},
    "webhook_endpoint": {"description": None},
    "test_helpers.test_clock": {},
    "dispute": {"amount": 0, "balance_transactions": [], "charge": None, "currency": "usd", "evidence_details": {"due_by": None, "has_evidence": False, "past_due": False, "submission_count": 0, "enhanced_eligibility": {}}, "is_charge_refundable": False, "payment_intent": None, "reason": "fraudulent", "status": "needs_response", "enhanced_eligibility_types": []},
    "invoice_payment": {"amount_paid": None, "amount_requested": 0, "currency": "usd", "invoice": None, "is_default": True, "payment": {"type": "payment_intent", "payment_intent": None}, "status": "open"},
}

# Keys the 2026-08 fixtures still carry but 2026-10-28.endive no longer returns
# (absent from stripe-node 23.1.0's types); the overrides above likewise add the
# keys those types declare as always present that the fixtures predate.
DROPPED = {
    "invoice": ["subscription"],
}
# Nested keys those types declare that the fixtures predate, merged into the
# fixture's value (unlike KINDS, which replaces top-level values whole).
NESTED_ADDED = {
    "account": {"business_profile": {"specified_commercial_transactions_act_url": None}},
}

fixtures = json.load(open(sys.argv[1]))["resources"]
out = {}
for kind, overrides in KINDS.items():
    obj = dict(fixtures[kind])
    obj.update(overrides)
    for key in DROPPED.get(kind, []):
        del obj[key]
    for key, added in NESTED_ADDED.get(kind, {}).items():
        obj[key] = {**obj[key], **added}
    out[kind] = obj
print(json.dumps(out, indent=1, sort_keys=True))
