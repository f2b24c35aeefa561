'use strict';
// Shared helpers for the Node conformance suite: a Stripe client pointed at the
// emulator started by scripts/conformance-node.sh, unique tags, hosted-form
// submission, a webhook receiver and a shape check against the client's own
// type definitions.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const Stripe = require('stripe');

const BASE_URL = new URL(process.env.STRIPE_EMULATOR_URL ?? 'http://127.0.0.1:12111');

/**
 * A client configured exactly as the README tells integrators to, with the
 * library's defaults otherwise (so its automatic idempotency keys and retries
 * are exercised too).
 */
function client(key = 'sk_test_conformance') {
  return new Stripe(key, {
    host: BASE_URL.hostname,
    port: Number(BASE_URL.port),
    protocol: 'http',
  });
}

const stripe = client();

/** A unique marker so tests do not see each other's objects. */
function tag() {
  return crypto.randomBytes(6).toString('hex');
}

async function monthlyPrice(options = {}) {
  const product = await stripe.products.create({name: 'Pro plan'}, options);
  return stripe.prices.create(
    {product: product.id, currency: 'usd', unit_amount: 1000, recurring: {interval: 'month'}, nickname: 'Pro'},
    options,
  );
}

/** Decodes the HTML entities the emulator's pages escape attribute values with. */
function decodeEntities(text) {
  const entities = {amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'"};
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name) => entities[name]);
}

/**
 * Fills and submits the first form of a hosted page the way a browser does:
 * GET the page, take the form's `action` (resolved against the page URL) and
 * its named inputs, overlay the values a person would type, and POST them as
 * `application/x-www-form-urlencoded` without following the redirect.
 */
async function submitHostedForm(pageUrl, typed = {}) {
  const page = await fetch(pageUrl);
  const html = await page.text();
  assert.equal(page.status, 200, `GET ${pageUrl}: ${html}`);
  const form = html.match(/<form\b[^>]*>[\s\S]*?<\/form>/i);
  assert.ok(form, `no form on ${pageUrl}`);
  const action = form[0].match(/\baction="([^"]*)"/i)?.[1] ?? '';
  const fields = new URLSearchParams();
  for (const input of form[0].matchAll(/<input\b[^>]*>/gi)) {
    const name = input[0].match(/\bname="([^"]*)"/i)?.[1];
    if (name) {
      fields.set(name, decodeEntities(input[0].match(/\bvalue="([^"]*)"/i)?.[1] ?? ''));
    }
  }
  for (const [name, value] of Object.entries(typed)) {
    assert.ok(fields.has(name), `the form on ${pageUrl} has no field ${name}`);
    fields.set(name, value);
  }
  return fetch(new URL(action, pageUrl), {method: 'POST', body: fields, redirect: 'manual'});
}

function cardForm(number, email = 'buyer@example.com') {
  return {card_number: number, exp_month: '12', exp_year: '2034', cvc: '123', name: 'Ada', email};
}

/**
 * A local HTTP server recording webhook deliveries as raw body + signature
 * header, for `stripe.webhooks.constructEvent`. `next()` resolves with the next
 * delivery (or rejects after a timeout).
 */
