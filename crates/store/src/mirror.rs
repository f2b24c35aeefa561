//! The billing mirror's storage: each tenant's Stripe customers,
//! subscriptions, invoices, payments, refunds and disputes.
//!
//! Writes go through a [`MirrorTx`]: a tenant-bound handle on a transaction
//! the caller opened ([`Store::begin`]). Each `upsert_*` reads the stored
//! record, lets `billing::mirror::apply` decide whether the incoming
//! observation is newer, and writes the row only then, so duplicates and any
//! arrival order converge to the same rows. The caller records the domain
//! events it derives ([`MirrorTx::record_event`]) and settles the webhook
//! inbox row ([`StoreTxn::settle_webhook_event`]) in the same transaction,
//! so a crash leaves either all of it or none.

use billing::customer::CustomerState;
use billing::events::{CustomerFacts, DomainEvent, InvoiceFacts, SubscriptionFacts};
use billing::ids::{CustomerId, DomainEventId, PlanId, SubscriptionId, TenantId};
use billing::invoice::InvoiceState;
use billing::mirror::{Applied, Ignored, Mirrored, Observed, apply};
use billing::money::{Currency, Money};
use billing::payment::{DisputeState, PaymentState, RefundState};
use billing::subscription::SubscriptionState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TryIntoModel,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain_events::{NewDomainEvent, insert_domain_event};
use crate::entities::catalog::{plan, price};
use crate::entities::mirror::{
    customer, dispute, invoice, payment, refund, subscription, subscription_change,
    subscription_item,
};
use crate::{AuditContext, Store, StoreError, StoreResult, TenantScope};

pub use crate::entities::mirror::customer::Model as CustomerRow;
pub use crate::entities::mirror::dispute::Model as DisputeRow;
pub use crate::entities::mirror::invoice::Model as InvoiceRow;
pub use crate::entities::mirror::payment::Model as PaymentRow;
pub use crate::entities::mirror::refund::Model as RefundRow;
pub use crate::entities::mirror::subscription::Model as SubscriptionRow;
pub use crate::entities::mirror::subscription_item::Model as SubscriptionItemRow;

crate::scope::tenant_owned!(
    customer,
    subscription,
    subscription_change,
    subscription_item,
    invoice,
    payment,
    refund,
    dispute
);

/// When an observation was true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedWhen {
    /// At this instant: a webhook event's `created`.
    At(DateTime<Utc>),
    /// Retrieved from Stripe (an API response or a refetch) at this instant
    /// of our clock: dated after the stored record if that is later (see
    /// `billing::mirror::Observed::refetched`).
    Fetched(DateTime<Utc>),
}

impl ObservedWhen {
    fn observe<S: Mirrored>(self, state: S, stored: Option<&Observed<S>>) -> Observed<S> {
        match self {
            ObservedWhen::At(at) => Observed::new(state, at),
            ObservedWhen::Fetched(now) => Observed::refetched(state, now, stored),
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone)]
pub struct MirrorWrite<R> {
    /// The row as stored after the call (written or kept).
    pub row: R,
    /// `true` when this call created the row.
    pub created: bool,
    /// `true` when the observation was written (created or newer).
    pub written: bool,
    /// The order between the stored and incoming states was decided by the
    /// arbitrary tie-breaker only: the caller should refetch the object.
    pub needs_refetch: bool,
    /// Why nothing was written, when it was not.
    pub ignored: Option<Ignored>,
}

/// A customer's Stripe state, to mirror.
#[derive(Debug, Clone)]
pub struct CustomerObservation {
    /// The state.
    pub state: CustomerState,
    /// When it was true.
    pub when: ObservedWhen,
}

/// A subscription's Stripe state, to mirror.
#[derive(Debug, Clone)]
pub struct SubscriptionObservation {
    /// The state (the ordering key).
    pub state: SubscriptionState,
    /// When it was true.
    pub when: ObservedWhen,
    /// Stripe's `trial_start` (not part of the ordered state).
    pub trial_start: Option<DateTime<Utc>>,
    /// Stripe's `cancellation_details.reason`.
    pub cancellation_reason: Option<String>,
}

/// An invoice's Stripe state, to mirror.
#[derive(Debug, Clone)]
pub struct InvoiceObservation {
    /// The state (the ordering key).
    pub state: InvoiceState,
    /// When it was true.
    pub when: ObservedWhen,
    /// The service period billed (start).
    pub period_start: Option<DateTime<Utc>>,
    /// The service period billed (end).
    pub period_end: Option<DateTime<Utc>>,
}

/// A new customer Billforge creates (the Stripe customer already exists).
#[derive(Debug, Clone)]
pub struct NewCustomer {
    /// The Stripe customer created for it, if any yet.
    pub stripe_customer_id: Option<String>,
    /// The merchant's own id, unique per tenant.
    pub external_id: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The merchant's metadata, a JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// What a merchant changes of a customer; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CustomerDetails {
    /// New email.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// The merchant's whole metadata object after the change.
    pub metadata: Option<serde_json::Value>,
}

/// `query` ordered by its unique `id` column, the page after the cursor.
async fn page_of<E: EntityTrait>(
    mut query: sea_orm::Select<E>,
    id: E::Column,
    page: &Page,
    db: &sea_orm::DatabaseConnection,
) -> StoreResult<Vec<E::Model>> {
    if let Some(after) = &page.starting_after {
        query = query.filter(id.gt(after.as_str()));
    }
    Ok(query.order_by_asc(id).limit(page.limit).all(db).await?)
}

/// A page of a list ordered by id.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Only rows whose id is after this one (cursor).
    pub starting_after: Option<String>,
    /// At most this many rows.
    pub limit: u64,
}

/// A transaction on the store; commit it or drop it (rolls back).
pub struct StoreTxn {
    /// The open transaction.
    pub(crate) txn: DatabaseTransaction,
}

impl Store {
    /// Opens a transaction, for writes that must commit together (a mirror
    /// write, its domain events and its inbox settlement).
    pub async fn begin(&self) -> StoreResult<StoreTxn> {
        Ok(StoreTxn {
            txn: crate::begin_write(&self.db).await?,
        })
    }
}

impl StoreTxn {
    /// The mirror of `tenant_id`, inside this transaction.
    pub fn mirror(&self, tenant_id: &TenantId) -> MirrorTx<'_> {
        MirrorTx {
            conn: &self.txn,
            tenant_id: tenant_id.clone(),
        }
    }

    /// Commits everything written through this transaction.
    pub async fn commit(self) -> StoreResult<()> {
        Ok(self.txn.commit().await?)
    }
}

