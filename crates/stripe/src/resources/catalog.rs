//! Products and prices: what a tenant sells and how it is charged (flat or
//! tiered, one-time or recurring, found again by `lookup_key`).
//!
//! ```no_run
//! # async fn example(client: &stripe::Client) -> Result<(), stripe::Error> {
//! use stripe::{CreatePrice, CreateProduct, PriceRecurringParams, RecurringInterval, RequestOptions};
//! let on_tenant = || RequestOptions::new().on_account("acct_123");
//! let product = client
//!     .products()
//!     .create(
//!         &CreateProduct { name: "Pro".into(), ..CreateProduct::default() },
//!         on_tenant().idempotency_key("product:plan_01J..."),
//!     )
//!     .await?;
//! let price = client
//!     .prices()
//!     .create(
//!         &CreatePrice {
//!             product: Some(product.id.clone()),
//!             currency: "eur".into(),
//!             unit_amount: Some(2_900),
//!             recurring: Some(PriceRecurringParams {
//!                 interval: RecurringInterval::Month,
//!                 interval_count: None,
//!             }),
//!             lookup_key: Some("pro_monthly".into()),
//!             ..CreatePrice::default()
//!         },
//!         on_tenant().idempotency_key("price:price_01J..."),
//!     )
//!     .await?;
//! assert_eq!(price.unit_amount, Some(2_900));
//! # Ok(()) }
//! ```

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize, Serializer};

use crate::enums::stripe_enum;
use crate::list::impl_object;
use crate::{Client, Error, Expand, Expandable, ListParams, Metadata, RequestOptions};

/// A product (`prod_...`): the thing sold; prices hang off it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    /// Stripe's id.
    pub id: String,
    /// Name shown to customers on Checkout, invoices and the portal.
    pub name: String,
    /// Longer description shown to customers.
    pub description: Option<String>,
    /// Whether it can be bought.
    pub active: bool,
    /// The price Checkout and the Dashboard suggest first.
    pub default_price: Option<Expandable<Price>>,
    /// Our own keys (tenant, plan ids).
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last change, Unix seconds.
    pub updated: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// `POST /v1/products` (and updates, where every field is optional).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateProduct {
    /// Name shown to customers (required on create).
    pub name: String,
    /// Longer description.
    pub description: Option<String>,
    /// Whether it can be bought (default `true`).
    pub active: Option<bool>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `POST /v1/products/:id`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateProduct {
    /// New name.
    pub name: Option<String>,
    /// New description (empty string clears it).
    pub description: Option<String>,
    /// Archive (`false`) or reactivate.
    pub active: Option<bool>,
    /// Make this price the default.
    pub default_price: Option<String>,
    /// Keys to set (an empty value removes a key).
    pub metadata: Metadata,
}

/// `GET /v1/products` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListProducts {
    /// Only active (or only archived) products.
    pub active: Option<bool>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

stripe_enum! {
    /// Whether a price charges once or on a schedule.
    pub enum PriceType {
        /// Charged once.
        OneTime = "one_time",
        /// Charged every interval.
        Recurring = "recurring",
    }
}

stripe_enum! {
    /// How the amount is computed from the quantity.
    pub enum BillingScheme {
        /// `unit_amount × quantity`.
        PerUnit = "per_unit",
        /// By tiers (`tiers`, `tiers_mode`).
        Tiered = "tiered",
    }
}

stripe_enum! {
    /// How tiers apply.
    pub enum TiersMode {
        /// Each unit is priced by the tier it falls in.
        Graduated = "graduated",
        /// All units are priced by the tier the total falls in.
        Volume = "volume",
    }
}

stripe_enum! {
    /// The billing period unit.
    pub enum RecurringInterval {
        /// Daily.
        Day = "day",
        /// Weekly.
        Week = "week",
        /// Monthly.
        Month = "month",
        /// Yearly.
        Year = "year",
    }
}

stripe_enum! {
    /// How quantity is determined for a recurring price.
    pub enum UsageType {
        /// Quantity is set on the subscription item.
        Licensed = "licensed",
        /// Quantity comes from reported usage (meters).
        Metered = "metered",
    }
}