async function webhookReceiver() {
  const deliveries = [];
  const waiters = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const delivery = {body: Buffer.concat(chunks).toString('utf8'), signature: request.headers['stripe-signature']};
      response.writeHead(200).end();
      const waiter = waiters.shift();
      if (waiter) {
        waiter(delivery);
      } else {
        deliveries.push(delivery);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/webhooks`,
    next(timeoutMs = 10_000) {
      if (deliveries.length > 0) {
        return Promise.resolve(deliveries.shift());
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no webhook delivery in time')), timeoutMs);
        waiters.push((delivery) => {
          clearTimeout(timer);
          resolve(delivery);
        });
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs `body(receiver, endpoint)` with a webhook endpoint (`params` plus the
 * receiver's URL) delivering to a fresh local receiver; removes both after.
 */
async function withWebhookEndpoint(params, body) {
  const receiver = await webhookReceiver();
  const endpoint = await stripe.webhookEndpoints.create({url: receiver.url, ...params});
  try {
    return await body(receiver, endpoint);
  } finally {
    await stripe.webhookEndpoints.del(endpoint.id);
    await receiver.close();
  }
}

async function waitFor(predicate, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

const TYPES_DIR = path.join(path.dirname(require.resolve('stripe')), 'resources');

/**
 * The fields `name` declares in the client's bundled type definitions (`file`
 * relative to `cjs/resources`), each with its type text and whether it is
 * optional (`?`: only sometimes present). `name` is an exported interface
 * (`Customer`) or one nested in its namespace (`Customer.InvoiceSettings`);
 * `null` when the file has no such type.
 */
function declaredFields(file, name) {
  const lines = fs.readFileSync(path.join(TYPES_DIR, file), 'utf8').split('\n');
  const [root, ...nested] = name.split('.');
  let at = lines.indexOf(nested.length ? `export declare namespace ${root} {` : `export interface ${root} {`);
  let indent = 0;
  nested.forEach((part, depth) => {
    const inner = ' '.repeat(indent + 4);
    const opening = depth === nested.length - 1 ? `${inner}interface ${part} {` : `${inner}namespace ${part} {`;
    const closing = lines.indexOf(`${' '.repeat(indent)}}`, at);
    const found = at < 0 ? -1 : lines.indexOf(opening, at);
    at = found >= 0 && found < closing ? found : -1;
    indent += 4;
  });
  if (at < 0) {
    return null;
  }
  const fields = new Map();
  const field = new RegExp(`^ {${indent + 4}}(\\w+)(\\?)?: (.*)$`);
  for (const line of lines.slice(at + 1)) {
    if (line === `${' '.repeat(indent)}}`) {
      break;
    }
    const match = line.match(field);
    if (match) {
      fields.set(match[1], {optional: match[2] === '?', type: match[3]});
    }
  }
  return fields;
}

/** Where `object` differs from type `name`, recursing into the nested types the same file declares. */
function shapeDifferences(object, file, name, where) {
  const fields = declaredFields(file, name);
  if (!fields) {
    return [`${where}: ${file} declares no ${name}`];
  }
  const differences = [];
  for (const [key, {optional}] of fields) {
    if (!optional && !(key in object)) {
      differences.push(`${where}.${key} is missing (${name})`);
    }
  }
  const nested = new RegExp(`\\b(${name.split('.')[0]}\\.[\\w.]+)`);
  for (const [key, value] of Object.entries(object)) {
    const declared = fields.get(key);
    if (!declared) {
      differences.push(`${where}.${key} is not declared (${name})`);
      continue;
    }
    if (value === null || typeof value !== 'object') {
      continue;
    }
    const type = declared.type.match(nested)?.[1];
    const elements = Array.isArray(value) ? value.map((element, index) => [element, `${where}.${key}[${index}]`]) : [[value, `${where}.${key}`]];
    for (const [element, at] of elements) {
      if (element === null || typeof element !== 'object') {
        continue;
      }
      if (type) {
        differences.push(...shapeDifferences(element, file, type, at));
      } else {
        differences.push(...embeddedDifferences(element, at));
      }
    }
  }
  return differences;
}

/**
 * Differences inside an object of another resource embedded in a field (an
 * expanded id, a list such as `subscription.items`), typed by its `object`.
 */
function embeddedDifferences(object, where) {
  if (object.object === 'list') {
    return object.data.flatMap((element, index) => embeddedDifferences(element, `${where}.data[${index}]`));
  }
  const typed = TYPES_BY_OBJECT[object.object];
  return typed ? shapeDifferences(object, ...typed, where) : [];
}

/**
 * Asserts `object` has every field the client's types declare as always
 * present and nothing they do not declare, at the top level and in the nested
 * objects typed in the same file (`Subscription.BillingMode`, …).
 */
function assertShape(object, file, name) {
  assert.deepEqual(shapeDifferences(object, file, name, `${name} ${object.id}`), []);
}

/** Where each kind of object (its `object` field) is typed in the client. */
const TYPES_BY_OBJECT = {
  account: ['Accounts.d.ts', 'Account'],
  application_fee: ['ApplicationFees.d.ts', 'ApplicationFee'],
  'billing_portal.session': ['BillingPortal/Sessions.d.ts', 'Session'],
  charge: ['Charges.d.ts', 'Charge'],
  'checkout.session': ['Checkout/Sessions.d.ts', 'Session'],
  customer: ['Customers.d.ts', 'Customer'],
  invoice: ['Invoices.d.ts', 'Invoice'],
  invoice_payment: ['InvoicePayments.d.ts', 'InvoicePayment'],
  invoiceitem: ['InvoiceItems.d.ts', 'InvoiceItem'],
  item: ['LineItems.d.ts', 'LineItem'],
  line_item: ['InvoiceLineItems.d.ts', 'InvoiceLineItem'],
  payment_intent: ['PaymentIntents.d.ts', 'PaymentIntent'],
  payment_method: ['PaymentMethods.d.ts', 'PaymentMethod'],
  price: ['Prices.d.ts', 'Price'],
  product: ['Products.d.ts', 'Product'],
  refund: ['Refunds.d.ts', 'Refund'],
  setup_intent: ['SetupIntents.d.ts', 'SetupIntent'],
  subscription: ['Subscriptions.d.ts', 'Subscription'],
  subscription_item: ['SubscriptionItems.d.ts', 'SubscriptionItem'],
  'test_helpers.test_clock': ['TestHelpers/TestClocks.d.ts', 'TestClock'],
};

/** [`assertShape`] for any object whose kind [`TYPES_BY_OBJECT`] knows. */
function assertObjectShape(object) {
  const typed = TYPES_BY_OBJECT[object.object];
  assert.ok(typed, `no type known for ${object.object}`);
  assertShape(object, ...typed);
}

module.exports = {
  BASE_URL,
  Stripe,
  assertObjectShape,
  assertShape,
  cardForm,
  client,
  monthlyPrice,
  stripe,
  submitHostedForm,
  tag,
  waitFor,
  withWebhookEndpoint,
};