/// One tenant's mirror, inside a transaction.
pub struct MirrorTx<'a> {
    /// The caller's transaction.
    conn: &'a DatabaseTransaction,
    /// The tenant every statement is filtered by.
    tenant_id: TenantId,
}

impl MirrorTx<'_> {
    /// Audits a change the tenant made through Billforge (a refund, a
    /// dispute's evidence) in the transaction that mirrors its result.
    pub async fn audit(
        &self,
        ctx: &AuditContext,
        action: &str,
        target_type: &str,
        target_id: &str,
    ) -> StoreResult<()> {
        crate::audit::record(
            self.conn,
            ctx,
            Some(&self.tenant_id),
            action,
            target_type,
            target_id,
        )
        .await?;
        Ok(())
    }
}

/// Encodes a mirrored state for `mirror_state`.
fn encode<S: Serialize>(state: &S) -> Result<String, DbErr> {
    serde_json::to_string(state).map_err(|err| DbErr::Custom(format!("encoding a state: {err}")))
}

/// Decodes a stored `mirror_state`.
fn decode<S: DeserializeOwned>(raw: &str) -> Result<S, DbErr> {
    serde_json::from_str(raw).map_err(|err| DbErr::Custom(format!("decoding a state: {err}")))
}

/// Billforge's plan and price for a Stripe price, when it is ours.
#[derive(Debug, Clone)]
struct CatalogMatch {
    /// Our price.
    price: price::Model,
    /// Its plan.
    plan: plan::Model,
}

/// Runs `apply` for a row kind: the shared shape of every upsert.
fn decide<S: Mirrored>(
    stored: Option<Observed<S>>,
    when: ObservedWhen,
    state: S,
) -> Result<Applied<S>, DbErr> {
    let incoming = when.observe(state, stored.as_ref());
    apply(stored.as_ref(), incoming).map_err(|err| DbErr::Custom(err.to_string()))
}

/// What an [`Applied`] means for the caller, and the record to write.
fn outcome<S>(applied: Applied<S>) -> (Option<Observed<S>>, bool, Option<Ignored>) {
    let needs_refetch = applied.needs_refetch();
    let ignored = match &applied {
        Applied::Ignored(reason) => Some(*reason),
        _ => None,
    };
    (applied.into_record(), needs_refetch, ignored)
}