/// A price (`price_...`): amount, currency and schedule for a product.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Price {
    /// Stripe's id.
    pub id: String,
    /// The product it prices.
    pub product: Option<Expandable<Product>>,
    /// Whether it can be used for new purchases.
    pub active: bool,
    /// Three-letter ISO currency, lowercase.
    pub currency: String,
    /// Amount per unit in minor units (`per_unit` prices).
    pub unit_amount: Option<i64>,
    /// One-time or recurring.
    #[serde(rename = "type")]
    pub price_type: Option<PriceType>,
    /// Per unit or tiered.
    pub billing_scheme: Option<BillingScheme>,
    /// Graduated or volume (tiered prices).
    pub tiers_mode: Option<TiersMode>,
    /// The tiers; only present when retrieved with `expand[]=tiers`.
    pub tiers: Option<Vec<PriceTier>>,
    /// Schedule of a recurring price.
    pub recurring: Option<Recurring>,
    /// Stable handle to find the current price of a plan without storing ids.
    pub lookup_key: Option<String>,
    /// Internal name, not shown to customers.
    pub nickname: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Live or test mode.
    pub livemode: bool,
}

/// The schedule of a recurring price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Recurring {
    /// Period unit.
    pub interval: Option<RecurringInterval>,
    /// Number of units per period (e.g. 3 months).
    pub interval_count: u32,
    /// Licensed or metered.
    pub usage_type: Option<UsageType>,
}

/// One tier of a tiered price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PriceTier {
    /// Flat fee for the tier, minor units.
    pub flat_amount: Option<i64>,
    /// Per-unit amount within the tier, minor units.
    pub unit_amount: Option<i64>,
    /// Upper bound (inclusive); `None` for the last, unbounded tier.
    pub up_to: Option<u64>,
}

