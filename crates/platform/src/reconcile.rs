//! Webhook reconciliation: recovers events whose deliveries never arrived
//! (downtime, a dropped connection, an endpoint that was not registered yet).
//!
//! The `webhook.reconcile` job ([`RECONCILE_JOB`]) lists Stripe's events for
//! the platform and for every connected account, oldest first from the last
//! event it saw, and stores each in the same inbox as a delivery, through the
//! same store function, a page per commit. The inbox is unique on the event
//! id, so an event that was delivered (or recovered) before changes nothing,
//! and a recovered one is applied by the usual `webhook.apply` job. The
//! cursor (the newest event id seen per account) is kept in
//! `platform_settings`, moved after each page, so a run that fails half-way
//! resumes where it stopped. Without a cursor (the first run) it walks
//! everything Stripe keeps newest first, one page in memory at a time, and
//! sets the cursor at the end.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use store::Job;
use store::webhooks::{InboxDelivery, ReceivedEvent, WebhookSource};
use stripe::{ApiErrorKind, Event, EventJson, ListEvents, ListParams, RequestOptions};

use crate::jobs::{JobError, JobFuture, JobHandlers};
use crate::{Platform, PlatformError, PlatformResult};

/// The job kind that reconciles the inbox with Stripe's event list.
pub const RECONCILE_JOB: &str = "webhook.reconcile";

/// How often the worker loop schedules a reconciliation: short enough that a
/// missed event is applied within minutes, long enough to cost Stripe little
/// (one list call per account when nothing was missed).
pub const RECONCILE_EVERY_SECS: i64 = 5 * 60;

/// Events per list call: Stripe's maximum, to walk a backlog in few calls.
const PAGE_SIZE: u8 = 100;

/// Registers this module's kinds of background work.
pub fn register_jobs(handlers: &mut JobHandlers) {
    handlers.register(
        RECONCILE_JOB,
        std::sync::Arc::new(|platform: Platform, _job: Job| -> JobFuture {
            Box::pin(async move {
                platform
                    .reconcile_webhooks()
                    .await
                    .map(|_| ())
                    .map_err(|err| JobError::Retry(format!("reconciling webhooks: {err}")))
            })
        }),
    );
}

/// What one reconciliation run found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Events Stripe listed since the cursors.
    pub listed: usize,
    /// Of those, events the inbox did not have: stored now, apply job queued.
    pub recovered: usize,
}

/// Where one account's events are listed and delivered.
#[derive(Debug, Clone)]
struct Scope {
    /// The connected account, or `None` for the platform's own events.
    account: Option<String>,
}

impl Scope {
    /// The endpoint that would have received this scope's deliveries.
    fn source(&self) -> WebhookSource {
        match self.account {
            Some(_) => WebhookSource::Connect,
            None => WebhookSource::Platform,
        }
    }

    /// The `platform_settings` key of this scope's cursor.
    fn cursor_key(&self) -> String {
        format!(
            "webhook_reconcile.cursor.{}",
            self.account.as_deref().unwrap_or("platform")
        )
    }

    /// Request options listing this scope's events.
    fn options(&self) -> RequestOptions {
        match &self.account {
            Some(account) => RequestOptions::new().on_account(account),
            None => RequestOptions::new(),
        }
    }
}

impl Platform {
    /// Enqueues a reconciliation for the current five-minute slot: any number
    /// of workers (or an admin asking on demand) schedule one run per slot.
    pub async fn schedule_webhook_reconcile(&self) -> PlatformResult<Job> {
        let slot = self.now().timestamp().div_euclid(RECONCILE_EVERY_SECS);
        self.enqueue_job(
            RECONCILE_JOB,
            &serde_json::json!({}),
            None,
            Some(format!("{RECONCILE_JOB}:{slot}")),
        )
        .await
    }

    /// Lists Stripe's events since the last seen one, for the platform and
    /// every connected account, and stores those the inbox lacks.
    pub async fn reconcile_webhooks(&self) -> PlatformResult<Reconciled> {
        let mut scopes = vec![Scope { account: None }];
        scopes.extend(
            self.store()
                .connected_account_ids()
                .await?
                .into_iter()
                .map(|account| Scope {
                    account: Some(account),
                }),
        );
        let mut total = Reconciled::default();
        for scope in &scopes {
            let found = self.reconcile_scope(scope).await?;
            total.listed += found.listed;
            total.recovered += found.recovered;
        }
        if total.recovered > 0 {
            tracing::info!(
                listed = total.listed,
                recovered = total.recovered,
                "reconciliation recovered missed webhook events"
            );
        }
        Ok(total)
    }

