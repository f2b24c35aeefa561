'use strict';
// Wire-level behaviour with the official Node client: customers and
// auto-pagination, products and prices, typed errors, idempotency, Connect.

const assert = require('node:assert/strict');
const {test} = require('node:test');
const {Stripe, assertShape, client, stripe, submitHostedForm, tag} = require('./support');

/** A fresh connected account: a scope no other test writes to. */
function freshAccount() {
  return stripe.accounts.create({controller: {stripe_dashboard: {type: 'none'}}});
}

test('customers: create, retrieve, update, list and auto-paginate across pages', async () => {
  const account = await freshAccount();
  const scope = {stripeAccount: account.id};
  const created = [];
  for (let n = 0; n < 7; n++) {
    created.push(await stripe.customers.create({email: `c${n}@example.com`, metadata: {n: String(n)}}, scope));
  }
  const newestFirst = created.map((customer) => customer.id).reverse();
  assertShape(created[0], 'Customers.d.ts', 'Customer');

  const fetched = await stripe.customers.retrieve(created[0].id, {}, scope);
  assert.equal(fetched.email, 'c0@example.com');
  assert.deepEqual(fetched.metadata, {n: '0'});

  const updated = await stripe.customers.update(
    created[0].id,
    {name: 'Ada Lovelace', metadata: {n: '', team: 'analytical'}},
    scope,
  );
  assert.equal(updated.name, 'Ada Lovelace');
  assert.deepEqual(updated.metadata, {team: 'analytical'});

  const firstPage = await stripe.customers.list({limit: 3}, scope);
  assert.equal(firstPage.object, 'list');
  assert.equal(firstPage.url, '/v1/customers');
  assert.equal(firstPage.has_more, true);
  assert.deepEqual(
    firstPage.data.map((customer) => customer.id),
    newestFirst.slice(0, 3),
  );

  const walked = [];
  await stripe.customers.list({limit: 3}, scope).autoPagingEach((customer) => {
    walked.push(customer.id);
  });
  assert.deepEqual(walked, newestFirst);

  const iterated = [];
  for await (const customer of stripe.customers.list({limit: 3}, scope)) {
    iterated.push(customer.id);
  }
  assert.deepEqual(iterated, newestFirst);

  const backwards = await stripe.customers.list({limit: 2, ending_before: created[2].id}, scope);
  assert.deepEqual(
    backwards.data.map((customer) => customer.id),
    [created[4].id, created[3].id],
  );
  const newer = await stripe.customers
    .list({limit: 2, ending_before: created[1].id}, scope)
    .autoPagingToArray({limit: 10});
  assert.deepEqual(
    newer.map((customer) => customer.id),
    created.slice(2).map((customer) => customer.id),
    'auto-pagination from ending_before walks towards newer objects, oldest first',
  );

  const deleted = await stripe.customers.del(created[1].id, {}, scope);
  assert.deepEqual(deleted, {id: created[1].id, object: 'customer', deleted: true});
  const missing = await stripe.customers.retrieve(created[1].id, {}, scope).catch((error) => error);
  assert.ok(missing instanceof Stripe.errors.StripeInvalidRequestError);
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, 'resource_missing');
});

