'use strict';
// Billing flows with the official Node client: hosted checkout, prorations,
// cancellation, invoices, refunds, webhooks and test clocks.

const assert = require('node:assert/strict');
const {test} = require('node:test');
const {
  Stripe,
  assertObjectShape,
  assertShape,
  cardForm,
  monthlyPrice,
  stripe,
  submitHostedForm,
  tag,
  waitFor,
  withWebhookEndpoint,
} = require('./support');

const DAY = 86_400;

async function subscribedCustomer(price, marker, extra = {}) {
  const customer = await stripe.customers.create({
    email: `${marker}@example.com`,
    payment_method: 'pm_card_visa',
    invoice_settings: {default_payment_method: 'pm_card_visa'},
    ...extra,
  });
  const subscription = await stripe.subscriptions.create({customer: customer.id, items: [{price: price.id}]});
  assert.equal(subscription.status, 'active');
  return {customer, subscription};
}

test('subscription checkout completed through the hosted form', async () => {
  const marker = tag();
  const price = await monthlyPrice();
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    line_items: [{price: price.id, quantity: 2}],
    success_url: 'https://example.com/done?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://example.com/cancel',
    client_reference_id: marker,
    metadata: {tag: marker},
    subscription_data: {metadata: {plan: 'pro'}},
  });
  assertShape(session, 'Checkout/Sessions.d.ts', 'Session');
  assert.equal(session.status, 'open');
  assert.equal(session.amount_total, 2000);

  const declined = await submitHostedForm(session.url, cardForm('4000 0000 0000 0002'));
  assert.equal(declined.status, 402);
  assert.match(await declined.text(), /declined/);

  const posted = await submitHostedForm(session.url, cardForm('4242 4242 4242 4242'));
  assert.equal(posted.status, 303);
  const location = new URL(posted.headers.get('location'));
  assert.equal(location.origin + location.pathname, 'https://example.com/done');
  assert.equal(location.searchParams.get('session'), session.id);

  const done = await stripe.checkout.sessions.retrieve(session.id);
  assert.equal(done.status, 'complete');
  assert.equal(done.payment_status, 'paid');
  assert.equal(done.client_reference_id, marker);
  assert.deepEqual(done.metadata, {tag: marker});
  const lineItems = await stripe.checkout.sessions.listLineItems(session.id);
  assert.deepEqual(
    lineItems.data.map((item) => [item.price.id, item.quantity, item.amount_total]),
    [[price.id, 2, 2000]],
  );

  const subscription = await stripe.subscriptions.retrieve(done.subscription, {expand: ['latest_invoice']});
  assertShape(subscription, 'Subscriptions.d.ts', 'Subscription');
  assert.equal(subscription.status, 'active');
  assert.equal(subscription.customer, done.customer);
  assert.deepEqual(subscription.metadata, {plan: 'pro'});
  const item = subscription.items.data[0];
  assertShape(item, 'SubscriptionItems.d.ts', 'SubscriptionItem');
  assert.equal(item.quantity, 2);
  assert.ok(item.current_period_end > item.current_period_start);
  const invoice = subscription.latest_invoice;
  assertShape(invoice, 'Invoices.d.ts', 'Invoice');
  assert.equal(invoice.status, 'paid');
  assert.equal(invoice.amount_paid, 2000);
  assert.equal(invoice.billing_reason, 'subscription_create');
  assert.equal(invoice.parent.subscription_details.subscription, subscription.id);
  for (const line of invoice.lines.data) {
    assertShape(line, 'InvoiceLineItems.d.ts', 'InvoiceLineItem');
  }

  const withPayments = await stripe.invoices.retrieve(invoice.id, {expand: ['payments']});
  assert.equal(withPayments.payments.data.length, 1);
  const payment = withPayments.payments.data[0];
  assertShape(payment, 'InvoicePayments.d.ts', 'InvoicePayment');
  assert.equal(payment.status, 'paid');
  assert.equal(payment.amount_paid, 2000);
  const intent = await stripe.paymentIntents.retrieve(payment.payment.payment_intent);
  assertShape(intent, 'PaymentIntents.d.ts', 'PaymentIntent');
  assert.equal(intent.status, 'succeeded');
  assert.equal(intent.amount, 2000);
});

