//! What the merchant dashboard's overview and customer pages and the admin
//! console's tenant pages show, computed from stored state only (the billing
//! mirror, the catalog and the dunning runs): no Stripe call, so the pages
//! load the same with Stripe down.

use std::collections::{BTreeMap, HashMap};

use billing::catalog::IntervalUnit;
use billing::events::InvoiceFacts;
use billing::ids::{CustomerId, TenantId};
use billing::money::{Currency, Money};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use store::catalog::PriceRecord;
use store::dunning::DunningRun;
use store::mirror::{CustomerRow, Page, SubscriptionRow};
use store::webhooks::InboxStatus;
use store::{Tenant, TenantStatus};

use crate::accounts::SignedIn;
use crate::admin::require_admin;
use crate::{Platform, PlatformError, PlatformResult};

pub use store::webhooks::InboxEvent;

/// How many customers a list or search shows.
pub const CUSTOMER_PAGE_SIZE: u64 = 50;
/// How many calendar months the overview charts span (this one included).
pub const OVERVIEW_MONTHS: u32 = 6;
/// The window of the admin console's "failed payments" figure.
const FAILED_PAYMENTS_WINDOW_DAYS: i64 = 30;
/// How many inbox events of each status the admin webhook page lists.
const INBOX_PAGE_SIZE: u64 = 100;

/// One figure per month, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneySeries {
    /// The currency of every point.
    pub currency: Currency,
    /// Minor units, one per month of [`Overview::months`].
    pub points: Vec<i64>,
}

/// The dashboard's time series, one point per calendar month, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// The first day of each month shown.
    pub months: Vec<NaiveDate>,
    /// Monthly recurring revenue at the end of each month (now, for the
    /// current one), per currency: the paying subscriptions' prices turned
    /// into a monthly amount.
    pub mrr: Vec<MoneySeries>,
    /// Subscriptions live (trialing included) at the end of each month.
    pub active_subscriptions: Vec<i64>,
    /// Invoices whose payment failed in each month (each starts a dunning run).
    pub failed_payments: Vec<i64>,
    /// Invoices dunning got paid, by the month of recovery, per currency.
    pub recovered: Vec<MoneySeries>,
}

/// A tenant's headline figures for the admin console.
#[derive(Debug, Clone)]
pub struct TenantFigures {
    /// The tenant.
    pub tenant: Tenant,
    /// Its customers.
    pub customers: u64,
    /// Its live subscriptions now.
    pub live_subscriptions: i64,
    /// Its monthly recurring revenue now, one amount per currency.
    pub mrr: Vec<Money>,
    /// Invoices whose payment failed in the last 30 days.
    pub failed_payments: usize,
}

/// The admin console's webhook inbox: what needs an admin's eyes.
#[derive(Debug, Clone)]
pub struct WebhookInbox {
    /// Events every attempt failed for, oldest first: retry them once fixed.
    pub dead: Vec<InboxEvent>,
    /// Events failing now, which the job queue retries by itself.
    pub failing: Vec<InboxEvent>,
}

impl Platform {
    /// A page of the tenant's customers (`CUSTOMER_PAGE_SIZE` at most,
    /// after the customer id `after`) in creation order: all of them, or
    /// those whose email, name or external id contains `query`, or whose id
    /// it is. The flag says whether more follow.
    pub async fn search_customers(
        &self,
        tenant: &TenantId,
        query: &str,
        after: Option<&str>,
    ) -> PlatformResult<(Vec<CustomerRow>, bool)> {
        let scope = self.store().scoped(tenant);
        let query = query.trim();
        // One more than shown, to learn whether a next page exists.
        let page = Page {
            starting_after: after.map(str::to_owned),
            limit: CUSTOMER_PAGE_SIZE + 1,
        };
        let mut found = if query.is_empty() {
            scope.customers(&page).await?
        } else {
            scope.search_customers(query, &page).await?
        };
        let more = found.len() > usize::try_from(CUSTOMER_PAGE_SIZE).unwrap_or(usize::MAX);
        found.truncate(usize::try_from(CUSTOMER_PAGE_SIZE).unwrap_or(usize::MAX));
        Ok((found, more))
    }

