//! Persistence: the whole state as one JSON snapshot, written atomically
//! (temporary file + rename) shortly after changes, loaded at start.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::server::Shared;
use crate::state::State;

/// How long changes may wait before the snapshot is rewritten.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// The snapshot file inside the data directory.
pub fn snapshot_path(data_dir: &Path) -> PathBuf {
    data_dir.join("stripe-emulator.json")
}

/// Loads the snapshot, or a fresh state when there is none yet.
pub fn load(data_dir: &Path) -> std::io::Result<State> {
    let path = snapshot_path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let mut state: State = serde_json::from_slice(&bytes).map_err(|error| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a valid emulator snapshot: {error}",
                        path.display()
                    ),
                )
            })?;
            state.store.reindex();
            adopt_legacy_connect_flags(&mut state);
            Ok(state)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(error) => Err(error),
    }
}

/// Snapshots written before [`State::connect_endpoints`] existed kept
/// `connect: true` on the endpoint object itself (a key Stripe never returns):
/// move it into the set so those endpoints keep receiving Connect events.
fn adopt_legacy_connect_flags(state: &mut State) {
    let legacy: Vec<serde_json::Value> = state
        .store
        .iter_kind(&None, "webhook_endpoint")
        .filter(|endpoint| endpoint.get("connect").is_some())
        .map(Cow::into_owned)
        .collect();
    for mut endpoint in legacy {
        let id = endpoint["id"].as_str().unwrap_or_default().to_owned();
        let connect = endpoint
            .as_object_mut()
            .and_then(|fields| fields.remove("connect"));
        if connect == Some(serde_json::Value::Bool(true)) {
            state.connect_endpoints.insert(id);
        }
        state.store.put(&None, endpoint);
    }
}

/// Writes the snapshot if anything changed since the last write.
pub fn flush(shared: &Shared, data_dir: &Path) -> std::io::Result<()> {
    if !shared.dirty.swap(false, Ordering::AcqRel) {
        return Ok(());
    }
    let bytes = {
        let state = shared.state.lock();
        serde_json::to_vec(&*state).map_err(std::io::Error::other)?
    };
    std::fs::create_dir_all(data_dir)?;
    let path = snapshot_path(data_dir);
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, &path)
}

/// Rewrites the snapshot after changes, at most every [`DEBOUNCE`].
pub async fn run_writer(shared: Arc<Shared>, data_dir: PathBuf) {
    loop {
        tokio::time::sleep(DEBOUNCE).await;
        if let Err(error) = flush(&shared, &data_dir) {
            tracing::warn!(%error, "could not write the emulator snapshot");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::state::Action;

    use super::*;

    /// Objects are kept as text or as `Value`s in memory, but snapshots hold
    /// plain objects either way: a snapshot of the earlier format loads, and
    /// writing it back gives the same objects.
    #[test]
    fn snapshots_hold_plain_objects_whatever_the_representation() {
        let customer = json!({"id": "cus_1", "object": "customer", "email": "a@example.com"});
        let price = json!({"id": "price_1", "object": "price", "unit_amount": 1500});
        let event = json!({
            "id": "evt_1", "object": "event", "type": "customer.created",
            "data": {"object": customer},
        });
        let earlier = json!({
            "store": {"objects": {
                "cus_1": {"scope": null, "seq": 0, "value": customer},
                "price_1": {"scope": null, "seq": 1, "value": price},
                "evt_1": {"scope": null, "seq": 2, "value": event},
            }, "next_seq": 3},
            "clock_offset": 0, "jobs": {}, "job_seq": 0, "idempotency": {}, "cards": {},
            "endpoint_secrets": {}, "account_links": {}, "checkout_options": {},
            "dunning": {"retry_delays_secs": [1], "final_action": "Cancel"},
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(snapshot_path(dir.path()), earlier.to_string()).unwrap();

        let loaded = load(dir.path()).unwrap();
        for expected in [&customer, &price, &event] {
            let id = expected["id"].as_str().unwrap();
            assert_eq!(&*loaded.store.get(&None, id).unwrap(), expected);
        }
        let listed: Vec<Value> = loaded
            .store
            .iter_kind(&None, "event")
            .map(Cow::into_owned)
            .collect();
        assert_eq!(listed, [event]);
        let written = serde_json::to_value(&loaded).unwrap();
        assert_eq!(written["store"]["objects"], earlier["store"]["objects"]);
    }

    /// Every subscription schedules jobs, keyed by `(at, seq)` in memory: a
    /// snapshot with jobs is written and loads them back in order.
    #[test]
    fn scheduled_jobs_survive_a_snapshot() {
        let mut state = State::default();
        for (at, subscription) in [(20, "sub_late"), (10, "sub_early"), (10, "sub_early_2")] {
            let action = Action::PeriodEnd {
                subscription: subscription.into(),
            };
            state.schedule(None, at, &None, action);
        }
        state.schedule(
            Some("clock_1".into()),
            5,
            &None,
            Action::ExpireCheckout {
                session: "cs_1".into(),
            },
        );
        let written = serde_json::to_vec(&state).unwrap();

        let mut loaded: State = serde_json::from_slice(&written).unwrap();
        let mut due = Vec::new();
        while let Some((at, job)) = loaded.next_due_job("", 30) {
            due.push((at, job.action));
        }
        let period_end = |subscription: &str| Action::PeriodEnd {
            subscription: subscription.into(),
        };
        assert_eq!(
            due,
            [
                (10, period_end("sub_early")),
                (10, period_end("sub_early_2")),
                (20, period_end("sub_late")),
            ]
        );
        assert!(loaded.next_due_job("clock_1", 5).is_some());
        let earlier: State = serde_json::from_value(json!({
            "store": {"objects": {}, "next_seq": 0}, "clock_offset": 0,
            "jobs": {"": {}}, "job_seq": 3, "idempotency": {}, "cards": {},
            "endpoint_secrets": {}, "account_links": {}, "checkout_options": {},
            "dunning": {"retry_delays_secs": [1], "final_action": "Cancel"},
        }))
        .unwrap();
        assert_eq!(earlier.jobs.values().map(BTreeMap::len).sum::<usize>(), 0);
    }

    #[test]
    fn legacy_connect_flags_move_off_the_endpoint_object() {
        let mut state = State::default();
        for (id, connect) in [("we_connect", true), ("we_platform", false)] {
            state.store.insert(
                &None,
                json!({"id": id, "object": "webhook_endpoint", "connect": connect}),
            );
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            snapshot_path(dir.path()),
            serde_json::to_vec(&state).unwrap(),
        )
        .unwrap();

        let loaded = load(dir.path()).unwrap();
        assert!(loaded.connect_endpoints.contains("we_connect"));
        assert!(!loaded.connect_endpoints.contains("we_platform"));
        for id in ["we_connect", "we_platform"] {
            let endpoint = loaded.store.get(&None, id).unwrap();
            assert!(endpoint.get("connect").is_none(), "{id} still has connect");
        }
    }
}