test('Connect: subscription checkout on a connected account takes the application fee', async () => {
  const params = {enabled_events: ['checkout.session.completed'], connect: true};
  await withWebhookEndpoint(params, async (receiver, endpoint) => {
    const marker = tag();
    const account = await stripe.accounts.create({controller: {stripe_dashboard: {type: 'none'}}});
    const scope = {stripeAccount: account.id};
    const price = await monthlyPrice(scope);
    const session = await stripe.checkout.sessions.create(
      {
        mode: 'subscription',
        line_items: [{price: price.id}],
        success_url: 'https://example.com/done',
        subscription_data: {application_fee_percent: 10},
        client_reference_id: marker,
      },
      scope,
    );
    assert.equal((await submitHostedForm(session.url, cardForm('4242424242424242'))).status, 303);
    const fees = await stripe.applicationFees.list({limit: 5});
    const fee = fees.data.find((candidate) => candidate.account === account.id);
    assert.ok(fee, 'the platform collected a fee from the connected account');
    assertShape(fee, 'ApplicationFees.d.ts', 'ApplicationFee');
    assert.equal(fee.amount, 100);

    const delivery = await receiver.next();
    const event = stripe.webhooks.constructEvent(delivery.body, delivery.signature, endpoint.secret);
    assert.equal(event.type, 'checkout.session.completed');
    assert.equal(event.account, account.id);
    assert.equal(event.data.object.client_reference_id, marker);

    const accountEvents = await stripe.events.list({limit: 100}, scope).autoPagingToArray({limit: 1000});
    assert.ok(accountEvents.some((listed) => listed.id === event.id));
    for (const listed of accountEvents) {
      assert.equal(listed.account, account.id);
      assertObjectShape(listed.data.object);
    }
  });
});

test('price change with proration, then an immediately invoiced change', async () => {
  const marker = tag();
  const price = await monthlyPrice();
  const {customer, subscription} = await subscribedCustomer(price, marker);
  const bigger = await stripe.prices.create({
    product: price.product,
    currency: 'usd',
    unit_amount: 3000,
    recurring: {interval: 'month'},
  });
  const item = subscription.items.data[0];
  const updated = await stripe.subscriptions.update(subscription.id, {
    items: [{id: item.id, price: bigger.id}],
    proration_behavior: 'create_prorations',
  });
  assert.equal(updated.items.data[0].id, item.id);
  assert.equal(updated.items.data[0].price.id, bigger.id);

  const pending = await stripe.invoiceItems.list({customer: customer.id, pending: true});
  for (const line of pending.data) {
    assertShape(line, 'InvoiceItems.d.ts', 'InvoiceItem');
  }
  const amounts = pending.data.map((line) => line.amount).sort((a, b) => a - b);
  assert.equal(amounts.length, 2);
  assert.ok(
    pending.data.every((line) => line.parent.subscription_details.subscription === subscription.id),
    'proration items name their subscription',
  );
  assert.ok(amounts[0] >= -1000 && amounts[0] < -990, `unused time credit ${amounts[0]}`);
  assert.ok(amounts[1] > 2970 && amounts[1] <= 3000, `remaining time charge ${amounts[1]}`);
  const preview = await stripe.invoices.createPreview({customer: customer.id, subscription: subscription.id});
  assert.equal(preview.total, 3000 + amounts[0] + amounts[1]);

  const immediate = await stripe.subscriptions.update(subscription.id, {
    items: [{id: item.id, price: price.id}],
    proration_behavior: 'always_invoice',
  });
  const invoice = await stripe.invoices.retrieve(immediate.latest_invoice);
  assert.equal(invoice.billing_reason, 'subscription_update');
  assert.equal(invoice.status, 'paid');
  assert.equal(
    invoice.total,
    invoice.lines.data.reduce((sum, line) => sum + line.amount, 0),
  );
});

