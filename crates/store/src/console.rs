//! Read-only queries behind the merchant dashboard's customer search and
//! overview charts and the admin console's per-tenant figures.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::catalog::PriceRecord;
use crate::dunning::DunningRun;
use crate::entities::catalog::price;
use crate::entities::dunning::run;
use crate::entities::mirror::{customer, subscription};
use crate::mirror::{CustomerRow, Page, SubscriptionRow};
use crate::{StoreResult, TenantScope};

impl TenantScope<'_> {
    /// The tenant's customers whose email, name or external id contains
    /// `query` (without case), or whose id is `query`, in id (creation)
    /// order, a page at a time.
    pub async fn search_customers(
        &self,
        query: &str,
        page: &Page,
    ) -> StoreResult<Vec<CustomerRow>> {
        let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
        let contains = |column: customer::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        let mut found = self.find::<customer::Entity>();
        if let Some(after) = &page.starting_after {
            found = found.filter(customer::Column::Id.gt(after.as_str()));
        }
        Ok(found
            .filter(
                Condition::any()
                    .add(customer::Column::Id.eq(query))
                    .add(contains(customer::Column::Email))
                    .add(contains(customer::Column::Name))
                    .add(contains(customer::Column::ExternalId)),
            )
            .order_by_asc(customer::Column::Id)
            .limit(page.limit)
            .all(self.db)
            .await?)
    }

    /// How many customers the tenant has.
    pub async fn customer_count(&self) -> StoreResult<u64> {
        Ok(self.find::<customer::Entity>().count(self.db).await?)
    }

    /// Every subscription of the tenant, ended ones included, oldest first:
    /// the history the overview's series are computed from.
    pub async fn subscription_history(&self) -> StoreResult<Vec<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .order_by_asc(subscription::Column::CreatedAt)
            .order_by_asc(subscription::Column::Id)
            .all(self.db)
            .await?)
    }

    /// Every price of the tenant, archived ones included (old subscriptions
    /// keep paying them).
    pub async fn all_prices(&self) -> StoreResult<Vec<PriceRecord>> {
        Ok(self
            .find::<price::Entity>()
            .order_by_asc(price::Column::Id)
            .all(self.db)
            .await?)
    }

    /// The tenant's dunning runs that started at or after `since`, oldest
    /// first: one per invoice whose payment failed.
    pub async fn dunning_runs_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<DunningRun>> {
        Ok(self
            .find::<run::Entity>()
            .filter(run::Column::StartedAt.gte(since))
            .order_by_asc(run::Column::StartedAt)
            .order_by_asc(run::Column::Id)
            .all(self.db)
            .await?)
    }
}

/// `raw` with the LIKE wildcards escaped, so a search for `50%` or `a_b`
/// matches those characters literally.
fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