test('products and prices: flat, tiered, lookup_key', async () => {
  const marker = tag();
  const product = await stripe.products.create({name: 'Seats', metadata: {tag: marker}});
  assert.match(product.id, /^prod_/);
  assertShape(product, 'Products.d.ts', 'Product');

  const flat = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1500,
    recurring: {interval: 'week', interval_count: 2},
    lookup_key: `seats-${marker}`,
  });
  assertShape(flat, 'Prices.d.ts', 'Price');
  assert.equal(flat.type, 'recurring');
  assert.equal(flat.billing_scheme, 'per_unit');
  assert.equal(flat.recurring.interval, 'week');
  assert.equal(flat.recurring.interval_count, 2);
  assert.equal(flat.lookup_key, `seats-${marker}`);

  const tiered = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    billing_scheme: 'tiered',
    tiers_mode: 'volume',
    tiers: [
      {up_to: 10, unit_amount: 1000},
      {up_to: 'inf', unit_amount: 800, flat_amount: 500},
    ],
    recurring: {interval: 'month'},
    expand: ['tiers'],
  });
  assertShape(tiered, 'Prices.d.ts', 'Price');
  assert.equal(tiered.unit_amount, null);
  assert.equal(tiered.tiers_mode, 'volume');
  assert.deepEqual(
    tiered.tiers.map((tier) => [tier.up_to, tier.unit_amount, tier.flat_amount]),
    [
      [10, 1000, null],
      [null, 800, 500],
    ],
  );

  const once = await stripe.prices.create({product_data: {name: 'Setup fee'}, currency: 'usd', unit_amount: 5000});
  assert.equal(once.type, 'one_time');
  assert.equal(once.recurring, null);

  const found = await stripe.prices.list({lookup_keys: [`seats-${marker}`]});
  assert.deepEqual(
    found.data.map((price) => price.id),
    [flat.id],
  );
  const taken = await stripe.prices
    .create({product: product.id, currency: 'usd', unit_amount: 1, lookup_key: `seats-${marker}`})
    .catch((error) => error);
  assert.ok(taken instanceof Stripe.errors.StripeInvalidRequestError, String(taken));
  const moved = await stripe.prices.create({
    product: product.id,
    currency: 'usd',
    unit_amount: 1,
    lookup_key: `seats-${marker}`,
    transfer_lookup_key: true,
  });
  assert.equal((await stripe.prices.retrieve(flat.id)).lookup_key, null);
  assert.equal((await stripe.prices.list({lookup_keys: [`seats-${marker}`]})).data[0].id, moved.id);
  const ofProduct = await stripe.prices.list({product: product.id, limit: 10});
  assert.deepEqual(
    ofProduct.data.map((price) => price.id),
    [moved.id, tiered.id, flat.id],
  );
});

test('typed errors: card decline, unknown parameter, missing parameter, live key', async () => {
  const declined = await stripe.paymentIntents
    .create({amount: 2000, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true})
    .catch((error) => error);
  assert.ok(declined instanceof Stripe.errors.StripeCardError, String(declined));
  assert.equal(declined.type, 'StripeCardError');
  assert.equal(declined.statusCode, 402);
  assert.equal(declined.code, 'card_declined');
  assert.equal(declined.decline_code, 'generic_decline');
  assert.ok(declined.requestId, 'card errors carry a request id');

  const unknown = await stripe.customers.create({favourite_colour: 'blue'}).catch((error) => error);
  assert.ok(unknown instanceof Stripe.errors.StripeInvalidRequestError, String(unknown));
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.code, 'parameter_unknown');
  assert.equal(unknown.param, 'favourite_colour');
  assert.match(unknown.message, /favourite_colour/);

  const missing = await stripe.prices.create({currency: 'usd', unit_amount: 100}).catch((error) => error);
  assert.ok(missing instanceof Stripe.errors.StripeInvalidRequestError, String(missing));
  assert.equal(missing.code, 'parameter_missing');
  assert.equal(missing.param, 'product');

  const live = await client('sk_live_123456')
    .customers.list()
    .catch((error) => error);
  assert.ok(live instanceof Stripe.errors.StripeAuthenticationError, String(live));
  assert.equal(live.statusCode, 401);
  assert.doesNotMatch(live.message, /sk_live_123456/, 'the key is not echoed back');

  const unscoped = await stripe.customers.list({}, {stripeAccount: 'acct_doesnotexist'}).catch((error) => error);
  assert.ok(unscoped instanceof Stripe.errors.StripePermissionError, String(unscoped));
  assert.equal(unscoped.statusCode, 403);
});

test('idempotency: replay returns the same object, a different body is refused', async () => {
  const marker = tag();
  const idempotencyKey = `key-${marker}`;
  const first = await stripe.customers.create({email: `${marker}@example.com`}, {idempotencyKey});
  const again = await stripe.customers.create({email: `${marker}@example.com`}, {idempotencyKey});
  assert.equal(again.id, first.id);
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  assert.equal(again.lastResponse.idempotencyKey, idempotencyKey);

  const mismatch = await stripe.customers
    .create({email: `other-${marker}@example.com`}, {idempotencyKey})
    .catch((error) => error);
  assert.ok(mismatch instanceof Stripe.errors.StripeIdempotencyError, String(mismatch));
  assert.equal(mismatch.type, 'StripeIdempotencyError');
  assert.equal(mismatch.statusCode, 400);

  const fresh = await stripe.customers.create({email: `${marker}@example.com`});
  assert.notEqual(fresh.id, first.id, 'the client’s automatic keys are unique per request');
});