/// `POST /v1/prices`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreatePrice {
    /// The product priced (or `product_data` for an inline one).
    pub product: Option<String>,
    /// An inline product to create with the price.
    pub product_data: Option<InlineProduct>,
    /// Three-letter ISO currency, lowercase.
    pub currency: String,
    /// Amount per unit in minor units (`per_unit` prices).
    pub unit_amount: Option<i64>,
    /// Per unit (default) or tiered.
    pub billing_scheme: Option<BillingScheme>,
    /// Required with `tiered`.
    pub tiers_mode: Option<TiersMode>,
    /// Required with `tiered`.
    pub tiers: Vec<PriceTierParams>,
    /// Makes the price recurring; absent for one-time prices.
    pub recurring: Option<PriceRecurringParams>,
    /// Stable handle for the price.
    pub lookup_key: Option<String>,
    /// Move `lookup_key` from the price that holds it to this one.
    pub transfer_lookup_key: Option<bool>,
    /// Internal name.
    pub nickname: Option<String>,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `product_data[...]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InlineProduct {
    /// Product name.
    pub name: String,
    /// Our own keys.
    pub metadata: Metadata,
}

/// `recurring[...]`.
#[derive(Debug, Clone, Serialize)]
pub struct PriceRecurringParams {
    /// Period unit.
    pub interval: RecurringInterval,
    /// Units per period (default 1).
    pub interval_count: Option<u32>,
}

/// `tiers[n][...]`.
#[derive(Debug, Clone, Serialize)]
pub struct PriceTierParams {
    /// Upper bound of the tier.
    pub up_to: UpTo,
    /// Per-unit amount within the tier.
    pub unit_amount: Option<i64>,
    /// Flat fee for the tier.
    pub flat_amount: Option<i64>,
}

/// A tier's upper bound: a quantity, or `inf` for the last tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpTo {
    /// Up to and including this quantity.
    Quantity(u64),
    /// No upper bound.
    Infinity,
}

impl Serialize for UpTo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UpTo::Quantity(quantity) => serializer.serialize_u64(*quantity),
            UpTo::Infinity => serializer.serialize_str("inf"),
        }
    }
}

/// `POST /v1/prices/:id`: prices are immutable apart from these.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdatePrice {
    /// Archive (`false`) or reactivate.
    pub active: Option<bool>,
    /// New lookup key.
    pub lookup_key: Option<String>,
    /// Take the lookup key from the price that holds it.
    pub transfer_lookup_key: Option<bool>,
    /// Internal name.
    pub nickname: Option<String>,
    /// Keys to set (an empty value removes a key).
    pub metadata: Metadata,
}

/// `GET /v1/prices` filters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListPrices {
    /// Only active (or archived) prices.
    pub active: Option<bool>,
    /// Only prices of this product.
    pub product: Option<String>,
    /// Only prices with these lookup keys (at most 10).
    pub lookup_keys: Vec<String>,
    /// Only one-time or only recurring prices.
    #[serde(rename = "type")]
    pub price_type: Option<PriceType>,
    /// Pagination and expansion.
    #[serde(flatten)]
    pub page: ListParams,
}

impl_object!(Product, Price);

/// `client.products()`.
#[derive(Debug, Clone, Copy)]
pub struct Products<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

/// `client.prices()`.
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    /// The client the calls go through.
    client: &'a Client,
}

impl Client {
    /// Product operations.
    pub fn products(&self) -> Products<'_> {
        Products { client: self }
    }

    /// Price operations.
    pub fn prices(&self) -> Prices<'_> {
        Prices { client: self }
    }
}

impl Products<'_> {
    /// Creates a product.
    pub async fn create(
        &self,
        params: &CreateProduct,
        options: RequestOptions,
    ) -> Result<Product, Error> {
        self.client.post(&["products"], params, options).await
    }

    /// Retrieves a product.
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Product, Error> {
        self.client.get(&["products", id], expand, options).await
    }

    /// Updates a product.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdateProduct,
        options: RequestOptions,
    ) -> Result<Product, Error> {
        self.client.post(&["products", id], params, options).await
    }

    /// Every product matching `params`.
    pub fn list(
        &self,
        params: &ListProducts,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Product, Error>> {
        self.client.paginate(&["products"], params, options)
    }
}

impl Prices<'_> {
    /// Creates a price.
    pub async fn create(
        &self,
        params: &CreatePrice,
        options: RequestOptions,
    ) -> Result<Price, Error> {
        self.client.post(&["prices"], params, options).await
    }

    /// Retrieves a price (`expand` `tiers` to see a tiered price's tiers).
    pub async fn retrieve(
        &self,
        id: &str,
        expand: &Expand,
        options: RequestOptions,
    ) -> Result<Price, Error> {
        self.client.get(&["prices", id], expand, options).await
    }

    /// Updates what a price allows to change.
    pub async fn update(
        &self,
        id: &str,
        params: &UpdatePrice,
        options: RequestOptions,
    ) -> Result<Price, Error> {
        self.client.post(&["prices", id], params, options).await
    }

    /// Every price matching `params`.
    pub fn list(
        &self,
        params: &ListPrices,
        options: RequestOptions,
    ) -> BoxStream<'static, Result<Price, Error>> {
        self.client.paginate(&["prices"], params, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiered_price_params_encode_inf_for_the_last_tier() {
        let params = CreatePrice {
            product: Some("prod_1".into()),
            currency: "usd".into(),
            billing_scheme: Some(BillingScheme::Tiered),
            tiers_mode: Some(TiersMode::Graduated),
            tiers: vec![
                PriceTierParams {
                    up_to: UpTo::Quantity(10),
                    unit_amount: Some(500),
                    flat_amount: None,
                },
                PriceTierParams {
                    up_to: UpTo::Infinity,
                    unit_amount: Some(400),
                    flat_amount: Some(100),
                },
            ],
            recurring: Some(PriceRecurringParams {
                interval: RecurringInterval::Month,
                interval_count: None,
            }),
            ..CreatePrice::default()
        };
        let encoded = crate::form::encode(&params).unwrap();
        for pair in [
            "billing_scheme=tiered",
            "tiers_mode=graduated",
            "tiers[0][up_to]=10",
            "tiers[0][unit_amount]=500",
            "tiers[1][up_to]=inf",
            "tiers[1][flat_amount]=100",
            "recurring[interval]=month",
        ] {
            assert!(
                encoded.split('&').any(|p| p == pair),
                "{pair} missing from {encoded}"
            );
        }
        assert!(
            !encoded.contains("unit_amount=&"),
            "None is omitted: {encoded}"
        );
    }
}
