//! Group commit for webhook ingestion.
//!
//! Every delivery must be durable before Stripe gets its 2xx, and a durable
//! commit costs a log flush (an fsync on SQLite, a WAL flush on PostgreSQL)
//! whatever it holds. So concurrent deliveries are not committed one by one:
//! each request hands its verified event to one writer task and waits; the
//! writer takes everything queued (up to [`MAX_BATCH`]), stores the batch in
//! one transaction, and only then answers each waiting request. Under load
//! the flushes are shared by a batch; a lone delivery is written at once, so
//! nothing waits for a batch to fill.
//!
//! Architecture Invariant: a request is answered "stored" only after the
//! commit that holds its event; if the writer or its commit fails, every
//! request of that batch gets an error (5xx, so Stripe retries), never a 2xx.

use std::sync::Mutex;

use store::webhooks::InboxDelivery;
use store::{Store, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

/// The most deliveries one commit holds: bounds the statement's parameters
/// (13 per row, far below SQLite's and PostgreSQL's limits) and a batch's
/// latency.
const MAX_BATCH: usize = 256;

/// How many deliveries may wait for the writer before requests wait to queue.
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// One waiting request: its delivery and where to send the outcome.
struct Pending {
    /// What to store.
    delivery: InboxDelivery,
    /// Whether it was new, once committed.
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The handle requests use to reach the writer task.
pub(crate) struct InboxWriter {
    /// The database the writer commits to.
    store: Store,
    /// The queue into the running writer; replaced when the writer is gone
    /// (its runtime stopped), so a later runtime gets a writer of its own.
    queue: Mutex<Option<mpsc::Sender<Pending>>>,
}

impl InboxWriter {
    /// A writer for `store`; its task starts with the first delivery, on the
    /// runtime that delivery arrives on.
    pub(crate) fn new(store: Store) -> Self {
        Self {
            store,
            queue: Mutex::new(None),
        }
    }

    /// Stores `delivery` in the next group commit; returns whether it was new.
    pub(crate) async fn store(&self, delivery: InboxDelivery) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        let mut pending = Pending { delivery, reply };
        // At most two tries: the second one with a fresh writer, when the
        // first writer's runtime had gone away.
        for _ in 0..2 {
            let queue = self.queue_sender();
            match queue.send(pending).await {
                Ok(()) => {
                    return answer.await.unwrap_or_else(|_| {
                        Err(writer_failure("the ingest writer stopped mid-batch"))
                    });
                }
                Err(mpsc::error::SendError(unsent)) => {
                    pending = unsent;
                    self.forget(&queue);
                }
            }
        }
        Err(writer_failure("the ingest writer could not be started"))
    }

    /// The running writer's queue, starting the writer when there is none.
    fn queue_sender(&self) -> mpsc::Sender<Pending> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        match &*queue {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(write_batches(self.store.clone(), receiver));
                *queue = Some(sender.clone());
                sender
            }
        }
    }

    /// Drops `dead` as the current queue (unless another request already
    /// replaced it).
    fn forget(&self, dead: &mpsc::Sender<Pending>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue
            .as_ref()
            .is_some_and(|current| current.same_channel(dead))
        {
            *queue = None;
        }
    }
}

/// The writer task: commits whatever is queued, one batch at a time, until
/// every sender is gone.
async fn write_batches(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (deliveries, replies): (Vec<_>, Vec<_>) = batch
            .drain(..)
            .map(|pending| (pending.delivery, pending.reply))
            .unzip();
        match store.receive_webhook_events(deliveries).await {
            Ok(stored) => {
                for (reply, is_new) in replies.into_iter().zip(stored) {
                    // A request that gave up waiting still has its event
                    // stored; there is nobody to tell.
                    let _ = reply.send(Ok(is_new));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, events = replies.len(), "storing a batch of webhook deliveries failed");
                let message = err.to_string();
                for reply in replies {
                    let _ = reply.send(Err(writer_failure(&message)));
                }
            }
        }
    }
}

/// A storage error for a request whose batch was not stored.
fn writer_failure(message: &str) -> StoreError {
    StoreError::other(message)
}