test('Connect: controller accounts, account links, and Stripe-Account scoping', async () => {
  const marker = tag();
  const account = await stripe.accounts.create({
    controller: {
      stripe_dashboard: {type: 'express'},
      fees: {payer: 'application'},
      losses: {payments: 'application'},
    },
    email: `${marker}@example.com`,
  });
  assertShape(account, 'Accounts.d.ts', 'Account');
  assert.match(account.id, /^acct_/);
  assert.equal(account.charges_enabled, false);
  assert.equal(account.controller.stripe_dashboard.type, 'express');

  const link = await stripe.accountLinks.create({
    account: account.id,
    type: 'account_onboarding',
    refresh_url: 'https://example.com/refresh',
    return_url: 'https://example.com/return',
  });
  assertShape(link, 'AccountLinks.d.ts', 'AccountLink');
  assert.ok(link.expires_at > link.created);
  const onboarded = await submitHostedForm(link.url);
  assert.equal(onboarded.status, 303);
  assert.equal(onboarded.headers.get('location'), 'https://example.com/return');
  const reused = await fetch(link.url, {redirect: 'manual'});
  assert.equal(reused.headers.get('location'), 'https://example.com/refresh');
  const ready = await stripe.accounts.retrieve(account.id);
  assert.equal(ready.charges_enabled, true);
  assert.equal(ready.details_submitted, true);

  const scope = {stripeAccount: account.id};
  const customer = await stripe.customers.create({email: `${marker}@example.com`}, scope);
  assert.equal(customer.lastResponse.stripeAccount, account.id);
  assert.equal((await stripe.customers.retrieve(customer.id, {}, scope)).id, customer.id);
  const hidden = await stripe.customers.retrieve(customer.id).catch((error) => error);
  assert.ok(hidden instanceof Stripe.errors.StripeInvalidRequestError, String(hidden));
  assert.equal(hidden.statusCode, 404);
  const platformList = await stripe.customers.list({email: `${marker}@example.com`});
  assert.deepEqual(platformList.data, []);
  const accountList = await stripe.customers.list({email: `${marker}@example.com`}, scope);
  assert.deepEqual(
    accountList.data.map((found) => found.id),
    [customer.id],
  );
});

test('payment methods, setup intents and billing portal sessions have Stripe’s shapes', async () => {
  const customer = await stripe.customers.create({email: `${tag()}@example.com`});
  const attached = await stripe.paymentMethods.attach('pm_card_visa', {customer: customer.id});
  assertShape(attached, 'PaymentMethods.d.ts', 'PaymentMethod');
  assert.equal(attached.customer, customer.id);
  assert.equal(attached.card.last4, '4242');
  const listed = await stripe.customers.listPaymentMethods(customer.id);
  assert.deepEqual(
    listed.data.map((method) => method.id),
    [attached.id],
  );

  const setup = await stripe.setupIntents.create({
    customer: customer.id,
    payment_method: 'pm_card_mastercard',
    confirm: true,
    usage: 'off_session',
  });
  assertShape(setup, 'SetupIntents.d.ts', 'SetupIntent');
  assert.equal(setup.status, 'succeeded');

  const portal = await stripe.billingPortal.sessions.create({
    customer: customer.id,
    return_url: 'https://example.com/account',
  });
  assertShape(portal, 'BillingPortal/Sessions.d.ts', 'Session');
  assert.equal((await fetch(portal.url)).status, 200);

  const events = await stripe.events.list({type: 'customer.created', limit: 3});
  for (const event of events.data) {
    assertShape(event, 'Events.d.ts', 'EventBase');
    assertShape(event.data.object, 'Customers.d.ts', 'Customer');
  }
});