    /// A customer's subscriptions, oldest first (`not_found` for another
    /// tenant's customer).
    pub async fn customer_subscriptions(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Vec<SubscriptionRow>> {
        self.customer(tenant, customer).await?;
        Ok(self
            .store()
            .scoped(tenant)
            .subscriptions_of(customer)
            .await?)
    }

    /// A customer's invoices, oldest first (`not_found` for another
    /// tenant's customer).
    pub async fn customer_invoices(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> PlatformResult<Vec<store::mirror::InvoiceRow>> {
        self.customer(tenant, customer).await?;
        Ok(self.store().scoped(tenant).invoices_of(customer).await?)
    }

    /// The dashboard's series over the last [`OVERVIEW_MONTHS`] months.
    pub async fn overview(&self, tenant: &TenantId) -> PlatformResult<Overview> {
        let now = self.now();
        let months = months_ending(now, OVERVIEW_MONTHS);
        let since = months.first().map_or(now, |first| {
            first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
        });
        let scope = self.store().scoped(tenant);
        let subscriptions = scope.subscription_history().await?;
        let prices = monthly_prices(&scope.all_prices().await?)?;
        let runs = scope.dunning_runs_since(since).await?;
        overview_of(&months, now, &subscriptions, &prices, &runs)
    }

    /// Every tenant whose name, URL name or id contains `query` (without
    /// case), all of them when it is empty (admins only).
    pub async fn admin_search_tenants(
        &self,
        admin: &SignedIn,
        query: &str,
    ) -> PlatformResult<Vec<Tenant>> {
        let query = query.trim().to_lowercase();
        let tenants = self.admin_tenants(admin).await?;
        Ok(tenants
            .into_iter()
            .filter(|tenant| {
                [&tenant.name, &tenant.slug, &tenant.id]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&query))
            })
            .collect())
    }

    /// One tenant with its figures (admins only; `not_found` otherwise).
    pub async fn admin_tenant(
        &self,
        admin: &SignedIn,
        raw_tenant_id: &str,
    ) -> PlatformResult<TenantFigures> {
        require_admin(admin)?;
        let id = TenantId::parse(raw_tenant_id).map_err(|_| PlatformError::NotFound("tenant"))?;
        let tenant = self
            .store()
            .tenant(&id)
            .await?
            .ok_or(PlatformError::NotFound("tenant"))?;
        self.figures_of(tenant).await
    }

    /// Every tenant's figures, for the platform metrics page (admins only).
    pub async fn admin_metrics(&self, admin: &SignedIn) -> PlatformResult<Vec<TenantFigures>> {
        let mut figures = Vec::new();
        for tenant in self.admin_tenants(admin).await? {
            figures.push(self.figures_of(tenant).await?);
        }
        Ok(figures)
    }

    /// The dead and failing webhook events (admins only).
    pub async fn admin_webhook_inbox(&self, admin: &SignedIn) -> PlatformResult<WebhookInbox> {
        require_admin(admin)?;
        Ok(WebhookInbox {
            dead: self
                .webhook_events(InboxStatus::Dead, INBOX_PAGE_SIZE)
                .await?,
            failing: self
                .webhook_events(InboxStatus::Failed, INBOX_PAGE_SIZE)
                .await?,
        })
    }

    /// Gives a dead webhook event a fresh set of attempts (admins only, audited).
    pub async fn admin_retry_webhook_event(
        &self,
        admin: &SignedIn,
        event_id: &str,
        request_id: &crate::RequestId,
    ) -> PlatformResult<InboxEvent> {
        require_admin(admin)?;
        let ctx = self.audit_context(admin.actor()?, request_id);
        self.retry_dead_event(event_id, &ctx).await
    }

    async fn figures_of(&self, tenant: Tenant) -> PlatformResult<TenantFigures> {
        let id = TenantId::parse(&tenant.id)
            .map_err(|err| PlatformError::Internal(format!("stored tenant id: {err}")))?;
        let now = self.now();
        let scope = self.store().scoped(&id);
        let subscriptions = scope.subscription_history().await?;
        let prices = monthly_prices(&scope.all_prices().await?)?;
        let failed_since = now - TimeDelta::days(FAILED_PAYMENTS_WINDOW_DAYS);
        Ok(TenantFigures {
            customers: scope.customer_count().await?,
            live_subscriptions: subscriptions
                .iter()
                .filter(|row| is_live(row, now))
                .count()
                .try_into()
                .unwrap_or(i64::MAX),
            mrr: mrr_at(&subscriptions, &prices, now)
                .into_iter()
                .map(|(currency, amount)| Money::new(amount, currency))
                .collect(),
            failed_payments: scope.dunning_runs_since(failed_since).await?.len(),
            tenant,
        })
    }
}

