//! What webhook reconciliation reads: every connected account, whose events
//! it lists from Stripe. Global on purpose: reconciliation serves all tenants.

use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use crate::entities::catalog::stripe_connection;
use crate::{Store, StoreResult};

impl Store {
    /// The connected account of every tenant that ever connected Stripe,
    /// sorted, so reconciliation visits each account once per run.
    pub async fn connected_account_ids(&self) -> StoreResult<Vec<String>> {
        Ok(stripe_connection::Entity::find()
            .select_only()
            .column(stripe_connection::Column::AccountId)
            .distinct()
            .order_by_asc(stripe_connection::Column::AccountId)
            .into_tuple::<String>()
            .all(&self.db)
            .await?)
    }
}