impl MirrorTx<'_> {
    /// The tenant.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    fn find<E: crate::scope::TenantOwned>(&self) -> sea_orm::Select<E> {
        E::find().filter(E::tenant_column().eq(self.tenant_id.as_str()))
    }

    /// The customer with Stripe id `stripe_customer_id`, if mirrored.
    pub async fn customer_by_stripe_id(
        &self,
        stripe_customer_id: &str,
    ) -> StoreResult<Option<CustomerRow>> {
        Ok(self
            .find::<customer::Entity>()
            .filter(customer::Column::StripeCustomerId.eq(stripe_customer_id))
            .one(self.conn)
            .await?)
    }

    /// The customer `id`, if it is this tenant's.
    pub async fn customer(&self, id: &CustomerId) -> StoreResult<Option<CustomerRow>> {
        Ok(self
            .find::<customer::Entity>()
            .filter(customer::Column::Id.eq(id.as_str()))
            .one(self.conn)
            .await?)
    }

    /// A new customer row of this tenant.
    fn new_customer(
        &self,
        new: NewCustomer,
        now: DateTime<Utc>,
    ) -> StoreResult<customer::ActiveModel> {
        let metadata = new
            .metadata
            .map(|value| encode(&value))
            .transpose()
            .map_err(StoreError::Database)?;
        Ok(customer::ActiveModel {
            id: Set(CustomerId::generate().to_string()),
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_customer_id: Set(new.stripe_customer_id),
            external_id: Set(new.external_id),
            email: Set(new.email),
            name: Set(new.name),
            metadata: Set(metadata),
            deleted: Set(false),
            observed_at: Set(None),
            mirror_state: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
    }

    /// Inserts a customer Billforge created.
    pub async fn insert_customer(
        &self,
        new: NewCustomer,
        now: DateTime<Utc>,
    ) -> StoreResult<CustomerRow> {
        Ok(self.new_customer(new, now)?.insert(self.conn).await?)
    }

    /// The customer with Stripe id `stripe_customer_id`, created bare (no
    /// observed state yet) when it is not mirrored. Two writers creating it
    /// at once (webhooks of one new customer on two workers) both get the
    /// row the first inserted: the other's insert does nothing.
    pub async fn ensure_customer(
        &self,
        stripe_customer_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<CustomerRow> {
        if let Some(found) = self.customer_by_stripe_id(stripe_customer_id).await? {
            return Ok(found);
        }
        let bare = NewCustomer {
            stripe_customer_id: Some(stripe_customer_id.to_owned()),
            external_id: None,
            email: None,
            name: None,
            metadata: None,
        };
        customer::Entity::insert(self.new_customer(bare, now)?)
            .on_conflict(
                OnConflict::columns([
                    customer::Column::TenantId,
                    customer::Column::StripeCustomerId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(self.conn)
            .await?;
        self.customer_by_stripe_id(stripe_customer_id)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("customer".into()).into())
    }

    /// Links the Billforge customer `id` to a Stripe customer (Checkout
    /// created one for it). `None` when `id` is not this tenant's; a customer
    /// already linked to another Stripe customer keeps its link.
    pub async fn link_customer(
        &self,
        id: &CustomerId,
        stripe_customer_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<CustomerRow>> {
        let Some(found) = self.customer(id).await? else {
            return Ok(None);
        };
        if found.stripe_customer_id.is_some() {
            return Ok(Some(found));
        }
        if let Some(other) = self.customer_by_stripe_id(stripe_customer_id).await? {
            // The event mirrored the Stripe customer first, bare: fold that
            // row into the merchant's one by moving its links over.
            self.merge_customer(&other, &found).await?;
        }
        let mut row = found.into_active_model();
        row.stripe_customer_id = Set(Some(stripe_customer_id.to_owned()));
        row.updated_at = Set(now);
        Ok(Some(row.update(self.conn).await?))
    }

    /// Moves `from`'s mirrored rows and state onto `into`, then deletes `from`.
    async fn merge_customer(&self, from: &CustomerRow, into: &CustomerRow) -> StoreResult<()> {
        subscription::Entity::update_many()
            .col_expr(
                subscription::Column::CustomerId,
                Expr::value(into.id.as_str()),
            )
            .filter(subscription::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(subscription::Column::CustomerId.eq(&from.id))
            .exec(self.conn)
            .await?;
        invoice::Entity::update_many()
            .col_expr(invoice::Column::CustomerId, Expr::value(into.id.as_str()))
            .filter(invoice::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(invoice::Column::CustomerId.eq(&from.id))
            .exec(self.conn)
            .await?;
        payment::Entity::update_many()
            .col_expr(payment::Column::CustomerId, Expr::value(into.id.as_str()))
            .filter(payment::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(payment::Column::CustomerId.eq(&from.id))
            .exec(self.conn)
            .await?;
        refund::Entity::update_many()
            .col_expr(refund::Column::CustomerId, Expr::value(into.id.as_str()))
            .filter(refund::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(refund::Column::CustomerId.eq(&from.id))
            .exec(self.conn)
            .await?;
        dispute::Entity::update_many()
            .col_expr(dispute::Column::CustomerId, Expr::value(into.id.as_str()))
            .filter(dispute::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(dispute::Column::CustomerId.eq(&from.id))
            .exec(self.conn)
            .await?;
        let mut merged = into.clone().into_active_model();
        merged.observed_at = Set(from.observed_at);
        merged.mirror_state = Set(from.mirror_state.clone());
        merged.deleted = Set(from.deleted);
        if from.email.is_some() {
            merged.email = Set(from.email.clone());
        }
        if from.name.is_some() {
            merged.name = Set(from.name.clone());
        }
        customer::Entity::delete_many()
            .filter(customer::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(customer::Column::Id.eq(&from.id))
            .exec(self.conn)
            .await?;
        merged.update(self.conn).await?;
        Ok(())
    }

    /// Mirrors a customer's Stripe state (creating the row on first sight).
    pub async fn upsert_customer(
        &self,
        observation: CustomerObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<CustomerRow>> {
        let found = self
            .customer_by_stripe_id(&observation.state.stripe_id)
            .await?;
        let stored = found
            .as_ref()
            .and_then(|row| Some((row.mirror_state.as_deref()?, row.observed_at?)))
            .map(|(raw, at)| decode::<CustomerState>(raw).map(|state| Observed::new(state, at)))
            .transpose()?;
        let applied = decide(stored, observation.when, observation.state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = match found {
                Some(row) => row,
                None => {
                    return Err(StoreError::Database(DbErr::RecordNotFound(
                        "customer".into(),
                    )));
                }
            };
            return Ok(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            });
        };
        let created = found.is_none();
        let row = match found {
            Some(row) => row,
            None => self.ensure_customer(&record.state.stripe_id, now).await?,
        };
        let mut active = row.into_active_model();
        active.email = Set(record.state.email.clone());
        active.name = Set(record.state.name.clone());
        active.deleted = Set(record.state.deleted);
        active.observed_at = Set(Some(record.observed_at));
        active.mirror_state = Set(Some(encode(&record.state)?));
        active.updated_at = Set(now);
        Ok(MirrorWrite {
            row: active.update(self.conn).await?,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        })
    }

    /// Billforge's price and plan for the Stripe price `stripe_price_id`.
    async fn catalog_match(&self, stripe_price_id: &str) -> StoreResult<Option<CatalogMatch>> {
        let Some(price) = self
            .find::<price::Entity>()
            .filter(price::Column::StripePriceId.eq(stripe_price_id))
            .one(self.conn)
            .await?
        else {
            return Ok(None);
        };
        let plan = self
            .find::<plan::Entity>()
            .filter(plan::Column::Id.eq(&price.plan_id))
            .one(self.conn)
            .await?;
        Ok(plan.map(|plan| CatalogMatch { price, plan }))
    }

    /// The subscription with Stripe id `stripe_subscription_id`.
    pub async fn subscription_by_stripe_id(
        &self,
        stripe_subscription_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::StripeSubscriptionId.eq(stripe_subscription_id))
            .one(self.conn)
            .await?)
    }

    /// Mirrors a subscription's Stripe state and its items. The customer
    /// row is created bare if it is not mirrored yet.
    ///
    /// Concurrent writers of one subscription (an API response and a
    /// webhook, two workers) take turns: the stored row is read locked
    /// (`FOR UPDATE` on PostgreSQL; SQLite's write lock, taken by
    /// [`Store::begin`], serializes whole transactions), so each decides
    /// against the newest committed state and the items are rewritten by
    /// one at a time. Two creating the row at once: the loser's insert does
    /// nothing, and it decides again against the winner's row.
    pub async fn upsert_subscription(
        &self,
        observation: SubscriptionObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<SubscriptionRow>> {
        if let Some(written) = self.write_subscription(observation.clone(), now).await? {
            return Ok(written);
        }
        self.write_subscription(observation, now)
            .await?
            .ok_or(StoreError::Duplicate)
    }

    /// The subscription with Stripe id `stripe_subscription_id`, locked
    /// until the transaction ends on PostgreSQL.
    async fn subscription_for_update(
        &self,
        stripe_subscription_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        use sea_orm::ConnectionTrait;
        let mut query = self
            .find::<subscription::Entity>()
            .filter(subscription::Column::StripeSubscriptionId.eq(stripe_subscription_id));
        if self.conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            query = query.lock_exclusive();
        }
        Ok(query.one(self.conn).await?)
    }

    /// [`MirrorTx::upsert_subscription`] once; `None` when another
    /// transaction created the row since it was read.
    async fn write_subscription(
        &self,
        observation: SubscriptionObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MirrorWrite<SubscriptionRow>>> {
        let found = self
            .subscription_for_update(&observation.state.stripe_id)
            .await?;
        let stored = found
            .as_ref()
            .map(|row| {
                decode::<SubscriptionState>(&row.mirror_state)
                    .map(|state| Observed::new(state, row.observed_at))
            })
            .transpose()?;
        let applied = decide(stored, observation.when, observation.state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = found.ok_or_else(|| DbErr::RecordNotFound("subscription".into()))?;
            return Ok(Some(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            }));
        };
        let customer = self
            .ensure_customer(&record.state.stripe_customer_id, now)
            .await?;
        let state = &record.state;
        let first = state.items.first();
        let matched = match first {
            Some(item) => self.catalog_match(&item.stripe_price_id).await?,
            None => None,
        };
        let period = state.current_period();
        let created = found.is_none();
        let id = found.as_ref().map_or_else(
            || SubscriptionId::generate().to_string(),
            |row| row.id.clone(),
        );
        let model = subscription::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(self.tenant_id.to_string()),
            customer_id: Set(found
                .as_ref()
                .map_or(customer.id.clone(), |row| row.customer_id.clone())),
            stripe_subscription_id: Set(state.stripe_id.clone()),
            status: Set(state.status.as_str().to_owned()),
            plan_id: Set(matched.as_ref().map(|m| m.plan.id.clone())),
            price_id: Set(matched.as_ref().map(|m| m.price.id.clone())),
            stripe_price_id: Set(first.map(|item| item.stripe_price_id.clone())),
            quantity: Set(first.map_or(0, |item| clamp(item.quantity))),
            current_period_start: Set(period.map(|(start, _)| start)),
            current_period_end: Set(period.map(|(_, end)| end)),
            trial_start: Set(observation.trial_start),
            trial_end: Set(state.trial_end),
            cancel_at_period_end: Set(state.cancel_at_period_end),
            cancel_at: Set(state.cancel_at),
            canceled_at: Set(state.canceled_at),
            ended_at: Set(state.ended_at),
            cancellation_reason: Set(observation.cancellation_reason),
            observed_at: Set(record.observed_at),
            mirror_state: Set(encode(state)?),
            created_at: Set(found.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let row = if created {
            let key = [
                subscription::Column::TenantId,
                subscription::Column::StripeSubscriptionId,
            ];
            let Some(row) = self.insert_unless_taken(model, key).await? else {
                return Ok(None);
            };
            // Invoices mirrored before their subscription (events are
            // applied in any order) link to it now; nothing else would.
            invoice::Entity::update_many()
                .col_expr(invoice::Column::SubscriptionId, Expr::value(id.clone()))
                .filter(invoice::Column::TenantId.eq(self.tenant_id.as_str()))
                .filter(invoice::Column::StripeSubscriptionId.eq(&state.stripe_id))
                .filter(invoice::Column::SubscriptionId.is_null())
                .exec(self.conn)
                .await?;
            row
        } else {
            model.update(self.conn).await?
        };
        subscription_item::Entity::delete_many()
            .filter(subscription_item::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(subscription_item::Column::SubscriptionId.eq(&id))
            .exec(self.conn)
            .await?;
        for item in &state.items {
            let matched = self.catalog_match(&item.stripe_price_id).await?;
            subscription_item::ActiveModel {
                tenant_id: Set(self.tenant_id.to_string()),
                stripe_item_id: Set(item.stripe_item_id.clone()),
                subscription_id: Set(id.clone()),
                stripe_price_id: Set(item.stripe_price_id.clone()),
                price_id: Set(matched.as_ref().map(|m| m.price.id.clone())),
                plan_id: Set(matched.as_ref().map(|m| m.plan.id.clone())),
                quantity: Set(clamp(item.quantity)),
                current_period_start: Set(item.current_period_start),
                current_period_end: Set(item.current_period_end),
            }
            .insert(self.conn)
            .await?;
        }
        Ok(Some(MirrorWrite {
            row,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        }))
    }

    /// Inserts `model` unless a row with the same `key` exists: one that a
    /// concurrent transaction created after this one read and found none
    /// (on PostgreSQL the insert waits for that transaction's commit).
    /// `None` then, so the caller decides again against the winner's row.
    async fn insert_unless_taken<A>(
        &self,
        model: A,
        key: [<A::Entity as EntityTrait>::Column; 2],
    ) -> StoreResult<Option<<A::Entity as EntityTrait>::Model>>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Clone + Send,
        A: TryIntoModel<<A::Entity as EntityTrait>::Model>,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        let inserted = <A::Entity as EntityTrait>::insert(model.clone())
            .on_conflict(OnConflict::columns(key).do_nothing().to_owned())
            .exec_without_returning(self.conn)
            .await?;
        if inserted == 0 {
            return Ok(None);
        }
        Ok(Some(model.try_into_model()?))
    }

    /// The invoice with Stripe id `stripe_invoice_id`.
    pub async fn invoice_by_stripe_id(
        &self,
        stripe_invoice_id: &str,
    ) -> StoreResult<Option<InvoiceRow>> {
        Ok(self
            .find::<invoice::Entity>()
            .filter(invoice::Column::StripeInvoiceId.eq(stripe_invoice_id))
            .one(self.conn)
            .await?)
    }

    /// Mirrors an invoice's Stripe state.
    pub async fn upsert_invoice(
        &self,
        observation: InvoiceObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<InvoiceRow>> {
        if let Some(written) = self.write_invoice(observation.clone(), now).await? {
            return Ok(written);
        }
        self.write_invoice(observation, now)
            .await?
            .ok_or(StoreError::Duplicate)
    }

    /// [`MirrorTx::upsert_invoice`] once; `None` when another transaction
    /// created the row since it was read (two workers applying
    /// `invoice.created` and `invoice.paid` of one invoice at once).
    async fn write_invoice(
        &self,
        observation: InvoiceObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MirrorWrite<InvoiceRow>>> {
        use sea_orm::ConnectionTrait;
        let mut query = self
            .find::<invoice::Entity>()
            .filter(invoice::Column::StripeInvoiceId.eq(&observation.state.stripe_id));
        if self.conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            query = query.lock_exclusive();
        }
        let found = query.one(self.conn).await?;
        let stored = found
            .as_ref()
            .map(|row| {
                decode::<InvoiceState>(&row.mirror_state)
                    .map(|state| Observed::new(state, row.observed_at))
            })
            .transpose()?;
        let applied = decide(stored, observation.when, observation.state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = found.ok_or_else(|| DbErr::RecordNotFound("invoice".into()))?;
            return Ok(Some(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            }));
        };
        let state = &record.state;
        let customer = self.ensure_customer(&state.stripe_customer_id, now).await?;
        let subscription_id = match &state.stripe_subscription_id {
            Some(stripe_id) => self
                .subscription_by_stripe_id(stripe_id)
                .await?
                .map(|row| row.id),
            None => None,
        };
        let created = found.is_none();
        let model = invoice::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_invoice_id: Set(state.stripe_id.clone()),
            customer_id: Set(customer.id),
            subscription_id: Set(subscription_id),
            stripe_subscription_id: Set(state.stripe_subscription_id.clone()),
            status: Set(state.status.as_str().to_owned()),
            currency: Set(state.currency.code().to_owned()),
            amount_due: Set(state.amount_due_minor),
            amount_paid: Set(state.amount_paid_minor),
            amount_remaining: Set(state.amount_remaining_minor),
            attempt_count: Set(i32::try_from(state.attempt_count).unwrap_or(i32::MAX)),
            next_payment_attempt: Set(state.next_payment_attempt),
            hosted_invoice_url: Set(state.hosted_invoice_url.clone()),
            number: Set(state.number.clone()),
            period_start: Set(observation.period_start),
            period_end: Set(observation.period_end),
            observed_at: Set(record.observed_at),
            mirror_state: Set(encode(state)?),
            created_at: Set(found.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let row = if created {
            let key = [invoice::Column::TenantId, invoice::Column::StripeInvoiceId];
            let Some(row) = self.insert_unless_taken(model, key).await? else {
                return Ok(None);
            };
            row
        } else {
            model.update(self.conn).await?
        };
        Ok(Some(MirrorWrite {
            row,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        }))
    }

    /// The Billforge customer id of a mirrored payment, if known.
    async fn payment_customer(
        &self,
        stripe_payment_intent_id: &str,
    ) -> StoreResult<Option<String>> {
        Ok(self
            .find::<payment::Entity>()
            .filter(payment::Column::StripePaymentIntentId.eq(stripe_payment_intent_id))
            .one(self.conn)
            .await?
            .and_then(|row| row.customer_id))
    }

    /// The payment with Stripe id `stripe_payment_intent_id`.
    pub async fn payment_by_stripe_id(&self, id: &str) -> StoreResult<Option<PaymentRow>> {
        Ok(self
            .find::<payment::Entity>()
            .filter(payment::Column::StripePaymentIntentId.eq(id))
            .one(self.conn)
            .await?)
    }

    /// Mirrors a payment intent's Stripe state.
    pub async fn upsert_payment(
        &self,
        state: PaymentState,
        when: ObservedWhen,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<PaymentRow>> {
        let found = self.payment_by_stripe_id(&state.stripe_id).await?;
        let stored = found
            .as_ref()
            .map(|row| {
                decode::<PaymentState>(&row.mirror_state)
                    .map(|state| Observed::new(state, row.observed_at))
            })
            .transpose()?;
        let applied = decide(stored, when, state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = found.ok_or_else(|| DbErr::RecordNotFound("payment".into()))?;
            return Ok(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            });
        };
        let state = &record.state;
        let customer_id = match &state.stripe_customer_id {
            Some(stripe_id) => Some(self.ensure_customer(stripe_id, now).await?.id),
            None => None,
        };
        let created = found.is_none();
        let model = payment::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_payment_intent_id: Set(state.stripe_id.clone()),
            customer_id: Set(customer_id),
            status: Set(state.status.as_str().to_owned()),
            currency: Set(state.currency.code().to_owned()),
            amount: Set(state.amount_minor),
            amount_received: Set(state.amount_received_minor),
            last_error_code: Set(state.last_error_code.clone()),
            observed_at: Set(record.observed_at),
            mirror_state: Set(encode(state)?),
            created_at: Set(found.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let row = if created {
            model.insert(self.conn).await?
        } else {
            model.update(self.conn).await?
        };
        Ok(MirrorWrite {
            row,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        })
    }

    /// Mirrors a refund's Stripe state. `stripe_customer_id`: the charge's
    /// customer, when the caller knows it.
    pub async fn upsert_refund(
        &self,
        state: RefundState,
        stripe_customer_id: Option<&str>,
        when: ObservedWhen,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<RefundRow>> {
        let found = self
            .find::<refund::Entity>()
            .filter(refund::Column::StripeRefundId.eq(&state.stripe_id))
            .one(self.conn)
            .await?;
        let stored = found
            .as_ref()
            .map(|row| {
                decode::<RefundState>(&row.mirror_state)
                    .map(|state| Observed::new(state, row.observed_at))
            })
            .transpose()?;
        let applied = decide(stored, when, state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = found.ok_or_else(|| DbErr::RecordNotFound("refund".into()))?;
            return Ok(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            });
        };
        let state = &record.state;
        let customer_id = self
            .customer_of(
                stripe_customer_id,
                state.stripe_payment_intent_id.as_deref(),
                now,
            )
            .await?;
        let created = found.is_none();
        let model = refund::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_refund_id: Set(state.stripe_id.clone()),
            stripe_payment_intent_id: Set(state.stripe_payment_intent_id.clone()),
            customer_id: Set(customer_id),
            status: Set(state.status.as_str().to_owned()),
            currency: Set(state.currency.code().to_owned()),
            amount: Set(state.amount_minor),
            reason: Set(state.reason.clone()),
            failure_reason: Set(state.failure_reason.clone()),
            observed_at: Set(record.observed_at),
            mirror_state: Set(encode(state)?),
            created_at: Set(found.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let row = if created {
            model.insert(self.conn).await?
        } else {
            model.update(self.conn).await?
        };
        Ok(MirrorWrite {
            row,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        })
    }

    /// Mirrors a dispute's Stripe state. `stripe_customer_id`: the charge's
    /// customer, when the caller knows it.
    pub async fn upsert_dispute(
        &self,
        state: DisputeState,
        stripe_customer_id: Option<&str>,
        when: ObservedWhen,
        now: DateTime<Utc>,
    ) -> StoreResult<MirrorWrite<DisputeRow>> {
        let found = self
            .find::<dispute::Entity>()
            .filter(dispute::Column::StripeDisputeId.eq(&state.stripe_id))
            .one(self.conn)
            .await?;
        let stored = found
            .as_ref()
            .map(|row| {
                decode::<DisputeState>(&row.mirror_state)
                    .map(|state| Observed::new(state, row.observed_at))
            })
            .transpose()?;
        let applied = decide(stored, when, state)?;
        let (record, needs_refetch, ignored) = outcome(applied);
        let Some(record) = record else {
            let row = found.ok_or_else(|| DbErr::RecordNotFound("dispute".into()))?;
            return Ok(MirrorWrite {
                row,
                created: false,
                written: false,
                needs_refetch,
                ignored,
            });
        };
        let state = &record.state;
        let customer_id = self
            .customer_of(
                stripe_customer_id,
                state.stripe_payment_intent_id.as_deref(),
                now,
            )
            .await?;
        let created = found.is_none();
        let model = dispute::ActiveModel {
            tenant_id: Set(self.tenant_id.to_string()),
            stripe_dispute_id: Set(state.stripe_id.clone()),
            stripe_payment_intent_id: Set(state.stripe_payment_intent_id.clone()),
            customer_id: Set(customer_id),
            status: Set(state.status.as_str().to_owned()),
            currency: Set(state.currency.code().to_owned()),
            amount: Set(state.amount_minor),
            reason: Set(state.reason.clone()),
            evidence_due_by: Set(state.evidence_due_by),
            observed_at: Set(record.observed_at),
            mirror_state: Set(encode(state)?),
            created_at: Set(found.as_ref().map_or(now, |row| row.created_at)),
            updated_at: Set(now),
        };
        let row = if created {
            model.insert(self.conn).await?
        } else {
            model.update(self.conn).await?
        };
        Ok(MirrorWrite {
            row,
            created,
            written: true,
            needs_refetch,
            ignored: None,
        })
    }

    /// The Billforge customer of a refund or dispute: from the Stripe
    /// customer when given, else from the mirrored payment.
    async fn customer_of(
        &self,
        stripe_customer_id: Option<&str>,
        stripe_payment_intent_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        if let Some(stripe_id) = stripe_customer_id {
            return Ok(Some(self.ensure_customer(stripe_id, now).await?.id));
        }
        match stripe_payment_intent_id {
            Some(payment) => self.payment_customer(payment).await,
            None => Ok(None),
        }
    }

    /// Facts about a customer row, for domain events.
    pub fn customer_facts(&self, row: &CustomerRow) -> StoreResult<CustomerFacts> {
        Ok(CustomerFacts {
            customer_id: CustomerId::parse(&row.id)
                .map_err(|err| DbErr::Custom(format!("stored customer id: {err}")))?,
            stripe_customer_id: row.stripe_customer_id.clone().unwrap_or_default(),
            email: row.email.clone(),
            name: row.name.clone(),
        })
    }

    /// Facts about a subscription as `state` describes it (the state the
    /// event carried, not necessarily the stored one), for domain events.
    pub async fn subscription_facts(
        &self,
        state: &SubscriptionState,
        now: DateTime<Utc>,
    ) -> StoreResult<SubscriptionFacts> {
        let customer = self.ensure_customer(&state.stripe_customer_id, now).await?;
        let first = state.items.first();
        let matched = match first {
            Some(item) => self.catalog_match(&item.stripe_price_id).await?,
            None => None,
        };
        let unit_amount = matched.as_ref().and_then(|m| {
            let currency = Currency::parse(&m.price.currency).ok()?;
            match serde_json::from_str::<billing::catalog::PriceModel>(&m.price.model).ok()? {
                billing::catalog::PriceModel::Flat { amount_minor } => {
                    Some(Money::new(amount_minor, currency))
                }
                billing::catalog::PriceModel::PerSeat { unit_amount_minor } => {
                    Some(Money::new(unit_amount_minor, currency))
                }
                billing::catalog::PriceModel::Tiered { .. } => None,
            }
        });
        Ok(SubscriptionFacts {
            stripe_subscription_id: state.stripe_id.clone(),
            customer: self.customer_facts(&customer)?,
            plan_id: matched
                .as_ref()
                .and_then(|m| PlanId::parse(&m.plan.id).ok()),
            plan_name: matched.as_ref().map(|m| m.plan.name.clone()),
            stripe_price_id: first.map(|item| item.stripe_price_id.clone()),
            unit_amount,
            interval: matched.as_ref().and_then(|m| m.price.interval_unit.clone()),
            quantity: first.map_or(0, |item| item.quantity),
            status: state.status.as_str().to_owned(),
            current_period_end: state.current_period().map(|(_, end)| end),
            trial_end: state.trial_end,
            cancel_at: state.cancel_at.or_else(|| {
                state
                    .cancel_at_period_end
                    .then(|| state.current_period().map(|(_, end)| end))
                    .flatten()
            }),
        })
    }

    /// The plan name of the Stripe price `stripe_price_id`, when it is ours.
    pub async fn plan_name_of(&self, stripe_price_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .catalog_match(stripe_price_id)
            .await?
            .map(|m| m.plan.name))
    }

    /// Facts about an invoice as `observation` describes it, for domain events.
    pub async fn invoice_facts(
        &self,
        observation: &InvoiceObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<InvoiceFacts> {
        let state = &observation.state;
        let customer = self.ensure_customer(&state.stripe_customer_id, now).await?;
        let plan_name = match &state.stripe_subscription_id {
            Some(stripe_id) => match self.subscription_by_stripe_id(stripe_id).await? {
                Some(row) => match row.stripe_price_id {
                    Some(price) => self.plan_name_of(&price).await?,
                    None => None,
                },
                None => None,
            },
            None => None,
        };
        Ok(InvoiceFacts {
            stripe_invoice_id: state.stripe_id.clone(),
            customer: self.customer_facts(&customer)?,
            stripe_subscription_id: state.stripe_subscription_id.clone(),
            plan_name,
            number: state.number.clone(),
            amount_due: state.amount_due(),
            amount_paid: state.amount_paid(),
            attempt_count: state.attempt_count,
            next_payment_attempt: state.next_payment_attempt,
            hosted_invoice_url: state.hosted_invoice_url.clone(),
            period_start: observation.period_start,
            period_end: observation.period_end,
        })
    }

    /// Records a domain event in this transaction (and its dispatch job).
    /// `None` when `cause` already produced an event of this kind.
    pub async fn record_event(
        &self,
        cause: &str,
        event: DomainEvent,
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DomainEventId>> {
        Ok(insert_domain_event(
            self.conn,
            NewDomainEvent {
                tenant_id: self.tenant_id.clone(),
                cause: cause.to_owned(),
                event,
                occurred_at,
            },
            now,
        )
        .await?)
    }
}

/// A Stripe quantity as a column value.
fn clamp(quantity: u64) -> i64 {
    i64::try_from(quantity).unwrap_or(i64::MAX)
}

/// The right to change one subscription, held until released or until it
/// lapses (see [`TenantScope::claim_subscription_change`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeClaim {
    /// The subscription.
    subscription_id: String,
    /// The holder's token: a release by anyone else does nothing.
    token: String,
}

impl TenantScope<'_> {
    /// Claims the right to change subscription `id` (one of this tenant's:
    /// the caller found it first) until `until`; `None` while another
    /// change holds a live claim. A claim whose holder died lapses at its
    /// `until` and is taken over then. Two statements without a
    /// transaction, so no lock is held while the holder calls Stripe: the
    /// insert wins when nobody holds a claim (the primary key lets one of
    /// two racers in), the conditional update takes over a lapsed one.
    pub async fn claim_subscription_change(
        &self,
        id: &SubscriptionId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<ChangeClaim>> {
        use sea_orm::sea_query::Expr;
        let claim = ChangeClaim {
            subscription_id: id.to_string(),
            token: ulid::Ulid::new().to_string(),
        };
        let inserted = subscription_change::Entity::insert(subscription_change::ActiveModel {
            subscription_id: Set(claim.subscription_id.clone()),
            tenant_id: Set(self.tenant_id.to_string()),
            token: Set(claim.token.clone()),
            locked_until: Set(until),
        })
        .on_conflict(
            OnConflict::column(subscription_change::Column::SubscriptionId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(self.db)
        .await?;
        if inserted == 1 {
            return Ok(Some(claim));
        }
        let taken_over = subscription_change::Entity::update_many()
            .col_expr(
                subscription_change::Column::Token,
                Expr::value(claim.token.clone()),
            )
            .col_expr(subscription_change::Column::LockedUntil, Expr::value(until))
            .filter(subscription_change::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(subscription_change::Column::SubscriptionId.eq(&claim.subscription_id))
            .filter(subscription_change::Column::LockedUntil.lt(now))
            .exec(self.db)
            .await?
            .rows_affected;
        Ok((taken_over == 1).then_some(claim))
    }

    /// Releases a claim; nothing when it lapsed and another holder took it.
    pub async fn release_subscription_change(&self, claim: ChangeClaim) -> StoreResult<()> {
        subscription_change::Entity::delete_many()
            .filter(subscription_change::Column::TenantId.eq(self.tenant_id.as_str()))
            .filter(subscription_change::Column::SubscriptionId.eq(claim.subscription_id))
            .filter(subscription_change::Column::Token.eq(claim.token))
            .exec(self.db)
            .await?;
        Ok(())
    }
}

impl TenantScope<'_> {
    /// The customer `id`; another tenant's is `None`.
    pub async fn customer(&self, id: &CustomerId) -> StoreResult<Option<CustomerRow>> {
        Ok(self
            .find::<customer::Entity>()
            .filter(customer::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The customer linked to the Stripe customer `stripe_customer_id`.
    pub async fn customer_by_stripe_id(
        &self,
        stripe_customer_id: &str,
    ) -> StoreResult<Option<CustomerRow>> {
        Ok(self
            .find::<customer::Entity>()
            .filter(customer::Column::StripeCustomerId.eq(stripe_customer_id))
            .one(self.db)
            .await?)
    }

    /// The customer with the merchant's id `external_id`.
    pub async fn customer_by_external_id(
        &self,
        external_id: &str,
    ) -> StoreResult<Option<CustomerRow>> {
        Ok(self
            .find::<customer::Entity>()
            .filter(customer::Column::ExternalId.eq(external_id))
            .one(self.db)
            .await?)
    }

    /// The tenant's customers whose email is `email`, compared without case
    /// (the hosted sign-in form); a few at most, oldest first.
    pub async fn customers_by_email(&self, email: &str) -> StoreResult<Vec<CustomerRow>> {
        use sea_orm::sea_query::{Expr, ExprTrait, Func};
        Ok(self
            .find::<customer::Entity>()
            .filter(
                Expr::expr(Func::lower(Expr::col(customer::Column::Email)))
                    .eq(email.to_lowercase()),
            )
            .order_by_asc(customer::Column::Id)
            .limit(5)
            .all(self.db)
            .await?)
    }

    /// The tenant's customers in id (creation) order, a page at a time.
    pub async fn customers(&self, page: &Page) -> StoreResult<Vec<CustomerRow>> {
        page_of(
            self.find::<customer::Entity>(),
            customer::Column::Id,
            page,
            self.db,
        )
        .await
    }

    /// Creates a customer Billforge made (e.g. through the API, after
    /// creating its Stripe customer). Fails with `Duplicate` when the
    /// external id or Stripe customer is taken.
    pub async fn create_customer(
        &self,
        new: NewCustomer,
        now: DateTime<Utc>,
    ) -> StoreResult<CustomerRow> {
        let txn = crate::begin_write(self.db).await?;
        let mirror = MirrorTx {
            conn: &txn,
            tenant_id: self.tenant_id.clone(),
        };
        let row = mirror.insert_customer(new, now).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// The subscription `id`.
    pub async fn subscription(&self, id: &SubscriptionId) -> StoreResult<Option<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?)
    }

    /// The subscription with Stripe id `stripe_subscription_id`.
    pub async fn subscription_by_stripe_id(
        &self,
        stripe_subscription_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::StripeSubscriptionId.eq(stripe_subscription_id))
            .one(self.db)
            .await?)
    }

    /// A customer's subscriptions, oldest first.
    pub async fn subscriptions_of(
        &self,
        customer_id: &CustomerId,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::CustomerId.eq(customer_id.as_str()))
            .order_by_asc(subscription::Column::CreatedAt)
            .order_by_asc(subscription::Column::Id)
            .all(self.db)
            .await?)
    }

    /// The tenant's subscriptions (only `customer`'s when given) in id
    /// order, a page at a time.
    pub async fn subscriptions(
        &self,
        customer: Option<&CustomerId>,
        page: &Page,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        let mut query = self.find::<subscription::Entity>();
        if let Some(customer) = customer {
            query = query.filter(subscription::Column::CustomerId.eq(customer.as_str()));
        }
        page_of(query, subscription::Column::Id, page, self.db).await
    }

    /// The tenant's subscriptions with an item billing Billforge's price
    /// `price_id` (any status), oldest first: the subscribers a price
    /// migration moves.
    pub async fn subscriptions_on_price(
        &self,
        price_id: &str,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        let ids: Vec<String> = self
            .find::<subscription_item::Entity>()
            .filter(subscription_item::Column::PriceId.eq(price_id))
            .all(self.db)
            .await?
            .into_iter()
            .map(|item| item.subscription_id)
            .collect();
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::Id.is_in(ids))
            .order_by_asc(subscription::Column::CreatedAt)
            .order_by_asc(subscription::Column::Id)
            .all(self.db)
            .await?)
    }

    /// The tenant's subscriptions in `status` (Stripe's string), by id.
    pub async fn subscriptions_with_status(
        &self,
        status: &str,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        Ok(self
            .find::<subscription::Entity>()
            .filter(subscription::Column::Status.eq(status))
            .order_by_asc(subscription::Column::Id)
            .all(self.db)
            .await?)
    }

    /// A subscription's items.
    pub async fn subscription_items(
        &self,
        subscription_id: &SubscriptionId,
    ) -> StoreResult<Vec<SubscriptionItemRow>> {
        Ok(self
            .find::<subscription_item::Entity>()
            .filter(subscription_item::Column::SubscriptionId.eq(subscription_id.as_str()))
            .order_by_asc(subscription_item::Column::StripeItemId)
            .all(self.db)
            .await?)
    }

    /// The invoice with Stripe id `stripe_invoice_id`.
    pub async fn invoice_by_stripe_id(
        &self,
        stripe_invoice_id: &str,
    ) -> StoreResult<Option<InvoiceRow>> {
        Ok(self
            .find::<invoice::Entity>()
            .filter(invoice::Column::StripeInvoiceId.eq(stripe_invoice_id))
            .one(self.db)
            .await?)
    }

    /// The tenant's invoices (only `customer`'s and/or only the Stripe
    /// subscription `stripe_subscription`'s when given) in Stripe id order,
    /// a page at a time.
    pub async fn invoices(
        &self,
        customer: Option<&CustomerId>,
        stripe_subscription: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<InvoiceRow>> {
        let mut query = self.find::<invoice::Entity>();
        if let Some(customer) = customer {
            query = query.filter(invoice::Column::CustomerId.eq(customer.as_str()));
        }
        if let Some(subscription) = stripe_subscription {
            query = query.filter(invoice::Column::StripeSubscriptionId.eq(subscription));
        }
        page_of(query, invoice::Column::StripeInvoiceId, page, self.db).await
    }

    /// The tenant's refunds in Stripe id order, a page at a time.
    pub async fn refunds_page(&self, page: &Page) -> StoreResult<Vec<RefundRow>> {
        page_of(
            self.find::<refund::Entity>(),
            refund::Column::StripeRefundId,
            page,
            self.db,
        )
        .await
    }

    /// The refund with Stripe id `stripe_refund_id`.
    pub async fn refund_by_stripe_id(
        &self,
        stripe_refund_id: &str,
    ) -> StoreResult<Option<RefundRow>> {
        Ok(self
            .find::<refund::Entity>()
            .filter(refund::Column::StripeRefundId.eq(stripe_refund_id))
            .one(self.db)
            .await?)
    }

    /// The tenant's disputes in Stripe id order, a page at a time.
    pub async fn disputes_page(&self, page: &Page) -> StoreResult<Vec<DisputeRow>> {
        page_of(
            self.find::<dispute::Entity>(),
            dispute::Column::StripeDisputeId,
            page,
            self.db,
        )
        .await
    }

    /// The dispute with Stripe id `stripe_dispute_id`.
    pub async fn dispute_by_stripe_id(
        &self,
        stripe_dispute_id: &str,
    ) -> StoreResult<Option<DisputeRow>> {
        Ok(self
            .find::<dispute::Entity>()
            .filter(dispute::Column::StripeDisputeId.eq(stripe_dispute_id))
            .one(self.db)
            .await?)
    }

    /// Sets the merchant-given details of customer `id` (each only when
    /// `Some`), audited; `None` when `id` is not this tenant's. The mirror's
    /// next observation of the Stripe customer writes the same email and name.
    pub async fn update_customer_details(
        &self,
        id: &CustomerId,
        details: CustomerDetails,
        ctx: &AuditContext,
    ) -> StoreResult<Option<CustomerRow>> {
        let txn = crate::begin_write(self.db).await?;
        let Some(found) = self
            .find::<customer::Entity>()
            .filter(customer::Column::Id.eq(id.as_str()))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let mut row = found.into_active_model();
        if let Some(email) = details.email {
            row.email = Set(Some(email));
        }
        if let Some(name) = details.name {
            row.name = Set(Some(name));
        }
        if let Some(metadata) = details.metadata {
            row.metadata = Set(Some(encode(&metadata).map_err(StoreError::Database)?));
        }
        row.updated_at = Set(ctx.now);
        let updated = row.update(&txn).await?;
        crate::audit::record(
            &txn,
            ctx,
            Some(&self.tenant_id),
            "customer.updated",
            "customer",
            id.as_str(),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(updated))
    }

    /// A customer's invoices, oldest first.
    pub async fn invoices_of(&self, customer_id: &CustomerId) -> StoreResult<Vec<InvoiceRow>> {
        Ok(self
            .find::<invoice::Entity>()
            .filter(invoice::Column::CustomerId.eq(customer_id.as_str()))
            .order_by_asc(invoice::Column::CreatedAt)
            .order_by_asc(invoice::Column::StripeInvoiceId)
            .all(self.db)
            .await?)
    }

    /// The tenant's payments, by Stripe id.
    pub async fn payments(&self) -> StoreResult<Vec<PaymentRow>> {
        Ok(self
            .find::<payment::Entity>()
            .order_by_asc(payment::Column::StripePaymentIntentId)
            .all(self.db)
            .await?)
    }

    /// The tenant's refunds, by Stripe id.
    pub async fn refunds(&self) -> StoreResult<Vec<RefundRow>> {
        Ok(self
            .find::<refund::Entity>()
            .order_by_asc(refund::Column::StripeRefundId)
            .all(self.db)
            .await?)
    }

    /// The tenant's disputes, by Stripe id.
    pub async fn disputes(&self) -> StoreResult<Vec<DisputeRow>> {
        Ok(self
            .find::<dispute::Entity>()
            .order_by_asc(dispute::Column::StripeDisputeId)
            .all(self.db)
            .await?)
    }
}