test('cancel at period end, then cancel now', async () => {
  const price = await monthlyPrice();
  const {subscription} = await subscribedCustomer(price, tag());
  const scheduled = await stripe.subscriptions.update(subscription.id, {cancel_at_period_end: true});
  assert.equal(scheduled.cancel_at_period_end, true);
  assert.equal(scheduled.status, 'active');
  assert.equal(scheduled.cancel_at, scheduled.items.data[0].current_period_end);

  const resumed = await stripe.subscriptions.update(subscription.id, {cancel_at_period_end: false});
  assert.equal(resumed.cancel_at_period_end, false);
  assert.equal(resumed.cancel_at, null);

  const canceled = await stripe.subscriptions.cancel(subscription.id);
  assert.equal(canceled.status, 'canceled');
  assert.ok(canceled.ended_at, 'ended_at is set');
  assert.ok(canceled.canceled_at, 'canceled_at is set');
  const again = await stripe.subscriptions.cancel(subscription.id).catch((error) => error);
  assert.ok(again instanceof Stripe.errors.StripeInvalidRequestError, String(again));
});

test('invoices: list, retrieve, pay after a decline', async () => {
  const marker = tag();
  const price = await monthlyPrice();
  const customer = await stripe.customers.create({email: `${marker}@example.com`});
  const subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{price: price.id}],
    payment_behavior: 'default_incomplete',
  });
  assert.equal(subscription.status, 'incomplete');
  const invoices = await stripe.invoices.list({customer: customer.id});
  assert.deepEqual(
    invoices.data.map((invoice) => invoice.id),
    [subscription.latest_invoice],
  );
  const open = await stripe.invoices.retrieve(subscription.latest_invoice);
  assertShape(open, 'Invoices.d.ts', 'Invoice');
  assert.equal(open.status, 'open');
  assert.equal(open.amount_due, 1000);
  assert.equal(open.customer, customer.id);
  assert.equal(open.lines.data[0].pricing.price_details.price, price.id);

  const declined = await stripe.invoices
    .pay(open.id, {payment_method: 'pm_card_chargeDeclined'})
    .catch((error) => error);
  assert.ok(declined instanceof Stripe.errors.StripeCardError, String(declined));
  assert.equal(declined.code, 'card_declined');
  const paid = await stripe.invoices.pay(open.id, {payment_method: 'pm_card_visa'});
  assert.equal(paid.status, 'paid');
  assert.equal(paid.amount_paid, 1000);
  assert.equal((await stripe.subscriptions.retrieve(subscription.id)).status, 'active');
  const bySubscription = await stripe.invoices.list({subscription: subscription.id, status: 'paid'});
  assert.deepEqual(
    bySubscription.data.map((invoice) => invoice.id),
    [open.id],
  );
  const voided = await stripe.invoices.voidInvoice(paid.id).catch((error) => error);
  assert.ok(voided instanceof Stripe.errors.StripeInvalidRequestError, String(voided));
});

test('refunds: partial, then the rest, then nothing left', async () => {
  const intent = await stripe.paymentIntents.create({
    amount: 2000,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: true,
    payment_method_types: ['card'],
  });
  assertShape(intent, 'PaymentIntents.d.ts', 'PaymentIntent');
  assert.equal(intent.status, 'succeeded');

  const partial = await stripe.refunds.create({payment_intent: intent.id, amount: 500});
  assertShape(partial, 'Refunds.d.ts', 'Refund');
  assert.equal(partial.status, 'succeeded');
  assert.equal(partial.amount, 500);
  const charge = await stripe.charges.retrieve(intent.latest_charge);
  assertShape(charge, 'Charges.d.ts', 'Charge');
  assert.equal(charge.amount_refunded, 500);
  assert.equal(charge.refunded, false);

  const rest = await stripe.refunds.create({charge: charge.id});
  assert.equal(rest.amount, 1500);
  const refunded = await stripe.charges.retrieve(charge.id);
  assert.equal(refunded.refunded, true);
  assert.equal(refunded.amount_refunded, 2000);
  const listed = await stripe.refunds.list({charge: charge.id});
  assert.deepEqual(
    listed.data.map((refund) => refund.id),
    [rest.id, partial.id],
  );
  const nothingLeft = await stripe.refunds.create({charge: charge.id}).catch((error) => error);
  assert.ok(nothingLeft instanceof Stripe.errors.StripeInvalidRequestError, String(nothingLeft));
});

