//! Typed requests and responses, one module per resource group. Each group
//! adds an accessor to [`crate::Client`] (`client.customers()`, ...).

pub mod catalog;
pub mod checkout;
pub mod connect;
pub mod customers;
pub mod emulator;
pub mod invoices;
pub mod payments;
pub mod platform;
pub mod refunds;
pub mod subscriptions;