impl TenantFigures {
    /// Whether the platform suspended the tenant.
    pub fn is_suspended(&self) -> bool {
        self.tenant.status == TenantStatus::Suspended
    }
}

/// What one unit of a price brings in per month, by price id.
type MonthlyPrices = HashMap<String, MonthlyPrice>;

/// A price as a monthly amount.
#[derive(Debug, Clone)]
struct MonthlyPrice {
    /// Its currency.
    currency: Currency,
    /// The stored price, for its amount at a quantity.
    price: billing::catalog::Price,
}

fn monthly_prices(records: &[PriceRecord]) -> PlatformResult<MonthlyPrices> {
    records
        .iter()
        .map(|record| {
            let price = crate::catalog::domain_price(record)?;
            Ok((
                record.id.clone(),
                MonthlyPrice {
                    currency: price.currency(),
                    price,
                },
            ))
        })
        .collect()
}

/// The first day of each of the `count` calendar months ending with now's.
fn months_ending(now: DateTime<Utc>, count: u32) -> Vec<NaiveDate> {
    let this_month = now.date_naive().with_day(1).unwrap_or_default();
    (0..count)
        .rev()
        .filter_map(|back| this_month.checked_sub_months(Months::new(back)))
        .collect()
}

/// The instant a month's point is measured at: its end, or now for the
/// month in progress.
fn measured_at(month: NaiveDate, now: DateTime<Utc>) -> DateTime<Utc> {
    month
        .checked_add_months(Months::new(1))
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .map_or(now, |next| next.and_utc().min(now))
}

/// Whether the subscription was live at `at`: created by then, not ended,
/// and ever paid for or trialing (incomplete ones never started).
fn is_live(row: &SubscriptionRow, at: DateTime<Utc>) -> bool {
    let ended = row.ended_at.is_some_and(|ended| ended <= at)
        || (row.status == "canceled" && row.ended_at.is_none());
    !matches!(row.status.as_str(), "incomplete" | "incomplete_expired")
        && row.created_at <= at
        && !ended
}

/// Whether the subscription was live and paying (out of its trial) at `at`.
fn is_paying(row: &SubscriptionRow, at: DateTime<Utc>) -> bool {
    is_live(row, at) && row.trial_end.is_none_or(|trial_end| trial_end <= at)
}

/// `amount` per `count` `unit`s as a monthly amount (rounded down).
fn per_month(amount: i64, unit: IntervalUnit, count: u16) -> i64 {
    let amount = i128::from(amount);
    let count = i128::from(count.max(1));
    let monthly = match unit {
        IntervalUnit::Day => amount * 365 / (12 * count),
        IntervalUnit::Week => amount * 52 / (12 * count),
        IntervalUnit::Month => amount / count,
        IntervalUnit::Year => amount / (12 * count),
    };
    i64::try_from(monthly).unwrap_or(i64::MAX)
}

/// MRR at `at` per currency. Subscriptions on a price Billforge does not
/// know (made outside its catalog) are left out: their amount is unknown.
fn mrr_at(
    subscriptions: &[SubscriptionRow],
    prices: &MonthlyPrices,
    at: DateTime<Utc>,
) -> BTreeMap<Currency, i64> {
    let mut mrr = BTreeMap::new();
    for row in subscriptions.iter().filter(|row| is_paying(row, at)) {
        let Some(price) = row.price_id.as_ref().and_then(|id| prices.get(id)) else {
            continue;
        };
        let quantity = u64::try_from(row.quantity).unwrap_or(1);
        let Ok(amount) = price.price.amount_for(quantity) else {
            continue;
        };
        // One-time prices are not recurring revenue.
        let Some(interval) = price.price.price_type().interval() else {
            continue;
        };
        let total = mrr.entry(price.currency).or_insert(0_i64);
        *total = total.saturating_add(per_month(
            amount.amount_minor,
            interval.unit(),
            interval.count(),
        ));
    }
    mrr
}

