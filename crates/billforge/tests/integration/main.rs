//! End-to-end tests: the real app (the same composition `serve` uses) on a
//! random port with a fresh database per test. SQLite by default; set
//! `TEST_DATABASE_URL=postgres://…` to run the same tests on PostgreSQL.

mod accounts;
mod api;
mod api_billing;
mod api_payments;
mod api_v1;
mod catalog;
mod clock;
mod console;
mod dashboard;

mod crash;
mod dunning;
mod faults;
mod harness;
mod hosted;
mod import;
mod isolation;
mod jobs;
mod mail;
mod migrations;
mod mirror;
mod ops;
mod outbound;
mod reconcile;
mod security;
mod stripe_faults;
mod subscriptions;
mod webhooks;
