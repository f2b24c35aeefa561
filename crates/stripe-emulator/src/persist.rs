//! Persistence: the whole state as one JSON snapshot, written atomically
//! (temporary file + rename) shortly after changes, loaded at start.

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
            Ok(state)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(error) => Err(error),
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