/// The index of the month `at` falls in, if shown.
fn month_index(months: &[NaiveDate], at: DateTime<Utc>) -> Option<usize> {
    let day = at.date_naive();
    months.iter().rposition(|start| *start <= day)
}

/// One series per currency out of per-month maps.
fn by_currency(per_month: &[BTreeMap<Currency, i64>]) -> Vec<MoneySeries> {
    let mut currencies: Vec<Currency> = per_month.iter().flat_map(|m| m.keys().copied()).collect();
    currencies.sort();
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| MoneySeries {
            currency,
            points: per_month
                .iter()
                .map(|month| month.get(&currency).copied().unwrap_or(0))
                .collect(),
        })
        .collect()
}

fn overview_of(
    months: &[NaiveDate],
    now: DateTime<Utc>,
    subscriptions: &[SubscriptionRow],
    prices: &MonthlyPrices,
    runs: &[DunningRun],
) -> PlatformResult<Overview> {
    let instants: Vec<DateTime<Utc>> = months.iter().map(|m| measured_at(*m, now)).collect();
    let mrr: Vec<BTreeMap<Currency, i64>> = instants
        .iter()
        .map(|at| mrr_at(subscriptions, prices, *at))
        .collect();
    let active_subscriptions = instants
        .iter()
        .map(|at| {
            let live = subscriptions.iter().filter(|row| is_live(row, *at)).count();
            i64::try_from(live).unwrap_or(i64::MAX)
        })
        .collect();
    let mut failed_payments = vec![0_i64; months.len()];
    let mut recovered = vec![BTreeMap::<Currency, i64>::new(); months.len()];
    for run in runs {
        if let Some(index) = month_index(months, run.started_at) {
            failed_payments[index] += 1;
        }
        if run.status == "recovered"
            && let Some(index) = month_index(months, run.updated_at)
        {
            let invoice: InvoiceFacts = serde_json::from_str(&run.invoice)
                .map_err(|err| PlatformError::Internal(format!("stored dunning invoice: {err}")))?;
            let total = recovered[index]
                .entry(invoice.amount_due.currency)
                .or_insert(0);
            *total = total.saturating_add(invoice.amount_due.amount_minor);
        }
    }
    Ok(Overview {
        months: months.to_vec(),
        mrr: by_currency(&mrr),
        active_subscriptions,
        failed_payments,
        recovered: by_currency(&recovered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    #[test]
    fn months_end_with_the_current_one_across_a_year_boundary() {
        let months = months_ending(at("2027-02-10T12:00:00Z"), 4);
        let shown: Vec<String> = months.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["2026-11-01", "2026-12-01", "2027-01-01", "2027-02-01"]
        );
        assert_eq!(
            measured_at(months[0], at("2027-02-10T12:00:00Z")),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            measured_at(months[3], at("2027-02-10T12:00:00Z")),
            at("2027-02-10T12:00:00Z")
        );
    }

    fn subscription(
        price: &str,
        quantity: i64,
        created: &str,
        trial_end: Option<&str>,
        ended: Option<&str>,
    ) -> SubscriptionRow {
        SubscriptionRow {
            id: format!("sub_{created}"),
            tenant_id: "ten_1".to_owned(),
            customer_id: "cus_1".to_owned(),
            stripe_subscription_id: format!("sub_stripe_{created}"),
            status: if ended.is_some() {
                "canceled"
            } else {
                "active"
            }
            .to_owned(),
            plan_id: Some("plan_1".to_owned()),
            price_id: Some(price.to_owned()),
            stripe_price_id: None,
            quantity,
            current_period_start: None,
            current_period_end: None,
            trial_start: None,
            trial_end: trial_end.map(at),
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: ended.map(at),
            cancellation_reason: None,
            observed_at: at(created),
            mirror_state: String::new(),
            created_at: at(created),
            updated_at: at(created),
        }
    }

    fn price(id: &str, model: &str, unit: &str) -> PriceRecord {
        PriceRecord {
            id: id.to_owned(),
            tenant_id: "ten_1".to_owned(),
            plan_id: "plan_1".to_owned(),
            model: model.to_owned(),
            currency: "usd".to_owned(),
            interval_unit: Some(unit.to_owned()),
            interval_count: Some(1),
            archived: false,
            lookup_key: None,
            stripe_price_id: None,
            stripe_active: true,
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
        }
    }

    fn run(started: &str, status: &str, changed: &str, amount_minor: i64) -> DunningRun {
        let invoice = InvoiceFacts {
            stripe_invoice_id: format!("in_{started}"),
            customer: billing::events::CustomerFacts {
                customer_id: CustomerId::generate(),
                stripe_customer_id: "cus_stripe".to_owned(),
                email: None,
                name: None,
            },
            stripe_subscription_id: None,
            plan_name: None,
            number: None,
            amount_due: Money::new(amount_minor, Currency::parse("usd").unwrap()),
            amount_paid: Money::new(0, Currency::parse("usd").unwrap()),
            attempt_count: 1,
            next_payment_attempt: None,
            hosted_invoice_url: None,
            period_start: None,
            period_end: None,
        };
        DunningRun {
            id: format!("dun_{started}"),
            tenant_id: "ten_1".to_owned(),
            stripe_invoice_id: format!("in_{started}"),
            stripe_subscription_id: None,
            stripe_customer_id: "cus_stripe".to_owned(),
            customer_id: "cus_1".to_owned(),
            status: status.to_owned(),
            state: String::new(),
            policy: String::new(),
            invoice: serde_json::to_string(&invoice).unwrap(),
            started_at: at(started),
            next_action_at: None,
            updated_at: at(changed),
        }
    }

    #[test]
    fn the_series_follow_trials_cancellations_and_dunning_month_by_month() {
        let now = at("2026-03-15T12:00:00Z");
        let months = months_ending(now, 3);
        let monthly = billing::ids::PriceId::generate().to_string();
        let yearly = billing::ids::PriceId::generate().to_string();
        let prices = monthly_prices(&[
            price(
                &monthly,
                r#"{"kind":"per_seat","unit_amount_minor":1000}"#,
                "month",
            ),
            price(&yearly, r#"{"kind":"flat","amount_minor":12000}"#, "year"),
        ])
        .unwrap();
        let subscriptions = [
            // Two seats from January, canceled in mid-February.
            subscription(
                &monthly,
                2,
                "2026-01-10T00:00:00Z",
                None,
                Some("2026-02-14T00:00:00Z"),
            ),
            // Yearly, trialing until March 1st: live in February, paying from March.
            subscription(
                &yearly,
                1,
                "2026-02-20T00:00:00Z",
                Some("2026-03-01T06:00:00Z"),
                None,
            ),
            // Not Billforge's price: counted as live, left out of MRR.
            subscription("price_elsewhere", 1, "2026-03-02T00:00:00Z", None, None),
        ];
        let runs = [
            run(
                "2026-02-03T00:00:00Z",
                "recovered",
                "2026-03-04T00:00:00Z",
                2_000,
            ),
            run(
                "2026-03-05T00:00:00Z",
                "chasing",
                "2026-03-05T00:00:00Z",
                1_000,
            ),
            run(
                "2026-03-06T00:00:00Z",
                "finalized",
                "2026-03-09T00:00:00Z",
                1_000,
            ),
        ];
        let overview = overview_of(&months, now, &subscriptions, &prices, &runs).unwrap();
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(
            overview.mrr,
            [MoneySeries {
                currency: usd,
                points: vec![2_000, 0, 1_000]
            }]
        );
        assert_eq!(overview.active_subscriptions, [1, 1, 2]);
        assert_eq!(overview.failed_payments, [0, 1, 2]);
        assert_eq!(
            overview.recovered,
            [MoneySeries {
                currency: usd,
                points: vec![0, 0, 2_000]
            }]
        );
    }

    #[test]
    fn prices_of_any_period_become_monthly_amounts() {
        assert_eq!(per_month(12_000, IntervalUnit::Year, 1), 1_000);
        assert_eq!(per_month(3_000, IntervalUnit::Month, 3), 1_000);
        assert_eq!(per_month(1_200, IntervalUnit::Week, 1), 5_200);
        assert_eq!(per_month(100, IntervalUnit::Day, 1), 3_041);
    }
}