test('webhook deliveries pass stripe.webhooks.constructEvent', async () => {
  await withWebhookEndpoint({enabled_events: ['customer.created']}, async (receiver, endpoint) => {
    assertShape(endpoint, 'WebhookEndpoints.d.ts', 'WebhookEndpoint');
    assert.match(endpoint.secret, /^whsec_/);
    const customer = await stripe.customers.create({email: `${tag()}@example.com`});
    let delivery;
    let event;
    do {
      delivery = await receiver.next();
      event = stripe.webhooks.constructEvent(delivery.body, delivery.signature, endpoint.secret);
    } while (event.data.object.id !== customer.id);
    assertShape(event, 'Events.d.ts', 'EventBase');
    assert.equal(event.type, 'customer.created');
    assert.equal(event.data.object.email, customer.email);
    assert.equal((await stripe.events.retrieve(event.id)).id, event.id);

    const asyncEvent = await stripe.webhooks.constructEventAsync(delivery.body, delivery.signature, endpoint.secret);
    assert.equal(asyncEvent.id, event.id);
    assert.throws(
      () => stripe.webhooks.constructEvent(`${delivery.body} `, delivery.signature, endpoint.secret),
      Stripe.errors.StripeSignatureVerificationError,
    );
    assert.throws(
      () => stripe.webhooks.constructEvent(delivery.body, delivery.signature, 'whsec_wrong'),
      Stripe.errors.StripeSignatureVerificationError,
    );
  });
});

test('a test clock advanced through a renewal', async () => {
  const marker = tag();
  const price = await monthlyPrice();
  const start = Math.floor(Date.now() / 1000);
  const clock = await stripe.testHelpers.testClocks.create({frozen_time: start, name: marker});
  assertShape(clock, 'TestHelpers/TestClocks.d.ts', 'TestClock');
  assert.equal(clock.status, 'ready');
  const {subscription} = await subscribedCustomer(price, marker, {test_clock: clock.id});
  const firstEnd = subscription.items.data[0].current_period_end;
  assert.ok(firstEnd - start >= 28 * DAY && firstEnd - start <= 31 * DAY);

  const advancing = await stripe.testHelpers.testClocks.advance(clock.id, {frozen_time: firstEnd + 3600});
  assert.equal(advancing.frozen_time, firstEnd + 3600);
  await waitFor(async () => (await stripe.testHelpers.testClocks.retrieve(clock.id)).status === 'ready');

  const renewed = await stripe.subscriptions.retrieve(subscription.id, {expand: ['latest_invoice']});
  assert.equal(renewed.status, 'active');
  assert.equal(renewed.items.data[0].current_period_start, firstEnd);
  assert.ok(renewed.items.data[0].current_period_end > firstEnd);
  assert.equal(renewed.latest_invoice.billing_reason, 'subscription_cycle');
  assert.equal(renewed.latest_invoice.status, 'paid');
  assert.equal(renewed.latest_invoice.amount_paid, 1000);
  const invoices = await stripe.invoices.list({subscription: subscription.id});
  assert.deepEqual(
    invoices.data.map((invoice) => invoice.billing_reason),
    ['subscription_cycle', 'subscription_create'],
  );
  const backwards = await stripe.testHelpers.testClocks.advance(clock.id, {frozen_time: start}).catch((e) => e);
  assert.ok(backwards instanceof Stripe.errors.StripeInvalidRequestError, String(backwards));
  await stripe.testHelpers.testClocks.del(clock.id);
});

test('every event the flows above sent carries objects of Stripe’s shapes', async () => {
  const kinds = new Set();
  for await (const event of stripe.events.list({limit: 100})) {
    assertShape(event, 'Events.d.ts', 'EventBase');
    assertObjectShape(event.data.object);
    kinds.add(event.data.object.object);
  }
  for (const kind of ['customer', 'subscription', 'invoice', 'invoiceitem', 'payment_intent', 'checkout.session']) {
    assert.ok(kinds.has(kind), `no ${kind} event among ${[...kinds]}`);
  }
});