    /// One scope: walks forward page by page from its cursor, moving the
    /// cursor after each page; without a cursor (first run, or one older than
    /// Stripe keeps) it takes every event Stripe still has.
    async fn reconcile_scope(&self, scope: &Scope) -> PlatformResult<Reconciled> {
        let key = scope.cursor_key();
        let mut cursor = self.store().platform_setting(&key).await?;
        let mut found = Reconciled::default();
        loop {
            let Some(after) = &cursor else {
                return self.reconcile_everything(scope, &key, None, found).await;
            };
            let (page, has_more) = match self.events_after(scope, after).await {
                Ok(page) => page,
                Err(err) if err.as_api().map(|api| api.kind) == Some(ApiErrorKind::NotFound) => {
                    let lost = cursor.clone();
                    return self
                        .reconcile_everything(scope, &key, lost.as_deref(), found)
                        .await;
                }
                Err(err) => return Err(listing_failed(scope, &err)),
            };
            let Some(newest) = page
                .last()
                .and_then(|event| event.0.get("id"))
                .and_then(|id| id.as_str())
                .map(str::to_owned)
            else {
                return Ok(found);
            };
            found.listed += page.len();
            found.recovered += self.store_listed_events(scope, page).await?;
            // A lost race means another run moved the cursor: both stored
            // the same events (idempotently), so either value is right.
            self.store()
                .swap_platform_setting(&key, cursor.as_deref(), &newest, self.now())
                .await?;
            cursor = Some(newest);
            if !has_more {
                return Ok(found);
            }
        }
    }

    /// The next page after the event `after`, oldest first, and whether more follow.
    async fn events_after(
        &self,
        scope: &Scope,
        after: &str,
    ) -> Result<(Vec<EventJson>, bool), stripe::Error> {
        let params = ListEvents {
            page: ListParams {
                limit: Some(PAGE_SIZE),
                ending_before: Some(after.to_owned()),
                ..ListParams::default()
            },
            ..ListEvents::default()
        };
        let mut page = self
            .stripe()
            .events()
            .page_json(&params, scope.options())
            .await?;
        page.data.reverse();
        Ok((page.data, page.has_more))
    }

    /// Every event Stripe still keeps for `scope`, walked newest first a
    /// page at a time (a first run may meet a month of events: only one page
    /// is held, and each is one commit), then the cursor set to the newest
    /// (replacing `lost`, a cursor Stripe no longer knows). Applying does not
    /// depend on the order events are stored in. A run that fails half-way
    /// leaves no cursor: the next walks again, and stores nothing twice.
    async fn reconcile_everything(
        &self,
        scope: &Scope,
        key: &str,
        lost: Option<&str>,
        mut found: Reconciled,
    ) -> PlatformResult<Reconciled> {
        let params = ListEvents {
            page: ListParams {
                limit: Some(PAGE_SIZE),
                ..ListParams::default()
            },
            ..ListEvents::default()
        };
        let mut pages = self
            .stripe()
            .events()
            .list_json(&params, scope.options())
            .try_chunks(usize::from(PAGE_SIZE));
        let mut newest = None;
        while let Some(page) = pages
            .try_next()
            .await
            .map_err(|err| listing_failed(scope, &err.1))?
        {
            if newest.is_none() {
                newest = page
                    .first()
                    .and_then(|event| event.0.get("id"))
                    .and_then(|id| id.as_str())
                    .map(str::to_owned);
            }
            found.listed += page.len();
            found.recovered += self.store_listed_events(scope, page).await?;
        }
        if let Some(newest) = newest {
            self.store()
                .swap_platform_setting(key, lost, &newest, self.now())
                .await?;
        }
        Ok(found)
    }

    /// Stores a page of listed events as their deliveries would have been
    /// stored, in one commit; how many the inbox did not have yet.
    async fn store_listed_events(
        &self,
        scope: &Scope,
        page: Vec<EventJson>,
    ) -> PlatformResult<usize> {
        let now = self.now();
        let mut deliveries = Vec::with_capacity(page.len());
        for event in page {
            let body = event.into_body(scope.account.as_deref());
            let typed = match stripe::json::from_slice::<Event>(body.as_bytes()) {
                Ok(typed) => typed,
                Err(err) => {
                    // A delivery of it would be refused (400) just the same;
                    // it must not hold back the events after it.
                    tracing::warn!(error = %err, "skipping a listed event that does not parse");
                    continue;
                }
            };
            let created = DateTime::<Utc>::from_timestamp(typed.created, 0)
                .ok_or_else(|| PlatformError::Internal(format!("{}: bad `created`", typed.id)))?;
            deliveries.push(InboxDelivery {
                event: ReceivedEvent {
                    id: typed.id.clone(),
                    source: scope.source(),
                    account_id: typed.account.clone(),
                    event_type: typed.event_type.as_str().to_owned(),
                    created,
                    payload: body,
                },
                received_at: now,
            });
        }
        let stored = self.store().receive_webhook_events(deliveries).await?;
        Ok(stored.into_iter().filter(|new| *new).count())
    }
}

/// A failed list call, as a platform error naming the scope.
fn listing_failed(scope: &Scope, err: &stripe::Error) -> PlatformError {
    let on = scope.account.as_deref().unwrap_or("the platform");
    PlatformError::Internal(format!("listing Stripe events of {on}: {err}"))
}
