//! Customers: who pays, on the platform or on a connected account.
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{CreateCustomer, RequestOptions};
//! let customer = client
//!     .customers()
//!     .create(
//!         &CreateCustomer {
//!             email: Some("ann@example.com".into()),
//!             metadata: [("billforge_customer".to_owned(), "cus_01J...".to_owned())].into(),
//!             ..CreateCustomer::default()
//!         },
//!         RequestOptions::new()
//!             .on_account("acct_123")
//!             .idempotency_key("customer:cus_01J..."),
//!     )
//!     .await?;
//! client
//!     .customers()
//!     .set_default_payment_method(&customer.id, "pm_123", RequestOptions::new().on_account("acct_123"))
//!     .await?;
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::list::impl_object;
use crate::{
    Address, Client, Deleted, Error, Expand, Expandable, ListParams, Metadata, PaymentMethod,
    RequestOptions,
};

/// A Stripe customer (`cus_...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    /// Stripe's id.
    pub id: String,
    /// Billing email, where Stripe sends receipts and invoices.
    pub email: Option<String>,
    /// Full name or business name.
    pub name: Option<String>,
    /// Free text shown in the Dashboard.
    pub description: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// The currency the customer is billed in, once fixed by a first charge.
    pub currency: Option<String>,
    /// Credit (negative) or debt (positive) applied to the next invoice, in minor units.
    pub balance: i64,
    /// Whether the latest invoice payment failed.
    pub delinquent: Option<bool>,
    /// Invoice defaults, notably the default payment method.
    pub invoice_settings: Option<CustomerInvoiceSettings>,
    /// Our own keys (tenant, customer ids).
    pub metadata: Metadata,
    /// The test clock the customer is attached to (test mode).
    pub test_clock: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
    /// `true` when retrieving a customer that was deleted.
    pub deleted: bool,
}

/// A customer's invoice defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CustomerInvoiceSettings {
    /// Used for subscriptions and invoices that name no payment method.
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
}

/// `POST /v1/customers` and `POST /v1/customers/:id`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateCustomer {
    /// Billing email.
    pub email: Option<String>,
    /// Full name or business name.
    pub name: Option<String>,
    /// Free text shown in the Dashboard.
    pub description: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Billing address.
    pub address: Option<Address>,
    /// A payment method to attach at creation.
    pub payment_method: Option<String>,
    /// Invoice defaults.
    pub invoice_settings: Option<InvoiceSettingsParams>,
    /// Our own keys; an empty value removes a key on update.
    pub metadata: Metadata,
    /// Attach to this test clock (test mode, create only).
    pub test_clock: Option<String>,
    /// Fields to expand in the answer.
    pub expand: Vec<String>,
}

/// Customer updates take the same fields as creation (`test_clock` excepted).
pub type UpdateCustomer = CreateCustomer;

/// `invoice_settings[...]` parameters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvoiceSettingsParams {
    /// The default payment method (`pm_...`).
    pub default_payment_method: Option<String>,
}

/// `GET /v1/customers` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListCustomers {
    /// Exact email match.
    pub email: Option<String>,
    /// Only customers on this test clock.
    pub test_clock: Option<String>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

impl_object!(Customer);

/// `client.customers()`.
#[derive(Debug, Clone, Copy)]
pub struct Customers<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Customer operations.
    pub fn customers(&self) -> Customers<'_> {
        Customers { client: self }
    }
}

impl Customers<'_> {
    /// Creates a customer.
    pub async fn create(
        &self,
        params: &CreateCustomer,
        options: RequestOptions,
    ) -> Result<Customer, Error> {
        self.client.post(&["customers"], params, options).await
    }

    /// Retrieves a customer (a deleted one comes back with `deleted: true`).
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Customer, Error> {
        self.client.get(&["customers", id], expand, options).await
    }

    /// Updates a customer; absent fields are left alone.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdateCustomer,
        options: RequestOptions,
    ) -> Result<Customer, Error> {
        self.client.post(&["customers", id], params, options).await
    }

    /// Makes `payment_method` the customer's default for invoices and subscriptions.
    pub async fn set_default_payment_method(
        &self,
        id: &str,
        payment_method: &str,
        options: RequestOptions,
    ) -> Result<Customer, Error> {
        let params = UpdateCustomer {
            invoice_settings: Some(InvoiceSettingsParams {
                default_payment_method: Some(payment_method.to_owned()),
            }),
            ..UpdateCustomer::default()
        };
        self.update(id, &params, options).await
    }

    /// Deletes a customer (and cancels its subscriptions, on Stripe's side).
    pub async fn delete(&self, id: &str, options: RequestOptions) -> Result<Deleted, Error> {
        self.client.delete(&["customers", id], &(), options).await
    }

    /// Every customer matching `params`, page after page.
    pub fn list(
        &self,
        params: &ListCustomers,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Customer, Error>> {
        self.client.paginate(&["customers"], params, options)
    }
}
