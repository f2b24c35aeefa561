//! Mirror of Stripe customers, subscriptions, invoices, payments, refunds and disputes (issue #5).
